"""Crash-safe writes: files by temp file, fsync and one rename; run folders staged beside OUT and swapped in whole."""

from __future__ import annotations

import ctypes
import errno
import functools
import glob
import inspect
import json
import math
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from .errors import Interrupted, LstmcastError, Terminated

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs still land whole, but two writers are not stopped
    fcntl = None  # type: ignore[assignment]

__all__ = ["atomic_path", "check_regular", "file_identity", "finished_writes", "forget_writes", "write_csv", "write_table", "write_json", "output_format", "TABLE_FORMATS", "FIGURE_FORMATS",
           "STDOUT", "jsonable", "ensure_dir", "write_error", "folder_lock",
           "run_folder", "writes_run_folder", "pause_point", "lock_if_inside", "stop_on_sigterm"]

F = TypeVar("F", bound=Callable[..., Any])
STDOUT = Path("-")  # an --out that writes to stdout
TABLE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
FIGURE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
PAUSE_ENV = "LSTMCAST_PAUSE_AT"  # test-only: the fault-injection tests stop a run at a named point and kill it
_HINTS = {errno.ENOSPC: "free some space and rerun", errno.EDQUOT: "free some space and rerun",
          errno.EACCES: "check the folder's permissions or choose another --out",
          errno.EPERM: "check the folder's permissions or choose another --out",
          errno.EROFS: "the file system is read-only; choose another --out"}


def write_error(path: Path | None, e: OSError, verb: str = "write") -> LstmcastError:
    """An OSError met while writing `path`, as one line: what failed, why, what to do. Without a path (an error
    that names no file), the reason and the advice alone."""
    hint = _HINTS.get(e.errno or 0)
    what = f"cannot {verb} {path}: " if path is not None else ""
    return LstmcastError(f"{what}{e.strerror or e}" + (f"; {hint}" if hint else ""))


# SIGTERM under stop_on_sigterm, and Ctrl-C: held back while a staged run is swapped in (so the swap is never cut
# in two), then raised (as Terminated, or Interrupted) once it is done
_swap = {"active": False, "stopped": False}


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """While the block runs, SIGTERM raises Terminated, so that a job unwinds as after an error (its staging
    folder removed, the old run kept) instead of dying where it stands; during a run folder's swap the stop
    waits for the swap to finish. Only the main thread may set a handler: elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        if _swap["active"]:
            _swap["stopped"] = True
        else:
            raise Terminated()

    before = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


@contextmanager
def _swapping(out: Path) -> Iterator[None]:
    """Hold back a SIGTERM (stop_on_sigterm) and a Ctrl-C until the block is done, then raise them. A Ctrl-C
    between the fallback's two renames would leave OUT absent, and after the swap "nothing was written" would
    be false: the Interrupted raised afterwards says that OUT holds the new run."""
    held = {"int": False}
    before = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    hold = callable(before)  # not when Ctrl-C is ignored (SIG_IGN) or handled outside Python
    if hold:
        signal.signal(signal.SIGINT, lambda signum, frame: held.update(int=True))
    _swap.update(active=True, stopped=False)
    try:
        yield
    finally:
        stopped = _swap["stopped"]
        _swap.update(active=False, stopped=False)
        if hold:
            signal.signal(signal.SIGINT, before)
    if stopped:
        raise Terminated()
    if held["int"]:
        raise Interrupted(f"Interrupted after the new run was written: {out} holds it, whole")


_written: list[Path] = []  # what this command has finished writing: files and swapped-in run folders


def finished_writes() -> list[Path]:
    """The files and run folders this command wrote whole and that are still there (a file written into a staging
    folder that was then discarded is gone), for the message of a Ctrl-C that comes after them."""
    return [p for p in dict.fromkeys(_written) if os.path.lexists(p)]


def forget_writes() -> None:
    """Start a command's record of finished writes afresh."""
    _written.clear()


def pause_point(name: str) -> None:
    """Test hook: when LSTMCAST_PAUSE_AT names this point, touch LSTMCAST_PAUSE_FILE and wait to be killed."""
    if os.environ.get(PAUSE_ENV) != name:
        return
    flag = os.environ.get("LSTMCAST_PAUSE_FILE")
    if flag:
        Path(flag).write_text(f"{os.getpid()}\n")
    time.sleep(600)


def ensure_dir(path: Path) -> Path:
    """Create `path` (and parents) or say why it cannot be created."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise LstmcastError(f"{path} exists and is not a folder; choose another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LstmcastError(f"cannot create folder {path}: {e.strerror}") from None
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries (POSIX only), to the disk."""
    if path.is_dir() and os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def output_format(path: Path, formats: dict[str, str], what: str) -> str:
    """The format an output file's extension asks for (`formats`: suffix -> format), or one line listing them."""
    fmt = formats.get(Path(path).suffix.lower())
    if fmt is None:
        kinds = ", ".join(dict.fromkeys(formats))
        found = f"extension {Path(path).suffix!r}" if Path(path).suffix else "no extension"
        raise LstmcastError(f"cannot write {path}: {found}; {what} are written as {kinds} (by the file's extension)")
    return fmt


def check_regular(path: Path) -> None:
    """Refuse to replace anything but a regular file: a rename would put a file where a link, a folder or a
    device was (and leave the link's target, or the device, unchanged)."""
    if path.is_symlink():
        what = "a symbolic link"
    elif not path.exists() or path.is_file():
        return
    elif path.is_dir():
        what = "a folder"
    else:
        what = "a device or other special file"
    raise LstmcastError(f"{path} is {what}; lstmcast writes regular files only, so give a new file name")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path next to `path`; fsync it and rename it onto `path` only if the block succeeds.
    An OSError (a full disk, a read-only folder) becomes one LstmcastError naming `path`; a `path` that is a
    link, folder or device is refused before anything is written."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    check_regular(path)
    ensure_dir(parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as e:
        raise write_error(path, e) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp's 0600 would make the file private, unlike a plain open()
        yield tmp_path
        pause_point(f"write:{path.name}")
        _fsync(tmp_path)  # the data reaches the disk before the name does: no empty file after a power cut
        os.replace(tmp_path, path)  # atomic on POSIX and Windows: readers see old or new, never half
        _written.append(path)
        _fsync(parent)
    except BaseException as e:
        with suppress(OSError):
            tmp_path.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise write_error(path, e) from None
        raise


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write `df` to CSV atomically (no index)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return Path(path)


def write_table(df: pd.DataFrame, path: Path, dates: tuple[str, ...] = ()) -> Path:
    """Write `df` (no index) as CSV or Parquet by `path`'s extension, atomically; `-` prints CSV to stdout.
    `dates`: columns of ISO date strings (as forecast.format_times writes them), stored in Parquet as datetimes
    (UTC-aware when marked +00:00) rather than text."""
    if Path(path) == STDOUT:
        from .stdio import write_stdout  # a reader gone (| head) or a full disk: one clear outcome, no traceback

        write_stdout(df.to_csv(index=False))
        return Path(path)
    if output_format(path, TABLE_FORMATS, "tables") == "csv":
        return write_csv(df, path)
    for col in (c for c in dates if c in df.columns and len(df)):
        text = df[col].astype(str)
        df = df.assign(**{col: pd.to_datetime(text, format="ISO8601", utc=bool(text.str.endswith("+00:00").all()))})
    with atomic_path(path) as tmp:
        try:
            df.to_parquet(tmp, index=False)
        except ImportError:
            raise LstmcastError(f"cannot write {path}: Parquet needs pyarrow (pip install pyarrow); or write a .csv"
                                ) from None
    return Path(path)


def write_json(obj: Any, path: Path) -> Path:
    """Write `obj` as indented strict JSON atomically: NaN and infinities become null (JSON has neither)."""
    text = json.dumps(jsonable(obj), indent=2, default=_json_default, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")
    return Path(path)


def jsonable(obj: Any, finite: bool = True) -> Any:
    """NumPy values to plain Python, recursively; dict keys to str; NaN and infinities to None (JSON has
    neither) unless finite=False (the checkpoint keeps them: torch.load(weights_only=True) reads them)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v, finite) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, finite) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist(), finite)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if finite and isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _json_default(o: Any) -> Any:
    """Turn other objects with a tolist() (torch tensors, pandas arrays) into plain JSON values."""
    if hasattr(o, "tolist"):
        return jsonable(o.tolist())
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (flock on .NAME.lock beside it, holding the pid); a second
    holder fails at once with one line. The kernel drops the lock when the process dies, even by kill -9."""
    folder = Path(os.path.abspath(folder))
    path = folder.parent / f".{folder.name}.lock"
    if fcntl is None:
        yield
        return
    while True:
        try:  # never through a link: a planted .NAME.lock -> precious.txt would be truncated to our pid
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as e:
            if e.errno == errno.ELOOP or path.is_symlink():
                raise LstmcastError(f"the lock file {path} is a symbolic link; remove it (lstmcast makes its own) "
                                    "and rerun") from None
            raise write_error(path, e) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise LstmcastError(f"the lock file {path} is not a regular file; remove it and rerun")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            with suppress(OSError):
                pid = path.read_text().strip()
            raise LstmcastError(f"another lstmcast process{f' (pid {pid})' if pid else ''} is writing {folder}; "
                                "wait for it to finish or choose another --out") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the last holder removed this lock file between our open and flock: take a fresh one
    try:
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as e:  # a full disk: an OSError without a file name, which the CLI could only call "?"
            raise write_error(path, e) from None
        yield
    finally:
        with suppress(OSError):
            path.unlink()  # while still holding it; a waiter that opened the old file sees the inode change
        os.close(fd)


def file_identity(path: Path) -> tuple[int, int, int, int] | None:
    """(device, inode, mtime in ns, size) of a file, to tell later whether it was replaced; None if absent."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size


@contextmanager
def lock_if_inside(folder: Path, path: Path, model: Path | None = None,
                   seen: tuple[int, int, int, int] | None = None) -> Iterator[None]:
    """The folder's lock when `path` is a file directly inside it (a train replacing the folder would
    drop it otherwise); no lock for a file elsewhere. `model` and `seen`: the checkpoint the command read and its
    file_identity from before it read it; if another run replaced it since (a train swapped the folder in while
    this command computed), writing the old model's output into the new run would mix the two: an error instead."""
    inside = Path(os.path.realpath(Path(path).parent)) == Path(os.path.realpath(folder))
    with folder_lock(Path(os.path.realpath(folder))) if inside else nullcontext():
        if inside and model is not None and file_identity(model) != seen:
            raise LstmcastError(f"{folder} was replaced by another run while this command read its model; nothing "
                                "was written; rerun the command for the new run")
        yield


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux renameat2, macOS renamex_np); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if sys.platform.startswith("linux"):
            rc = libc.renameat2(-100, os.fsencode(a), -100, os.fsencode(b), 2)  # AT_FDCWD, RENAME_EXCHANGE
        elif sys.platform == "darwin":
            rc = libc.renamex_np(os.fsencode(a), os.fsencode(b), 2)  # RENAME_SWAP
        else:
            return False
    except (OSError, AttributeError):
        return False
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


# The suffixes of a run folder's own leftovers: staging folders are mkdtemp's `.NAME.tmp-XXXXXXXX` (letters, digits,
# _), set-aside runs `.NAME.old-PID-NANOSECONDS`. Neither holds a dot, while every leftover of another run folder
# whose name starts like one of these (`NAME.tmp-1`, `NAME.old-1`) does (`.NAME.tmp-1.lock`, `.NAME.old-1.tmp-X`):
# a glob on `.NAME.tmp-*` took those for this folder's and deleted a live run's staging or renamed a lock into place.
_LEFTOVER = {"tmp": re.compile(r"[A-Za-z0-9_]+"), "old": re.compile(r"(\d+)-(\d+)")}


def _leftovers(folder: Path, kind: str) -> list[Path]:
    """This folder's own staging (`tmp`) or set-aside (`old`, oldest first) folders beside it; nothing else."""
    prefix = f".{folder.name}.{kind}-"
    found = []
    for p in folder.parent.glob(f"{glob.escape(prefix)}*"):
        m = _LEFTOVER[kind].fullmatch(p.name[len(prefix):])
        if m and p.is_dir() and not p.is_symlink():
            found.append((int(m[2]) if kind == "old" else 0, p.name, p))
    return [p for *_, p in sorted(found)]


def _recover(folder: Path) -> None:
    """Under the lock: put back an old run that a kill left aside mid-swap (the latest, if several), and
    remove killed runs' staging."""
    old = _leftovers(folder, "old")
    if old and not folder.exists() and not folder.is_symlink():
        os.rename(old[-1], folder)
        old = old[:-1]
    for p in old + _leftovers(folder, "tmp"):
        shutil.rmtree(p, ignore_errors=True)


def _carry_over(old: Path, new: Path, owns: tuple[str, ...]) -> None:
    """Link (or copy) into `new` every file of the previous run folder that this job does not write."""
    for src in old.iterdir():
        dst = new / src.name
        if src.name in owns or dst.exists() or dst.is_symlink() or (src.name[0] == "." and src.name.endswith(".tmp")):
            continue  # this run's own files win; a killed write's temp file is dropped
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        else:
            try:
                os.link(src, dst)  # no copy: a forecast.csv or plot.png beside the run stays as it is
            except OSError:
                shutil.copy2(src, dst)


def _commit(stage: Path, folder: Path, owns: tuple[str, ...], out: Path) -> None:
    """fsync the staged run, then swap it in for `folder` (the user's `out`) in one rename; the old run goes last."""
    if folder.exists():
        _carry_over(folder, stage, owns)
    for p in stage.rglob("*"):
        if p.is_file() and not p.is_symlink():
            _fsync(p)
    _fsync(stage)
    pause_point("commit:synced")
    with _swapping(out):
        if not folder.exists():
            os.rename(stage, folder)
        elif _exchange(stage, folder):
            pause_point("commit:swapped")
            shutil.rmtree(stage, ignore_errors=True)  # now the old run
        else:  # two renames: a kill between them leaves the old run as .NAME.old-*, restored by the next writer
            old = folder.parent / f".{folder.name}.old-{os.getpid()}-{time.time_ns()}"
            os.rename(folder, old)
            pause_point("commit:between")
            try:
                os.rename(stage, folder)
            except OSError:
                os.rename(old, folder)
                raise
            shutil.rmtree(old, ignore_errors=True)
        _written.append(out)
        _fsync(folder.parent)


@contextmanager
def run_folder(out: Path, owns: tuple[str, ...]) -> Iterator[Path]:
    """Lock OUT and yield an empty staging folder beside it; when the block succeeds, the staged files plus
    the files of the previous OUT that are not in `owns` replace OUT in one rename. Whatever happens
    before that rename (an error, Ctrl-C, kill -9) leaves OUT as it was, or absent if it was."""
    out = Path(out)
    folder = Path(os.path.realpath(out))  # a symlinked run folder: replace its target, keep the link
    _check_name(out, folder)
    made = [p for p in reversed(folder.parents) if not p.exists()]
    try:
        ensure_dir(folder.parent)
        with folder_lock(folder):
            _check_replaceable(out, folder)
            try:
                _recover(folder)
                stage = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
                os.chmod(stage, folder.stat().st_mode & 0o7777 if folder.is_dir() else 0o777 & ~_umask())
            except OSError as e:
                raise write_error(folder, e) from None
            try:
                try:
                    yield stage
                except LstmcastError as e:  # name the file the user asked for, not its staging copy
                    raise LstmcastError(str(e).replace(str(stage), str(out))) from None
                try:
                    _commit(stage, folder, owns, out)
                except OSError as e:
                    raise write_error(Path(e.filename) if e.filename else folder, e) from None
            finally:
                shutil.rmtree(stage, ignore_errors=True)  # gone after a commit; a failed run's files otherwise
    except BaseException:
        for p in reversed(made):  # parent folders this run created stay only if it succeeded
            with suppress(OSError):
                p.rmdir()
        raise


def _check_name(out: Path, folder: Path) -> None:
    """Refuse, before any work, a run folder that could not be swapped in at the end: a link to nothing (or a
    loop of links), a mount point (a rename cannot replace it), a name too long for the hidden .NAME.tmp-* and
    .NAME.old-* beside it."""
    if out.is_symlink() and not out.exists():
        raise LstmcastError(f"--out {out} is a symbolic link to nothing (or a loop of links); remove it or choose "
                            "another --out")
    if folder.is_dir() and os.path.ismount(folder):
        raise LstmcastError(f"--out {out} is a mount point, which cannot be replaced by a rename as lstmcast "
                            "replaces a run folder; give a folder inside it")
    try:
        limit = os.pathconf(folder.parent if folder.parent.is_dir() else "/", "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    size = len(os.fsencode(folder.name))
    if size + 32 > limit:  # .NAME.old-PID-TIME_NS is the longest name lstmcast makes beside it
        raise LstmcastError(f"--out {out}: its name is {size} bytes long, and lstmcast needs 32 more beside it for "
                            f"its staging folder; use a name of at most {limit - 32} bytes")


def _check_replaceable(out: Path, folder: Path) -> None:
    """Refuse a run folder that cannot be replaced as a whole without losing something."""
    if folder.exists() and not folder.is_dir():
        raise LstmcastError(f"{out} exists and is not a folder; choose another --out")
    if Path.cwd().resolve().is_relative_to(folder):
        raise LstmcastError(f"--out {out} is the current folder or holds it; lstmcast replaces a run folder as a "
                            "whole, so give it a folder of its own")
    if folder.is_dir():
        sub = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
        if sub:
            raise LstmcastError(f"{out} holds folders ({', '.join(sub[:3])}); lstmcast replaces a run folder as a "
                                "whole, so choose a new folder or an earlier run's")


def writes_run_folder(*owns: str) -> Callable[[F], F]:
    """Decorate a job whose `out` argument is a run folder: it runs under the folder's lock, writes into a
    staging folder, and the result's paths point into OUT once the staged run has replaced it.

    The decorated job also takes `settings=(name, text)`: the run's settings file (the CLI's config.toml),
    written and committed with the job's own files, as result.paths["settings"]. A name in `owns` that
    this run does not write is not carried over from the previous run.

    Under torchrun only rank 0 locks and writes OUT; the other ranks run the job (they train beside rank 0)
    with a scratch folder that is removed at the end, so they leave nothing behind."""

    def deco(fn: F) -> F:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, settings: tuple[str, str] | None = None, **kwargs: Any) -> Any:
            from .distributed import is_main  # torch only when a job runs

            bound = sig.bind(*args, **kwargs)
            if not is_main():
                with tempfile.TemporaryDirectory(prefix="lstmcast-rank-") as scratch:
                    bound.arguments["out"] = Path(scratch)
                    return fn(*bound.args, **bound.kwargs)
            out = Path(bound.arguments["out"])
            with run_folder(out, owns + ((settings[0],) if settings else ())) as stage:
                bound.arguments["out"] = stage
                result = fn(*bound.args, **bound.kwargs)
                if settings is not None:
                    with atomic_path(stage / settings[0]) as tmp:
                        tmp.write_text(settings[1])
                    if isinstance(getattr(result, "paths", None), dict):
                        result.paths["settings"] = stage / settings[0]
            paths = getattr(result, "paths", None)
            if isinstance(paths, dict):
                result.paths = {k: out / Path(p).relative_to(stage) for k, p in paths.items()}
            return result

        return wrapper  # type: ignore[return-value]

    return deco
