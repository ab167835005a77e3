"""Training one model on several processes launched by torchrun: the process group, each rank's shard of a
batch, and sums over ranks, so that every decision (divergence, validation loss, early stop, best epoch)
is the same on every rank. Outside torchrun every function is the single-process identity."""

from __future__ import annotations

import atexit
import inspect
import json
import os
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .errors import LstmcastError

__all__ = ["Group", "SINGLE", "SharedError", "launched", "rank", "is_main", "join", "guard", "fingerprint",
           "config_fingerprint"]


class SharedError(LstmcastError):
    """An error every rank raised from the same collective facts: only rank 0 prints it."""


def launched() -> bool:
    """Whether torchrun started this process as one of several (WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def rank() -> int:
    """This process's global rank under torchrun (0 outside it)."""
    return int(os.environ.get("RANK", "0")) if launched() else 0


def is_main() -> bool:
    """Rank 0 (or a single process): the one that writes files and prints."""
    return rank() == 0


@dataclass(frozen=True)
class Group:
    """The ranks training together. world == 1 is a plain single-process run (every method a no-op)."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def active(self) -> bool:
        return self.world > 1

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to call in training: DistributedDataParallel averages gradients over ranks in backward."""
        if not self.active:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        # the model's buffers (a constant mask) never change: no broadcast before every forward (the flag's
        # name changed in torch 2.13)
        ddp = nn.parallel.DistributedDataParallel
        quiet = ("forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(ddp).parameters
                 else "broadcast_buffers")
        return ddp(model, device_ids=ids, **{quiet: False})

    def shard(self, b: torch.Tensor) -> tuple[torch.Tensor, float]:
        """This rank's part of a global batch (window numbers `b`), and the factor that makes DDP's gradient
        average equal the gradient of the mean over the whole batch: len(part) * world / len(b). Parts
        differ in size by at most one; a rank left without a window trains on one with weight 0 (it must
        still join the gradient all-reduce)."""
        if not self.active:
            return b, 1.0
        part = torch.tensor_split(b, self.world)[self.rank]
        if len(part) == 0:
            return b[:1], 0.0
        return part, len(part) * self.world / len(b)

    def span(self, n: int) -> slice:
        """This rank's contiguous part of n items (validation windows)."""
        if not self.active:
            return slice(0, n)
        bounds = np.linspace(0, n, self.world + 1).round().astype(int)
        return slice(int(bounds[self.rank]), int(bounds[self.rank + 1]))

    def sum(self, *values: float | torch.Tensor) -> list[float]:
        """Sum each value over ranks (one all-reduce); every rank gets the same numbers."""
        if not self.active:
            return [float(v) for v in values]
        t = torch.stack([torch.as_tensor(v, dtype=torch.float64, device=self.device).detach().reshape(())
                         for v in values])
        with guard():
            dist.all_reduce(t)
        return t.tolist()

    def agree(self, facts: dict[str, Any]) -> None:
        """Raise the same SharedError on every rank when any rank's facts differ from rank 0's (another
        data file, other flags): DDP over different data would hang or mix unrelated gradients."""
        if not self.active:
            return
        keys = list(facts)
        mine = torch.tensor([_as_int(facts[k]) for k in keys], dtype=torch.int64, device=self.device)
        every = [torch.empty_like(mine) for _ in range(self.world)]
        with guard():
            dist.all_gather(every, mine)
        rows = [e.tolist() for e in every]
        for r, row in enumerate(rows[1:], start=1):
            diffs = [f"{k} ({a} vs {b})" if k in NUMERIC else k for k, a, b in zip(keys, rows[0], row) if a != b]
            if diffs:
                raise SharedError(f"the torchrun processes disagree: rank {r} differs from rank 0 in "
                                  f"{', '.join(diffs)}; start every process with the same data file and flags")


SINGLE = Group()
NUMERIC = {"training windows", "validation windows", "batch size", "epochs", "inputs"}
_joined: list[Group] = []


def _as_int(v: Any) -> int:
    return int(v) if isinstance(v, (int, np.integer)) else zlib.crc32(str(v).encode())


def fingerprint(a: np.ndarray) -> int:
    """A checksum of an array's bytes (the prepared data a rank trains on)."""
    return zlib.crc32(np.ascontiguousarray(a).tobytes())


def config_fingerprint(cfg: dict[str, Any]) -> int:
    """A checksum of a config, device and thread count left out (they may differ between machines)."""
    keep = {k: v for k, v in cfg.items() if k not in ("device", "threads")}
    return zlib.crc32(json.dumps(keep, sort_keys=True, default=str).encode())


def join(device: torch.device) -> Group:
    """The torchrun process group, joined once per process: gloo on CPU, NCCL on CUDA (each local rank on
    its own GPU). Outside torchrun: SINGLE. A process group that cannot form is one LstmcastError."""
    if not launched():
        return SINGLE
    if _joined:
        g = _joined[0]
        if g.device.type != device.type:
            raise LstmcastError(f"this torchrun process group runs on {g.device.type}; a later fit asked for "
                                f"{device.type}; use one --device for the whole run")
        return g
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if local >= torch.cuda.device_count():
            raise LstmcastError(f"local rank {local} has no GPU of its own (this machine has "
                                f"{torch.cuda.device_count()}); start at most that many processes per node "
                                "(--nproc-per-node)")
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    try:
        dist.init_process_group(backend)
    except (RuntimeError, ValueError) as e:
        raise LstmcastError(f"cannot join the torchrun process group ({backend}): {str(e).splitlines()[0]}; check "
                            "--rdzv-endpoint (or MASTER_ADDR/MASTER_PORT) and that every node was started") from None
    g = Group(rank=dist.get_rank(), world=dist.get_world_size(), device=device)
    _joined.append(g)
    atexit.register(_leave)
    return g


def _leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def guard() -> Iterator[None]:
    """A collective (a DDP backward, an all-reduce) that fails because another rank died or the network
    broke, as one line; other errors pass through."""
    try:
        yield
    except RuntimeError as e:
        # gloo's first line: "[/.../pair.cc:537] Connection closed by peer [host]:port. This is typically ..."
        first = str(e).splitlines()[0] if str(e) else ""
        text = re.sub(r"\[[^\]]*\.(?:cc|cpp|h):\d+\]\s*", "", first).split(". ")[0] or type(e).__name__
        from_peers = isinstance(e, dist.DistError) or any(w in text.lower() for w in ("gloo", "nccl", "connection"))
        if not (launched() and from_peers):
            raise
        raise LstmcastError(f"lost contact with the other torchrun processes: {text}; one of them failed or was "
                            "stopped (see its error above)") from None
