"""The network: a recurrent encoder over the input window and a linear head; no I/O, no training."""

from __future__ import annotations

import torch
from torch import nn

from .cells import build_recurrent

__all__ = ["Forecaster", "Ensemble"]


class Forecaster(nn.Module):
    """(batch, window, n_inputs) [+ known-future (batch, horizon, n_future)] -> raw (batch, horizon, n_outputs)."""

    def __init__(self, n_inputs: int, hidden: int, layers: int, dropout: float, cell: str, horizon: int,
                 n_outputs: int = 1, n_future: int = 0, level_outputs: tuple[bool, ...] | None = None,
                 level: str = "last", season: int = 1) -> None:
        super().__init__()
        self.horizon, self.n_outputs, self.n_future = horizon, n_outputs, n_future
        # Window normalisation: the network sees the target channel relative to the window's last value
        # (or mean) and its location outputs are added back onto an anchor, so a trend or a level it
        # never saw in training is no harder than one it did. The anchor is that same level, or with
        # level="season" the seasonal naive forecast read from the window: the network then learns a
        # correction to seasonal naive (in the spirit of ES-RNN's deseasonalising). None switches it off.
        self.relative = level_outputs is not None
        self.level = level  # "last" | "mean" | "season"
        self.season = season
        mask = torch.tensor(level_outputs if level_outputs is not None else [False] * n_outputs, dtype=torch.float32)
        self.register_buffer("level_mask", mask, persistent=False)
        self.encoder = build_recurrent(cell, n_inputs, hidden, layers, dropout)
        self.head = nn.Linear(hidden + horizon * n_future, horizon * n_outputs)

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        if self.relative:
            target = x[..., :1]  # (B, W, 1)
            level = target.mean(dim=1, keepdim=True) if self.level == "mean" else target[:, -1:]  # (B, 1, 1)
            anchor = level
            if self.level == "season":  # step h repeats the value one season before it: (B, H, 1)
                idx = x.shape[1] - self.season + torch.arange(self.horizon, device=x.device) % self.season
                anchor = target[:, idx]
            x = torch.cat([x[..., :1] - level, x[..., 1:]], dim=-1)
        out = self.encoder(x)[0]  # (B, W, hidden)
        z = out[:, -1, :]  # (B, hidden): the state after the last observed step
        if self.n_future:
            assert future is not None, "this model needs known-future inputs"
            z = torch.cat([z, future.reshape(future.shape[0], -1)], dim=1)  # (B, hidden + H*C); shape[0] keeps an export's batch dynamic
        raw = self.head(z).view(-1, self.horizon, self.n_outputs)  # (B, H, K)
        if self.relative:
            raw = raw + anchor * self.level_mask  # (B, H, K): shift location outputs back
        return raw


class Ensemble(nn.Module):
    """K Forecasters trained from different seeds; the output is their element-wise median (N-BEATS
    and the M4 winners' ensembling: the median of a few networks varies far less than any one)."""

    def __init__(self, members: list[Forecaster]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        first = members[0]
        self.horizon, self.n_outputs, self.n_future = first.horizon, first.n_outputs, first.n_future
        self.relative, self.level, self.season = first.relative, first.level, first.season

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        outs = torch.stack([m(x, future) for m in self.members])  # (K, B, H, P)
        return outs.median(dim=0).values if len(self.members) > 2 else outs.mean(dim=0)
