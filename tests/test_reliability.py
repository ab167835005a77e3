"""Nothing lost, nothing corrupted: run folders replaced whole, one writer at a time, write errors as one
line, kill -9 at named points, a loss that turns NaN, extreme values."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import lstmcast.io as lio
from lstmcast.checkpoint import load_checkpoint
from lstmcast.cli import app
from lstmcast.errors import LstmcastError
from lstmcast.forecast import forecast_future
from lstmcast.run import train_run
from tests.conftest import tiny_config

runner = CliRunner()
TINY = ["--n-prev", "10", "--hidden", "4", "--ensemble", "1", "--batch-size", "32", "--device", "cpu"]
RUN_FILES = {"model.pt", "history.csv", "metrics.json", "test_predictions.csv"}
ROOT = Path(__file__).resolve().parents[1]


def invoke(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def snapshot(folder: Path) -> dict[str, bytes] | None:
    """Every file of a folder with its bytes; None when there is no folder."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else None


def leftovers(folder: Path) -> list[str]:
    """Staging folders, set-aside runs and lock files beside `folder`."""
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


def assert_complete(folder: Path, epochs: int) -> None:
    """All four files, from one and the same run, and the checkpoint forecasts."""
    assert RUN_FILES <= {p.name for p in folder.iterdir()}
    ckpt = load_checkpoint(folder)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["epochs_run"] == ckpt.metrics["epochs_run"] == epochs
    assert len(pd.read_csv(folder / "history.csv")) == len(ckpt.payload["history"]) == epochs
    assert len(pd.read_csv(folder / "test_predictions.csv")) == metrics["test_points"]
    assert np.isfinite(forecast_future(ckpt.fitted(), 3)[1]).all()


def error_lines(result: object) -> list[str]:
    """stderr's non-blank lines."""
    return [line for line in result.stderr.splitlines() if line.strip()]  # type: ignore[attr-defined]


@pytest.fixture
def old_run(tmp_path: Path, sine_csv: Path) -> Path:
    """A complete one-epoch run folder with a file of the user's beside it."""
    run = tmp_path / "run"
    result = invoke("train", sine_csv, "--out", run, *TINY, "--epochs", "1")
    assert result.exit_code == 0, result.output
    (run / "notes.txt").write_text("mine\n")
    return run


def test_new_run_replaces_old_whole_and_keeps_other_files(old_run: Path, sine_csv: Path) -> None:
    before = snapshot(old_run)
    result = invoke("train", sine_csv, "--out", old_run, *TINY, "--epochs", "2", "--test-size", "0")
    assert result.exit_code == 0, result.output
    assert_files = {p.name for p in old_run.iterdir()}
    # no hold-out: the old run's test_predictions.csv must not pass for this run's; the user's file stays
    assert assert_files == {"model.pt", "history.csv", "metrics.json", "config.toml", "notes.txt"}
    assert (old_run / "notes.txt").read_bytes() == before["notes.txt"]
    assert leftovers(old_run) == []


@pytest.mark.parametrize("bad", [["--column", "nope"], ["--n-prev", "500"], ["--lr", "1e30", "--scaler", "none"]])
def test_failed_run_leaves_the_old_run_as_it_was(old_run: Path, sine_csv: Path, bad: list[str]) -> None:
    before = snapshot(old_run)
    result = invoke("train", sine_csv, "--out", old_run, *TINY, "--epochs", "1", *bad)
    assert result.exit_code == 2, result.output
    assert len(error_lines(result)) == 1 and error_lines(result)[0].startswith("Error: "), result.output
    assert snapshot(old_run) == before and leftovers(old_run) == []


def test_failed_run_leaves_no_folder_and_no_parents(tmp_path: Path, sine_csv: Path) -> None:
    out = tmp_path / "a" / "b" / "run"
    result = invoke("train", sine_csv, "--out", out, *TINY, "--column", "nope")
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "a").exists()


def enospc(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["csv", "fsync", "commit"])
def test_full_disk_is_one_line_and_leaves_the_old_run(old_run: Path, sine_csv: Path, where: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(old_run)
    if where == "csv":  # history.csv is written after model.pt: the staged model.pt must not survive
        monkeypatch.setattr(pd.DataFrame, "to_csv", enospc)
    elif where == "fsync":
        monkeypatch.setattr(lio.os, "fsync", enospc)
    else:  # every file staged, the swap itself fails
        monkeypatch.setattr(lio, "_exchange", enospc)
    result = invoke("train", sine_csv, "--out", old_run, *TINY, "--epochs", "1")
    assert result.exit_code == 2, result.output
    last = error_lines(result)[-1]
    assert last.startswith("Error: cannot write ") and last.endswith("No space left on device; free some space and rerun")
    assert ".tmp-" not in last  # names the user's path, not the staging copy
    if where == "csv":
        assert f"{old_run}/history.csv" in last
    monkeypatch.undo()
    assert snapshot(old_run) == before and leftovers(old_run) == []


def test_permission_denied_is_one_line(tmp_path: Path, sine_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path))

    monkeypatch.setattr(lio.tempfile, "mkdtemp", denied)  # the parent folder refuses the staging folder
    result = invoke("train", sine_csv, "--out", tmp_path / "run", *TINY, "--epochs", "1")
    assert result.exit_code == 2, result.output
    assert error_lines(result) == [f"Error: cannot write {tmp_path / 'run'}: Permission denied; check the folder's "
                                   "permissions or choose another --out"]
    monkeypatch.undo()
    assert not (tmp_path / "run").exists() and leftovers(tmp_path / "run") == []
    # the same for a single-file command, and for an OSError that reaches the CLI from elsewhere
    monkeypatch.setattr(pd.DataFrame, "to_csv", denied)
    result = invoke("generate-sine", "--out", tmp_path / "s.csv")
    assert result.exit_code == 2 and error_lines(result)[-1].startswith(f"Error: cannot write {tmp_path / 's.csv'}: "
                                                                        "Permission denied")
    assert list(tmp_path.glob(".s.csv*")) == [] and not (tmp_path / "s.csv").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_is_one_line(tmp_path: Path, sine_csv: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        result = invoke("train", sine_csv, "--out", parent / "run", *TINY, "--epochs", "1")
    finally:
        parent.chmod(0o755)
    assert result.exit_code == 2 and "Permission denied" in error_lines(result)[-1], result.output
    assert list(parent.iterdir()) == []


def test_refuses_a_folder_it_cannot_replace_whole(tmp_path: Path, sine_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "proj" / ".git").mkdir(parents=True)
    result = invoke("train", sine_csv, "--out", tmp_path / "proj", *TINY, "--epochs", "1")
    assert result.exit_code == 2 and "holds folders (.git)" in result.output, result.output
    monkeypatch.chdir(tmp_path / "proj" / ".git")
    result = invoke("train", sine_csv, "--out", tmp_path / "proj", *TINY, "--epochs", "1")
    assert result.exit_code == 2 and "is the current folder or holds it" in result.output, result.output


def test_killed_swap_is_restored_by_the_next_writer(old_run: Path, sine_csv: Path) -> None:
    before = snapshot(old_run)
    aside = old_run.parent / f".{old_run.name}.old-1-1"
    old_run.rename(aside)  # what a kill between the two renames of the fallback swap leaves
    (old_run.parent / f".{old_run.name}.tmp-x").mkdir()  # and a killed run's staging folder
    result = invoke("train", sine_csv, "--out", old_run, *TINY, "--column", "nope")
    assert result.exit_code == 2
    assert snapshot(old_run) == before and leftovers(old_run) == []


# ----- subprocesses: a second writer, and kill -9 at named points --------------------------------------------

SCRIPT = ("import sys, lstmcast.io as io\n"
          "if sys.argv[1] == 'no-exchange': io._exchange = lambda a, b: False  # the two-rename fallback\n"
          "del sys.argv[1]\n"
          "from lstmcast.cli import app\n"
          "app(prog_name='lstmcast')\n")


def start(args: list[object], pause: str, flag: Path, exchange: bool = True) -> subprocess.Popen[bytes]:
    """`lstmcast ARGS` in a subprocess that stops at the named point; returns once it is there."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "LSTMCAST_PAUSE_AT": pause,
           "LSTMCAST_PAUSE_FILE": str(flag), "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, "exchange" if exchange else "no-exchange",
                             *map(str, args)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not flag.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"never reached {pause}: {proc.communicate()[0].decode()[-2000:]}")
        time.sleep(0.05)
    return proc


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_second_writer_fails_at_once(tmp_path: Path, old_run: Path, sine_csv: Path) -> None:
    run = old_run
    before = snapshot(run)
    proc = start(["train", sine_csv, "--out", run, *TINY, "--epochs", "3"], "train:epoch", tmp_path / "flag")
    try:
        t0 = time.monotonic()
        result = invoke("train", sine_csv, "--out", run, *TINY, "--epochs", "1")
        assert time.monotonic() - t0 < 30  # at once: the first writer is paused for good, so waiting would hang
        assert result.exit_code == 2
        assert error_lines(result) == [f"Error: another lstmcast process (pid {proc.pid}) is writing {run}; wait for "
                                       "it to finish or choose another --out"]
        result = invoke("backtest", sine_csv, "--out", run, *TINY, "--epochs", "1")
        assert result.exit_code == 2 and "another lstmcast process" in result.stderr
        result = invoke("predict", run, "--horizon", "3")  # a file into the folder being replaced: refused too
        assert result.exit_code == 2 and "another lstmcast process" in result.stderr
        result = invoke("predict", run, "--horizon", "3", "--out", tmp_path / "f.csv")  # reading is fine
        assert result.exit_code == 0, result.output
    finally:
        kill(proc)
    assert snapshot(run) == before
    # the kernel dropped the dead writer's lock: the next writer goes ahead and clears its staging folder
    result = invoke("train", sine_csv, "--out", run, *TINY, "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert_complete(run, 1)
    assert leftovers(run) == []


@pytest.mark.parametrize("pause,exchange,expect", [
    ("train:epoch", True, "old"),
    ("write:model.pt", True, "old"),
    ("write:history.csv", True, "old"),
    ("commit:synced", True, "old"),
    ("commit:swapped", True, "new"),
    ("commit:between", False, "aside"),
])
def test_kill_leaves_the_old_run_or_the_new_one(tmp_path: Path, old_run: Path, sine_csv: Path, pause: str,
                                                exchange: bool, expect: str) -> None:
    before = snapshot(old_run)
    proc = start(["train", sine_csv, "--out", old_run, *TINY, "--epochs", "2"], pause, tmp_path / "flag", exchange)
    kill(proc)
    if expect == "old":
        assert snapshot(old_run) == before
        assert_complete(old_run, 1)
    elif expect == "new":
        assert_complete(old_run, 2)
        assert (old_run / "notes.txt").read_text() == "mine\n"
    else:  # the fallback's one unsafe instant: the old run is whole under another name until the next writer
        assert not old_run.exists()
        aside = [p for p in old_run.parent.iterdir() if p.name.startswith(f".{old_run.name}.old-")]
        assert len(aside) == 1 and snapshot(aside[0]) == before
    result = invoke("train", sine_csv, "--out", old_run, *TINY, "--epochs", "3")
    assert result.exit_code == 0, result.output
    assert_complete(old_run, 3)
    assert (old_run / "notes.txt").read_text() == "mine\n" and leftovers(old_run) == []


def test_kill_during_a_first_run_leaves_no_folder(tmp_path: Path, sine_csv: Path) -> None:
    run = tmp_path / "run"
    kill(start(["train", sine_csv, "--out", run, *TINY, "--epochs", "1"], "write:metrics.json", tmp_path / "flag"))
    assert not run.exists()  # only a hidden staging folder, which the next writer removes
    result = invoke("train", sine_csv, "--out", run, *TINY, "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert_complete(run, 1)
    assert leftovers(run) == []


def terminate(proc: subprocess.Popen[bytes]) -> str:
    """SIGTERM, as a scheduler or `kill` sends it; the process's last output line."""
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 128 + signal.SIGTERM, out[-2000:]
    return out.strip().splitlines()[-1]


@pytest.mark.parametrize("pause", ["train:epoch", "write:model.pt", "commit:synced"])
def test_sigterm_unwinds_and_keeps_the_old_run(tmp_path: Path, old_run: Path, sine_csv: Path, pause: str) -> None:
    before = snapshot(old_run)
    proc = start(["train", sine_csv, "--out", old_run, *TINY, "--epochs", "2"], pause, tmp_path / "flag")
    assert terminate(proc) == "Terminated; nothing was left half-written."
    assert snapshot(old_run) == before
    assert leftovers(old_run) == []  # unlike kill -9, no staging folder is left for the next writer to clear


def test_sigterm_during_a_first_run_leaves_nothing(tmp_path: Path, sine_csv: Path) -> None:
    run = tmp_path / "sub" / "run"
    proc = start(["train", sine_csv, "--out", run, *TINY, "--epochs", "1"], "write:metrics.json", tmp_path / "flag")
    assert terminate(proc) == "Terminated; nothing was left half-written."
    assert not (tmp_path / "sub").exists()


def test_sigterm_waits_for_the_swap(tmp_path: Path, old_run: Path, sine_csv: Path) -> None:
    """Between the fallback swap's two renames SIGTERM is held back: the process goes on (here it stays paused
    there, so kill -9 ends it and the old run is whole under its aside name, as after any kill there)."""
    proc = start(["train", sine_csv, "--out", old_run, *TINY, "--epochs", "2"], "commit:between", tmp_path / "flag",
                 exchange=False)
    proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    assert proc.poll() is None
    kill(proc)
    assert [p.name.split("-")[0] for p in old_run.parent.iterdir() if p.name.startswith(".run.old")] == [".run.old"]


def test_kill_during_backtest_keeps_the_train_run(tmp_path: Path, old_run: Path, sine_csv: Path) -> None:
    before = snapshot(old_run)
    kill(start(["backtest", sine_csv, "--out", old_run, *TINY, "--epochs", "1", "--folds", "2"], "backtest:fold",
               tmp_path / "flag"))
    assert snapshot(old_run) == before
    result = invoke("backtest", sine_csv, "--out", old_run, *TINY, "--epochs", "1", "--folds", "2")
    assert result.exit_code == 0, result.output
    assert {p.name for p in old_run.iterdir()} == set(before) | {"backtest.csv", "backtest.json", "backtest.png",
                                                               "backtest.toml"}
    assert all((old_run / name).read_bytes() == data for name, data in before.items())


# ----- numerical faults ---------------------------------------------------------------------------------------

def test_loss_turning_nan_keeps_the_last_good_epoch(tmp_path: Path, sine_csv: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from lstmcast import losses

    cls = type(losses.make_loss("mse", []))
    real = cls.__call__
    calls = [0]

    def flaky(self: object, params: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():  # training batches only, not the validation pass
            calls[0] += 1
        out = real(self, params, y)
        return out * float("nan") if calls[0] > 8 else out  # 4 batches an epoch: NaN from epoch 3 on

    monkeypatch.setattr(cls, "__call__", flaky)
    result = train_run(sine_csv, tiny_config(epochs=5, refit=False, val_size=0.05), tmp_path / "run")
    assert result.metrics["epochs_run"] == 2 and result.metrics["best_epoch"] in (1, 2)
    assert any(n.startswith("training loss became nan at epoch 3; try a smaller --lr (now 0.01); stopped and kept "
                            "the weights of epoch") for n in result.notes), result.notes
    ckpt = load_checkpoint(tmp_path / "run")
    assert all(torch.isfinite(v).all() for v in ckpt.payload["model"].values())
    assert np.isfinite(forecast_future(ckpt.fitted(), 3)[1]).all()


def test_loss_turning_nan_in_the_final_refit_is_reported(tmp_path: Path, sine_csv: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The refit stage's notes reach the user too: a NaN there is said, not swallowed."""
    import torch

    from lstmcast import losses, run

    cls = type(losses.make_loss("mse", []))
    real, real_refit = cls.__call__, run.refit
    state = {"refit": False, "epochs": 0}

    def flaky(self: object, params: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = real(self, params, y)
        return out * float("nan") if torch.is_grad_enabled() and state["epochs"] >= 1 else out

    def flagged(*args: object, **kwargs: object) -> object:
        state["refit"] = True
        return real_refit(*args, **kwargs)

    def on_epoch(e: object) -> None:
        state["epochs"] += state["refit"]

    monkeypatch.setattr(cls, "__call__", flaky)
    monkeypatch.setattr(run, "refit", flagged)
    result = train_run(sine_csv, tiny_config(epochs=3, val_size=0.0), tmp_path / "run", on_epoch=on_epoch)
    assert result.metrics["final_model"]["refit"] and result.metrics["final_model"]["epochs"] == 1
    assert any(n.startswith("training loss became nan at epoch 2") for n in result.notes), result.notes


@pytest.mark.parametrize("values", ["huge", "constant_train", "constant", "beyond"])
def test_extreme_values_train_or_are_refused_clearly(tmp_path: Path, values: str) -> None:
    t = np.arange(120)
    y = {"huge": 1e30 * np.sin(t / 3), "constant_train": np.r_[np.full(100, 5.0), np.sin(t[:20])],
         "constant": np.full(120, 5.0), "beyond": 1e200 * np.sin(t / 3)}[values]
    path = tmp_path / "x.csv"
    pd.DataFrame({"t": t, "y": y}).to_csv(path, index=False)
    result = invoke("train", path, "--out", tmp_path / "run", *TINY, "--epochs", "1")
    if values == "beyond":
        assert result.exit_code == 2
        assert error_lines(result) == ["Error: column 'y' has values beyond ±1e+100 (first at t=1: 3.27195e+199); "
                                       "divide the column by a power of ten"]
        assert not (tmp_path / "run").exists()
        return
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["model"]["mae"] is not None and np.isfinite(metrics["model"]["mae"])
    preds = pd.read_csv(tmp_path / "run" / "test_predictions.csv")
    assert np.isfinite(preds["predicted"]).all()


def test_api_error_inside_the_run_names_the_users_path(tmp_path: Path, sine_csv: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pd.DataFrame, "to_csv", enospc)
    with pytest.raises(LstmcastError, match=r"cannot write .*/run/history\.csv: No space left"):
        train_run(sine_csv, tiny_config(epochs=1), tmp_path / "run")
    assert list(tmp_path.iterdir()) == [sine_csv]


def test_full_disk_at_the_lock_names_the_lock_file(tmp_path: Path, sine_csv: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing the pid into .DIR.lock on a full disk: the error names that file, not `?`, and leaves nothing."""
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        if data == f"{os.getpid()}\n".encode():
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    run = tmp_path / "run"
    result = invoke("train", sine_csv, "--out", run, *TINY, "--epochs", "1")
    assert result.exit_code == 2
    assert error_lines(result) == [f"Error: cannot write {tmp_path / '.run.lock'}: No space left on device; free some "
                                   "space and rerun"]
    assert not run.exists() and leftovers(run) == []


@pytest.mark.parametrize("exchange", [True, False])
def test_ctrl_c_during_the_swap_waits_for_it(old_run: Path, sine_csv: Path, monkeypatch: pytest.MonkeyPatch,
                                              exchange: bool) -> None:
    """Ctrl-C right after the exchange, or between the fallback's two renames, is held back as SIGTERM is: the swap
    completes (DIR is never left absent with the old run aside), and the message says DIR holds the new run
    instead of "nothing was written"."""
    def ctrl_c(name: str) -> None:
        if name in ("commit:swapped", "commit:between"):
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(lio, "pause_point", ctrl_c)
    if not exchange:
        monkeypatch.setattr(lio, "_exchange", lambda a, b: False)
    result = invoke("train", sine_csv, "--out", old_run, *TINY, "--epochs", "2")
    assert result.exit_code == 130, result.output
    assert error_lines(result)[-1] == f"Interrupted after the new run was written: {old_run} holds it, whole"
    assert_complete(old_run, 2)
    assert (old_run / "notes.txt").read_text() == "mine\n" and leftovers(old_run) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_reproduce_reports_a_deleted_or_broken_run_file(old_run: Path) -> None:
    """metrics.json deleted, or edited into invalid JSON, and a history.csv emptied: each is a difference named in
    its check (exit 1), as a missing history.csv is, not a FileNotFoundError or JSONDecodeError."""
    def checks() -> dict[str, list[str]]:
        result = invoke("reproduce", old_run, "--json")
        assert result.exit_code == 1, result.output
        return json.loads(result.stdout)["checks"]

    (old_run / "metrics.json").unlink()
    assert checks()["metrics.json"] == ["metrics.json missing from the original run"]
    (old_run / "metrics.json").write_text("{not json")
    assert checks()["metrics.json"] == ["metrics.json in the original run is unreadable (Expecting property name "
                                        "enclosed in double quotes: line 1 column 2 (char 1))"]
    (old_run / "history.csv").write_text("")
    assert checks()["history.csv"] == ["history.csv in the original run is unreadable (No columns to parse from file)"]


def test_a_reader_never_writes_an_old_models_output_into_a_new_run(old_run: Path, sine_csv: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """predict, plot and export read model.pt before they lock the folder to write into it: a train that swapped a
    new run in meanwhile left the old model's forecast (or export, the file people deploy) in the new run."""
    import lstmcast.run as lrun

    new = tmp_path / "new"
    assert invoke("train", sine_csv, "--out", new, *TINY, "--epochs", "2").exit_code == 0
    real = lrun.forecast_future

    def swap_then_forecast(*args: object, **kw: object) -> object:
        os.replace(new / "model.pt", old_run / "model.pt")  # a train replacing the run while predict computes
        return real(*args, **kw)

    monkeypatch.setattr(lrun, "forecast_future", swap_then_forecast)
    result = invoke("predict", old_run, "--horizon", "3")
    assert result.exit_code == 2
    assert error_lines(result) == [f"Error: {old_run} was replaced by another run while this command read its model; "
                                   "nothing was written; rerun the command for the new run"]
    assert not (old_run / "forecast.csv").exists()
    monkeypatch.setattr(lrun, "forecast_future", real)  # elsewhere than the run folder, the old model's forecast is fine
    assert invoke("predict", old_run, "--horizon", "3", "--out", tmp_path / "fc.csv").exit_code == 0


@pytest.mark.parametrize("where, message", [
    ("{data}", "--out {data} is the --data file; choose another file (nothing was written)"),
    ("{sine}", "--out {sine} is the run's training data; choose another file (nothing was written)"),
    ("{run}/history.csv", "--out {run}/history.csv is the run's own history.csv; choose another file (nothing was "
                          "written)"),
    ("{run}/test_predictions.csv", "--out {run}/test_predictions.csv is the run's own test_predictions.csv; choose "
                                   "another file (nothing was written)"),
])
def test_predict_never_writes_over_its_inputs(old_run: Path, sine_csv: Path, tmp_path: Path, where: str,
                                               message: str) -> None:
    """`predict --data d.csv --out d.csv` replaced the user's data with the forecast's 4 rows; so did an --out naming
    the run's training file, and the run's own files were overwritten (reproduce and plot broke)."""
    data = tmp_path / "d.csv"
    data.write_bytes(sine_csv.read_bytes())
    names = {"data": data, "sine": sine_csv, "run": old_run}
    before = {p: p.read_bytes() for p in (data, sine_csv, old_run / "history.csv", old_run / "test_predictions.csv")}
    result = invoke("predict", old_run, "--data", data, "--horizon", "3", "--out", where.format(**names))
    assert result.exit_code == 2 and error_lines(result) == [f"Error: {message.format(**names)}"]
    assert {p: p.read_bytes() for p in before} == before


def test_a_planted_lock_link_is_not_followed(old_run: Path, tmp_path: Path) -> None:
    """The lock file was opened through a symbolic link, truncating its target to our pid."""
    precious = tmp_path / "precious.txt"
    precious.write_text("precious data\n")
    (tmp_path / ".run.lock").symlink_to(precious)
    result = invoke("predict", old_run, "--horizon", "2", "--out", old_run / "fc.csv")
    assert result.exit_code == 2 and error_lines(result) == [
        f"Error: the lock file {tmp_path / '.run.lock'} is a symbolic link; remove it (lstmcast makes its own) and rerun"]
    assert precious.read_text() == "precious data\n" and not (old_run / "fc.csv").exists()


def test_export_checks_both_files_before_writing_either(old_run: Path, tmp_path: Path) -> None:
    """A folder where the .json goes made export fail after it had written (or replaced) the model file."""
    (tmp_path / "m.pt.json").mkdir()
    result = invoke("export", old_run, "--format", "torchscript", "--out", tmp_path / "m.pt")
    assert result.exit_code == 2 and error_lines(result) == [
        f"Error: {tmp_path / 'm.pt.json'} is a folder; lstmcast writes regular files only, so give a new file name"]
    assert not (tmp_path / "m.pt").exists()


def test_run_folder_names_that_could_not_be_swapped_in_are_refused_up_front(sine_csv: Path, tmp_path: Path) -> None:
    """A link loop and a name too long for the staging folder beside it failed only after the whole training (the
    message named the hidden staging folder); a name that is not UTF-8 crashed writing config.toml."""
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    result = invoke("train", sine_csv, "--out", tmp_path / "loop1", *TINY, "--epochs", "1")
    assert result.exit_code == 2 and error_lines(result) == [
        f"Error: --out {tmp_path / 'loop1'} is a symbolic link to nothing (or a loop of links); remove it or choose "
        "another --out"]
    long = tmp_path / ("b" * 240)
    result = invoke("train", sine_csv, "--out", long, *TINY, "--epochs", "1")
    assert result.exit_code == 2 and error_lines(result)[0].endswith(
        ": its name is 240 bytes long, and lstmcast needs 32 more beside it for its staging folder; use a name of at "
        "most 223 bytes")
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/r\xff"))
    assert invoke("train", sine_csv, "--out", odd, *TINY, "--epochs", "1", "-q").exit_code == 0
    assert "\\udcff" in (odd / "config.toml").read_text(encoding="utf-8")
    assert leftovers(tmp_path) == [] and load_checkpoint(odd).config.epochs == 1
