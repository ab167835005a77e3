"""The command line's entry point: `lstmcast` (the console script) and `python -m lstmcast`."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the CLI. Its imports (torch, pandas, typer) take a second or two, before any command's own Ctrl-C
    handling is in place: a Ctrl-C then says so in one line and exits 130, as it does later, not with a
    traceback."""
    try:
        from .cli import app

        app()
    except KeyboardInterrupt:  # in the imports, or while Typer builds the commands (later ones are the CLI's)
        if sys.stderr is not None:
            sys.stderr.write("Interrupted; nothing was written.\n")
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
