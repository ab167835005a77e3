"""The damped-trend smoothing averaged into the default forecast: fitted per series on training points, causal."""

from __future__ import annotations

import numpy as np
import pytest

from lstmcast import smoothing


def _reference(y: np.ndarray, a: float, b: float, phi: float) -> tuple[np.ndarray, np.ndarray, float]:
    """A scalar loop of the textbook recursion: states after each point and the one-step squared error."""
    k = min(len(y) - 1, 3) or 1
    level, trend = y[0], (y[k] - y[0]) / k if len(y) > 1 else 0.0
    lv, tr, sse = [level], [trend], 0.0
    for v in y[1:]:
        f = level + phi * trend
        sse += (v - f) ** 2
        level, trend = f + a * (v - f), phi * trend + a * b * (v - f)
        lv.append(level)
        tr.append(trend)
    return np.array(lv), np.array(tr), sse


def test_states_and_fit_match_the_textbook_recursion_series_by_series() -> None:
    rng = np.random.default_rng(0)
    ys = [np.cumsum(rng.normal(0.3, 1.0, 40)), rng.normal(5.0, 2.0, 120), np.linspace(0, 1, 7), np.array([2.0])]
    y = np.concatenate(ys)
    starts = np.array([0, 40, 160, 167, 168])  # uneven lengths, not in order, one of a single point
    params = smoothing.fit(y, starts[:-1], starts[1:])
    assert params.shape == (4, 3)
    level, trend = smoothing.states(y, starts, params)
    for s, part in enumerate(ys):
        lv, tr, sse = _reference(part, *params[s])
        np.testing.assert_allclose(level[starts[s]:starts[s + 1]], lv, rtol=1e-12)
        np.testing.assert_allclose(trend[starts[s]:starts[s + 1]], tr, rtol=1e-12)
        # the chosen grid point has the lowest one-step error of the whole grid, for this series alone
        assert sse <= min(_reference(part, *g)[2] for g in smoothing.GRID) + 1e-9
        np.testing.assert_array_equal(smoothing.fit(part, np.array([0]), np.array([len(part)]))[0], params[s])
    # the noisy level is smoothed hard, the random walk with drift follows its last values
    assert params[1, 0] <= 0.2 and params[0, 0] >= 0.5


def test_large_panels_are_fitted_in_batches_with_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory stays bounded on many series: batches of series give exactly the one-batch answer."""
    rng = np.random.default_rng(2)
    lengths = rng.integers(1, 80, 30)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    y = np.cumsum(rng.normal(0.1, 1.0, starts[-1]))
    whole = smoothing.fit(y, starts[:-1], starts[1:])
    monkeypatch.setattr(smoothing, "FIT_BATCH", 4 * len(smoothing.GRID))
    np.testing.assert_array_equal(smoothing.fit(y, starts[:-1], starts[1:]), whole)


def test_fit_reads_training_points_only_and_states_are_causal() -> None:
    rng = np.random.default_rng(1)
    y = np.cumsum(rng.normal(0, 1, 60))
    params = smoothing.fit(y, np.array([0]), np.array([50]))
    changed = y.copy()
    changed[50:] += 100.0
    np.testing.assert_array_equal(smoothing.fit(changed, np.array([0]), np.array([50])), params)
    a = smoothing.states(y, np.array([0, 60]), params)
    b = smoothing.states(changed, np.array([0, 60]), params)
    np.testing.assert_array_equal(a[0][:50], b[0][:50])
    assert not np.allclose(a[0][50:], b[0][50:])


def test_forecast_damps_the_trend() -> None:
    f = smoothing.forecast(np.array([10.0, 0.0]), np.array([1.0, -2.0]), np.array([0.5, 1.0]), 3)
    np.testing.assert_allclose(f, [[10.5, 10.75, 10.875], [-2.0, -4.0, -6.0]])
    # a straight line is continued almost exactly: the least-damped grid point fits it best
    line = 3.0 + 0.5 * np.arange(30)
    p = smoothing.fit(line, np.array([0]), np.array([30]))
    level, trend = smoothing.states(line, np.array([0, 30]), p)
    ahead = smoothing.forecast(level[-1:], trend[-1:], p[:, 2], 5)[0]
    assert p[0, 2] == max(smoothing.PHIS)
    np.testing.assert_allclose(ahead, 3.0 + 0.5 * np.arange(30, 35), atol=0.5)


def test_theta_is_simple_smoothing_with_half_the_regression_slope_series_by_series() -> None:
    """theta_fit gives each series the SES alpha of lowest one-step error and half its least-squares slope, on
    its training part only; its states are SES levels and its forecast adds the drift per step ahead."""
    rng = np.random.default_rng(1)
    ys = [np.cumsum(rng.normal(0.5, 1.0, 50)), rng.normal(3.0, 1.0, 80), np.array([4.0])]
    y = np.concatenate(ys)
    starts = np.array([0, 50, 130, 131])
    ends = np.array([45, 130, 131])  # the first series' last 5 points are a test part: not read
    theta = smoothing.theta_fit(y, starts[:-1], ends)
    for s, part in enumerate([ys[0][:45], ys[1], ys[2]]):
        slope = np.polyfit(np.arange(len(part)), part, 1)[0] if len(part) > 1 else 0.0
        assert theta[s, 1] == pytest.approx(slope / 2)
        sse = [_reference(part, a, 0.0, 0.0)[2] for a in smoothing.ALPHAS]
        assert theta[s, 0] == smoothing.ALPHAS[int(np.argmin(sse))]
    changed = y.copy()
    changed[45:50] += 100.0
    np.testing.assert_array_equal(smoothing.theta_fit(changed, starts[:-1], ends), theta)
    level, _ = smoothing.states(y, starts, smoothing.theta_params(theta))
    np.testing.assert_allclose(level[129], _reference(ys[1], theta[1, 0], 0.0, 0.0)[0][-1])
    ahead = smoothing.theta_forecast(level[[129]], theta[[1]], 3)[0]
    np.testing.assert_allclose(ahead, level[129] + theta[1, 1] * (np.arange(3) + 1 / theta[1, 0]))
