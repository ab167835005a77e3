from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmcast.data import future_times, season_phase
from lstmcast.scaling import SEASON_DECAY, Scaler, detect_period, season_test, seasonal_indices


def _seasonal(n: int, m: int, seed: int = 0, growth: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    pattern = np.sin(2 * np.pi * t / m) + 0.5 * np.cos(4 * np.pi * t / m)
    return (10.0 + growth * t) * np.exp(0.2 * pattern + rng.normal(0, 0.01, n))


def test_log_and_season_round_trip() -> None:
    y = np.concatenate([_seasonal(60, 12, growth=0.5), -5.0 + np.arange(40.0)])  # positive, then not positive
    starts = np.array([0, 60, 100])
    phase = np.concatenate([np.arange(60) % 12, np.arange(40) % 12])
    sc = Scaler("standard").fit(y, starts, np.array([48, 90]), phase=phase, m=12, log="auto", deseason=True)
    assert sc.log.tolist() == [True, False]
    sid = np.repeat([0, 1], [60, 40])
    np.testing.assert_allclose(sc.inverse_transform(sc.transform(y, sid, phase), sid, phase), y, rtol=1e-12)
    back = Scaler.from_dict(sc.to_dict())
    np.testing.assert_allclose(back.transform(y, sid, phase), sc.transform(y, sid, phase))
    np.testing.assert_allclose(back.select(np.array([1])).season, sc.season[1:])


def test_seasonal_indices_recover_the_pattern_from_training_points_only() -> None:
    m, n = 4, 80
    pattern = np.array([3.0, -1.0, 0.5, -2.5])
    y = 50.0 + 0.1 * np.arange(n) + pattern[np.arange(n) % m]
    starts, ends = np.array([0, n]), np.array([60])
    idx = seasonal_indices(y, starts, ends, np.arange(n), m)
    np.testing.assert_allclose(idx[0], pattern, atol=1e-9)
    later = y.copy()
    later[60:] += 1000.0 * np.arange(20)  # the test part may be anything
    np.testing.assert_allclose(seasonal_indices(later, starts, ends, np.arange(n), m), idx)


def test_season_test_and_period_detection() -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(size=120)
    y = np.concatenate([_seasonal(120, 12), noise])
    starts = np.array([0, 120, 240])
    assert season_test(y, starts, np.array([120, 240]), np.arange(240) % 12, 12).tolist() == [True, False]
    assert seasonal_indices(y, starts, np.array([120, 240]), np.arange(240) % 12, 12)[1].tolist() == [0.0] * 12
    t = np.arange(400)
    assert detect_period(np.sin(2 * np.pi * t / 80) + rng.normal(0, 0.05, 400)) == 80
    assert detect_period(noise) is None
    assert detect_period(np.arange(50.0)) is None  # a trend is not a cycle


def test_cycles_of_many_series_match_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """cycles() finds each series' cycle as detect_period does alone, in batches of similar length."""
    import lstmcast.scaling as scaling

    rng = np.random.default_rng(4)
    parts = [np.sin(2 * np.pi * np.arange(n) / p) + rng.normal(0, 0.2, n)
             for n, p in zip(rng.integers(5, 300, 60), rng.integers(3, 40, 60))] + [rng.normal(size=200)]
    starts = np.concatenate([[0], np.cumsum([len(p) for p in parts])])
    alone = [detect_period(p) or 0 for p in parts]
    y = np.concatenate(parts)
    assert scaling.cycles(y, starts[:-1], starts[1:]).tolist() == alone
    assert sum(k > 0 for k in alone) > 30 and alone[-1] == 0
    monkeypatch.setattr(scaling, "CYCLE_BATCH", 500)  # many small batches
    assert scaling.cycles(y, starts[:-1], starts[1:]).tolist() == alone


def test_season_phase_follows_the_calendar_into_the_future() -> None:
    months = pd.date_range("2020-03-01", periods=30, freq="MS").to_numpy()
    phase = season_phase(months, "MS", True, 12)
    assert phase[:3].tolist() == [2, 3, 4]  # March is position 2 of the year wherever the series starts
    fut = future_times(months[-1], 5, "MS", True)
    np.testing.assert_array_equal(season_phase(fut, "MS", True, 12), (phase[-1] + 1 + np.arange(5)) % 12)
    hours = pd.date_range("2024-01-01 05:00", periods=50, freq="h").to_numpy()
    assert season_phase(hours, "h", True, 24)[:2].tolist() == [5, 6]
    assert season_phase(np.arange(10.0) * 2, "2", False, 4).tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]


def test_seasonal_indices_follow_a_pattern_that_drifts() -> None:
    """A pattern that changed form 5 seasons before the end: the indices lean to the new form (recent
    seasons weigh SEASON_DECAY per season back), where an equal-weight average sits halfway."""
    m, n = 4, 120
    old, new = np.array([3.0, -1.0, 0.5, -2.5]), np.array([-2.0, 2.0, 1.0, -1.0])
    t = np.arange(n)
    y = 50.0 + np.where(t < n - 5 * m, old[t % m], new[t % m])
    idx = seasonal_indices(y, np.array([0, n]), np.array([n]), t, m)[0]
    assert np.abs(idx - new).max() < 0.5 * np.abs(old - new).max()
    w = SEASON_DECAY ** np.arange(n // m)  # weights of the seasons, latest first: the new form's share
    assert 0.5 < w[:5].sum() / w.sum() < 0.8


def test_season_decay_is_chosen_from_the_cycles() -> None:
    """A steady pattern under noise wants a long memory (the average of many cycles); one that drifts a
    little every cycle wants a short one: each alone gets its own, and the indices follow. A panel of the
    two shares one decay (the one best relative to each series' own best)."""
    m, cycles = 4, 30
    n = m * cycles
    t = np.arange(n)
    rng = np.random.default_rng(1)
    base = np.array([3.0, -1.0, 0.5, -2.5])
    steady = 50.0 + base[t % m] + rng.normal(0, 0.8, n)
    drift = np.linspace(0, 1, cycles)[t // m]  # the pattern turns from `base` into its mirror image
    drifting = 50.0 + ((1 - 2 * drift) * base[t % m]) + rng.normal(0, 0.05, n)
    y = np.concatenate([steady, drifting])
    starts, ends = np.array([0, n, 2 * n]), np.array([n, 2 * n])
    phase = np.concatenate([t, t])
    from lstmcast.scaling import _centred_ma, season_decay

    def decays(v: np.ndarray, k: int) -> np.ndarray:
        st, en = np.arange(k + 1) * n, np.arange(1, k + 1) * n
        ma, ok = _centred_ma(v, st[:-1], en, m)
        sid = np.repeat(np.arange(k), n)
        back = (en[sid] - 1 - np.arange(k * n))[ok] // m
        return season_decay((v - ma)[ok], sid[ok] * m + phase[: k * n][ok] % m, back, sid[ok], k, m)

    assert decays(steady, 1)[0] >= 0.9 and decays(drifting, 1)[0] <= 0.65
    shared = decays(y, 2)
    assert shared[0] == shared[1] and shared[0] in (0.5, 0.65, 0.8, 0.9, 1.0)
    idx = seasonal_indices(drifting, starts[:2], ends[:1], t, m)
    # the drifting series' indices sit near its latest form (-base), far from the all-cycle average (0)
    assert np.abs(idx[0] + base).max() < 0.35 * np.abs(base).max()
    assert np.abs(seasonal_indices(steady, starts[:2], ends[:1], t, m)[0] - base).max() < 0.3


def test_a_constant_training_part_forecasts_its_level_whatever_the_network_adds() -> None:
    """A series of 7s: the network's small output errors around "no change" must not reach the forecast."""
    y = np.concatenate([np.full(40, 7.0), np.full(30, -3.0)])
    starts = np.array([0, 40, 70])
    sc = Scaler("standard").fit(y, starts, np.array([36, 67]), log="auto")
    sid = np.repeat([0, 1], [40, 30])
    np.testing.assert_array_equal(sc.transform(y, sid), np.zeros(70))
    off = sc.inverse_transform(np.full(70, 0.01), sid)  # a network 0.01 off in scaled units
    np.testing.assert_allclose(off, y, rtol=1e-7)
    np.testing.assert_allclose(sc.inverse_transform(sc.transform(y + 0.5, sid), sid), y + 0.5)  # new levels round-trip
    # a series of zeros: exactly 0, not 1e-9 (an sMAPE of 200% against the actual 0); a varying series is untouched
    z = np.concatenate([np.zeros(40), np.arange(30.0)])
    sc = Scaler("standard").fit(z, starts, np.array([36, 67]), log="auto")
    out = sc.inverse_transform(np.full(70, 0.003), sid)
    assert (out[:40] == 0.0).all() and (out[40:] != sc.inverse_transform(np.zeros(70), sid)[40:]).all()


def _hourly(weeks: int, weekly: float, seed: int = 0) -> pd.DataFrame:
    """Hourly load: a daily shape, lower at weekends by `weekly`, and noise."""
    t = pd.date_range("2024-01-01", periods=weeks * 168, freq="h")
    rng = np.random.default_rng(seed)
    day = 10 * np.sin(2 * np.pi * t.hour / 24)
    weekend = np.where(t.day_of_week >= 5, -weekly, 0.0)
    return pd.DataFrame({"date": t, "y": 100 + day + weekend + rng.normal(0, 1, len(t))})


def test_a_weekly_cycle_left_in_sub_daily_data_becomes_the_season() -> None:
    """Hourly data whose weekends differ get hour-of-week indices (168), with a note; without a weekly pattern,
    with --season-length, or on daily data, the season stays the calendar's."""
    from lstmcast.data import panel_from_frame
    from lstmcast.prepare import prepare

    from .conftest import tiny_config

    cfg = tiny_config(horizon=24, n_prev=None)
    weekly = prepare(panel_from_frame(_hourly(8, 15.0), "y", "date"), cfg)
    assert weekly.season_length == 168
    assert ("the series still cycle weekly after removing the daily season (24 steps); using a week (168 steps) "
            "as the season (set --season-length to choose)") in weekly.notes
    assert weekly.ets is not None  # nothing cycles once the week is removed: the smoothing joins
    n = int(weekly.train_ends[0])
    z = weekly.target[:n]
    assert abs(np.corrcoef(z[:-168], z[168:])[0, 1]) < 0.15  # the weekend dip and the daily shape are gone
    daily = prepare(panel_from_frame(_hourly(8, 0.0), "y", "date"), cfg)
    assert daily.season_length == 24 and not any("weekly" in note for note in daily.notes)
    given = prepare(panel_from_frame(_hourly(8, 15.0), "y", "date"), tiny_config(horizon=24, season_length=24))
    assert given.season_length == 24 and given.ets is None  # the weekly cycle is left: no smoothing
    z = given.target[:n]
    assert np.corrcoef(z[:-168], z[168:])[0, 1] > 0.5
    days = _hourly(8, 15.0).set_index("date").resample("D").mean().reset_index()
    assert prepare(panel_from_frame(days, "y", "date"), tiny_config(horizon=7)).season_length == 7


def test_a_weekly_peak_is_found_under_a_slow_swing() -> None:
    """A year-long swing keeps the autocorrelation positive past the week, so `cycles` (which reads peaks after
    the first zero crossing) looks past it; `peaks_at` still finds the week, and a swing alone has no peak."""
    from lstmcast.scaling import cycles, peaks_at

    t = np.arange(30 * 168)
    rng = np.random.default_rng(0)
    swing = 20 * np.sin(2 * np.pi * t / (30 * 168))
    weekend = np.where((t // 24) % 7 >= 5, -6.0, 0.0)
    both, alone = swing + weekend + rng.normal(0, 1, len(t)), swing + rng.normal(0, 1, len(t))
    y = np.concatenate([both, alone])
    starts, ends = np.array([0, len(t)]), np.array([len(t), 2 * len(t)])
    assert not (np.abs(cycles(y, starts, ends) - 168) <= 3).any()
    assert peaks_at(y, starts, ends, 168).tolist() == [True, False]
    assert peaks_at(y[:400], np.array([0]), np.array([400]), 168).tolist() == [False]  # under three weeks: no test
    # and prepare takes the week as the season for such hourly data
    from lstmcast.data import panel_from_frame
    from lstmcast.prepare import prepare

    from .conftest import tiny_config

    daily = 10 * np.sin(2 * np.pi * t / 24)
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=len(t), freq="h"), "y": 100 + both + daily})
    assert prepare(panel_from_frame(frame, "y", "date"), tiny_config(horizon=24, n_prev=None)).season_length == 168


def test_season_test_finds_the_season_of_a_series_three_seasons_long() -> None:
    """36 months with a winter peak: the M4 autocorrelation test alone missed the season (its own season
    inflates the test's limit), so the series was forecast flat; the AICc test on the detrended values finds
    it. Noise still has none, and a panel gives what each series gives alone."""
    from lstmcast.scaling import _acf_test

    m = 12
    t = np.arange(3 * m)
    rng = np.random.default_rng(3)
    lung = 7.7 + 0.3 * np.cos(2 * np.pi * t / m) + rng.normal(0, 0.05, 3 * m)
    noise = rng.normal(0, 1, 120)
    y = np.concatenate([lung, noise])
    starts, ends = np.array([0, 36, 156]), np.array([36, 156])
    phase = np.concatenate([t % m, np.arange(120) % m])
    assert _acf_test(y, starts, ends, m).tolist() == [False, False]
    assert season_test(y, starts, ends, phase, m).tolist() == [True, False]
    assert season_test(lung, starts[:2], ends[:1], phase[:36], m).tolist() == [True]
    idx = seasonal_indices(y, starts, ends, phase, m)
    assert idx[0, 0] > 0.2 and idx[0, 6] < -0.2  # the winter peak and the summer trough
    assert not idx[1].any()
    # fewer than three seasons: no indices, whatever the test says
    assert not seasonal_indices(lung[:30], np.array([0, 30]), np.array([30]), t[:30] % m, m).any()


def test_a_series_never_below_zero_is_never_forecast_below_zero() -> None:
    """Counts with zeros (not logged: log needs every point positive) are floored at zero on the way back;
    a series that went negative, and `transform none`, keep what the network says."""
    counts = np.array([5.0, 3.0, 0.0, 2.0, 0.0, 1.0, 0.0, 0.0])
    signed = np.array([2.0, -1.0, 0.5, -3.0, 1.0, 0.0, -2.0, 1.0])
    positive = np.array([4.0, 5.0, 3.0, 6.0, 5.0, 4.0, 6.0, 5.0])
    y = np.concatenate([counts, signed, positive])
    starts, ends = np.array([0, 8, 16, 24]), np.array([8, 16, 24])
    sid = np.array([0, 1, 2])
    sc = Scaler("standard").fit(y, starts, ends, log="auto")
    assert sc.log.tolist() == [False, False, True] and sc.nonneg.tolist() == [True, False, True]
    low = sc.inverse_transform(np.full(3, -50.0), sid)  # far below every series' training points
    assert low[0] == 0.0 and low[1] < -20 and 0 < low[2] < positive.min()
    np.testing.assert_array_equal(sc.inverse_transform(np.zeros(3), sid), np.array([sc.loc[0], sc.loc[1], np.exp(sc.loc[2])]))
    back = Scaler.from_dict(sc.to_dict())
    assert back.nonneg.tolist() == [True, False, True] and back.select(np.array([0])).nonneg.tolist() == [True]
    # a checkpoint written before the floor existed forecasts as it did
    old = {k: v for k, v in sc.to_dict().items() if k != "nonneg"}
    assert Scaler.from_dict(old).inverse_transform(np.full(1, -50.0), np.array([0]))[0] < -20
    raw = Scaler("standard").fit(y, starts, ends, log="none")
    assert raw.nonneg.tolist() == [False, False, False]
    assert raw.inverse_transform(np.full(1, -50.0), np.array([0]))[0] < -20
