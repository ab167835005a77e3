"""Damped-trend exponential smoothing (ETS(A,Ad,N), Gardner and McKenzie) of each series' scaled target: by
default (prepare.ets_weights) a statistical share of the forecast, averaged with the two network groups (the M4 lesson
that a combination beats its parts; ES-RNN pairs a network with exponential smoothing too): a third, and two thirds
on a seasonal series, where it runs on the seasonally adjusted values.

It runs on what the network sees, the log, seasonally adjusted and standardised series, so the season and
a growth rate are already handled; it only adds a level and a damped trend. Parameters are chosen per series
from a fixed grid by one-step squared error over the training part, every combination at once, and states
are computed for every point in one causal pass, so a forecast at any origin reads only the points before it.
Plain numpy; the loops run over time steps (the recursion is sequential), never over windows or series, and
update only the series that have a point at that step (longest first), so nothing is padded.

The Theta method (Assimakopoulos and Nikolopoulos, the M3 winner; statsforecast's Theta) joins it on series
without a season (prepare.theta_weights): simple exponential smoothing plus a drift of half the training part's
linear-regression slope (Hyndman and Billah's form), a straight line where the damped trend levels off.
"""

from __future__ import annotations

import itertools

import numpy as np

from .windows import concat_ranges

__all__ = ["WEIGHT", "SEASONAL_WEIGHT", "fit", "states", "state_after", "step", "forecast", "theta_fit",
           "theta_params", "theta_forecast"]

WEIGHT = 1 / 3  # its share of the forecast: one of three, beside the two network groups' medians
# its share on a series with a season (an adjusted series): two of three; held-out origins and short series of the
# accuracy corpora scored it better than a third (README: Results, "Two thirds of smoothing on seasonal series")
SEASONAL_WEIGHT = 2 / 3
ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # level smoothing
BETAS = (0.01, 0.05, 0.1, 0.2, 0.3)  # trend smoothing, as a share of alpha
PHIS = (0.8, 0.85, 0.9, 0.95, 0.98)  # damping per step ahead
GRID = np.array(list(itertools.product(ALPHAS, BETAS, PHIS)))  # (G, 3)
SES_GRID = np.array([(a, 0.0, 0.0) for a in ALPHAS])  # simple exponential smoothing: no trend (phi 0)
FIT_BATCH = 1 << 22  # series x grid points fitted at once (about 64 bytes each)


def _longest_first(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Series ordered longest first: (S,) order, lengths in that order, and (T,) how many series have more than
    t points for each step t, so step t updates a prefix of the rows and nothing is padded (memory stays O(S))."""
    n = ends - starts
    order = np.argsort(-n, kind="stable")
    n_sorted = n[order]
    alive = np.searchsorted(-n_sorted, -np.arange(int(n_sorted[0]) if len(n) else 0), side="left")
    return order, n_sorted, alive


def _init(y: np.ndarray, first: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S,) initial level (the first value) and trend (mean step over the first few points) of series whose
    points start at y[first] and number n (at least 1)."""
    k = np.clip(n - 1, 1, 3)
    last = y[first + np.minimum(k, n - 1)]
    return y[first], np.where(n > 1, (last - y[first]) / k, 0.0)


def step(level: np.ndarray, trend: np.ndarray, params: np.ndarray, y: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One point y of the recursion, broadcasting over series and parameter sets: the new level and trend, and
    the one-step error. params (..., 3): alpha, beta (a share of alpha), phi."""
    a, b, phi = params[..., 0], params[..., 1], params[..., 2]
    f = level + phi * trend
    err = y - f
    return f + a * err, phi * trend + a * b * err, err


def fit(y: np.ndarray, starts: np.ndarray, train_ends: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """(S, 3) alpha, beta, phi of each series: the grid point with the lowest one-step squared error over its
    training part y[starts[s]:train_ends[s]] ((N,) values, (S,) bounds, at least one point each)."""
    y = np.asarray(y, np.float64)
    if len(train_ends) == 0:
        return np.zeros((0, 3))
    batches = np.array_split(np.arange(len(starts)), -(-len(starts) * len(grid) // FIT_BATCH))
    if len(batches) > 1:  # a loop over batches of series, to bound memory on very large panels
        return np.concatenate([fit(y, starts[b], train_ends[b], grid) for b in batches])
    order, n, alive = _longest_first(starts, train_ends)
    first = starts[order]
    level0, trend0 = _init(y, first, n)
    level = np.repeat(level0[:, None], len(grid), axis=1)  # (S, G): every series under every grid point
    trend = np.repeat(trend0[:, None], len(grid), axis=1)
    sse = np.zeros_like(level)
    for t in range(1, len(alive)):
        k = alive[t]  # the series with a point t, the first k rows
        level[:k], trend[:k], err = step(level[:k], trend[:k], grid, y[first[:k] + t, None])
        sse[:k] += err * err
    out = np.empty((len(order), 3))
    out[order] = grid[np.argmin(sse, axis=1)]
    return out


def states(y: np.ndarray, starts: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) level and trend after each point of y, every series ((S + 1,) starts) smoothed from its first point
    with its own (S, 3+) parameters; the state after point i depends on points up to i only."""
    y = np.asarray(y, np.float64)
    order, n, alive = _longest_first(starts[:-1], starts[1:])
    first, params = starts[:-1][order], params[order]
    lv, tr = np.empty(len(y)), np.empty(len(y))
    if not len(alive):
        return lv, tr
    level, trend = _init(y, first, n)
    lv[first], tr[first] = level, trend
    for t in range(1, len(alive)):
        k = alive[t]
        level, trend = level[:k], trend[:k]
        level, trend, _ = step(level, trend, params[:k], y[first[:k] + t])
        lv[first[:k] + t], tr[first[:k] + t] = level, trend
    return lv, tr


def state_after(y: np.ndarray, starts: np.ndarray, params: np.ndarray, points: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """(K,) level and trend after each of `points` (K,) (indices into y), from one pass of `states`."""
    level, trend = states(y, starts, params)
    return level[points], trend[points]


def forecast(level: np.ndarray, trend: np.ndarray, phi: np.ndarray, steps: int) -> np.ndarray:
    """(K, steps) forecasts from states (K,) with damping (K,): level + (phi + ... + phi^h) trend."""
    damp = np.cumsum(phi[:, None] ** np.arange(1, steps + 1)[None, :], axis=1)
    return level[:, None] + damp * trend[:, None]


def theta_fit(y: np.ndarray, starts: np.ndarray, train_ends: np.ndarray) -> np.ndarray:
    """(S, 2) the Theta method's alpha (simple exponential smoothing, chosen as `fit` chooses) and drift (half the
    least-squares slope of the training part on time; 0 for a single point) of each series."""
    y = np.asarray(y, np.float64)
    alpha = fit(y, starts, train_ends, SES_GRID)[:, 0]
    counts = np.asarray(train_ends - starts, np.int64)
    n = counts.astype(np.float64)
    if len(n) == 0:
        return np.zeros((0, 2))
    rows = concat_ranges(starts, train_ends)
    sid = np.repeat(np.arange(len(n)), counts)
    t = rows - starts[sid] - (n[sid] - 1) / 2  # time centred on each series' mean
    z = y[rows] - np.bincount(sid, y[rows], len(n))[sid] / n[sid]
    sxx = np.bincount(sid, t * t, len(n))
    slope = np.divide(np.bincount(sid, t * z, len(n)), sxx, out=np.zeros(len(n)), where=sxx > 0)
    return np.column_stack([alpha, slope / 2])


def theta_params(theta: np.ndarray) -> np.ndarray:
    """(S, 3) the recursion parameters (alpha, 0, 0) of the Theta method's smoothing, for `states` and `step`."""
    return np.column_stack([theta[:, 0], np.zeros((len(theta), 2))])


def theta_forecast(level: np.ndarray, theta: np.ndarray, steps: int) -> np.ndarray:
    """(K, steps) Theta forecasts from smoothed levels (K,) and (K, 2+) alpha and drift: level + drift * (h - 1 +
    1 / alpha), Hyndman and Billah's form for a long history."""
    h = np.arange(1, steps + 1)[None, :]
    return level[:, None] + theta[:, 1, None] * (h - 1 + 1 / theta[:, 0, None])
