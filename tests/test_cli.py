from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from lstmcast.cli import app
from lstmcast.config import TrainConfig

runner = CliRunner()
TINY = ["--n-prev", "10", "--hidden", "8", "--epochs", "2", "--batch-size", "32", "--device", "cpu"]


def invoke(*args: str) -> object:
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def test_every_command_has_help() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for cmd in ("generate-sine", "generate-memory", "train", "predict", "plot", "backtest", "compare"):
        assert cmd in result.output
        sub = invoke(cmd, "--help")
        assert sub.exit_code == 0, sub.output
        assert "Usage" in sub.output


def test_generate_sine(tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    result = invoke("generate-sine", "--out", out, "--steps-per-cycle", "20", "--cycles", "3")
    assert result.exit_code == 0, result.output
    df = pd.read_csv(out)
    assert list(df.columns) == ["t", "sin_t"] and len(df) == 61


def test_train_predict_plot_end_to_end(tmp_path: Path, sine_csv: Path) -> None:
    run = tmp_path / "run"
    result = invoke("train", sine_csv, "--out", run, *TINY)
    assert result.exit_code == 0, result.output
    assert "naive (last value)" in result.output and "lstmcast (one-step)" in result.output
    for name in ("model.pt", "history.csv", "metrics.json", "test_predictions.csv"):
        assert (run / name).exists()
    hist = pd.read_csv(run / "history.csv")
    assert list(hist.columns) == ["epoch", "train_loss", "val_loss", "seconds"] and hist["epoch"].tolist() == [1, 2]
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"mse", "rmse", "mae"} <= set(metrics["model"]) and {"mse", "rmse", "mae"} <= set(metrics["naive"])
    assert metrics["versions"]["device"] == "cpu"  # where it trained: --device auto depends on the data
    ckpt = torch.load(run / "model.pt", weights_only=True)
    assert ckpt["config"]["hidden"] == 8 and ckpt["data"]["target"] == "sin_t" and len(ckpt["data"]["sha256"]) == 64
    assert ckpt["lstmcast_version"] and ckpt["torch_version"]

    first = pd.read_csv(run / "test_predictions.csv")
    assert list(first.columns) == ["t", "actual", "predicted"] and len(first) == 16
    out = tmp_path / "again.csv"
    result = invoke("predict", run, "--out", out)
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_csv(out), first)  # checkpoint round trip: identical predictions

    result = invoke("predict", run, "--horizon", "25", "--out", run / "forecast.csv")
    assert result.exit_code == 0, result.output
    assert "recursively one step at a time" in result.output
    fc = pd.read_csv(run / "forecast.csv")
    assert list(fc.columns) == ["t", "forecast"] and fc["t"].tolist() == list(range(161, 186))

    result = invoke("plot", run, "--out", tmp_path / "p.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_datetime_forecast_continues_the_calendar(tmp_path: Path, daily_csv: Path) -> None:
    run = tmp_path / "run"
    assert invoke("train", daily_csv, "--out", run, "--column", "sales", *TINY).exit_code == 0
    assert invoke("predict", run, "--horizon", "3").exit_code == 0
    fc = pd.read_csv(run / "forecast.csv")
    assert fc["date"].tolist() == ["2024-06-29", "2024-06-30", "2024-07-01"]


def test_forecast_past_the_last_date_pandas_holds_is_an_error(tmp_path: Path, daily_csv: Path) -> None:
    run = tmp_path / "run"
    assert invoke("train", daily_csv, "--out", run, "--column", "sales", *TINY).exit_code == 0
    result = invoke("predict", run, "--horizon", "100000", "--out", tmp_path / "fc.csv")
    assert result.exit_code == 2 and not (tmp_path / "fc.csv").exists()
    assert result.stderr == ("Error: a forecast of 100000 steps after 2024-06-28 00:00:00 would pass the last date "
                             "pandas can hold (2262-04-11); at most 86849 steps fit\n")


def test_predict_says_when_the_recorded_training_file_changed(tmp_path: Path, sine_csv: Path) -> None:
    """Without --data, predict reads the file the run recorded; edited since, its test part moves, so it says so."""
    data = tmp_path / "d.csv"
    data.write_text(sine_csv.read_text())
    run = tmp_path / "run"
    assert invoke("train", data, "--out", run, *TINY).exit_code == 0
    assert "changed since" not in invoke("predict", run).output
    data.write_text(sine_csv.read_text() + "161,0.5\n")
    result = invoke("predict", run)
    assert result.exit_code == 0
    assert (f"Note: {data} has changed since the training data (its sha256 differs); its test part is cut by the "
            "training rule, so the scores may include points the evaluation model trained on") in result.output


def test_predict_data_too_short_for_the_models_window(tmp_path: Path, daily_csv: Path) -> None:
    run = tmp_path / "run"
    assert invoke("train", daily_csv, "--out", run, "--column", "sales", *TINY).exit_code == 0
    short = tmp_path / "short.csv"
    short.write_text("".join(daily_csv.read_text().splitlines(keepends=True)[:6]))
    result = invoke("predict", run, "--data", short)
    assert result.exit_code == 2 and result.stderr == (
        "Error: the data have 5 points at most; this model's window of 10 and 1-step targets need at least 11: pass "
        "the series' whole history, as the training file had it\n")  # not train's "use a smaller --n-prev"


def test_plot_refuses_a_forecast_that_is_not_this_runs(tmp_path: Path, daily_csv: Path) -> None:
    """plot --forecast reads what predict wrote (CSV or Parquet); another table is one Error line, exit 2."""
    run = tmp_path / "run"
    assert invoke("train", daily_csv, "--out", run, "--column", "sales", *TINY).exit_code == 0
    assert invoke("predict", run, "--horizon", "3", "--out", tmp_path / "fc.parquet").exit_code == 0
    assert invoke("plot", run, "--forecast", tmp_path / "fc.parquet", "--out", tmp_path / "p.pdf").exit_code == 0
    # Parquet keeps the dates as datetimes (they were text), the forecast and test predictions alike
    fc = pd.read_parquet(tmp_path / "fc.parquet")
    assert fc["date"].dtype.kind == "M" and fc["date"].iloc[0] == pd.Timestamp("2024-06-29")
    assert invoke("predict", run, "--out", tmp_path / "tp.parquet").exit_code == 0
    tp = pd.read_parquet(tmp_path / "tp.parquet")
    assert tp["date"].dtype.kind == "M"
    assert tp["date"].dt.strftime("%Y-%m-%d").tolist() == pd.read_csv(run / "test_predictions.csv")["date"].tolist()
    assert (tmp_path / "p.pdf").read_bytes()[:5] == b"%PDF-"
    for text, message in [
        ("t,forecast\n60,1\n", "has no column 'date' (its columns are: t, forecast); pass a forecast that "
                                "`lstmcast predict RUN --horizon N` wrote for this run"),
        ("date,forecast\n2024-06-29,abc\n", ": column 'forecast' is not numeric: row 1 has 'abc'"),
        ("date,forecast\n2024-06-29,1\n2024-06-29,2\n", " repeats the time '2024-06-29': it holds several series, "
                                                         "and this run has one; pass a forecast"),
        ("date,forecast\n7,1\n", ": column 'date' holds something other than dates, and the run was trained on dates"),
    ]:
        (tmp_path / "f.csv").write_text(text)
        result = invoke("plot", run, "--forecast", tmp_path / "f.csv", "--out", tmp_path / "q.png")
        assert result.exit_code == 2 and result.stderr.startswith(f"Error: {tmp_path / 'f.csv'}")
        assert message in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert not (tmp_path / "q.png").exists()
    (run / "test_predictions.csv").write_text("a,b\n1,2\n")
    result = invoke("plot", run, "--out", tmp_path / "q.png")
    assert result.exit_code == 2 and result.stderr == (
        f"Error: {run / 'test_predictions.csv'} has no column 'date', no column 'predicted' (its columns are: a, b); "
        f"rerun `lstmcast predict {run}` to rewrite it\n")


def _train_panel(tmp_path: Path, rows: list[str], n_prev: int) -> tuple[Path, dict[str, object]]:
    """Train a tiny model on `id,t,value` rows -> the run folder and its leakage audit's split."""
    data = tmp_path / "d.csv"
    data.write_text("id,t,value\n" + "\n".join(rows) + "\n")
    run = tmp_path / "run"
    result = invoke("train", data, "--out", run, "--id-column", "id", "--n-prev", str(n_prev), *TINY[2:], "--ensemble",
                    "1")
    assert result.exit_code == 0, result.output
    return run, json.loads((run / "metrics.json").read_text())["leakage_audit"]["split"]


def test_leakage_audit_of_series_that_end_at_different_times(tmp_path: Path) -> None:
    """Series that end at different times: the audit's latest training time (b's) is past the earliest test time
    (a's), which reads like a leak unless the audit says why; each series' own split is checked."""
    rows = [f"a,{t},{t % 4 + 1}" for t in range(40)] + [f"b,{t},{t % 3 + 2}" for t in range(20, 60)]
    _, split = _train_panel(tmp_path, rows, 5)
    assert (split["latest_train_time"], split["earliest_test_time"], split["test_points"]) == ("55", "36", 8)
    assert split["each_series_trains_before_its_test"] is True
    assert split["ragged_note"].startswith("the series end at different times, so latest_train_time and "
                                           "earliest_test_time belong to different series")


def test_many_series_with_one_unscored_and_ids_pandas_would_call_missing(tmp_path: Path) -> None:
    """Ids NA and null are names (Namibia), not missing values; a series too short for a hold-out trains on all its
    points, and the leakage audit's earliest test time is the scored series' (an IndexError when it came last)."""
    rows = [f"NA,{t},{t % 4 + t * 0.1 + 1}" for t in range(40)] + [f"null,{t},{t % 3 + 2}" for t in range(22)]
    run, split = _train_panel(tmp_path, rows, 17)
    data = tmp_path / "d.csv"
    assert split["earliest_test_time"] == "36" and split["test_points"] == 4
    assert split["each_series_trains_before_its_test"] is True and "ragged_note" not in split
    assert invoke("predict", run, "--horizon", "2", "--out", tmp_path / "fc.csv").exit_code == 0
    fc = pd.read_csv(tmp_path / "fc.csv", dtype={"id": str}, keep_default_na=False)
    assert fc["id"].tolist() == ["NA", "NA", "null", "null"] and fc["t"].tolist() == [40, 41, 22, 23]
    assert invoke("plot", run, "--series", "null", "--forecast", tmp_path / "fc.csv", "--out",
                  tmp_path / "p.png").exit_code == 0
    result = invoke("train", data, "--out", tmp_path / "all", "--id-column", "id", "--test-size", "0.99", *TINY,
                    "--ensemble", "1")
    assert result.exit_code == 0 and ("Note: no hold-out score was possible: none of the 2 series can spare its test "
                                      "part (up to 40 points) and keep a training window; each trained on all its "
                                      "points") in result.output


def test_seeds_and_season_lengths_beyond_reason_are_refused(tmp_path: Path, sine_csv: Path, daily_csv: Path) -> None:
    for args, message in [
        (["train", sine_csv, "--out", tmp_path / "r", "--seed", "99999999999999999999"],
         "Error: --seed must be between -4611686018427387903 and 4611686018427387903, got 99999999999999999999\n"),
        (["compare", sine_csv, "--out", tmp_path / "c", "--seeds", "100000000000000"],
         "Error: --seeds must be at most 1000, got 100000000000000\n"),
        (["compare", sine_csv, "--out", tmp_path / "c", "--cells", "lstm,gru,lstm"], "Error: --cells names 'lstm' twice\n"),
        (["train", sine_csv, "--out", tmp_path / "r", "--season-length", "1000000"],
         "Error: --season-length 1000000 is longer than the longest series (161 points); a season must repeat "
         "within the data\n"),
    ]:
        result = invoke(*args)
        assert result.exit_code == 2 and result.stderr == message, result.output
    run = tmp_path / "run"
    assert invoke("train", daily_csv, "--out", run, "--column", "sales", *TINY).exit_code == 0
    (tmp_path / "old.csv").write_text("date,forecast\n2012-01-01,5\n2012-01-02,6\n")
    result = invoke("plot", run, "--forecast", tmp_path / "old.csv", "--out", tmp_path / "p.png")
    assert result.exit_code == 0 and "old.csv starts at 2012-01-01 00:00:00, inside the run's history (which ends " \
        "at 2024-06-28 00:00:00): it was made from other data than the run's" in result.output
    # a season no training part can hold: MASE has no scale, shown as - (it crashed formatting None)
    result = invoke("backtest", daily_csv, "--out", tmp_path / "bt", "--column", "sales", "--horizon", "3",
                    "--folds", "2", "--season-length", "178", *TINY)
    assert result.exit_code == 0, result.output
    assert all(m["mase"] is None for m in json.loads((tmp_path / "bt" / "backtest.json").read_text())["mean"].values())
    assert "│    – │" in result.output
    # train: seasonal naive is left out where most test origins have less than a season of history (it would be
    # the naive forecast under another name), and MASE without a scale shows as -
    result = invoke("train", daily_csv, "--out", tmp_path / "r170", "--column", "sales", "--season-length", "176", *TINY)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "r170" / "metrics.json").read_text())
    assert "seasonal_naive" not in metrics and metrics["model"]["mase"] is None and "seasonal naive" not in result.output


def test_ctrl_c_before_the_first_epoch_is_an_interrupt(tmp_path: Path, sine_csv: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing trained, nothing written: exit 130 like any Ctrl-C, not a bad-input error; the old run stays."""
    import lstmcast.train

    run = tmp_path / "run"
    assert invoke("train", sine_csv, "--out", run, *TINY, "--ensemble", "1").exit_code == 0
    before = (run / "model.pt").read_bytes()

    def ctrl_c(*args: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(lstmcast.train, "_batches", ctrl_c)
    result = invoke("train", sine_csv, "--out", run, *TINY, "--ensemble", "1")
    assert result.exit_code == 130, result.output
    assert result.stderr.splitlines()[-1] == "Interrupted before the first epoch finished; nothing was written."
    assert (run / "model.pt").read_bytes() == before


@pytest.mark.parametrize("args,message", [
    (["train", "missing.csv", "--out", "r"], "Error: data file missing.csv does not exist"),
    (["train", "{sine}", "--out", "r", "--column", "price"], "Error: --column 'price' not found; columns are: t, sin_t"),
    (["train", "{sine}", "--out", "r", "--epochs", "-1"], "Error: --epochs must be at least 1, got -1"),
    (["train", "{sine}", "--out", "r", "--test-size", "1.5"], "Error: --test-size must be in [0, 1) (0: no hold-out), got 1.5"),
    (["train", "{sine}", "--out", "r", "--optimizer", "sgd"], "Error: --optimizer must be one of rmsprop, adam; got 'sgd'"),
    (["train", "{sine}", "--out", "r", "--n-prev", "many"], "Error: --n-prev must be a whole number or 'auto', got 'many'"),
    (["train", "{sine}", "--out", "r", "--n-prev", "200"], "Error: the series has 161 points but --n-prev 200 + --horizon 1 needs at least 201; "
     "use a smaller --n-prev (or --n-prev auto)"),
    (["train", "{nan}", "--out", "r"], "Error: column 'y' has 1 missing values (first at t=2); use --fill interpolate|ffill|zero|drop"),
    (["predict", "nowhere"], "Error: no checkpoint at nowhere/model.pt"),
    (["predict", "{corrupt}"], "is unreadable or corrupt"),
    (["plot", "nowhere"], "Error: no checkpoint at nowhere/model.pt"),
    (["predict", "{nan}", "--horizon", "3"], "nan.csv is a file, not a run folder; train a model on it first "
     "(`lstmcast train {nan} --out runs/nan`), then pass that folder (runs/nan)"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, sine_csv: Path, args: list[str], message: str) -> None:
    nan = tmp_path / "nan.csv"
    nan.write_text("t,y\n0,1\n1,2\n2,\n3,4\n")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "model.pt").write_bytes(b"PK\x03\x04 not really a checkpoint")
    args = [a.format(sine=sine_csv, nan=nan, corrupt=corrupt) for a in args]
    message = message.format(nan=nan)
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (Path("r") / "model.pt").exists()


def test_same_seed_same_files(tmp_path: Path, sine_csv: Path) -> None:
    for name in ("a", "b"):
        assert invoke("train", sine_csv, "--out", tmp_path / name, *TINY, "--seed", "3").exit_code == 0
    for f in ("history.csv", "test_predictions.csv"):
        a, b = pd.read_csv(tmp_path / "a" / f), pd.read_csv(tmp_path / "b" / f)
        pd.testing.assert_frame_equal(a.drop(columns="seconds", errors="ignore"), b.drop(columns="seconds", errors="ignore"))


def test_backtest_compares_strategies_in_one_command(tmp_path: Path, sine_csv: Path) -> None:
    out = tmp_path / "bt"
    result = invoke("backtest", sine_csv, "--out", out, "--horizon", "4", "--folds", "2", "--strategy",
                    "direct,recursive", *TINY)
    assert result.exit_code == 0, result.output
    assert "lstm direct" in result.output and "lstm recursive" in result.output and "seasonal naive" in result.output
    df = pd.read_csv(out / "backtest.csv")
    assert {"lstm_direct", "lstm_recursive", "naive", "seasonal_naive", "drift", "mean"} <= set(df.columns)
    assert len(df) == 2 * 4
    m = json.loads((out / "backtest.json").read_text())
    assert set(m["mean"]) >= {"lstm_direct", "lstm_recursive", "naive"}
    assert (out / "backtest.png").read_bytes()[:4] == b"\x89PNG"


def test_backtest_horizon_that_does_not_fit(tmp_path: Path, sine_csv: Path) -> None:
    result = invoke("backtest", sine_csv, "--out", tmp_path / "bt", "--horizon", "100", "--folds", "3", *TINY)
    assert result.exit_code == 2
    assert ("Error: --horizon 100 with --folds 3 and --step 100 holds out 300 points, and training needs more before "
            "them; the series has 161: use --folds 1 with a --horizon of at most 79\n") == result.output


def test_compare_table_writes_mean_and_spread_to_the_same_decimals() -> None:
    from lstmcast.cli import _plus_minus

    assert [_plus_minus(158.2, 40.1), _plus_minus(0.12345, 0.0601), _plus_minus(1.0, 0.0)] == [
        "158±40", "0.123±0.060", "1±0"]  # was '158±4e+01'


def test_compare_cells(tmp_path: Path) -> None:
    data = tmp_path / "mem.csv"
    assert invoke("generate-memory", "--out", data, "--points", "300", "--lag", "5").exit_code == 0
    out = tmp_path / "cmp"
    result = invoke("compare", data, "--out", out, "--cells", "lstm,rnn", "--seeds", "2", *TINY)
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out / "compare.csv")
    assert rows[["cell", "seed"]].values.tolist() == [["lstm", 0], ["lstm", 1], ["rnn", 0], ["rnn", 1]]
    assert {"parameters", "seconds_per_epoch", "mse", "mae"} <= set(rows.columns)
    assert rows.loc[rows.cell == "lstm", "parameters"].iloc[0] > rows.loc[rows.cell == "rnn", "parameters"].iloc[0]
    summary = json.loads((out / "compare.json").read_text())["summary"]
    assert [r["cell"] for r in summary] == ["lstm", "rnn"]
    assert summary[0]["mse_mean"] == pytest.approx(rows.loc[rows.cell == "lstm", "mse"].mean())
    bad = invoke("compare", data, "--out", out, "--cells", "lstm,transformer", *TINY)
    assert bad.exit_code == 2 and "--cells must be a comma-separated subset of lstm, gru, rnn, peephole, cifg" in bad.output


def test_hourly_times_round_trip_through_csv_and_plots(tmp_path: Path) -> None:
    import numpy as np

    n = 200
    t = np.arange(n)
    df = pd.DataFrame({"timestamp": pd.date_range("2024-03-01", periods=n, freq="h").strftime("%Y-%m-%dT%H:%M"),
                       "load": 10 + np.sin(2 * np.pi * t / 24)})
    data = tmp_path / "hourly.csv"
    df.to_csv(data, index=False)
    result = invoke("backtest", data, "--out", tmp_path / "bt", "--horizon", "6", "--folds", "2", *TINY)
    assert result.exit_code == 0, result.output
    bt = pd.read_csv(tmp_path / "bt" / "backtest.csv")
    assert bt["timestamp"].iloc[0] == "2024-03-08 20:00:00" and "seasonal_naive" in bt
    run = tmp_path / "run"
    assert invoke("train", data, "--out", run, *TINY).exit_code == 0
    assert invoke("predict", run, "--horizon", "30").exit_code == 0
    fc = pd.read_csv(run / "forecast.csv")
    assert fc["timestamp"].iloc[0] == "2024-03-09 08:00:00" and fc["timestamp"].iloc[16] == "2024-03-10 00:00:00"
    assert invoke("plot", run).exit_code == 0


def test_times_read_from_utc_offsets_are_written_as_utc(tmp_path: Path) -> None:
    """Local times with offsets go onto UTC: every time written back says so (+00:00), in the forecast, the
    hold-out, the backtest and a stream, and plot reads them on the history's clock."""
    n = 200
    local = pd.date_range("2024-03-25", periods=n, freq="h", tz="Europe/Berlin")  # summer time on the 31st
    data = tmp_path / "local.csv"
    pd.DataFrame({"ts": [t.isoformat() for t in local], "load": 10 + np.sin(2 * np.pi * np.arange(n) / 24)}).to_csv(
        data, index=False)
    run = tmp_path / "run"
    assert invoke("train", data, "--out", run, "--horizon", "3", *TINY, "--ensemble", "1").exit_code == 0
    assert invoke("predict", run, "--horizon", "3").exit_code == 0
    after = local[-1].tz_convert("UTC") + pd.Timedelta(hours=1)
    fc = pd.read_csv(run / "forecast.csv")
    assert fc["ts"].tolist() == [(after + pd.Timedelta(hours=k)).strftime("%Y-%m-%d %H:%M:%S+00:00") for k in range(3)]
    preds = pd.read_csv(run / "test_predictions.csv")
    assert preds["ts"].str.endswith("+00:00").all() and preds["cutoff"].str.endswith("+00:00").all()
    assert invoke("plot", run).exit_code == 0
    result = runner.invoke(app, ["stream", str(run), "--horizon", "1"], input="10.5\n")
    assert result.exit_code == 0, result.output
    assert [line.split(",")[0] for line in result.stdout.splitlines()[1:]] == [
        (after + pd.Timedelta(hours=k)).strftime("%Y-%m-%d %H:%M:%S+00:00") for k in (0, 1)]
    bt = tmp_path / "bt"
    assert invoke("backtest", data, "--out", bt, "--horizon", "3", "--folds", "2", *TINY, "--ensemble", "1").exit_code == 0
    assert pd.read_csv(bt / "backtest.csv")["ts"].str.endswith("+00:00").all()


def _yearly_and_monthly(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(3)
    yearly = pd.DataFrame({"date": pd.date_range("1990-01-01", periods=30, freq="YS").strftime("%Y-%m-%d"),
                           "value": 100 + 3 * np.arange(30) + rng.normal(0, 2, 30)})
    t = np.arange(144)
    monthly = pd.DataFrame({"date": pd.date_range("1949-01-01", periods=144, freq="MS").strftime("%Y-%m-%d"),
                            "value": (100 + t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 2, 144)})
    paths = tmp_path / "yearly.csv", tmp_path / "monthly.csv"
    yearly.to_csv(paths[0], index=False)
    monthly.to_csv(paths[1], index=False)
    return paths


@pytest.mark.parametrize("which, horizon, freq", [(0, 6, "YS"), (1, 18, "MS")])
def test_short_series_train_and_forecast_with_auto_window(tmp_path: Path, which: int, horizon: int,
                                                           freq: str) -> None:
    data = _yearly_and_monthly(tmp_path)[which]
    run = tmp_path / "run"
    result = invoke("train", data, "--time-column", "date", "--column", "value", "--horizon", horizon, "--out", run,
                    "--hidden", "8", "--epochs", "3")
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    n = 30 if which == 0 else 144
    assert metrics["holdout"] and metrics["test_points"] >= horizon  # the test part holds a whole horizon
    assert metrics["final_model"]["refit"] and metrics["final_model"]["points"] == n
    fc_path = tmp_path / "fc.csv"
    result = invoke("predict", run, "--horizon", horizon, "--out", fc_path)
    assert result.exit_code == 0, result.output
    fc = pd.read_csv(fc_path)
    src = pd.read_csv(data)
    want = pd.date_range(src["date"].iloc[-1], periods=horizon + 1, freq=freq)[1:].strftime("%Y-%m-%d")
    assert fc["date"].tolist() == want.tolist() and fc["forecast"].notna().all()
    # a forecast on the series' own scale, not a collapse to zero or an explosion
    assert src["value"].min() * 0.5 < fc["forecast"].mean() < src["value"].max() * 1.5


def test_series_too_short_for_a_holdout_still_forecasts(tmp_path: Path) -> None:
    data = tmp_path / "tiny.csv"
    pd.DataFrame({"date": pd.date_range("2000-01-01", periods=12, freq="YS").strftime("%Y-%m-%d"),
                  "value": np.arange(12.0) + 5}).to_csv(data, index=False)
    run = tmp_path / "run"
    result = invoke("train", data, "--horizon", "6", "--out", run, "--hidden", "8", "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert "no hold-out score was possible" in result.output
    assert not (run / "test_predictions.csv").exists()
    result = invoke("predict", run)
    assert result.exit_code == 2 and "has no held-out test part" in result.output
    result = invoke("predict", run, "--horizon", "6")
    assert result.exit_code == 0, result.output
    result = invoke("plot", run)
    assert result.exit_code == 0, result.output


def test_a_series_skipped_as_too_short_is_named_by_predict(tmp_path: Path) -> None:
    """A series too short to train on is skipped by train, recorded in metrics.json, and every predict (the test
    part, the forecast, --data holding it) leaves it out with a note instead of failing on an unknown series."""
    rows = [(s, i, float(np.sin(i / 3) + 0.01 * i)) for s, n in (("a", 60), ("b", 60), ("c", 5)) for i in range(n)]
    data = tmp_path / "many.csv"
    pd.DataFrame(rows, columns=["id", "t", "y"]).to_csv(data, index=False)
    run = tmp_path / "run"
    result = invoke("train", data, "--id-column", "id", "--horizon", "3", "--out", run, *TINY, "--ensemble", "1")
    assert result.exit_code == 0, result.output
    assert "skipped 1 series shorter than 13 points (--n-prev 10 + 3-step targets): c" in result.output
    assert json.loads((run / "metrics.json").read_text())["data"]["skipped"] == ["c"]
    note = "Note: no rows for 1 series that training skipped as too short for the model's windows: c"
    for extra in ([], ["--horizon", "4"], ["--horizon", "4", "--data", str(data)]):
        result = invoke("predict", run, *extra, "--out", tmp_path / "out.csv")
        assert result.exit_code == 0, result.output
        assert note in result.output
        out = pd.read_csv(tmp_path / "out.csv")
        assert sorted(set(out["id"])) == ["a", "b"]
        assert len(out) == 2 * 4 or not extra
    result = invoke("plot", run, "--series", "c", "--out", tmp_path / "c.png")
    assert result.exit_code == 2
    assert result.output.strip() == (f"Error: --series 'c': training skipped it as too short for the model's windows, "
                                     f"so run {run} has no predictions for it")
    # a checkpoint written before the skipped series were recorded: found by their length
    ckpt = torch.load(run / "model.pt", weights_only=True)
    del ckpt["data"]["skipped"]
    torch.save(ckpt, run / "model.pt")
    result = invoke("predict", run, "--out", tmp_path / "out.csv")
    assert result.exit_code == 0, result.output
    assert note in result.output


def test_new_rows_that_skip_a_month_are_filled_on_the_models_step(tmp_path: Path) -> None:
    data = _yearly_and_monthly(tmp_path)[1]
    run = tmp_path / "run"
    assert invoke("train", data, "--horizon", "6", "--out", run, "--hidden", "8", "--epochs", "2").exit_code == 0
    src = pd.read_csv(data)
    new = pd.concat([src, pd.DataFrame({"date": ["1961-02-01", "1961-04-01"], "value": [300.0, 310.0]})])
    path = tmp_path / "new.csv"
    new.to_csv(path, index=False)  # January and March 1961 have no row
    result = invoke("predict", run, "--data", path, "--horizon", "3", "--out", tmp_path / "fc.csv")
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: column 'value' has 2 missing values (first at date=1961-01-01 00:00:00; 2 of them dates with no "
        "row in the file); use --fill interpolate|ffill|zero|drop")
    result = invoke("predict", run, "--data", path, "--horizon", "3", "--fill", "interpolate", "--out",
                    tmp_path / "fc.csv")
    assert result.exit_code == 0, result.output
    assert "filled 2 missing values of 'value' with --fill interpolate" in result.output
    fc = pd.read_csv(tmp_path / "fc.csv")
    assert fc["date"].tolist() == ["1961-05-01", "1961-06-01", "1961-07-01"]
    # the filled months are rows of the history the model reads, so the forecast is the one for the whole grid
    grid = new.set_index("date").reindex(pd.date_range("1949-01-01", "1961-04-01", freq="MS").strftime("%Y-%m-%d"))
    grid = grid.rename_axis("date").reset_index()
    grid["value"] = grid["value"].interpolate()
    grid.to_csv(tmp_path / "grid.csv", index=False)
    assert invoke("predict", run, "--data", tmp_path / "grid.csv", "--horizon", "3", "--out",
                  tmp_path / "fc2.csv").exit_code == 0
    assert np.allclose(fc["forecast"], pd.read_csv(tmp_path / "fc2.csv")["forecast"])


@pytest.mark.parametrize("args, line", [
    (["train", "{sine}", "--out", "r", "--epoch", "2"], "Error: No such option: --epoch (Possible options: --epochs)"),
    (["train", "{sine}", "--out", "r", "--epochs", "two"], "Error: --epochs must be a whole number; got 'two'"),
    (["train", "{sine}", "--epochs", "2"], "Error: Missing option '--out'."),
    (["train", "{sine}", "--out", "r", "--cell", "transformer"], "Error: --cell must be one of lstm, gru, rnn, peephole, "
                                                                 "cifg; got 'transformer'"),
    (["backtest", "{sine}", "--out", "r", "--lr", "x"], "Error: --lr must be a number; got 'x'"),
    (["train", "{sine}", "--out", "r", "--refit", "yes"], "Error: Got unexpected extra argument(s) (yes)"),
    (["trian", "{sine}"], "Error: No such command 'trian'. Did you mean 'train'?"),
    (["train", "{sine}", "--out", "r", "--quantiles", "0.05,0.95"], "Error: --quantiles sets the levels of --loss "
                                                                    "quantile, but the loss is mse; add --loss "
                                                                    "quantile, or leave --quantiles out"),
    (["predict"], "Error: Missing argument 'run_dir'."),
])
def test_usage_errors_are_one_line_exit_2(sine_csv: Path, args: list[str], line: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a relative --out r lands here, and must not be created
    result = invoke(*[a.format(sine=sine_csv) for a in args])
    assert result.exit_code == 2, result.output
    assert result.stderr == line + "\n" and result.stdout == ""
    assert not Path("r").exists()


def test_json_output_is_one_document(tmp_path: Path, sine_csv: Path) -> None:
    run = tmp_path / "run"
    result = invoke("train", sine_csv, "--out", run, *TINY, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # nothing but the document on stdout
    assert doc["command"] == "train" and doc["run"] == str(run) and doc["interrupted"] is False
    assert doc["files"] == {"checkpoint": str(run / "model.pt"), "history": str(run / "history.csv"),
                            "metrics": str(run / "metrics.json"), "test_predictions": str(run / "test_predictions.csv"),
                            "settings": str(run / "config.toml")}
    assert doc["metrics"]["model"] == json.loads((run / "metrics.json").read_text())["model"]
    assert any("refit on all 161 points" in n for n in doc["notes"])

    result = invoke("predict", run, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["files"] == {"predictions": str(run / "test_predictions.csv")} and doc["metrics"]["model"]["rmse"] > 0
    result = invoke("predict", run, "--horizon", "4", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == {"command": "predict", "files": {"forecast": str(run / "forecast.csv")},
                   "notes": ["forecasting 4 steps recursively one step at a time"], "metrics": {}}

    result = invoke("backtest", sine_csv, "--out", tmp_path / "bt", "--horizon", "2", "--folds", "2", *TINY, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["command"] == "backtest" and doc["metrics"]["winner"]["mase"] in doc["metrics"]["mean"]
    assert set(doc["files"]) == {"forecasts", "metrics", "plot", "settings"}


def test_quiet_prints_nothing(tmp_path: Path, sine_csv: Path) -> None:
    result = invoke("train", sine_csv, "--out", tmp_path / "run", *TINY, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr == ""
    result = invoke("predict", tmp_path / "run", "--horizon", "3", "-q")
    assert result.exit_code == 0 and result.output == ""
    assert (tmp_path / "run" / "forecast.csv").exists()


def test_ctrl_c_in_train_saves_and_exits_130(tmp_path: Path, sine_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lstmcast.cli as cli

    def ctrl_c(name: str) -> None:
        if name == "train:epoch":
            raise KeyboardInterrupt

    monkeypatch.setattr(cli, "pause_point", ctrl_c)
    run = tmp_path / "run"
    result = invoke("train", sine_csv, "--out", run, *TINY)
    assert result.exit_code == 130, result.output
    assert result.stderr.splitlines()[-1] == (
        f"Interrupted after epoch 1: saved the best checkpoint so far (epoch 1) to {run}/ (model.pt, history.csv, "
        f"metrics.json, test_predictions.csv, config.toml); `lstmcast train --resume {run}` continues it")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["interrupted"] and metrics["epochs_run"] == 1 and not metrics["final_model"]["refit"]
    assert invoke("predict", run, "--horizon", "2").exit_code == 0  # what was saved is usable


def test_ctrl_c_while_refitting(tmp_path: Path, sine_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lstmcast.cli as cli

    epochs: list[int] = []

    def ctrl_c_in_the_final_fit(name: str) -> None:
        epochs.append(1)
        if len(epochs) == 3:  # the evaluation model ran its 2 epochs; this is the refit's first
            raise KeyboardInterrupt

    monkeypatch.setattr(cli, "pause_point", ctrl_c_in_the_final_fit)
    run = tmp_path / "run"
    result = invoke("train", sine_csv, "--out", run, *TINY, "--ensemble", "1", "--json")
    assert result.exit_code == 130, result.output
    assert json.loads(result.stdout)["interrupted"] is True
    assert result.stderr.splitlines()[-1] == (
        "Interrupted while refitting the final model on all points (after 1 of its epochs): saved it as it stood, "
        f"with the evaluation model's scores, to {run}/ (model.pt, history.csv, metrics.json, test_predictions.csv, "
        f"config.toml); `lstmcast train --resume {run}` continues it")


def test_ctrl_c_before_the_refits_first_epoch_keeps_the_evaluation_model(
        tmp_path: Path, sine_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lstmcast.run
    import lstmcast.train
    from lstmcast.train import refit

    def ctrl_c(*args: object) -> object:
        raise KeyboardInterrupt

    def ctrl_c_at_once(*args: object, **kw: object) -> object:  # at the refit's first batch
        monkeypatch.setattr(lstmcast.train, "_batches", ctrl_c)
        return refit(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(lstmcast.run, "refit", ctrl_c_at_once)
    run = tmp_path / "run"
    result = invoke("train", sine_csv, "--out", run, *TINY, "--ensemble", "1")
    assert result.exit_code == 130, result.output
    assert result.stderr.splitlines()[-1] == (
        "Interrupted before the final model's first epoch on all points finished: saved the evaluation model, "
        f"trained in full, as the forecast model to {run}/ (model.pt, history.csv, metrics.json, "
        f"test_predictions.csv, config.toml); `lstmcast train --resume {run}` continues it")
    assert "the forecast model is the evaluation model, which never saw the test part" in result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["interrupted"] and metrics["epochs_run"] == 2
    assert metrics["final_model"] == {"refit": False, "refit_interrupted": True, "points": 145, "epochs": 2,
                                      "member_epochs": [2]}
    assert invoke("predict", run, "--horizon", "2").exit_code == 0
    monkeypatch.undo()
    result = invoke("train", "--resume", run)  # refits the final model; the evaluation model is done
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert not metrics["interrupted"] and metrics["final_model"]["refit"] and metrics["final_model"]["points"] == 161


@pytest.mark.parametrize("command", ["backtest", "compare"])
def test_ctrl_c_in_a_fit_reports_no_winner(tmp_path: Path, sine_csv: Path, monkeypatch: pytest.MonkeyPatch,
                                           command: str) -> None:
    import lstmcast.backtest
    import lstmcast.compare
    from lstmcast.train import fit

    module = lstmcast.backtest if command == "backtest" else lstmcast.compare
    calls: list[int] = []

    def fit_then_ctrl_c(panel: object, cfg: TrainConfig, *args: object, **kw: object) -> object:
        calls.append(1)
        if len(calls) == 2:  # Ctrl-C during the second fit's first epoch: fit keeps what it has and returns

            def stop(info: object) -> None:
                raise KeyboardInterrupt

            return fit(panel, cfg, stop, **kw)  # type: ignore[arg-type]
        return fit(panel, cfg, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "fit", fit_then_ctrl_c)
    out = tmp_path / "out"
    extra = ["--horizon", "2", "--folds", "3"] if command == "backtest" else ["--cells", "lstm", "--seeds", "3"]
    result = invoke(command, sine_csv, "--out", out, *extra, *TINY)
    assert result.exit_code == 130, result.output
    what = "lstm for fold 2 of 3" if command == "backtest" else "lstm with seed 1"
    kind = "a backtest" if command == "backtest" else "a comparison"
    assert result.stderr.splitlines()[-1] == (  # under the progress bar, which is on stderr
        f"Interrupted while fitting {what}; nothing was written ({kind} scores only complete fits)")
    assert "Best" not in result.stdout and not out.exists()


@pytest.mark.parametrize("length,paths", [(60, True), (200, False)])
def test_plot_of_a_multi_step_test_part(tmp_path: Path, length: int, paths: bool) -> None:
    """Few cutoffs: every cutoff's whole forecast path after some history; many: the 1- and H-step lines."""
    t = pd.date_range("2010-01-01", periods=length, freq="MS")
    csv = tmp_path / "m.csv"
    pd.DataFrame({"date": t, "y": 100 + np.arange(length) + 5 * np.sin(np.arange(length))}).to_csv(csv, index=False)
    run = tmp_path / "run"
    assert invoke("train", csv, "--out", run, "--horizon", "4", *TINY, "--ensemble", "1", "-q").exit_code == 0
    preds = pd.read_csv(run / "test_predictions.csv", parse_dates=["date", "cutoff"])
    import matplotlib.pyplot as plt

    from lstmcast import plot as plot_module

    figs = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plot_module, "_save", lambda fig, out: figs.append(fig) or out)
        result = invoke("plot", run, "--out", tmp_path / "p.png")
    assert result.exit_code == 0, result.output
    lines = figs[0].axes[0].get_lines()
    plt.close(figs[0])
    actual = next(ln for ln in lines if ln.get_label() == "actual")
    first_test = preds["date"].min()
    x = pd.to_datetime([pd.Timestamp(v) if not isinstance(v, float) else v for v in actual.get_xdata()])
    n_test = preds["date"].nunique()
    assert (x < first_test).sum() == min(n_test, length - n_test) and (x >= first_test).sum() == n_test
    drawn = [ln for ln in lines if ln.get_color() in ("tab:orange", "tab:red")]
    if paths:  # one line per cutoff, each the cutoff's 4 forecasts
        cutoffs = preds["cutoff"].unique()
        assert 1 < len(cutoffs) <= plot_module.PATHS and len(drawn) == len(cutoffs)
        for ln, c in zip(drawn, cutoffs):
            np.testing.assert_allclose(ln.get_ydata(), preds.loc[preds["cutoff"] == c, "predicted"])
        assert drawn[0].get_label() == f"forecast from each of {len(cutoffs)} cutoffs (4 steps)"
    else:
        assert [ln.get_label() for ln in drawn] == ["predicted 1 step ahead", "predicted 4 steps ahead"]
        np.testing.assert_allclose(drawn[1].get_ydata(), preds.loc[preds["step"] == 4, "predicted"])
