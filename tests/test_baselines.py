"""Baseline forecasts checked against hand-worked values on two short series."""

import numpy as np
import pytest

from lstmcast.baselines import BASELINES, baseline_forecasts

__all__: list[str] = []

# Series A = values[0:5] = 1..5, series B = values[5:8] = 6..8.
VALUES = np.arange(1.0, 9.0)
STARTS = np.array([0, 0, 5, 5])
ORIGINS = np.array([2, 5, 6, 8])  # histories [1,2], [1..5], [6], [6,7,8]


def test_all_baselines_present_with_shape() -> None:
    """Every name in BASELINES comes back as (K, H)."""
    out = baseline_forecasts(VALUES, STARTS, ORIGINS, horizon=4, season_length=3)
    assert tuple(out) == BASELINES
    for arr in out.values():
        assert arr.shape == (4, 4)
        assert arr.dtype == np.float64


def test_naive() -> None:
    """Last observed value repeated."""
    out = baseline_forecasts(VALUES, STARTS, ORIGINS, horizon=4)
    expected = np.array([[2.0] * 4, [5.0] * 4, [6.0] * 4, [8.0] * 4])
    np.testing.assert_array_equal(out["naive"], expected)


def test_seasonal_naive_wraps_around() -> None:
    """m=3, H=4: step h uses values[o-3+h%3]; histories shorter than 3 fall back to naive."""
    out = baseline_forecasts(VALUES, STARTS, ORIGINS, horizon=4, season_length=3)
    expected = np.array(
        [
            [2.0, 2.0, 2.0, 2.0],  # history [1,2] < m -> naive
            [3.0, 4.0, 5.0, 3.0],  # last season 3,4,5 then wraps to 3
            [6.0, 6.0, 6.0, 6.0],  # history [6] < m -> naive
            [6.0, 7.0, 8.0, 6.0],  # history exactly m long
        ]
    )
    np.testing.assert_array_equal(out["seasonal_naive"], expected)


def test_seasonal_naive_m1_equals_naive() -> None:
    """With m = 1 the last season is the last value."""
    out = baseline_forecasts(VALUES, STARTS, ORIGINS, horizon=3, season_length=1)
    np.testing.assert_array_equal(out["seasonal_naive"], out["naive"])


def test_drift() -> None:
    """last + (h+1) * (last - first) / (n - 1); one-point history -> naive."""
    out = baseline_forecasts(VALUES, STARTS, ORIGINS, horizon=4)
    expected = np.array(
        [
            [3.0, 4.0, 5.0, 6.0],
            [6.0, 7.0, 8.0, 9.0],
            [6.0, 6.0, 6.0, 6.0],
            [9.0, 10.0, 11.0, 12.0],
        ]
    )
    np.testing.assert_array_equal(out["drift"], expected)
    # Non-linear history [2, 10, 4]: slope (4 - 2) / 2 = 1, the middle point is ignored.
    bumpy = baseline_forecasts(np.array([2.0, 10.0, 4.0]), np.array([0]), np.array([3]), horizon=2)
    np.testing.assert_allclose(bumpy["drift"], [[5.0, 6.0]])


def test_mean() -> None:
    """Mean of the whole history of each origin."""
    out = baseline_forecasts(VALUES, STARTS, ORIGINS, horizon=2)
    np.testing.assert_allclose(out["mean"], [[1.5, 1.5], [3.0, 3.0], [6.0, 6.0], [7.0, 7.0]])


def test_nan_stays_in_its_own_history() -> None:
    """A NaN in series A makes A's mean NaN but must not leak into series B's prefix sums."""
    values = np.array([1.0, np.nan, 3.0, 4.0, 5.0])
    out = baseline_forecasts(values, np.array([0, 2]), np.array([2, 5]), horizon=1)
    assert np.isnan(out["mean"][0, 0])
    assert out["mean"][1, 0] == pytest.approx(4.0)


def test_origin_at_end_of_data() -> None:
    """Forecasting past the data (origin == N) is allowed."""
    out = baseline_forecasts(VALUES, np.array([5]), np.array([8]), horizon=2)
    np.testing.assert_array_equal(out["naive"], [[8.0, 8.0]])


def test_no_origins() -> None:
    """Zero origins give empty (0, H) arrays."""
    out = baseline_forecasts(VALUES, np.array([], dtype=int), np.array([], dtype=int), horizon=3)
    assert all(arr.shape == (0, 3) for arr in out.values())


@pytest.mark.parametrize(
    ("starts", "origins", "horizon", "season", "match"),
    [
        ([0], [0], 2, 1, "origins > starts"),
        ([3], [2], 2, 1, "origins > starts"),
        ([0], [2], 0, 1, "horizon"),
        ([0], [2], 2, 0, "season_length"),
        ([0], [9], 2, 1, "len\\(values\\)"),
        ([0, 0], [2], 2, 1, "same length"),
        ([-1], [2], 2, 1, "starts must be >= 0"),
        ([0.5], [2], 2, 1, "integer"),
    ],
)
def test_validation(
    starts: list[float], origins: list[int], horizon: int, season: int, match: str
) -> None:
    """Bad inputs raise ValueError naming the problem."""
    with pytest.raises(ValueError, match=match):
        baseline_forecasts(VALUES, np.array(starts), np.array(origins), horizon, season)
