"""Forking-sequence training (--training forking), the carried-state recursion and --compile."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from lstmcast.cli import app
from lstmcast.config import TrainConfig
from lstmcast.data import EXACT_FLOATS, load_panel, panel_from_frame
from lstmcast.errors import LstmcastError
from lstmcast.forecast import rollout
from lstmcast.model import Ensemble, Forecaster
from lstmcast.run import evaluate
from lstmcast.train import fit, fork_span, prepare, training_windows
from lstmcast.windows import ForkSet, fork_chunks

from .conftest import tiny_config


def _fork(**kw: object) -> TrainConfig:
    return tiny_config(training="forking", **kw)


def _net(level: str = "last", season: int = 1, n_future: int = 0, horizon: int = 2, k: int = 1, n_inputs: int = 2,
         seed: int = 0) -> Forecaster:
    torch.manual_seed(seed)
    return Forecaster(n_inputs=n_inputs, hidden=8, layers=2, dropout=0.0, cell="lstm", horizon=horizon, n_outputs=k,
                      n_future=n_future, level_outputs=(True,) * k, level=level, season=season, forking=True,
                      context=5).eval()


def test_fork_chunks_cut_runs_of_consecutive_origins_never_across_a_gap() -> None:
    origins = np.r_[np.arange(5, 15), np.arange(20, 23)]  # two runs: 10 and 3 origins
    first, count = fork_chunks(origins, 4)
    assert first.tolist() == [5, 9, 13, 20] and count.tolist() == [4, 4, 2, 3]
    assert count.sum() == len(origins)
    assert [len(a) for a in fork_chunks(np.zeros(0, np.int64), 4)] == [0, 0]


def test_forkset_gives_each_position_its_history_and_its_own_targets() -> None:
    n = 30
    inputs = torch.arange(n, dtype=torch.float32)[:, None] * torch.tensor([[1.0, 10.0]])  # (N, 2)
    target = torch.arange(n, dtype=torch.float32) + 100
    future = torch.arange(n, dtype=torch.float32)[:, None] + 1000  # (N, 1)
    origins = np.arange(4, 11)  # 7 windows of n_prev 4 -> chunks of span 5: (4, 5 scored), (9, 2 scored)
    fs = ForkSet(inputs, target, future, origins, n_prev=4, horizon=2, span=5)
    assert len(fs) == 2 and fs.positions == 7
    x, y, f = fs[torch.tensor([1, 0])]
    assert x.shape == (2, 8, 2) and y.shape == (2, 5, 2) and f.shape == (2, 5, 2, 1)
    assert x[1, :, 0].tolist() == list(range(0, 8))  # points 0..7: position j reads points 0..3+j
    assert x[0, :, 1].tolist() == [10.0 * i for i in range(5, 13)]
    assert y[1, :, 0].tolist() == [104, 105, 106, 107, 108] and y[1, 0].tolist() == [104, 105]
    assert y[0, :2].tolist() == [[109, 110], [110, 111]]
    assert torch.isnan(y[0, 2:]).all()  # past the chunk's count: unscored
    assert f[1, 0, :, 0].tolist() == [1004, 1005]


def test_forking_output_is_shift_free_and_forward_is_the_last_position() -> None:
    net = _net()
    x = torch.randn(3, 12, 2)
    out = net.forward_all(x)  # (B, T, H, K)
    assert out.shape == (3, 12, 2, 1)
    shifted = x.clone()
    shifted[..., 0] += 7.5  # a level shift of the target channel only
    torch.testing.assert_close(net.forward_all(shifted), out + 7.5)
    torch.testing.assert_close(net(x), out[:, -1])
    torch.testing.assert_close(net.forward_all(x, positions=4), out[:, -4:])


def test_a_position_reads_only_its_own_past() -> None:
    net = _net()
    x = torch.randn(2, 12, 2)
    later = x.clone()
    later[:, 8:] = torch.randn(2, 4, 2)  # points after position 7 change
    torch.testing.assert_close(net.forward_all(later)[:, :8], net.forward_all(x)[:, :8])
    assert not torch.allclose(net.forward_all(later)[:, 8:], net.forward_all(x)[:, 8:])


@pytest.mark.parametrize("level,season", [("last", 1), ("season", 4)])
def test_carried_state_matches_reencoding_the_whole_history(level: str, season: int) -> None:
    net = _net(level, season, n_future=1)
    x = torch.randn(3, 15, 2)
    fut = torch.randn(3, 15, 2, 1)
    carry = net.begin(x[:, :6])
    for lo, hi in [(6, 7), (7, 11), (11, 15)]:  # points added one or several at a time
        carry = net.extend(carry, x[:, lo:hi])
        torch.testing.assert_close(net.emit(carry, fut[:, hi - 1]), net.forward_all(x[:, :hi], fut[:, :hi])[:, -1])


def test_recursive_rollout_with_carried_state_equals_a_growing_window() -> None:
    """The carried recursion must equal re-encoding all of history plus the forecasts so far, block by block."""
    class Fake:  # what rollout reads from a Fitted
        def __init__(self, model: torch.nn.Module) -> None:
            from lstmcast.losses import make_loss
            self.model, self.loss, self.config = model, make_loss("mse"), TrainConfig(horizon=2, strategy="direct")

    members = [_net(n_inputs=1, seed=k) for k in range(3)]
    for model in (members[0], Ensemble(members).eval()):
        x = torch.randn(2, 6, 1)
        fut = torch.zeros(2, 10, 0)
        got, _ = rollout(Fake(model), x, fut, 9, 1, torch.Generator())  # type: ignore[arg-type]
        seq, want = x, []
        for _ in range(5):  # blocks of 2 steps, each forecast from the whole sequence so far
            step = model(seq)[..., 0]  # (B, 2)
            want.append(step)
            seq = torch.cat([seq, step[..., None]], dim=1)
        torch.testing.assert_close(got, torch.cat(want, dim=1)[:, :9])
        reenc, _ = rollout(Fake(model), x, fut, 9, 1, torch.Generator(), carry=False)  # bounded window: differs
        assert torch.equal(reenc[:, :2], got[:, :2]) and not torch.allclose(reenc[:, 2:], got[:, 2:])


def test_forking_fits_a_clean_sine_and_is_reproducible(sine_csv: Path) -> None:
    panel = load_panel(sine_csv)
    cfg = _fork(epochs=30, n_prev=12, batch_size=48, deseason="none")
    fitted = fit(panel, cfg)
    assert isinstance(fitted.model, Forecaster) and fitted.model.forking and fitted.model.level == "last"
    _, m = evaluate(fitted)
    assert m["model"]["mse"] < 0.02 and m["model"]["mse"] < 0.3 * m["naive"]["mse"]
    again = fit(panel, cfg)
    assert [h["train_loss"] for h in again.history] == [h["train_loss"] for h in fitted.history]
    for a, b in zip(again.model.state_dict().values(), fitted.model.state_dict().values()):
        assert torch.equal(a, b)


def test_forking_training_reads_no_target_past_the_training_part() -> None:
    """Test points (and unscored positions' targets, which reach into them) must not move a single weight."""
    t = np.arange(150)
    y = np.sin(2 * np.pi * t / 15) + 0.01 * t
    cfg = _fork(n_prev=7, test_size=0.2, val_size=0.0, epochs=2, transform="none", deseason="none")
    assert (150 - 30 - 7) % fork_span(7) != 0  # the last chunk is partial: its tail targets lie in the test part
    base = fit(panel_from_frame(pd.DataFrame({"t": t, "y": y})), cfg)
    test_moved = y.copy()
    test_moved[120:] += 50.0  # every test point
    other = fit(panel_from_frame(pd.DataFrame({"t": t, "y": test_moved})), cfg)
    assert [h["train_loss"] for h in other.history] == [h["train_loss"] for h in base.history]
    for a, b in zip(other.model.state_dict().values(), base.model.state_dict().values()):
        assert torch.equal(a, b)
    train_moved = y.copy()
    train_moved[119] += 0.5  # the last training target: it must matter (the check above can fail)
    moved = fit(panel_from_frame(pd.DataFrame({"t": t, "y": train_moved})), cfg)
    assert moved.history[0]["train_loss"] != base.history[0]["train_loss"]


def test_forking_scores_every_training_window_once_per_epoch(long_csv: Path) -> None:
    cfg = _fork(id_column="store", features=[], horizon=3)
    prep = prepare(load_panel(long_csv, id_column="store"), cfg)
    tr, va = training_windows(prep, 3, cfg.val_size)
    pts = [torch.from_numpy(a) for a in (prep.inputs, prep.target, prep.future)]
    fs = ForkSet(*pts, tr, prep.n_prev, 3, fork_span(prep.n_prev))
    assert fs.positions == len(tr)
    _, y, _ = fs[slice(None)]
    scored = y[~torch.isnan(y[..., 0])]  # (M, H): the targets of all scored positions
    want = prep.target[tr[:, None] + np.arange(3)]
    assert sorted(map(tuple, scored.numpy().tolist())) == sorted(map(tuple, want.tolist()))
    assert not set(va.tolist()) & set((tr[:, None] + np.arange(3)).reshape(-1).tolist())  # no shared targets


def test_forking_with_many_series_covariates_calendar_quantiles_and_ensemble(daily_csv: Path, tmp_path: Path) -> None:
    cfg = _fork(features=["temp"], calendar=True, horizon=4, loss="quantile", ensemble=2, n_prev=14)
    fitted = fit(load_panel(daily_csv, features=["temp"]), cfg)
    assert isinstance(fitted.model, Ensemble) and all(m.forking for m in fitted.model.members)
    df, m = evaluate(fitted)
    assert {"predicted_lo_80", "predicted_hi_80"} <= set(df.columns)
    assert np.isfinite(df["predicted"]).all() and m["model"]["mase"] < 5
    assert (df["predicted_lo_80"] <= df["predicted_hi_80"] + 1e-9).all()


def test_cli_forking_round_trip_and_checkpoint(sine_csv: Path, tmp_path: Path) -> None:
    from lstmcast.checkpoint import load_checkpoint

    out = tmp_path / "run"
    args = ["train", str(sine_csv), "--out", str(out), "--training", "forking", "--n-prev", "10", "--hidden", "8",
            "--ensemble", "1", "--epochs", "2", "--batch-size", "32", "--quiet"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert 'training = "forking"' in (out / "config.toml").read_text()
    ckpt = load_checkpoint(out)
    assert ckpt.config.training == "forking"
    again = ckpt.fitted(load_panel(sine_csv), split=True)
    assert again.model.forking
    np.testing.assert_array_equal(evaluate(again)[0]["predicted"],
                                  pd.read_csv(out / "test_predictions.csv", **EXACT_FLOATS)["predicted"])
    fc = CliRunner().invoke(app, ["predict", str(out), "--horizon", "50", "--out", str(tmp_path / "fc.csv")],
                            env={"COLUMNS": "200"})
    assert fc.exit_code == 0, fc.output
    assert np.isfinite(pd.read_csv(tmp_path / "fc.csv")["forecast"]).all()


def test_forking_refuses_a_window_norm_it_cannot_share(sine_csv: Path) -> None:
    with pytest.raises(LstmcastError) as e:
        _fork(window_norm="none")
    assert str(e.value) == ("--training forking anchors every position's forecast on its last value and needs "
                            "--window-norm last, season or auto; got --window-norm none (use --training windows "
                            "for it)")
    result = CliRunner().invoke(app, ["train", str(sine_csv), "--out", "never", "--training", "stream"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "Error: --training must be one of both, windows, forking; got 'stream'" in result.output
    assert not Path("never").exists()


def test_compile_failure_falls_back_to_eager_with_a_note(sine_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    panel = load_panel(sine_csv)
    plain = fit(panel, _fork())

    def broken(fn: object) -> object:
        def call(*a: object) -> object:
            raise RuntimeError("no C++ compiler found\nmore detail")
        return call

    monkeypatch.setattr(torch, "compile", broken)
    fallen = fit(panel, replace(_fork(), compile=True))
    assert "--compile failed (RuntimeError: no C++ compiler found); trained without it" in fallen.prep.notes
    assert [h["train_loss"] for h in fallen.history] == [h["train_loss"] for h in plain.history]
