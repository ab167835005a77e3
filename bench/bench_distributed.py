"""One process against several: `lstmcast train` alone and under torchrun (DDP, gloo on CPU), and
`lstmcast backtest --jobs`, on an hourly panel; whole-command wall time and seconds per epoch.

Run: python bench/bench_distributed.py [--series 100] [--points 300] [--procs 2] [--epochs 3]
Runs: 1 process x 1 thread, 1 x --procs threads, --procs processes x 1 thread (the same cores in all).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from machine import cpu_name  # bench/machine.py, beside this script


def hourly_panel(series: int, points: int, seed: int = 0) -> pd.DataFrame:
    """Long-format id,time,y: daily cycles with random level, amplitude and phase, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(points)
    y = (rng.uniform(-100, 100, (series, 1)) + rng.uniform(1, 20, (series, 1))
         * np.sin(2 * np.pi * t / 24 + rng.uniform(0, 2 * np.pi, (series, 1))) + rng.normal(0, 1, (series, points)))
    times = pd.date_range("2024-01-01", periods=points, freq="h").strftime("%Y-%m-%d %H:%M")
    return pd.DataFrame({"id": np.repeat([f"s{i:04d}" for i in range(series)], points),
                         "time": np.tile(times, series), "y": y.reshape(-1)})


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--series", type=int, default=100)
    ap.add_argument("--points", type=int, default=300)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    a = ap.parse_args()
    n = a.procs
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; {a.series} series x {a.points} hourly points")
    flags = ["--id-column", "id", "--hidden", "64", "--n-prev", "48", "--horizon", "24", "--ensemble", "1",
             "--epochs", str(a.epochs), "--device", "cpu", "--quiet"]
    lstmcast = [sys.executable, "-m", "lstmcast"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(n), "-m",
                "lstmcast"]
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "panel.csv"
        hourly_panel(a.series, a.points).to_csv(data, index=False)
        runs = [("train, 1 process x 1 thread", lstmcast, ["--threads", "1"]),
                (f"train, 1 process x {n} threads", lstmcast, ["--threads", str(n)]),
                (f"train, torchrun {n} processes x 1 thread", torchrun, ["--threads", "1"])]
        for label, launch, threads in runs:
            out = Path(d) / "run"
            wall = timed([*launch, "train", str(data), "--out", str(out), *flags, *threads])
            spe = pd.read_csv(out / "history.csv")["seconds"].median()
            print(f"{label}: {wall:.1f} s for the command (evaluation fit, scoring, refit), {spe:.2f} s/epoch")
        for jobs, threads in ((1, 1), (1, n), (n, 1)):
            wall = timed([*lstmcast, "backtest", str(data), "--out", str(Path(d) / "bt"), "--folds", str(2 * n),
                          *flags, "--jobs", str(jobs), "--threads", str(threads)])
            print(f"backtest, {2 * n} folds, --jobs {jobs} x {threads} thread{'s' * (threads > 1)}: {wall:.1f} s")


if __name__ == "__main__":
    main()
