from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lstmcast.data import EXACT_FLOATS, load_panel, panel_from_frame, refill_training
from lstmcast.errors import LstmcastError
from lstmcast.forecast import predict_at
from lstmcast.run import _audit, evaluate
from lstmcast.scaling import Scaler
from lstmcast.train import EpochInfo, cpu_has_bf16, fit, plan_split, prepare, resolve_precision, training_windows
from tests.conftest import tiny_config


def test_scaler_round_trip_and_per_series() -> None:
    v = np.array([1.0, 2.0, 3.0, 100.0, 200.0, 300.0, 400.0])
    starts = np.array([0, 3, 7])
    for kind in ("standard", "minmax", "none"):
        sc = Scaler(kind).fit(v, starts, np.array([2, 5]))
        sid = np.repeat([0, 1], [3, 4])
        np.testing.assert_allclose(sc.inverse_transform(sc.transform(v, sid), sid), v)
        sc2 = Scaler.from_dict(sc.to_dict())
        np.testing.assert_allclose(sc2.transform(v, sid), sc.transform(v, sid))
    sc = Scaler("standard").fit(v, starts, np.array([2, 5]))
    assert sc.loc.tolist() == [1.5, 150.0]  # only the training points of each series
    assert sc.scale.tolist() == [0.5, 50.0]


def test_scaler_never_sees_test_points(sine_csv: Path) -> None:
    cfg = tiny_config()
    panel = load_panel(sine_csv)
    a = prepare(panel, cfg)
    panel.values = panel.values.copy()
    panel.values[a.train_ends[0]:] += 1000.0  # change only the test part
    b = prepare(panel, cfg)
    assert a.scaler.to_dict() == b.scaler.to_dict()


def test_training_windows_stay_in_training_part(long_csv: Path) -> None:
    cfg = tiny_config(horizon=3, val_size=0.2)
    prep = prepare(load_panel(long_csv, id_column="store"), cfg)
    tr, va = training_windows(prep, cfg.model_horizon, cfg.val_size)
    sid_tr = np.searchsorted(prep.panel.starts, tr, side="right") - 1
    sid_va = np.searchsorted(prep.panel.starts, va, side="right") - 1
    assert np.all(tr + 3 <= prep.train_ends[sid_tr]) and np.all(va + 3 <= prep.train_ends[sid_va])
    assert np.all(tr - cfg.n_prev >= prep.panel.starts[sid_tr])  # inputs inside their own series
    for s in range(3):  # validation is the latest windows of each series
        assert tr[sid_tr == s].max() < va[sid_va == s].min()


def test_validation_targets_are_not_training_targets(long_csv: Path) -> None:
    """At H=12 the training windows stop 11 origins before the first validation window (a gap), so no
    target is both trained on and validated on; every series keeps both kinds of window."""
    cfg = tiny_config(horizon=12, val_size=0.2)
    prep = prepare(load_panel(long_csv, id_column="store"), cfg)
    tr, va = training_windows(prep, 12, 0.2)
    steps = np.arange(12)
    t_tr, t_va = np.unique(tr[:, None] + steps), np.unique(va[:, None] + steps)
    assert np.intersect1d(t_tr, t_va).size == 0
    for s in range(3):
        lo, hi = prep.panel.starts[s], prep.panel.starts[s + 1]
        in_tr, in_va = t_tr[(t_tr >= lo) & (t_tr < hi)], t_va[(t_va >= lo) & (t_va < hi)]
        assert in_tr.size and in_va.size and in_tr.max() < in_va.min()


def test_short_run_lowers_the_loss(sine_csv: Path) -> None:
    fitted = fit(load_panel(sine_csv), tiny_config(epochs=8, optimizer="adam", deseason="none"))
    losses = [h["train_loss"] for h in fitted.history]
    assert losses[-1] < 0.5 * losses[0]


def test_same_seed_same_history_and_predictions(sine_csv: Path) -> None:
    panel = load_panel(sine_csv)
    runs = [fit(panel, tiny_config(seed=7)) for _ in range(2)]
    assert [h["train_loss"] for h in runs[0].history] == [h["train_loss"] for h in runs[1].history]
    p0, p1 = (evaluate(r)[0]["predicted"].to_numpy() for r in runs)
    np.testing.assert_array_equal(p0, p1)
    other = fit(panel, tiny_config(seed=8))
    assert not np.array_equal(evaluate(other)[0]["predicted"].to_numpy(), p0)


def test_every_test_point_is_a_target(sine_csv: Path) -> None:
    fitted = fit(load_panel(sine_csv), tiny_config(epochs=1))
    df, metrics = evaluate(fitted)
    n_test = 161 - fitted.prep.train_ends[0]
    assert len(df) == n_test == metrics["test_points"]
    assert df["t"].tolist() == list(range(fitted.prep.train_ends[0], 161))
    np.testing.assert_allclose(df["actual"], fitted.prep.panel.values[fitted.prep.train_ends[0]:])
    # the naive baseline is the previous actual value
    prev = fitted.prep.panel.values[fitted.prep.train_ends[0] - 1:-1]
    assert metrics["naive"]["mae"] == pytest.approx(np.mean(np.abs(df["actual"] - prev)))


def test_imputed_test_points_are_not_scored() -> None:
    """One of the 10 test values is missing (filled for the inputs): metrics cover the other 9, the
    predictions file shows no actual there, and the naive MAE is over the 9 observed targets only."""
    t = np.arange(100)
    y = np.sin(2 * np.pi * t / 20) + 0.01 * t
    y[95] = np.nan
    fitted = fit(panel_from_frame(pd.DataFrame({"t": t, "y": y}), fill="interpolate"), tiny_config(epochs=1))
    df, m = evaluate(fitted)
    assert fitted.prep.train_ends.tolist() == [90]
    assert m["test_points"] == 10 and m["scored_points"] == 9
    assert df["actual"].isna().tolist() == [i == 95 for i in range(90, 100)]
    v = fitted.prep.panel.values
    scored = np.array([i for i in range(90, 100) if i != 95])
    assert m["naive"]["mae"] == pytest.approx(np.mean(np.abs(v[scored] - v[scored - 1])))


def test_leakage_audit_checks_how_gaps_were_filled() -> None:
    """A gap across the split: filled over the whole series it reads the test part, and the audit says
    so; re-filled with refill_training after the split it does not."""
    t = np.arange(100)
    y = np.sin(2 * np.pi * t / 20)
    y[87:93] = np.nan  # the split is at 90
    panel = panel_from_frame(pd.DataFrame({"t": t, "y": y}), fill="interpolate")
    fitted = fit(panel, tiny_config(epochs=1, fill="interpolate"))
    prep = fitted.prep
    prep.panel = replace(prep.panel, values=panel.values.copy())  # as loaded: one line through the gap
    assert "may read a later value" in _audit(fitted)["fill_note"]
    prep.panel = replace(prep.panel, values=refill_training(panel.values, panel.observed, panel.starts,
                                                            prep.train_ends, "interpolate"))
    note = _audit(fitted)["fill_note"]
    assert "training points read training observations only" in note and "later" not in note


def test_too_short_series_says_the_minimum(sine_csv: Path) -> None:
    with pytest.raises(LstmcastError, match=r"^the series has 161 points but --n-prev 170 \+ --horizon 3 needs at "
                                            r"least 173; use a smaller --n-prev \(or --n-prev auto\)$"):
        fit(load_panel(sine_csv), tiny_config(n_prev=170, horizon=3))


def test_series_too_short_for_a_holdout_trains_on_everything(sine_csv: Path) -> None:
    fitted = fit(load_panel(sine_csv), tiny_config(n_prev=150, epochs=1))
    assert fitted.prep.train_ends[0] == 161  # no test part: all points train
    assert any(n.startswith("no hold-out score was possible") for n in fitted.prep.notes)


def test_auto_window_advice_never_names_n_prev() -> None:
    one = panel_from_frame(pd.DataFrame({"y": [1.0]}))
    with pytest.raises(LstmcastError, match=r"^the series has 1 point but --horizon 1 needs at least 2 \(a window "
                                            r"of 1 and 1 target\); the series needs more points$"):
        fit(one, tiny_config(n_prev=None))
    with pytest.raises(LstmcastError, match=r"^the series has 5 points but --horizon 6 needs at least 7 \(a window "
                                            r"of 1 and 6 targets\); use a smaller --horizon \(at most 4\)$"):
        fit(panel_from_frame(pd.DataFrame({"y": np.arange(5.0)})), tiny_config(n_prev=None, horizon=6))


def test_non_finite_loss_stops_with_advice(sine_csv: Path) -> None:
    with pytest.raises(LstmcastError, match=r"training loss became (nan|inf) at epoch 1; try a smaller --lr \(now 1e\+30\)"):
        fit(load_panel(sine_csv), tiny_config(lr=1e30, optimizer="adam", epochs=3))


def test_ctrl_c_keeps_the_best_model(sine_csv: Path) -> None:
    seen: list[EpochInfo] = []

    def stop_at_two(e: EpochInfo) -> None:
        seen.append(e)
        if e.epoch == 2:
            raise KeyboardInterrupt

    fitted = fit(load_panel(sine_csv), tiny_config(epochs=5), on_epoch=stop_at_two)
    assert fitted.interrupted and len(fitted.history) == 2 and fitted.best_epoch in (1, 2)


def test_direct_and_recursive_shapes(sine_csv: Path) -> None:
    panel = load_panel(sine_csv)
    direct = fit(panel, tiny_config(horizon=4, epochs=1))
    recursive = fit(panel, tiny_config(horizon=4, strategy="recursive", epochs=1))
    assert direct.config.resolved_strategy == "direct" and direct.model.head.out_features == 4
    assert recursive.config.resolved_strategy == "recursive" and recursive.model.head.out_features == 1
    origins = np.array([100, 120])
    for f in (direct, recursive):
        point, q = predict_at(f, origins, 4)
        assert point.shape == (2, 4) and q is None
    # a direct model asked for more than it was trained for recurses in blocks
    assert predict_at(direct, origins, 10)[0].shape == (2, 10)


def test_multi_series_scaled_on_their_own(long_csv: Path) -> None:
    fitted = fit(load_panel(long_csv, id_column="store"), tiny_config(epochs=1))
    sc = fitted.prep.scaler
    assert sc.log.tolist() == [True, True, False]  # positive series are modelled in logs, each on its own level
    assert np.exp(sc.loc[0]) == pytest.approx(100, abs=2) and np.exp(sc.loc[1]) == pytest.approx(5, abs=0.5)
    df, m = evaluate(fitted)
    assert set(df["store"]) == {"s0", "s1", "s2"} and m["series"] == 3


def test_cuda_request_without_gpu_is_an_error(sine_csv: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(LstmcastError, match=r"--device cuda asked but no CUDA GPU"):
        fit(load_panel(sine_csv), tiny_config(device="cuda"))


def test_default_training_budget() -> None:
    from lstmcast.config import TrainConfig

    cfg = TrainConfig()
    assert (cfg.batch_for(20000), cfg.epochs_for(20000, 600)) == (600, 15)  # the tutorial's, on long series
    assert (cfg.batch_for(3392), cfg.epochs_for(3392, 212)) == (212, 15)  # 16 steps an epoch
    assert (cfg.batch_for(450), cfg.epochs_for(450, 32)) == (32, 16)  # 15 steps -> 240 needs 16 epochs
    assert (cfg.batch_for(50), cfg.epochs_for(50, 32)) == (32, 120)
    fixed = TrainConfig(batch_size=600, epochs=15)
    assert (fixed.batch_for(50), fixed.epochs_for(50, 600)) == (600, 15)  # explicit flags are obeyed


def test_ensemble_forecasts_the_median_of_its_members(tmp_path: Path, sine_csv: Path) -> None:
    from lstmcast.checkpoint import load_checkpoint
    from lstmcast.model import Ensemble
    from lstmcast.run import train_run

    cfg = tiny_config(ensemble=3, horizon=2, epochs=2, training="windows")
    fitted = fit(load_panel(sine_csv), cfg)
    assert isinstance(fitted.model, Ensemble) and len(fitted.model.members) == 3
    assert len(fitted.best_epochs) == 3
    x = torch.randn(4, 10, 1)
    outs = torch.stack([m(x) for m in fitted.model.members])
    assert not torch.equal(outs[0], outs[1])  # members start from different seeds
    torch.testing.assert_close(fitted.model(x), outs.median(dim=0).values)
    train_run(sine_csv, cfg, tmp_path / "run")
    ckpt = load_checkpoint(tmp_path / "run")
    again = ckpt.fitted(load_panel(sine_csv), split=True)
    assert isinstance(again.model, Ensemble)
    np.testing.assert_array_equal(evaluate(again)[0]["predicted"], pd.read_csv(tmp_path / "run" / "test_predictions.csv", **EXACT_FLOATS)["predicted"])


def test_one_short_series_does_not_shrink_the_window_of_the_others() -> None:
    from lstmcast.train import plan_split

    lengths = np.array([400, 400, 400, 400, 400, 3])
    plan = plan_split(lengths, tiny_config(n_prev=None), None, [f"s{i}" for i in range(6)])
    assert plan.n_prev == 30 and plan.keep.tolist() == [True] * 5 + [False]
    assert any(n.startswith("skipped 1 series shorter than 31 points") and "s5" in n for n in plan.notes)


def test_many_short_quarterly_series_are_all_kept() -> None:
    """20 quarterly series of 76 points, H=8: each holds out one horizon and trains on the rest."""
    lengths = np.full(20, 76)
    plan = plan_split(lengths, tiny_config(n_prev=None, horizon=8), 4, [str(i) for i in range(20)])
    assert plan.keep.all() and (lengths - plan.n_train == 8).all()
    assert plan.n_prev == 12  # min(3 seasons, 30), capped by the training part


def test_precision_choices_and_their_errors() -> None:
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) is None and resolve_precision("fp32", cpu) is None
    with pytest.raises(LstmcastError, match=r"^--precision fp16 needs a CUDA GPU; on a CPU use bf16"):
        resolve_precision("fp16", cpu)
    if cpu_has_bf16():
        assert resolve_precision("bf16", cpu) is torch.bfloat16
    else:
        with pytest.raises(LstmcastError, match=r"^--precision bf16: this CPU has no bf16 instructions"):
            resolve_precision("bf16", cpu)
    with pytest.raises(LstmcastError, match=r"^--precision must be one of auto, fp32, bf16, fp16; got 'half'"):
        tiny_config(precision="half")
    with pytest.raises(LstmcastError, match=r"^--threads must be at least 1, got 0"):
        tiny_config(threads=0)


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no bf16 instructions")
def test_bf16_training_matches_fp32_within_noise(sine_csv: Path) -> None:
    """bf16 autocast trains to the same quality (weights stay fp32, so the checkpoint is the same kind)."""
    panel = load_panel(sine_csv)
    scores = {}
    for p in ("fp32", "bf16"):
        fitted = fit(panel, tiny_config(precision=p, epochs=30))
        scores[p] = evaluate(fitted)[1]["model"]["rmse"]
        assert all(v.dtype == torch.float32 for v in fitted.model.state_dict().values())
    assert scores["bf16"] < 1.5 * scores["fp32"] + 0.02, scores


def test_training_both_averages_a_windows_ensemble_and_a_forking_one(sine_csv: Path) -> None:
    """--training both trains the networks `--training windows` and `--training forking` would (same seeds,
    same weights) and forecasts the mean of the two kinds' medians; 10 networks by default, 5 otherwise."""
    from lstmcast.config import TrainConfig
    from lstmcast.model import Ensemble

    assert (TrainConfig().networks, TrainConfig(training="windows").networks, TrainConfig(ensemble=3).networks) == (10, 5, 3)
    assert TrainConfig(ensemble=5).member_trainings() == ["windows"] * 3 + ["forking"] * 2
    assert TrainConfig(window_norm="none").member_trainings() == ["windows"] * 10  # forking needs an anchor
    panel = load_panel(sine_csv)
    both = fit(panel, tiny_config(ensemble=6, horizon=2, epochs=2, training="both"))
    wins = fit(panel, tiny_config(ensemble=3, horizon=2, epochs=2, training="windows"))
    fork = fit(panel, tiny_config(ensemble=3, horizon=2, epochs=2, training="forking"))
    model = both.model
    assert isinstance(model, Ensemble) and model.groups == (3, 3) and not model.forking
    assert [m.forking for m in model.members] == [False] * 3 + [True] * 3
    for mine, theirs in zip(model.members, [*wins.model.members, *fork.model.members]):
        assert all(torch.equal(a, b) for a, b in zip(mine.state_dict().values(), theirs.state_dict().values()))
    x = torch.randn(4, 10, 1)
    torch.testing.assert_close(model(x), (wins.model(x) + fork.model(x)) / 2)
    np.testing.assert_allclose(evaluate(both)[0]["predicted"],
                               (evaluate(wins)[0]["predicted"] + evaluate(fork)[0]["predicted"]) / 2, rtol=1e-5)


def test_by_default_every_network_trains_its_whole_budget_without_validation(sine_csv: Path, tmp_path: Path) -> None:
    """--val-size 0 is the default: no window is held back from training, no epoch is picked (every network
    keeps its last), the refit trains as long, and --patience then watches the training loss."""
    from lstmcast.config import TrainConfig
    from lstmcast.run import train_run

    assert TrainConfig().val_size == 0.0
    panel = load_panel(sine_csv)
    cfg = tiny_config(epochs=6, ensemble=2, training="windows")
    fitted = fit(panel, cfg)
    assert [h["val_loss"] for h in fitted.history] == [None] * 6
    tr_o, va_o = training_windows(fitted.prep, 1, cfg.val_size)
    assert len(va_o) == 0 and len(tr_o) == fitted.prep.train_ends[0] - 10  # every window of the training part
    assert fitted.best_epochs == [6, 6] and fitted.best_epoch == 6
    result = train_run(sine_csv, cfg, tmp_path / "run")
    assert result.metrics["final_model"]["member_epochs"] == [6, 6] and result.metrics["final_model"]["epochs"] == 6
    assert (f"the forecast model was refit on all {len(panel.values)} points for 6 epochs (the whole budget, as the "
            "evaluation model trained); the scores are the evaluation model's on the held-out part") in result.notes
    # --patience without validation windows watches the training loss: the kept epoch is its lowest
    patient = fit(panel, replace(cfg, patience=10, ensemble=1, training="windows"))
    losses = [h["train_loss"] for h in patient.history]
    assert len(losses) == 6 and patient.best_epoch == int(np.argmin(losses)) + 1
    # the progress mark (`*` with --verbose) is the lowest loss so far, though every epoch is kept
    seen: list = []
    one = fit(panel, replace(cfg, ensemble=1, training="windows"), on_epoch=seen.append)
    losses = [e.train_loss for e in seen]
    assert one.best_epoch == 6 and [e.best for e in seen] == [x < min(losses[:i], default=np.inf)
                                                              for i, x in enumerate(losses)]
    from lstmcast.train import _early_stop

    assert _early_stop(3, 2, validated=False) == "early stop at epoch 3: no better training loss for 2 epochs"
