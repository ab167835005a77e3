"""The network: a recurrent encoder over the input window and a linear head; no I/O, no training."""

from __future__ import annotations

import torch
from torch import nn

from .cells import build_recurrent

__all__ = ["Forecaster", "Ensemble", "Carry"]


class Carry:
    """A forking model's state after reading a history: the recurrent state and the last `season` (at least
    one) target values, so that new points extend it without re-reading the history."""

    def __init__(self, z: torch.Tensor, state: object, recent: torch.Tensor) -> None:
        self.z, self.state, self.recent = z, state, recent  # z (B, hidden); recent (B, max(season, context))


class Forecaster(nn.Module):
    """(batch, window, n_inputs) [+ known-future (batch, horizon, n_future)] -> raw (batch, horizon, n_outputs)."""

    def __init__(self, n_inputs: int, hidden: int, layers: int, dropout: float, cell: str, horizon: int,
                 n_outputs: int = 1, n_future: int = 0, level_outputs: tuple[bool, ...] | None = None,
                 level: str = "last", season: int = 1, forking: bool = False, context: int = 1) -> None:
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
        # Forking (MQ-RNN, DeepAR): the target channel enters as its first difference (the first step of a
        # sequence reads 0) and as its distance from the mean of the last `context` points (fewer at the start
        # of a sequence), which no level shifts, so one pass over a long stretch serves every position in it;
        # each position's forecast is anchored on its own last value (or its seasonal naive forecast).
        self.forking, self.context = forking, max(context, 1)
        if forking and not self.relative:
            raise ValueError("a forking Forecaster needs level outputs (window norm last or season)")
        self.encoder = build_recurrent(cell, n_inputs + forking, hidden, layers, dropout)
        self.head = nn.Linear(hidden + horizon * n_future, horizon * n_outputs)

    @property
    def window_norm(self) -> str:
        """The window normalisation in use: last, mean, season or none."""
        return self.level if self.relative else "none"

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        if self.forking:  # the forecast after the window's last point: one position of forward_all
            fut = None if future is None else future[:, None]
            return self.forward_all(x, fut, positions=1)[:, 0]
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

    def _shift_free(self, x: torch.Tensor, recent: torch.Tensor | None) -> torch.Tensor:
        """(B, T, I) -> (B, T, I + 1): the target channel replaced by its first difference and its distance from
        the mean of the last `context` points, computed after the target values `recent` (B, R) already read
        (None at the start of a sequence: the first difference reads 0, the first means are shorter)."""
        t = x[..., 0]  # (B, T)
        n = t.shape[1]
        ext = t if recent is None else torch.cat([recent, t], dim=1)  # (B, R + T)
        c = torch.nn.functional.pad(torch.cumsum(ext, dim=1), (1, 0))  # (B, R + T + 1): c[:, i] = sum of ext[:, :i]
        end = torch.arange(ext.shape[1] - n + 1, ext.shape[1] + 1, device=x.device)  # (T,) exclusive ends
        lo = (end - self.context).clamp(min=0)
        mean = (c[:, end] - c[:, lo]) / (end - lo)  # (B, T)
        prev = torch.cat([ext[:, :1], ext[:, :-1]], dim=1)  # the value before each (itself for the first)
        d = (ext - prev)[:, -n:]  # (B, T); not torch.diff, which ONNX opset 17 lacks
        return torch.cat([d[..., None], (t - mean)[..., None], x[..., 1:]], dim=-1)

    def _heads(self, z: torch.Tensor, target: torch.Tensor, future: torch.Tensor | None) -> torch.Tensor:
        """States z (B, P, hidden) after points whose target values end with `target` (B, >= P + season - 1)
        -> raw (B, P, H, K), each position anchored on its last value or its seasonal naive forecast."""
        b, p = z.shape[:2]
        if self.n_future:
            assert future is not None, "this model needs known-future inputs"
            z = torch.cat([z, future.reshape(b, p, -1)], dim=-1)  # (B, P, hidden + H*C)
        raw = self.head(z).view(b, p, self.horizon, self.n_outputs)  # (B, P, H, K)
        n = target.shape[1]
        if self.level == "season":  # position i, step h: the value one season before step h
            pos = torch.arange(n - p, n, device=z.device)[:, None]  # (P, 1) index of each position's last point
            idx = (pos - self.season + 1 + torch.arange(self.horizon, device=z.device) % self.season).clamp(min=0)
            anchor = target[:, idx]  # (B, P, H)
        else:
            anchor = target[:, n - p:, None]  # (B, P, 1)
        return raw + anchor[..., None] * self.level_mask  # (B, P, H, K)

    def forward_all(self, x: torch.Tensor, future: torch.Tensor | None = None, positions: int | None = None
                    ) -> torch.Tensor:
        """Forking pass: (B, T, I) [+ known-future (B, P, H, C)] -> raw (B, P, H, K), the forecasts made after
        each of the last P (default T) points, each seeing the sequence up to its point only."""
        p = x.shape[1] if positions is None else positions
        out = self.encoder(self._shift_free(x, None))[0]  # (B, T, hidden)
        return self._heads(out[:, -p:], x[..., 0], future)

    def begin(self, x: torch.Tensor) -> Carry:
        """Read a history (B, T, I) once; `emit` forecasts from the result, `extend` adds points to it."""
        out, state = self.encoder(self._shift_free(x, None))
        return Carry(out[:, -1], state, x[:, -max(self.season, self.context):, 0])

    def extend(self, carry: Carry, rows: torch.Tensor) -> Carry:
        """The carry after new points rows (B, n, I): the recurrent state moves on, nothing is re-read."""
        out, state = self.encoder(self._shift_free(rows, carry.recent), carry.state)
        recent = torch.cat([carry.recent, rows[..., 0]], dim=1)[:, -carry.recent.shape[1]:]
        return Carry(out[:, -1], state, recent)

    def emit(self, carry: Carry, future: torch.Tensor | None = None) -> torch.Tensor:
        """Raw forecast (B, H, K) after the carried history; future (B, H, C) as in forward."""
        fut = None if future is None else future[:, None]
        return self._heads(carry.z[:, None], carry.recent, fut)[:, 0]


class Ensemble(nn.Module):
    """K Forecasters trained from different seeds; the output is their element-wise median (N-BEATS
    and the M4 winners' ensembling: the median of a few networks varies far less than any one).

    `groups` splits the members, in order, into set-ups trained differently (--training both: windows
    networks, then forking ones); the output is then the mean of each group's median, so that the
    set-ups weigh equally whatever their sizes, and two set-ups that err differently average out."""

    def __init__(self, members: list[Forecaster], groups: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.groups = tuple(g for g in (groups or (len(members),)) if g > 0)
        if sum(self.groups) != len(members):
            raise ValueError(f"groups {self.groups} do not add up to {len(members)} members")
        first = members[0]
        self.horizon, self.n_outputs, self.n_future = first.horizon, first.n_outputs, first.n_future
        self.relative, self.level, self.season = first.relative, first.level, first.season
        self.forking = all(m.forking for m in members)  # the state is carried only when every member can

    @property
    def window_norm(self) -> str:
        """The members' window normalisations ("last", or e.g. "none+last" when set-ups differ)."""
        return "+".join(dict.fromkeys(m.window_norm for m in self.members))

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        return self._combine([m(x, future) for m in self.members])

    def _combine(self, outs: list[torch.Tensor]) -> torch.Tensor:
        """K members' (B, H, P) -> the mean over groups of each group's element-wise median (mean of two or
        fewer). The median is read from a sort, the lower middle value for an even count as torch.median
        gives, so that the same module exports to ONNX (which has no median operator)."""
        parts, at = [], 0
        for k in self.groups:
            stacked = torch.stack(outs[at:at + k])  # (k, B, H, P)
            parts.append(stacked.sort(dim=0).values[(k - 1) // 2] if k > 2 else stacked.mean(dim=0))
            at += k
        return parts[0] if len(parts) == 1 else torch.stack(parts).mean(dim=0)

    def begin(self, x: torch.Tensor) -> list[Carry]:
        """Each member's carry (see Forecaster.begin)."""
        return [m.begin(x) for m in self.members]

    def extend(self, carry: list[Carry], rows: torch.Tensor) -> list[Carry]:
        return [m.extend(c, rows) for m, c in zip(self.members, carry)]

    def emit(self, carry: list[Carry], future: torch.Tensor | None = None) -> torch.Tensor:
        return self._combine([m.emit(c, future) for m, c in zip(self.members, carry)])
