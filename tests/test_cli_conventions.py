"""The CLI's promises (issue 9): reproduce, choices and help, --verbose, stdin/stdout, formats by extension,
schema checks, per-series scores, file modes, and one Error line for every mistake of the issue's list."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from lstmcast.cli import app

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

runner = CliRunner()
TINY = ["--n-prev", "10", "--hidden", "8", "--epochs", "2", "--batch-size", "32", "--device", "cpu", "--ensemble", "1"]
COMMANDS = ("generate-sine", "generate-memory", "train", "predict", "plot", "backtest", "compare", "reproduce")


def invoke(*args: object, input: str | bytes | None = None) -> object:
    return runner.invoke(app, [str(a) for a in args], input=input, env={"COLUMNS": "200"})


@pytest.fixture
def run(tmp_path: Path, sine_csv: Path) -> Path:
    """A tiny trained run of the sine."""
    out = tmp_path / "run"
    result = invoke("train", sine_csv, "--out", out, *TINY, "-q")
    assert result.exit_code == 0, result.output
    return out


# reproduce

def test_reproduce_a_run_exactly(run: Path, sine_csv: Path) -> None:
    result = invoke("reproduce", run, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.output == ""
    result = invoke("reproduce", run, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == {"command": "reproduce", "run": str(run), "data": str(sine_csv.resolve()), "matches": True,
                   "checks": {"settings": [], "metrics.json": [], "test_predictions.csv": [], "history.csv": [],
                              "model.pt": []}, "notes": []}
    result = invoke("reproduce", run)
    assert result.exit_code == 0, result.output
    assert "The run reproduces exactly." in result.stdout
    assert sorted(p.name for p in run.parent.iterdir()) == ["run", "sine.csv"]  # nothing left behind


def test_reproduce_reports_what_differs_and_exits_1(run: Path) -> None:
    settings = run / "config.toml"
    settings.write_text(settings.read_text().replace("hidden = 8", "hidden = 9"))
    result = invoke("reproduce", run, "--json")
    assert result.exit_code == 1, result.output
    checks = json.loads(result.stdout)["checks"]
    assert checks["settings"] == ["hidden: 8 -> 9"]
    assert "config.hidden: 8 -> 9" in checks["metrics.json"]
    assert checks["test_predictions.csv"][0].startswith("column predicted: 16 of 16 values differ, largest difference")
    assert checks["model.pt"] == ["forecast model: 6 of 6 weight tensors differ",
                                  "evaluation model: 6 of 6 weight tensors differ"]
    result = invoke("reproduce", run)
    assert result.exit_code == 1
    assert "The run does not reproduce: 5 of 5 checks differ." in result.stdout


def test_reproduce_needs_the_same_data(run: Path, sine_csv: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved.csv"
    sine_csv.rename(moved)
    result = invoke("reproduce", run)
    assert result.exit_code == 2
    assert result.stderr == (f"Error: training data {sine_csv.resolve()} not found; pass the file the run was trained "
                             "on with --data\n")
    assert invoke("reproduce", run, "--data", moved, "-q").exit_code == 0
    moved.write_text(moved.read_text() + "160,0.5\n")
    result = invoke("reproduce", run, "--data", moved)
    assert result.stderr == (f"Error: {moved} is not the data run {run} was trained on (its sha256 differs); pass the "
                             "original file with --data\n")
    (run / "config.toml").unlink()
    result = invoke("reproduce", run)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {run / 'config.toml'} not found; reproduce retrains a run folder written by " \
                            "`lstmcast train`\n"


def test_ctrl_c_in_reproduce_exits_130_and_leaves_nothing(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    import lstmcast.cli as cli

    def ctrl_c(name: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "pause_point", ctrl_c)
    before = set(Path(tempfile.gettempdir()).glob("lstmcast-reproduce-*"))
    result = invoke("reproduce", run, "-q")
    assert result.exit_code == 130, result.output
    assert result.stderr == "Interrupted; nothing was written (the reproduction is discarded)\n"
    assert set(Path(tempfile.gettempdir()).glob("lstmcast-reproduce-*")) == before


# choices, help, completion, verbosity

@pytest.mark.parametrize("args, line", [
    (["train", "d.csv", "--out", "r", "--cell", "lstn"],
     "Error: --cell must be one of lstm, gru, rnn, peephole, cifg; got 'lstn'; did you mean 'lstm'?"),
    (["train", "d.csv", "--out", "r", "--fill", "zro"],
     "Error: --fill must be one of interpolate, ffill, zero, drop; got 'zro'; did you mean 'zero'?"),
    (["backtest", "d.csv", "--out", "r", "--retrain", "sometimes"], "Error: --retrain must be one of always, never; "
                                                                    "got 'sometimes'"),
    (["predict", "r", "--device", "gpu"], "Error: --device must be one of auto, cpu, cuda; got 'gpu'; did you mean 'cpu'?"),
    (["train", "d.csv", "--out", "r", "--quiet", "--verbose"],
     "Error: --quiet and --verbose ask for opposite things; give one of them"),
])
def test_choices_are_checked_by_the_parser(args: list[str], line: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.csv").write_text("t,y\n0,1\n1,2\n")
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stderr == line + "\n" and result.stdout == ""
    assert sorted(os.listdir(tmp_path)) == ["d.csv"]


def test_config_file_choice_is_checked_with_a_suggestion(tmp_path: Path, sine_csv: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text('cell = "gur"\n')
    result = invoke("train", sine_csv, "--out", tmp_path / "r", "--config", cfg)
    assert result.exit_code == 2
    assert result.stderr == (f"Error: config file {cfg}: cell must be one of lstm, gru, rnn, peephole, cifg; got 'gur'; "
                             "did you mean 'gru'?\n")


def test_help_has_panels_examples_and_choices() -> None:
    for cmd in COMMANDS:
        result = invoke(cmd, "--help")
        assert result.exit_code == 0, result.output
        assert "Examples:" in result.stdout and f"lstmcast {cmd} " in result.stdout, cmd
    text = invoke("train", "--help").stdout
    panels = [line.split("─")[1].strip() for line in text.splitlines() if line.startswith("╭─")]
    assert panels == ["Arguments", "Options", "Data", "Model", "Training", "Forecast", "Output"]
    assert "<lstm|gru|rnn|peephole|cifg>" in text and "<interpolate|ffill|zero|drop>" in text


def test_shell_completion_is_available(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer.completion

    result = invoke("--help")
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout
    monkeypatch.setattr(typer.completion, "_get_shell_name", lambda: "bash")  # whatever shell runs the tests
    result = runner.invoke(app, ["--show-completion"], prog_name="lstmcast")
    assert result.exit_code == 0, result.output
    assert "complete -o default -F _lstmcast_completion lstmcast" in result.stdout


def test_verbose_prints_a_line_per_epoch_on_stderr(tmp_path: Path, sine_csv: Path) -> None:
    result = invoke("train", sine_csv, "--out", tmp_path / "run", *TINY, "--verbose", "--json")
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("epoch ") and ": train" in ln]
    assert [ln.split(":")[0] for ln in lines] == ["epoch 1/2", "epoch 2/2", "epoch 1/2", "epoch 2/2"]  # eval, refit
    assert json.loads(result.stdout)["command"] == "train"  # stdout still holds the one document


# stdin, stdout and formats

def test_train_from_stdin_and_predict_to_stdout(tmp_path: Path, sine_csv: Path, run: Path) -> None:
    result = invoke("train", "-", "--out", tmp_path / "piped", *TINY, "-q", input=sine_csv.read_bytes())
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "piped" / "metrics.json").read_text())
    assert metrics["data"]["path"] == "<stdin>" and metrics["data"]["rows"] == 161
    result = invoke("predict", tmp_path / "piped")
    assert (result.exit_code, result.stderr) == (2, f"Error: run {tmp_path / 'piped'} was trained on data from stdin; "
                                                    "pass the same file with --data\n")
    assert (tmp_path / "piped" / "model.pt").read_bytes() != b""
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "piped" / "test_predictions.csv"),
                                  pd.read_csv(run / "test_predictions.csv"))  # same data, same seed, same run

    result = invoke("predict", run, "--horizon", "3", "--out", "-")
    assert result.exit_code == 0, result.output
    assert invoke("predict", run, "--horizon", "3", "-q").exit_code == 0
    assert result.stdout == (run / "forecast.csv").read_text()  # the CSV and nothing else
    assert "Note: forecasting 3 steps" in result.stderr  # the notes still reach stderr
    quiet = invoke("predict", run, "--horizon", "3", "--out", "-", "-q")
    assert quiet.stdout == result.stdout and quiet.stderr == ""
    verbose = invoke("predict", run, "--horizon", "3", "--out", "-", "-v")  # --out - is not --quiet
    assert verbose.exit_code == 0 and verbose.stdout == result.stdout
    result = invoke("predict", run, "--data", "-", "--out", "-", input=sine_csv.read_bytes())
    assert result.exit_code == 0, result.output
    assert result.stdout == (run / "test_predictions.csv").read_text()
    result = invoke("predict", run, "--out", "-", "--json")
    assert result.exit_code == 2 and result.stderr == "Error: --out - and --json both write to stdout; give one of them\n"


def test_train_from_a_pipe_records_it_as_stdin_is(tmp_path: Path, sine_csv: Path, run: Path) -> None:
    """`train <(cat data.csv)` recorded the path /proc/N/fd/pipe:[...] and the sha256 of empty input (the pipe,
    opened again to hash it, was drained), so predict and reproduce could not use the right --data later."""
    from lstmcast.reproduce import run_source

    r, w = os.pipe()
    os.write(w, sine_csv.read_bytes())
    os.close(w)
    try:
        result = invoke("train", f"/dev/fd/{r}", "--out", tmp_path / "piped", *TINY, "-q")
    finally:
        os.close(r)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "piped" / "metrics.json").read_text())["data"]
    assert data == {"path": "<pipe>", "sha256": hashlib.sha256(sine_csv.read_bytes()).hexdigest(), "rows": 161}
    for command in ("predict", "reproduce"):
        result = invoke(command, tmp_path / "piped")
        assert (result.exit_code, result.stderr) == (2, f"Error: run {tmp_path / 'piped'} was trained on data from a "
                                                        "pipe; pass the same file with --data\n")
    result = invoke("predict", tmp_path / "piped", "--data", sine_csv, "--out", tmp_path / "test.csv")
    assert result.exit_code == 0 and "differs" not in result.output, result.output
    assert (tmp_path / "test.csv").read_text() == (run / "test_predictions.csv").read_text()
    assert run_source(tmp_path / "piped", sine_csv) == sine_csv  # reproduce --data takes it, or a pipe of it
    r, w = os.pipe()
    os.write(w, sine_csv.read_bytes())
    os.close(w)
    try:
        assert run_source(tmp_path / "piped", Path(f"/dev/fd/{r}")) == Path(f"/dev/fd/{r}")
    finally:
        os.close(r)


def test_train_from_a_fifo_reads_it_once(tmp_path: Path, sine_csv: Path) -> None:
    """`mkfifo f; cat data.csv > f & lstmcast train f` trained, then hung for ever opening the FIFO again to hash
    it, holding the run's lock, with its staging folder left."""
    fifo = tmp_path / "f"
    os.mkfifo(fifo)

    def unblock() -> None:  # a writer that ends at once: the second open then read nothing instead of hanging
        with suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    threading.Thread(target=lambda: fifo.write_bytes(sine_csv.read_bytes()), daemon=True).start()
    watchdog = threading.Timer(30, unblock)
    watchdog.start()
    try:
        result = invoke("train", fifo, "--out", tmp_path / "run", *TINY, "-q")
    finally:
        watchdog.cancel()
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "run" / "metrics.json").read_text())["data"]
    assert (data["path"], data["sha256"]) == ("<pipe>", hashlib.sha256(sine_csv.read_bytes()).hexdigest())
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_a_device_is_refused_before_it_is_read(tmp_path: Path, run: Path) -> None:
    """`train /dev/zero` read without end (gigabytes) and did not stop for SIGTERM; /dev/null stands in for it here."""
    message = "Error: /dev/null is a device, not a data file\n"
    result = invoke("train", "/dev/null", "--out", tmp_path / "new", *TINY)
    assert (result.exit_code, result.stderr) == (2, message) and not (tmp_path / "new").exists()
    for more in ([], ["--horizon", "2"]):
        result = invoke("predict", run, "--data", "/dev/null", *more, "--out", tmp_path / "out.csv")
        assert (result.exit_code, result.stderr) == (2, message), more


def test_output_format_follows_the_extension(tmp_path: Path, run: Path) -> None:
    assert invoke("predict", run, "--horizon", "4", "--out", tmp_path / "fc.parquet", "-q").exit_code == 0
    assert invoke("predict", run, "--horizon", "4", "--out", tmp_path / "fc.csv", "-q").exit_code == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "fc.parquet"), pd.read_csv(tmp_path / "fc.csv"))
    assert (tmp_path / "fc.parquet").read_bytes()[:4] == b"PAR1"
    result = invoke("generate-sine", "--out", "-", "--steps-per-cycle", "4", "--cycles", "1", "--noise", "0")
    assert result.exit_code == 0 and result.stdout == "t,sin_t\n0,0.0\n1,1.0\n2,1.2246467991473532e-16\n3,-1.0\n4,-2.4492935982947064e-16\n"
    magic = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}
    for ext, head in magic.items():
        result = invoke("plot", run, "--out", tmp_path / f"p.{ext}")
        assert result.exit_code == 0, result.output
        assert (tmp_path / f"p.{ext}").read_bytes()[:len(head)] == head
    for args, line in [
        (["predict", run, "--out", tmp_path / "fc.xlsx"],
         f"Error: cannot write {tmp_path / 'fc.xlsx'}: extension '.xlsx'; tables are written as .csv, .parquet, .pq "
         "(by the file's extension)"),
        (["plot", run, "--out", tmp_path / "p.jpg"],
         f"Error: cannot write {tmp_path / 'p.jpg'}: extension '.jpg'; plots are written as .png, .svg, .pdf (by the "
         "file's extension)"),
        (["generate-sine", "--out", tmp_path / "sine"],
         f"Error: cannot write {tmp_path / 'sine'}: no extension; tables are written as .csv, .parquet, .pq (by the "
         "file's extension)"),
    ]:
        result = invoke(*args)
        assert result.exit_code == 2 and result.stderr == line + "\n"
    assert not (tmp_path / "fc.xlsx").exists() and not (tmp_path / "p.jpg").exists()


def test_semicolon_latin1_file_trains(tmp_path: Path, sine_csv: Path) -> None:
    text = sine_csv.read_text().replace(",", ";").replace(".", ",").replace("t;sin_t", "t;sin_t_\u00e9")
    data = tmp_path / "excel.csv"
    data.write_bytes(text.encode("latin-1"))
    result = invoke("train", data, "--out", tmp_path / "run", *TINY)
    assert result.exit_code == 0, result.output
    assert f"Note: read {data} as semicolon-separated Latin-1 with decimal commas" in result.stderr
    assert torch.load(tmp_path / "run" / "model.pt", weights_only=True)["data"]["target"] == "sin_t_\u00e9"


# outputs that never mislead

def test_predict_data_must_have_the_training_columns(tmp_path: Path, run: Path, daily_csv: Path) -> None:
    co2 = tmp_path / "co2.csv"
    co2.write_text("date,co2\n2020-01-01,410.1\n2020-02-01,411.0\n")
    result = invoke("predict", run, "--data", co2, "--horizon", "2")
    assert result.exit_code == 2
    assert result.stderr == (f"Error: --data {co2} does not match the model's training data: it has no value column "
                             "'sin_t' (its columns are: date, co2); pass a file shaped like the training file\n")
    dated = tmp_path / "dated.csv"
    pd.DataFrame({"t": pd.date_range("2024-01-01", periods=40).strftime("%Y-%m-%d"),
                  "sin_t": np.sin(np.arange(40))}).to_csv(dated, index=False)
    result = invoke("predict", run, "--data", dated, "--horizon", "2")
    assert result.exit_code == 2
    assert result.stderr == (f"Error: --data {dated}: the model was trained on step numbers in 't', but this file has "
                             "dates there; pass a file shaped like the training file\n")
    daily_run = tmp_path / "daily"
    assert invoke("train", daily_csv, "--out", daily_run, "--column", "sales", "--features", "temp", *TINY,
                  "-q").exit_code == 0
    no_temp = tmp_path / "no_temp.csv"
    pd.read_csv(daily_csv).drop(columns="temp").to_csv(no_temp, index=False)
    result = invoke("predict", daily_run, "--data", no_temp)
    assert result.stderr == (f"Error: --data {no_temp} does not match the model's training data: it has no feature "
                             "column 'temp' (its columns are: date, sales); pass a file shaped like the training file\n")


def test_per_series_scores_and_plot_of_one_series(tmp_path: Path, long_csv: Path) -> None:
    run = tmp_path / "run"
    result = invoke("train", long_csv, "--out", run, "--id-column", "store", *TINY, "-q")
    assert result.exit_code == 0, result.output
    m = json.loads((run / "metrics.json").read_text())
    per = m["per_series"]
    assert list(per) == ["s0", "s1", "s2"]
    preds = pd.read_csv(run / "test_predictions.csv")
    for sid, scores in per.items():
        p = preds[preds["store"] == sid]
        err = p["actual"] - p["predicted"]
        assert scores["points"] == len(p)
        assert scores["model"]["mae"] == pytest.approx(err.abs().mean())
        assert scores["model"]["rmse"] == pytest.approx(np.sqrt((err**2).mean()))
        assert set(scores) == {"points", "model", "naive", "seasonal_naive"}
    # pooled RMSE is not any one series' RMSE: the largest series dominates it
    assert m["model"]["rmse"] != pytest.approx(per["s1"]["model"]["rmse"])
    assert m["config"]["id_column"] == "store" and m["data"]["sha256"] and m["versions"]["torch"] == torch.__version__

    titles: list[str] = []
    import matplotlib.axes

    original = matplotlib.axes.Axes.set_title

    def record(self: object, label: str, *a: object, **kw: object) -> object:
        titles.append(label)
        return original(self, label, *a, **kw)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(matplotlib.axes.Axes, "set_title", record)
        result = invoke("plot", run, "--series", "s1", "--out", tmp_path / "s1.png")
    assert result.exit_code == 0, result.output
    own = per["s1"]
    assert titles[0] == (f"Test part: predicted vs actual (RMSE {own['model']['rmse']:.4g}; naive "
                         f"{own['naive']['rmse']:.4g}) — series 's1' (2 of 3)")
    result = invoke("plot", run, "--series", "s10")
    assert result.exit_code == 2
    assert result.stderr == f"Error: --series 's10' is not in run {run}; did you mean 's1'? its 3 series are: s0, s1, s2\n"
    result = invoke("plot", run, "--series", "x")
    assert result.stderr == f"Error: --series 'x' is not in run {run}; its 3 series are: s0, s1, s2\n"


def test_retrain_drops_the_previous_models_forecast(tmp_path: Path, sine_csv: Path, run: Path) -> None:
    assert invoke("predict", run, "--horizon", "3", "-q").exit_code == 0
    assert invoke("plot", run, "-q").exit_code == 0
    assert invoke("export", run, "--format", "torchscript").exit_code == 0
    (run / "notes.txt").write_text("mine")  # a file of the user's own stays
    assert (run / "forecast.csv").exists() and (run / "plot.png").exists()
    assert (run / "model.torchscript.pt").exists() and (run / "model.torchscript.pt.json").exists()
    result = invoke("train", sine_csv, "--out", run, *TINY, "-q", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in run.iterdir()) == ["config.toml", "history.csv", "metrics.json", "model.pt",
                                                     "notes.txt", "test_predictions.csv"]


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_files_follow_the_umask_and_are_synced_before_the_rename(tmp_path: Path, sine_csv: Path, mask: int,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import lstmcast.io as lio

    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(lio.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(lio.os, "replace", lambda a, b: (events.append(f"replace {Path(b).name}"), real_replace(a, b))[1])
    old = os.umask(mask)
    try:
        out = tmp_path / "s.csv"
        assert invoke("generate-sine", "--out", out, "--cycles", "2").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask
    assert events == ["fsync", "replace s.csv", "fsync"]  # data, then the name, then the folder entry


def test_only_regular_files_are_replaced(tmp_path: Path, run: Path) -> None:
    from lstmcast.errors import LstmcastError
    from lstmcast.io import atomic_path

    target = tmp_path / "elsewhere.csv"
    target.write_text("keep me\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    for path, what in [(link, "a symbolic link"), (folder, "a folder")]:
        result = invoke("predict", run, "--horizon", "2", "--out", path)
        assert result.exit_code == 2, result.output
        assert result.stderr == f"Error: {path} is {what}; lstmcast writes regular files only, so give a new file name\n"
    assert target.read_text() == "keep me\n" and link.is_symlink() and folder.is_dir()
    with pytest.raises(LstmcastError, match="^/dev/null is a device or other special file; lstmcast writes regular "
                                            "files only, so give a new file name$"):
        with atomic_path(Path("/dev/null")):
            pass


# the mistakes of issue 9's "Why" list: one line, exit 2 (130 for Ctrl-C), nothing left behind

def test_read_only_output_folder(tmp_path: Path, sine_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import tempfile

    import lstmcast.io as lio

    def read_only(*args: object, dir: str = "", **kw: object) -> str:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), dir)

    monkeypatch.setattr(lio.tempfile, "mkdtemp", read_only)
    out = tmp_path / "ro" / "run"
    result = invoke("train", sine_csv, "--out", out, *TINY)
    assert result.exit_code == 2
    assert result.stderr == (f"Error: cannot write {out}: {os.strerror(errno.EROFS)}; the file system is read-only; "
                             "choose another --out\n")
    assert not (tmp_path / "ro").exists()  # not even the parent folder the run would have made
    assert tempfile.mkdtemp is read_only  # (the patch reached the module's tempfile)


def test_impossible_sizes_are_one_error_line(tmp_path: Path, sine_csv: Path, run: Path) -> None:
    out = tmp_path / "huge"
    result = invoke("train", sine_csv, "--out", out, "--hidden", "1000000000000", "--epochs", "1", "-q")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: not enough memory for this job (it asked for ")
    assert result.stderr.endswith(" at once); lower --hidden 1000000000000\n") and result.stderr.count("\n") == 1
    assert not out.exists()
    result = invoke("predict", run, "--horizon", "10000000000000", "-q")
    assert result.exit_code == 2, result.output
    assert result.stderr.endswith("; lower --horizon 10000000000000\n") and result.stderr.count("\n") == 1
    assert not (run / "forecast.csv").exists()


def test_excel_file_is_one_error_line(tmp_path: Path) -> None:
    book = tmp_path / "sales.xlsx"
    book.write_bytes(b"PK\x03\x04\x14\x00\x06\x00xl/workbook.xml")
    result = invoke("train", book, "--out", tmp_path / "run")
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {book} is an Excel workbook; lstmcast reads CSV (comma, semicolon or tab "
                             "separated) or Parquet files: export the table as CSV and pass that\n")
    assert not (tmp_path / "run").exists()


def test_window_norm_help_tells_the_truth() -> None:
    text = " ".join(invoke("train", "--help").stdout.split())
    assert "falls back" not in text and "auto: last, except none for a one-step model" in text.replace("│ ", "")


def test_ctrl_c_in_predict_writes_nothing_and_exits_130(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lstmcast.run as lrun

    def ctrl_c(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(lrun, "forecast_future", ctrl_c)
    result = invoke("predict", run, "--horizon", "3")
    assert result.exit_code == 130
    assert result.stderr == "Interrupted; nothing was written.\n"
    assert not (run / "forecast.csv").exists()


def test_ctrl_c_after_a_file_is_written_says_so(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C after predict has renamed its forecast into place (here while the notes print) names the file
    it wrote, whole, instead of saying that nothing was written."""
    import lstmcast.cli as lcli

    def ctrl_c(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(lcli.Output, "notes", ctrl_c)
    out = tmp_path / "fc.csv"
    result = invoke("predict", run, "--horizon", "3", "--out", out)
    assert result.exit_code == 130
    assert result.stderr == f"Interrupted after writing {out}, whole; nothing else was written.\n"
    assert len(pd.read_csv(out)) == 3
    # the record is per command: the next interrupted one that wrote nothing says so
    monkeypatch.setattr(lcli, "predict_run", ctrl_c)
    result = invoke("predict", run, "--horizon", "3", "--out", tmp_path / "fc2.csv")
    assert result.stderr == "Interrupted; nothing was written.\n"


# stdout and stdin that fail: a reader gone (| head), a full disk (> /dev/full), closed (>&-, <&-)

def start_lstmcast(args: list[object], stdout: object = subprocess.PIPE, stdin: object = subprocess.DEVNULL,
                   close: int | None = None) -> subprocess.Popen[bytes]:
    """`python -m lstmcast ARGS` started with the given stdout and stdin (`close`: a file descriptor the child
    closes before it starts, 0 for `<&-`, 1 for `>&-`)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1",
           "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "lstmcast", *map(str, args)], stdin=stdin, stdout=stdout,
                            stderr=subprocess.PIPE, env=env,
                            preexec_fn=None if close is None else (lambda: os.close(close)))


def finish(proc: subprocess.Popen[bytes], input: bytes | None = None) -> tuple[int, str]:
    """A started lstmcast's exit code and stderr."""
    _, err = proc.communicate(input, timeout=120)
    return proc.returncode, err.decode()


def lstmcast_proc(args: list[object], stdout: object = subprocess.PIPE, stdin: object = subprocess.DEVNULL,
                  input: bytes | None = None, close: int | None = None) -> tuple[int, str]:
    """`python -m lstmcast ARGS` run to its end: its exit code and stderr."""
    return finish(start_lstmcast(args, stdout, stdin, close), input)


@contextlib.contextmanager
def failing_stdout(kind: str) -> Iterator[int]:
    """A stdout whose writes fail: a pipe whose reader has gone (EPIPE), or /dev/full (ENOSPC)."""
    if kind == "gone":
        read, write = os.pipe()
        os.close(read)
    else:
        if not os.path.exists("/dev/full"):
            pytest.skip("no /dev/full here")
        write = os.open("/dev/full", os.O_WRONLY)
    try:
        yield write
    finally:
        os.close(write)


@pytest.mark.parametrize("kind", ["gone", "full"])
def test_a_failing_stdout_never_throws_a_training_away(tmp_path: Path, sine_csv: Path, kind: str) -> None:
    """Tables, notes and "Run written" are for a person: when stdout fails (`| head -1`, `> /dev/full`) they stop
    and the run is written all the same (rich's own answer to a closed pipe, exit 1, discarded it)."""
    with failing_stdout(kind) as out:
        code, err = lstmcast_proc(["train", sine_csv, "--out", tmp_path / "run", *TINY], stdout=out)
    assert code == 0, err
    assert (tmp_path / "run" / "model.pt").is_file() and (tmp_path / "run" / "metrics.json").is_file()
    assert "Error" not in err and "?" not in err
    full = [ln for ln in err.splitlines() if "standard output" in ln]
    assert full == ([] if kind == "gone" else
                    ["Note: standard output failed (No space left on device); nothing more is printed there"])


PRODUCTS = {"predict --out -": ["predict", "{run}", "--horizon", "5", "--out", "-"],
            "predict --json": ["predict", "{run}", "--json"],
            "generate-sine --out -": ["generate-sine", "--out", "-"]}


@pytest.mark.parametrize("kind", ["gone", "full"])
@pytest.mark.parametrize("command", list(PRODUCTS))
def test_product_on_a_failing_stdout(run: Path, kind: str, command: str) -> None:
    """A reader that has gone (`| head -1`) took what it wanted: the command ends quietly, exit 0. A full disk is
    one Error line, exit 2 (it was `cannot use ?`)."""
    with failing_stdout(kind) as out:
        code, err = lstmcast_proc([a.format(run=run) for a in PRODUCTS[command]], stdout=out)
    if kind == "gone":
        assert (code, err) == (0, "")
    else:
        assert (code, err) == (2, "Error: cannot write to standard output: No space left on device\n")


def test_closed_stdout_or_stdin_is_one_error_line(tmp_path: Path, sine_csv: Path, run: Path) -> None:
    """`>&-` and `<&-`: Python has no sys.stdout (or sys.stdin) at all; said before any work is done."""
    procs = [start_lstmcast(["predict", run, "--horizon", "5", "--out", "-"], close=1),  # side by side
             start_lstmcast(["train", sine_csv, "--out", tmp_path / "new", *TINY, "--json"], close=1),
             start_lstmcast(["train", "-", "--out", tmp_path / "new2", *TINY], close=0)]
    assert finish(procs[0]) == (2, "Error: standard output is closed; --out - prints the table there; give --out a "
                                   "file name or redirect stdout to a file\n")
    assert finish(procs[1]) == (2, "Error: standard output is closed; --json prints its document there; leave --json "
                                   "out or redirect stdout to a file\n")
    assert not (tmp_path / "new").exists()
    assert finish(procs[2]) == (2, "Error: standard input is closed; `-` reads the data from it, so pipe a CSV in or "
                                   "give the file's name\n")


def test_an_os_error_without_a_file_name_has_no_question_mark(monkeypatch: pytest.MonkeyPatch) -> None:
    import lstmcast.cli as lcli

    def full(*args: object, **kw: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(lcli, "generate_sine", full)
    result = invoke("generate-sine", "--out", "x.csv")
    assert result.exit_code == 2
    assert result.stderr == "Error: No space left on device; free some space and rerun\n"  # was `cannot use ?: ...`


# Ctrl-C before a command starts

CTRL_C_IN_IMPORT = """
import importlib.abc, os, signal, sys
class CtrlC(importlib.abc.MetaPathFinder):  # Ctrl-C as `import torch` starts, as a person's would come
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, CtrlC())
from lstmcast.__main__ import main
assert "torch" not in sys.modules  # the entry point is in place before the heavy imports
main()
"""


def test_ctrl_c_while_the_cli_imports_is_one_line_and_130() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-c", CTRL_C_IN_IMPORT, "--version"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (130, "", "Interrupted; nothing was written.\n")
    scripts = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"lstmcast": "lstmcast.__main__:main"}  # the console script goes through it too


def test_ctrl_c_while_the_command_line_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Between the imports and a command's own handling, Typer exited 130 without a word."""
    from typer.core import TyperGroup

    def ctrl_c(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(TyperGroup, "resolve_command", ctrl_c)
    result = invoke("predict", "runs/x")
    assert (result.exit_code, result.stderr) == (130, "Interrupted; nothing was written.\n")
