"""Property-based fuzzing of the loader and the CLI (Hypothesis).

Property: a Panel with finite, time-ordered values or one LstmcastError from the loader; from the CLI, exit 0
with sane files or exit 2 with one `Error:` line and no folder left behind; never a traceback, never exit 1.
The example counts are small and fixed (derandomized) so the suite stays fast and CI stable; set
LSTMCAST_FUZZ_EXAMPLES=500 for a longer, random run (failures are then kept in .hypothesis/ to replay).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lstmcast.checkpoint import load_checkpoint
from lstmcast.cli import app
from lstmcast.data import load_panel
from lstmcast.errors import LstmcastError

LONG_RUN = int(os.environ.get("LSTMCAST_FUZZ_EXAMPLES", "0"))
runner = CliRunner()
TINY = ["--hidden", "4", "--ensemble", "1", "--epochs", "1", "--device", "cpu", "--samples", "20"]


def fuzz(examples: int) -> Any:
    """Hypothesis settings: `examples` fixed examples by default, LSTMCAST_FUZZ_EXAMPLES random ones on request."""
    return settings(max_examples=LONG_RUN or examples, deadline=None, derandomize=not LONG_RUN,
                    database=settings.default.database if LONG_RUN else None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


def invoke(*args: object) -> Any:
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def assert_panel_is_sane(panel: Any) -> None:
    """What the rest of lstmcast relies on after loading."""
    assert np.isfinite(panel.values).all() and np.all(np.abs(panel.values) <= 1e100)
    assert panel.starts[0] == 0 and panel.starts[-1] == len(panel.values) == len(panel.time)
    assert np.all(np.diff(panel.starts) >= 1) and len(panel.ids) == len(panel.starts) - 1
    for a, b in zip(panel.starts[:-1], panel.starts[1:]):
        assert np.all(np.diff(panel.time[a:b]) > np.zeros(1, dtype=np.diff(panel.time[a:b]).dtype))
    assert panel.covariates.shape == (len(panel.values), len(panel.feature_names))
    assert np.isfinite(panel.covariates).all()


def load_or_refuse(text: str | bytes, **kw: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        try:
            panel = load_panel(path, **kw)
        except LstmcastError as e:
            assert str(e) and "\n" not in str(e).strip()
            return
        assert_panel_is_sane(panel)


# ----- the loader -----------------------------------------------------------------------------------------------

@fuzz(60)
@given(st.binary(max_size=400))
def test_loader_random_bytes(data: bytes) -> None:
    load_or_refuse(data)


NAMES = st.sampled_from(["t", "date", "y", "value", "id", "x", "", " y", "t"])
CELL = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([1e30, -1e30, 1e300, 5e-324, 0.0, -0.0, 1e100, 1.5e100]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(alphabet="0123456789.-eE abc,\"'\n", max_size=6),
    st.dates().map(str),
    st.datetimes().map(str),
    st.just(""), st.just("NaN"), st.just("inf"), st.just("2024-02-30"),
)


@st.composite
def csv_tables(draw: st.DrawFn) -> str:
    names = draw(st.lists(NAMES, min_size=1, max_size=4))
    rows = draw(st.lists(st.lists(CELL, min_size=len(names), max_size=len(names)), max_size=30))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(names)
    writer.writerows(rows)
    return buf.getvalue()


@fuzz(80)
@given(csv_tables(), st.sampled_from([None, "y", "value", "x"]), st.sampled_from([None, "t", "date"]),
       st.sampled_from([None, "id"]), st.sampled_from([None, "interpolate", "ffill", "zero", "drop"]))
def test_loader_random_csv_shapes(text: str, column: str | None, time_column: str | None, id_column: str | None,
                                  fill: str | None) -> None:
    load_or_refuse(text, column=column, time_column=time_column, id_column=id_column, fill=fill)


# ----- the CLI --------------------------------------------------------------------------------------------------

VALUE = st.one_of(st.floats(-1e3, 1e3), st.sampled_from([math.nan, math.inf, 1e30, -1e30, 1e101, 0.0, 1e-30]))


@st.composite
def series_files(draw: st.DrawFn) -> str:
    """A t,y series: tiny to short, with NaN/inf/extremes, duplicate and unsorted times, constant stretches."""
    n = draw(st.integers(0, 70))
    base = draw(st.sampled_from(["sine", "constant", "random"]))
    t = np.arange(n)
    y = {"sine": np.sin(t / 3.0), "constant": np.full(n, 2.0),
         "random": np.array(draw(st.lists(st.floats(-10, 10), min_size=n, max_size=n)))}[base]
    y = y * draw(st.sampled_from([1.0, 1e-30, 1e30, 1e99]))
    times: list[Any] = t.tolist()
    values: list[Any] = y.tolist()
    for _ in range(draw(st.integers(0, 3)) if n else 0):
        i = draw(st.integers(0, n - 1))
        kind = draw(st.sampled_from(["value", "dup", "swap", "text"]))
        if kind == "value":
            values[i] = draw(VALUE)
        elif kind == "dup":
            times[i] = times[max(0, i - 1)]
        elif kind == "swap":
            j = draw(st.integers(0, n - 1))
            times[i], times[j] = times[j], times[i]
        else:
            values[i] = draw(st.sampled_from(["", "abc", "1,5"]))
    if draw(st.booleans()):
        times = [str(pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(v))) for v in times]
    return pd.DataFrame({"t": times, "y": values}).to_csv(index=False)


def check_cli(result: Any, out: Path) -> None:
    """Exit 0 with a sane run folder, or exit 2 with one Error line and nothing written."""
    event(f"exit {result.exit_code}")
    assert "Traceback" not in result.output and result.exit_code != 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code == 2:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        if lines and lines[-1].startswith("Error: "):
            assert len([x for x in lines if x.startswith("Error: ")]) == 1, result.stderr
        else:  # Typer's own usage panel for a value it cannot parse (multi-line; issue 9)
            assert "Usage:" in result.stderr or "Invalid value" in result.stderr, result.stderr
        assert not out.exists() and [p.name for p in out.parent.iterdir() if p.name.startswith(".run.")] == []
        return
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text(), parse_constant=lambda c: 1 / 0)  # strict JSON
    ckpt = load_checkpoint(out)
    history = pd.read_csv(out / "history.csv")
    assert len(history) == metrics["epochs_run"] == len(ckpt.payload["history"])
    if metrics["holdout"]:
        assert len(pd.read_csv(out / "test_predictions.csv")) == metrics["test_points"]
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".run.")) == []


@fuzz(8)
@given(series_files())
def test_cli_train_on_random_series(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "d.csv", Path(tmp) / "run"
        data.write_text(text)
        check_cli(invoke("train", data, "--out", out, *TINY, "--fill", "interpolate"), out)


def ints(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.one_of(st.integers(lo, hi).map(str), st.sampled_from(["abc", "1.5", ""]))


def floats(*special: float) -> st.SearchStrategy[str]:
    return st.one_of(st.floats(-2, 2).map(repr), st.sampled_from([*map(repr, special), "nan", "inf", "-inf", "x"]))


FLAGS: dict[str, st.SearchStrategy[str]] = {
    "--n-prev": st.one_of(ints(-2, 120), st.just("auto")),
    "--horizon": ints(-1, 30),
    "--epochs": ints(-1, 2),
    "--hidden": ints(-1, 6),
    "--layers": ints(0, 2),
    "--ensemble": ints(-1, 2),
    "--batch-size": ints(-1, 200),
    "--lr": floats(1e-3, 1e10, 0.0),
    "--test-size": floats(0.0, 0.5, 1.0),
    "--val-size": floats(0.0, 0.9),
    "--dropout": floats(0.0, 0.99),
    "--loss": st.sampled_from(["mse", "mae", "huber", "quantile", "gaussian", "bogus"]),
    "--quantiles": st.sampled_from(["0.1,0.5,0.9", "0.5", "1.5", "a,b", ""]),
    "--scaler": st.sampled_from(["standard", "minmax", "none", "zz"]),
    "--cell": st.sampled_from(["lstm", "gru", "rnn", "peephole", "cifg", "tcn"]),
    "--strategy": st.sampled_from(["direct", "recursive", "sideways"]),
    "--season-length": ints(-1, 40),
    "--samples": ints(-1, 30),
}


@fuzz(10)
@given(st.dictionaries(st.sampled_from(sorted(FLAGS)), st.just(""), max_size=5).flatmap(
    lambda keys: st.fixed_dictionaries({k: FLAGS[k] for k in keys})))
def test_cli_train_with_random_flags(flags: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "d.csv", Path(tmp) / "run"
        t = np.arange(90)
        pd.DataFrame({"t": t, "y": np.sin(t / 2.0) + 0.1 * np.cos(t)}).to_csv(data, index=False)
        args = [*TINY]
        for k, v in flags.items():
            if k in args:
                args[args.index(k) + 1] = v
            else:
                args += [k, v]
        check_cli(invoke("train", data, "--out", out, *args), out)
