from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import lstmcast.backtest as bt
from lstmcast.backtest import BacktestResult, FoldInfo, backtest, backtest_run, fold_origins
from lstmcast.config import TrainConfig
from lstmcast.data import Panel, load_panel, panel_from_frame
from lstmcast.errors import LstmcastError
from lstmcast.forecast import predict_at
from lstmcast.scaling import Scaler
from tests.conftest import tiny_config


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny models train many times faster on one thread than with two fighting over busy cores."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def one(**kw: object) -> dict[str, TrainConfig]:
    return {"lstm": tiny_config(epochs=1, **kw)}


def collect(panel: Panel, models: dict[str, TrainConfig], **kw: object) -> tuple[BacktestResult, list[FoldInfo]]:
    seen: list[FoldInfo] = []
    result = backtest(panel, models, on_fold=seen.append, **kw)  # type: ignore[arg-type]
    return result, seen


def test_fold_origins_by_hand() -> None:
    # two series of 20 and 30 points; H=3, K=3, step 2: the last fold's targets end at each series' end
    o = fold_origins(np.array([0, 20, 50]), horizon=3, folds=3, step=2)
    assert o.tolist() == [[13, 43], [15, 45], [17, 47]]
    assert fold_origins(np.array([0, 10]), 4, 1, 4).tolist() == [[6]]


@pytest.mark.parametrize(("step", "origins"), [(None, [146, 151, 156]), (2, [152, 154, 156])])
def test_origins_where_the_formula_says(sine_csv: Path, step: int | None, origins: list[int]) -> None:
    panel = load_panel(sine_csv)  # t = 0..160, so the time equals the index
    res = backtest(panel, one(), horizon=5, folds=3, step=step, retrain="never")
    assert [f["origin_time"] for f in res.metrics["per_fold"]] == [[o] for o in origins]
    df = res.forecasts
    assert df.groupby("fold")["cutoff"].first().tolist() == [o - 1 for o in origins]
    assert df.groupby("fold")["t"].max().tolist() == [o + 4 for o in origins]
    assert df["t"].max() == 160 and len(df) == 15
    assert df["step"].tolist() == [1, 2, 3, 4, 5] * 3
    np.testing.assert_allclose(df["actual"], panel.values[df["t"].to_numpy()])
    assert res.metrics["step"] == (step or 5)


def test_origins_never_see_the_future(sine_csv: Path) -> None:
    panel = load_panel(sine_csv)
    res, seen = collect(panel, one(), horizon=4, folds=3, step=3, retrain="always")
    origins = [151, 154, 157]  # 161 - 4 - (2 - k) * 3
    for k, (info, fold) in enumerate(zip(seen, res.metrics["per_fold"])):
        assert info.fold == k and info.trained
        assert fold["origin_time"] == [origins[k]] and fold["train_end_time"] == [origins[k] - 1]
        assert fold["train_points"] == [origins[k]]
        assert info.fitted.prep.train_ends.tolist() == [origins[k]]
        prep = info.fitted.prep
        by_hand = Scaler("standard").fit(panel.values[:origins[k]], np.array([0, origins[k]]), np.array([origins[k]]),
                                         phase=prep.phase[:origins[k]], m=prep.season_length or 1, log="auto",
                                         deseason=True)  # fitted on a copy that holds no later point at all
        np.testing.assert_allclose(prep.scaler.loc, by_hand.loc)
        np.testing.assert_allclose(prep.scaler.scale, by_hand.scale)
        np.testing.assert_allclose(prep.scaler.season, by_hand.season)

    # changing everything from the first origin on must not change that fold's forecasts
    later = load_panel(sine_csv)
    later.values = later.values.copy()
    later.values[151:] += 100.0
    c = backtest(panel, one(), horizon=4, folds=3, step=3, retrain="never").forecasts
    d = backtest(later, one(), horizon=4, folds=3, step=3, retrain="never").forecasts
    for col in ("lstm", "naive", "seasonal_naive", "drift", "mean"):
        np.testing.assert_array_equal(c.loc[c["fold"] == 0, col], d.loc[d["fold"] == 0, col])
    # ... while a later fold, whose history holds changed points, does see them
    assert not np.array_equal(c.loc[c["fold"] == 2, "lstm"], d.loc[d["fold"] == 2, "lstm"])


def test_retrain_never_trains_once(sine_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    panel = load_panel(sine_csv)
    calls: list[int] = []
    real_fit = bt.fit

    def counting_fit(*args: object, **kw: object) -> object:
        calls.append(1)
        return real_fit(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(bt, "fit", counting_fit)
    never, seen_never = collect(panel, one(), horizon=3, folds=3, retrain="never")
    assert len(calls) == 1 and [i.trained for i in seen_never] == [True, False, False]
    assert all(i.fitted is seen_never[0].fitted for i in seen_never)
    always, seen_always = collect(panel, one(), horizon=3, folds=3, retrain="always")
    assert len(calls) == 4 and [i.trained for i in seen_always] == [True, True, True]
    assert [f["trained"] for f in never.metrics["per_fold"]] == [True, False, False]
    assert never.metrics["per_fold"][2]["train_seconds"]["lstm"] == 0.0
    # every fold of `never` trains on the first fold's part only; it is still before every origin
    assert [f["train_end_time"] for f in never.metrics["per_fold"]] == [[151]] * 3
    assert [f["train_end_time"] for f in always.metrics["per_fold"]] == [[151], [154], [157]]
    # same training data and seed: the first fold agrees; later folds are the first model at later origins
    fn, fa = never.forecasts, always.forecasts
    np.testing.assert_allclose(fn.loc[fn["fold"] == 0, "lstm"], fa.loc[fa["fold"] == 0, "lstm"], rtol=1e-6)
    point, _ = predict_at(seen_never[0].fitted, np.array([155, 158]), 3)
    np.testing.assert_allclose(fn.loc[fn["fold"] > 0, "lstm"].to_numpy(), point.reshape(-1), rtol=1e-6)
    assert any("retrain never: each model was trained 1 time for 3 folds" in n for n in never.notes)
    assert any("retrain always: each model was trained 3 times for 3 folds" in n for n in always.notes)


def test_two_models_two_columns(sine_csv: Path) -> None:
    models = {"direct": tiny_config(epochs=1, strategy="direct"),
              "recursive": tiny_config(epochs=1, strategy="recursive")}
    res = backtest(load_panel(sine_csv), models, horizon=3, folds=2, retrain="never")
    assert list(res.forecasts.columns) == ["fold", "cutoff", "step", "t", "actual", "direct", "recursive",
                                           "naive", "seasonal_naive", "drift", "mean"]
    m = res.metrics
    assert set(m["mean"]) == {"direct", "recursive", "naive", "seasonal_naive", "drift", "mean"}
    assert {"mae", "rmse", "smape", "mase"} <= set(m["mean"]["direct"])
    assert m["models"]["direct"]["strategy"] == "direct" and m["models"]["recursive"]["strategy"] == "recursive"
    assert m["models"]["direct"]["horizon"] == 3  # configs take the backtest's horizon
    assert set(m["winner"]) == {"mae", "rmse", "smape", "mase"} and m["winner"]["mae"] in m["mean"]
    assert m["season_length"] is None and m["mase_lag"] == 1
    json.dumps(m, allow_nan=False)  # plain JSON: no NumPy values, no NaN
    assert any("seasonal_naive equals naive" in n for n in res.notes)
    np.testing.assert_array_equal(res.forecasts["naive"], res.forecasts["seasonal_naive"])
    # mean over folds is the mean of the per-fold scores
    folds = [f["metrics"]["naive"]["mae"] for f in m["per_fold"]]
    assert m["mean"]["naive"]["mae"] == pytest.approx(np.mean(folds))


def test_multi_series_rows_and_scalers(long_csv: Path) -> None:
    panel = load_panel(long_csv, id_column="store")
    models = {"lstm": tiny_config(epochs=1, id_column="store")}
    res, seen = collect(panel, models, horizon=3, folds=2, retrain="always")
    df = res.forecasts
    assert list(df.columns[:6]) == ["store", "fold", "cutoff", "step", "date", "actual"]
    assert len(df) == 3 * 2 * 3
    assert df.groupby(["store", "fold"]).size().tolist() == [3] * 6
    last = df[df["fold"] == 1].groupby("store")["date"].max()
    assert last.tolist() == ["2024-03-20"] * 3  # 80 days from 2024-01-01: the last fold ends at each end
    assert df.groupby(["store", "fold"])["cutoff"].first().tolist() == ["2024-03-14", "2024-03-17"] * 3
    for k, info in enumerate(seen):
        origins = panel.starts[1:] - 3 - (1 - k) * 3
        assert info.fitted.prep.train_ends.tolist() == origins.tolist()
        prep = info.fitted.prep
        by_hand = Scaler("standard").fit(panel.values, panel.starts, origins, phase=prep.phase,
                                         m=prep.season_length or 1, log="auto", deseason=True)
        np.testing.assert_allclose(info.fitted.prep.scaler.loc, by_hand.loc)
        np.testing.assert_allclose(info.fitted.prep.scaler.scale, by_hand.scale)
    for fold in res.metrics["per_fold"]:
        assert all(pd.Timestamp(t) < pd.Timestamp(o) for t, o in zip(fold["train_end_time"], fold["origin_time"]))
    per = res.metrics["per_series"]
    assert set(per) == {"s0", "s1", "s2"} and set(per["s0"]) == {"lstm", "naive", "seasonal_naive", "drift", "mean"}
    assert res.metrics["season_length"] == 7
    # rows of series s1 are on s1's level (about 5), not mixed with the others
    s1 = df[df["store"] == "s1"]
    np.testing.assert_allclose(s1["naive"].to_numpy()[::3], panel.values[[153, 156]])  # s1 is points 80..159


def test_baseline_columns_by_hand_and_files(daily_csv: Path, tmp_path: Path) -> None:
    models = {"q": tiny_config(epochs=1, loss="quantile", column="sales")}
    out = tmp_path / "bt"
    result = backtest_run(daily_csv, models, out, horizon=3, folds=2, step=5, retrain="never", samples=20)
    assert {p.name for p in result.paths.values()} == {"backtest.csv", "backtest.json", "backtest.png"}
    df = pd.read_csv(out / "backtest.csv")
    assert list(df.columns) == ["fold", "cutoff", "step", "date", "actual", "q", "q_lo_80", "q_hi_80",
                                "naive", "seasonal_naive", "drift", "mean"]
    y = pd.read_csv(daily_csv)["sales"].to_numpy()
    for k, o in enumerate([172, 177]):  # 180 - 3 - (1 - k) * 5
        rows = df[df["fold"] == k]
        assert rows["date"].tolist() == pd.date_range("2024-01-01", periods=180)[o:o + 3].strftime("%Y-%m-%d").tolist()
        np.testing.assert_allclose(rows["actual"], y[o:o + 3])
        np.testing.assert_allclose(rows["naive"], [y[o - 1]] * 3)
        np.testing.assert_allclose(rows["seasonal_naive"], y[o - 7:o - 4])  # weekly season from the daily freq
        np.testing.assert_allclose(rows["drift"], y[o - 1] + np.arange(1, 4) * (y[o - 1] - y[0]) / (o - 1))
        np.testing.assert_allclose(rows["mean"], [y[:o].mean()] * 3)
    assert (df["q_lo_80"] <= df["q_hi_80"]).all()

    m = json.loads((out / "backtest.json").read_text())
    assert {"horizon", "folds", "step", "retrain", "season_length", "mean", "per_fold", "winner", "notes",
            "data"} <= set(m)
    assert (m["horizon"], m["folds"], m["step"], m["retrain"], m["season_length"]) == (3, 2, 5, "never", 7)
    assert "per_series" not in m  # one series
    assert {"crps", "pinball", "coverage_80", "width_80", "mase"} <= set(m["mean"]["q"])
    assert "crps" not in m["mean"]["naive"]
    # MASE scale: the in-sample seasonal-naive MAE of each fold's own training part
    scale = np.mean(np.abs(y[7:172] - y[:165]))
    assert m["per_fold"][0]["metrics"]["naive"]["mase"] == pytest.approx(np.mean(np.abs(y[172:175] - y[171])) / scale)
    assert m["per_fold"][0]["origin_time"] == ["2024-06-21"] and m["per_fold"][0]["train_end_time"] == ["2024-06-20"]
    assert len(m["data"]["sha256"]) == 64
    assert (out / "backtest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temp files


def test_plot_for_many_series(long_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "bt"
    models = {"direct": tiny_config(epochs=1, id_column="store"),
              "recursive": tiny_config(epochs=1, id_column="store", strategy="recursive")}
    backtest_run(long_csv, models, out, horizon=2, folds=2, retrain="never")
    assert (out / "backtest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(json.loads((out / "backtest.json").read_text())["per_series"]) == {"s0", "s1", "s2"}


@pytest.mark.parametrize(("kw", "message"), [
    (dict(horizon=50, folds=4), "--horizon 50 with --folds 4 and --step 50 holds out 200 points, and training needs "
                                "more before them; the series has 161: use --folds 2 or fewer, or a smaller --step"),
    (dict(horizon=90, folds=2), "--horizon 90 with --folds 2 and --step 90 holds out 180 points, and training "
                                 "needs more before them; the series has 161: use --folds 1 with a --horizon of at "
                                 "most 79"),
    (dict(horizon=5, folds=0), "--folds must be at least 1, got 0"),
    (dict(horizon=5, folds=2, step=0), "--step must be at least 1, got 0"),
    (dict(horizon=0, folds=2), "--horizon must be at least 1, got 0"),
    (dict(horizon=5, folds=2, retrain="sometimes"), "--retrain must be one of always, never; got 'sometimes'"),
    (dict(horizon=50, folds=3), "the training part before the first origin has 11 points but --n-prev 10 "
                                "with 50-step targets needs at least 61; use --folds 2 or a smaller --horizon"),
    (dict(horizon=5, folds=30), "the training part before the first origin has 11 points but --n-prev 10 "
                                "with 5-step targets needs at least 16; use --folds 29 or a smaller --n-prev (at most "
                                "5) or a smaller --horizon"),
])
def test_bad_arguments(sine_csv: Path, kw: dict[str, object], message: str) -> None:
    with pytest.raises(LstmcastError) as e:
        backtest(load_panel(sine_csv), one(), **kw)  # type: ignore[arg-type]
    assert str(e.value) == message


def test_bad_model_names(sine_csv: Path) -> None:
    with pytest.raises(LstmcastError, match="model name 'naive' is empty or clashes with a column"):
        backtest(load_panel(sine_csv), {"naive": tiny_config()}, horizon=2, folds=1)
    with pytest.raises(LstmcastError, match="uses a different --column"):
        backtest(load_panel(sine_csv), {"a": tiny_config(), "b": tiny_config(column="x")}, horizon=2, folds=1)


def test_short_series_are_skipped_with_a_note(long_csv: Path, tmp_path: Path) -> None:
    df = pd.read_csv(long_csv)
    df = df[(df["store"] != "s2") | (df.groupby("store").cumcount() < 15)]  # s2 keeps only 15 days
    path = tmp_path / "short.csv"
    df.to_csv(path, index=False)
    res = backtest(load_panel(path, id_column="store"), {"m": tiny_config(epochs=1, id_column="store")},
                   horizon=3, folds=2)
    assert res.metrics["series"] == ["s0", "s1"] and set(res.forecasts["store"]) == {"s0", "s1"}
    assert any("skipped 1 series whose first training part is shorter than 14 points (m): s2" in n for n in res.notes)


def test_one_short_series_does_not_shrink_the_auto_window_of_the_others() -> None:
    """--n-prev auto follows the median series' first training part, as train's does (the shortest's gave every
    series of this file a window of 2); a series the window does not fit is skipped with a note."""
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"id": k, "t": np.arange(n), "y": rng.normal(10, 1, n)})
              for k, n in (("a", 200), ("b", 200), ("c", 200), ("d", 200), ("e", 12))]
    panel = panel_from_frame(pd.concat(frames, ignore_index=True), column="y", time_column="t", id_column="id")
    res = backtest(panel, {"m": tiny_config(epochs=1, n_prev=None, id_column="id")}, horizon=3, folds=2)
    assert "m: a window of 30 steps (--n-prev auto; the same in every fold)" in res.notes
    assert res.metrics["series"] == ["a", "b", "c", "d"]
    assert any("skipped 1 series whose first training part is shorter than 34 points (m): e" in n for n in res.notes)
    assert not any("the window is cut" in n for n in res.notes)
    # many folds leave the first one little history: the window it forces on every fold is said
    one = panel_from_frame(frames[0].iloc[:60].drop(columns="id"), column="y", time_column="t")
    res = backtest(one, {"m": tiny_config(epochs=1, n_prev=None)}, horizon=3, folds=15)
    assert ("m: the window is cut from 30 to 2 steps because the first fold trains on 15 points; fewer --folds or a "
            "smaller --step leave it more") in res.notes


def test_series_that_end_at_different_times_get_a_note() -> None:
    """Each fold's cutoff is per series, so a global model reads points past another series' cutoff: said, as
    train's leakage audit says it (nothing did)."""
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"id": k, "t": np.arange(a, a + 60), "y": rng.normal(10, 1, 60)}) for k, a in (("a", 0),
                                                                                                      ("b", 20))]
    panel = panel_from_frame(pd.concat(frames, ignore_index=True), column="y", time_column="t", id_column="id")
    res = backtest(panel, {"m": tiny_config(epochs=1, id_column="id")}, horizon=3, folds=2)
    assert ("the series end at different times, so each fold's cutoff is per series (the first fold's run from 53 to "
            "73): a model trained across series reads points of some series later than another series' cutoff, as "
            "train's leakage audit notes for such files (ragged_note)") in res.notes
    even = panel_from_frame(pd.concat([f.assign(t=np.arange(60)) for f in frames], ignore_index=True), column="y",
                            time_column="t", id_column="id")
    assert not any("different times" in n for n in backtest(even, {"m": tiny_config(epochs=1, id_column="id")},
                                                             horizon=3, folds=2).notes)


def test_filled_targets_are_not_scored_and_baselines_stay_causal() -> None:
    """y[155] is missing: as fold 0's last target it is not scored, and fold 1 (origin 156) forecasts
    naive from y[154] carried forward, not from a line drawn to its own first target y[156]."""
    t = np.arange(161)
    y = np.sin(2 * np.pi * t / 20) + 0.01 * t
    y[155] = np.nan
    panel = panel_from_frame(pd.DataFrame({"t": t, "y": y}), fill="interpolate")
    res = backtest(panel, one(fill="interpolate"), horizon=5, folds=2, retrain="never")
    df = res.forecasts
    assert df["actual"].isna().tolist() == [ti == 155 for ti in df["t"]]
    np.testing.assert_allclose(df.loc[df["fold"] == 1, "naive"], y[154])
    fold0 = res.metrics["per_fold"][0]["metrics"]["naive"]
    assert fold0["mae"] == pytest.approx(np.mean(np.abs(y[151:155] - y[150])))
