"""Simple reference forecasts (naive, seasonal naive, drift, mean), vectorised over forecast origins."""

from __future__ import annotations

import numpy as np

__all__ = ["BASELINES", "baseline_forecasts"]

BASELINES: tuple[str, ...] = ("naive", "seasonal_naive", "drift", "mean")


def _as_index(x: np.ndarray, name: str) -> np.ndarray:
    """Array-like of integers -> int64 (K,); ValueError if not 1-D integral."""
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        # Accept float arrays holding whole numbers (e.g. from pandas), reject anything else.
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def baseline_forecasts(
    values: np.ndarray,
    starts: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    season_length: int = 1,
) -> dict[str, np.ndarray]:
    """values (N,), starts (K,), origins (K,) -> {name: (K, horizon) float64} for every name in BASELINES.

    History of origin k is values[starts[k]:origins[k]]; origins[k] may equal N (forecast past the data).
    NaN in a history propagates into that origin's forecasts (the mean is NaN if any point is non-finite).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {v.shape}")
    s = _as_index(starts, "starts")
    o = _as_index(origins, "origins")
    if s.shape != o.shape:
        raise ValueError(f"starts {s.shape} and origins {o.shape} must have the same length")
    if int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon}")
    if int(season_length) != season_length or season_length < 1:
        raise ValueError(f"season_length must be an integer >= 1, got {season_length}")
    h_len, m = int(horizon), int(season_length)
    if s.size:
        if np.any(s < 0):
            raise ValueError("starts must be >= 0")
        if np.any(o <= s):
            bad = int(np.flatnonzero(o <= s)[0])
            raise ValueError(
                f"every origin needs at least one point of history (origins > starts); "
                f"origin {bad} has start {s[bad]} and origin {o[bad]}"
            )
        if np.any(o > v.size):
            raise ValueError(f"origins must be <= len(values) = {v.size}")

    n_hist = (o - s)[:, None]  # (K, 1)
    steps = np.arange(h_len)[None, :]  # (1, H)
    last = v[o - 1][:, None]
    first = v[s][:, None]

    naive = np.broadcast_to(last, (s.size, h_len)).copy()

    # Step h repeats the last observed season: one season back, wrapping every m steps.
    seas_idx = o[:, None] - m + (steps % m)
    # Too-short histories would index before the series start, so they use the last value instead.
    seas_idx = np.where(n_hist >= m, seas_idx, o[:, None] - 1)
    seasonal = v[seas_idx]

    # A one-point history has no slope; the max() only guards the division, the where() picks 0.
    slope = np.where(n_hist > 1, (last - first) / np.maximum(n_hist - 1, 1), 0.0)
    drift = last + (steps + 1) * slope

    # Prefix sums give every history's total in O(N + K) with no per-origin slicing. Non-finite
    # points are summed as 0 and counted separately, so one NaN cannot poison every later series.
    bad = ~np.isfinite(v)
    csum = np.concatenate(([0.0], np.cumsum(np.where(bad, 0.0, v))))
    cbad = np.concatenate(([0], np.cumsum(bad)))
    hist_mean = np.where(cbad[o] > cbad[s], np.nan, (csum[o] - csum[s]) / (o - s))[:, None]
    mean = np.broadcast_to(hist_mean, (s.size, h_len)).copy()

    return {"naive": naive, "seasonal_naive": seasonal, "drift": drift, "mean": mean}
