"""Per-series scaling fitted on training points only."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import LstmcastError
from .windows import concat_ranges

__all__ = ["Scaler"]


class Scaler:
    """standard: (x - mean) / std; minmax: (x - min) / (max - min); none: identity. One (loc, scale) per series."""

    def __init__(self, kind: str = "standard", loc: np.ndarray | None = None, scale: np.ndarray | None = None) -> None:
        if kind not in ("standard", "minmax", "none"):
            raise LstmcastError(f"unknown scaler {kind!r}; use standard, minmax or none")
        self.kind = kind
        self.loc = None if loc is None else np.asarray(loc, dtype=np.float64)
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64)

    def fit(self, values: np.ndarray, starts: np.ndarray, train_ends: np.ndarray) -> Scaler:
        """Fit on values[starts[s]:train_ends[s]] for each series s; (N,), (S+1,), (S,)."""
        n_series = len(starts) - 1
        sid = np.repeat(np.arange(n_series), train_ends - starts[:-1])
        pts = values[_train_index(starts, train_ends)]
        count = np.bincount(sid, minlength=n_series).astype(np.float64)
        if self.kind == "none":
            self.loc, self.scale = np.zeros(n_series), np.ones(n_series)
        elif self.kind == "standard":
            mean = np.bincount(sid, pts, minlength=n_series) / count
            var = np.bincount(sid, (pts - mean[sid]) ** 2, minlength=n_series) / count
            self.loc, self.scale = mean, np.sqrt(var)
        else:
            lo = np.full(n_series, np.inf)
            hi = np.full(n_series, -np.inf)
            np.minimum.at(lo, sid, pts)
            np.maximum.at(hi, sid, pts)
            self.loc, self.scale = lo, hi - lo
        # A constant training part has no spread: keep the shift, do not divide by zero.
        self.scale = np.where(self.scale > 1e-12 * np.maximum(1.0, np.abs(self.loc)), self.scale, 1.0)
        return self

    def transform(self, values: np.ndarray, sid: np.ndarray) -> np.ndarray:
        """values (...,) of series sid (broadcastable) -> scaled."""
        return (values - self.loc[sid]) / self.scale[sid]

    def inverse_transform(self, values: np.ndarray, sid: np.ndarray) -> np.ndarray:
        """Undo `transform`."""
        return values * self.scale[sid] + self.loc[sid]

    def to_dict(self) -> dict[str, Any]:
        """Plain lists for the checkpoint."""
        return {"kind": self.kind, "loc": [float(v) for v in self.loc], "scale": [float(v) for v in self.scale]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaler:
        return cls(d["kind"], np.array(d["loc"], dtype=np.float64), np.array(d["scale"], dtype=np.float64))


def _train_index(starts: np.ndarray, train_ends: np.ndarray) -> np.ndarray:
    """Indices of every training point, series after series."""
    return concat_ranges(starts[:-1], train_ends)
