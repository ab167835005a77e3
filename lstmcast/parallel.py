"""Independent fits (backtest folds, compare cells) on several processes of one machine: --jobs N."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch

from .errors import Interrupted, LstmcastError

__all__ = ["cpu_count", "threads_per_job", "check_jobs", "run_jobs"]

T = TypeVar("T")
R = TypeVar("R")
_work: list[Any] = []  # in a worker: (fn, shared), set once by _start


def cpu_count() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def threads_per_job(jobs: int) -> int:
    """Torch threads for each of `jobs` processes, so that together they use each core once."""
    return max(1, cpu_count() // jobs)


def check_jobs(jobs: int) -> None:
    """--jobs must be at least 1 and cannot be combined with torchrun, which already runs a process per rank."""
    from .distributed import launched

    if jobs < 1:
        raise LstmcastError(f"--jobs must be at least 1, got {jobs}")
    if jobs > 1 and launched():
        raise LstmcastError("--jobs runs fits side by side on one machine; under torchrun every fit is already "
                            "spread over the ranks: drop --jobs or launch without torchrun")


def run_jobs(fn: Callable[[Any, T], R], shared: Any, tasks: Sequence[T], jobs: int,
             on_done: Callable[[int, R], None] | None = None) -> list[R]:
    """fn(shared, task) for every task, results in task order; on_done(i, result) as task i finishes.

    jobs == 1: one after the other in this process. Otherwise `jobs` fresh processes (spawned: a forked
    OpenMP runtime can hang), each with threads_per_job(jobs) torch threads unless the fit sets its own.
    `shared` goes to each worker once. A task's error stops every worker and is raised here; so is Ctrl-C
    (the workers ignore it and are terminated), as Interrupted."""
    out: list[Any] = [None] * len(tasks)
    if jobs == 1 or len(tasks) <= 1:
        for i, task in enumerate(tasks):
            out[i] = fn(shared, task)
            if on_done is not None:
                on_done(i, out[i])
        return out
    n = min(jobs, len(tasks))
    ctx = mp.get_context("spawn")
    pool = ctx.Pool(n, initializer=_start, initargs=(fn, shared, threads_per_job(jobs)))
    try:
        for i, result in pool.imap_unordered(_run, list(enumerate(tasks))):
            out[i] = result
            if on_done is not None:
                on_done(i, result)
        pool.close()
    except KeyboardInterrupt:
        raise Interrupted(f"Interrupted: stopped all {n} jobs; nothing was written") from None
    finally:
        pool.terminate()
        pool.join()
    return out


def _start(fn: Callable[[Any, Any], Any], shared: Any, threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops every worker
    torch.set_num_threads(threads)
    _work[:] = [fn, shared]


def _run(item: tuple[int, Any]) -> tuple[int, Any]:
    i, task = item
    fn, shared = _work
    return i, fn(shared, task)
