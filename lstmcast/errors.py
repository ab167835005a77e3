"""The one exception type for problems the user can fix."""

__all__ = ["LstmcastError"]


class LstmcastError(Exception):
    """Bad input or state the user can fix; the CLI prints it as one line and exits 2."""
