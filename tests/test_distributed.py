"""Training on several processes: torchrun/DDP against one process, rank 0 alone writing, --jobs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from lstmcast.backtest import backtest
from lstmcast.cli import app
from lstmcast.data import generate_sine, load_panel
from lstmcast.distributed import Group
from lstmcast.run import train_run

from .conftest import tiny_config

ROOT = Path(__file__).resolve().parents[1]
# batch 25 leaves a last batch of 3 of the 128 training windows (shards of 2 and 1) and 7 validation windows
# (4 and 3): the uneven cases the shard weights exist for
FLAGS = ["--hidden", "8", "--epochs", "2", "--ensemble", "2", "--batch-size", "25", "--n-prev", "10", "--device",
         "cpu", "--lr", "0.01", "--seed", "0", "--threads", "1"]


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    scratch = tmp / "scratch"
    scratch.mkdir(exist_ok=True)
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", COLUMNS="200", TMPDIR=str(scratch), **extra)
    return env


def test_shards_split_a_batch_disjointly_and_weight_it_to_the_whole_batch_mean() -> None:
    b = torch.tensor([7, 3, 9, 0, 5])
    loss = torch.tensor([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0])  # per window
    parts = [Group(rank=r, world=2).shard(b) for r in range(2)]
    assert [p.tolist() for p, _ in parts] == [[7, 3, 9], [0, 5]]
    assert [w for _, w in parts] == [1.2, 0.8]
    # DDP averages the ranks' gradients: (1/world) * sum of weight * shard mean == the mean over the batch
    ddp = sum(w * loss[p].mean() for p, w in parts) / 2
    assert float(ddp) == pytest.approx(float(loss[b].mean()))
    # one window for two ranks: rank 1 still joins the all-reduce, on a window that weighs nothing
    assert [(p.tolist(), w) for p, w in (Group(rank=r, world=2).shard(b[:1]) for r in range(2))] == [
        ([7], 2.0), ([7], 0.0)]
    spans = [Group(rank=r, world=3).span(7) for r in range(3)]
    assert [(s.start, s.stop) for s in spans] == [(0, 2), (2, 5), (5, 7)]
    single = Group()
    assert single.shard(b)[0] is b and single.shard(b)[1] == 1.0 and single.span(7) == slice(0, 7)


def test_torchrun_two_processes_match_one_process(tmp_path: Path, sine_csv: Path) -> None:
    """Same global shuffle and batches, DDP's gradient average equals the mean over the batch: the two runs
    take the same optimiser steps and differ only by float32 rounding of the all-reduced sums (about 1e-7
    relative after 2 epochs here). rtol 1e-4 leaves room for that to grow and still fails on a real
    difference: shards without their weights (an uneven last batch averaged as if even) moved the losses by
    6e-3 and the predictions by 1e-2."""
    one = tmp_path / "one"
    train_run(sine_csv, tiny_config(ensemble=2, batch_size=25, threads=1), one)
    two = tmp_path / "two"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone", "-m", "lstmcast",
           "train", str(sine_csv), "--out", str(two), "--json", *FLAGS]
    res = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)  # rank 0's one document: rank 1 printed nothing on stdout
    assert doc["command"] == "train" and doc["run"] == str(two)
    assert sorted(p.name for p in two.iterdir()) == sorted(["config.toml", *(p.name for p in one.iterdir())])
    assert not list((tmp_path / "scratch").glob("lstmcast-*"))  # rank 1's scratch run folder is gone
    assert not list(tmp_path.glob(".two*"))  # no lock or staging folder left

    h1, h2 = pd.read_csv(one / "history.csv"), pd.read_csv(two / "history.csv")
    assert len(h1) == len(h2) == 2
    np.testing.assert_allclose(h2[["train_loss", "val_loss"]], h1[["train_loss", "val_loss"]], rtol=1e-4)
    m1, m2 = (json.loads((d / "metrics.json").read_text()) for d in (one, two))
    assert m2["best_epoch"] == m1["best_epoch"] and m2["final_model"] == m1["final_model"]  # the refit ran too
    for key in ("mse", "mae", "mase"):
        assert m2["model"][key] == pytest.approx(m1["model"][key], rel=1e-4)
    p1, p2 = pd.read_csv(one / "test_predictions.csv"), pd.read_csv(two / "test_predictions.csv")
    np.testing.assert_allclose(p2["predicted"], p1["predicted"], rtol=1e-4, atol=1e-6)
    assert not p1["predicted"].equals(p1["actual"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ranks_that_read_different_data_stop_with_one_error_from_rank_0(tmp_path: Path, sine_csv: Path) -> None:
    other = tmp_path / "other.csv"
    generate_sine(steps_per_cycle=20, cycles=7, noise=0.05, seed=1).to_csv(other, index=False)
    port = str(_free_port())
    procs = []
    for rank, data in enumerate([sine_csv, other]):  # what torchrun sets, by hand: each rank its own file
        env = _env(tmp_path, MASTER_ADDR="127.0.0.1", MASTER_PORT=port, WORLD_SIZE="2", RANK=str(rank),
                   LOCAL_RANK=str(rank))
        procs.append(subprocess.Popen([sys.executable, "-m", "lstmcast", "train", str(data), "--out",
                                       str(tmp_path / "run"), *FLAGS], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [2, 2]
    assert outs[0][1].strip() == ("Error: the torchrun processes disagree: rank 1 differs from rank 0 in training "
                                  "windows (135 vs 117), data; start every process with the same data "
                                  "file and flags")
    assert outs[1][1] == ""  # the same finding: rank 0 alone reports it
    assert not (tmp_path / "run").exists()


def test_jobs_two_gives_the_same_backtest_as_jobs_one(sine_csv: Path) -> None:
    panel = load_panel(sine_csv)
    models = {"direct": tiny_config(strategy="direct"), "recursive": tiny_config(strategy="recursive")}
    seen: list[tuple[str, int, bool]] = []
    one = backtest(panel, models, horizon=3, folds=2, step=3)
    two = backtest(panel, models, horizon=3, folds=2, step=3, jobs=2,
                   on_fold=lambda f: seen.append((f.model, f.fold, f.fitted.prep.n_prev == 10)))
    pd.testing.assert_frame_equal(two.forecasts, one.forecasts)
    for m in (one.metrics, two.metrics):
        for f in m["per_fold"]:
            f.pop("train_seconds")
    assert two.metrics == one.metrics and two.notes == one.notes
    assert sorted(seen) == [("direct", 0, True), ("direct", 1, True), ("recursive", 0, True), ("recursive", 1, True)]


def test_jobs_errors(sine_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    args = ["backtest", str(sine_csv), "--out", str(tmp_path / "bt"), "--hidden", "8", "--epochs", "1"]
    res = runner.invoke(app, [*args, "--jobs", "0"], env={"COLUMNS": "200"})
    assert res.exit_code == 2 and res.output.strip() == "Error: --jobs must be at least 1, got 0"
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    res = runner.invoke(app, ["compare", str(sine_csv), "--out", str(tmp_path / "cmp"), "--jobs", "2"],
                        env={"COLUMNS": "200"})
    assert res.exit_code == 2
    assert res.output.strip() == ("Error: --jobs runs fits side by side on one machine; under torchrun every fit is "
                                  "already spread over the ranks: drop --jobs or launch without torchrun")
    assert not (tmp_path / "bt").exists() and not (tmp_path / "cmp").exists()


def test_a_lost_peer_is_one_line_and_other_errors_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from lstmcast.distributed import guard
    from lstmcast.errors import LstmcastError

    gloo = RuntimeError("[/__w/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:537] Connection closed by peer "
                        "[127.0.0.1]:3480. This is typically caused by a remote worker crashing.\nmore")
    with pytest.raises(RuntimeError, match="pair.cc"), guard():  # a single process: not ours to reword
        raise gloo
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(LstmcastError) as e, guard():
        raise gloo
    assert str(e.value) == ("lost contact with the other torchrun processes: Connection closed by peer "
                            "[127.0.0.1]:3480; one of them failed or was stopped (see its error above)")
    with pytest.raises(RuntimeError, match="^shapes differ$"), guard():  # a bug stays a bug
        raise RuntimeError("shapes differ")


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="finds the workers through /proc and ps")
def test_ctrl_c_stops_every_job_and_writes_nothing(tmp_path: Path, sine_csv: Path) -> None:
    flag, out = tmp_path / "paused", tmp_path / "bt"
    # the parent stops in its progress callback once a fit has finished (the other job runs or waits)
    env = _env(tmp_path, LSTMCAST_PAUSE_AT="backtest:fold", LSTMCAST_PAUSE_FILE=str(flag))
    proc = subprocess.Popen([sys.executable, "-m", "lstmcast", "backtest", str(sine_csv), "--out", str(out), "--folds",
                             "2", "--jobs", "2", *FLAGS], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while not flag.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    kids = subprocess.run(["ps", "--ppid", str(proc.pid), "-o", "pid="], capture_output=True, text=True).stdout.split()
    assert len(kids) >= 2  # the two workers (and multiprocessing's resource tracker)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends the parent; the workers ignore theirs
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip() == "Interrupted: stopped all 2 jobs; nothing was written"
    assert not out.exists() and not list(tmp_path.glob(".bt*"))
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{k}").exists() for k in kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [k for k in kids if Path(f"/proc/{k}").exists()]
