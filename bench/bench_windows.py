"""Windowing speed: lstmcast's strided views vs the tutorial's loop over df.iloc[i:i+n_prev].

Run: python bench/bench_windows.py [--points 1000000] [--n-prev 30] [--loop-points N]
The loop is timed on the first --loop-points points (default: all) and both are reported per window,
so the ratio is measured in one run on the same data.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from lstmcast.windows import make_windows
from machine import cpu_name  # bench/machine.py, beside this script


def tutorial_loop(df: pd.DataFrame, n_prev: int) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's windowing: one iloc slice per window."""
    xs, ys = [], []
    for i in range(len(df) - n_prev):
        xs.append(df.iloc[i:i + n_prev].to_numpy())
        ys.append(df.iloc[i + n_prev].to_numpy())
    return np.array(xs), np.array(ys)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--n-prev", type=int, default=30)
    ap.add_argument("--loop-points", type=int, default=None, help="time the loop on this many points only")
    a = ap.parse_args()
    values = np.sin(np.arange(a.points) * 0.1).astype(np.float32)

    t0 = time.perf_counter()
    x, y = make_windows(values, a.n_prev)
    x = np.ascontiguousarray(x)  # materialise, as training does, so the copy is counted
    t_fast = time.perf_counter() - t0
    n_fast = len(x)

    n_loop_pts = a.loop_points or a.points
    df = pd.DataFrame(values[:n_loop_pts])
    t0 = time.perf_counter()
    lx, ly = tutorial_loop(df, a.n_prev)
    t_loop = time.perf_counter() - t0
    n_loop = len(lx)
    np.testing.assert_array_equal(lx[:, :, 0], x[:n_loop])  # same windows
    np.testing.assert_array_equal(ly[:, 0], y[:n_loop, 0])

    per_fast, per_loop = t_fast / n_fast, t_loop / n_loop
    print(f"machine: {cpu_name()}, {__import__('os').cpu_count()} cores, numpy {np.__version__}, pandas {pd.__version__}")
    print(f"series: {a.points:,} points, n_prev {a.n_prev}")
    print(f"lstmcast make_windows: {n_fast:,} windows in {t_fast:.3f} s ({per_fast * 1e9:.1f} ns/window)")
    print(f"tutorial iloc loop:    {n_loop:,} windows in {t_loop:.1f} s ({per_loop * 1e6:.1f} us/window)")
    print(f"speed-up per window: {per_loop / per_fast:,.0f}x")


if __name__ == "__main__":
    main()
