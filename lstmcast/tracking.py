"""Opt-in experiment logging (`train --log tensorboard|mlflow`): parameters, per-epoch losses, the final
metrics and the run's plot, through the real libraries (optional extras). Nothing is written before the
data checks pass, and a run that fails leaves no log behind."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .errors import LstmcastError
from .train import EpochInfo

__all__ = ["TRACKERS", "Tracker", "open_tracker", "flat_metrics"]

TRACKERS = ("tensorboard", "mlflow")
STAGES = ("evaluation", "final")  # train's first fit is scored on the hold-out, the second is the refit


def flat_metrics(metrics: dict[str, Any], prefix: str = "test") -> dict[str, float]:
    """{"model": {"mse": 0.1}, ...} -> {"test/model/mse": 0.1, ...}: every finite number of the forecasters' scores."""
    out: dict[str, float] = {}
    for name in ("model", "naive", "seasonal_naive"):
        for key, v in (metrics.get(name) or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf"):
                out[f"{prefix}/{name}/{key}"] = float(v)
    return out


class Tracker:
    """One training run's log. Subclasses write through a library; `start` runs once the data checks passed."""

    kind = ""

    def __init__(self, run_dir: Path, params: dict[str, Any]) -> None:
        self.run_dir, self.params = Path(run_dir), params
        self.stage = -1
        self.started = False

    def on_start(self) -> None:
        """A fit begins: the first is the evaluation model, a second one the final refit."""
        self.stage = min(self.stage + 1, len(STAGES) - 1)
        if not self.started:
            self.started = True
            self._open()
            self._params({k: _plain(v) for k, v in self.params.items()})

    def on_epoch(self, e: EpochInfo) -> None:
        stage = STAGES[max(self.stage, 0)]
        self._scalar(f"{stage}/train_loss", e.train_loss, e.epoch)
        if e.val_loss is not None:
            self._scalar(f"{stage}/val_loss", e.val_loss, e.epoch)

    def finish(self, metrics: dict[str, Any]) -> None:
        """Log the final metrics and the run's plot (drawn into a temporary file), then close."""
        for key, v in flat_metrics(metrics).items():
            self._scalar(key, v, 0)
        with tempfile.TemporaryDirectory() as tmp:
            from .run import plot_run

            try:
                png = plot_run(self.run_dir, out=Path(tmp) / "plot.png").paths["plot"]
            except LstmcastError:
                png = None  # no hold-out predictions to draw: metrics and losses are still logged
            if png is not None:
                self._image(png)
        self._close(failed=False)

    def fail(self) -> None:
        """The run failed or was stopped before it was written: close and remove what was logged."""
        if self.started:
            self._close(failed=True)

    def _open(self) -> None: ...
    def _params(self, params: dict[str, Any]) -> None: ...
    def _scalar(self, tag: str, value: float, step: int) -> None: ...
    def _image(self, png: Path) -> None: ...
    def _close(self, failed: bool) -> None: ...


def _plain(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool)) or v is None else json.dumps(v)


class TensorBoardTracker(Tracker):
    """Event files under LOG_DIR (default: a folder `tensorboard` beside the run folder, one subfolder per run)."""

    kind = "tensorboard"

    def __init__(self, run_dir: Path, params: dict[str, Any], log_dir: Path | None = None) -> None:
        super().__init__(run_dir, params)
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise LstmcastError("--log tensorboard needs the tensorboard package: pip install 'lstmcast[tensorboard]'") from None
        self._writer_cls = SummaryWriter
        self.log_dir = Path(log_dir) if log_dir is not None else self.run_dir.parent / "tensorboard" / self.run_dir.name
        self._made = not self.log_dir.exists()

    def _open(self) -> None:
        self.writer = self._writer_cls(log_dir=str(self.log_dir))

    def _params(self, params: dict[str, Any]) -> None:
        rows = "\n".join(f"| {k} | {v} |" for k, v in params.items())
        self.writer.add_text("params", "| setting | value |\n|---|---|\n" + rows, 0)

    def _scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, step)

    def _image(self, png: Path) -> None:
        import matplotlib.image

        self.writer.add_image("plot", matplotlib.image.imread(str(png))[..., :3], 0, dataformats="HWC")

    def _close(self, failed: bool) -> None:
        self.writer.close()
        if failed and self._made:
            shutil.rmtree(self.log_dir, ignore_errors=True)


class MlflowTracker(Tracker):
    """An MLflow run in experiment `lstmcast` named after the run folder, at MLflow's own tracking URI
    (MLFLOW_TRACKING_URI), or at LOG_DIR as a local file store."""

    kind = "mlflow"

    def __init__(self, run_dir: Path, params: dict[str, Any], log_dir: Path | None = None) -> None:
        super().__init__(run_dir, params)
        try:
            import mlflow
        except ImportError:
            raise LstmcastError("--log mlflow needs the mlflow package: pip install 'lstmcast[mlflow]'") from None
        self.mlflow, self.log_dir = mlflow, log_dir

    def _open(self) -> None:
        if self.log_dir is not None:
            # A folder is MLflow's file store, which MLflow 3 keeps only on request (a database needs the
            # full mlflow and a server-side schema); MLFLOW_TRACKING_URI chooses anything else.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            self.mlflow.set_tracking_uri(Path(self.log_dir).resolve().as_uri())
        try:
            self.mlflow.set_experiment("lstmcast")
            self.run = self.mlflow.start_run(run_name=self.run_dir.name)
        except Exception as e:  # an unreachable server, a store it refuses: the user's to fix, before training
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise LstmcastError(f"--log mlflow: cannot start a run at {self.mlflow.get_tracking_uri()}: {first}") from None

    def _params(self, params: dict[str, Any]) -> None:
        self.mlflow.log_params({k: str(v)[:500] for k, v in params.items()})

    def _scalar(self, tag: str, value: float, step: int) -> None:
        self.mlflow.log_metric(tag, value, step=step)

    def _image(self, png: Path) -> None:
        self.mlflow.log_artifact(str(png))

    def _close(self, failed: bool) -> None:
        self.mlflow.end_run(status="FAILED" if failed else "FINISHED")


def open_tracker(kind: str, run_dir: Path, params: dict[str, Any], log_dir: Path | None = None) -> Tracker:
    """The tracker for `--log kind`; a missing extra is an error now, before any training."""
    if kind == "tensorboard":
        return TensorBoardTracker(run_dir, params, log_dir)
    if kind == "mlflow":
        return MlflowTracker(run_dir, params, log_dir)
    raise LstmcastError(f"unknown --log {kind!r}; use {' or '.join(TRACKERS)}")
