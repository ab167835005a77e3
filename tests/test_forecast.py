"""Forecast features: calendar known ahead, past covariates, --n-prev auto, probabilistic outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmcast.data import load_panel, panel_from_frame
from lstmcast.errors import LstmcastError
from lstmcast.features import calendar_features, calendar_names
from lstmcast.forecast import forecast_future, interval_columns, predict_at
from lstmcast.run import evaluate
from lstmcast.train import fit, prepare
from tests.conftest import tiny_config


def test_calendar_encodings_by_hand() -> None:
    t = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 06:00", "2024-01-03 12:00"]).to_numpy()  # Monday
    f = calendar_features(t, "h", True)
    assert calendar_names("h")[:4] == ["hour_sin", "hour_cos", "dayofweek_sin", "dayofweek_cos"]
    np.testing.assert_allclose(f[:, 0], [0.0, 1.0, 0.0], atol=1e-6)  # hour 0, 6, 12 of 24
    np.testing.assert_allclose(f[:, 1], [1.0, 0.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(f[:, 2], [0.0, 0.0, np.sin(2 * np.pi * 2 / 7)], atol=1e-6)  # Mon, Mon, Wed
    assert calendar_names("MS") == ["month_sin", "month_cos"]
    with pytest.raises(LstmcastError, match=r"--calendar needs a datetime time column"):
        calendar_features(np.arange(3.0), "1", False)


def test_calendar_is_computed_for_future_timestamps(daily_csv: Path) -> None:
    fitted = fit(load_panel(daily_csv, column="sales"), tiny_config(calendar=True, epochs=1, horizon=3))
    assert "dayofweek_sin" in fitted.prep.input_names and fitted.model.n_future == 4
    times, point, _ = forecast_future(fitted, 10)  # past the data: calendar from future dates only
    assert pd.Timestamp(times[0, 0]) == pd.Timestamp("2024-06-29") and point.shape == (1, 10)
    assert np.isfinite(point).all()


def test_past_features_limit_the_horizon(daily_csv: Path) -> None:
    fitted = fit(load_panel(daily_csv, column="sales", features=["temp"]), tiny_config(epochs=1, horizon=3))
    assert fitted.prep.input_names == ["sales", "temp"]
    assert forecast_future(fitted, 3)[1].shape == (1, 3)
    with pytest.raises(LstmcastError, match=r"uses past --features, so it can forecast at most 3 steps"):
        forecast_future(fitted, 5)
    with pytest.raises(LstmcastError, match=r"--strategy recursive cannot forecast past one step with --features"):
        prepare(load_panel(daily_csv, column="sales", features=["temp"]),
                tiny_config(horizon=3, strategy="recursive"))


def test_n_prev_auto_uses_the_season(daily_csv: Path) -> None:
    prep = prepare(load_panel(daily_csv, column="sales"), tiny_config(n_prev=None))
    assert prep.n_prev == 21 and prep.season_length == 7
    assert "a window of 21 steps (--n-prev auto)" in prep.notes


def test_a_season_found_in_the_data_reads_no_test_point() -> None:
    """Without a calendar the season is searched for in the autocorrelation of the training part only: a cycle
    that starts in the test part (here the second half, --test-size 0.5, or after a backtest fold's origin) must
    neither set the season nor change the evaluation model (it did: the search read the first 90%)."""
    rng = np.random.default_rng(0)
    t = np.arange(240)
    walk = np.cumsum(rng.normal(0, 0.2, 240)) + 10
    cycle = walk + np.where(t >= 120, 5 * np.sin(2 * np.pi * t / 10), 0)  # the first 120 points are the same
    for values in (walk, cycle):
        panel = panel_from_frame(pd.DataFrame({"y": values}))
        assert prepare(panel, tiny_config(test_size=0.5)).season_length is None
        assert prepare(panel, tiny_config(), n_train=np.array([120])).season_length is None
    seen = prepare(panel_from_frame(pd.DataFrame({"y": cycle})), tiny_config(test_size=0.05))  # trained on it
    assert seen.season_length == 10 and any("found a cycle of 10 steps" in n for n in seen.notes)
    with pytest.raises(LstmcastError, match=r"^--season-length 241 is longer than the longest series \(240 points\); "
                                            r"a season must repeat within the data$"):
        prepare(panel_from_frame(pd.DataFrame({"y": cycle})), tiny_config(season_length=241))


def test_interval_column_names() -> None:
    assert interval_columns("forecast", [0.1, 0.5, 0.9]) == [("forecast_lo_80", 0), ("forecast_hi_80", 2)]
    assert interval_columns("f", [0.05, 0.25, 0.5, 0.75, 0.95]) == [
        ("f_lo_90", 0), ("f_lo_50", 1), ("f_hi_50", 3), ("f_hi_90", 4)]
    assert interval_columns("f", [0.2, 0.5]) == [("f_q20", 0)]


@pytest.mark.parametrize("loss", ["quantile", "gaussian"])
def test_probabilistic_outputs_are_ordered(sine_csv: Path, loss: str) -> None:
    fitted = fit(load_panel(sine_csv), tiny_config(loss=loss, horizon=2, epochs=1))
    df, m = evaluate(fitted)
    assert {"predicted_lo_80", "predicted_hi_80"} <= set(df.columns)
    assert (df["predicted_lo_80"] <= df["predicted"] + 1e-9).all() and (df["predicted"] <= df["predicted_hi_80"] + 1e-9).all()
    assert {"pinball", "crps", "coverage_80", "width_80"} <= set(m["model"])
    # recursive past the trained horizon samples paths: intervals widen, not collapse
    _, point, q = forecast_future(fitted, 8, samples=50)
    assert q is not None and q.shape == (1, 8, 3) and (q[..., 0] <= q[..., 2]).all()


def test_80_percent_interval_covers_about_80_percent() -> None:
    """iid N(0, 1) noise: the 80% interval should be about +-1.28. On 250 held-out points the
    binomial standard error of the coverage is 0.025; we accept 0.70..0.90 (4 standard errors)."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"t": np.arange(2500), "y": rng.normal(0, 1, 2500)})
    cfg = tiny_config(loss="quantile", epochs=6, optimizer="adam", lr=0.01, n_prev=5, batch_size=128)
    fitted = fit(panel_from_frame(df), cfg)
    _, m = evaluate(fitted)
    assert 0.70 <= m["model"]["coverage_80"] <= 0.90, m["model"]
    assert 1.9 <= m["model"]["width_80"] <= 3.3  # 2 * 1.2816 = 2.56 for a perfect model


@pytest.mark.parametrize("loss", ["quantile", "gaussian"])
def test_recursive_80_percent_interval_covers_about_80_percent(loss: str) -> None:
    """iid N(0, 1): a one-step model forecasting 3 steps recursively samples paths, and on iid data every
    step's 80% band should still cover about 80%. ~2700 targets (900 points); we accept 0.72..0.88.
    Sampling the quantile model only between its outer levels covered ~0.68 here."""
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"t": np.arange(3000), "y": rng.normal(0, 1, 3000)})
    cfg = tiny_config(loss=loss, epochs=10, optimizer="adam", lr=0.01, n_prev=5, batch_size=128, horizon=3,
                      strategy="recursive", test_size=0.3)
    fitted = fit(panel_from_frame(df), cfg)
    assert fitted.config.model_horizon == 1
    _, m = evaluate(fitted, samples=100)
    assert 0.72 <= m["model"]["coverage_80"] <= 0.88, m["model"]


def test_direct_block_recursion_matches_single_pass(sine_csv: Path) -> None:
    fitted = fit(load_panel(sine_csv), tiny_config(horizon=4, epochs=1))
    origins = np.array([120])
    four = predict_at(fitted, origins, 4)[0]
    eight = predict_at(fitted, origins, 8)[0]
    np.testing.assert_allclose(eight[:, :4], four, rtol=1e-5)  # the first block is the direct forecast



@pytest.mark.parametrize("loss", ["gaussian", "quantile"])
def test_a_probabilistic_direct_block_is_the_same_however_far_the_forecast_goes(sine_csv: Path, loss: str) -> None:
    """Past the horizon a probabilistic model samples paths; the first block used to be read off those samples too,
    so asking for 5 steps of a 4-step model moved the first 4 (an 80% bound by 2% of the level)."""
    fitted = fit(load_panel(sine_csv), tiny_config(horizon=4, epochs=1, loss=loss))
    _, p4, q4 = forecast_future(fitted, 4, samples=50)
    _, p9, q9 = forecast_future(fitted, 9, samples=50)
    np.testing.assert_allclose(p9[:, :4], p4, rtol=1e-6)  # float32 in a batch of 50 paths rather than of 1
    np.testing.assert_allclose(q9[:, :4], q4, rtol=1e-6)
    assert (np.diff(q9[:, 4:], axis=-1) >= 0).all()  # the sampled steps still give ordered quantiles


def test_season_anchor_makes_an_untrained_model_seasonal_naive() -> None:
    import torch

    from lstmcast.model import Forecaster

    m = Forecaster(n_inputs=1, hidden=4, layers=1, dropout=0.0, cell="lstm", horizon=5, level_outputs=(True,),
                   level="season", season=3)
    torch.nn.init.zeros_(m.head.weight)
    torch.nn.init.zeros_(m.head.bias)
    x = torch.arange(8.0).view(1, 8, 1)  # window 0..7; season 3 -> the last season is 5, 6, 7
    assert m(x)[0, :, 0].tolist() == [5.0, 6.0, 7.0, 5.0, 6.0]
    m.level = "last"
    assert m(x)[0, :, 0].tolist() == [7.0] * 5


def test_calendar_default_is_on_for_sub_daily_only(tmp_path: Path, daily_csv: Path) -> None:
    from lstmcast.train import use_calendar

    hourly = panel_from_frame(pd.DataFrame({"time": pd.date_range("2024-01-01", periods=50, freq="h"),
                                            "y": np.arange(50.0)}))
    daily = load_panel(daily_csv, column="sales")
    assert use_calendar(tiny_config(), hourly) and not use_calendar(tiny_config(), daily)
    assert not use_calendar(tiny_config(calendar=False), hourly) and use_calendar(tiny_config(calendar=True), daily)


def test_recursive_sine_forecast_does_not_drift(tmp_path: Path) -> None:
    """The cycle is found without a calendar, removed, and 100 recursive steps stay on the clean sine."""
    from lstmcast.data import generate_sine, panel_from_frame

    panel = panel_from_frame(generate_sine(steps_per_cycle=20, cycles=20, noise=0.05, seed=0))
    fitted = fit(panel, tiny_config(n_prev=None, hidden=16, epochs=10))
    assert fitted.prep.season_length == 20 and fitted.prep.scaler.season.shape == (1, 20)
    times, point, _ = forecast_future(fitted, 100)
    clean = np.sin(2 * np.pi * times[0] / 20)
    assert np.sqrt(np.mean((point[0] - clean) ** 2)) < 0.2


def test_new_rows_are_read_day_first_like_the_training_dates(tmp_path: Path) -> None:
    """A few rows of 01/03/2017, 01/04/2017, ... fit both readings and both look regular (days of January,
    or months); the model's training data settles it: its dates were read day first."""
    from lstmcast.run import predict_run, train_run

    months = pd.date_range("2010-01-01", periods=96, freq="MS")
    y = 10 + np.sin(2 * np.pi * np.arange(96) / 12)
    rows = [f"{d:%d/%m/%Y},{v}\n" for d, v in zip(months, y)]
    full, tail = tmp_path / "full.csv", tmp_path / "tail.csv"
    full.write_text("date,y\n" + "".join(rows))
    tail.write_text("date,y\n" + "".join(rows[-10:]))  # 01/03/2017 ... 01/12/2017
    assert load_panel(tail, "y", "date").freq == "D"  # read alone: days of January
    run = tmp_path / "run"
    train_run(full, tiny_config(time_column="date", column="y", horizon=3, n_prev=6), run)
    out = tmp_path / "fc.csv"
    predict_run(run, out, data=tail, horizon=3)
    assert pd.read_csv(out)["date"].tolist() == ["2018-01-01", "2018-02-01", "2018-03-01"]


def test_new_rows_with_integer_dates_are_read_like_the_training_dates(tmp_path: Path) -> None:
    """Two new rows 20171101, 20171201 cannot show a frequency on their own; the model was trained on dates."""
    from lstmcast.run import predict_run, train_run

    months = pd.date_range("2010-01-01", periods=96, freq="MS")
    rows = [f"{d:%Y%m%d},{10 + np.sin(2 * np.pi * i / 12)}\n" for i, d in enumerate(months)]
    full, tail = tmp_path / "full.csv", tmp_path / "tail.csv"
    full.write_text("date,y\n" + "".join(rows))
    tail.write_text("date,y\n" + "".join(rows[-2:]))
    run = tmp_path / "run"
    train_run(full, tiny_config(time_column="date", column="y", horizon=2, n_prev=2), run)
    out = tmp_path / "fc.csv"
    predict_run(run, out, data=tail, horizon=2)
    assert pd.read_csv(out)["date"].tolist() == ["2018-01-01", "2018-02-01"]


def test_forecast_is_a_third_of_the_way_to_each_smoothing(tmp_path: Path) -> None:
    """--ets averages the networks with a damped-trend smoothing of the same adjusted series, fitted on the
    training part, and (the series has no season) with the Theta method; --no-ets leaves the networks alone."""
    from dataclasses import replace

    from lstmcast import smoothing

    rng = np.random.default_rng(3)
    y = np.cumsum(rng.normal(0.2, 1.0, 150)) - 40  # negative values: no log, so the scaler is affine
    panel = panel_from_frame(pd.DataFrame({"t": np.arange(150), "y": y}), "y", "t")
    cfg = tiny_config(horizon=4, test_size=0.0, ets=True)
    fitted = fit(prepare(panel, cfg), cfg)
    prep = fitted.prep
    assert prep.ets is not None and prep.ets.shape == (1, 4) and prep.ets[0, 3] == pytest.approx(1 / 3)
    # no season: the Theta method takes another third (SES level + half the regression slope per step)
    assert prep.theta is not None and prep.theta.shape == (1, 3) and prep.theta[0, 2] == pytest.approx(1 / 3)
    z = prep.target.astype(np.float64)
    slope = np.polyfit(np.arange(len(z)), z, 1)[0]
    assert prep.theta[0, 1] == pytest.approx(slope / 2) and prep.theta[0, 0] in smoothing.ALPHAS
    _, point, _ = forecast_future(fitted, 4)
    _, alone, _ = forecast_future(replace(fitted, prep=replace(prep, ets=None, theta=None)), 4)
    level, trend = smoothing.states(prep.target, prep.panel.starts, prep.ets)
    stat = smoothing.forecast(level[-1:], trend[-1:], prep.ets[:, 2], 4) * prep.scaler.scale[0] + prep.scaler.loc[0]
    a = prep.theta[0, 0]
    ses = z[0]
    for v in z[1:]:  # simple exponential smoothing, written out
        ses += a * (v - ses)
    theta = (ses + prep.theta[0, 1] * (np.arange(1, 5) - 1 + 1 / a)) * prep.scaler.scale[0] + prep.scaler.loc[0]
    np.testing.assert_allclose(point, alone + (stat - alone) / 3 + (theta - alone) / 3, rtol=1e-6)
    assert not np.allclose(point, alone)
    assert prepare(panel, tiny_config(horizon=4, test_size=0.0, ets=False)).ets is None
    assert prepare(panel, tiny_config(horizon=4, test_size=0.0, ets=False)).theta is None


def test_smoothing_is_on_by_default_except_for_a_found_cycle_or_features(sine_csv: Path) -> None:
    """By default the smoothing joins a trending series and a calendar-seasonal one, and says so; it stays out
    of a series with a cycle found in the autocorrelation, as its season or left after the calendar season (it
    would extrapolate each swing as a trend), and of a model with --features (which it cannot read)."""
    from dataclasses import replace

    rng = np.random.default_rng(3)
    y = np.cumsum(rng.normal(0.2, 1.0, 150)) + 300
    cfg = tiny_config(horizon=4, n_prev=None)
    trend = prepare(panel_from_frame(pd.DataFrame({"t": np.arange(150), "y": y}), "y", "t"), cfg)
    assert trend.ets is not None and trend.season_length is None and trend.theta is not None
    assert any("damped-trend exponential smoothing weighs a third of the forecast, and the Theta method another "
               "third (no season)" in n for n in trend.notes)
    # a panel: per series, a cycle left after the calendar season (36 months) keeps the networks alone
    months = pd.date_range("2001-01-31", periods=200, freq="ME")
    season = 20 * np.sin(2 * np.pi * np.arange(200) / 12)
    swings = 300 + 30 * np.sin(2 * np.pi * np.arange(200) / 36) + rng.normal(0, 1, 200)
    growth = np.cumsum(rng.normal(0.2, 1.0, 200)) + 300
    frame = pd.concat([pd.DataFrame({"id": "trend", "date": months, "y": growth + season}),
                       pd.DataFrame({"id": "swings", "date": months, "y": swings + season})])
    monthly = prepare(panel_from_frame(frame, "y", "date", "id"), cfg)
    assert monthly.season_length == 12 and monthly.panel.ids == ["swings", "trend"]
    np.testing.assert_allclose(monthly.ets[:, 3], [0, 2 / 3])  # seasonal data: two thirds of smoothing
    assert monthly.theta is None  # seasonal series: no Theta third
    assert any("weighs two thirds of the forecast of 1 series (not of 1 that still cycle" in n for n in monthly.notes)
    fitted = fit(monthly, cfg)
    _, point, _ = forecast_future(fitted, 4)
    _, alone, _ = forecast_future(replace(fitted, prep=replace(monthly, ets=None)), 4)
    np.testing.assert_array_equal(point[0], alone[0])
    assert not np.allclose(point[1], alone[1])
    cycle = prepare(load_panel(sine_csv), cfg)
    assert cycle.season_length == 20 and cycle.ets is None
    assert not any("smoothing" in n for n in cycle.notes)
    assert prepare(load_panel(sine_csv), tiny_config(horizon=4, n_prev=None, ets=True)).ets is not None
    x = rng.normal(size=150)
    with_features = panel_from_frame(pd.DataFrame({"t": np.arange(150), "y": y + x, "x": x}), "y", "t",
                                     features=["x"])
    assert prepare(with_features, cfg).ets is None


def test_times_keep_their_hours_in_a_block_of_midnights() -> None:
    """A block of hourly times that are all midnights (a stream's cutoff column, a one-step forecast) keeps its
    hours, so the CSV has one format; daily times are dates."""
    from lstmcast.forecast import format_times

    midnight = np.array(["2024-02-26T00:00"], dtype="datetime64[ns]")
    assert format_times(midnight, True, "h").tolist() == ["2024-02-26 00:00:00"]
    assert format_times(midnight, True, "30min").tolist() == ["2024-02-26 00:00:00"]
    assert format_times(midnight, True, "D").tolist() == ["2024-02-26"]
    assert format_times(midnight, True, "MS").tolist() == ["2024-02-26"]
    assert format_times(midnight, True).tolist() == ["2024-02-26"]


def test_counts_that_fell_to_zero_are_not_forecast_below_zero(tmp_path: Path) -> None:
    """Sales that fell to zero: the damped trend and the networks carry the fall on below zero, which no count
    reaches; the forecast and its interval stop at zero. `--transform none` is the raw model, the same run unfloored."""
    from typer.testing import CliRunner

    from lstmcast.cli import app

    t = np.arange(48)
    units = np.maximum(0.0, np.round(40 - 1.25 * t + np.random.default_rng(2).normal(0, 1, 48)))
    assert (units[-8:] == 0).all()
    csv = tmp_path / "units.csv"
    pd.DataFrame({"month": pd.date_range("2020-01-01", periods=48, freq="MS"), "units": units}).to_csv(csv, index=False)
    flags = ["--horizon", "6", "--n-prev", "8", "--hidden", "8", "--epochs", "3", "--ensemble", "2",
             "--loss", "quantile", "--seed", "1"]
    out = {}
    for transform in ("auto", "none"):
        run = tmp_path / transform
        res = CliRunner().invoke(app, ["train", str(csv), "--out", str(run), "--transform", transform, *flags])
        assert res.exit_code == 0, res.output
        res = CliRunner().invoke(app, ["predict", str(run), "--horizon", "6", "--out", str(tmp_path / f"{transform}.csv")])
        assert res.exit_code == 0, res.output
        out[transform] = pd.read_csv(tmp_path / f"{transform}.csv")
    raw, floored = out["none"], out["auto"]
    cols = ["forecast", "forecast_lo_80", "forecast_hi_80"]
    assert (raw["forecast_lo_80"] < 0).any() and (raw["forecast"] < 0).any()  # the fall carried on
    np.testing.assert_array_equal(floored[cols].to_numpy(), np.maximum(raw[cols].to_numpy(), 0.0))
    held = pd.read_csv(tmp_path / "auto" / "test_predictions.csv")
    assert (held["predicted"] >= 0).all()
