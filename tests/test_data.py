from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmcast.data import (future_times, generate_sine, load_panel, panel_from_frame, refill_training, season_phase,
                           season_length_for, split_points)
from lstmcast.errors import LstmcastError


def write(tmp_path: Path, text: str, name: str = "d.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_generate_sine_matches_the_formula() -> None:
    df = generate_sine()
    assert list(df.columns) == ["t", "sin_t"] and len(df) == 4001
    assert np.all(np.abs(df["sin_t"] - np.sin(2 * np.pi * df["t"] / 80)) <= 0.05 + 1e-12)
    assert generate_sine(seed=3).equals(generate_sine(seed=3))
    assert not generate_sine(seed=3).equals(generate_sine(seed=4))


def test_single_numeric_column_is_picked(sine_csv: Path) -> None:
    p = load_panel(sine_csv)
    assert p.target == "sin_t" and p.time_name == "t" and not p.is_datetime
    assert p.n_series == 1 and len(p.values) == 161 and p.freq == "1"


def test_datetime_column_and_frequency(daily_csv: Path) -> None:
    p = load_panel(daily_csv, column="sales")
    assert p.is_datetime and p.time_name == "date" and p.freq == "D"
    assert season_length_for(p.freq, True) == 7


def test_ambiguous_column_lists_candidates(daily_csv: Path) -> None:
    with pytest.raises(LstmcastError, match=r"has 2 numeric columns \(sales, temp\); choose one with --column, or "
                                            r"for one model of all of them, write the file long .* --id-column$"):
        load_panel(daily_csv)


def test_unknown_column_lists_columns(daily_csv: Path) -> None:
    with pytest.raises(LstmcastError, match=r"--column 'price' not found; columns are: date, sales, temp"):
        load_panel(daily_csv, column="price")
    # a wrong case or a near miss is named
    with pytest.raises(LstmcastError, match=r"--column 'Sales' not found \(did you mean 'sales'\?\); columns are: date"):
        load_panel(daily_csv, column="Sales")
    with pytest.raises(LstmcastError, match=r"--time-column 'dat' not found \(did you mean 'date'\?\); columns"):
        load_panel(daily_csv, time_column="dat", column="sales")


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(LstmcastError, match=r"does not exist"):
        load_panel(tmp_path / "nope.csv")
    with pytest.raises(LstmcastError, match=r"is empty"):
        load_panel(write(tmp_path, ""))
    with pytest.raises(LstmcastError, match=r"has a header but no rows"):
        load_panel(write(tmp_path, "t,y\n"))


def test_non_numeric_value_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(LstmcastError, match=r"--column 'y' is not numeric: line 3 has 'abc'"):
        load_panel(write(tmp_path, "t,y\n0,1.0\n1,abc\n2,3\n"), column="y")
    # a missing mark above the bad value is a gap, not the value to name
    with pytest.raises(LstmcastError, match=r"^--column 'y' is not numeric: line 4 has 'abc'$"):
        load_panel(write(tmp_path, "t,y\n0,1.0\n1,-\n2,abc\n3,3\n"), column="y")


def test_nans_are_reported_with_count_and_place(tmp_path: Path) -> None:
    p = write(tmp_path, "t,y\n0,1\n1,\n2,3\n3,\n4,5\n")
    with pytest.raises(LstmcastError, match=r"column 'y' has 2 missing values \(first at t=1\); use --fill"):
        load_panel(p)
    assert load_panel(p, fill="interpolate").values.tolist() == [1, 2, 3, 4, 5]
    assert load_panel(p, fill="ffill").values.tolist() == [1, 1, 3, 3, 5]
    assert load_panel(p, fill="zero").values.tolist() == [1, 0, 3, 0, 5]
    dropped = load_panel(p, fill="drop")
    assert dropped.values.tolist() == [1, 3, 5] and dropped.time.tolist() == [0, 2, 4]
    assert "filled 2 missing values" in load_panel(p, fill="zero").notes[0]


def test_a_file_written_newest_first_is_read_in_reverse(tmp_path: Path) -> None:
    p = load_panel(write(tmp_path, "date,y\n2024-01-03,3\n2024-01-02,2\n2024-01-01,1\n"))
    assert p.values.tolist() == [1, 2, 3] and str(p.time[0])[:10] == "2024-01-01" and p.freq == "D"
    assert "rows run newest first in 'date': read in reverse" in p.notes
    # many series, each newest first, are each reversed; the series order is kept
    p = load_panel(write(tmp_path, "id,t,y\na,2,12\na,1,11\nb,3,23\nb,2,22\nb,1,21\n"), id_column="id")
    assert p.ids == ["a", "b"] and p.values.tolist() == [11, 12, 21, 22, 23] and p.time.tolist() == [1, 2, 1, 2, 3]
    # one series in order and one backwards is not a reversed file
    with pytest.raises(LstmcastError, match=r"is not sorted in series 'b': 2 comes after 3"):
        load_panel(write(tmp_path, "id,t,y\na,1,11\na,2,12\nb,3,23\nb,2,22\n"), id_column="id")


def test_unsorted_and_duplicated_times(tmp_path: Path) -> None:
    with pytest.raises(LstmcastError, match=r"time column 'date' is not sorted: 2024-01-02 00:00:00 comes after 2024-01-03"):
        load_panel(write(tmp_path, "date,y\n2024-01-01,1\n2024-01-03,2\n2024-01-02,3\n"))
    with pytest.raises(LstmcastError, match=r"is duplicated: 2024-01-02 00:00:00 appears twice .*several series\)$"):
        load_panel(write(tmp_path, "date,y\n2024-01-01,1\n2024-01-02,2\n2024-01-02,3\n"))
    # a long file read as one series: the error names the column that looks like the series' name
    long = "store,date,y\n" + "".join(f"{s},2024-01-0{d},{d}\n" for s in "ab" for d in (1, 2, 3))
    with pytest.raises(LstmcastError, match=r"is not sorted: 2024-01-01 00:00:00 comes after 2024-01-03 00:00:00 "
                                            r"\(1 such row\); if 'store' names the series, pass --id-column store, "
                                            r"else sort the file by time$"):
        load_panel(write(tmp_path, long))
    assert load_panel(write(tmp_path, long), id_column="store").ids == ["a", "b"]
    # the hour a clock change repeats in local times: say how to write them
    hours = "date,y\n2021-10-31 01:00,1\n2021-10-31 02:00,2\n2021-10-31 02:00,3\n2021-10-31 03:00,4\n"
    with pytest.raises(LstmcastError, match=r"2021-10-31 02:00:00 appears twice .* if these are local times where "
                                            r"the clocks went back, write them with their UTC offset"):
        load_panel(write(tmp_path, hours))


def test_bad_dates_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(LstmcastError, match=r"time column 'date' is not a date or number: line 3 has 'soon'"):
        load_panel(write(tmp_path, "date,y\n2024-01-01,1\nsoon,2\n"))


def test_gaps_are_reported(tmp_path: Path) -> None:
    """Dates skipped on a regular grid are missing values (--fill decides, as for empty cells: Darts'
    fill_missing_dates, statsforecast's fill_gaps), never steps glued together, on the grid of --freq when it is
    given; dates on no grid get a note."""
    dates = list(pd.date_range("2024-01-01", periods=20, freq="D").strftime("%Y-%m-%d"))
    del dates[10:13]
    body = "\n".join(f"{d},{i}" for i, d in enumerate(dates))
    with pytest.raises(LstmcastError, match=r"^column 'y' has 3 missing values \(first at date=2024-01-11 00:00:00; 3 of "
                                            r"them dates with no row in the file\); use --fill interpolate"):
        load_panel(write(tmp_path, "date,y\n" + body + "\n"))
    p = load_panel(write(tmp_path, "date,y\n" + body + "\n"), fill="interpolate")
    assert p.freq == "D" and p.lengths.tolist() == [20] and p.values[9:14].tolist() == [9.0, 9.25, 9.5, 9.75, 10.0]
    assert p.observed.tolist() == [True] * 10 + [False] * 3 + [True] * 7
    with pytest.raises(LstmcastError, match=r"3 of them dates with no row in the file"):  # on --freq's grid too
        load_panel(write(tmp_path, "date,y\n" + body + "\n"), freq="D")
    with pytest.raises(LstmcastError, match=r"^2024-01-02 00:00:00 is not on the grid of --freq 2D \(every 2D from "
                                            r"2024-01-01 00:00:00\); leave --freq out to infer"):
        load_panel(write(tmp_path, "date,y\n" + body + "\n"), freq="2D", fill="interpolate")  # never glued
    hours = "id,t,y\na,2020-01-01 00:00,1\na,2020-01-01 01:00,2\na,2020-01-01 04:00,5\nb,2020-01-01 02:00,5\n" \
            "b,2020-01-01 03:00,6\n"
    q = load_panel(write(tmp_path, hours), id_column="id", freq="h", fill="interpolate")
    assert q.lengths.tolist() == [5, 2] and q.values.tolist() == [1, 2, 3, 4, 5, 5, 6]
    assert q.observed.tolist() == [True, True, False, False, True, True, True]
    odd = "date,y\n2020-01-01,1\n2020-01-15,2\n2020-03-01,4\n2020-03-20,5\n"  # on no grid
    assert any("could not infer a regular frequency" in n for n in load_panel(write(tmp_path, odd)).notes)


def test_freq_must_fit_the_dates(tmp_path: Path) -> None:
    """--freq is checked against the dates: a step finer than the dates (monthly data read as daily would glue a
    month into a day and give it a weekly season) or a grid the dates are not on is an error, not a silent
    re-reading; new rows at predict are checked on the model's step. Step numbers take only their own step."""
    monthly = "date,y\n" + "".join(f"{d:%Y-%m-%d},{i}\n" for i, d in enumerate(pd.date_range("2015-01-01", periods=24,
                                                                                            freq="MS")))
    path = write(tmp_path, monthly)
    assert load_panel(path, freq="MS").freq == "MS"
    # the names pandas 3 refuses (M, Q, H, A-DEC) are read as their current ones, with a note
    ends = write(tmp_path, "date,y\n" + "".join(f"{d:%Y-%m-%d},{i}\n" for i, d in enumerate(
        pd.date_range("2015-01-31", periods=24, freq="ME"))), "ends.csv")
    p = load_panel(ends, freq="M")
    assert p.freq == "ME" and "read --freq M as ME, pandas' current name for it" in p.notes
    from lstmcast.data import _current_alias
    assert [_current_alias(f) for f in ("2Q-dec", "H", "A-JUN", "15T", "MS", "W-SUN", "foo")] == [
        "2QE-DEC", "h", "YE-JUN", "15min", "MS", "W-SUN", "foo"]
    with pytest.raises(LstmcastError, match=r"^with --freq D the dates skip more than half of the steps from the first "
                                            r"to the last \(24 dates from 2015-01-01 00:00:00 to 2016-12-01 00:00:00\): "
                                            r"they are further apart than D; leave --freq out"):
        load_panel(path, freq="D")
    with pytest.raises(LstmcastError, match=r"^2015-01-01 00:00:00 is not on the grid of --freq ME; leave --freq out"):
        load_panel(path, freq="ME")
    # dates with no step of their own: --freq only chooses the forecast's step, as the note advises
    odd = write(tmp_path, "date,y\n2020-01-01,1\n2020-01-15,2\n2020-03-01,4\n2020-03-20,5\n", "odd.csv")
    assert "could not infer a regular frequency" in " ".join(load_panel(odd).notes)
    assert load_panel(odd, freq="D").freq == "D"
    # new rows at predict are read on the model's step as given (an irregular training file's too)
    assert panel_from_frame(pd.read_csv(path), "y", "date", freq="QS", freq_flag="model").lengths.tolist() == [24]
    steps = write(tmp_path, "t,y\n" + "".join(f"{i},{i % 7}\n" for i in range(30)), "s.csv")
    assert load_panel(steps, freq="1").freq == "1"
    with pytest.raises(LstmcastError, match=r"^--freq MS is a calendar frequency, but 't' holds step numbers, not "
                                            r"dates; leave --freq out"):
        load_panel(steps, freq="MS")
    with pytest.raises(LstmcastError, match=r"^--freq 5 does not match 't', whose usual step is 1; leave --freq out"):
        load_panel(steps, freq="5")
    with pytest.raises(LstmcastError, match=r"^--freq -1: a step must be a positive number$"):
        load_panel(steps, freq="-1")


def test_a_series_with_no_values_is_left_out_of_a_many_series_file(tmp_path: Path) -> None:
    rows = ([f"a,2020-{m:02d}-01,{m}" for m in range(1, 13)] + [f"dead,2020-{m:02d}-01," for m in range(1, 13)]
            + [f"b,2020-{m:02d}-01,{'' if m == 5 else m * 2}" for m in range(1, 13)])
    path = write(tmp_path, "id,date,v\n" + "\n".join(rows) + "\n")
    with pytest.raises(LstmcastError, match=r"^column 'v' has 13 missing values \(first at date=2020-05-01 00:00:00 "
                                            r"in series 'b'\); use --fill"):
        load_panel(path, id_column="id")
    p = load_panel(path, id_column="id", fill="interpolate")
    assert p.ids == ["a", "b"] and p.lengths.tolist() == [12, 12] and p.values[16] == 10.0
    assert p.notes[:2] == ["left out 1 series with no value at all in 'v': dead",
                           "filled 1 missing values of 'v' with --fill interpolate (first at date=2020-05-01 00:00:00 "
                           "in series 'b')"]
    with pytest.raises(LstmcastError, match=r"^series 'dead' has no values at all in column 'v'$"):
        load_panel(write(tmp_path, "id,date,v\n" + "\n".join(rows[12:24]) + "\n", "one.csv"), id_column="id",
                   fill="ffill")


def test_the_series_of_a_file_share_one_frequency_and_grid(tmp_path: Path) -> None:
    """Month starts beside month ends, weeks ending Sunday beside weeks ending Monday, quarters beside months: each
    series was forecast on the grid of the longest (the first forecast date of another inside its own history), or
    a quarterly series became a monthly one with invented months under --fill. Each is one error now."""
    starts = pd.date_range("2018-01-01", periods=40, freq="MS")
    ends = pd.date_range("2018-01-31", periods=41, freq="ME")
    rows = [f"start,{t:%Y-%m-%d},{i}" for i, t in enumerate(starts)] + [f"end,{t:%Y-%m-%d},{i}" for i, t in enumerate(ends)]
    with pytest.raises(LstmcastError, match=r"^series 'start' has dates off the ME grid of series 'end' \(the longest, "
                                            r"whose dates set the file's step\), first date=2018-01-01 00:00:00: the "
                                            r"series of a file must share one calendar grid"):
        load_panel(write(tmp_path, "id,date,v\n" + "\n".join(rows) + "\n"), id_column="id")
    sun = pd.date_range("2020-01-05", periods=30, freq="W-SUN")
    mon = pd.date_range("2020-01-06", periods=20, freq="W-MON")
    rows = [f"sun,{t:%Y-%m-%d},{i}" for i, t in enumerate(sun)] + [f"mon,{t:%Y-%m-%d},{i}" for i, t in enumerate(mon)]
    with pytest.raises(LstmcastError, match=r"^series 'mon' has dates off the W-SUN grid of series 'sun'"):
        load_panel(write(tmp_path, "id,date,v\n" + "\n".join(rows) + "\n", "w.csv"), id_column="id")
    months, quarters = pd.date_range("2015-01-01", periods=30, freq="MS"), pd.date_range("2010-01-01", periods=12,
                                                                                         freq="QS")
    rows = [f"M,{t:%Y-%m-%d},{i}" for i, t in enumerate(months)] + [f"Q,{t:%Y-%m-%d},{i}" for i, t in enumerate(quarters)]
    path = write(tmp_path, "id,date,v\n" + "\n".join(rows) + "\n", "mq.csv")
    with pytest.raises(LstmcastError, match=r"^series 'Q' never steps less than a quarter, while series 'M' steps by "
                                            r"a month: a file holds one frequency"):
        load_panel(path, id_column="id")
    assert load_panel(path, id_column="id", fill="interpolate").lengths.tolist() == [30, 34]  # asked for: filled
    # series on one grid that start and end at different dates are fine, and forecast on their own dates
    p = load_panel(write(tmp_path, "id,date,v\n" + "\n".join(
        [f"a,{t:%Y-%m-%d},{i}" for i, t in enumerate(starts)] + [f"b,{t:%Y-%m-%d},{i}" for i, t in
                                                                 enumerate(starts[5:30])]) + "\n", "ok.csv"), id_column="id")
    assert p.freq == "MS" and str(future_times(p.time[p.starts[2] - 1], 1, p.freq, True)[0])[:10] == "2020-07-01"


def test_flags_that_use_up_the_value_column_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "date,sales,temp\n2020-01-01,1,5\n2020-01-02,2,6\n2020-01-03,3,7\n")
    with pytest.raises(LstmcastError, match=r"^no numeric column to forecast in data; columns are: date, sales, temp "
                                            r"\('sales' is the --id-column; 'temp' is a --features column\)$"):
        panel_from_frame(pd.read_csv(path), id_column="sales", features=["temp"])
    with pytest.raises(LstmcastError, match=r"^--features names 'temp' twice$"):
        load_panel(path, column="sales", features=["temp", "temp"])
    stamps = load_panel(write(tmp_path, "ts,y\n1700000000,1\n1700003600,2\n1700007200,4\n", "ts.csv"))
    assert stamps.time_name == "ts" and stamps.target == "y" and stamps.freq == "3600"  # a time column by its name


@pytest.mark.parametrize("dates, freq", [
    (["2015-01-01", "2015-02-01"], "MS"), (["2015-01-31", "2015-02-28"], "ME"), (["2020-04-01", "2020-07-01"], "QS-JAN"),
    (["2020-03-31", "2020-06-30"], "QE-DEC"), (["2019-01-01", "2020-01-01"], "YS-JAN"), (["2019-07-01", "2020-07-01"], "YS-JUL"),
])
def test_two_dates_keep_the_calendar(tmp_path: Path, dates: list[str], freq: str) -> None:
    """pd.infer_freq needs three dates; two a month, quarter or year apart are still that calendar step (a fixed
    31 days would drift off the month: 2015-03-04), and the forecast dates continue it."""
    p = load_panel(write(tmp_path, "date,y\n" + "".join(f"{d},{i}\n" for i, d in enumerate(dates))))
    assert p.freq == freq and p.notes == []
    future = future_times(p.time[-1], 2, p.freq, True)
    assert list(pd.DatetimeIndex(future)) == list(pd.date_range(dates[-1], periods=3, freq=freq)[1:])
    week = load_panel(write(tmp_path, "date,y\n2020-01-06,1\n2020-01-13,2\n"))
    assert week.freq == "7D" and week.notes == ["only 2 dates, 7 days 00:00:00 apart: assuming 7D; set --freq to choose"]


def test_forecast_times_past_pandas_last_date_are_an_error() -> None:
    """Dates past 2262-04-11 cannot be held in nanoseconds: one clear error with the most steps that fit, never
    a crash or dates wrapped round to 1685."""
    assert pd.Timestamp(future_times(np.datetime64("2019-12-01"), 2908, "MS", True)[-1]) == pd.Timestamp("2262-04-01")
    with pytest.raises(LstmcastError, match=r"^a forecast of 2909 steps after 2019-12-01 00:00:00 would pass the last "
                                            r"date pandas can hold \(2262-04-11\); at most 2908 steps fit$"):
        future_times(np.datetime64("2019-12-01"), 2909, "MS", True)
    with pytest.raises(LstmcastError, match=r"at most 243 steps fit$"):
        future_times(np.datetime64("2019-01-01"), 300, "YS-JAN", True)
    with pytest.raises(LstmcastError, match=r"at most 2123759 steps fit$"):
        future_times(np.datetime64("2020-01-01"), 3_000_000, "h", True)


@pytest.mark.parametrize("dates, freq, added", [
    (["2020-01-31", "2020-02-29", "2020-04-30", "2020-05-31"], "ME", "2020-03-31"),  # month ends
    (["2019-01-01", "2019-04-01", "2019-10-01", "2020-01-01"], "QS-JAN", "2019-07-01"),
    (["2000-01-01", "2001-01-01", "2003-01-01", "2004-01-01"], "YS-JAN", "2002-01-01"),
    # trading days: weekends are not gaps, the holiday is
    (["2024-01-11", "2024-01-12", "2024-01-16", "2024-01-17", "2024-01-18", "2024-01-19", "2024-01-22"], "B",
     "2024-01-15"),
])
def test_calendar_gaps_become_missing_rows(tmp_path: Path, dates: list[str], freq: str, added: str) -> None:
    body = "".join(f"{d},{i + 1}\n" for i, d in enumerate(dates))
    p = load_panel(write(tmp_path, "date,y\n" + body), fill="ffill")
    assert p.freq == freq and p.lengths.tolist() == [len(dates) + 1]
    missing = np.flatnonzero(~p.observed)
    assert [str(pd.Timestamp(t).date()) for t in p.time[missing]] == [added]
    assert p.values[missing[0]] == p.values[missing[0] - 1]  # ffill
    many = "id,date,y\na,2020-01-01,1\na,2020-02-01,2\na,2020-04-01,4\nb,2021-01-01,1\nb,2021-03-01,3\n"
    q = load_panel(write(tmp_path, many), id_column="id", fill="drop")
    assert q.freq == "MS" and q.lengths.tolist() == [3, 2]


def test_long_format_groups_series(long_csv: Path) -> None:
    p = load_panel(long_csv, id_column="store")
    assert p.ids == ["s0", "s1", "s2"] and p.lengths.tolist() == [80, 80, 80]
    assert p.values[p.starts[1]] == pytest.approx(5.0, abs=1.0)
    with pytest.raises(LstmcastError, match=r"--id-column 'shop' not found; columns are: store, date, y"):
        load_panel(long_csv, id_column="shop")


def test_parquet_input(tmp_path: Path, daily_csv: Path) -> None:
    pq = tmp_path / "d.parquet"
    pd.read_csv(daily_csv).to_parquet(pq)
    assert load_panel(pq, column="sales").values.shape == (180,)
    # pandas Periods, as a column or as the index, are their first days (as a CSV's '2015-01' labels); an unnamed
    # date index is a column 'date', not pandas' 'index'
    y = np.arange(24.0) + 5
    pd.DataFrame({"month": pd.period_range("2015-01", periods=24, freq="M"), "v": y}).to_parquet(tmp_path / "p.parquet")
    p = load_panel(tmp_path / "p.parquet")
    assert (p.time_name, p.freq, str(p.time[0])[:10]) == ("month", "MS", "2015-01-01")
    pd.DataFrame({"v": y}, index=pd.period_range("2015Q1", periods=24, freq="Q")).to_parquet(tmp_path / "q.parquet")
    p = load_panel(tmp_path / "q.parquet")
    assert (p.time_name, p.freq, str(p.time[-1])[:10]) == ("date", "QS-JAN", "2020-10-01")
    pd.DataFrame({"v": y}, index=pd.date_range("2015-01-01", periods=24)).to_parquet(tmp_path / "i.parquet")
    assert load_panel(tmp_path / "i.parquet").time_name == "date"


def test_split_and_future_times() -> None:
    assert split_points(np.array([4001, 10]), 0.1).tolist() == [3601, 9]
    assert future_times(np.datetime64("2024-01-31"), 2, "MS", True).astype("datetime64[D]").astype(str).tolist() == [
        "2024-02-01", "2024-03-01"]
    assert future_times(9.0, 3, "1", False).tolist() == [10.0, 11.0, 12.0]


@pytest.mark.parametrize("freq,season", [("h", 24), ("D", 7), ("W-SUN", 52), ("MS", 12), ("QS-OCT", 4), ("YS-JAN", 1),
                                         ("5min", 288), ("10min", 144), ("2h", 12), ("12h", 2), ("7h", None),
                                         ("2D", None)])
def test_season_length_from_frequency(freq: str, season: int) -> None:
    assert season_length_for(freq, True) == season


def test_text_in_the_only_value_column_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(LstmcastError, match=r"column 'y' is not numeric: line 3 has 'x'"):
        load_panel(write(tmp_path, "date,y\n2024-01-01,1\n2024-01-02,x\n"))


def test_observed_marks_the_points_the_file_had(tmp_path: Path) -> None:
    p = write(tmp_path, "s,t,y\na,0,1\na,1,\na,2,3\nb,0,\nb,1,5\nb,2,6\n")
    panel = load_panel(p, id_column="s", fill="interpolate")
    assert panel.observed.tolist() == [True, False, True, False, True, True]
    assert panel.values.tolist() == [1, 2, 3, 5, 5, 6]  # interior linear, a leading gap takes the first value
    assert panel.select(np.array([False, True])).observed.tolist() == [False, True, True]
    assert load_panel(p, id_column="s", fill="drop").observed.all()
    assert load_panel(write(tmp_path, "t,y\n0,1\n1,2\n"), "y").observed.tolist() == [True, True]


def test_refill_training_never_reads_the_test_part() -> None:
    """A gap straddling the split: the training part's filled values do not move when the test part
    changes (load-time interpolation drew a line to the first test value), and the test part carries
    the last observation forward, so no model input reads a later target."""
    def frame(first_test: float) -> pd.DataFrame:
        y = [0.0, 1.0, 2.0, np.nan, np.nan, np.nan, first_test, 7.0, np.nan, 9.0]
        return pd.DataFrame({"t": np.arange(10), "y": y})

    starts, train_ends = np.array([0, 10]), np.array([5])
    filled = {}
    for first_test in (6.0, 600.0):
        panel = panel_from_frame(frame(first_test), fill="interpolate")
        filled[first_test] = refill_training(panel.values, panel.observed, panel.starts, train_ends, "interpolate")
    np.testing.assert_array_equal(filled[6.0][:5], [0, 1, 2, 2, 2])
    np.testing.assert_array_equal(filled[600.0][:5], filled[6.0][:5])
    np.testing.assert_array_equal(filled[6.0][5:], [2, 6, 7, 7, 9])
    # interior training gaps are still interpolated, leading ones take the first training value
    v = np.array([np.nan, 4.0, np.nan, 8.0, 1.0, np.nan, np.nan, 5.0])
    out = refill_training(v, ~np.isnan(v), np.array([0, 4, 8]), np.array([4, 7]), "interpolate")
    np.testing.assert_array_equal(out, [4, 4, 6, 8, 1, 1, 1, 5])
    np.testing.assert_array_equal(refill_training(v, ~np.isnan(v), np.array([0, 4, 8]), np.array([4, 7]), "ffill"),
                                  [4, 4, 4, 8, 1, 1, 1, 5])
    np.testing.assert_array_equal(refill_training(v, ~np.isnan(v), np.array([0, 4, 8]), np.array([4, 7]), "zero"),
                                  [0, 4, 0, 8, 1, 0, 0, 5])


def test_refill_training_needs_one_training_observation() -> None:
    v = np.array([1.0, 2.0, np.nan, np.nan, 5.0])
    with pytest.raises(LstmcastError, match=r"series 2 has no observed value in its 2 training points; its gaps "
                                            r"cannot be filled from the past; use --fill drop or a smaller --test-size"):
        refill_training(v, ~np.isnan(v), np.array([0, 2, 5]), np.array([2, 4]), "interpolate")


@pytest.mark.parametrize("text,kw,message", [
    # found by tests/test_fuzz.py: each used to load, or to fail with an internal error
    ("t,y\ninf,1\ninf,2\n", {}, "time column 't' has a value that is not a finite number: line 2 has inf"),
    ("y, y\n0,0\n", {}, "has two columns named 'y' (spaces around names are ignored); rename one"),
    ("t,y\n0,\n1,\n", {"fill": "drop"}, "series 'y' has no values at all in column 'y'"),
    ("t,y\n0,1e200\n1,2\n", {}, "column 'y' has values beyond ±1e+100 (first at t=0: 1e+200); divide the column by a "
                                "power of ten"),
])
def test_loader_edge_cases_are_one_line(tmp_path: Path, text: str, kw: dict[str, str], message: str) -> None:
    with pytest.raises(LstmcastError) as e:
        load_panel(write(tmp_path, text), **kw)
    assert str(e.value).endswith(message)


def test_three_digits_after_every_decimal_comma_get_a_note(tmp_path: Path) -> None:
    """A semicolon file whose every value is 1,000 ... 1,941 reads as 1 ... 1.941 (decimal commas, as European
    exports write them), but those may be thousands: the note says so. Values with other decimals get no note."""
    rows = "".join(f"2018-{m:02d}-01;1,{m * 77:03d}\n" for m in range(1, 13))
    p = load_panel(write(tmp_path, "date;sales\n" + rows))
    assert p.values[0] == 1.077 and p.notes[0] == (
        "read 'sales' with decimal commas ('1,077' as 1.077), as every value has three digits after its comma; if the "
        "commas set thousands apart, write the numbers without them")
    p = load_panel(write(tmp_path, "date;sales\n" + rows + "2019-01-01;1,5\n", "mixed.csv"))
    assert not any("three digits" in n for n in p.notes)


@pytest.mark.parametrize("raw, note", [
    (b"date;value\n2024-01-01;1,5\n2024-01-02;-2,25\n2024-01-03;3\n",
     "read {path} as semicolon-separated UTF-8 with decimal commas"),
    (b"date\tvalue\n2024-01-01\t1.5\n2024-01-02\t-2.25\n2024-01-03\t3\n", "read {path} as tab-separated UTF-8"),
    (b"\xef\xbb\xbfdate,value\n2024-01-01,1.5\n2024-01-02,-2.25\n2024-01-03,3\n", None),  # Excel's UTF-8 with a BOM
    ("date,valeur \u00e0 l'\u00e9t\u00e9\n2024-01-01,1.5\n2024-01-02,-2.25\n2024-01-03,3\n".encode("latin-1"),
     "read {path} as comma-separated Latin-1"),
])
def test_load_table_sniffs_separator_and_encoding(tmp_path: Path, raw: bytes, note: str | None) -> None:
    from lstmcast.data import load_table

    path = tmp_path / "data.csv"
    path.write_bytes(raw)
    df = load_table(path)
    assert df.columns[0] == "date" and len(df.columns) == 2
    assert df.iloc[:, 1].tolist() == [1.5, -2.25, 3.0]
    assert df.attrs["notes"] == ([note.format(path=path)] if note else [])
    if note and "Latin-1" in note:
        assert df.columns[1] == "valeur \u00e0 l'\u00e9t\u00e9"


def test_spreadsheet_leftovers_around_the_table_are_ignored(tmp_path: Path) -> None:
    """A separator at the end of every line (an unnamed empty column), or of the data lines only (which pandas
    would read as a first column of row labels), and empty rows at the end; rows longer than the header are
    an error, not a guess."""
    for text in ("date,value,\n2020-01-01,1,\n2020-02-01,2,\n2020-03-01,3,\n",
                 "date,value\n2020-01-01,1,\n2020-02-01,2,\n2020-03-01,3,\n",
                 "date,value\n2020-01-01,1\n2020-02-01,2\n2020-03-01,3\n,\n,\n"):
        panel = load_panel(write(tmp_path, text))
        assert panel.values.tolist() == [1, 2, 3] and panel.freq == "MS" and panel.time_name == "date"
    with pytest.raises(LstmcastError, match=r"^cannot read .*d.csv: some rows have more values than the header "
                                            r"has column names; name every column in the first line$"):
        load_panel(write(tmp_path, "date,value\n2020-01-01,1,7\n2020-02-01,2,8\n"))


def test_thousands_separators_are_read_as_numbers(tmp_path: Path) -> None:
    """"1,234" (quoted, as spreadsheets export formatted numbers) is 1234, and the column is found as numeric;
    a column where one value is not grouped in threes stays text and is refused as before."""
    p = write(tmp_path, 'date,sales\n2020-01-01,"1,234"\n2020-02-01,"-12,500.5"\n2020-03-01,980\n2020-04-01,\n')
    panel = load_panel(p, fill="drop")
    assert panel.target == "sales" and panel.values.tolist() == [1234.0, -12500.5, 980.0]
    assert "read 'sales' with thousands separators ('1,234' as 1234)" in panel.notes
    with pytest.raises(LstmcastError, match=r"--column 'sales' is not numeric: line 2 has '1,234'"):
        load_panel(write(tmp_path, 'date,sales\n2020-01-01,"1,234"\n2020-02-01,"1,5"\n'), "sales")


def test_title_and_comment_lines_above_the_header_are_skipped(tmp_path: Path) -> None:
    """A report's title, source line, blank lines and '#' comments above the header are skipped with a note, and
    errors still name the file's own line numbers; a file whose header is shorter than its rows is not mistaken
    for one with a title."""
    rows = "".join(f"2020-{m:02d}-01,{m}\n" for m in range(1, 13))
    panel = load_panel(write(tmp_path, "Monthly sales report\nSource: ERP export\n\ndate,value\n" + rows))
    assert panel.values.tolist() == list(range(1, 13)) and panel.freq == "MS"
    assert "skipped 3 lines above the header of" in panel.notes[0] and "('Monthly sales report')" in panel.notes[0]
    panel = load_panel(write(tmp_path, "# exported 2024-01-01\n# by me, today\ndate;value\n" + rows.replace(",", ";")))
    assert panel.values.tolist() == list(range(1, 13))
    with pytest.raises(LstmcastError, match=r"^--column 'value' is not numeric: line 6 has 'x'$"):
        load_panel(write(tmp_path, "Sales\n\ndate,value\n2020-01-01,1\n2020-02-01,2\n2020-03-01,x\n"), "value")
    with pytest.raises(LstmcastError, match=r"some rows have more values than the header"):
        load_panel(write(tmp_path, "date,value\n" + "".join(f"{i},2020-{m:02d}-01,{m}\n" for i, m in enumerate(range(1, 13)))))


def test_months_on_a_day_in_the_middle_keep_it(tmp_path: Path) -> None:
    """Monthly dates on the 15th had no pandas name: the step was taken as 31 days (forecasts drifted to 2019-03-18)
    and the yearly season was lost. Now they are "M@15": calendar months on day 15, with a season of 12."""
    t = pd.date_range("2015-01-15", periods=48, freq=pd.DateOffset(months=1))
    p = load_panel(write(tmp_path, "date,v\n" + "".join(f"{d:%Y-%m-%d},{i}\n" for i, d in enumerate(t))))
    assert p.freq == "M@15" and season_length_for(p.freq, True) == 12 and not p.notes
    assert [str(d)[:10] for d in future_times(p.time[-1], 3, p.freq, True)] == ["2019-01-15", "2019-02-15", "2019-03-15"]
    assert season_phase(p.time[:13], p.freq, True, 12).tolist() == list(range(12)) + [0]
    q = pd.date_range("2010-02-10", periods=12, freq=pd.DateOffset(months=3))
    p = load_panel(write(tmp_path, "date,v\n" + "".join(f"{d:%Y-%m-%d},{i}\n" for i, d in enumerate(q)), "q.csv"))
    assert p.freq == "3M@10" and season_length_for(p.freq, True) == 4
    # --freq takes the name too, and the series of a file must all be on that day
    assert load_panel(tmp_path / "d.csv", freq="M@15").freq == "M@15"
    rows = [f"a,{d:%Y-%m-%d},{i}" for i, d in enumerate(t)] + [f"b,{d - pd.Timedelta(days=1):%Y-%m-%d},{i}"
                                                                  for i, d in enumerate(t[:20])]
    with pytest.raises(LstmcastError, match=r"^series 'b' has dates off the M@15 grid of series 'a'"):
        load_panel(write(tmp_path, "id,date,v\n" + "\n".join(rows) + "\n", "p.csv"), id_column="id")


def test_a_year_column_and_a_month_or_quarter_column_are_one_date(tmp_path: Path) -> None:
    """year,month,sales (statistics tables) was 'time column year is duplicated'; now the two are one date."""
    rows = "".join(f"{y},{m},{i}\n" for i, (y, m) in enumerate((y, m) for y in (2016, 2017) for m in range(1, 13)))
    p = load_panel(write(tmp_path, "year,month,sales\n" + rows))
    assert (p.time_name, p.freq, p.target, str(p.time[13])[:10]) == ("date", "MS", "sales", "2017-02-01")
    assert "joined the years in 'year' and the months in 'month' into one date column 'date'" in p.notes
    swapped = "".join(f"{m},{y},{i}\n" for i, (y, m) in enumerate((y, m) for y in (2016, 2017) for m in range(1, 13)))
    assert load_panel(write(tmp_path, "month,year,sales\n" + swapped, "my.csv")).freq == "MS"  # month found first
    names = "".join(f"{y};{m};{i}\n" for i, (y, m) in enumerate((y, m) for y in (2016, 2017)
                                                                 for m in ("Jan", "February", "Mar", "Apr")))
    with pytest.raises(LstmcastError, match="missing values"):  # Jan-Apr of two years: the months between are gaps
        load_panel(write(tmp_path, "Year;Month;v\n" + names, "names.csv"))
    q = "".join(f"{y},Q{k},{y + k}\n" for y in range(2010, 2016) for k in range(1, 5))
    p = load_panel(write(tmp_path, "Year,Quarter,gdp\n" + q, "q.csv"))
    assert (p.time_name, p.freq, str(p.time[-1])[:10]) == ("date", "QS-JAN", "2015-10-01")
    # a month column of other numbers is not a month: left as it was (two numeric columns to choose from)
    with pytest.raises(LstmcastError, match="duplicated"):
        load_panel(write(tmp_path, "year,month,v\n" + rows.replace(",12,", ",13,"), "bad.csv"), column="v")


def test_notes_below_the_table_are_left_out(tmp_path: Path) -> None:
    """A source line or footnote under the data, after a blank line, is left out with a note (it was 'not a date
    or number: line 15 has ...'); a last row with a missing value is data, and so is a table that runs on."""
    rows = "".join(f"2020-{m:02d}-01,{m}\n" for m in range(1, 13))
    p = load_panel(write(tmp_path, "date,value\n" + rows + "\nSource: company records\n* provisional,,\n"))
    assert p.values.tolist() == list(range(1, 13)) and p.notes[0].startswith(
        "left out 2 lines of notes below the table of ") and p.notes[0].endswith("('Source: company records')")
    with pytest.raises(LstmcastError, match=r"missing values"):
        load_panel(write(tmp_path, "date,value\n" + rows + "\n2021-01-01,\n", "gap.csv"))
    with pytest.raises(LstmcastError, match=r"is not a date or number: line 14 has 'Source: x'"):
        load_panel(write(tmp_path, "date,value\n" + rows + "Source: x\n", "run_on.csv"))


def test_summary_rows_under_the_data_are_left_out(tmp_path: Path) -> None:
    """A report's "Total" (or "Grand total:", "Average") rows under the data are left out with a note naming their
    lines, not refused as a time that is no date; a series id that happens to be "Total" is data."""
    rows = "".join(f"2020-{m:02d}-01,{m}\n" for m in range(1, 13))
    panel = load_panel(write(tmp_path, "date,value\n" + rows + "Total,78\n"))
    assert panel.values.tolist() == list(range(1, 13)) and panel.freq == "MS"
    assert panel.notes[0] == "left out line 14 ('Total'): a summary under the data, not a point of the series"
    panel = load_panel(write(tmp_path, "Sales\ndate,value\n" + rows + "Grand total:,78\nAverage,6.5\n"))
    assert panel.values.tolist() == list(range(1, 13))
    assert "left out lines 15-16 ('Grand total:', 'Average')" in " ".join(panel.notes)
    long = "".join(f"{s},2020-{m:02d}-01,{m}\n" for s in ("A", "Total") for m in range(1, 13))
    panel = load_panel(write(tmp_path, "id,date,value\n" + long), id_column="id")
    assert panel.ids == ["A", "Total"] and len(panel.values) == 24 and not panel.notes
    with pytest.raises(LstmcastError, match=r"^time column 'date' is not a date or number: line 8 has 'Total'$"):
        load_panel(write(tmp_path, "date,value\n" + "".join(rows.splitlines(True)[:6]) + "Total,5\n2020-07-01,7\n"))


def test_space_separated_columns_are_read(tmp_path: Path) -> None:
    """Columns that stand apart by runs of spaces (aligned text tables) are read, with a note; a one-column
    file or one whose lines split unevenly on spaces stays a comma file."""
    rows = "".join(f"2020-{m:02d}-01   {m}.5\n" for m in range(1, 13))
    panel = load_panel(write(tmp_path, "date     value\n" + rows))
    assert panel.values.tolist() == [m + 0.5 for m in range(1, 13)] and panel.freq == "MS"
    assert any(n.endswith("as space-separated UTF-8") for n in panel.notes)
    panel = load_panel(write(tmp_path, "value\n" + "".join(f"{m}\n" for m in range(12))))
    assert panel.values.tolist() == list(range(12)) and not panel.notes
    panel = load_panel(write(tmp_path, "when,value\n" + "".join(f"2020-01-01 {h:02d}:00,{h}\n" for h in range(12))))
    assert panel.freq == "h" and panel.values.tolist() == list(range(12))


def test_month_names_and_fiscal_years_are_dates(tmp_path: Path) -> None:
    """Excel's mmm-yy months (Jan-18: two-digit years as Excel reads them), month names with four-digit years, and
    fiscal years (FY2000, 2010/11) are dates; before, 'Jan-18' became a date of the year 1 and then, wrapped
    round in nanoseconds, a silent 1754."""
    months = pd.date_range("2018-01-01", periods=14, freq="MS")
    old = pd.date_range("1949-01-01", periods=14, freq="MS")
    for labels, first in [([f"{m:%b-%y}" for m in months], "2018-01-01"), ([f"{m:%B %Y}" for m in months], "2018-01-01"),
                          ([f"{m:%b %y}" for m in old], "1949-01-01")]:
        panel = load_panel(write(tmp_path, "month,sales\n" + "".join(f"{x},{i}\n" for i, x in enumerate(labels))))
        assert panel.freq == "MS" and str(pd.Timestamp(panel.time[0]).date()) == first, labels[0]
    assert "read the months in 'month' with two-digit years ('Jan-18' as 2018-01)" in load_panel(
        write(tmp_path, "month,sales\n" + "".join(f"{m:%b-%y},{i}\n" for i, m in enumerate(months)))).notes
    for labels in ([f"FY{y}" for y in range(2000, 2012)], [f"{y}/{(y + 1) % 100:02d}" for y in range(2000, 2012)]):
        panel = load_panel(write(tmp_path, "year,revenue\n" + "".join(f"{x},{i}\n" for i, x in enumerate(labels))))
        assert pd.DatetimeIndex(panel.time).year.tolist() == list(range(2000, 2012))
        assert panel.notes == [f"read the fiscal years in 'year' as years ({labels[0]!r} as 2000)"]
    # 2011-12, 2012-01: months, not fiscal years (the second part is not always the next year)
    panel = load_panel(write(tmp_path, "period,v\n2011-11,1\n2011-12,2\n2012-01,3\n2012-02,4\n"))
    assert panel.freq == "MS" and str(pd.Timestamp(panel.time[1]).date()) == "2011-12-01"


@pytest.mark.parametrize("first, shown", [("1500-01-01", "1500-01-01"), ("2300-01-01", "2300-01-01"),
                                          ("18-Jan", "0001-01-18")])
def test_dates_lstmcast_cannot_hold_are_refused(tmp_path: Path, first: str, shown: str) -> None:
    """A date before 1677 or after 2262 (or one without a year, read as the year 1) does not fit in nanoseconds:
    an error naming it, instead of a time wrapped round to another century."""
    with pytest.raises(LstmcastError) as e:
        load_panel(write(tmp_path, f"date,v\n{first},1\n"))
    # pandas 3 reads the date, then lstmcast finds it outside; pandas 2 refuses to read it, so no "read as"
    read_as = f" (read as {shown})" if int(pd.__version__.split(".")[0]) >= 3 else ""
    assert str(e.value) == (f"time column 'date' has a date outside the years 1677-2262 that lstmcast can hold: line 2 "
                            f"has {first!r}{read_as}; write whole years as plain numbers (1500, 1501, ...), "
                            "or give a date with its year")


def test_repeated_header_lines_and_a_row_index_column_are_left_out(tmp_path: Path) -> None:
    """Exports pasted one under another repeat the header: those lines are left out with a note, and later error
    lines are still the file's own. The unnamed 0, 1, 2, ... column of pandas' to_csv is a row index, not data."""
    rows = [f"2020-{m:02d}-01,{m}\n" for m in range(1, 13)]
    text = "date,value\n" + "".join(rows[:6]) + "date,value\n" + "".join(rows[6:])
    panel = load_panel(write(tmp_path, text))
    assert panel.values.tolist() == list(range(1, 13)) and panel.freq == "MS"
    assert "repeating the header (line 8)" in panel.notes[0]
    with pytest.raises(LstmcastError, match=r"^--column 'value' is not numeric: line 10 has 'x'$"):
        load_panel(write(tmp_path, text.replace("2020-08-01,8", "2020-08-01,x")), "value")
    frame = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=12, freq="MS"), "sales": np.arange(12.0) + 3})
    frame.to_csv(tmp_path / "indexed.csv")  # the index written too, as pandas does by default
    panel = load_panel(tmp_path / "indexed.csv")
    assert panel.target == "sales" and panel.values.tolist() == list(np.arange(12.0) + 3)
    assert panel.notes[0].startswith("ignored the first column, which has no name and counts the rows (0, 1, ...)")
    with pytest.raises(LstmcastError, match=r"has 2 numeric columns \(Unnamed: 0, sales\)"):  # no count from 0 or 1
        load_panel(write(tmp_path, ",sales\n5,1\n6,2\n7,3\n"))


def test_accounting_and_european_number_formats(tmp_path: Path) -> None:
    """Negatives in parentheses, thousands set apart by an apostrophe, a (no-break) space or, with decimal commas,
    a dot: all read as numbers with a note."""
    dates = [f"2020-{m:02d}-01" for m in range(1, 5)]
    cases = [(",", ["1.5", "(2.25)", "3", "(4)"], [1.5, -2.25, 3, -4], "negative numbers in parentheses"),
             (",", ["1'234.5", "12'000", "7", "1'000'000"], [1234.5, 12000, 7, 1e6], "thousands separators"),
             (";", ["1.234,5", "987,25", "12.345,00", "(1.000,00)"], [1234.5, 987.25, 12345, -1000],
              "thousands separators"),
             (";", ["10 013,00", "9\u00a0487,50", "3,5", "1 000 000,5"], [10013, 9487.5, 3.5, 1000000.5],
              "thousands separators")]
    for sep, values, expect, what in cases:
        text = f"date{sep}v\n" + "".join(f"{d}{sep}{v}\n" for d, v in zip(dates, values))
        panel = load_panel(write(tmp_path, text))
        assert panel.values.tolist() == expect, values
        assert any(f"read 'v' with {what}" in n for n in panel.notes), panel.notes
    with pytest.raises(LstmcastError, match=r"not numeric: line 3 has '\(2\.25'"):  # half a parenthesis: text
        load_panel(write(tmp_path, "date,v\n2020-01-01,1\n2020-02-01,(2.25\n"), "v")


def test_dates_missing_from_a_file_with_features_are_filled_or_refused(tmp_path: Path) -> None:
    """With --features, dates the calendar skips are rows too (before, the series was read as if the gap were
    not there): an error without --fill; with it, the target and the features are filled the same way."""
    days = pd.date_range("2020-01-01", periods=10, freq="D")
    frame = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "y": np.arange(10.0), "temp": np.arange(10.0) * 2})
    path = tmp_path / "gaps.csv"
    frame.drop(index=[4, 5]).to_csv(path, index=False)
    with pytest.raises(LstmcastError, match=r"^column 'y' has 2 missing values \(first at date=2020-01-05 00:00:00; 2 of "
                                            r"them dates with no row in the file\); use --fill"):
        load_panel(path, "y", features=["temp"])
    panel = load_panel(path, "y", features=["temp"], fill="interpolate")
    assert panel.freq == "D" and (pd.DatetimeIndex(panel.time) == days).all()
    assert panel.values.tolist() == list(np.arange(10.0)) and panel.covariates[:, 0].tolist() == list(np.arange(10.0) * 2)
    assert "filled the --features temp on the 2 dates with no row the same way" in panel.notes
    panel = load_panel(path, "y", features=["temp"], fill="drop")
    assert len(panel.values) == 8 and panel.covariates[:, 0].tolist() == [0, 2, 4, 6, 12, 14, 16, 18]


def test_a_date_column_and_a_time_of_day_column_are_one_time(tmp_path: Path) -> None:
    """date 2022-01-01 and time 13:00 in two columns (loggers, databases) are joined into one time, whichever
    column comes first; a duplicated date is no longer an error."""
    hours = pd.date_range("2022-01-01", periods=30, freq="h")
    text = "date,time,kwh\n" + "".join(f"{t:%Y-%m-%d},{t:%H:%M},{i}\n" for i, t in enumerate(hours))
    panel = load_panel(write(tmp_path, text))
    assert panel.freq == "h" and panel.time_name == "date" and panel.target == "kwh"
    assert (pd.DatetimeIndex(panel.time) == hours).all() and panel.values.tolist() == list(range(30))
    assert "joined the dates in 'date' and the times of day in 'time' into one time" in panel.notes
    text = "time,day,kwh\n" + "".join(f"{t:%H:%M:%S},{t:%d/%m/%Y},{i}\n" for i, t in enumerate(hours))
    panel = load_panel(write(tmp_path, text))
    assert (pd.DatetimeIndex(panel.time) == hours).all() and panel.time_name == "day"


def test_currency_and_per_cent_signs_are_read_as_numbers(tmp_path: Path) -> None:
    """A sign written on every number ($1,234.50, 12,50 EUR with a decimal comma, 10.5%) is dropped with a note
    quoting the first value; one value without the sign, or two signs in one column, stay text and are refused."""
    p = write(tmp_path, 'date,sales\n2020-01-01,"$1,234.50"\n2020-02-01,-$12\n2020-03-01,$980\n')
    panel = load_panel(p)
    assert panel.target == "sales" and panel.values.tolist() == [1234.5, -12.0, 980.0]
    assert "read 'sales' as numbers without their '$' sign ('$1,234.50' as 1234.5)" in panel.notes
    panel = load_panel(write(tmp_path, "date;rate\n2020-01-01;1,5 %\n2020-02-01;2 %\n2020-03-01;.\n"), fill="drop")
    assert panel.values.tolist() == [1.5, 2.0]
    assert "read 'rate' as numbers without their '%' sign ('1,5 %' as 1.5)" in panel.notes
    panel = load_panel(write(tmp_path, "date,p\n2020-01-01,12.5 €\n2020-02-01,3 €\n2020-03-01,4€\n"))
    assert panel.values.tolist() == [12.5, 3.0, 4.0]
    # French spreadsheets: a no-break space before the sign and between the groups (it was read as part of the
    # number, and the column refused)
    panel = load_panel(write(tmp_path, "date;prix\n2020-01-01;12,50\u00a0€\n2020-02-01;1\u202f234,00\u00a0€\n"))
    assert panel.values.tolist() == [12.5, 1234.0]
    assert "read 'prix' as numbers without their '€' sign ('12,50\\xa0€' as 12.5)" in panel.notes
    # the typographic minus sign (U+2212) of tables typeset for print, alone or with a sign and groups
    panel = load_panel(write(tmp_path, "date,v\n2020-01-01,\u221212.5\n2020-01-02,3\n2020-01-03,\u22121\n"))
    assert panel.values.tolist() == [-12.5, 3.0, -1.0]
    assert "read 'v' with the minus sign \u2212 as - ('\u221212.5' as -12.5)" in panel.notes
    panel = load_panel(write(tmp_path, 'date,v\n2020-01-01,"\u2212$1,000"\n2020-01-02,$3\n2020-01-03,$2\n'))
    assert panel.values.tolist() == [-1000.0, 3.0, 2.0]
    with pytest.raises(LstmcastError, match=r"^--column 'p' is not numeric: line 2 has '\$5'$"):
        load_panel(write(tmp_path, "date,p\n2020-01-01,$5\n2020-02-01,12\n"), "p")
    with pytest.raises(LstmcastError, match=r"^--column 'p' is not numeric: line 2 has '\$5'$"):
        load_panel(write(tmp_path, "date,p\n2020-01-01,$5\n2020-02-01,€6\n"), "p")


def test_missing_marks_are_read_as_missing(tmp_path: Path) -> None:
    """FRED writes a missing value as ".", the World Bank as "..", others "-" or "?": in a column of numbers
    they are missing values (then the --fill rules), said in a note, also in a decimal-comma file; a column of
    marks alone is still refused."""
    fred = write(tmp_path, "DATE,GDP\n2020-01-01,1\n2020-04-01,.\n2020-07-01,3\n2020-10-01,4\n")
    with pytest.raises(LstmcastError, match=r"column 'GDP' has 1 missing values \(first at DATE=2020-04-01"):
        load_panel(fred)
    panel = load_panel(fred, fill="interpolate")
    assert panel.values.tolist() == [1.0, 2.0, 3.0, 4.0] and panel.observed.tolist() == [True, False, True, True]
    assert "read '.' in 'GDP' as missing (1 value)" in panel.notes
    mixed = write(tmp_path, 'date,v\n2020-01-01,"1,000"\n2020-02-01,..\n2020-03-01,-\n2020-04-01,4e2\n')
    panel = load_panel(mixed, fill="drop")
    assert panel.values.tolist() == [1000.0, 400.0]
    assert "read '-', '..' in 'v' as missing (2 values)" in panel.notes
    euro = write(tmp_path, "date;v\n2020-01-01;1,5\n2020-02-01;?\n2020-03-01;3,25\n")
    assert load_panel(euro, fill="drop").values.tolist() == [1.5, 3.25]
    with pytest.raises(LstmcastError, match=r"column 'v' is not numeric: line 2 has '-'"):
        load_panel(write(tmp_path, "date,v\n2020-01-01,-\n2020-02-01,-\n"), "v")


@pytest.mark.parametrize("name, raw, what", [
    ("sales.xlsx", b"PK\x03\x04\x14\x00xl/workbook.xml", "an Excel workbook"),
    ("renamed.csv", b"PK\x03\x04\x14\x00xl/workbook.xml", "an Excel workbook"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "an old Excel (.xls) workbook"),
    ("table.json", b'[{"t": 1, "y": 2}]', "a JSON file"),
    ("blob.csv", b"t,y\x00\x01\x02\x00", "binary data, not text"),
])
def test_unsupported_formats_are_named(tmp_path: Path, name: str, raw: bytes, what: str) -> None:
    from lstmcast.data import load_table

    path = tmp_path / name
    path.write_bytes(raw)
    with pytest.raises(LstmcastError) as e:
        load_table(path)
    assert str(e.value) == (f"{path} is {what}; lstmcast reads CSV (comma, semicolon or tab separated) or Parquet "
                            "files: export the table as CSV and pass that")


def test_parquet_and_gzip_are_read_whatever_their_name(tmp_path: Path) -> None:
    import gzip

    from lstmcast.data import load_table

    df = pd.DataFrame({"t": [0, 1, 2], "y": [1.0, 2.0, 4.0]})
    df.to_parquet(tmp_path / "data.pq.csv")  # Parquet under a .csv name: read by its magic bytes
    (tmp_path / "data.csv.gz").write_bytes(gzip.compress(b"t;y\n0;1\n1;2\n2;4\n"))
    for name in ("data.pq.csv", "data.csv.gz"):
        pd.testing.assert_frame_equal(load_table(tmp_path / name), df, check_dtype=False)


def test_day_first_dates_are_read_as_one_format(tmp_path: Path) -> None:
    """31/01/2020-style files: one format for the column, never a mix of readings per value."""
    months = pd.date_range("2015-01-01", periods=30, freq="MS")
    # no day above 12: month first fits every value too (as days of January); the regular reading wins
    p = write(tmp_path, "date,y\n" + "".join(f"{d:%d/%m/%Y},{i}\n" for i, d in enumerate(months)))
    panel = load_panel(p, "y", "date")
    assert (pd.DatetimeIndex(panel.time) == months).all() and panel.freq == "MS"
    assert "read the dates in 'date' day first ('01/02/2015' as 2015-02-01)" in panel.notes
    # a day above 12 leaves day first as the only reading
    days = pd.date_range("2020-01-10", periods=30, freq="D")
    panel = load_panel(write(tmp_path, "date,y\n" + "".join(f"{d:%d.%m.%Y},{i}\n" for i, d in enumerate(days))), "y", "date")
    assert (pd.DatetimeIndex(panel.time) == days).all()
    # dots are day first even when the month-first reading is regular too (three days of January)
    panel = load_panel(write(tmp_path, "date,y\n01.02.2020,1\n01.03.2020,2\n01.04.2020,3\n"), "y", "date")
    assert panel.freq == "MS" and str(pd.Timestamp(panel.time[0]).date()) == "2020-02-01"
    assert "read the dates in 'date' day first ('01.02.2020' as 2020-02-01)" in panel.notes
    # month first stays the reading when it fits and is regular
    panel = load_panel(write(tmp_path, "date,y\n" + "".join(f"{d:%m/%d/%Y},{i}\n" for i, d in enumerate(months))), "y", "date")
    assert (pd.DatetimeIndex(panel.time) == months).all() and not panel.notes


def test_integer_dates_are_read_as_dates(tmp_path: Path) -> None:
    """20200131 and 202001 in a time column: dates, as a spreadsheet or database export writes them, not step
    numbers with jumps at each month's end (which made the series look irregular)."""
    days = pd.date_range("2020-01-20", periods=40, freq="D")  # crosses a month's end: 20200131 -> 20200201
    panel = load_panel(write(tmp_path, "date,y\n" + "".join(f"{d:%Y%m%d},{i}\n" for i, d in enumerate(days))), "y", "date")
    assert panel.is_datetime and (pd.DatetimeIndex(panel.time) == days).all() and panel.freq == "D"
    assert "read the integers in 'date' as dates" in panel.notes
    months = pd.date_range("2019-06-01", periods=18, freq="MS")
    panel = load_panel(write(tmp_path, "date,y\n" + "".join(f"{d:%Y%m},{i}\n" for i, d in enumerate(months))), "y", "date")
    assert (pd.DatetimeIndex(panel.time) == months).all() and panel.freq == "MS"
    # step numbers stay numbers: evenly spaced six-digit values, and eight-digit values that are not dates
    steps = load_panel(write(tmp_path, "t,y\n" + "".join(f"{200001 + i},{i}\n" for i in range(10))), "y", "t")
    assert not steps.is_datetime and steps.time[0] == 200001
    steps = load_panel(write(tmp_path, "t,y\n" + "".join(f"{10000000 + 7 * i},{i}\n" for i in range(40))), "y", "t")
    assert not steps.is_datetime and not steps.notes


@pytest.mark.parametrize("labels, freq, first", [
    ([f"{1990 + i // 12}M{i % 12 + 1:02d}" for i in range(30)], "MS", "1990-01-01"),  # IMF, Eurostat
    ([f"{1990 + i // 12}-M{i % 12 + 1}" for i in range(30)], "MS", "1990-01-01"),
    ([f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}" for d in pd.date_range("2019-12-30", periods=60,
                                                                                freq="W-MON")],
     "W-MON", "2019-12-30"),  # ISO weeks, read as their Mondays (2020 has a week 53)
    ([f"{1990 + i // 4} Q{i % 4 + 1}" for i in range(20)], "QS-JAN", "1990-01-01"),  # spreadsheets, ABS
    ([f"Q{i % 4 + 1}-{1990 + i // 4}" for i in range(20)], "QS-JAN", "1990-01-01"),
    ([f"{1990 + i // 4}/q{i % 4 + 1}" for i in range(20)], "QS-JAN", "1990-01-01"),
])
def test_period_labels_are_dates(tmp_path: Path, labels: list[str], freq: str, first: str) -> None:
    """Statistical offices' period labels are dates (in a column the name does not give away, too); a label
    that names no month says which line."""
    panel = load_panel(write(tmp_path, "label,y\n" + "".join(f"{d},{i}\n" for i, d in enumerate(labels))))
    assert panel.is_datetime and panel.freq == freq and panel.lengths.tolist() == [len(labels)]
    assert str(pd.Timestamp(panel.time[0]).date()) == first
    with pytest.raises(LstmcastError, match=r"^time column 'period' has a period that does not exist: line 3 has "
                                            r"'1990M13'$"):
        load_panel(write(tmp_path, "period,y\n1990M12,1\n1990M13,2\n1991M01,3\n"))


def test_utc_offsets_put_times_on_one_clock(tmp_path: Path) -> None:
    """Offsets that change with summer time: hourly times go to UTC (no duplicate or missing hour), dates keep
    their local day."""
    hours = pd.date_range("2021-03-27", periods=72, freq="h", tz="Europe/Berlin")  # spring forward on the 28th
    text = "date,y\n" + "".join(f"{t.isoformat()},{i}\n" for i, t in enumerate(hours))
    panel = load_panel(write(tmp_path, text), "y", "date")
    want = hours.tz_convert("UTC").tz_localize(None)
    assert (pd.DatetimeIndex(panel.time) == want).all() and panel.freq == "h"
    assert "times in 'date' carry UTC offsets: read as UTC" in panel.notes and panel.utc
    months = pd.date_range("2020-01-01", periods=24, freq="MS", tz="Europe/Berlin")  # +01:00 and +02:00
    panel = load_panel(write(tmp_path, "date,y\n" + "".join(f"{t.isoformat()},{i}\n" for i, t in enumerate(months))),
                       "y", "date")
    assert (pd.DatetimeIndex(panel.time) == months.tz_localize(None)).all() and panel.freq == "MS"
    assert not panel.utc  # local dates, not UTC times
    # a DataFrame column with a time zone: the same two rules, and the same note for times within the day
    aware = panel_from_frame(pd.DataFrame({"ds": hours, "y": np.arange(72.0)}), "y", "ds")
    assert (pd.DatetimeIndex(aware.time) == want).all() and aware.utc
    assert "times in 'ds' carry a time zone: read as UTC" in aware.notes
    days = panel_from_frame(pd.DataFrame({"ds": months, "y": np.arange(24.0)}), "y", "ds")
    assert (days.time == panel.time).all() and not days.utc  # not shifted to 23:00 the day before
    found = load_panel(write(tmp_path, "when,y\n" + "".join(f"{t.isoformat()},{i}\n" for i, t in enumerate(months))))
    assert found.time_name == "when" and (found.time == panel.time).all()  # found without --time-column


def test_titles_padded_to_the_table_width_are_skipped(tmp_path: Path) -> None:
    """Excel pads every row to the table's width, so a title above the header ends in separators (`Sales report,`,
    `Umsatzbericht;`, a `;` line): skipped like an unpadded one, not taken for the header; a header with an empty
    name over its data (`,sales`, pandas' index) stays the header."""
    rows = "".join(f"2020-{m:02d}-01,{m}\n" for m in range(1, 13))
    panel = load_panel(write(tmp_path, "Sales report,\nmonth,sales\n" + rows))
    assert panel.target == "sales" and panel.values.tolist() == list(range(1, 13)) and panel.freq == "MS"
    assert panel.notes[0].endswith(f"skipped 1 line above the header of {tmp_path / 'd.csv'} ('Sales report')")
    panel = load_panel(write(tmp_path, "Umsatzbericht;\n;\nmonth;sales\n" + rows.replace(",", ";")))
    assert panel.values.tolist() == list(range(1, 13))
    assert "skipped 2 lines above the header of" in panel.notes[0] and "('Umsatzbericht')" in panel.notes[0]
    panel = load_panel(write(tmp_path, "Report,,\nmonth,sales\n" + rows))
    assert panel.values.tolist() == list(range(1, 13)) and "('Report')" in panel.notes[0]
    with pytest.raises(LstmcastError, match=r"^--column 'sales' is not numeric: line 5 has 'x'$"):
        load_panel(write(tmp_path, "Sales report,\n,\nmonth,sales\n2020-01-01,1\n2020-02-01,x\n"), "sales")
    panel = load_panel(write(tmp_path, ",sales\n" + "".join(f"{i},{i * 2}\n" for i in range(12))))
    assert panel.target == "sales" and panel.values.tolist() == [i * 2 for i in range(12)]
    panel = load_panel(write(tmp_path, "\n\ndate,sales\n" + rows))  # blank lines only: no title to quote
    assert panel.notes[0].endswith(f"skipped 2 lines above the header of {tmp_path / 'd.csv'}")


def test_windows_1252_files_keep_their_euro_sign(tmp_path: Path) -> None:
    """Excel's CSV in Western Europe is Windows-1252, where 0x80 is €: read so (not as Latin-1's control character
    \\x80), and Latin-1 stays for files without 0x80-0x9F or with bytes Windows-1252 lacks (0x81)."""
    months = [f"2020-{m:02d}-01" for m in range(1, 13)]
    p = tmp_path / "d.csv"
    p.write_bytes(("Datum;Umsatz (€)\n" + "".join(f"{d};{1000 + m},50 €\n" for m, d in enumerate(months)))
                  .encode("cp1252"))
    panel = load_panel(p)
    assert panel.target == "Umsatz (€)" and panel.values.tolist() == [1000.5 + m for m in range(12)]
    assert "read 'Umsatz (€)' as numbers without their '€' sign ('1000,50 €' as 1000.5)" in panel.notes
    assert f"read {p} as semicolon-separated Windows-1252 with decimal commas" in panel.notes
    p.write_bytes(b"date,caf\xe9 \x81\n" + "".join(f"{d},{m}\n" for m, d in enumerate(months)).encode())
    panel = load_panel(p)
    assert panel.target == "caf\u00e9 \x81" and f"read {p} as comma-separated Latin-1" in panel.notes


def test_parquet_index_of_dates_is_the_time_column(tmp_path: Path) -> None:
    """df.set_index('date').to_parquet() keeps the dates only in the index: read back as the column 'date' (also
    per series, from a (store, date) index), while a row counter index stays dropped."""
    days = pd.date_range("2020-01-01", periods=12, freq="MS")
    df = pd.DataFrame({"date": days, "sales": np.arange(12.0)})
    df.set_index("date").to_parquet(tmp_path / "d.parquet")
    panel = load_panel(tmp_path / "d.parquet", time_column="date")
    assert panel.is_datetime and panel.time_name == "date" and panel.freq == "MS"
    assert (pd.DatetimeIndex(panel.time) == days).all() and panel.values.tolist() == list(range(12))
    df.assign(store="a").set_index(["store", "date"]).to_parquet(tmp_path / "d.parquet")
    panel = load_panel(tmp_path / "d.parquet", id_column="store")
    assert panel.ids == ["a"] and panel.time_name == "date" and panel.freq == "MS"
    df.set_axis(np.arange(12) * 3).to_parquet(tmp_path / "d.parquet")  # unnamed row numbers, not a RangeIndex
    panel = load_panel(tmp_path / "d.parquet")
    assert panel.target == "sales" and panel.time_name == "date" and panel.values.tolist() == list(range(12))


def test_series_ids_are_read_as_written(tmp_path: Path) -> None:
    """Ids are labels: 007 stays '007' (not 7), and 1, 01 and 1.0 are three series, not one; train, predict
    (with and without --data), plot --series and backtest all name the series as the file does."""
    from typer.testing import CliRunner

    from lstmcast.cli import app

    rows = "".join(f"{s},2020-{m:02d}-01,{m + k}\n" for k, s in enumerate(("1", "01", "1.0")) for m in range(1, 13))
    panel = load_panel(write(tmp_path, "store,date,sales\n" + rows), id_column="store")
    assert panel.ids == ["01", "1", "1.0"] and panel.lengths.tolist() == [12, 12, 12]
    assert panel.values[:2].tolist() == [2.0, 3.0]  # '01', whose values start at 1 + 1
    days = pd.date_range("2020-01-01", periods=40, freq="D").strftime("%Y-%m-%d")
    rows = "".join(f"{s},{d},{k * 50 + np.sin(i / 3):.3f}\n" for k, s in enumerate(("001", "002"))
                   for i, d in enumerate(days))
    data = write(tmp_path, "store,date,sales\n" + rows)
    run = tmp_path / "run"
    tiny = ["--n-prev", "5", "--hidden", "8", "--epochs", "1", "--ensemble", "1", "--device", "cpu"]

    def invoke(*args: object) -> None:
        result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output

    invoke("train", data, "--id-column", "store", "--out", run, *tiny)
    assert pd.read_csv(run / "test_predictions.csv", dtype=str)["store"].unique().tolist() == ["001", "002"]
    invoke("predict", run, "--horizon", "2")
    assert pd.read_csv(run / "forecast.csv", dtype=str)["store"].tolist() == ["001", "001", "002", "002"]
    invoke("predict", run, "--data", data, "--horizon", "2", "--out", tmp_path / "fc.csv")
    assert pd.read_csv(tmp_path / "fc.csv", dtype=str)["store"].tolist() == ["001", "001", "002", "002"]
    invoke("plot", run, "--series", "002", "--out", tmp_path / "p.png")
    invoke("backtest", data, "--id-column", "store", "--folds", "2", "--out", tmp_path / "bt", *tiny)
    assert set(pd.read_csv(tmp_path / "bt" / "backtest.csv", dtype=str)["store"]) == {"001", "002"}


def test_decimal_commas_outside_semicolon_files(tmp_path: Path) -> None:
    """A tab-separated file, or a comma-separated one with quoted "100,50" (LibreOffice in German), whose numbers
    all have a decimal comma is read with decimal commas; "1,234" alone stays a thousands separator, and beside
    a decimal comma the error names both values and what to change."""
    p = write(tmp_path, "date\tsales\n2020-01-01\t100,50\n2020-02-01\t101\n2020-03-01\t102,25\n")
    panel = load_panel(p)
    assert panel.target == "sales" and panel.values.tolist() == [100.5, 101.0, 102.25]
    assert panel.notes[:2] == ["read 'sales' with decimal commas ('100,50' as 100.5)",
                               f"read {p} as tab-separated UTF-8"]
    panel = load_panel(write(tmp_path, 'date,sales\n2020-01-01,"100,50"\n2020-02-01,"3,14159"\n2020-03-01,"1.234,5"\n'))
    assert panel.values.tolist() == [100.5, 3.14159, 1234.5]
    assert "read 'sales' with decimal commas ('100,50' as 100.5)" in panel.notes
    panel = load_panel(write(tmp_path, 'date,sales\n2020-01-01,"1,234"\n2020-02-01,"5,678"\n'))
    assert panel.values.tolist() == [1234.0, 5678.0]
    with pytest.raises(LstmcastError, match=r"^--column 'sales' is not numeric: line 3 has '1,234', a thousands "
                                            r"separator or a decimal comma as in '1,5' on line 2; write the numbers "
                                            r"with decimal points, or with decimal commas and no thousands separators$"):
        load_panel(write(tmp_path, 'date,sales\n2020-01-01,"1,5"\n2020-02-01,"1,234"\n2020-03-01,"2,25"\n'), "sales")


def test_blank_na_and_excel_error_cells_are_missing(tmp_path: Path) -> None:
    """A cell of spaces, lowercase "na" and Excel's error cells (#DIV/0!, #VALUE!, ...) are missing values like
    "NA" and an empty cell: the missing-value error counts them and --fill fills them, with a note."""
    marks = [" ", "na", "#DIV/0!", "#VALUE!", "#REF!", "#NUM!", "#NAME?", "#NULL!"]
    p = write(tmp_path, "date,sales\n2020-01-01,1\n" + "".join(f"2020-{m + 2:02d}-01,{v}\n" for m, v in enumerate(marks))
              + "2020-10-01,10\n")
    with pytest.raises(LstmcastError, match=r"^column 'sales' has 8 missing values \(first at date=2020-02-01"):
        load_panel(p)
    panel = load_panel(p, fill="interpolate")
    assert panel.values.tolist() == [float(v) for v in range(1, 11)] and int((~panel.observed).sum()) == 8
    assert ("read ' ', '#DIV/0!', '#NAME?', '#NULL!', '#NUM!', '#REF!', '#VALUE!', 'na' in 'sales' as missing "
            "(8 values)") in panel.notes
