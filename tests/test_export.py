"""lstmcast export: ONNX and TorchScript files that give torch's forecasts, and the JSON that explains them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from lstmcast import smoothing
from lstmcast.checkpoint import load_checkpoint
from lstmcast.cli import app
from lstmcast.data import generate_sine
from lstmcast.forecast import predict_at
from lstmcast.run import train_run
from tests.conftest import tiny_config

runner = CliRunner()
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A three-network, 3-step direct model on a 160-point sine."""
    d = tmp_path_factory.mktemp("export")
    generate_sine(steps_per_cycle=20, cycles=8, noise=0.05, seed=0).to_csv(d / "sine.csv", index=False)
    train_run(d / "sine.csv", tiny_config(ensemble=3, horizon=3, epochs=1, ets=True), d / "run")
    return d / "run"


def _unscale(meta: dict, raw: np.ndarray, series: int, next_phase: np.ndarray) -> np.ndarray:
    """The JSON's recipe: raw (B, H, 1) of an mse model -> forecasts on the original scale."""
    s = meta["scaling"]["series"][series]
    season = np.array(s["season"])
    phase = next_phase[:, None] + np.arange(raw.shape[1])
    y = raw[..., 0] * s["scale"] + s["loc"] + season[phase % len(season)]
    y = np.exp(y) if s["log"] else y
    return np.maximum(y, 0.0) if s["nonneg"] else y


@pytest.mark.parametrize("batch", [1, 37])
def test_onnx_forecasts_match_torch(run: Path, tmp_path: Path, batch: int) -> None:
    out = tmp_path / "m.onnx"
    result = runner.invoke(app, ["export", str(run), "--format", "onnx", "--out", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}, {out}.json" in result.output
    meta = json.loads((tmp_path / "m.onnx.json").read_text())
    assert [i["name"] for i in meta["inputs"]] == ["x"] and meta["inputs"][0]["shape"] == ["batch", 10, 1]
    assert meta["outputs"][0]["shape"] == ["batch", 3, 1]
    assert meta["model"]["networks"] == 3 and meta["model"]["combine"] == "mean of the groups' outputs"
    assert meta["model"]["groups"] == [{"training": "windows", "networks": 2, "combine": "mean"},
                                       {"training": "forking", "networks": 1, "combine": "none"}]
    assert meta["checked"]["batch_sizes"] == [1, 37] and meta["checked"]["max_difference"] <= 1e-5

    fitted = load_checkpoint(run).fitted(split=False)
    prep = fitted.prep
    origins = np.arange(len(prep.inputs) - batch, len(prep.inputs))  # the latest `batch` origins in the data
    want, _ = predict_at(fitted, origins, 3)  # torch, on the original scale
    x = np.lib.stride_tricks.sliding_window_view(prep.inputs, 10, axis=0)[origins - 10].transpose(0, 2, 1)
    raw = ort.InferenceSession(str(out)).run(None, {"x": np.ascontiguousarray(x)})[0]
    assert raw.shape == (batch, 3, 1)
    next_phase = prep.phase[origins - 1] + 1
    assert (next_phase[-1] + 1) % 20 == meta["scaling"]["series"][0]["next_phase"] % 20
    # lstmcast averages a damped-trend smoothing into the forecast; the description says how, with its state
    sm = meta["smoothing"]["series"][0]
    params = np.array([[sm["alpha"], sm["beta"], sm["phi"]]])
    level, trend = smoothing.states(prep.target, prep.panel.starts, params)
    assert (level[-1], trend[-1]) == pytest.approx((sm["level"], sm["trend"]))
    stat = level[origins - 1, None] + np.cumsum(sm["phi"] ** np.arange(1, 4)) * trend[origins - 1, None]
    assert sm["weight"] == pytest.approx(2 / 3)  # --ets on seasonal data: two thirds for every series
    raw[..., 0] += sm["weight"] * (stat - raw[..., 0])
    got = _unscale(meta, raw, 0, next_phase)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
@pytest.mark.parametrize("cell", ["gru", "peephole", "cifg"])
def test_every_cell_exports_to_both_formats(tmp_path: Path, sine_csv: Path, cell: str) -> None:
    train_run(sine_csv, tiny_config(cell=cell, epochs=1, ensemble=2, training="windows"), tmp_path / "run")
    for fmt, name in (("onnx", "model.onnx"), ("torchscript", "model.torchscript.pt")):
        result = runner.invoke(app, ["export", str(tmp_path / "run"), "--format", fmt], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        meta = json.loads((tmp_path / "run" / f"{name}.json").read_text())
        assert meta["format"] == fmt and meta["model"]["cell"] == cell and meta["model"]["combine"] == "mean"
        assert meta["checked"]["max_difference"] <= 1e-5
    ts = torch.jit.load(str(tmp_path / "run" / "model.torchscript.pt"))
    fitted = load_checkpoint(tmp_path / "run").fitted(split=False)
    x = torch.from_numpy(np.ascontiguousarray(
        np.lib.stride_tricks.sliding_window_view(fitted.prep.inputs, 10, axis=0)[-5:].transpose(0, 2, 1)))
    with torch.no_grad():
        torch.testing.assert_close(ts(x), fitted.model(x), rtol=0, atol=1e-6)


def test_calendar_and_gaussian_model_exports_with_future_input(tmp_path: Path, daily_csv: Path) -> None:
    cfg = tiny_config(column="sales", calendar=True, loss="gaussian", horizon=2, epochs=1)
    train_run(daily_csv, cfg, tmp_path / "run")
    result = runner.invoke(app, ["export", str(tmp_path / "run")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "run" / "model.onnx.json").read_text())
    assert [i["name"] for i in meta["inputs"]] == ["x", "future"]
    assert meta["inputs"][0]["shape"] == ["batch", 10, 5]  # the target and four calendar columns
    assert meta["inputs"][1]["shape"] == ["batch", 2, 4]
    assert meta["inputs"][1]["columns"] == ["dayofweek_sin", "dayofweek_cos", "dayofyear_sin", "dayofyear_cos"]
    assert meta["outputs"][0]["shape"] == ["batch", 2, 2]
    assert meta["loss"]["link"] == "raw[..., 0] is the mean; the std is softplus(raw[..., 1]) + 1e-6"
    sess = ort.InferenceSession(str(tmp_path / "run" / "model.onnx"))
    assert [i.name for i in sess.get_inputs()] == ["x", "future"]
    raw = sess.run(None, {"x": np.zeros((4, 10, 5), np.float32), "future": np.zeros((4, 2, 4), np.float32)})[0]
    assert raw.shape == (4, 2, 2)


def _invoke(*args: str) -> object:
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def test_export_errors_are_one_line(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _invoke("export", str(run), "--format", "tflite")
    assert bad.exit_code == 2 and bad.output == "Error: --format must be one of onnx, torchscript; got 'tflite'\n"
    clash = _invoke("export", str(run), "--format", "torchscript", "--out", str(run / "model.pt"))
    assert clash.exit_code == 2
    assert clash.output == f"Error: --out {run / 'model.pt'} is the run's checkpoint; choose another file\n"
    assert load_checkpoint(run).config.horizon == 3  # the checkpoint is intact
    missing = _invoke("export", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and missing.output.startswith(f"Error: no checkpoint at {tmp_path / 'nowhere'}")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if the extra were not installed
    gone = _invoke("export", str(run), "--out", str(tmp_path / "x.onnx"))
    assert gone.exit_code == 2
    assert gone.output == "Error: --format onnx needs the onnxruntime package: pip install 'lstmcast[export]'\n"
    assert not list(tmp_path.glob("x.onnx*"))


def test_export_that_differs_from_torch_is_refused(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lstmcast.export as export

    monkeypatch.setattr(export, "TOLERANCE", -1.0)  # no file can pass: the refusal path, with nothing written
    result = _invoke("export", str(run), "--format", "torchscript", "--out", str(tmp_path / "m.pt"))
    assert result.exit_code == 2
    assert result.output.startswith("Error: the torchscript export differs from torch by ")
    assert result.output.endswith("(more than -1) on the run's own windows; nothing was written\n")
    assert not list(tmp_path.iterdir())


def test_export_and_stream_have_help() -> None:
    for cmd, words in (("export", "ONNX or TorchScript"), ("stream", "one per line")):
        result = _invoke(cmd, "--help")
        assert result.exit_code == 0 and words in " ".join(result.output.split()), result.output
