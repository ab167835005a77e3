"""CUDA paths: training in each precision, --compile, forecasting on the GPU against the CPU, and torchrun on
NCCL. Skipped where torch sees no GPU (CI, the development machines); run on a GPU machine with
`python -m pytest tests/test_gpu.py`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from lstmcast.checkpoint import load_checkpoint
from lstmcast.cli import app
from lstmcast.data import load_panel, panel_from_frame
from lstmcast.forecast import forecast_future
from lstmcast.train import fit

from .conftest import tiny_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--n-prev", "10", "--hidden", "8", "--epochs", "3", "--batch-size", "32", "--ensemble", "2", "--seed", "0"]


def invoke(*args: object) -> object:
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16", "auto"])
def test_training_on_the_gpu_in_each_precision_learns_the_sine(sine_csv: Path, precision: str) -> None:
    """Every precision trains on the GPU to about the CPU's test error, with finite losses; the model ends on
    the GPU and forecasts there in fp32."""
    panel = load_panel(sine_csv)
    cpu = fit(panel, tiny_config(epochs=30, hidden=16))
    gpu = fit(panel, tiny_config(epochs=30, hidden=16, device="cuda", precision=precision))
    assert gpu.device.type == "cuda" and next(gpu.model.parameters()).is_cuda
    assert next(gpu.model.parameters()).dtype is torch.float32  # autocast: the weights stay fp32
    losses = [h["train_loss"] for h in gpu.history]
    assert all(np.isfinite(losses)) and losses[-1] < 0.8 * losses[0]
    fc_cpu, fc_gpu = forecast_future(cpu, 20)[0], forecast_future(gpu, 20)[0]
    assert fc_gpu.shape == fc_cpu.shape and np.isfinite(fc_gpu).all()
    # both follow the sine (amplitude 1): a mixed-precision run is a different run, not a worse one
    assert np.sqrt(np.mean((fc_gpu - fc_cpu) ** 2)) < 0.25


def test_a_gpu_checkpoint_forecasts_the_same_on_the_cpu(tmp_path: Path, sine_csv: Path) -> None:
    """A run trained on the GPU is saved on the CPU's terms: predict --device cpu and --device cuda agree."""
    run = tmp_path / "run"
    r = invoke("train", sine_csv, "--out", run, *TINY, "--device", "cuda", "--loss", "gaussian")
    assert r.exit_code == 0, r.output
    ckpt = torch.load(run / "model.pt", weights_only=True)  # no map_location: tensors come back where saved
    assert all(v.device.type == "cpu" for v in ckpt["model"].values())  # so a machine without a GPU loads it
    out = {}
    for dev in ("cpu", "cuda"):
        out[dev] = tmp_path / f"{dev}.csv"
        r = invoke("predict", run, "--horizon", "12", "--device", dev, "--out", out[dev])
        assert r.exit_code == 0, r.output
    a, b = pd.read_csv(out["cpu"]), pd.read_csv(out["cuda"])
    assert list(a.columns) == list(b.columns) and len(a) == 12
    # the sample paths are drawn on the CPU from the same seed and moved: the same forecast and intervals up to
    # float rounding (cuDNN's kernels against the CPU's, in fp32: TF32 is off while forecasting)
    assert list(a.columns) == ["t", "forecast", "forecast_lo_80", "forecast_hi_80"]
    np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-4, atol=1e-5)


def test_gpu_forecasts_repeat_with_the_same_seed(sine_csv: Path) -> None:
    fitted = fit(load_panel(sine_csv), tiny_config(device="cuda", loss="gaussian"))
    a, b = forecast_future(fitted, 15, samples=100, seed=3), forecast_future(fitted, 15, samples=100, seed=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_compile_on_the_gpu_trains_or_says_why_not(tmp_path: Path, sine_csv: Path) -> None:
    run = tmp_path / "run"
    r = invoke("train", sine_csv, "--out", run, *TINY, "--device", "cuda", "--compile", "--training", "windows")
    assert r.exit_code == 0, r.output
    hist = pd.read_csv(run / "history.csv")
    assert np.isfinite(hist["train_loss"]).all() and len(hist) >= 1
    metrics = json.loads((run / "metrics.json").read_text())
    assert np.isfinite(metrics["model"]["rmse"])
    if "--compile failed" in r.output:  # the fallback must name the failure, and the run must still be whole
        assert "trained without it" in r.output


def test_torchrun_on_nccl_matches_the_one_process_run(tmp_path: Path, sine_csv: Path) -> None:
    """One NCCL rank per GPU: torchrun with as many processes as there are GPUs writes the run as rank 0,
    and its windows-only training matches a plain run's losses closely (same shuffle, same shards)."""
    n = torch.cuda.device_count()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    flags = [*TINY, "--device", "cuda", "--precision", "fp32", "--training", "windows", "--quiet"]
    runs = {}
    for label, launch in (("one", [sys.executable, "-m", "lstmcast"]),
                          ("ddp", [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                                   str(n), "-m", "lstmcast"])):
        runs[label] = tmp_path / label
        p = subprocess.run([*launch, "train", str(sine_csv), "--out", str(runs[label]), *flags], env=env,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
    one, ddp = (pd.read_csv(runs[k] / "history.csv") for k in ("one", "ddp"))
    assert len(one) == len(ddp)
    np.testing.assert_allclose(ddp["train_loss"], one["train_loss"], rtol=1e-3)
    assert load_checkpoint(runs["ddp"]).config.device == "cuda"
    device = json.loads((runs["ddp"] / "metrics.json").read_text())["versions"]["device"]
    assert device == f"cuda: {torch.cuda.get_device_name()}"


def test_auto_takes_the_gpu_where_it_pays_and_says_so_where_not(sine_csv: Path) -> None:
    from lstmcast.train import AUTO_GPU_POINTS, resolve_device, resolve_precision

    assert resolve_device("auto", AUTO_GPU_POINTS - 1).type == "cpu"
    assert resolve_device("auto", AUTO_GPU_POINTS).type == "cuda" and resolve_device("auto").type == "cuda"
    assert resolve_precision("auto", torch.device("cuda")) is None  # fp32 (TF32 in cuDNN): bf16 was no faster
    small = fit(load_panel(sine_csv), tiny_config(device="auto", epochs=1))  # 161 points
    assert small.device.type == "cpu"
    assert "--device auto trained on the CPU: 161 points are too few for the GPU to pay (it takes over from 2,000)" \
        in " ".join(small.prep.notes)
    t = np.arange(2400)
    big = pd.DataFrame({"t": t, "y": np.sin(2 * np.pi * t / 20)})
    assert fit(panel_from_frame(big), tiny_config(device="auto", epochs=1)).device.type == "cuda"
