"""Sliding windows as strided views: no Python loop over windows."""

from __future__ import annotations

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["make_windows", "concat_ranges", "window_origins", "WindowSet", "fork_chunks", "ForkSet"]


def make_windows(values: np.ndarray, n_prev: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(n,) or (n, F) -> X (n - n_prev - horizon + 1, n_prev[, F]), y (same, horizon).

    X[i] = values[i : i + n_prev] and y[i] = target[i + n_prev : i + n_prev + horizon], the
    tutorial's windows; the target is values (or its first column when 2-D).
    """
    values = np.asarray(values)
    k = len(values) - n_prev - horizon + 1
    if k <= 0:
        shape_x = (0, n_prev, *values.shape[1:])
        return np.empty(shape_x, values.dtype), np.empty((0, horizon), values.dtype)
    target = values if values.ndim == 1 else values[:, 0]
    x = sliding_window_view(values, n_prev, axis=0)[:k]  # (k, [F,] n_prev): window axis last
    if values.ndim == 2:
        x = x.transpose(0, 2, 1)
    y = sliding_window_view(target[n_prev:], horizon)[:k]
    return x, y


def concat_ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Concatenation of range(lo[i], hi[i]) for all i (empty ranges allowed), without a loop."""
    lo = np.asarray(lo, dtype=np.int64)
    n = np.maximum(np.asarray(hi, dtype=np.int64) - lo, 0)
    total = int(n.sum())
    if total == 0:
        return np.empty(0, np.int64)
    # each element is its range's start plus its position inside that range
    first = np.repeat(lo - np.concatenate([[0], np.cumsum(n)[:-1]]), n)
    return first + np.arange(total, dtype=np.int64)


def window_origins(lo: np.ndarray, hi: np.ndarray, n_prev: int, horizon: int,
                   series_start: np.ndarray) -> np.ndarray:
    """Origins j (index of the first target) with targets j..j+H-1 inside [lo, hi) and inputs
    j-n_prev..j-1 inside the series (from series_start); all arrays (S,), result sorted."""
    first = np.maximum(lo, series_start + n_prev)
    last = hi - horizon + 1  # exclusive
    return concat_ranges(first, last)


class WindowSet:
    """Windows gathered batch by batch from the (points, inputs) arrays, on their device: memory stays
    linear in the data (one copy of the points), never an (N, n_prev, inputs) copy of every window.

    ws[b] (b an index tensor or a slice of window numbers) -> x (B, n_prev, I), y (B, H), f (B, H, C);
    target steps past the end of the data read NaN."""

    def __init__(self, inputs: torch.Tensor, target: torch.Tensor, future: torch.Tensor, origins: torch.Tensor,
                 n_prev: int, horizon: int) -> None:
        dev = inputs.device
        self.inputs, self.future, self.origins = inputs, future, origins.to(dev)
        self.target = torch.cat([target, torch.full((horizon,), float("nan"), dtype=target.dtype, device=dev)])
        self.back = torch.arange(-n_prev, 0, device=dev)  # (W,) offsets of the inputs from the origin
        self.ahead = torch.arange(horizon, device=dev)  # (H,) offsets of the targets
        self.last = max(len(future) - 1, 0)

    def __len__(self) -> int:
        return len(self.origins)

    def __getitem__(self, b: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        o = self.origins[b][:, None]  # (B, 1)
        steps = o + self.ahead  # (B, H)
        return self.inputs[o + self.back], self.target[steps], self.future[steps.clamp(max=self.last)]


def fork_chunks(origins: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut sorted window origins into chunks of at most `span` consecutive origins (a chunk never crosses a
    gap, so never two series or the training/validation gap) -> (first origin, count) of each chunk, (C,) each."""
    origins = np.asarray(origins, dtype=np.int64)
    if len(origins) == 0:
        return origins[:0], origins[:0]
    new_run = np.concatenate([[True], np.diff(origins) != 1])
    run_start = np.flatnonzero(new_run)
    run_len = np.diff(np.concatenate([run_start, [len(origins)]]))
    per_run = -(-run_len // span)
    k = concat_ranges(np.zeros_like(per_run), per_run)  # chunk number inside its run
    run = np.repeat(np.arange(len(run_start)), per_run)
    first = run_start[run] + k * span  # index into origins
    return origins[first], np.minimum(span, run_len[run] - k * span)


class ForkSet:
    """Forking-sequence training data: chunks of `span` consecutive window origins, each read as one sequence
    of n_prev + span - 1 points, so that position j has exactly n_prev + j points of history and a forecast
    (targets origin + j ...) is scored at every position after the n_prev warm-up.

    fs[b] (b an index tensor or slice of chunk numbers) -> x (B, n_prev + span - 1, I), y (B, span, H),
    f (B, span, H, C); a position past its chunk's count (the end of a run) has NaN targets: not scored."""

    def __init__(self, inputs: torch.Tensor, target: torch.Tensor, future: torch.Tensor, origins: np.ndarray,
                 n_prev: int, horizon: int, span: int) -> None:
        first, count = fork_chunks(origins, span)
        dev = inputs.device
        self.inputs, self.future = inputs, future
        self.target = torch.cat([target, torch.full((horizon,), float("nan"), dtype=target.dtype, device=dev)])
        self.first, self.count = torch.from_numpy(first).to(dev), torch.from_numpy(count).to(dev)
        self.positions = int(count.sum())  # scored positions: one per training window
        self.back = torch.arange(-n_prev, span - 1, device=dev)  # (T,) offsets of the inputs from the first origin
        self.pos = torch.arange(span, device=dev)  # (S,)
        self.ahead = torch.arange(horizon, device=dev)  # (H,)
        self.last = max(len(future) - 1, 0)

    def __len__(self) -> int:
        return len(self.first)

    def __getitem__(self, b: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        o = self.first[b][:, None]  # (B, 1)
        x = self.inputs[(o + self.back).clamp(max=len(self.inputs) - 1)]  # (B, T, I); past the end only feeds
        steps = (o + self.pos)[..., None] + self.ahead  # (B, S, H)                  unscored positions
        y = self.target[steps.clamp(max=len(self.target) - 1)]
        y = torch.where((self.pos < self.count[b][:, None])[..., None], y, torch.nan)
        return x, y, self.future[steps.clamp(max=self.last)]
