"""The network: a recurrent encoder over the input window and a linear head; no I/O, no training."""

from __future__ import annotations

import torch
from torch import nn

from .cells import build_recurrent

__all__ = ["Forecaster"]


class Forecaster(nn.Module):
    """(batch, window, n_inputs) [+ known-future (batch, horizon, n_future)] -> raw (batch, horizon, n_outputs)."""

    def __init__(self, n_inputs: int, hidden: int, layers: int, dropout: float, cell: str, horizon: int,
                 n_outputs: int = 1, n_future: int = 0, level_outputs: tuple[bool, ...] | None = None,
                 level: str = "last") -> None:
        super().__init__()
        self.horizon, self.n_outputs, self.n_future = horizon, n_outputs, n_future
        # Window normalisation: the network sees the target channel relative to the window's last value
        # and its location outputs are added back onto it, so a trend or a level it never saw in
        # training is no harder than one it did. None switches it off.
        self.relative = level_outputs is not None
        self.level = level  # "last": the window's last value; "mean": the window's mean
        mask = torch.tensor(level_outputs if level_outputs is not None else [False] * n_outputs, dtype=torch.float32)
        self.register_buffer("level_mask", mask, persistent=False)
        self.encoder = build_recurrent(cell, n_inputs, hidden, layers, dropout)
        self.head = nn.Linear(hidden + horizon * n_future, horizon * n_outputs)

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        if self.relative:
            target = x[..., :1]  # (B, W, 1)
            level = target[:, -1:] if self.level == "last" else target.mean(dim=1, keepdim=True)  # (B, 1, 1)
            x = torch.cat([x[..., :1] - level, x[..., 1:]], dim=-1)
        out = self.encoder(x)[0]  # (B, W, hidden)
        z = out[:, -1, :]  # (B, hidden): the state after the last observed step
        if self.n_future:
            assert future is not None, "this model needs known-future inputs"
            z = torch.cat([z, future.reshape(len(future), -1)], dim=1)  # (B, hidden + H*C)
        raw = self.head(z).view(-1, self.horizon, self.n_outputs)  # (B, H, K)
        if self.relative:
            raw = raw + level * self.level_mask  # (B, H, K): shift location outputs back
        return raw
