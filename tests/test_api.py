from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmcast import LSTMForecaster, LstmcastError, TrainConfig
from lstmcast.cli import app
from lstmcast.io import jsonable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

runner = CliRunner()
SMALL = dict(n_prev=10, hidden=8, epochs=2, batch_size=32, device="cpu", ensemble=2)
FLAGS = ["--n-prev", "10", "--hidden", "8", "--epochs", "2", "--batch-size", "32", "--device", "cpu", "--ensemble", "2"]


def invoke(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def read_exact(path: Path) -> pd.DataFrame:
    """A CSV's floats exactly as written, whatever pandas parses by default (3.0's C parser is off by an ulp on
    about a third of doubles, 3.1's is exact, 2.x's is exact only with float_precision="round_trip"): Python's
    float() on the text."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for c in df.columns:
        try:
            df[c] = np.array([float(v) for v in df[c]])
        except ValueError:
            pass
    return df


def long_frame() -> pd.DataFrame:
    """Two daily series of 90 points in statsforecast's long shape: unique_id, ds (datetimes), y."""
    rng = np.random.default_rng(5)
    t = np.arange(90)
    return pd.concat([pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2024-01-01", periods=90, freq="D"),
                                    "y": level + amp * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.1, 90)})
                      for uid, level, amp in [("a", 20.0, 3.0), ("b", 5.0, 1.0)]], ignore_index=True)


def test_api_gives_the_cli_forecast_and_scores(tmp_path: Path, sine_csv: Path) -> None:
    run = tmp_path / "run"
    assert invoke("train", sine_csv, "--out", run, *FLAGS).exit_code == 0
    assert invoke("predict", run, "--horizon", "7", "--out", tmp_path / "fc.csv").exit_code == 0
    cli = read_exact(tmp_path / "fc.csv")

    est = LSTMForecaster(**SMALL).fit(sine_csv)
    api = est.predict(7)
    assert list(api.columns) == ["unique_id", "ds", "forecast"]
    assert api["unique_id"].tolist() == ["sin_t"] * 7 and api["ds"].tolist() == list(range(161, 168))
    np.testing.assert_array_equal(api["forecast"].to_numpy(), cli["forecast"].to_numpy())
    # the same two stages: the evaluation model's hold-out scores, then a final model refit on all 161 points
    metrics = json.loads((run / "metrics.json").read_text())
    assert est.evaluate()["model"] == metrics["model"] and est.evaluate()["naive"] == metrics["naive"]
    assert est.metrics_["final_model"] == metrics["final_model"] and metrics["final_model"]["points"] == 161
    pd.testing.assert_frame_equal(est.holdout_predictions_, pd.read_csv(run / "test_predictions.csv"))

    # a DataFrame gives what its file gives; the saved config.toml replays the run from the shell
    again = LSTMForecaster(TrainConfig(**SMALL)).fit(pd.read_csv(sine_csv))
    pd.testing.assert_frame_equal(again.predict(7), api)
    saved = again.save(tmp_path / "saved")
    assert tomllib.loads((saved / "config.toml").read_text())["hidden"] == 8
    replay = tmp_path / "replay"
    assert invoke("train", sine_csv, "--out", replay, "--config", saved / "config.toml").exit_code == 0
    assert invoke("predict", replay, "--horizon", "7", "--out", tmp_path / "fc2.csv").exit_code == 0
    np.testing.assert_array_equal(read_exact(tmp_path / "fc2.csv")["forecast"].to_numpy(), api["forecast"].to_numpy())


def test_long_frame_save_load_round_trip(tmp_path: Path) -> None:
    est = LSTMForecaster(horizon=3, loss="quantile", **SMALL).fit(long_frame())
    fc = est.predict()
    assert list(fc.columns) == ["unique_id", "ds", "forecast", "forecast_lo_80", "forecast_hi_80"]
    assert fc["unique_id"].tolist() == ["a"] * 3 + ["b"] * 3
    assert fc["ds"].tolist() == [pd.Timestamp("2024-03-31"), pd.Timestamp("2024-04-01"), pd.Timestamp("2024-04-02")] * 2
    assert (fc["forecast_lo_80"] <= fc["forecast_hi_80"]).all()
    assert fc.loc[fc.unique_id == "a", "forecast"].mean() > fc.loc[fc.unique_id == "b", "forecast"].mean() + 8

    path = est.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == ["config.toml", "history.csv", "metrics.json", "model.pt",
                                                     "test_predictions.csv"]
    back = LSTMForecaster.load(path)
    pd.testing.assert_frame_equal(back.predict(), fc)
    pd.testing.assert_frame_equal(back.predict(8), est.predict(8))  # past the trained horizon: recursive blocks
    assert json.dumps(jsonable(back.evaluate())) == json.dumps(jsonable(est.evaluate()))
    assert back.config.id_column == "unique_id" and back.config.horizon == 3
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(LstmcastError, match=r"a_file exists and is not a folder; choose another path$"):
        est.save(tmp_path / "a_file")  # Python names, not the CLI's --out
    # the CLI reads a folder the API saved
    result = invoke("predict", path, "--horizon", "3", "--out", tmp_path / "fc.csv")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_exact(tmp_path / "fc.csv")["forecast"].to_numpy(), fc["forecast"].to_numpy())


@pytest.mark.parametrize("make, message", [
    (lambda: LSTMForecaster(column="y"), "'column' describes the data, not the model: pass target_col= to fit()"),
    (lambda: LSTMForecaster(hiden=8), "unknown setting 'hiden'; did you mean 'hidden'?"),
    # errors name the Python settings, not the CLI's flags (--cell, --n-prev auto, --fill)
    (lambda: LSTMForecaster(cell="transformer"), "cell must be one of lstm, gru, rnn, peephole, cifg; got 'transformer'"),
    (lambda: LSTMForecaster(n_prev=50, horizon=3).fit(np.arange(30.0)),
     "the series has 30 points but n_prev=50 + horizon=3 needs at least 53; use a smaller n_prev (or n_prev=None)"),
    (lambda: LSTMForecaster(horizon=3).fit(pd.DataFrame({"y": [1.0, np.nan] + [3.0] * 30})),
     "column 'y' has 1 missing values (first at t=1); use fill='interpolate', 'ffill', 'zero' or 'drop'"),
    (lambda: LSTMForecaster().predict(3), "this LSTMForecaster is not fitted yet; call fit(data) or "
                                          "LSTMForecaster.load(dir)"),
    (lambda: LSTMForecaster().fit(np.ones((5, 2))), "expected a DataFrame, a Series, a 1-D array or a file path, "
                                                   "got ndarray of shape (5, 2)"),
    (lambda: LSTMForecaster().fit({"y": [1.0, 2.0]}), "expected a DataFrame, a Series, a 1-D array or a file path, "
                                                      "got dict"),
    (lambda: LSTMForecaster().fit(pd.DataFrame({"ds": [], "y": []})), "the DataFrame has no rows"),
    (lambda: LSTMForecaster.load("nowhere"), "no checkpoint at nowhere/model.pt"),
    # a wrong type is refused up front, by its Python name (not a TypeError from torch or numpy mid-training)
    (lambda: LSTMForecaster(hidden="8"), "hidden must be a whole number, got '8'"),
    (lambda: LSTMForecaster(horizon=2.0), "horizon must be a whole number, got 2.0"),
    (lambda: LSTMForecaster(refit="yes"), "refit must be True or False, got 'yes'"),
    (lambda: LSTMForecaster(seed=None), "seed must be a whole number, got None"),
    (lambda: LSTMForecaster(loss="quantile", quantiles="0.1,0.9"), "quantiles must be a list of numbers, got '0.1,0.9'"),
    (lambda: LSTMForecaster(quantiles=[0.05, 0.95]).fit(np.arange(40.0)),
     "quantiles sets the levels of loss='quantile', but the loss is 'mse'; pass loss='quantile', or leave quantiles out"),
    (lambda: LSTMForecaster(**SMALL).fit(np.arange(40.0) + 1j), "column 'y' holds complex numbers; lstmcast "
                                                               "forecasts real values (pass its .real, .imag or abs())"),
    (lambda: LSTMForecaster(**SMALL).fit(pd.Series(np.arange(40.0), index=pd.MultiIndex.from_product([["a", "b"],
                                                                                                      range(20)]))),
     "a Series with a MultiIndex needs its levels named, each unlike the Series: name them with "
     "s.rename_axis(['id', 'time']), then fit(s, id_col='id', time_col='time')"),
    (lambda: LSTMForecaster(config=5), "config must be a TrainConfig (or left out, with settings by name), got int"),
    (lambda: LSTMForecaster(**SMALL).fit(np.arange(40.0), on_epoch=5),
     "on_epoch must be a function of one EpochInfo, got int"),
    (lambda: LSTMForecaster(**SMALL, horizon=3).fit(np.arange(40.0)).predict(10**13),
     "not enough memory to forecast h=10000000000000 steps; ask for fewer"),
])
def test_api_errors(make: object, message: str) -> None:
    with pytest.raises(LstmcastError) as e:
        make()  # type: ignore[operator]
    assert str(e.value) == message or str(e.value).startswith(message + ";")


def test_a_model_fitted_on_a_dataframe_reproduces_from_the_frame_saved_as_a_file(tmp_path: Path) -> None:
    """The run recorded the temporary Parquet file the frame went through (gone after fit), so reproduce could never
    work: without --data it named that file, with the frame's CSV the sha256 differed."""
    t = pd.date_range("2010-01-01", periods=60, freq="MS")
    df = pd.DataFrame({"date": t, "y": 100 + 10 * np.sin(np.arange(60) * 2 * np.pi / 12) + np.arange(60)})
    LSTMForecaster(horizon=3, **SMALL).fit(df).save(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["data"]["path"] == "<DataFrame>"
    result = runner.invoke(app, ["reproduce", str(tmp_path / "run")])
    assert result.exit_code == 2 and result.stderr == (f"Error: run {tmp_path / 'run'} was trained on data from a "
                                                       "DataFrame (the Python API); pass the same file with --data\n")
    df.to_csv(tmp_path / "d.csv", index=False)
    result = runner.invoke(app, ["reproduce", str(tmp_path / "run"), "--data", str(tmp_path / "d.csv"), "-q"])
    assert result.exit_code == 0, result.output


def test_ids_and_times_come_back_in_the_frames_types() -> None:
    """Integer ids came back as text (a merge with the input failed: str against int64), a category as text, and
    the hold-out and backtest tables held their times as text."""
    t = pd.date_range("2015-01-01", periods=40, freq="MS")
    d = pd.concat([pd.DataFrame({"unique_id": k, "ds": t, "y": 100 + 10 * k + np.sin(np.arange(40) / 2)})
                   for k in (1, 2)], ignore_index=True)
    m = LSTMForecaster(horizon=3, **SMALL).fit(d)
    fc = m.predict(3)
    assert fc["unique_id"].tolist() == [1, 1, 1, 2, 2, 2] and fc["unique_id"].dtype == np.int64
    assert m.holdout_predictions_["unique_id"].dtype == np.int64
    assert m.holdout_predictions_["ds"].dtype.kind == "M" and m.holdout_predictions_["cutoff"].dtype.kind == "M"
    merged = m.holdout_predictions_.merge(d, on=["unique_id", "ds"])
    np.testing.assert_array_equal(merged["actual"], merged["y"])
    bt = m.backtest(d, folds=2)
    assert bt["unique_id"].dtype == np.int64 and bt["ds"].dtype.kind == "M" and bt["cutoff"].dtype.kind == "M"
    cat = d.assign(unique_id=d["unique_id"].map({1: "a", 2: "b"}).astype("category"))
    fc = LSTMForecaster(horizon=3, **SMALL).fit(cat).predict(2)
    assert isinstance(fc["unique_id"].dtype, pd.CategoricalDtype) and fc["unique_id"].tolist() == ["a", "a", "b", "b"]


def test_set_params_takes_a_loss_without_its_quantiles_and_features_takes_a_name() -> None:
    """A grid search sets loss on an estimator whose quantiles are not the default: refused only at fit (it was
    refused by set_params); features="temp" is that column, not the columns 't', 'e', 'm', 'p'."""
    q = LSTMForecaster(loss="quantile", quantiles=[0.05, 0.5, 0.95], **SMALL)
    assert q.set_params(loss="gaussian").config.loss == "gaussian"
    # unfitted, it has no fitted attribute (scikit-learn's check_is_fitted looks for names ending in _)
    assert not [k for k in vars(q) if k.endswith("_") and not k.startswith("__")]
    t = np.arange(60.0)
    df = pd.DataFrame({"t": t, "sales": 10 + np.sin(t / 3) + 0.1 * np.cos(t), "temp": np.cos(t / 3)})
    by_name = LSTMForecaster(horizon=2, **SMALL).fit(df, target_col="sales", features="temp").predict(2)
    by_list = LSTMForecaster(horizon=2, **SMALL).fit(df, target_col="sales", features=["temp"]).predict(2)
    pd.testing.assert_frame_equal(by_name, by_list)


def test_named_columns_no_holdout_and_bad_horizon(tmp_path: Path, daily_csv: Path) -> None:
    est = LSTMForecaster(test_size=0.0, **SMALL).fit(daily_csv, target_col="sales", time_col="date")
    fc = est.predict(2)
    assert fc["unique_id"].tolist() == ["sales", "sales"]
    assert fc["ds"].tolist() == [pd.Timestamp("2024-06-29"), pd.Timestamp("2024-06-30")]
    with pytest.raises(LstmcastError, match="no held-out test part"):
        est.evaluate()
    with pytest.raises(LstmcastError, match="h must be a whole number of steps, at least 1; got 0"):
        est.predict(0)
    assert "test_size=0.0" in repr(est) and "hidden=8" in repr(est)


def test_ctrl_c_during_fit_keeps_the_best_model(sine_csv: Path) -> None:
    def ctrl_c(info: object) -> None:
        raise KeyboardInterrupt

    with pytest.warns(UserWarning, match="training was interrupted; the model kept is the best one so far"):
        est = LSTMForecaster(**SMALL).fit(sine_csv, on_epoch=ctrl_c)
    assert est.interrupted_ and est.metrics_["epochs_run"] == 1 and not est.metrics_["final_model"]["refit"]
    assert len(est.predict(3)) == 3


def test_api_backtest_gives_the_cli_backtest(tmp_path: Path) -> None:
    frame = long_frame()
    est = LSTMForecaster(**SMALL)
    api = est.backtest(frame, folds=2, horizon=3, retrain="never")
    assert not hasattr(est, "checkpoint_")  # a backtest needs no fit and leaves the estimator unfitted
    frame.to_csv(tmp_path / "long.csv", index=False)
    out = tmp_path / "bt"
    result = invoke("backtest", tmp_path / "long.csv", "--out", out, "--id-column", "unique_id", "--time-column", "ds",
                    "--column", "y", "--horizon", "3", "--folds", "2", "--retrain", "never", *FLAGS)
    assert result.exit_code == 0, result.output
    cli = read_exact(out / "backtest.csv")
    assert len(api) == 2 * 2 * 3 and list(api["fold"].unique()) == [0, 1]  # 2 series x 2 folds x 3 steps
    np.testing.assert_array_equal(api["lstm"].to_numpy(), cli["lstm"].to_numpy())
    np.testing.assert_array_equal(api["actual"].to_numpy(), cli["actual"].to_numpy())
    saved = json.loads((out / "backtest.json").read_text())
    assert est.backtest_metrics_["mean"] == saved["mean"]
    with pytest.raises(LstmcastError, match="retrain must be one of always, never; got 'sometimes'"):
        est.backtest(frame, retrain="sometimes")


def test_a_series_fits_as_its_frame_would() -> None:
    """A pandas Series (the notebook's usual shape) is its index as the time and its values as the target."""
    t = pd.date_range("2015-01-01", periods=60, freq="MS")
    y = 100 + np.arange(60) + 10 * np.sin(np.arange(60) * 2 * np.pi / 12)
    series = pd.Series(y, index=t, name="sales")
    frame = LSTMForecaster(horizon=3, **SMALL).fit(pd.DataFrame({"ds": t, "sales": y})).predict()
    got = LSTMForecaster(horizon=3, **SMALL).fit(series).predict()
    pd.testing.assert_frame_equal(got, frame)
    assert got["unique_id"].tolist() == ["sales"] * 3 and str(got["ds"].iloc[0])[:10] == "2020-01-01"
    # monthly periods are their months' first days; an unnamed series is "y"; a plain range is integer steps
    periods = LSTMForecaster(horizon=3, **SMALL).fit(pd.Series(y, index=t.to_period("M"))).predict()
    assert periods["unique_id"].tolist() == ["y"] * 3
    np.testing.assert_allclose(periods["forecast"], frame["forecast"])
    steps = LSTMForecaster(horizon=3, **SMALL).fit(pd.Series(y)).predict()
    assert steps["ds"].tolist() == [60, 61, 62]
    # a plain 1-D array or list is that unnamed series on integer steps, to the last bit
    pd.testing.assert_frame_equal(LSTMForecaster(horizon=3, **SMALL).fit(y).predict(), steps)
    pd.testing.assert_frame_equal(LSTMForecaster(horizon=3, **SMALL).fit(list(y)).predict(), steps)
    # times with UTC offsets come back as UTC, marked so
    hours = pd.date_range("2024-03-30", periods=60, freq="h", tz="Europe/Berlin")
    utc = LSTMForecaster(horizon=3, **SMALL).fit(pd.Series(y, index=hours.map(lambda t: t.isoformat()))).predict()
    assert str(utc["ds"].dt.tz) == "UTC" and utc["ds"].iloc[0] == hours[-1] + pd.Timedelta(hours=1)
    # an integer index that does not start at 0 is the time: the forecast carries on from it
    later = LSTMForecaster(horizon=3, **SMALL).fit(pd.Series(y, index=range(100, 160))).predict()
    assert later["ds"].tolist() == [160, 161, 162]
    np.testing.assert_array_equal(later["forecast"], steps["forecast"])
    # a Series indexed by (id, time), as df.set_index(["store", "date"])["sales"] leaves it, is its long frame
    long = pd.DataFrame({"store": ["a"] * 60 + ["b"] * 60, "date": list(t) * 2, "sales": list(y) + list(y + 50)})
    by_frame = LSTMForecaster(horizon=3, **SMALL).fit(long, id_col="store", time_col="date").predict()
    by_series = LSTMForecaster(horizon=3, **SMALL).fit(long.set_index(["store", "date"])["sales"], id_col="store",
                                                       time_col="date").predict()
    pd.testing.assert_frame_equal(by_series, by_frame)
    assert by_series["unique_id"].tolist() == ["a"] * 3 + ["b"] * 3


def test_a_frame_indexed_by_its_dates_fits_as_with_a_date_column() -> None:
    """df.set_index("date") and frames read with index_col/parse_dates: a date or period index is the time,
    named or not; text that holds numbers is read as numbers, as from a CSV; errors name the DataFrame."""
    t = pd.date_range("2015-01-01", periods=60, freq="MS")
    y = 100 + np.arange(60) + 10 * np.sin(np.arange(60) * 2 * np.pi / 12)
    frame = LSTMForecaster(horizon=3, **SMALL).fit(pd.DataFrame({"ds": t, "sales": y})).predict()
    assert str(frame["ds"].iloc[0])[:10] == "2020-01-01"
    for index in (t, t.to_period("M"), t.rename("ds")):
        got = LSTMForecaster(horizon=3, **SMALL).fit(pd.DataFrame({"sales": y}, index=index)).predict()
        pd.testing.assert_frame_equal(got, frame)
    text = pd.DataFrame({"ds": t, "sales": [repr(float(v)) for v in y]}, dtype=object)
    est = LSTMForecaster(horizon=3, **SMALL).fit(text)
    pd.testing.assert_frame_equal(est.predict(), frame)
    assert "read 'sales', stored as text, as numbers" in est.notes_
    # row labels left by filtering are not times
    kept = pd.DataFrame({"ds": t, "sales": y}, index=np.arange(60) * 2)
    pd.testing.assert_frame_equal(LSTMForecaster(horizon=3, **SMALL).fit(kept).predict(), frame)
    with pytest.raises(LstmcastError) as e:
        LSTMForecaster(horizon=3, **SMALL).fit(pd.DataFrame({"a": y, "b": y}, index=t))
    assert str(e.value).startswith("the DataFrame has 2 numeric columns (a, b); choose one with target_col")
    assert "parquet" not in str(e.value)
    with pytest.raises(LstmcastError, match=r"^column 'sales' is not numeric: row 2 \(counting from 0\) has 'n/a!'$"):
        LSTMForecaster(horizon=3, **SMALL).fit(pd.DataFrame({"ds": t[:4], "sales": ["1", "2", "n/a!", "4"]}))
    with pytest.raises(LstmcastError, match=r"index and one of its columns are both named 'ds'"):
        LSTMForecaster(horizon=3, **SMALL).fit(pd.DataFrame({"ds": t, "sales": y}, index=t.rename("ds")))


def test_a_shuffled_long_frame_is_put_in_time_order() -> None:
    """Rows a merge or groupby left out of order are sorted (the times are datetimes already, so nothing can have
    been misread); a wide frame of several series is refused with the pandas call that makes it long."""
    df = long_frame()
    fc = LSTMForecaster(horizon=3, **SMALL).fit(df)
    shuffled = LSTMForecaster(horizon=3, **SMALL).fit(df.sample(frac=1, random_state=0))
    pd.testing.assert_frame_equal(shuffled.predict(), fc.predict())
    assert shuffled.notes_[0] == "sorted the DataFrame's rows by time" and "sorted" not in " ".join(fc.notes_)
    with pytest.raises(LstmcastError, match=r"appears twice"):  # sorting does not hide a duplicate
        LSTMForecaster(horizon=3, **SMALL).fit(pd.concat([df, df.iloc[[5]]]))
    wide = df.pivot(index="ds", columns="unique_id", values="y")
    with pytest.raises(LstmcastError) as e:
        LSTMForecaster(horizon=3, **SMALL).fit(wide)
    assert str(e.value) == ("the DataFrame has 2 numeric columns (a, b); choose one with target_col, or for one "
                            "model of all of them, make the frame long with df.melt (a series id, a time and a "
                            "value column per row) and pass id_col")


def test_numpy_numbers_and_auto_settings_are_taken_and_notes_speak_python() -> None:
    est = LSTMForecaster(hidden=np.int64(8), lr=np.float32(0.01), n_prev="auto", epochs=2, ensemble=1,
                         calendar=np.bool_(False))
    assert type(est.config.hidden) is int and type(est.config.lr) is float and type(est.config.calendar) is bool
    assert est.config.lr == 0.01  # as written, not float32's 0.009999999776482582
    assert est.config.n_prev is None  # "auto", as the CLI and config files spell it
    est.fit(pd.Series(np.sin(np.arange(120) / 3) + 5, index=pd.date_range("2024-01-01", periods=120, freq="D")))
    assert "a window of 21 steps (n_prev=None)" in est.notes_ and not any("--" in n for n in est.notes_)


def test_settings_by_name_as_scikit_learn_clones_them() -> None:
    est = LSTMForecaster(horizon=3, hidden=16, samples=50)
    params = est.get_params()
    assert params["horizon"] == 3 and params["hidden"] == 16 and params["samples"] == 50
    assert "column" not in params and "fill" not in params  # the data's settings are fit()'s
    twin = LSTMForecaster(**params)  # what sklearn.base.clone does
    assert twin.config == est.config and twin.samples == 50
    assert est.set_params(hidden=8, samples=10) is est and est.config.hidden == 8 and est.samples == 10
    with pytest.raises(LstmcastError, match=r"unknown setting 'hiden'; did you mean 'hidden'\?"):
        est.set_params(hiden=4)
    assert est.config.hidden == 8  # a refused change changes nothing
