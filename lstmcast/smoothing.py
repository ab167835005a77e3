"""Damped-trend exponential smoothing (ETS(A,Ad,N), Gardner and McKenzie) of each series' scaled target: with
--ets, the statistical third of the forecast, averaged with the two network groups (the M4 lesson that a
combination beats its parts; ES-RNN pairs a network with exponential smoothing too).

It runs on what the network sees, the log, seasonally adjusted and standardised series, so the season and
a growth rate are already handled; it only adds a level and a damped trend. Parameters are chosen per series
from a fixed grid by one-step squared error over the training part, every combination at once, and states
are computed for every point in one causal pass, so a forecast at any origin reads only the points before it.
Plain numpy; the loops run over time steps (the recursion is sequential), never over windows or series.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["WEIGHT", "fit", "states", "state_after", "step", "forecast"]

WEIGHT = 1 / 3  # its share of the forecast: one of three, beside the two network groups' medians
ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # level smoothing
BETAS = (0.01, 0.05, 0.1, 0.2, 0.3)  # trend smoothing, as a share of alpha
PHIS = (0.8, 0.85, 0.9, 0.95, 0.98)  # damping per step ahead
GRID = np.array(list(itertools.product(ALPHAS, BETAS, PHIS)))  # (G, 3)


def _padded(y: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S, T) values of each series' [starts, ends) aligned at its start, and (S, T) whether a value is there."""
    n = ends - starts
    t = np.arange(int(n.max()) if len(n) else 0)
    inside = t[None, :] < n[:, None]
    idx = np.where(inside, starts[:, None] + t[None, :], 0)
    return np.where(inside, y[idx], 0.0), inside


def _init(values: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S,) initial level (the first value) and trend (mean step over the first few points)."""
    k = np.clip(n - 1, 1, 3)
    last = values[np.arange(len(n)), np.minimum(k, np.maximum(n - 1, 0))]
    return values[:, 0], np.where(n > 1, (last - values[:, 0]) / k, 0.0)


def step(level: np.ndarray, trend: np.ndarray, params: np.ndarray, y: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One point y of the recursion, broadcasting over series and parameter sets: the new level and trend, and
    the one-step error. params (..., 3): alpha, beta (a share of alpha), phi."""
    a, b, phi = params[..., 0], params[..., 1], params[..., 2]
    f = level + phi * trend
    err = y - f
    return f + a * err, phi * trend + a * b * err, err


def fit(y: np.ndarray, starts: np.ndarray, train_ends: np.ndarray) -> np.ndarray:
    """(S, 3) alpha, beta, phi of each series: the grid point with the lowest one-step squared error over its
    training part y[starts[s]:train_ends[s]] ((N,) values, (S,) bounds)."""
    if len(train_ends) == 0:
        return np.zeros((0, 3))
    n = train_ends - starts
    vals, inside = _padded(np.asarray(y, np.float64), starts, train_ends)
    level0, trend0 = _init(vals, n)
    level = np.repeat(level0[:, None], len(GRID), axis=1)  # (S, G): every series under every grid point
    trend = np.repeat(trend0[:, None], len(GRID), axis=1)
    sse = np.zeros_like(level)
    for t in range(1, vals.shape[1]):
        on = inside[:, t:t + 1]
        new_level, new_trend, err = step(level, trend, GRID, vals[:, t:t + 1])
        sse += np.where(on, err * err, 0.0)
        level, trend = np.where(on, new_level, level), np.where(on, new_trend, trend)
    return GRID[np.argmin(sse, axis=1)]


def states(y: np.ndarray, starts: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) level and trend after each point of y, every series ((S + 1,) starts) smoothed from its first point
    with its own (S, 3) parameters; the state after point i depends on points up to i only."""
    ends = starts[1:]
    n = ends - starts[:-1]
    vals, inside = _padded(np.asarray(y, np.float64), starts[:-1], ends)
    level, trend = _init(vals, n)
    lv, tr = np.zeros_like(vals), np.zeros_like(vals)
    lv[:, 0], tr[:, 0] = level, trend
    for t in range(1, vals.shape[1]):
        level, trend, _ = step(level, trend, params, vals[:, t])
        lv[:, t], tr[:, t] = level, trend
    return lv[inside], tr[inside]


def state_after(y: np.ndarray, starts: np.ndarray, params: np.ndarray, points: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """(K,) level and trend after each of `points` (K,) (indices into y), from one pass of `states`."""
    level, trend = states(y, starts, params)
    return level[points], trend[points]


def forecast(level: np.ndarray, trend: np.ndarray, phi: np.ndarray, steps: int) -> np.ndarray:
    """(K, steps) forecasts from states (K,) with damping (K,): level + (phi + ... + phi^h) trend."""
    damp = np.cumsum(phi[:, None] ** np.arange(1, steps + 1)[None, :], axis=1)
    return level[:, None] + damp * trend[:, None]
