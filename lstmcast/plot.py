"""Figures of a run: test predictions vs actuals, loss curves, forecast after the history (Agg, headless)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .io import FIGURE_FORMATS, atomic_path, output_format  # noqa: E402

__all__ = ["plot_run_figure", "band_columns", "plot_backtest_figure", "plot_compare_figure"]


def _save(fig: Any, out: Path) -> Path:
    """Write `fig` atomically as PNG, SVG or PDF by `out`'s extension, and free it."""
    buf = io.BytesIO()  # drawn in memory: a full disk then fails in our write, not inside matplotlib's PDF writer
    try:
        fig.savefig(buf, format=output_format(out, FIGURE_FORMATS, "plots"), dpi=110)
    finally:
        plt.close(fig)
    with atomic_path(Path(out)) as tmp:
        tmp.write_bytes(buf.getvalue())
    return Path(out)


def band_columns(df: pd.DataFrame, prefix: str) -> list[tuple[str, str, str]]:
    """(lo column, hi column, label) for each interval in a forecast table, widest first."""
    out = []
    for c in df.columns:
        if c.startswith(f"{prefix}_lo_"):
            pct = c.rsplit("_", 1)[1]
            hi = f"{prefix}_hi_{pct}"
            if hi in df.columns:
                out.append((c, hi, f"{pct}% interval"))
    return sorted(out, key=lambda t: -int(t[2].split("%")[0]))


def _times(values: pd.Series, is_datetime: bool) -> Any:
    """Times from a written CSV column; UTC ones (+00:00) on the stored history's clock, without the mark."""
    if not is_datetime:
        return values.to_numpy()
    return pd.to_datetime(values, format="ISO8601", utc=True).dt.tz_localize(None)


def _first_series(df: pd.DataFrame, id_name: str | None, sid: str | None) -> pd.DataFrame:
    if id_name is None or id_name not in df.columns or sid is None:
        return df
    return df[df[id_name].astype(str) == sid]


def _scores_title(metrics: dict[str, Any], sid: str | None, n_series: int) -> str:
    """' (RMSE x; naive y)' for the series shown: its own scores, or the pooled ones said to be pooled."""
    own = metrics.get("per_series", {}).get(sid) if sid is not None else None
    m = own or metrics
    if "model" not in m or "naive" not in m:
        return ""
    pooled = f" over all {n_series} series" if sid is not None and own is None else ""
    return f" (RMSE{pooled} {m['model']['rmse']:.4g}; naive {m['naive']['rmse']:.4g})"


def plot_run_figure(ckpt: Any, preds: pd.DataFrame | None, forecast: pd.DataFrame | None, out: Path,
                    series: str | None = None) -> Path:
    """Write the run's figure for one series (`series`, default the first) to `out` atomically, as PNG, SVG
    or PDF by its extension."""
    d = ckpt.data
    time_name, is_dt, id_name = d["time_name"], d["is_datetime"], d["id_name"]
    ids = ckpt.stats.ids
    s = ids.index(series) if series is not None else 0
    sid = ids[s] if id_name else None
    suffix = f" — series {sid!r} ({s + 1} of {len(ids)})" if id_name else ""
    history = ckpt.payload.get("history", [])
    rows = 3 if forecast is not None else 2
    fig, axes = plt.subplots(rows, 1, figsize=(11, 3.6 * rows), constrained_layout=True)

    ax = axes[0]
    if preds is not None and _first_series(preds, id_name, sid).empty:  # a series too short to spare a test part
        preds = None
    if preds is None:  # no hold-out: show the recent history the model was fitted on
        tail = ckpt.tail_panel()
        lo_i, hi_i = int(tail.starts[s]), int(tail.starts[s + 1])
        ht = pd.to_datetime(tail.time[lo_i:hi_i]) if is_dt else tail.time[lo_i:hi_i]
        ax.plot(ht, tail.values[lo_i:hi_i], color="0.25", lw=1.2, label="actual")
        ax.set_title("No held-out test part (--test-size 0, or too few points to spare one): nothing scored" + suffix)
    else:
        p = _first_series(preds, id_name, sid)
        if "step" in p.columns and p["step"].max() > 1:
            _multi_step(ax, ckpt, p, s, time_name, is_dt)
        else:
            t = _times(p[time_name], is_dt)
            ax.plot(t, p["actual"], color="0.25", lw=1.2, label="actual")
            for lo, hi, label in band_columns(p, "predicted"):
                ax.fill_between(t, p[lo], p[hi], color="tab:orange", alpha=0.25, label=label)
            ax.plot(t, p["predicted"], color="tab:orange", lw=1.2, label="predicted")
        ax.set_title("Test part: predicted vs actual" + _scores_title(ckpt.metrics, sid, len(ids)) + suffix)
    ax.set_xlabel(time_name)
    ax.set_ylabel(d["target"])
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)

    ax = axes[1]
    if history:
        h = pd.DataFrame(history)
        ax.plot(h["epoch"], h["train_loss"], marker="o", ms=3, label="train loss")
        validated = bool(h["val_loss"].notna().any())
        if validated:
            ax.plot(h["epoch"], h["val_loss"], marker="o", ms=3, label="validation loss")
        best = ckpt.payload.get("best_epoch")
        # without validation windows the last epoch is kept (with --patience: the lowest training loss)
        if best and (validated or best < int(h["epoch"].max())):
            ax.axvline(best, color="0.6", ls="--", lw=1,
                       label=f"best epoch {best}" if validated else f"kept epoch {best} (lowest training loss)")
        losses = h["train_loss"].astype(float)
        if validated:  # (concatenating an empty column warns on pandas 2)
            losses = pd.concat([losses, h["val_loss"].dropna().astype(float)])
        if (losses > 0).all() and losses.max() > 10 * losses.min():  # a log axis only over a decade or more:
            ax.set_yscale("log")  # within one, its labels read 1.2 x 10^0
    ax.set_title(f"Training loss ({ckpt.config.loss}, scaled units)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no 1.2, 1.4 ticks on a short run
    ax.set_xlabel("epoch")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)

    if forecast is not None:
        ax = axes[2]
        tail = ckpt.tail_panel()
        lo_i, hi_i = int(tail.starts[s]), int(tail.starts[s + 1])
        keep = max(lo_i, hi_i - max(4 * len(_first_series(forecast, id_name, sid)), 100))
        ht = pd.to_datetime(tail.time[keep:hi_i]) if is_dt else tail.time[keep:hi_i]
        ax.plot(ht, tail.values[keep:hi_i], color="0.25", lw=1.2, label="history")
        f = _first_series(forecast, id_name, sid)
        ft = _times(f[time_name], is_dt)
        for lo, hi, label in band_columns(f, "forecast"):
            ax.fill_between(ft, f[lo], f[hi], color="tab:blue", alpha=0.25, label=label)
        ax.plot(ft, f["forecast"], color="tab:blue", lw=1.5, label=f"forecast ({len(f)} steps)")
        ax.axvline(ft.iloc[0] if hasattr(ft, "iloc") else ft[0], color="0.6", ls=":", lw=1)
        h = ckpt.config.model_horizon
        how = "one-step model fed its own forecasts" if h == 1 else f"{ckpt.config.resolved_strategy} model, {h} steps a pass"
        ax.set_title(f"Forecast after the end of the data ({how}){suffix}")
        ax.set_xlabel(time_name)
        ax.set_ylabel(d["target"])
        ax.legend(loc="upper left")
        ax.grid(alpha=0.3)

    return _save(fig, out)


PATHS = 6  # a multi-step test part with at most this many cutoffs draws every forecast path


def _multi_step(ax: Any, ckpt: Any, p: pd.DataFrame, s: int, time_name: str, is_dt: bool) -> None:
    """A multi-step model's test part: the actuals after as much history as the test part is long, then
    every cutoff's whole path (few cutoffs) or the 1-step and H-step-ahead forecasts (many)."""
    actual = p.drop_duplicates(time_name).sort_values(time_name)
    t = _times(actual[time_name], is_dt)
    tail = ckpt.tail_panel()
    lo_i, hi_i = int(tail.starts[s]), int(tail.starts[s + 1])
    ht = pd.to_datetime(tail.time[lo_i:hi_i]) if is_dt else tail.time[lo_i:hi_i]
    before = np.flatnonzero(np.asarray(ht < t.iloc[0]))[-len(actual):]
    ax.plot(list(ht[before]) + list(t), list(tail.values[lo_i:hi_i][before]) + list(actual["actual"]),
            color="0.25", lw=1.2, label="actual")
    ax.axvline(t.iloc[0], color="0.6", ls=":", lw=1)
    h = int(p["step"].max())
    cutoffs = p["cutoff"].unique()
    if len(cutoffs) <= PATHS:
        for i, c in enumerate(cutoffs):
            path = p[p["cutoff"] == c]
            pt = _times(path[time_name], is_dt)
            for lo, hi, _ in band_columns(path, "predicted"):
                ax.fill_between(pt, path[lo], path[hi], color="tab:orange", alpha=0.15)
            ax.plot(pt, path["predicted"], color="tab:orange", lw=1.2, marker="o", ms=2.5,
                    label=f"forecast from each of {len(cutoffs)} cutoffs ({h} steps)" if i == 0 else None)
        return
    for step, color, ls in ((1, "tab:orange", "-"), (h, "tab:red", "--")):
        q = p[p["step"] == step]
        qt = _times(q[time_name], is_dt)
        if step == 1:
            for lo, hi, label in band_columns(q, "predicted"):
                ax.fill_between(qt, q[lo], q[hi], color=color, alpha=0.2, label=f"{label}, 1 step ahead")
        ax.plot(qt, q["predicted"], color=color, lw=1.2, ls=ls,
                label=f"predicted {step} step{'s' * (step > 1)} ahead")


def plot_backtest_figure(history: pd.DataFrame, forecasts: pd.DataFrame, models: list[str], out: Path,
                         title: str, scores: dict[str, float] | None = None) -> Path:
    """One series' history [time, value] with its backtest rows (fold, time, model columns, seasonal_naive,
    <model>_lo_P/_hi_P) drawn over it, fold origins marked; PNG written to `out` atomically."""
    time_name, value_name = history.columns[0], history.columns[1]
    is_dt = pd.api.types.is_datetime64_any_dtype(history[time_name])
    scores = scores or {}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, ax = plt.subplots(figsize=(11, 4.5), constrained_layout=True)
    ax.plot(history[time_name], history[value_name], color="0.25", lw=1.2, label="actual")
    folds = sorted(forecasts["fold"].unique()) if len(forecasts) else []
    few = forecasts["step"].max() <= 3 if len(forecasts) else False  # a line of 1-3 points needs markers to show

    def name(n: str) -> str:
        s = scores.get(n)
        return f"{n} (MASE {s:.3g})" if s is not None and np.isfinite(s) else n

    for k in folds:
        f = forecasts[forecasts["fold"] == k]
        t = _times(f[time_name], is_dt)
        first = k == folds[0]
        ax.axvline(t.iloc[0] if hasattr(t, "iloc") else t[0], color="0.6", ls=":", lw=1,
                   label="fold origins" if first else None)
        if "seasonal_naive" in f.columns:
            ax.plot(t, f["seasonal_naive"], color="0.55", ls="--", lw=1.1, marker="o" if few else None, ms=3,
                    label=name("seasonal_naive") if first else None)
        for i, m in enumerate(models):
            c = colors[i % len(colors)]
            for lo, hi, band in band_columns(f, m):
                ax.fill_between(t, f[lo], f[hi], color=c, alpha=0.15, label=f"{m} {band}" if first else None)
            ax.plot(t, f[m], color=c, lw=1.5, marker="o" if few else None, ms=3, label=name(m) if first else None)
    ax.set_title(title)
    ax.set_xlabel(time_name)
    ax.set_ylabel(value_name)
    ax.legend(loc="upper left", fontsize="small", ncol=min(3, 2 + len(models)), framealpha=0.8)
    ax.grid(alpha=0.3)
    return _save(fig, out)


def plot_compare_figure(summary: pd.DataFrame, baselines: dict[str, Any], histories: dict[str, list[list[float | None]]],
                        out: Path) -> Path:
    """Bar chart of each cell's test error (mean and spread over seeds) beside the baselines, and the
    validation curves of every run."""
    metric = "mase" if "mase_mean" in summary.columns and summary["mase_mean"].notna().all() else "mse"
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
    x = np.arange(len(summary))
    ax.bar(x, summary[f"{metric}_mean"], yerr=summary[f"{metric}_std"].fillna(0), capsize=4, color="tab:blue",
           alpha=0.8, label="cell (mean ± sd over seeds)")
    ax.set_xticks(x, summary["cell"])
    colors = {"naive": "0.3", "seasonal_naive": "tab:red"}
    for name, m in baselines.items():
        if metric in m:
            ax.axhline(m[metric], color=colors.get(name, "0.5"), ls="--", lw=1.2, label=name.replace("_", " "))
    ax.set_ylabel(f"test {metric.upper()}")
    ax.set_title(f"Test {metric.upper()} by cell (lower is better)")
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    for i, (cell, runs) in enumerate(histories.items()):
        for j, h in enumerate(runs):
            vals = [np.nan if v is None else v for v in h]
            ax2.plot(np.arange(1, len(vals) + 1), vals, color=f"C{i}", alpha=0.8, lw=1.2, label=cell if j == 0 else None)
    ax2.set_yscale("log")
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.set_xlabel("epoch")
    ax2.set_title("Validation loss of every run (scaled units)")
    ax2.legend()
    ax2.grid(alpha=0.3)
    return _save(fig, out)
