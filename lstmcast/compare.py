"""Train several recurrent cells on the same data, window and budget, over several seeds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import CELLS, TrainConfig
from .errors import Interrupted, LstmcastError
from .io import ensure_dir, write_csv, write_json, writes_run_folder
from .parallel import check_jobs, run_jobs
from .run import RunResult, evaluate, load_for
from .prepare import Prepared, prepare
from .train import fit

__all__ = ["compare_run", "summarise"]

METRICS = ("mse", "rmse", "mae", "mase", "smape")


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds for each cell (one row per cell)."""
    cols = [c for c in rows.columns if c not in ("cell", "seed")]
    g = rows.groupby("cell", sort=False)[cols]
    mean, std = g.mean(), g.std(ddof=0)
    out = mean.add_suffix("_mean").join(std.add_suffix("_std"))
    return out.reset_index()


@dataclass
class _CellFit:
    """One fit's compare.csv row, its validation losses, the baselines' scores and the notes it added."""

    row: dict[str, Any]
    val_losses: list[float | None]
    baselines: dict[str, Any]
    notes: list[str]


def _fit_cell(work: tuple[Prepared, TrainConfig, int], task: tuple[str, int]) -> _CellFit:
    """Fit one cell with one seed on the shared split and score it."""
    prep, cfg, samples = work
    cell, seed = task
    c = replace(cfg, cell=cell, seed=seed)
    own = replace(prep, notes=list(prep.notes))  # fit adds its notes (an early stop) here, in any process
    fitted = fit(own, c)
    if fitted.interrupted:  # a run cut short by Ctrl-C would skew the cell's mean, and the winner
        raise Interrupted(f"Interrupted while fitting {cell} with seed {seed}; nothing was written (a "
                          "comparison scores only complete fits)")
    _, m = evaluate(fitted, samples=samples)
    row: dict[str, Any] = {"cell": cell, "seed": seed,
                           "parameters": sum(p.numel() for p in fitted.model.parameters()),
                           "seconds_per_epoch": float(np.mean([h["seconds"] for h in fitted.history]))}
    row.update(m["model"])
    baselines = {b: m[b] for b in ("naive", "seasonal_naive") if b in m}
    return _CellFit(row, [h["val_loss"] for h in fitted.history], baselines, own.notes[len(prep.notes):])


MAX_SEEDS = 1000


@writes_run_folder("compare.csv", "compare.json", "compare.png", "compare.toml")
def compare_run(data: Path, cfg: TrainConfig, cells: list[str], seeds: int, out: Path,
                on_fit: Callable[[str, int], None] | None = None, samples: int = 200, jobs: int = 1) -> RunResult:
    """Fit every cell with seeds cfg.seed .. cfg.seed+seeds-1 on one prepared split; write compare.csv,
    compare.json and compare.png into OUT. on_fit(cell, seed) runs as each fit finishes; jobs > 1 runs
    the fits in that many processes (parallel.run_jobs), with the same results."""
    bad = [c for c in cells if c not in CELLS]
    if bad or not cells:
        raise LstmcastError(f"--cells must be a comma-separated subset of {', '.join(CELLS)}; got {','.join(cells) or '(none)'}")
    twice = next((c for i, c in enumerate(cells) if c in cells[:i]), None)
    if twice is not None:  # the same cell and seeds twice: the same runs again
        raise LstmcastError(f"--cells names {twice!r} twice")
    if seeds < 1:
        raise LstmcastError(f"--seeds must be at least 1, got {seeds}")
    if seeds > MAX_SEEDS:  # each seed is a training run: a typo's 10^14 would queue them until memory ran out
        raise LstmcastError(f"--seeds must be at most {MAX_SEEDS}, got {seeds}")
    check_jobs(jobs)
    panel = load_for(Path(data), cfg)
    out = ensure_dir(Path(out))
    prep = prepare(panel, cfg)  # one split, scaler and window set shared by every run
    tasks = [(cell, cfg.seed + k) for cell in cells for k in range(seeds)]

    def done(i: int, r: _CellFit) -> None:
        if on_fit is not None:
            on_fit(*tasks[i])

    results = run_jobs(_fit_cell, (prep, cfg, samples), tasks, jobs, done)
    histories: dict[str, list[list[float | None]]] = {}
    for (cell, _), r in zip(tasks, results):
        histories.setdefault(cell, []).append(r.val_losses)
    per_run = pd.DataFrame([r.row for r in results])
    baselines = results[-1].baselines
    notes = list(prep.notes) + [n for r in results for n in r.notes]
    summary = summarise(per_run)
    metric = "mase" if "mase" in per_run else "mse"
    best = summary.loc[summary[f"{metric}_mean"].idxmin(), "cell"]
    result_json = {
        "cells": cells, "seeds": seeds, "n_prev": prep.n_prev, "horizon": cfg.horizon, "epochs": cfg.epochs,
        "hidden": cfg.hidden, "season_length": prep.season_length, "best_cell_by_" + metric: best,
        "summary": summary.to_dict(orient="records"), "baselines": baselines,
    }
    from .plot import plot_compare_figure

    paths = {
        "csv": write_csv(per_run, out / "compare.csv"),
        "json": write_json(result_json, out / "compare.json"),
        "plot": plot_compare_figure(summary, baselines, histories, out / "compare.png"),
    }
    return RunResult(paths=paths, metrics=result_json, notes=notes)
