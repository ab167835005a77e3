from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lstmcast.checkpoint import load_checkpoint
from lstmcast.data import load_panel
from lstmcast.errors import LstmcastError
from lstmcast.forecast import forecast_future
from lstmcast.run import evaluate, train_run
from lstmcast.train import fit
from tests.conftest import tiny_config


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "peephole", "cifg"])
def test_round_trip_gives_identical_predictions(tmp_path: Path, sine_csv: Path, cell: str) -> None:
    cfg = tiny_config(cell=cell, loss="quantile", horizon=3)
    result = train_run(sine_csv, cfg, tmp_path / "run")
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.config == cfg
    reloaded = ckpt.fitted(load_panel(sine_csv), split=True)
    df, metrics = evaluate(reloaded)
    assert metrics["model"] == result.metrics["model"]
    # the stored tail is enough to forecast past the end, and matches forecasting from the full data
    a = forecast_future(ckpt.fitted(), 5)[1]
    b = forecast_future(ckpt.fitted(load_panel(sine_csv), split=False), 5)[1]
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_in_memory_and_saved_forecasts_agree(tmp_path: Path, sine_csv: Path) -> None:
    fitted = fit(load_panel(sine_csv), tiny_config())
    from lstmcast.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "model.pt", fitted, {"path": str(sine_csv), "sha256": "x", "rows": 161}, {})
    payload = torch.load(tmp_path / "model.pt", weights_only=True)  # no pickled code inside
    assert payload["format"] == "lstmcast-checkpoint" and payload["strategy"] == "recursive"
    before = evaluate(fitted)[0]["predicted"].to_numpy()
    after = evaluate(load_checkpoint(tmp_path / "model.pt").fitted(load_panel(sine_csv)))[0]["predicted"].to_numpy()
    np.testing.assert_array_equal(before, after)


def test_truncated_and_foreign_files_are_clear_errors(tmp_path: Path, sine_csv: Path) -> None:
    train_run(sine_csv, tiny_config(epochs=1), tmp_path / "run")
    data = (tmp_path / "run" / "model.pt").read_bytes()
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "model.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(LstmcastError, match=r"checkpoint .*cut/model.pt is unreadable or corrupt .*; retrain"):
        load_checkpoint(tmp_path / "cut")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(LstmcastError, match=r"other.pt is not an lstmcast checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_no_temp_files_left_behind(tmp_path: Path, sine_csv: Path) -> None:
    train_run(sine_csv, tiny_config(epochs=1), tmp_path / "run")
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == ["history.csv", "metrics.json", "model.pt", "test_predictions.csv"]


def test_unknown_series_in_new_data(tmp_path: Path, long_csv: Path) -> None:
    cfg = tiny_config(id_column="store", epochs=1)
    train_run(long_csv, cfg, tmp_path / "run")
    other = tmp_path / "other.csv"
    other.write_text(long_csv.read_text().replace("s1,", "s9,"))
    with pytest.raises(LstmcastError, match=r"series 's9' was not in the training data"):
        load_checkpoint(tmp_path / "run").fitted(load_panel(other, id_column="store"))


def test_final_model_is_refit_on_every_point(tmp_path: Path, daily_csv: Path) -> None:
    cfg = tiny_config(column="sales", horizon=3, epochs=3)
    result = train_run(daily_csv, cfg, tmp_path / "run")
    ckpt = load_checkpoint(tmp_path / "run")
    panel = load_panel(daily_csv, column="sales")
    n = int(panel.lengths[0])
    final = result.metrics["final_model"]
    assert ckpt.refitted and final["refit"] and final["points"] == n
    assert final["epochs"] == result.metrics["best_epoch"]  # the evaluation's budget
    assert ckpt.payload["final"]["train_points"] == n and ckpt.data["n_train"][0] < n
    # the hold-out scores come from the evaluation model, reloaded exactly
    assert evaluate(ckpt.fitted(panel, split=True))[1]["model"] == result.metrics["model"]
    # the forecast model's scaler saw every point; the evaluation model's only the training part
    assert ckpt.stats.scaler.loc[0] != ckpt.eval_stats.scaler.loc[0]
    assert not torch.equal(ckpt.payload["model"]["head.weight"], ckpt.payload["eval"]["model"]["head.weight"])
    assert any("refit on all" in note for note in result.notes)


def test_no_refit_keeps_the_evaluation_model(tmp_path: Path, daily_csv: Path) -> None:
    cfg = tiny_config(column="sales", horizon=3, epochs=2, refit=False)
    result = train_run(daily_csv, cfg, tmp_path / "run")
    ckpt = load_checkpoint(tmp_path / "run")
    assert not ckpt.refitted and not result.metrics["final_model"]["refit"] and "eval" not in ckpt.payload
    assert result.metrics["final_model"]["points"] == ckpt.data["n_train"][0]


def test_test_size_zero_fits_on_everything(tmp_path: Path, daily_csv: Path) -> None:
    result = train_run(daily_csv, tiny_config(column="sales", test_size=0.0, val_size=0.0, epochs=2), tmp_path / "run")
    assert result.metrics["holdout"] is False and result.metrics["test_points"] == 0
    assert not (tmp_path / "run" / "test_predictions.csv").exists()
    assert not result.metrics["final_model"]["refit"]  # nothing was held back, so nothing to refit
    assert result.metrics["final_model"]["points"] == int(load_panel(daily_csv, column="sales").lengths[0])
