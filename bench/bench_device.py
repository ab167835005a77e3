"""Whole `lstmcast train` commands on the CPU against the GPU, on the sample files and the 1,000-series panel of
bench_train.py: wall seconds (process start, loading, the evaluation fit, scoring and the refit) and the test
score, so that `--device auto` can be judged where it matters: the files people bring.

Run: python bench/bench_device.py [--devices cpu,cuda] [--precisions auto] [--files co2,nile,...] [--epochs N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from machine import cpu_name  # bench/machine.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_data"
# name: (file, flags beyond --device/--precision): each file with the horizon a user would ask of it
FILES: dict[str, tuple[str, list[str]]] = {
    "nile": ("nile_yearly.csv", ["--horizon", "6"]),
    "co2": ("co2_monthly.csv", ["--horizon", "18"]),
    "macro": ("macro_quarterly_long.csv", ["--id-column", "series_id", "--horizon", "8"]),
    "electricity": ("electricity_hourly.csv", ["--horizon", "48"]),
    "sine": ("sine.csv", []),
    "panel": ("", ["--id-column", "id", "--horizon", "24"]),
}


def panel_csv(path: Path, series: int = 1000, points: int = 300) -> None:
    """bench_train.py's 1,000 hourly series of 300 points: daily cycles, random level, amplitude and phase."""
    rng = np.random.default_rng(0)
    t = np.arange(points)
    y = (rng.uniform(-100, 100, (series, 1)) + rng.uniform(1, 20, (series, 1))
         * np.sin(2 * np.pi * t / 24 + rng.uniform(0, 2 * np.pi, (series, 1))) + rng.normal(0, 1, (series, points)))
    times = pd.date_range("2024-01-01", periods=points, freq="h").strftime("%Y-%m-%d %H:%M")
    pd.DataFrame({"id": np.repeat([f"s{i:04d}" for i in range(series)], points), "time": np.tile(times, series),
                  "y": y.reshape(-1)}).to_csv(path, index=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--devices", default="cpu,cuda")
    ap.add_argument("--precisions", default="auto", help="comma-separated --precision values tried on cuda")
    ap.add_argument("--files", default=",".join(FILES))
    ap.add_argument("--epochs", type=int, default=None, help="fixed epochs (default: the defaults' own budget)")
    ap.add_argument("--threads", type=int, default=None, help="--threads for the CPU runs (default: all cores)")
    a = ap.parse_args()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; {gpu}; torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as d:
        for name in a.files.split(","):
            file, flags = FILES[name]
            data = SAMPLES / file if file else Path(d) / "panel.csv"
            if not file:
                panel_csv(data)
            for dev in a.devices.split(","):
                for prec in (a.precisions.split(",") if dev == "cuda" else ["auto"]):
                    out = Path(d) / "run"
                    cmd = [sys.executable, "-m", "lstmcast", "train", str(data), "--out", str(out), "--device", dev,
                           "--precision", prec, "--seed", "0", "--quiet", *flags]
                    if a.epochs:
                        cmd += ["--epochs", str(a.epochs)]
                    if a.threads and dev == "cpu":
                        cmd += ["--threads", str(a.threads)]
                    t0 = time.perf_counter()
                    p = subprocess.run(cmd, capture_output=True, text=True)
                    wall = time.perf_counter() - t0
                    if p.returncode:
                        print(f"{name:12s} {dev:5s} {prec:5s} FAILED: {(p.stdout + p.stderr).strip()[-300:]}")
                        continue
                    m = json.loads((out / "metrics.json").read_text())
                    score = m.get("model", {}).get("mase", m.get("model", {}).get("rmse"))
                    epochs = len(pd.read_csv(out / "history.csv"))
                    print(f"{name:12s} {dev:5s} {prec:5s} {wall:7.1f} s  test {'MASE' if 'mase' in m.get('model', {}) else 'RMSE'} "
                          f"{score:.4f}  ({epochs} epochs in history)", flush=True)


if __name__ == "__main__":
    main()
