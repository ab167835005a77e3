"""Forecast accuracy metrics: point errors, MASE, and quantile/interval scores (numpy).

Every metric ignores NaN actuals, so `mask_unobserved` is how a caller keeps imputed values out of a score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import torch

__all__ = [
    "point_metrics",
    "grouped_point_metrics",
    "seasonal_naive_scale",
    "mase",
    "pinball_loss",
    "interval_coverage",
    "interval_width",
    "mask_unobserved",
    "quantile_function",
    "crps_gaussian",
    "crps_from_quantiles",
    "probabilistic_metrics",
]

CRPS_GRID = 100  # midpoint nodes (k + 0.5) / 100 of the integral over levels in (0, 1)


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


def grouped_point_metrics(actual: np.ndarray, pred: np.ndarray, group: np.ndarray, scale: np.ndarray,
                          n_groups: int) -> dict[str, np.ndarray]:
    """actual, pred (K, H), group (K,) in [0, n_groups), scale (K,) -> {mse, rmse, mae, smape, mase, points}, each
    (n_groups,): point_metrics and mase per group in one pass (NaN pairs ignored; NaN for a group with none)."""
    a, p = _as_float(actual), _as_float(pred)
    g = np.broadcast_to(np.asarray(group)[:, None], a.shape)
    s = np.broadcast_to(_as_float(scale)[:, None], a.shape)
    ok = ~(np.isnan(a) | np.isnan(p))
    a, p, g, s = a[ok], p[ok], g[ok], s[ok]
    err = a - p
    denom = np.abs(a) + np.abs(p)
    smape = np.where(denom > 0, 200.0 * np.abs(err) / np.where(denom > 0, denom, 1.0), 0.0)
    n = np.bincount(g, minlength=n_groups).astype(np.float64)
    scaled = ~np.isnan(s) & (s != 0)  # as in mase: a series without a usable scale has no MASE

    def mean(v: np.ndarray, keep: np.ndarray | None = None, count: np.ndarray = n) -> np.ndarray:
        total = np.bincount(g if keep is None else g[keep], v if keep is None else v[keep], minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    mse = mean(err**2)
    n_scaled = np.bincount(g[scaled], minlength=n_groups).astype(np.float64)
    return {"mse": mse, "rmse": np.sqrt(mse), "mae": mean(np.abs(err)), "smape": mean(smape),
            "mase": mean(np.abs(err) / np.where(scaled, s, 1.0), scaled, n_scaled), "points": n}


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


def mask_unobserved(actual: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """actual (...), observed (...) bool -> a float copy of actual with NaN where nothing was observed."""
    return np.where(np.asarray(observed, dtype=bool), _as_float(actual), np.nan)


def quantile_function(qpred: np.ndarray, quantiles: Sequence[float], u: Sequence[float] | np.ndarray) -> np.ndarray:
    """qpred (..., Q) at levels (Q,), u (U,) in (0, 1) -> (..., U): the distribution QuantileLoss samples from.

    Linear between the levels; past the outermost ones exponential tails through the two outermost knots,
    Q(u) = q_1 + (q_2 - q_1) / ln(a_2 / a_1) * ln(u / a_1) below a_1 and the mirror image above a_Q.
    """
    qp = _as_float(qpred)
    levels = _quantile_levels(qp, quantiles)
    uu = _as_float(u).reshape(-1)
    if levels.size == 1:
        return np.repeat(qp, uu.size, axis=-1)
    inner = np.clip(uu, levels[0], levels[-1])
    hi = np.clip(np.searchsorted(levels, inner), 1, levels.size - 1)
    lo = hi - 1
    w = (inner - levels[lo]) / (levels[hi] - levels[lo])
    mid = qp[..., lo] + w * (qp[..., hi] - qp[..., lo])
    slope_lo = (qp[..., 1:2] - qp[..., :1]) / math.log(levels[1] / levels[0])
    slope_hi = (qp[..., -1:] - qp[..., -2:-1]) / math.log((1.0 - levels[-2]) / (1.0 - levels[-1]))
    with np.errstate(divide="ignore"):  # the unused branch may take log(0) at u = 0 or 1
        below = qp[..., :1] + slope_lo * np.log(uu / levels[0])
        above = qp[..., -1:] - slope_hi * np.log((1.0 - uu) / (1.0 - levels[-1]))
    return np.where(uu < levels[0], below, np.where(uu > levels[-1], above, mid))


def _crps_gaussian_terms(actual: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Elementwise CRPS(N(mu, sigma), y) = sigma * (z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)); |y - mu| at sigma 0."""
    a, m, s = np.broadcast_arrays(_as_float(actual), _as_float(mu), _as_float(sigma))
    pos = s > 0
    z = np.where(pos, (a - m) / np.where(pos, s, 1.0), 0.0)
    cdf = torch.special.ndtr(torch.from_numpy(np.ascontiguousarray(z))).numpy()
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return np.where(pos, s * (z * (2.0 * cdf - 1.0) + 2.0 * pdf - 1.0 / math.sqrt(math.pi)), np.abs(a - m))


def _crps_grid_terms(actual: np.ndarray, qpred: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Elementwise CRPS = 2 * integral over tau in (0,1) of pinball_tau(y, Q(tau)), midpoint rule on CRPS_GRID nodes."""
    a = _as_float(actual)
    total = np.zeros(np.broadcast_shapes(a.shape, qpred.shape[:-1]))
    # One node at a time keeps memory at one array the size of `actual`, not CRPS_GRID of them.
    for tau in (np.arange(CRPS_GRID) + 0.5) / CRPS_GRID:
        diff = a - quantile_function(qpred, levels, [tau])[..., 0]
        total += np.maximum(tau * diff, (tau - 1.0) * diff)
    return 2.0 * total / CRPS_GRID


def _nan_mean(x: np.ndarray) -> float:
    """Mean over non-NaN entries; NaN if there are none."""
    x = x[~np.isnan(x)]
    return float(np.mean(x)) if x.size else float("nan")


def crps_gaussian(actual: np.ndarray, mu: np.ndarray | float, sigma: np.ndarray | float) -> float:
    """actual, mu, sigma (...) broadcastable -> mean closed-form CRPS of N(mu, sigma) at actual; NaN actuals ignored."""
    return _nan_mean(_crps_gaussian_terms(actual, _as_float(mu), _as_float(sigma)))


def crps_from_quantiles(actual: np.ndarray, qpred: np.ndarray, quantiles: Sequence[float]) -> float:
    """actual (...), qpred (..., Q) -> mean CRPS of the distribution whose quantile function is
    `quantile_function` (linear between the levels, exponential tails): 2 * integral of the pinball loss
    over all levels in (0, 1), on a dense midpoint grid. NaN actuals are ignored."""
    qp = _as_float(qpred)
    levels = _quantile_levels(qp, quantiles)
    return _nan_mean(_crps_grid_terms(actual, qp, levels))


def _normal_from_pair(qp: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian quantiles (..., Q) -> mu, sigma (...) from the outermost pair q, 1 - q (ValueError without one)."""
    lo, hi = float(levels[0]), float(levels[-1])
    if not math.isclose(lo + hi, 1.0, abs_tol=1e-9) or lo >= 0.5:
        raise ValueError(f"a Gaussian CRPS needs a symmetric outer pair of levels, got {levels.tolist()}")
    z = NormalDist().inv_cdf(hi)
    return 0.5 * (qp[..., 0] + qp[..., -1]), (qp[..., -1] - qp[..., 0]) / (2.0 * z)


def probabilistic_metrics(
    actual: np.ndarray, qpred: np.ndarray, quantiles: Sequence[float], gaussian: np.ndarray | bool = False
) -> dict[str, float]:
    """actual (...), qpred (..., Q) -> {pinball, crps, coverage_<pct>, width_<pct> for each pair (q, 1-q), q < 0.5}.

    Where `gaussian` (broadcastable to actual) is True, qpred are exact quantiles of a Normal (a gaussian
    model's single pass): its CRPS is the closed form for the Normal read off the outer pair. Elsewhere it
    is the quantile-grid CRPS of crps_from_quantiles. NaN actuals are ignored throughout.
    """
    qp = _as_float(qpred)
    levels = _quantile_levels(qp, quantiles)
    a = _as_float(actual)
    g = np.broadcast_to(np.asarray(gaussian, dtype=bool), np.broadcast_shapes(a.shape, qp.shape[:-1]))
    if g.all():
        terms = _crps_gaussian_terms(a, *_normal_from_pair(qp, levels))
    elif g.any():
        terms = np.where(g, _crps_gaussian_terms(a, *_normal_from_pair(qp, levels)), _crps_grid_terms(a, qp, levels))
    else:
        terms = _crps_grid_terms(a, qp, levels)
    out = {
        "pinball": pinball_loss(actual, qp, levels),
        "crps": _nan_mean(terms),
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
