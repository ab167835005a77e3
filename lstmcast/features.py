"""Calendar features: known for any future timestamp, so usable at forecast time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import fixed_step
from .errors import LstmcastError

__all__ = ["calendar_features", "calendar_names"]

# (name, period, extractor) — each becomes a sin and a cos column so that 23h sits next to 0h.
_PARTS = {
    "hour": (24.0, lambda i: i.hour + i.minute / 60.0),
    "dayofweek": (7.0, lambda i: i.day_of_week.astype(float)),
    "dayofyear": (365.25, lambda i: (i.day_of_year - 1).astype(float)),
    "month": (12.0, lambda i: (i.month - 1).astype(float)),
}


def _parts_for(freq: str | None) -> list[str]:
    """Calendar parts that vary at this frequency (an hourly series has hours; a monthly one does not)."""
    nanos = fixed_step(freq or "D")
    if nanos is None:  # month/quarter/year offsets have no fixed length
        return ["month"]
    parts = []
    if nanos < pd.Timedelta("1D").value:
        parts.append("hour")
    if nanos < pd.Timedelta("7D").value:
        parts.append("dayofweek")
    parts.append("dayofyear")
    return parts


def calendar_names(freq: str | None) -> list[str]:
    """Column names of `calendar_features` for this frequency."""
    return [f"{p}_{f}" for p in _parts_for(freq) for f in ("sin", "cos")]


def calendar_features(times: np.ndarray, freq: str | None, is_datetime: bool) -> np.ndarray:
    """(N,) datetimes -> (N, C) float32 sin/cos encodings of the calendar parts that vary at `freq`."""
    if not is_datetime:
        raise LstmcastError("--calendar needs a datetime time column; this data has integer steps")
    idx = pd.DatetimeIndex(times)
    parts = _parts_for(freq)
    out = np.empty((len(idx), 2 * len(parts)), np.float32)  # filled column by column: no float64 (N, C) copy
    for j, p in enumerate(parts):  # a loop over 1-3 calendar parts, not over points
        period, get = _PARTS[p]
        angle = 2.0 * np.pi * np.asarray(get(idx), dtype=np.float64) / period
        out[:, 2 * j] = np.sin(angle)
        out[:, 2 * j + 1] = np.cos(angle)
    return out
