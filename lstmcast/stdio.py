"""Standard input and output that can fail: closed (`<&-`, `>&-`), a reader that has gone (`| head`), a full disk
(`> /dev/full`). A command's product on stdout (`--out -`, `--json`, stream's forecasts) goes through
`write_stdout`; the words meant for a person (tables, notes, "Wrote ...") go through `HumanConsole`, which stops
printing when stdout fails instead of failing the job."""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.console import Console

from .errors import LstmcastError

__all__ = ["HumanConsole", "ReaderGone", "need_stdin", "need_stdout", "silence_stdout", "write_stdout"]


class ReaderGone(Exception):
    """stdout's reader closed the pipe (`| head -1` took what it wanted): the command ends quietly."""


def silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null after a failed write, so that what is still buffered (and Python's
    flush at exit) goes nowhere instead of failing again ("Exception ignored ... BrokenPipeError", exit 120)."""
    try:
        fd = sys.stdout.fileno()  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):  # closed, or not a real file (a test's capture)
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


def need_stdout(why: str) -> None:
    """Refuse at once, before any work, when stdout is closed (`>&-`) and the command's product goes there."""
    if sys.stdout is None:
        raise LstmcastError(f"standard output is closed; {why}")


def need_stdin(why: str) -> None:
    """Refuse at once when stdin is closed (`<&-`) and the command reads from it."""
    if sys.stdin is None:
        raise LstmcastError(f"standard input is closed; {why}")


def write_stdout(text: str) -> None:
    """Write (and flush) a piece of the command's product on stdout. A reader that has gone raises ReaderGone;
    another failure (a full disk) is one LstmcastError."""
    need_stdout("the command's output goes there; redirect it to a file or a pipe")
    try:
        sys.stdout.write(text)  # type: ignore[union-attr]
        sys.stdout.flush()  # type: ignore[union-attr]
    except BrokenPipeError:
        silence_stdout()
        raise ReaderGone() from None
    except OSError as e:
        silence_stdout()
        raise LstmcastError(f"cannot write to standard output: {e.strerror or e}") from None


class HumanConsole(Console):
    """A console on stdout for a person's eyes: when stdout is a closed pipe or a full disk, it stops printing and
    the job goes on (rich's own answer to a closed pipe is to exit 1, which would throw away a training in
    progress). On a failure other than a closed pipe, one note on stderr says that the report stops there. It stays
    silent for that stdout only: a command run later in the same process (a test's CliRunner) prints again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._failed: object = None  # the file whose write failed

    def _check_buffer(self) -> None:
        if self._failed is not None and self._failed is self.file:
            del self._buffer[:]
            return
        try:
            super()._check_buffer()
        except OSError as e:  # rich catches BrokenPipeError itself (on_broken_pipe below)
            self._stop_printing(e)

    def on_broken_pipe(self) -> None:
        self._stop_printing(None)

    def _stop_printing(self, error: OSError | None) -> None:
        del self._buffer[:]
        self._failed = self.file
        silence_stdout()
        if error is not None and sys.stderr is not None:
            try:
                sys.stderr.write(f"Note: standard output failed ({error.strerror or error}); nothing more is "
                                 "printed there\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
