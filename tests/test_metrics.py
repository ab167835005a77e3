"""Metrics checked against numbers worked out by hand on tiny arrays."""

import math
from statistics import NormalDist

import numpy as np
import pytest
import torch

from lstmcast.losses import make_loss
from lstmcast.metrics import (
    crps_from_quantiles,
    crps_gaussian,
    interval_coverage,
    interval_width,
    mase,
    mask_unobserved,
    pinball_loss,
    point_metrics,
    probabilistic_metrics,
    quantile_function,
    seasonal_naive_scale,
)

__all__: list[str] = []


def test_point_metrics_by_hand() -> None:
    """actual [1,2,3], pred [2,2,5]: errors -1, 0, -2."""
    m = point_metrics(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 5.0]))
    assert m["mse"] == pytest.approx(5 / 3)
    assert m["rmse"] == pytest.approx(math.sqrt(5 / 3))
    assert m["mae"] == pytest.approx(1.0)
    # sMAPE terms: 200*1/3, 0, 200*2/8 = 50 -> mean 350/9
    assert m["smape"] == pytest.approx(350 / 9)


def test_smape_zero_pairs_count_as_zero() -> None:
    """|a|+|p| == 0 is a perfect forecast, not 0/0."""
    assert point_metrics(np.array([0.0, 1.0]), np.array([0.0, 1.0]))["smape"] == 0.0
    # terms 0 and 200*2/2 = 200 -> 100
    assert point_metrics(np.array([0.0, 0.0]), np.array([0.0, 2.0]))["smape"] == pytest.approx(100.0)
    # Opposite signs give the 200 maximum.
    assert point_metrics(np.array([1.0]), np.array([-1.0]))["smape"] == pytest.approx(200.0)


def test_point_metrics_ignores_nan_pairs() -> None:
    """Only the (1, 2) pair survives."""
    m = point_metrics(np.array([1.0, np.nan, 3.0]), np.array([2.0, 5.0, np.nan]))
    assert m == pytest.approx({"mse": 1.0, "rmse": 1.0, "mae": 1.0, "smape": 200 / 3})
    empty = point_metrics(np.array([np.nan]), np.array([1.0]))
    assert all(math.isnan(v) for v in empty.values())


def test_point_metrics_2d() -> None:
    """(K, H) arrays are averaged over every entry."""
    m = point_metrics(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 8.0]]))
    assert m["mse"] == pytest.approx(4.0)
    assert m["mae"] == pytest.approx(1.0)


def test_seasonal_naive_scale() -> None:
    """train [1,3,2,5,4]: lag-1 diffs 2,1,3,1; lag-2 diffs 1,2,2."""
    train = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    assert seasonal_naive_scale(train, 1) == pytest.approx(7 / 4)
    assert seasonal_naive_scale(train, 2) == pytest.approx(5 / 3)
    assert math.isnan(seasonal_naive_scale(np.array([1.0, 2.0]), 2))
    assert math.isnan(seasonal_naive_scale(np.array([]), 1))
    with pytest.raises(ValueError):
        seasonal_naive_scale(train, 0)


def test_mase_scalar_and_per_row_scale() -> None:
    """Scaled errors per row: row0 |a-p| = 1,0 / 0.5; row1 |a-p| = 0,2 / 2."""
    actual = np.array([[1.0, 2.0], [3.0, 4.0]])
    pred = np.array([[2.0, 2.0], [3.0, 6.0]])
    assert mase(actual, pred, 2.0) == pytest.approx(3 / 4 / 2)
    # row0 -> 2, 0; row1 -> 0, 1; mean 3/4
    assert mase(actual, pred, np.array([0.5, 2.0])) == pytest.approx(0.75)
    # Zero and NaN scales drop their row: only row0 (2, 0) remains.
    assert mase(actual, pred, np.array([0.5, 0.0])) == pytest.approx(1.0)
    assert mase(actual, pred, np.array([0.5, np.nan])) == pytest.approx(1.0)
    assert math.isnan(mase(actual, pred, np.array([0.0, np.nan])))
    assert math.isnan(mase(actual, pred, 0.0))
    with pytest.raises(ValueError):
        mase(actual, pred, np.array([1.0, 2.0, 3.0]))


def test_pinball_by_hand() -> None:
    """Levels 0.1/0.5/0.9; row0 a=1, p=(0,1,2) -> 0.1,0,0.1; row1 a=1, p=(3,0,0) -> 1.8,0.5,0.9."""
    q = (0.1, 0.5, 0.9)
    actual = np.array([1.0, 1.0])
    qpred = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]])
    assert pinball_loss(actual[:1], qpred[:1], q) == pytest.approx(0.2 / 3)
    assert pinball_loss(actual[1:], qpred[1:], q) == pytest.approx(3.2 / 3)
    assert pinball_loss(actual, qpred, q) == pytest.approx(3.4 / 6)
    with pytest.raises(ValueError):
        pinball_loss(actual, qpred, (0.1, 0.9))


def test_crps_of_perfect_forecast_is_zero() -> None:
    """Every quantile equal to the actual costs nothing."""
    actual = np.array([[1.0, -2.0], [3.5, 0.0]])
    qpred = np.repeat(actual[..., None], 3, axis=-1)
    assert crps_from_quantiles(actual, qpred, (0.1, 0.5, 0.9)) == 0.0


def test_coverage_and_width() -> None:
    """1 in [0,2], 2 not in [2.5,3], 3 in [3,3] (closed), 4 not in [0,3]; widths 2, .5, 0, 3."""
    actual = np.array([1.0, 2.0, 3.0, 4.0])
    lo = np.array([0.0, 2.5, 3.0, 0.0])
    hi = np.array([2.0, 3.0, 3.0, 3.0])
    assert interval_coverage(actual, lo, hi) == pytest.approx(0.5)
    assert interval_width(lo, hi) == pytest.approx(5.5 / 4)


def test_probabilistic_metrics_keys_and_values() -> None:
    """Pairs (0.1, 0.9) -> *_80 and (0.25, 0.75) -> *_50; the unpaired 0.5 adds nothing."""
    q = (0.1, 0.25, 0.5, 0.75, 0.9)
    actual = np.array([0.0, 10.0])
    qpred = np.array([[-2.0, -1.0, 0.0, 1.0, 2.0], [-2.0, -1.0, 0.0, 1.0, 2.0]])
    out = probabilistic_metrics(actual, qpred, q)
    assert set(out) == {"pinball", "crps", "coverage_80", "width_80", "coverage_50", "width_50"}
    assert out["coverage_80"] == pytest.approx(0.5)
    assert out["width_80"] == pytest.approx(4.0)
    assert out["coverage_50"] == pytest.approx(0.5)
    assert out["width_50"] == pytest.approx(2.0)
    assert out["crps"] == pytest.approx(crps_from_quantiles(actual, qpred, q))
    # 1 - 0.95 is 0.05000000000000004 in floats; the pair must still be found.
    out90 = probabilistic_metrics(actual, qpred[:, [0, 2, 4]], (0.05, 0.5, 0.95))
    assert "coverage_90" in out90 and "width_90" in out90


def test_crps_gaussian_matches_monte_carlo() -> None:
    """Closed form vs E|X - y| - E|X - X'|/2 from 10^6 draws of N(mu, sigma), within 1%."""
    rng = np.random.default_rng(0)
    for mu, sigma, y in [(0.0, 1.0, 0.0), (2.0, 0.5, 3.1), (-1.0, 3.0, -7.0)]:
        x, x2 = rng.normal(mu, sigma, (2, 1_000_000))
        mc = np.mean(np.abs(x - y)) - 0.5 * np.mean(np.abs(x - x2))
        assert crps_gaussian(np.array([y]), np.array([mu]), np.array([sigma])) == pytest.approx(mc, rel=0.01)
    # y = mu: sigma * (2 phi(0) - 1/sqrt(pi)); NaN actuals are ignored; sigma 0 is the absolute error
    assert crps_gaussian(np.array([0.0, np.nan]), 0.0, 1.0) == pytest.approx(2 / math.sqrt(2 * math.pi) - 1 / math.sqrt(math.pi))
    assert crps_gaussian(np.array([3.0]), 1.0, 0.0) == pytest.approx(2.0)


def test_quantile_grid_crps_of_exact_normal_quantiles() -> None:
    """Exact N(0,1) quantiles at 19 levels .05...95: the grid CRPS (tails extrapolated past .05/.95) is
    within 2% of the closed form at every y (2 * mean pinball over the 19 levels was 4-5% high)."""
    ys = np.array([-2.5, -1.0, 0.0, 0.3, 1.7])
    closed = np.array([crps_gaussian(np.array([y]), 0.0, 1.0) for y in ys])
    levels = np.arange(1, 20) / 20
    qp = np.broadcast_to([NormalDist().inv_cdf(q) for q in levels], (len(ys), len(levels)))
    grid = np.array([crps_from_quantiles(ys[i:i + 1], qp[i:i + 1], levels) for i in range(len(ys))])
    np.testing.assert_allclose(grid, closed, rtol=0.02)


def test_quantile_function_matches_the_loss() -> None:
    """metrics' numpy quantile function is the one QuantileLoss samples from (tails included)."""
    levels = (0.1, 0.3, 0.5, 0.9)
    loss = make_loss("quantile", levels)
    params = loss.link(torch.randn(5, 2, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    u = [0.001, 0.05, 0.1, 0.2, 0.5, 0.7, 0.9, 0.97, 0.999]
    np.testing.assert_allclose(quantile_function(params.numpy(), levels, u), loss.quantiles(params, u).numpy())


def test_probabilistic_metrics_gaussian_uses_the_closed_form() -> None:
    """gaussian=True recovers N(mu, sigma) from the outer pair and scores it exactly; False uses the grid."""
    levels = (0.1, 0.5, 0.9)
    z = np.array([NormalDist().inv_cdf(q) for q in levels])
    actual = np.array([0.0, 4.0])
    qpred = np.array([1.0 + 2.0 * z, -1.0 + 0.5 * z])  # N(1, 2) and N(-1, 0.5)
    exact = crps_gaussian(actual, np.array([1.0, -1.0]), np.array([2.0, 0.5]))
    assert probabilistic_metrics(actual, qpred, levels, gaussian=True)["crps"] == pytest.approx(exact, rel=1e-9)
    mixed = probabilistic_metrics(actual, qpred, levels, gaussian=np.array([True, False]))["crps"]
    assert mixed == pytest.approx((crps_gaussian(actual[:1], 1.0, 2.0) + crps_from_quantiles(actual[1:], qpred[1:], levels)) / 2)


def test_unobserved_actuals_are_not_scored() -> None:
    """mask_unobserved NaNs the imputed actuals; every metric then averages over the other 9 of 10."""
    actual = np.arange(10.0)
    pred = actual + 1.0
    pred[4] = 100.0  # the forecast at the imputed point would dominate every score
    observed = np.ones(10, bool)
    observed[4] = False
    a = mask_unobserved(actual, observed)
    assert np.isnan(a[4]) and np.isnan(a).sum() == 1 and actual[4] == 4.0
    assert point_metrics(a, pred)["mae"] == pytest.approx(1.0)
    assert mase(a, pred, 2.0) == pytest.approx(0.5)
    q = np.stack([pred - 1.0, pred, pred + 1.0], axis=-1)
    out = probabilistic_metrics(a, q, (0.1, 0.5, 0.9))
    assert out["coverage_80"] == 1.0
    assert out["pinball"] == pytest.approx(pinball_loss(actual[observed], q[observed], (0.1, 0.5, 0.9)))
    assert out["crps"] == pytest.approx(crps_from_quantiles(actual[observed], q[observed], (0.1, 0.5, 0.9)))
