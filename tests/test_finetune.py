"""train --init-from RUN_DIR: fine-tuning starts from the run's weights, and refuses networks of another shape."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from lstmcast.checkpoint import load_checkpoint
from lstmcast.cli import app
from lstmcast.data import generate_sine

runner = CliRunner()
TINY = ["--n-prev", "10", "--hidden", "8", "--epochs", "1", "--batch-size", "32", "--device", "cpu", "--ensemble", "2",
        "--quiet"]


def invoke(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


@pytest.fixture
def base(tmp_path: Path, sine_csv: Path) -> Path:
    assert invoke("train", sine_csv, "--out", tmp_path / "a", *TINY).exit_code == 0
    return tmp_path / "a"


def test_init_from_starts_every_network_from_the_runs_weights(tmp_path: Path, base: Path) -> None:
    other = tmp_path / "other.csv"
    generate_sine(steps_per_cycle=20, cycles=8, noise=0.2, seed=5).to_csv(other, index=False)
    # a learning rate of 1e-12 leaves the weights where they started: the run's, not a fresh random draw
    tuned = invoke("train", other, "--out", tmp_path / "b", "--init-from", base, "--lr", "1e-12", *TINY)
    assert tuned.exit_code == 0, tuned.output
    fresh = invoke("train", other, "--out", tmp_path / "c", "--seed", "1", "--lr", "1e-12", *TINY)
    assert fresh.exit_code == 0, fresh.output
    a, b, c = (load_checkpoint(tmp_path / n).payload for n in ("a", "b", "c"))
    assert set(a["model"]) == set(b["model"]) and any(k.startswith("members.1.") for k in a["model"])
    for key, w in a["model"].items():
        torch.testing.assert_close(b["model"][key], w, rtol=0, atol=1e-6)  # the final model
        torch.testing.assert_close(b["eval"]["model"][key], w, rtol=0, atol=1e-6)  # and the evaluation model
    assert not torch.allclose(c["model"]["members.0.head.weight"], a["model"]["members.0.head.weight"], atol=1e-3)


def test_init_from_refuses_other_model_flags(tmp_path: Path, base: Path, sine_csv: Path) -> None:
    result = invoke("train", sine_csv, "--out", tmp_path / "b", "--init-from", base, *TINY, "--hidden", "16",
                    "--cell", "gru")
    assert result.exit_code == 2
    assert result.output == (f"Error: --init-from {base}: that run's networks were trained with --cell lstm --hidden 8, "
                             "this training asks for --cell gru --hidden 16; give the same model flags (--config "
                             f"{base / 'config.toml'} repeats them all)\n")
    assert not (tmp_path / "b").exists()


def test_init_from_refuses_other_inputs(tmp_path: Path, base: Path, daily_csv: Path) -> None:
    result = invoke("train", daily_csv, "--out", tmp_path / "b", "--column", "sales", "--calendar", "--init-from", base,
                    *TINY)
    assert result.exit_code == 2
    assert result.output.startswith("Error: --init-from: that run's network does not fit this data's inputs (sales, "
                                    "dayofweek_sin, dayofweek_cos, dayofyear_sin, dayofyear_cos): size mismatch for ")
    assert len(result.output.splitlines()) == 1 and not (tmp_path / "b").exists()


def test_init_from_a_missing_run(tmp_path: Path, sine_csv: Path) -> None:
    result = invoke("train", sine_csv, "--out", tmp_path / "b", "--init-from", tmp_path / "none", *TINY)
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: no checkpoint at {tmp_path / 'none' / 'model.pt'}")
