"""lstmcast stream: forecasts after each value read from stdin, the same as predict's on the same data."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmcast.cli import app
from lstmcast.data import generate_sine

runner = CliRunner()
TINY = ["--n-prev", "10", "--hidden", "8", "--epochs", "2", "--batch-size", "32", "--device", "cpu", "--quiet"]


def invoke(*args: object, stdin: str | None = None) -> object:
    return runner.invoke(app, [str(a) for a in args], input=stdin, env={"COLUMNS": "200"})


@pytest.fixture
def sine_168(tmp_path: Path) -> pd.DataFrame:
    """168 points of a 20-step sine: the model sees the first 160, stream gets the last 8."""
    return generate_sine(steps_per_cycle=20, cycles=9, noise=0.05, seed=0).iloc[:168]


def test_stream_gives_predicts_one_step_forecasts(tmp_path: Path, sine_168: pd.DataFrame) -> None:
    sine_168.iloc[:160].to_csv(tmp_path / "train.csv", index=False)
    sine_168.to_csv(tmp_path / "all.csv", index=False)
    # --no-refit: the forecast model is the evaluation model, which `predict --data` scores with
    result = invoke("train", tmp_path / "train.csv", "--out", tmp_path / "run", "--no-refit", "--ensemble", "3", *TINY)
    assert result.exit_code == 0, result.output
    new = sine_168["sin_t"].iloc[160:].to_numpy()
    streamed = invoke("stream", tmp_path / "run", stdin="".join(f"{float(v)!r}\n" for v in new))
    assert streamed.exit_code == 0, streamed.output
    got = pd.read_csv(io.StringIO(streamed.output))
    assert list(got.columns) == ["t", "forecast"] and got["t"].tolist() == list(range(160, 169))
    pred = invoke("predict", tmp_path / "run", "--data", tmp_path / "all.csv", "--out", tmp_path / "p.csv")
    assert pred.exit_code == 0, pred.output
    want = pd.read_csv(tmp_path / "p.csv").set_index("t")["predicted"]
    assert want.index.max() == 167 and want.index.min() <= 160  # the hold-out covers every streamed origin
    np.testing.assert_allclose(got["forecast"].iloc[:8].to_numpy(), want.loc[160:167].to_numpy(), rtol=1e-6, atol=1e-7)


def test_stream_with_calendar_and_horizon_matches_predict_horizon(tmp_path: Path, daily_csv: Path) -> None:
    df = pd.read_csv(daily_csv)
    df.iloc[:170].to_csv(tmp_path / "train.csv", index=False)
    result = invoke("train", tmp_path / "train.csv", "--out", tmp_path / "run", "--column", "sales", "--calendar",
                    "--horizon", "3", "--ets", *TINY)  # the smoothing's state is carried from line to line
    assert result.exit_code == 0, result.output
    streamed = invoke("stream", tmp_path / "run", "--horizon", "3",
                      stdin="".join(f"{float(v)!r}\n" for v in df["sales"].iloc[170:175]))
    assert streamed.exit_code == 0, streamed.output
    got = pd.read_csv(io.StringIO(streamed.output))
    assert list(got.columns) == ["cutoff", "step", "date", "forecast"] and len(got) == 6 * 3
    assert got["cutoff"].iloc[-1] == df["date"].iloc[174] and got["date"].iloc[-1] == "2024-06-26"
    # after 5 values the forecast is predict --horizon 3 on the file that ends with them (final model, refit)
    df.iloc[:175].to_csv(tmp_path / "more.csv", index=False)
    pred = invoke("predict", tmp_path / "run", "--data", tmp_path / "more.csv", "--horizon", "3", "--out", tmp_path / "f.csv")
    assert pred.exit_code == 0, pred.output
    want = pd.read_csv(tmp_path / "f.csv")
    assert want["date"].tolist() == got["date"].iloc[-3:].tolist()
    np.testing.assert_allclose(got["forecast"].iloc[-3:].to_numpy(), want["forecast"].to_numpy(), rtol=1e-6)


@pytest.mark.parametrize(("stdin", "message", "forecasts"), [
    ("0.1\n\n0.3\n", "Error: line 2 is blank; stream reads one number per line\n", 2),
    # line 2 holds a typographic minus (U+2212), read as the CSV loader reads it
    ("0.1\n\u22120.2\nabc\n", "Error: line 3: 'abc' is not a number; stream reads one number per line\n", 3),
    ("nan\n", "Error: line 1: 'nan' is not a finite number\n", 1),
    ("0.1\n1e300\n", "Error: line 2: '1e300' is beyond ±1e+100; divide the values by a power of ten\n", 2),
])
def test_bad_line_is_one_error_naming_it(tmp_path: Path, sine_csv: Path, stdin: str, message: str,
                                         forecasts: int) -> None:
    assert invoke("train", sine_csv, "--out", tmp_path / "run", "--ensemble", "1", *TINY).exit_code == 0
    result = invoke("stream", tmp_path / "run", stdin=stdin)
    assert result.exit_code == 2
    lines = result.output.splitlines(keepends=True)
    # the forecasts printed before the bad line stay (they were flushed), then one Error line
    assert lines[0] == "t,forecast\n" and lines[-1] == message and len(lines) == 1 + forecasts + 1


def test_series_flag_on_a_single_series_model(tmp_path: Path, sine_csv: Path) -> None:
    assert invoke("train", sine_csv, "--out", tmp_path / "run", "--ensemble", "1", *TINY).exit_code == 0
    result = invoke("stream", tmp_path / "run", "--series", "zz", stdin="1\n")
    assert result.exit_code == 2 and result.output == ("Error: --series zz: this model has a single series (trained "
                                                       "without --id-column); leave --series out\n")


def test_many_series_need_series_flag(tmp_path: Path, long_csv: Path) -> None:
    result = invoke("train", long_csv, "--out", tmp_path / "run", "--id-column", "store", "--ensemble", "1", *TINY)
    assert result.exit_code == 0, result.output
    bare = invoke("stream", tmp_path / "run", stdin="1\n")
    assert bare.exit_code == 2
    assert bare.output == "Error: this model has 3 series; choose the one to stream with --series (one of s0, s1, s2)\n"
    wrong = invoke("stream", tmp_path / "run", "--series", "s9", stdin="1\n")
    assert wrong.output == "Error: series 's9' is not in this model; it knows: s0, s1, s2\n" and wrong.exit_code == 2
    ok = invoke("stream", tmp_path / "run", "--series", "s1", stdin="5.0\n5.5\n")
    assert ok.exit_code == 0, ok.output
    got = pd.read_csv(io.StringIO(ok.output))
    assert got["date"].tolist() == ["2024-03-21", "2024-03-22", "2024-03-23"]
    assert got["forecast"].between(2, 8).all()  # s1 lives around 5, not s0's 100


def test_stream_answers_each_line_before_the_next_arrives(tmp_path: Path, sine_csv: Path) -> None:
    assert invoke("train", sine_csv, "--out", tmp_path / "run", "--ensemble", "1", *TINY).exit_code == 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "lstmcast", "stream", str(tmp_path / "run")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline() == "t,forecast\n"
        assert proc.stdout.readline().startswith("161,")
        proc.stdin.write("0.5\n")
        proc.stdin.flush()  # stdin stays open: the answer must come now, not at end of input
        assert proc.stdout.readline().startswith("162,")
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0


def test_stream_carries_both_smoothings_of_a_series_without_season(tmp_path: Path) -> None:
    """A trending series with no season gets the damped trend and the Theta method beside the networks; stream
    moves both states on line by line and ends where predict --data does on the same points."""
    rng = np.random.default_rng(5)
    y = np.cumsum(rng.normal(0.3, 1.0, 160)) + 50
    df = pd.DataFrame({"t": np.arange(160), "y": y})
    df.iloc[:150].to_csv(tmp_path / "train.csv", index=False)
    result = invoke("train", tmp_path / "train.csv", "--out", tmp_path / "run", "--horizon", "3", *TINY)
    assert result.exit_code == 0, result.output
    from lstmcast.checkpoint import load_checkpoint

    prep = load_checkpoint(tmp_path / "run").fitted(split=False).prep
    assert prep.ets is not None and prep.theta is not None and prep.theta[0, 2] == pytest.approx(1 / 3)
    streamed = invoke("stream", tmp_path / "run", "--horizon", "3",
                      stdin="".join(f"{float(v)!r}\n" for v in y[150:156]))
    assert streamed.exit_code == 0, streamed.output
    got = pd.read_csv(io.StringIO(streamed.output))
    df.iloc[:156].to_csv(tmp_path / "more.csv", index=False)
    pred = invoke("predict", tmp_path / "run", "--data", tmp_path / "more.csv", "--horizon", "3",
                  "--out", tmp_path / "f.csv")
    assert pred.exit_code == 0, pred.output
    want = pd.read_csv(tmp_path / "f.csv")
    assert want["t"].tolist() == got["t"].iloc[-3:].tolist() == [156, 157, 158]
    np.testing.assert_allclose(got["forecast"].iloc[-3:].to_numpy(), want["forecast"].to_numpy(), rtol=1e-6)


def _stream_proc(run: Path, **kw: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "lstmcast", "stream", str(run)], stderr=subprocess.PIPE, env=env,
                            **kw)  # type: ignore[call-overload]


def test_reader_that_goes_away_ends_the_stream_quietly(tmp_path: Path, sine_csv: Path) -> None:
    """`tail -f readings.txt | lstmcast stream RUN | head -2`: once head has its lines, the next forecast finds
    the pipe closed and stream ends, exit 0 and nothing on stderr (it was `Internal error: BrokenPipeError`)."""
    assert invoke("train", sine_csv, "--out", tmp_path / "run", "--ensemble", "1", *TINY).exit_code == 0
    proc = _stream_proc(tmp_path / "run", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"t,forecast\n" and proc.stdout.readline().startswith(b"161,")
    proc.stdout.close()  # head -2 is done
    proc.stdin.write(b"0.5\n")
    proc.stdin.flush()
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b""


def test_full_or_closed_stdout_and_closed_stdin(tmp_path: Path, sine_csv: Path) -> None:
    assert invoke("train", sine_csv, "--out", tmp_path / "run", "--ensemble", "1", *TINY).exit_code == 0
    cases = []
    if os.path.exists("/dev/full"):  # > /dev/full: it was `cannot use ?`
        cases.append(({"stdout": open("/dev/full", "wb")},
                      "Error: cannot write to standard output: No space left on device\n"))
    cases += [  # >&- : the forecasts were lost in silence, exit 0; <&- : Internal error: TypeError
        ({"stdout": subprocess.PIPE, "preexec_fn": lambda: os.close(1)},
         "Error: standard output is closed; stream prints its forecasts there; redirect stdout to a file or a pipe\n"),
        ({"stdout": subprocess.PIPE, "preexec_fn": lambda: os.close(0)},
         "Error: standard input is closed; stream reads the series' next values from it, one per line (tail -f "
         "readings.txt | lstmcast stream RUN_DIR)\n"),
    ]
    procs = [_stream_proc(tmp_path / "run", stdin=subprocess.PIPE, **kw) for kw, _ in cases]  # side by side
    for proc, (kw, message) in zip(procs, cases):
        out, err = proc.communicate(b"0.5\n", timeout=60)
        if hasattr(kw["stdout"], "close"):
            kw["stdout"].close()
        assert (proc.returncode, err.decode()) == (2, message)
        assert not out
