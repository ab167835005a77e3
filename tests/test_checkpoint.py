from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lstmcast import __version__
from lstmcast.checkpoint import OLDEST, VERSION, load_checkpoint
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


# ----- format versions: every fixture written by an earlier lstmcast keeps loading --------------------------

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("model_v*.pt")), ids=lambda p: p.stem)
def test_checkpoints_of_every_format_still_load_and_forecast_the_same(tmp_path: Path, path: Path) -> None:
    from typer.testing import CliRunner

    from lstmcast.cli import app

    expect = json.loads(path.with_suffix(".json").read_text())
    ckpt = load_checkpoint(path)
    assert ckpt.payload["format_version"] == VERSION and ckpt.payload["lstmcast_version"] == expect["lstmcast_version"]
    now = ckpt.config.to_dict()
    assert {k: now[k] for k in expect["config"] if k in now} == {k: v for k, v in expect["config"].items() if k in now}
    _, point, q = forecast_future(ckpt.fitted(), 2, seed=0)
    np.testing.assert_allclose(point, expect["forecast"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(q, expect["quantiles"], rtol=1e-5, atol=1e-6)
    result = CliRunner().invoke(app, ["predict", str(path), "--horizon", "2", "--out", str(tmp_path / "f.csv")])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(pd.read_csv(tmp_path / "f.csv")["forecast"], np.ravel(expect["forecast"]), rtol=1e-5)


def rewrite(tmp_path: Path, **changes: object) -> Path:
    """The v1 fixture with some payload fields changed."""
    payload = torch.load(FIXTURES / "model_v1.pt", weights_only=True)
    payload.update(changes)
    torch.save(payload, tmp_path / "model.pt")
    return tmp_path / "model.pt"


def test_newer_format_says_to_upgrade(tmp_path: Path) -> None:
    path = rewrite(tmp_path, format_version=VERSION + 1, lstmcast_version="9.0.0")
    with pytest.raises(LstmcastError) as e:
        load_checkpoint(path)
    assert str(e.value) == (f"checkpoint {path} has format {VERSION + 1}, written by lstmcast 9.0.0; this lstmcast "
                            f"{__version__} reads formats up to {VERSION}: upgrade with `pip install -U lstmcast`")


def test_older_format_without_an_upgrade_says_which_version_wrote_it(tmp_path: Path) -> None:
    path = rewrite(tmp_path, format_version=0, lstmcast_version="0.0.1")
    with pytest.raises(LstmcastError) as e:
        load_checkpoint(path)
    assert str(e.value) == (f"checkpoint {path} has format 0, written by lstmcast 0.0.1; this lstmcast {__version__} "
                            f"reads formats {OLDEST} to {VERSION}: retrain with `lstmcast train DATA --out {tmp_path}`, "
                            "or load it with the lstmcast that wrote it (pip install 'lstmcast==0.0.1')")
    path = rewrite(tmp_path, format_version=True)
    with pytest.raises(LstmcastError, match=r"has no valid format number \(True\); retrain"):
        load_checkpoint(path)


def test_older_format_is_upgraded_step_by_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A future format 2 that renamed a key: the v1 fixture loads through UPGRADES[1]."""
    import lstmcast.checkpoint as ck

    def v1_to_v2(payload: dict[str, object]) -> dict[str, object]:
        payload["history_tail"] = payload.pop("tail")
        return payload

    def v2_tail(payload: dict[str, object]) -> dict[str, object]:  # stand-in for code reading the new name
        payload["tail"] = payload["history_tail"]
        return payload

    monkeypatch.setattr(ck, "VERSION", 3)
    monkeypatch.setattr(ck, "UPGRADES", {1: v1_to_v2, 2: v2_tail})
    ckpt = load_checkpoint(FIXTURES / "model_v1.pt")
    assert ckpt.payload["format_version"] == 3 and ckpt.payload["upgraded_from"] == 1
    assert np.isfinite(forecast_future(ckpt.fitted(), 2)[1]).all()
    monkeypatch.setattr(ck, "OLDEST", 2)  # format 1 dropped: the clear error, not a KeyError
    monkeypatch.setattr(ck, "UPGRADES", {2: v2_tail})
    with pytest.raises(LstmcastError, match=r"has format 1, written by lstmcast 0\.1\.0; .* reads formats 2 to 3"):
        load_checkpoint(FIXTURES / "model_v1.pt")


def test_format_1_smoothing_gets_the_weight_every_series_had(tmp_path: Path) -> None:
    """Format 1 stored --ets as (alpha, beta, phi) per series, each weighing a third; format 2 adds the weight
    per series. The v2 fixture written back as format 1 loads with the same weights and forecasts."""
    payload = torch.load(FIXTURES / "model_v2.pt", weights_only=True)
    expect = json.loads((FIXTURES / "model_v2.json").read_text())
    for part in (payload, payload["eval"]):
        assert [row[3] for row in part["stats"]["ets"]] == [pytest.approx(1 / 3)]
        part["stats"]["ets"] = [row[:3] for row in part["stats"]["ets"]]
    torch.save({**payload, "format_version": 1}, tmp_path / "model.pt")
    ckpt = load_checkpoint(tmp_path / "model.pt")
    assert ckpt.payload["upgraded_from"] == 1 and ckpt.payload["eval"]["stats"]["ets"][0][3] == pytest.approx(1 / 3)
    fitted = ckpt.fitted()
    assert fitted.prep.ets.shape == (1, 4)
    np.testing.assert_allclose(forecast_future(fitted, 2, seed=0)[1], expect["forecast"], rtol=1e-5, atol=1e-6)


def test_every_format_from_oldest_has_an_upgrade() -> None:
    from lstmcast.checkpoint import UPGRADES

    assert [v for v in range(OLDEST, VERSION) if v not in UPGRADES] == []
    assert (FIXTURES / f"model_v{VERSION}.pt").exists(), "run tests/fixtures/make_checkpoint.py for the new format"


def test_weights_that_do_not_fit_the_config_name_the_writer(tmp_path: Path) -> None:
    payload = torch.load(FIXTURES / "model_v1.pt", weights_only=True)
    path = rewrite(tmp_path, config={**payload["config"], "hidden": 8})
    with pytest.raises(LstmcastError, match=r"model.pt \(format 1, written by lstmcast 0\.1\.0\) does not match its own "
                                            r"config: .*; retrain it, or use the lstmcast that wrote it$"):
        load_checkpoint(path).fitted()


def test_overwritten_bytes_are_refused_not_loaded(tmp_path: Path, sine_csv: Path) -> None:
    """torch.load checks no CRC: bytes overwritten inside a weight tensor loaded as other weights (or NaN) and
    forecast without a word. The archive's checksums are verified on load, and non-finite weights refused."""
    import zipfile

    train_run(sine_csv, tiny_config(epochs=1), tmp_path / "run")
    path = tmp_path / "run" / "model.pt"
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:  # the first weight tensor's bytes, where a flip changes a weight
        info = next(i for i in archive.infolist() if "/data/" in i.filename and i.file_size >= 64)
    name_len, extra_len = (int.from_bytes(data[info.header_offset + k:info.header_offset + k + 2], "little")
                           for k in (26, 28))  # the local header's own lengths: torch pads its extra field
    start = info.header_offset + 30 + name_len + extra_len
    data[start:start + 16] = bytes(b ^ 0xFF for b in data[start:start + 16])
    path.write_bytes(bytes(data))
    with pytest.raises(LstmcastError) as e:
        load_checkpoint(tmp_path / "run")
    assert str(e.value) == (f"checkpoint {path} is damaged (its part {info.filename} fails its checksum); retrain to "
                            "recreate it")
    payload = torch.load(FIXTURES / "model_v2.pt", weights_only=True)
    name = next(iter(payload["eval"]["model"]))
    payload["eval"]["model"][name] = torch.full_like(payload["eval"]["model"][name], float("nan"))
    torch.save(payload, tmp_path / "nan.pt")
    n = payload["eval"]["model"][name].numel()
    with pytest.raises(LstmcastError) as e:
        load_checkpoint(tmp_path / "nan.pt")
    assert str(e.value) == (f"checkpoint {tmp_path / 'nan.pt'} is damaged: {n} of the {n} weights in eval.model.{name} "
                            "are NaN or infinite; retrain to recreate it")


@pytest.mark.parametrize("change,message", [
    (lambda p: p.pop("data"), "is incomplete: it has no 'data'"),
    (lambda p: p.pop("model"), "is incomplete: it has no 'model'"),
    (lambda p: p.pop("tail"), "is incomplete: it has no 'tail'"),
    (lambda p: p["eval"].pop("stats"), "is incomplete: it has no 'eval.stats'"),
    (lambda p: p["stats"].update(n_prev="abc"), "is malformed: stats.n_prev is 'abc', not a whole number"),
    (lambda p: p.update(metrics=[1]), "is malformed: metrics is a list, not a dict"),
    (lambda p: p["config"].update(hidden="lots"), "is malformed: config.hidden is 'lots', not a whole number"),
    (lambda p: p["config"].update(test_size=True), "is malformed: config.test_size is True, not a number"),
    (lambda p: p["config"].update(hidden=0), r"has an invalid config \(--hidden must be at least 1, got 0\)"),
    (lambda p: p["tail"].update(values=p["tail"]["values"][:5]),
     "is inconsistent: its stored history \\(tail\\) does not hold the 1 series it lists"),
    (lambda p: p["stats"].update(n_prev=-1), "is malformed: stats.n_prev is -1, not a window of at least 1 step"),
    (lambda p: p["eval"]["stats"].update(n_prev=0),
     "is malformed: eval.stats.n_prev is 0, not a window of at least 1 step"),
    (lambda p: p["tail"].update(values=p["tail"]["values"].reshape(-1, 1).repeat(1, 2)),
     "is malformed: tail.values is a 2-D tensor, not 1-D"),
    (lambda p: p["tail"].update(covariates=p["tail"]["covariates"].reshape(-1)),
     "is malformed: tail.covariates is a 1-D tensor, not 2-D"),
    (lambda p: p["data"].update(freq="XYZ"),
     "is malformed: data.freq is 'XYZ', not a step \\(a positive number\\) for a run on step numbers"),
    (lambda p: p["data"].update(freq="-2"),
     "is malformed: data.freq is '-2', not a step \\(a positive number\\) for a run on step numbers"),
    (lambda p: p["data"].update(is_datetime=True),
     "is inconsistent: data.is_datetime is True, but its stored times \\(tail.time\\) are step numbers"),
    (lambda p: (p["data"].update(is_datetime=True, freq="XYZ"), p["tail"].update(time=p["tail"]["time"].long())),
     "is malformed: data.freq is 'XYZ', not a pandas frequency \\(D, h, MS, M@15, ...\\) for a run on dates"),
    (lambda p: p.update(history=[1, 2]),
     "is malformed: history\\[0\\] is 1, not an epoch record \\(epoch, train_loss, val_loss\\)"),
    (lambda p: p.update(history=[*p["history"], {"epoch": 2}]),
     "is malformed: history\\[1\\] is a dict, not an epoch record \\(epoch, train_loss, val_loss\\)"),
    (lambda p: p["stats"]["scaler"].update(scale=[float("nan")]),
     "is damaged: 1 of the 1 values in stats.scaler.scale are NaN or infinite"),
    (lambda p: p["stats"]["scaler"].update(scale=[0.0]),
     "is damaged: 1 of the 1 values in stats.scaler.scale are zero or negative, and a scale must be positive"),
    (lambda p: p["eval"]["stats"]["scaler"].update(loc=[float("nan")]),
     "is damaged: 1 of the 1 values in eval.stats.scaler.loc are NaN or infinite"),
    (lambda p: p["stats"]["scaler"]["season"][0].__setitem__(3, float("inf")),
     "is damaged: 1 of the 20 values in stats.scaler.season are NaN or infinite"),
], ids=["no-data", "no-model", "no-tail", "no-eval-stats", "n_prev-text", "metrics-list", "config-type",
        "config-bool", "config-value", "tail-short", "n_prev-negative", "eval-n_prev-zero", "tail-2d",
        "covariates-1d", "step-freq-text", "step-freq-negative", "dates-on-steps", "date-freq-unknown",
        "history-numbers", "history-record", "scale-nan", "scale-zero", "eval-loc-nan", "season-inf"])
def test_malformed_contents_are_one_clear_error(tmp_path: Path, change: object, message: str) -> None:
    """A payload with a part missing or of the wrong kind: one LstmcastError naming the file and the part, from
    load_checkpoint, LSTMForecaster.load and `lstmcast predict` alike, not a KeyError or ValueError."""
    import re

    from typer.testing import CliRunner

    from lstmcast import LSTMForecaster
    from lstmcast.cli import app

    payload = torch.load(FIXTURES / "model_v2.pt", weights_only=True)
    change(payload)  # type: ignore[operator]
    path = tmp_path / "model.pt"
    torch.save(payload, path)
    expect = rf"^checkpoint {re.escape(str(path))} {message}; retrain to recreate it$"
    with pytest.raises(LstmcastError, match=expect):
        load_checkpoint(path)
    with pytest.raises(LstmcastError, match=expect):
        LSTMForecaster.load(tmp_path)
    result = CliRunner().invoke(app, ["predict", str(tmp_path), "--horizon", "2", "--out", str(tmp_path / "f.csv")],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 2 and result.stderr.strip().splitlines()[-1] == f"Error: {load_error(path)}"


def load_error(path: Path) -> str:
    with pytest.raises(LstmcastError) as e:
        load_checkpoint(path)
    return str(e.value)


def test_random_bytes_are_not_a_torch_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(LstmcastError) as e:
        load_checkpoint(tmp_path)
    assert str(e.value) == (f"checkpoint {tmp_path / 'model.pt'} is unreadable or corrupt (not a torch checkpoint: "
                            "damaged, cut short or another kind of file); retrain to recreate it")


@pytest.mark.parametrize("freq", ["D", "MS", "M@15", "3M@15", None])
def test_a_run_on_dates_loads_with_any_frequency_lstmcast_writes(tmp_path: Path, freq: str | None) -> None:
    payload = torch.load(FIXTURES / "model_v2.pt", weights_only=True)
    payload["data"].update(is_datetime=True, freq=freq)
    payload["tail"]["time"] = (payload["tail"]["time"].long() + 19_000) * 86_400 * 10**9  # days into 2022
    torch.save(payload, tmp_path / "model.pt")
    assert load_checkpoint(tmp_path).data["freq"] == freq


def test_a_hand_edited_checkpoint_is_one_error_in_every_command(tmp_path: Path) -> None:
    """stats.n_prev = -1 with valid checksums: predict, export and stream said `Internal error: ValueError:
    `window_shape` cannot contain negative values`, and LSTMForecaster.load raised a bare ValueError."""
    from typer.testing import CliRunner

    from lstmcast import LSTMForecaster
    from lstmcast.cli import app

    payload = torch.load(FIXTURES / "model_v2.pt", weights_only=True)
    payload["stats"]["n_prev"] = -1
    torch.save(payload, tmp_path / "model.pt")
    expect = (f"checkpoint {tmp_path / 'model.pt'} is malformed: stats.n_prev is -1, not a window of at least 1 step; "
              "retrain to recreate it")
    with pytest.raises(LstmcastError) as e:
        LSTMForecaster.load(tmp_path)
    assert str(e.value) == expect
    for args in (["predict", tmp_path, "--horizon", "3", "--out", tmp_path / "f.csv"],
                 ["export", tmp_path, "--format", "torchscript"], ["stream", tmp_path]):
        result = CliRunner().invoke(app, [str(a) for a in args], input="1\n", env={"COLUMNS": "200"})
        assert (result.exit_code, result.stderr) == (2, f"Error: {expect}\n"), args


def test_pickled_objects_are_named_in_a_whole_sentence(tmp_path: Path) -> None:
    """torch's refusal is a page of advice; its first line was cut at 120 characters, mid-word."""
    import datetime

    payload = torch.load(FIXTURES / "model_v2.pt", weights_only=True)
    payload["data"]["made"] = datetime.date(2024, 1, 1)
    torch.save(payload, tmp_path / "model.pt")
    with pytest.raises(LstmcastError) as e:
        load_checkpoint(tmp_path)
    assert str(e.value) == (f"checkpoint {tmp_path / 'model.pt'} is unreadable or corrupt (it holds a pickled "
                            "datetime.date; a checkpoint holds only tensors and plain values); retrain to recreate it")
