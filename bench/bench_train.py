"""Training speed: windows/second and seconds/epoch for the default model on the sine, and a
1,000-series long-format file (seconds per epoch, peak memory).

Run: python bench/bench_train.py [--epochs 3] [--series 1000] [--points 300] [--panel-hidden 64] [--device cpu]
     [--precision fp32|bf16|fp16]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lstmcast.config import TrainConfig
from lstmcast.data import generate_sine, load_panel, panel_from_frame
from lstmcast.train import fit, prepare, training_windows
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--points", type=int, default=300)
    ap.add_argument("--panel-hidden", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", help="fp32, bf16 or fp16 (see lstmcast train --precision)")
    a = ap.parse_args()
    dev = torch.cuda.get_device_name() if a.device == "cuda" else f"{cpu_name()}, {os.cpu_count()} cores"
    print(f"machine: {dev}; torch {torch.__version__}, {torch.get_num_threads()} threads; precision {a.precision}")

    sine = panel_from_frame(generate_sine())
    for label, cfg in [("the tutorial's model: one LSTM 300", TrainConfig(epochs=a.epochs, hidden=300, ensemble=1,
                                                                         device=a.device, precision=a.precision)),
                       ("the defaults: five LSTM 64", TrainConfig(epochs=a.epochs, device=a.device,
                                                                  precision=a.precision))]:
        spe, n, _ = timed_fit(sine, cfg)  # seconds per epoch of one network (each member reports its own)
        print(f"sine, {label} (n_prev {cfg.n_prev or 'auto'}, batch {cfg.batch_for(n)}): {n} training windows, "
              f"{spe:.2f} s per network-epoch, {n / spe:,.0f} windows/s per network")

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
                      precision=a.precision)
    spe, n, t_prep = timed_fit(panel, cfg)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{a.series} series x {a.points} points (long CSV, hourly): load {t_load:.2f} s, windows {t_prep:.2f} s, "
          f"{n:,} training windows; LSTM {a.panel_hidden}, n_prev 48, direct horizon 24: "
          f"{spe:.2f} s/epoch, {n / spe:,.0f} windows/s; peak memory {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
