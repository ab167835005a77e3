"""Forecast accuracy metrics: point errors, MASE, and quantile/interval scores (numpy)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "point_metrics",
    "seasonal_naive_scale",
    "mase",
    "pinball_loss",
    "interval_coverage",
    "interval_width",
    "crps_from_quantiles",
    "probabilistic_metrics",
]


def _as_float(x: np.ndarray | Sequence[float] | float) -> np.ndarray:
    """Any array-like -> float64 ndarray of the same shape."""
    return np.asarray(x, dtype=np.float64)


def _quantile_levels(qpred: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    """Validate levels (Q,) against qpred (..., Q) and return them as float64 (Q,)."""
    levels = _as_float(quantiles).reshape(-1)
    if qpred.ndim == 0 or qpred.shape[-1] != levels.size:
        raise ValueError(
            f"qpred's last axis ({qpred.shape[-1] if qpred.ndim else 'scalar'}) "
            f"must match the number of quantile levels ({levels.size})"
        )
    if levels.size and not np.all((levels > 0.0) & (levels < 1.0)):
        raise ValueError(f"quantile levels must lie strictly inside (0, 1), got {levels.tolist()}")
    return levels


def point_metrics(actual: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """actual, pred (...) broadcastable -> {mse, rmse, mae, smape}; NaN pairs are ignored, all NaN if none remain."""
    a, p = np.broadcast_arrays(_as_float(actual), _as_float(pred))
    ok = ~(np.isnan(a) | np.isnan(p))
    a, p = a[ok], p[ok]
    if a.size == 0:
        nan = float("nan")
        return {"mse": nan, "rmse": nan, "mae": nan, "smape": nan}
    err = a - p
    mse = float(np.mean(err**2))
    denom = np.abs(a) + np.abs(p)
    # A pair with a == p == 0 is a perfect forecast; define its term as 0 instead of 0/0.
    safe = np.where(denom > 0, denom, 1.0)
    smape_terms = np.where(denom > 0, 200.0 * np.abs(err) / safe, 0.0)
    return {
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "mae": float(np.mean(np.abs(err))),
        "smape": float(np.mean(smape_terms)),
    }


def seasonal_naive_scale(train: np.ndarray, season_length: int) -> float:
    """train (T,) -> in-sample MAE of the seasonal-naive forecast, mean |y_t - y_{t-m}|; NaN if T <= m."""
    if season_length < 1:
        raise ValueError(f"season_length must be >= 1, got {season_length}")
    y = _as_float(train).reshape(-1)
    m = int(season_length)
    if y.size <= m:
        return float("nan")
    diffs = np.abs(y[m:] - y[:-m])
    # Gaps in the history should not make the whole scale undefined.
    diffs = diffs[~np.isnan(diffs)]
    return float(np.mean(diffs)) if diffs.size else float("nan")


def mase(actual: np.ndarray, pred: np.ndarray, scale: float | np.ndarray) -> float:
    """actual, pred (..., H), scale scalar or (...) per row -> mean of |a - p| / scale over valid entries.

    Rows whose scale is 0 or NaN are excluded (their error is not comparable), as are NaN pairs.
    NaN if nothing remains.
    """
    a, p = np.broadcast_arrays(_as_float(actual), _as_float(pred))
    s = _as_float(scale)
    if s.ndim > 0:
        if a.ndim == 0 or s.shape != a.shape[:-1]:
            raise ValueError(
                f"per-row scale shape {s.shape} must equal actual's leading shape {a.shape[:-1]}"
            )
        # One scale per row (series/origin), shared by every step on the last axis.
        s = s[..., None]
    s = np.broadcast_to(s, a.shape)
    ok = ~(np.isnan(a) | np.isnan(p) | np.isnan(s)) & (s != 0)
    if not ok.any():
        return float("nan")
    return float(np.mean(np.abs(a[ok] - p[ok]) / s[ok]))


def pinball_loss(actual: np.ndarray, qpred: np.ndarray, quantiles: Sequence[float]) -> float:
    """actual (...), qpred (..., Q), quantiles (Q,) -> mean over everything of max(q*(a-p), (q-1)*(a-p)); NaN actuals ignored."""
    qp = _as_float(qpred)
    levels = _quantile_levels(qp, quantiles)
    a = np.broadcast_to(_as_float(actual)[..., None], qp.shape)
    diff = a - qp
    loss = np.maximum(levels * diff, (levels - 1.0) * diff)
    loss = loss[~np.isnan(loss)]
    return float(np.mean(loss)) if loss.size else float("nan")


def interval_coverage(actual: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """actual, lo, hi (...) broadcastable -> fraction of actuals with lo <= a <= hi; NaN actuals ignored."""
    a, l, h = np.broadcast_arrays(_as_float(actual), _as_float(lo), _as_float(hi))
    ok = ~(np.isnan(a) | np.isnan(l) | np.isnan(h))
    if not ok.any():
        return float("nan")
    return float(np.mean((l[ok] <= a[ok]) & (a[ok] <= h[ok])))


def interval_width(lo: np.ndarray, hi: np.ndarray) -> float:
    """lo, hi (...) broadcastable -> mean of hi - lo (NaN entries ignored)."""
    w = np.subtract(*np.broadcast_arrays(_as_float(hi), _as_float(lo)))
    w = w[~np.isnan(w)]
    return float(np.mean(w)) if w.size else float("nan")


def crps_from_quantiles(actual: np.ndarray, qpred: np.ndarray, quantiles: Sequence[float]) -> float:
    """actual (...), qpred (..., Q) -> CRPS approximated as 2 * mean over levels of the pinball loss.

    This is the standard quantile decomposition CRPS = 2 * integral_0^1 pinball_q dq, discretised
    on the given levels with equal weights; it is exact only in the limit of dense, evenly spaced levels.
    """
    # The mean over everything already is the equal-weight mean over levels of each level's mean loss.
    return 2.0 * pinball_loss(actual, qpred, quantiles)


def probabilistic_metrics(
    actual: np.ndarray, qpred: np.ndarray, quantiles: Sequence[float]
) -> dict[str, float]:
    """actual (...), qpred (..., Q) -> {pinball, crps, coverage_<pct>, width_<pct> for each pair (q, 1-q), q < 0.5}."""
    qp = _as_float(qpred)
    levels = _quantile_levels(qp, quantiles)
    out = {
        "pinball": pinball_loss(actual, qp, levels),
        "crps": crps_from_quantiles(actual, qp, levels),
    }
    # Levels come from user text like "0.1,0.9", so match 1 - q with a tolerance, not ==.
    for i, q in enumerate(levels):
        if q >= 0.5:
            continue
        partners = np.flatnonzero(np.isclose(levels, 1.0 - q, rtol=0.0, atol=1e-9))
        if partners.size == 0:
            continue
        j = int(partners[0])
        pct = int(round(100.0 * (1.0 - 2.0 * q)))
        out[f"coverage_{pct}"] = interval_coverage(actual, qp[..., i], qp[..., j])
        out[f"width_{pct}"] = interval_width(qp[..., i], qp[..., j])
    return out
