"""train --log tensorboard|mlflow: parameters, per-epoch losses, final metrics and the plot, read back."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmcast.cli import app
from lstmcast.tracking import flat_metrics

runner = CliRunner()
TINY = ["--n-prev", "10", "--hidden", "8", "--epochs", "2", "--batch-size", "32", "--device", "cpu", "--ensemble", "1",
        "--quiet", "--val-size", "0.05"]


def invoke(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def test_tensorboard_event_files_hold_losses_metrics_and_plot(tmp_path: Path, sine_csv: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = invoke("train", sine_csv, "--out", tmp_path / "run", "--log", "tensorboard", *TINY)
    assert result.exit_code == 0, result.output
    logs = tmp_path / "tensorboard" / "run"
    acc = EventAccumulator(str(logs), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    evaluation = acc.Scalars("evaluation/train_loss")
    assert [e.step for e in evaluation] == [1, 2]
    assert [e.value for e in evaluation] == pytest.approx(history["train_loss"].tolist(), rel=1e-6)
    assert [e.value for e in acc.Scalars("evaluation/val_loss")] == pytest.approx(history["val_loss"].tolist(), rel=1e-6)
    assert len(acc.Scalars("final/train_loss")) == json.loads((tmp_path / "run" / "metrics.json").read_text())[
        "final_model"]["epochs"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    for tag in ("test/model/mse", "test/model/mase", "test/naive/rmse"):
        assert tag in tags["scalars"]
    assert acc.Scalars("test/model/mse")[0].value == pytest.approx(metrics["model"]["mse"], rel=1e-6)
    assert tags["images"] == ["plot"]
    image = acc.Images("plot")[0]
    assert image.width > 100 and image.height > 100
    params = acc.Tensors("params/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| hidden | 8 |" in params and f"| data | {sine_csv} |" in params
    assert not (tmp_path / "run" / "tensorboard").exists()  # the run folder holds only the run's own files


def test_log_dir_and_failed_run_leaves_no_log(tmp_path: Path, sine_csv: Path) -> None:
    pytest.importorskip("tensorboard")
    bad = invoke("train", sine_csv, "--out", tmp_path / "run", "--log", "tensorboard", "--log-dir", tmp_path / "tb",
                 "--column", "nope", *TINY)
    assert bad.exit_code == 2 and bad.output.startswith("Error: ")
    assert not (tmp_path / "tb").exists() and not (tmp_path / "run").exists()
    ok = invoke("train", sine_csv, "--out", tmp_path / "run", "--log", "tensorboard", "--log-dir", tmp_path / "tb", *TINY)
    assert ok.exit_code == 0, ok.output
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 1


@pytest.mark.parametrize(("kind", "module", "extra"), [("tensorboard", "tensorboard", "tensorboard"),
                                                        ("mlflow", "mlflow", "mlflow")])
def test_missing_extra_is_one_error_line(tmp_path: Path, sine_csv: Path, monkeypatch: pytest.MonkeyPatch, kind: str,
                                         module: str, extra: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if the extra were not installed
    if kind == "tensorboard":
        monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    result = invoke("train", sine_csv, "--out", tmp_path / "run", "--log", kind, *TINY)
    assert result.exit_code == 2
    assert result.output == f"Error: --log {kind} needs the {module} package: pip install 'lstmcast[{extra}]'\n"
    assert not (tmp_path / "run").exists()


def test_unknown_log_kind(tmp_path: Path, sine_csv: Path) -> None:
    result = invoke("train", sine_csv, "--out", tmp_path / "run", "--log", "wandb", *TINY)
    assert result.exit_code == 2 and result.output == "Error: --log must be one of tensorboard, mlflow; got 'wandb'\n"


def test_mlflow_run_holds_params_losses_metrics_and_plot(tmp_path: Path, sine_csv: Path) -> None:
    mlflow = pytest.importorskip("mlflow")
    result = invoke("train", sine_csv, "--out", tmp_path / "run", "--log", "mlflow", "--log-dir", tmp_path / "ml", *TINY)
    assert result.exit_code == 0, result.output
    mlflow.set_tracking_uri((tmp_path / "ml").resolve().as_uri())
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("lstmcast")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.run_name == "run" and run.info.status == "FINISHED"
    assert run.data.params["hidden"] == "8" and run.data.params["data"] == str(sine_csv)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert run.data.metrics["test/model/mse"] == pytest.approx(metrics["model"]["mse"], rel=1e-6)
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    losses = client.get_metric_history(run.info.run_id, "evaluation/train_loss")
    assert [m.value for m in sorted(losses, key=lambda m: m.step)] == pytest.approx(history["train_loss"].tolist())
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["plot.png"]


def test_flat_metrics_keeps_finite_scores_only() -> None:
    m = {"model": {"mse": 0.5, "mase": float("nan"), "ok": True}, "naive": {"rmse": 2.0}, "horizon": 3}
    assert flat_metrics(m) == {"test/model/mse": 0.5, "test/naive/rmse": 2.0}
