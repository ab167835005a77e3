"""The network: a recurrent encoder over the input window and a linear head; no I/O, no training."""

from __future__ import annotations

import torch
from torch import nn

from .cells import build_recurrent

__all__ = ["Forecaster"]


class Forecaster(nn.Module):
    """(batch, window, n_inputs) [+ known-future (batch, horizon, n_future)] -> raw (batch, horizon, n_outputs)."""

    def __init__(self, n_inputs: int, hidden: int, layers: int, dropout: float, cell: str, horizon: int,
                 n_outputs: int = 1, n_future: int = 0) -> None:
        super().__init__()
        self.horizon, self.n_outputs, self.n_future = horizon, n_outputs, n_future
        self.encoder = build_recurrent(cell, n_inputs, hidden, layers, dropout)
        self.head = nn.Linear(hidden + horizon * n_future, horizon * n_outputs)

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        out = self.encoder(x)[0]  # (B, W, hidden)
        z = out[:, -1, :]  # (B, hidden): the state after the last observed step
        if self.n_future:
            assert future is not None, "this model needs known-future inputs"
            z = torch.cat([z, future.reshape(len(future), -1)], dim=1)  # (B, hidden + H*C)
        return self.head(z).view(-1, self.horizon, self.n_outputs)  # (B, H, K)
