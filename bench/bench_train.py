"""Training speed: windows/second and seconds/epoch for the default model on the sine, and a
1,000-series long-format file (seconds per epoch, peak memory).

Run: python bench/bench_train.py [--epochs 3] [--series 1000] [--points 300] [--panel-hidden 64] [--device cpu]
     [--precision fp32|bf16|fp16] [--training windows|forking]
     python bench/bench_train.py --memory-points 10000000 [--training forking] [--batches 20]: peak RSS alone
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lstmcast.config import TrainConfig
from lstmcast.data import generate_sine, load_panel, panel_from_frame
from lstmcast.losses import make_loss
from lstmcast.train import build_model, fit, fork_span, prepare, training_windows
from lstmcast.windows import ForkSet, WindowSet
from machine import cpu_name  # bench/machine.py, beside this script


def timed_fit(panel: object, cfg: TrainConfig) -> tuple[float, int, float]:
    """(median seconds per epoch of one network, training windows, seconds to prepare windows)."""
    t0 = time.perf_counter()
    prep = prepare(panel, cfg)  # type: ignore[arg-type]
    n_train = len(training_windows(prep, cfg.model_horizon, cfg.val_size)[0])
    t_prep = time.perf_counter() - t0
    secs: list[float] = []
    fit(prep, cfg, on_epoch=lambda e: secs.append(e.seconds))
    return float(np.median(secs)), n_train, t_prep


def recursive_seconds(panel: object, cfg: TrainConfig, steps: int) -> float:
    """Seconds to forecast `steps` past the end one step at a time (after one epoch of training: the time does not
    depend on the weights): a windows model re-encodes its window at every step, a forking one carries its state."""
    from lstmcast.forecast import forecast_future

    fitted = fit(panel, replace(cfg, epochs=1, test_size=0.0))  # type: ignore[arg-type]
    forecast_future(fitted, 2)  # warm-up
    t0 = time.perf_counter()
    forecast_future(fitted, steps)
    return time.perf_counter() - t0


def memory_run(points: int, training: str, batches: int, threads: int, calendar: bool | None) -> None:
    """Peak RSS for one long series with a 72-step window: everything fit() builds (scaled points, window origins,
    the batch order of a whole epoch) and `batches` optimiser steps; a full epoch of 10M windows would take hours
    on 2 cores, and memory does not grow after the first batches."""
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    t = np.arange(points)
    y = np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(points)
    df = pd.DataFrame({"time": pd.date_range("2000-01-01", periods=points, freq="h"), "y": y})
    t0 = time.perf_counter()
    cfg = TrainConfig(n_prev=72, ensemble=1, training=training, season_length=24, calendar=calendar)
    prep = prepare(panel_from_frame(df), cfg)
    del df
    tr, _ = training_windows(prep, 1, cfg.val_size)
    pts = [torch.from_numpy(x) for x in (prep.inputs, prep.target, prep.future)]
    batch = cfg.batch_for(len(tr))
    if training == "forking":
        span = fork_span(72)
        data: WindowSet | ForkSet = ForkSet(*pts, tr, 72, 1, span)
        batch = max(1, round(batch / span))
    else:
        data = WindowSet(*pts, torch.from_numpy(tr), 72, 1)
    t_prep = time.perf_counter() - t0
    loss = make_loss("mse")
    model = build_model(cfg, prep.inputs.shape[1], prep.future.shape[1], loss, prep.season_length, 72)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9)
    order = torch.randperm(len(data))
    t0 = time.perf_counter()
    for i in range(batches):
        x, yb, f = data[order[i * batch:(i + 1) * batch]]
        out = model.forward_all(x, f, positions=span) if training == "forking" else model(x, f)  # type: ignore[operator]
        keep = ~torch.isnan(yb[..., 0])
        opt.zero_grad()
        loss(out[keep], yb[keep]).backward()
        opt.step()
    step = (time.perf_counter() - t0) / batches
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{points:,} points, window 72, --training {training}, calendar {prep.future.shape[1]} columns: {len(tr):,} training windows, prepare {t_prep:.1f} s, "
          f"{step:.3f} s per optimiser step (batch of {cfg.batch_for(len(tr))} windows), peak RSS {peak:,.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--points", type=int, default=300)
    ap.add_argument("--panel-hidden", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", help="fp32, bf16 or fp16 (see lstmcast train --precision)")
    ap.add_argument("--training", default="windows", help="windows or forking (see lstmcast train --training)")
    ap.add_argument("--memory-points", type=int, default=0, help="only the one-series memory benchmark, this long")
    ap.add_argument("--forecast-steps", type=int, default=1000, help="recursive forecast to time on the sine")
    ap.add_argument("--no-calendar", action="store_true", help="memory benchmark without the hourly calendar inputs")
    ap.add_argument("--batches", type=int, default=20, help="optimiser steps of the memory benchmark")
    a = ap.parse_args()
    if a.memory_points:
        memory_run(a.memory_points, a.training, a.batches, torch.get_num_threads(), False if a.no_calendar else None)
        return
    dev = torch.cuda.get_device_name() if a.device == "cuda" else f"{cpu_name()}, {os.cpu_count()} cores"
    print(f"machine: {dev}; torch {torch.__version__}, {torch.get_num_threads()} threads; precision {a.precision}; "
          f"--training {a.training}")

    sine = panel_from_frame(generate_sine())
    for label, cfg in [("the tutorial's model: one LSTM 300", TrainConfig(epochs=a.epochs, hidden=300, ensemble=1,
                                                                         device=a.device, precision=a.precision,
                                                                         training=a.training)),
                       ("five LSTM 64 of one kind", TrainConfig(epochs=a.epochs, ensemble=5, device=a.device,
                                                                  precision=a.precision, training=a.training))]:
        spe, n, _ = timed_fit(sine, cfg)  # seconds per epoch of one network (each member reports its own)
        print(f"sine, {label} (n_prev {cfg.n_prev or 'auto'}, batch {cfg.batch_for(n)}): {n} training windows, "
              f"{spe:.2f} s per network-epoch, {n / spe:,.0f} windows/s per network")
        if a.forecast_steps:
            secs = recursive_seconds(sine, cfg, a.forecast_steps)
            print(f"  recursive forecast of {a.forecast_steps:,} steps past the end: {secs:.2f} s")

    rng = np.random.default_rng(0)
    t = np.arange(a.points)
    level = rng.uniform(-100, 100, a.series)[:, None]
    amp = rng.uniform(1, 20, a.series)[:, None]
    phase = rng.uniform(0, 2 * np.pi, a.series)[:, None]
    y = level + amp * np.sin(2 * np.pi * t / 24 + phase) + rng.normal(0, 1, (a.series, a.points))
    df = pd.DataFrame({
        "id": np.repeat([f"s{i:04d}" for i in range(a.series)], a.points),
        "time": np.tile(pd.date_range("2024-01-01", periods=a.points, freq="h").strftime("%Y-%m-%d %H:%M"), a.series),
        "y": y.reshape(-1),
    })
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "panel.csv"
        df.to_csv(path, index=False)
        t0 = time.perf_counter()
        panel = load_panel(path, id_column="id")
        t_load = time.perf_counter() - t0
    cfg = TrainConfig(epochs=a.epochs, hidden=a.panel_hidden, n_prev=48, horizon=24, ensemble=1, device=a.device,
                      precision=a.precision, training=a.training)
    spe, n, t_prep = timed_fit(panel, cfg)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{a.series} series x {a.points} points (long CSV, hourly): load {t_load:.2f} s, windows {t_prep:.2f} s, "
          f"{n:,} training windows; LSTM {a.panel_hidden}, n_prev 48, direct horizon 24: "
          f"{spe:.2f} s/epoch, {n / spe:,.0f} windows/s; peak memory {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
