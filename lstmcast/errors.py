"""The exception types: problems the user can fix, and Ctrl-C that stopped a job."""

__all__ = ["LstmcastError", "Interrupted", "NothingTrained", "Terminated"]


class LstmcastError(Exception):
    """Bad input or state the user can fix; the CLI prints it as one line and exits 2."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a job whose result would be wrong if it went on (a backtest fold or a compare run cut
    short); the message says what was kept. The CLI prints it and exits 130."""


class NothingTrained(Interrupted):
    """Ctrl-C came before a training job's first epoch finished: there is no network to keep, so it stops as a
    Ctrl-C outside training does (the CLI exits 130; Python sees a KeyboardInterrupt)."""


class Terminated(BaseException):
    """SIGTERM (a scheduler's or `kill`'s stop) reached the CLI: the job stops at once and keeps nothing, as after
    an error. Not a KeyboardInterrupt, so a training loop does not take it for Ctrl-C's "stop and keep"."""
