"""The jobs behind the CLI: train a run folder, predict from it, plot it. Data flows one way."""

from __future__ import annotations

import difflib
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .baselines import baseline_forecasts
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import (IN_MEMORY, STDIN, STREAMS, Panel, data_source, file_fingerprint, load_panel, load_table,
                   panel_from_frame, read_written, refill_training)
from .errors import LstmcastError, NothingTrained
from .finetune import init_weights
from .forecast import forecast_future, frame_from_forecasts, predict_at, report_levels
from .io import (FIGURE_FORMATS, STDOUT, TABLE_FORMATS, ensure_dir, file_identity, lock_if_inside, output_format,
                 write_csv, write_json, write_table, writes_run_folder)
from .metrics import grouped_point_metrics, mase, mask_unobserved, point_metrics, probabilistic_metrics
from .resume import training_state
from .train import EpochInfo, Fitted, fit, refit
from .windows import window_origins

__all__ = ["RunResult", "train_run", "evaluate", "predict_run", "plot_run", "mase_scales", "load_for", "load_like", "diagnostics", "versions",
           "per_series_metrics"]


@dataclass
class RunResult:
    """What a job wrote and what the user should be told."""

    paths: dict[str, Path]
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False


def load_for(path: Path, cfg: TrainConfig) -> Panel:
    """Load a data file with the columns and fill a config names."""
    return load_panel(path, cfg.column, cfg.time_column, cfg.id_column, cfg.features, cfg.fill, cfg.freq)


def versions() -> dict[str, str]:
    """The versions that decide a run's numbers: lstmcast, Python, torch, numpy, pandas."""
    import torch

    from . import __version__

    return {"lstmcast": __version__, "python": platform.python_version(), "torch": str(torch.__version__),
            "numpy": np.__version__, "pandas": pd.__version__}


def device_name(device: object) -> str:
    """'cpu', or 'cuda: <the GPU's name>': where a run trained (--device auto depends on the data's size)."""
    import torch

    dev = torch.device(device)  # type: ignore[arg-type]
    return f"cuda: {torch.cuda.get_device_name(dev)}" if dev.type == "cuda" else dev.type


def load_like(ckpt: Checkpoint, path: Path, fill: str | None = None) -> tuple[Panel, list[str]]:
    """Load a file to forecast or score with a trained model, after checking that it has the columns the model
    was trained on (value, time, series id, features) and the same kind of time; one line naming what differs.
    Missing values, and dates the model's step skips, are filled by `fill`, else as the training file was.
    -> the panel without the series that training skipped as too short, and those series' ids."""
    d, cfg = ckpt.data, ckpt.config
    df = load_table(path, ids=d["id_name"])
    name = "stdin" if Path(path) == STDIN else str(path)
    # A time column the training file had: a named one, or dates (a file without one gets steps named "t").
    time_col = d["time_name"] if (cfg.time_column or d["is_datetime"] or d["time_name"] != "t") else None
    wanted = [("value column", d["target"]), ("time column", time_col), ("series id column", d["id_name"]),
              *(("feature column", f) for f in d["features"])]
    missing = [f"{what} {col!r}" for what, col in wanted if col is not None and col not in df.columns]
    if missing:
        raise LstmcastError(f"--data {name} does not match the model's training data: it has no {', no '.join(missing)} "
                            f"(its columns are: {', '.join(map(str, df.columns))}); pass a file shaped like the "
                            "training file")
    # New rows are read as the training times were: the model's step (two rows a month apart would read as
    # 30 days), its day order (None from a checkpoint written before it was kept) and dates or numbers.
    step = cfg.freq or (d["freq"] if d["is_datetime"] else None)
    panel = panel_from_frame(df, d["target"], time_col, d["id_name"], list(d["features"]), fill or cfg.fill, step,
                             source=name, dayfirst=d.get("dayfirst"), dates=d["is_datetime"], freq_flag="model")
    if panel.is_datetime != d["is_datetime"]:
        kinds = ("dates", "step numbers") if d["is_datetime"] else ("step numbers", "dates")
        raise LstmcastError(f"--data {name}: the model was trained on {kinds[0]} in {d['time_name']!r}, but this file "
                            f"has {kinds[1]} there; pass a file shaped like the training file")
    panel.notes[:0] = df.attrs.get("notes", [])
    skipped = np.isin(panel.ids, ckpt.skipped_series(panel))
    return (panel.select(~skipped) if skipped.any() else panel), [panel.ids[i] for i in np.flatnonzero(skipped)]


def _no_rows(ids: list[str]) -> list[str]:
    """The note for series that training skipped as too short (none when there are none)."""
    return [f"no rows for {len(ids)} series that training skipped as too short for the model's windows: "
            f"{', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''}"] if ids else []


def mase_scales(panel: Panel, train_ends: np.ndarray, m: int) -> np.ndarray:
    """(S,) in-sample MAE of the seasonal naive forecast (lag m) on each series' training part."""
    v, starts = panel.values, panel.starts[:-1]
    sid = panel.series_index()
    i = np.arange(len(v))
    ok = (i - m >= starts[sid]) & (i < train_ends[sid])
    err = np.abs(v - np.roll(v, m))
    s = np.bincount(sid[ok], err[ok], minlength=panel.n_series)
    c = np.bincount(sid[ok], minlength=panel.n_series)
    return np.where(c > 0, s / np.maximum(c, 1), np.nan)


def evaluate(fitted: Fitted, samples: int = 200) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Forecast every test origin (each test point for one step; rolling origins for H steps) and score
    the model against naive baselines on the very same targets, on the original scale. A target the file
    did not have (filled in) is never scored: it reads as NaN in the actuals."""
    prep, cfg = fitted.prep, fitted.config
    panel, h = prep.panel, cfg.horizon
    starts = panel.starts[:-1]
    origins = window_origins(prep.train_ends, panel.starts[1:], prep.n_prev, h, starts)
    sid = np.searchsorted(panel.starts, origins, side="right") - 1
    point, q = predict_at(fitted, origins, h, samples=samples, seed=cfg.seed)
    steps = np.arange(h)
    tidx = origins[:, None] + steps  # (K, H) index of each target
    actual = mask_unobserved(panel.values[tidx], panel.observed[tidx])
    m = prep.season_length or 1
    base = baseline_forecasts(panel.values, starts[sid], origins, h, m)
    scale = mase_scales(panel, prep.train_ends, m)[sid]
    metrics: dict[str, Any] = {
        "horizon": h, "strategy": cfg.resolved_strategy, "model_horizon": cfg.model_horizon, "n_prev": prep.n_prev,
        "season_length": prep.season_length, "mase_lag": m, "test_forecasts": int(len(origins)),
        "test_points": int(tidx.size), "scored_points": int(np.isfinite(actual).sum()), "series": panel.n_series,
    }
    names = {"model": point, "naive": base["naive"]}
    # seasonal naive only when most origins have a season of history: before that it repeats the last value, and
    # a "seasonal naive (m=200)" row would be naive under another name (one short series of a panel keeps it)
    if prep.season_length and prep.season_length > 1 and (origins - starts[sid] >= prep.season_length).mean() >= 0.5:
        names["seasonal_naive"] = base["seasonal_naive"]
    for name, pred in names.items():
        metrics[name] = {**point_metrics(actual, pred), "mase": mase(actual, pred, scale)}
    if panel.n_series > 1:
        metrics["per_series"] = per_series_metrics(panel.ids, actual, names, sid, scale)
    if q is not None:
        # One pass of a gaussian model gives exact Normal quantiles (an affine unscaling keeps them Normal, a
        # log does not): score those with the closed-form CRPS; sampled paths with the quantile grid.
        log = np.asarray(getattr(prep.scaler, "log", np.zeros(panel.n_series, bool)), dtype=bool)
        gaussian = (fitted.loss.name == "gaussian" and h <= cfg.model_horizon) & ~log[sid][:, None]
        metrics["model"].update(probabilistic_metrics(actual, q, report_levels(fitted), gaussian=gaussian))
        metrics["crps_method"] = "closed form of the Normal" if gaussian.all() else (
            "quantile grid: 2 x pinball integrated over levels (0, 1), linear between the reported quantiles, "
            "exponential tails" + ("; closed form where Normal" if gaussian.any() else ""))
    ok = np.isfinite(actual)
    metrics["diagnostics"] = diagnostics(point[ok], base["naive"][ok], actual[ok])
    metrics["leakage_audit"] = _audit(fitted)
    df = frame_from_forecasts(
        fitted, np.repeat(sid, h), np.tile(steps + 1, len(origins)), panel.time[tidx].reshape(-1),
        point.reshape(-1), None if q is None else q.reshape(-1, q.shape[-1]), "predicted", actual.reshape(-1),
        origin_times=panel.time[origins - 1].repeat(h) if h > 1 else None,
    )
    return df, metrics


def per_series_metrics(ids: list[str], actual: np.ndarray, forecasts: dict[str, np.ndarray], sid: np.ndarray,
                       scale: np.ndarray) -> dict[str, dict[str, Any]]:
    """{series id: {"points": n, forecaster: {mse, rmse, mae, smape, mase}}}: each series' own scores, for a
    many-series run (the pooled scores hide a series the model does badly on)."""
    cols = {name: grouped_point_metrics(actual, pred, sid, scale, len(ids)) for name, pred in forecasts.items()}
    points = cols["model"].pop("points")
    for c in cols.values():
        c.pop("points", None)
    return {key: {"points": int(points[i]), **{name: {k: float(v[i]) for k, v in c.items()} for name, c in cols.items()}}
            for i, key in enumerate(ids)}


def diagnostics(point: np.ndarray, naive: np.ndarray, actual: np.ndarray) -> dict[str, Any]:
    """Warn when forecasts are a flat line or a copy of the last value."""
    out: dict[str, Any] = {"warnings": []}
    e_m, e_n = (point - actual).reshape(-1), (naive - actual).reshape(-1)
    spread_a = float(np.std(actual))
    if spread_a > 0 and float(np.std(point)) < 0.05 * spread_a:
        out["warnings"].append("the model's forecasts are almost a flat line (spread under 5% of the actuals'); "
                               "try more --epochs, a larger --lr or --scaler standard")
    if len(e_m) > 2 and np.std(e_m) > 0 and np.std(e_n) > 0:
        corr = float(np.corrcoef(e_m, e_n)[0, 1])
        out["error_corr_with_naive"] = corr
        if corr > 0.98:
            out["warnings"].append(f"the model's errors track the naive last-value forecast's (correlation {corr:.3f}): "
                                   "it mostly copies the last value")
    return out


def _audit(fitted: Fitted) -> dict[str, Any]:
    """Every fitted statistic with the time range of the points it saw."""
    prep, cfg = fitted.prep, fitted.config
    panel = prep.panel
    starts, ends, t = panel.starts[:-1], prep.train_ends, panel.time

    def fmt(v: Any) -> str:
        return str(pd.Timestamp(v)) if panel.is_datetime else f"{float(v):g}"

    seen = {"from": fmt(t[starts].min()), "to": fmt(t[ends - 1].max())}
    audit: dict[str, Any] = {
        "split": {"train_points": int((ends - starts).sum()), "test_points": int((panel.starts[1:] - ends).sum()),
                  "latest_train_time": seen["to"],
                  # series too short to spare a test part train on all their points and have none
                  "earliest_test_time": fmt(t[tested].min()) if len(tested := ends[ends < panel.starts[1:]]) else None,
                  "rule": "per series: the last max(round(test_size * n), horizon) points test (none when the series is too "
                          "short to spare them), the rest train"},
        "scaler": {"kind": prep.scaler.kind, "fitted_on": "training points of each series only", **seen},
        "training_windows": {"targets_up_to": seen["to"],
                             "rule": "every target of a training or validation window lies in its series' training part"},
        "calendar": "fixed sin/cos of the timestamps; nothing fitted" if prep.future.shape[1] else "not used",
        "fill": cfg.fill or "not used (missing values are an error)",
    }
    scored = ends < panel.starts[1:]  # series with a test part
    own = bool((t[ends[scored] - 1] < t[ends[scored]]).all())  # checked, not assumed
    audit["split"]["each_series_trains_before_its_test"] = own
    if scored.any() and t[ends - 1].max() >= t[ends[scored]].min():
        audit["split"]["ragged_note"] = (
            "the series end at different times, so latest_train_time and earliest_test_time belong to different "
            "series; within each series every training point precedes its test points (the rule), and a model "
            "fitted across series reads other series' points up to latest_train_time")
    if cfg.fill in ("interpolate", "ffill", "zero") and not panel.observed.all():
        # Check rather than assume: the values must be what a fill knowing the split gives.
        try:
            causal = np.array_equal(refill_training(panel.values, panel.observed, panel.starts, ends, cfg.fill), panel.values)
        except LstmcastError:
            causal = False
        audit["fill_note"] = (f"{int((~panel.observed).sum())} filled points, never scored as actuals; " + (
            "training points read training observations only, test points carry the last observation forward"
            if causal else "filled over the whole series at load time, so a filled point may read a later value, "
            "in the test part too"))
    if panel.feature_names:
        audit["features_scaler"] = {"fitted_on": "training points of all series", **seen}
    return audit


def _epochs_text(epochs: list[int]) -> str:
    """'12', or '8-15 over 5 networks' for an ensemble."""
    if len(set(epochs)) <= 1:
        n = max(1, epochs[0]) if epochs else 0
        return f"{n} epoch{'s' * (n != 1)}"
    return f"{max(1, min(epochs))}-{max(epochs)} epochs over {len(epochs)} networks"


def _history_frame(history: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(history, columns=["epoch", "train_loss", "val_loss", "seconds"])


# forecast.csv, plot.png and the exports' default files (export.FORMATS) come from the model: a new model must
# not inherit a previous model's.
@writes_run_folder("model.pt", "history.csv", "metrics.json", "test_predictions.csv", "config.toml", "forecast.csv",
                   "plot.png", "model.onnx", "model.onnx.json", "model.torchscript.pt", "model.torchscript.pt.json")
def train_run(data: Path, cfg: TrainConfig, out: Path, on_epoch: Callable[[EpochInfo], None] | None = None,
              samples: int = 200, on_start: Callable[[int, int, int, int], None] | None = None,
              on_stage: Callable[[str], None] | None = None, init_from: Path | None = None,
              resume: dict[str, Any] | None = None, recorded: str | None = None) -> RunResult:
    """Train on DATA and write model.pt, history.csv, metrics.json and test_predictions.csv into OUT.
    OUT is locked for the whole run and replaced as a whole at the end (see io.run_folder).

    The evaluation model is trained before each series' test part and scored on it; then (cfg.refit)
    the forecast model is trained afresh on every point for the epochs the evaluation found best.
    on_stage(text) announces each stage before its on_start. init_from (a run folder) fine-tunes: both
    stages start from that run's final weights (see finetune.init_weights). resume (a checkpoint's training
    state, see resume.plan_resume) continues every network of both stages after its last finished epoch."""
    data = Path(data)
    init = init_weights(init_from, cfg) if init_from is not None else None
    panel = load_for(data, cfg)
    out = ensure_dir(Path(out))
    stage = on_stage or (lambda text: None)
    stage("Evaluation model: trained before the held-out test part" if cfg.test_size > 0 else
          "Model: trained on every point (--test-size 0: no held-out test part)")
    fitted = fit(panel, cfg, on_epoch, on_start, init=init, resume=resume["evaluation"] if resume else None)
    prep = fitted.prep
    holdout = bool((prep.train_ends < prep.ends).any())
    preds: pd.DataFrame | None = None
    if holdout:
        preds, metrics = evaluate(fitted, samples=samples)
    else:
        metrics = {"horizon": cfg.horizon, "strategy": cfg.resolved_strategy, "model_horizon": cfg.model_horizon,
                   "n_prev": prep.n_prev, "season_length": prep.season_length, "test_forecasts": 0, "test_points": 0,
                   "series": prep.panel.n_series, "diagnostics": {"warnings": []}}
    metrics["holdout"] = holdout
    notes = list(prep.notes)
    final, cut = fitted, False  # cut: Ctrl-C before the refit's first epoch finished
    validated = any(h["val_loss"] is not None for h in fitted.history)
    if cfg.refit and (holdout or validated) and not fitted.interrupted:
        n_all = int(prep.panel.lengths.sum())  # the series the evaluation trained on, whole
        stage(f"Final model: refit on all {n_all} points for the epochs the evaluation kept "
              f"({_epochs_text(fitted.best_epochs)})")
        try:
            final = refit(fitted, panel, on_epoch, on_start, init=init, resume=resume["final"] if resume else None)
        except NothingTrained:  # Ctrl-C in the refit's first epoch: keep the finished evaluation model
            cut = True
            notes.append("interrupted before the final model's first epoch finished: the forecast model is the "
                         "evaluation model, which never saw the test part (train --resume refits it)")
        if final is not fitted:
            notes += [n for n in final.prep.notes if n not in notes]  # e.g. a network stopped early by a NaN loss
            what = ("each network's best on the validation windows" if validated else
                    "each network's epoch of lowest training loss" if cfg.patience is not None else
                    "the whole budget, as the evaluation model trained")
            notes.append(f"the forecast model was refit on all {int(final.prep.panel.lengths.sum())} points for "
                         f"{_epochs_text(fitted.best_epochs)} ({what})"
                         + ("; the scores are the evaluation model's on the held-out part" if holdout else ""))
    elif not cfg.refit and holdout:
        notes.append("--no-refit: the forecast model is the evaluation model, which never saw the test part")
    interrupted = fitted.interrupted or final.interrupted or cut
    metrics.update({"window_norm": fitted.model.window_norm, "best_epoch": fitted.best_epoch, "epochs_run": len(fitted.history), "epochs_planned": fitted.epochs,
                    "interrupted": interrupted, "batch_size": fitted.batch_size, "cell": cfg.cell, "loss": cfg.loss,
                    "final_model": {"refit": final is not fitted, "refit_interrupted": cut,
                                    "points": int((final.prep.train_ends - final.prep.series_starts).sum()),
                                    "epochs": len(final.history), "member_epochs": list(final.best_epochs)},
                    "notes": notes})
    info = data_source(data, len(panel.values), panel.sha256)
    if recorded is not None:  # the API's DataFrame, written to a temporary file that is gone after the fit
        info["path"] = recorded
    kept = set(prep.panel.ids)
    skipped = [i for i in panel.ids if i not in kept]
    if skipped:  # too short to train on: predict says so instead of taking them for unknown series
        info["skipped"] = skipped
    # What a reader of metrics.json needs to trust or redo the numbers: the settings, the data, the software.
    metrics.update({"config": cfg.to_dict(), "data": info, "versions": {**versions(), "device": device_name(fitted.device)}})
    paths = {
        "checkpoint": save_checkpoint(out / "model.pt", final, info, metrics, evaluation=fitted,
                                      resume=training_state(cfg, fitted, final, interrupted)),
        "history": write_csv(_history_frame(fitted.history), out / "history.csv"),
        "metrics": write_json(metrics, out / "metrics.json"),
    }
    stale = out / "test_predictions.csv"
    if preds is not None:
        paths["test_predictions"] = write_csv(preds, stale)
    elif stale.exists():
        stale.unlink()  # a previous run's predictions would be read as this run's
    notes += metrics["diagnostics"]["warnings"]
    return RunResult(paths=paths, metrics=metrics, notes=notes, interrupted=interrupted)


def _model_file(run_dir: Path) -> tuple[Path, tuple[int, int, int, int] | None]:
    """A run's model.pt and its identity before it is read: a command that writes into the run folder checks,
    under the folder's lock, that no train replaced the run meanwhile (io.lock_if_inside)."""
    model = Path(run_dir) / "model.pt" if Path(run_dir).is_dir() else Path(run_dir)
    return model, file_identity(model)


# The files a run folder holds that predict must never write over: what describes the model, and what it forecasts
# from. `own`: the file this predict writes by default (test_predictions.csv, or forecast.csv with --horizon).
_RUN_OWNED = ("model.pt", "history.csv", "metrics.json", "config.toml", "test_predictions.csv", "forecast.csv",
              "backtest.csv", "backtest.json", "backtest.toml", "compare.csv", "compare.json", "compare.toml",
              "model.onnx.json", "model.torchscript.pt.json")


def _not_over_inputs(target: Path, run_dir: Path, ckpt: Checkpoint, data: Path | None, own: str) -> None:
    """Refuse an --out that is the data it reads (--data, or the run's recorded training file) or one of the run's
    own files other than `own`: `predict --out d.csv --data d.csv` replaced the user's data with 4 rows."""
    if target == STDOUT:
        return
    def same(a: Path, b: Path) -> bool:
        return a.exists() and b.exists() and os.path.samefile(a, b)

    recorded = ckpt.data.get("path")
    for src, what in ((data, "the --data file"), (Path(recorded) if recorded else None, "the run's training data")):
        if src is not None and src != STDIN and same(target, Path(src)):
            raise LstmcastError(f"--out {target} is {what}; choose another file (nothing was written)")
    folder = Path(os.path.realpath(run_dir))
    if Path(os.path.realpath(target.parent)) == folder and target.name in _RUN_OWNED and target.name != own:
        raise LstmcastError(f"--out {target} is the run's own {target.name}; choose another file (nothing was written)")


def predict_run(run_dir: Path, out: Path | None = None, data: Path | None = None, horizon: int | None = None,
                samples: int = 200, device: str = "cpu", fill: str | None = None) -> RunResult:
    """Test-set predictions (no horizon) or a forecast of `horizon` steps past the end of the data, written as
    CSV or Parquet by `out`'s extension, or as CSV on stdout for `-`. `fill`: how to fill missing values of
    `data` (default: as in training)."""
    if out is not None and Path(out) != STDOUT:
        output_format(out, TABLE_FORMATS, "tables")  # before any work
    model, seen = _model_file(run_dir)
    ckpt = load_checkpoint(run_dir)
    cfg = ckpt.config
    notes: list[str] = []
    run_dir = Path(run_dir) if Path(run_dir).is_dir() else Path(run_dir).parent
    _not_over_inputs(Path(out) if out else run_dir / ("test_predictions.csv" if horizon is None else "forecast.csv"),
                     run_dir, ckpt, data, "test_predictions.csv" if horizon is None else "forecast.csv")
    if samples < 1:
        raise LstmcastError(f"--samples must be at least 1, got {samples}")
    if horizon is None:
        if not ckpt.metrics.get("holdout", True):
            raise LstmcastError(f"run {run_dir} has no held-out test part (--test-size 0, or the series was too short "
                                "to spare one); forecast past the end with --horizon N")
        if data is None and ckpt.data.get("path") in STREAMS:
            raise LstmcastError(f"run {run_dir} was trained on data from {STREAMS[ckpt.data['path']]}; pass the same "
                                "file with --data")
        src = Path(data) if data is not None else Path(ckpt.data["path"])
        if src != STDIN and not src.exists():
            raise LstmcastError(f"training data {src} not found; pass the file with --data")
        if ckpt.data.get("path") == IN_MEMORY:
            notes.append(f"run {run_dir} was fitted from a DataFrame, so {src} cannot be checked to hold the same data")
        elif file_fingerprint(src) != ckpt.data.get("sha256"):  # --data, or the recorded file edited since
            notes.append(f"{src} {'differs from' if data is not None else 'has changed since'} the training data "
                         "(its sha256 differs); its test part is cut by the training rule, so the scores may include "
                         "points the evaluation model trained on")
        panel, skipped = load_like(ckpt, src, fill)
        # how new rows were read (the training file's were said), and which series the model never had
        notes += (panel.notes if data is not None else []) + _no_rows(skipped)
        fitted = ckpt.fitted(panel, split=True, device=device)
        df, metrics = evaluate(fitted, samples=samples)
        target = Path(out) if out else run_dir / "test_predictions.csv"
        with lock_if_inside(run_dir, target, model, seen):
            path = write_table(df, target, (panel.time_name, "cutoff") if panel.is_datetime else ())
        return RunResult(paths={"predictions": path}, metrics=metrics, notes=notes)
    if horizon < 1:
        raise LstmcastError(f"--horizon must be at least 1, got {horizon}")
    panel, skipped = load_like(ckpt, Path(data), fill) if data is not None else (None, ckpt.skipped_series())
    notes += (panel.notes if panel is not None else []) + _no_rows(skipped)
    fitted = ckpt.fitted(panel, split=False, device=device)
    h = cfg.model_horizon
    if horizon > h:
        what = "one step at a time" if h == 1 else f"in blocks of {h} (the model was trained direct for {h} steps)"
        kind = f", sampling {samples} paths" if fitted.loss.probabilistic else ""
        notes.append(f"forecasting {horizon} step{'s' * (horizon != 1)} recursively {what}{kind}")
    else:
        notes.append(f"forecasting {horizon} step{'s' * (horizon != 1)} with the {cfg.resolved_strategy} model in one pass")
    times, point, q = forecast_future(fitted, horizon, samples=samples, seed=cfg.seed)
    s = fitted.prep.panel.n_series
    df = frame_from_forecasts(fitted, np.repeat(np.arange(s), horizon), np.tile(np.arange(1, horizon + 1), s),
                              times.reshape(-1), point.reshape(-1),
                              None if q is None else q.reshape(-1, q.shape[-1]), "forecast")
    target = Path(out) if out else run_dir / "forecast.csv"
    with lock_if_inside(run_dir, target, model, seen):
        path = write_table(df, target, (fitted.prep.panel.time_name,) if fitted.prep.panel.is_datetime else ())
    return RunResult(paths={"forecast": path}, notes=notes)


def _read_table(path: Path, id_name: str | None) -> pd.DataFrame:
    """A table `predict` wrote: CSV (its ids as written), or Parquet (its own types) by its extension."""
    if TABLE_FORMATS.get(path.suffix.lower()) == "parquet":
        return pd.read_parquet(path)
    return read_written(path, id_name)


def _check_table(df: pd.DataFrame, ckpt: Checkpoint, path: Path, value: str, series: str | None, fix: str
                 ) -> list[str]:
    """That a table of predictions is one lstmcast wrote for this run (fix: the command that writes one): its
    time, `value` (numbers) and, for a run of several series, id columns; the plotted series' times only once (per
    cutoff in a multi-step test part), and dates where the run has dates. -> notes (a forecast that starts inside
    the run's history: made from other data, `predict --data` of fewer rows or another run's)."""
    d = ckpt.data
    need = [c for c in (d["id_name"], d["time_name"], value) if c is not None]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise LstmcastError(f"{path} has no column {', no column '.join(map(repr, missing))} (its columns are: "
                            f"{', '.join(map(str, df.columns))}); {fix}")
    bad = pd.to_numeric(df[value], errors="coerce").isna() & df[value].notna()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise LstmcastError(f"{path}: column {value!r} is not numeric: row {i + 1} has {df[value].iloc[i]!r}")
    sid = (series or ckpt.stats.ids[0]) if d["id_name"] else None
    rows = df if sid is None else df[df[d["id_name"]].astype(str) == sid]
    if sid is not None and rows.empty:
        if value == "predicted":  # a series too short to spare a test part has no test predictions
            return []
        raise LstmcastError(f"{path} has no rows for series {sid!r}; {fix}")
    key = [d["time_name"]] + (["cutoff"] if "cutoff" in rows.columns else [])
    if rows.duplicated(key).any():
        raise LstmcastError(f"{path} repeats the time {rows.loc[rows.duplicated(key), d['time_name']].iloc[0]!r}: it "
                            "holds several series, and this run has " + ("one" if sid is None else
                                                                         f"them in {d['id_name']!r}") + f"; {fix}")
    times = rows[d["time_name"]]
    if d["is_datetime"] and (times.dtype.kind in "iufb" or pd.to_datetime(
            times.astype(str), format="ISO8601", errors="coerce", utc=True).isna().any()):
        raise LstmcastError(f"{path}: column {d['time_name']!r} holds something other than dates, and the run was "
                            f"trained on dates; {fix}")
    if value == "forecast" and len(times):  # a forecast starts after the history it continues
        tail = ckpt.tail_panel()
        s = ckpt.stats.ids.index(sid) if sid is not None else 0
        end = tail.time[int(tail.starts[s + 1]) - 1]
        if d["is_datetime"]:
            first = pd.to_datetime(times.astype(str), format="ISO8601", utc=True).dt.tz_localize(None).min()
            late = first > pd.Timestamp(end)
        else:
            first = pd.to_numeric(times, errors="coerce").min()
            late = bool(first > float(end))  # False for NaN: not step numbers
        if not late:
            return [f"{path} starts at {first}, inside the run's history (which ends at "
                    f"{pd.Timestamp(end) if d['is_datetime'] else end}): it was made from other data than the run's"]
    return []


def plot_run(run_dir: Path, out: Path | None = None, forecast: Path | None = None, series: str | None = None
             ) -> RunResult:
    """Draw test predictions vs actuals, the loss curves, and a forecast when one exists, for one series
    (`series`, default the first) with that series' own scores."""
    from .plot import plot_run_figure

    model, seen = _model_file(run_dir)
    ckpt = load_checkpoint(run_dir)
    run_dir = Path(run_dir) if Path(run_dir).is_dir() else Path(run_dir).parent
    target = Path(out) if out else run_dir / "plot.png"
    output_format(target, FIGURE_FORMATS, "plots")  # before any work
    ids = ckpt.stats.ids
    if series is not None and not ckpt.data["id_name"]:
        raise LstmcastError(f"--series {series}: run {run_dir} has a single series (trained without --id-column)")
    if series is not None and series in ckpt.skipped_series():
        raise LstmcastError(f"--series {series!r}: training skipped it as too short for the model's windows, so run "
                            f"{run_dir} has no predictions for it")
    if series is not None and series not in ids:
        near = difflib.get_close_matches(series, ids, n=1)
        raise LstmcastError(f"--series {series!r} is not in run {run_dir}; "
                            + (f"did you mean {near[0]!r}? " if near else "")
                            + f"its {len(ids)} series are: {', '.join(ids[:10])}{', ...' if len(ids) > 10 else ''}")
    preds_path = run_dir / "test_predictions.csv"
    holdout = ckpt.metrics.get("holdout", True)
    if holdout and not preds_path.exists():
        raise LstmcastError(f"{preds_path} not found; run `lstmcast predict {run_dir}` first")
    fc_path = Path(forecast) if forecast else run_dir / "forecast.csv"
    if forecast and not fc_path.exists():
        raise LstmcastError(f"forecast file {fc_path} not found")
    try:
        preds = read_written(preds_path, ckpt.data["id_name"]) if holdout else None  # ids as written: 007, NA
        fc = _read_table(fc_path, ckpt.data["id_name"]) if fc_path.exists() else None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as e:
        raise LstmcastError(f"cannot read predictions: {str(e).splitlines()[0]}") from None
    notes: list[str] = []
    if preds is not None:
        _check_table(preds, ckpt, preds_path, "predicted", series, f"rerun `lstmcast predict {run_dir}` to rewrite it")
    if fc is not None:
        notes += _check_table(fc, ckpt, fc_path, "forecast", series,
                              "pass a forecast that `lstmcast predict RUN --horizon N` wrote for this run")
    with lock_if_inside(run_dir, target, model, seen):
        path = plot_run_figure(ckpt, preds, fc, target, series)
    return RunResult(paths={"plot": path}, notes=notes)
