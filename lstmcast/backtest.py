"""Rolling-origin backtest: K forecast origins per series, models refitted (or not) at each, scored beside baselines."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .baselines import BASELINES, baseline_forecasts
from .config import TrainConfig
from .data import Panel, data_source, refill_training, season_length_for
from .errors import Interrupted, LstmcastError
from .forecast import format_times
from .forecast import interval_columns, predict_at, report_levels
from .io import ensure_dir, jsonable, write_csv, write_json, writes_run_folder
from .metrics import mase, mask_unobserved, point_metrics, probabilistic_metrics
from .parallel import check_jobs, run_jobs
from .run import RunResult, diagnostics, load_for, mase_scales
from .prepare import auto_n_prev, prepare
from .train import Fitted, fit

__all__ = ["RETRAIN", "FoldInfo", "BacktestResult", "fold_origins", "backtest", "backtest_run"]

RETRAIN = ("always", "never")
POINT_KEYS = ("mae", "rmse", "smape", "mase")  # lower is better; these pick the winner
# How the file is read and the season the baselines use: every model of one backtest shares them.
DATA_FIELDS = ("column", "time_column", "id_column", "features", "fill", "freq", "season_length")


@dataclass
class FoldInfo:
    """What `on_fold` receives after each (model, fold): `fitted` is the model that forecast this fold."""

    model: str
    fold: int
    folds: int
    trained: bool  # False when retrain=never reuses the first fold's model
    seconds: float  # time spent preparing and training for this fold (0 when reused)
    fitted: Fitted


@dataclass
class BacktestResult:
    """Long forecast table, JSON-able metrics, and notes for the user."""

    forecasts: pd.DataFrame
    metrics: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def fold_origins(starts: np.ndarray, horizon: int, folds: int, step: int) -> np.ndarray:
    """Series offsets (S+1,) -> origins (K, S): fold k's first target is end - H - (K-1-k)*step,
    so the last fold's H targets end exactly at each series' end."""
    back = (folds - 1 - np.arange(folds, dtype=np.int64)) * step
    return np.asarray(starts, dtype=np.int64)[1:][None, :] - horizon - back[:, None]


def _check_args(models: dict[str, TrainConfig], horizon: int, folds: int, step: int, retrain: str,
                samples: int, reserved: set[str]) -> None:
    """One LstmcastError line per impossible argument."""
    for flag, value in (("--horizon", horizon), ("--folds", folds), ("--step", step), ("--samples", samples)):
        if value < 1:
            raise LstmcastError(f"{flag} must be at least 1, got {value}")
    if retrain not in RETRAIN:
        raise LstmcastError(f"--retrain must be one of {', '.join(RETRAIN)}; got {retrain!r}")
    if not models:
        raise LstmcastError("no models to backtest; give at least one configuration")
    for label in models:
        if not label or label in reserved:
            raise LstmcastError(f"model name {label!r} is empty or clashes with a column of backtest.csv "
                                f"({', '.join(sorted(reserved))}); choose another name")
    first = next(iter(models.values()))
    for label, cfg in models.items():
        for name in DATA_FIELDS:
            if getattr(cfg, name) != getattr(first, name):
                flag = "--" + name.replace("_", "-")
                raise LstmcastError(f"model {label!r} uses a different {flag} ({getattr(cfg, name)!r} vs "
                                    f"{getattr(first, name)!r}); all models of a backtest read the same data and season")


def _fit_span(panel: Panel, horizon: int, folds: int, step: int) -> tuple[Panel, list[str]]:
    """Drop series too short to hold every fold's targets plus one point of history (error if none is left)."""
    span = horizon + (folds - 1) * step
    ok = panel.lengths > span
    if ok.all():
        return panel, []
    if panel.n_series == 1 or not ok.any():
        who = "the series has" if panel.n_series == 1 else "the longest series has"
        longest = int(panel.lengths.max())
        # folds that would leave a first training part of a one-step window and its targets (horizon + 2 points)
        fit = (longest - 2 * horizon - 2) // step + 1 if longest >= 2 * horizon + 2 else 0
        advice = (f"use --folds {fit}" + (" or fewer" if fit > 1 else "") + (", or a smaller --step" if step > 1 else "")
                  if fit >= 1 else f"use --folds 1 with a --horizon of at most {(longest - 2) // 2}" if longest >= 4
                  else "the series needs more points")
        raise LstmcastError(f"--horizon {horizon} with --folds {folds} and --step {step} holds out {span} points, and "
                            f"training needs more before them; {who} {longest}: {advice}")
    short = [panel.ids[i] for i in np.flatnonzero(~ok)]
    return panel.select(ok), [f"skipped {len(short)} series with at most {span} points (too short for the folds): "
                              f"{', '.join(short[:5])}{' ...' if len(short) > 5 else ''}"]


def _fix_windows(panel: Panel, cfgs: dict[str, TrainConfig], n_train0: np.ndarray, season: int | None,
                 folds: int, step: int) -> tuple[Panel, dict[str, TrainConfig], list[str]]:
    """Resolve --n-prev auto once (the same window in every fold) and keep only series whose first
    training part is long enough for every model, so that prepare() never drops a series mid-backtest."""
    notes: list[str] = []
    out: dict[str, TrainConfig] = {}
    for label, cfg in cfgs.items():
        if cfg.n_prev is None:
            # the median series' first training part, as train takes the median's: one short series does not shrink
            # the window of all the others (it is skipped below if the window does not fit it)
            typical = int(np.median(n_train0))
            n = auto_n_prev(season, typical, cfg.model_horizon, cfg.deseason != "none")
            cfg = replace(cfg, n_prev=n)
            notes.append(f"{label}: a window of {n} step{'s' * (n != 1)} (--n-prev auto; the same in every fold)")
            want = auto_n_prev(season, 10**9, cfg.model_horizon, cfg.deseason != "none")
            if n < want:  # many folds leave the first one little history: say what it costs
                notes.append(f"{label}: the window is cut from {want} to {n} step{'s' * (n != 1)} because the first "
                             f"fold trains on {typical} points; fewer --folds or a smaller --step leave it more")
        out[label] = cfg
    need = {label: cfg.n_prev + cfg.model_horizon + 1 for label, cfg in out.items()}  # type: ignore[operator]
    worst = max(need, key=need.__getitem__)
    ok = n_train0 >= need[worst]
    if not ok.all():
        if panel.n_series == 1 or not ok.any():
            raise LstmcastError(_too_short(cfgs, out, worst, int(n_train0.max()), season, folds, step))
        short = [panel.ids[i] for i in np.flatnonzero(~ok)]
        notes.append(f"skipped {len(short)} series whose first training part is shorter than {need[worst]} points "
                     f"({worst}): {', '.join(short[:5])}{' ...' if len(short) > 5 else ''}")
        panel = panel.select(ok)
    return panel, out, notes


def _too_short(cfgs: dict[str, TrainConfig], out: dict[str, TrainConfig], worst: str, have: int,
               season: int | None, folds: int, step: int) -> str:
    """The error for a first training part too short for model `worst`, with advice that works: the most folds
    whose first training part fits the window (the auto window resized as it would be), else a smaller
    --n-prev where one was given, else a smaller --horizon."""
    cfg, auto = out[worst], cfgs[worst].n_prev is None
    need = cfg.n_prev + cfg.model_horizon + 1  # type: ignore[operator]
    advice = []
    for k in range(folds - 1, 0, -1):
        n = have + (folds - k) * step
        w = auto_n_prev(season, n, cfg.model_horizon) if auto else cfg.n_prev
        if n >= w + cfg.model_horizon + 1:  # type: ignore[operator]
            advice.append(f"--folds {k}")
            break
    if not auto and 1 <= have - cfg.model_horizon - 1 < cfg.n_prev:  # type: ignore[operator]
        advice.append(f"a smaller --n-prev (at most {have - cfg.model_horizon - 1})")
    advice.append("a smaller --horizon")
    return (f"the training part before the first origin has {have} points but --n-prev {cfg.n_prev}"
            + (" (auto)" if auto else "") + f" with {cfg.model_horizon}-step targets needs at least {need}; use "
            + " or ".join(advice))


def _nanmean(x: np.ndarray, axis: int | None = None) -> Any:
    """Mean over finite entries (NaN where there are none), without numpy's empty-slice warning."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    n = ok.sum(axis=axis)
    s = np.where(ok, x, 0.0).sum(axis=axis)
    return np.where(n > 0, s / np.maximum(n, 1), np.nan)


@dataclass
class _FoldWork:
    """What every fit of a backtest shares (sent once to each --jobs worker)."""

    panel: Panel
    cfgs: dict[str, TrainConfig]
    origins: np.ndarray  # (K, S)
    flat_o: np.ndarray  # (K*S,) fold-major
    retrain: str
    samples: int
    jobs: int


@dataclass
class _FoldFit:
    """One fit's forecasts for the rows it covers, and what the scores and notes need from it."""

    rows: slice
    point: np.ndarray
    q: np.ndarray | None
    levels: list[float]
    normal: np.ndarray | None
    notes: list[str]
    seconds: float
    fitted: Fitted


def _fit_fold(work: _FoldWork, task: tuple[str, int]) -> _FoldFit:
    """Fit model `label` on the points before fold k's origins and forecast its rows (every fold's
    origins when retrain=never: inference only)."""
    label, k = task
    cfg, panel, k_folds = work.cfgs[label], work.panel, len(work.origins)
    n_s = panel.n_series
    t0 = time.perf_counter()
    fitted = fit(prepare(panel, cfg, n_train=work.origins[k] - panel.starts[:-1]), cfg)
    if fitted.interrupted:  # fit keeps a model cut short by Ctrl-C; scoring it would mislead
        raise Interrupted(f"Interrupted while fitting {label} for fold {k + 1} of {k_folds}; nothing "
                          "was written (a backtest scores only complete fits)")
    seconds = time.perf_counter() - t0
    if not np.array_equal(fitted.prep.train_ends, work.origins[k]):
        raise AssertionError("prepare moved the training ends away from the fold's origins")
    rows = slice(k * n_s, (k + 1) * n_s) if work.retrain == "always" else slice(None)
    p, q = predict_at(fitted, work.flat_o[rows], cfg.horizon, samples=work.samples, seed=cfg.seed)
    levels: list[float] = []
    normal = None
    if q is not None:
        levels = report_levels(fitted)
        # one pass of a gaussian model, unscaled affinely (no log), stays Normal: closed-form CRPS
        log = np.asarray(getattr(fitted.prep.scaler, "log", np.zeros(n_s, bool)), dtype=bool)
        one_pass = cfg.loss == "gaussian" and cfg.horizon <= cfg.model_horizon
        normal = np.tile(one_pass & ~log, len(work.flat_o[rows]) // n_s)[:, None]
    if work.jobs > 1 and fitted.device.type != "cpu":  # the model travels back to the parent process
        fitted.model.cpu()
        fitted.device = torch.device("cpu")
    notes = [n for n in fitted.prep.notes if n not in panel.notes]
    return _FoldFit(rows, p, q, levels, normal, notes, seconds, fitted)


def backtest(panel: Panel, models: dict[str, TrainConfig], horizon: int, folds: int, step: int | None = None,
             retrain: str = "always", samples: int = 200,
             on_fold: Callable[[FoldInfo], None] | None = None, jobs: int = 1) -> BacktestResult:
    """Forecast H steps from K rolling origins per series with every model (label -> config) and
    with the baselines, on the very same targets; score each fold and the mean over folds.

    retrain=always refits each model on the points before each fold's origins (scaler included);
    retrain=never fits once at the first fold's origins and reuses that model for every fold.
    jobs > 1 runs the fits in that many processes (parallel.run_jobs); the results are the same.
    """
    step = horizon if step is None else step
    reserved = {"fold", "cutoff", "step", "actual", panel.time_name, *BASELINES}
    if panel.id_name:
        reserved.add(panel.id_name)
    _check_args(models, horizon, folds, step, retrain, samples, reserved)
    check_jobs(jobs)
    cfgs = {label: replace(cfg, horizon=horizon) for label, cfg in models.items()}
    first = next(iter(cfgs.values()))
    notes = list(panel.notes)
    panel, more = _fit_span(panel, horizon, folds, step)
    notes += more
    season = first.season_length or season_length_for(panel.freq, panel.is_datetime)
    starts = panel.starts[:-1]
    origins = fold_origins(panel.starts, horizon, folds, step)  # (K, S)
    panel, cfgs, more = _fix_windows(panel, cfgs, origins[0] - starts, season, folds, step)
    notes += more
    starts = panel.starts[:-1]
    origins = fold_origins(panel.starts, horizon, folds, step)
    n_s, h, k_folds = panel.n_series, horizon, folds
    m = season or 1
    cut = panel.time[origins[0] - 1]  # each series' cutoff in the first fold
    if n_s > 1 and cut.min() != cut.max():
        lo, hi = format_times(np.array([cut.min(), cut.max()]), panel.is_datetime, panel.freq, panel.utc)
        notes.append(f"the series end at different times, so each fold's cutoff is per series (the first fold's run "
                     f"from {lo} to {hi}): a model trained across series reads points of some series later than "
                     "another series' cutoff, as train's leakage audit notes for such files (ragged_note)")
    if season is None:
        notes.append("no season length is known for this data (set --season-length): seasonal_naive equals naive "
                     "and MASE is scaled by the one-step naive error")

    flat_o = origins.reshape(-1)  # (K*S,) fold-major: fold k, series s at row k*S + s
    tidx = flat_o[:, None] + np.arange(h)  # (K*S, H) index of every target
    actual = mask_unobserved(panel.values[tidx], panel.observed[tidx])  # a filled-in target is never scored
    # Baselines and MASE scales read each fold's history filled as if the fold's origin were the split, so a
    # filled point before an origin never reads a value from after it.
    parts, fold_scales = [], []
    for k in range(k_folds):
        seen = panel if panel.observed.all() else replace(panel, values=refill_training(
            panel.values, panel.observed, panel.starts, origins[k], first.fill, panel.ids))
        parts.append(baseline_forecasts(seen.values, starts, origins[k], h, m))
        fold_scales.append(mase_scales(seen, origins[k], m))  # (S,), the fold's own history
    base = {b: np.concatenate([part[b] for part in parts]) for b in BASELINES}  # fold-major like flat_o
    scales = np.stack(fold_scales)  # (K, S)
    train_ends = np.broadcast_to(origins[:1], origins.shape) if retrain == "never" else origins  # (K, S)

    points = {label: np.empty((k_folds * n_s, h)) for label in cfgs}
    quants: dict[str, tuple[np.ndarray, list[float]]] = {}
    normal: dict[str, np.ndarray] = {}  # (K*S, 1) True where the quantiles are a gaussian model's exact Normal
    seconds = {label: np.zeros(k_folds) for label in cfgs}
    # always: one fit per (model, fold); never: one per model, at the first fold's origins
    tasks = [(label, k) for label in cfgs for k in range(k_folds if retrain == "always" else 1)]
    work = _FoldWork(panel, cfgs, origins, flat_o, retrain, samples, jobs)
    fold_notes: list[list[str]] = [[] for _ in tasks]

    def done(i: int, r: _FoldFit) -> None:
        label, k = tasks[i]
        seconds[label][k] = r.seconds
        points[label][r.rows] = r.point
        if r.q is not None:
            if label not in quants:
                quants[label] = (np.empty((k_folds * n_s, h, r.q.shape[-1])), r.levels)
                normal[label] = np.zeros((k_folds * n_s, 1), bool)
            quants[label][0][r.rows] = r.q
            normal[label][r.rows] = r.normal
        fold_notes[i] = [f"{label} fold {k}: {n}" for n in r.notes]  # early stops
        for kk in range(k, k + 1 if retrain == "always" else k_folds):
            if on_fold is not None:
                on_fold(FoldInfo(label, kk, k_folds, kk == k, float(seconds[label][kk]), r.fitted))
        r.fitted = None  # type: ignore[assignment]  # on_fold had it; do not hold every fold's model

    run_jobs(_fit_fold, work, tasks, jobs, done)
    notes += [n for part in fold_notes for n in part]  # in task order, whatever order the jobs finished in

    names: dict[str, np.ndarray] = {**points, **{b: base[b] for b in BASELINES}}
    per_fold: list[dict[str, Any]] = []
    when = (panel.is_datetime, panel.freq, panel.utc)
    for k in range(k_folds):
        rows = slice(k * n_s, (k + 1) * n_s)
        scores: dict[str, dict[str, float]] = {}
        for name, pred in names.items():
            a, p = actual[rows], pred[rows]
            scores[name] = {**point_metrics(a, p), "mase": mase(a, p, scales[k])}
            if name in quants:
                q_all, levels = quants[name]
                scores[name].update(probabilistic_metrics(actual[rows], q_all[rows], levels, gaussian=normal[name][rows]))
        per_fold.append({
            "fold": k,
            "origin_time": format_times(panel.time[origins[k]], *when).tolist(),
            "train_end_time": format_times(panel.time[train_ends[k] - 1], *when).tolist(),
            "train_points": (train_ends[k] - starts).tolist(),
            "trained": retrain == "always" or k == 0,
            "train_seconds": {label: float(seconds[label][k]) for label in cfgs},
            "metrics": scores,
        })
    mean = {name: {key: float(_nanmean([f["metrics"][name][key] for f in per_fold]))
                   for key in per_fold[0]["metrics"][name]} for name in names}
    winner: dict[str, str] = {}
    for key in POINT_KEYS:
        finite = {name: v[key] for name, v in mean.items() if math.isfinite(v[key])}
        if finite:
            winner[key] = min(finite, key=finite.__getitem__)

    checks = {}
    for label, point in points.items():
        ok = np.isfinite(actual)
        checks[label] = diagnostics(point[ok], base["naive"][ok], actual[ok])
        notes += [f"{label}: {w}" for w in checks[label]["warnings"]]
    n_trained = k_folds if retrain == "always" else 1
    notes.append(f"retrain {retrain}: each model was trained {n_trained} time{'s' * (n_trained > 1)} "
                 f"for {k_folds} fold{'s' * (k_folds > 1)}"
                 + (" (the first fold's model forecasts every later origin from observed history)"
                    if retrain == "never" and k_folds > 1 else ""))

    metrics: dict[str, Any] = {
        "horizon": h, "folds": k_folds, "step": step, "retrain": retrain, "season_length": season, "mase_lag": m,
        "series": list(panel.ids), "models": {label: cfg.to_dict() for label, cfg in cfgs.items()},
        "baselines": list(BASELINES), "mean": mean, "per_fold": per_fold, "winner": winner,
        "diagnostics": checks,
    }
    if n_s > 1:
        metrics["per_series"] = _per_series(panel.ids, names, actual, scales)
    frame = _frame(panel, origins, tidx, actual, points, quants, base)
    return BacktestResult(forecasts=frame, metrics=jsonable(metrics), notes=notes)


def _per_series(ids: list[str], names: dict[str, np.ndarray], actual: np.ndarray,
                scales: np.ndarray) -> dict[str, dict[str, float]]:
    """{series: {name: MASE}}: each fold's MASE for that series, averaged over folds."""
    k_folds, n_s = scales.shape
    s = np.where(np.isfinite(scales) & (scales > 0), scales, np.nan)  # (K, S); 0 or NaN scales drop out, as in mase()
    out: dict[str, dict[str, float]] = {i: {} for i in ids}
    for name, pred in names.items():
        err = np.abs(actual - pred).reshape(k_folds, n_s, -1)  # (K, S, H)
        per = _nanmean(err, axis=2) / s  # (K, S)
        for i, v in zip(ids, _nanmean(per, axis=0)):
            out[i][name] = float(v)
    return out


def _frame(panel: Panel, origins: np.ndarray, tidx: np.ndarray, actual: np.ndarray, points: dict[str, np.ndarray],
           quants: dict[str, tuple[np.ndarray, list[float]]], base: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long table, one row per (series, fold, step): [id], fold, origin, step, time, actual, models, baselines."""
    k_folds, n_s = origins.shape
    h = tidx.shape[1]

    def order(a: np.ndarray) -> np.ndarray:
        """(K*S, H[, ...]) fold-major -> flat in (series, fold, step) order."""
        a = np.asarray(a).reshape(k_folds, n_s, h, *np.shape(a)[2:])
        return np.swapaxes(a, 0, 1).reshape(k_folds * n_s * h, *np.shape(a)[3:])

    full = (k_folds * n_s, h)
    fold = np.broadcast_to(np.arange(k_folds)[:, None, None], (k_folds, n_s, h))
    cols: dict[str, Any] = {}
    if panel.id_name is not None:
        series = np.broadcast_to(np.tile(np.arange(n_s), k_folds)[:, None], full)
        cols[panel.id_name] = np.asarray(panel.ids, dtype=object)[order(series)]
    cols["fold"] = order(fold.reshape(full))
    # cutoff: the last observed time when the forecast is made (statsforecast's name for it)
    cols["cutoff"] = format_times(panel.time[order(np.broadcast_to(origins.reshape(-1)[:, None], full)) - 1],
                                  panel.is_datetime, panel.freq, panel.utc)
    cols["step"] = order(np.broadcast_to(np.arange(1, h + 1), full))
    cols[panel.time_name] = format_times(panel.time[order(tidx)], panel.is_datetime, panel.freq, panel.utc)
    cols["actual"] = order(actual)
    for label, point in points.items():
        cols[label] = order(point)
        if label in quants:
            q, levels = quants[label]
            flat_q = order(q)
            for name, i in interval_columns(label, levels):
                cols[name] = flat_q[:, i]
    for b in BASELINES:
        cols[b] = order(base[b])
    return pd.DataFrame(cols)


@writes_run_folder("backtest.csv", "backtest.json", "backtest.png", "backtest.toml")
def backtest_run(data: Path, models: dict[str, TrainConfig], out: Path, horizon: int, folds: int,
                 step: int | None = None, retrain: str = "always", samples: int = 200,
                 on_fold: Callable[[FoldInfo], None] | None = None, jobs: int = 1) -> RunResult:
    """Backtest DATA and write backtest.csv, backtest.json and backtest.png into OUT."""
    from .plot import plot_backtest_figure  # matplotlib only when a figure is drawn

    if not models:
        raise LstmcastError("no models to backtest; give at least one configuration")
    data = Path(data)
    panel = load_for(data, next(iter(models.values())))
    result = backtest(panel, models, horizon, folds, step, retrain, samples, on_fold, jobs)
    out = ensure_dir(Path(out))
    metrics = {**result.metrics, "notes": list(result.notes),
               "data": data_source(data, len(panel.values), panel.sha256)}
    labels = list(models)
    history, fc, title, scores = _first_series_view(panel, result)
    paths = {
        "forecasts": write_csv(result.forecasts, out / "backtest.csv"),
        "metrics": write_json(metrics, out / "backtest.json"),
        "plot": plot_backtest_figure(history, fc, labels, out / "backtest.png", title, scores),
    }
    return RunResult(paths=paths, metrics=metrics, notes=list(result.notes))


def _first_series_view(panel: Panel, result: BacktestResult
                       ) -> tuple[pd.DataFrame, pd.DataFrame, str, dict[str, float]]:
    """The first series' recent history [time, value], its backtest rows, the figure's title and that
    series' mean MASE per forecaster (the legend must not show the other series' scores)."""
    m = result.metrics
    fc = result.forecasts
    sid = m["series"][0]
    s = panel.ids.index(sid)
    if panel.id_name is not None:
        fc = fc[fc[panel.id_name].astype(str) == sid]
    lo, hi = int(panel.starts[s]), int(panel.starts[s + 1])
    span = m["horizon"] + (m["folds"] - 1) * m["step"]
    keep = max(lo, hi - span - max(span, 50))  # some history before the first origin, then every fold
    t = panel.time[keep:hi]
    history = pd.DataFrame({panel.time_name: pd.to_datetime(t) if panel.is_datetime else t,
                            panel.target: panel.values[keep:hi]})
    title = (f"Backtest: {m['folds']} fold{'s' * (m['folds'] > 1)} of {m['horizon']} steps, "
             f"retrain {m['retrain']}")
    if panel.id_name is not None:
        title += f" — series {sid!r} (1 of {len(m['series'])})"
    per = m["per_series"][sid] if "per_series" in m else {name: v["mase"] for name, v in m["mean"].items()}
    return history, fc, title, {name: v for name, v in per.items() if v is not None}
