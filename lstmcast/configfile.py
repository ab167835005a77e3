"""TOML run files: read flags from `--config run.toml`, check their types, write the effective settings back."""

from __future__ import annotations

import difflib
import json
import math
import sys
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .errors import LstmcastError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["read_config", "coerce", "unknown_key", "to_toml", "flags_from_config", "flag_text"]

_KINDS = {bool: "true or false", int: "a whole number", float: "a number",
          str: "a string (or a list, for a comma-separated flag)"}


def read_config(path: Path) -> dict[str, Any]:
    """The key/value pairs of a TOML file, or one LstmcastError naming the file and the problem."""
    path = Path(path)
    if not path.exists():
        raise LstmcastError(f"config file {path} does not exist")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise LstmcastError(f"cannot read config file {path}: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise LstmcastError(f"cannot read config file {path}: {getattr(e, 'strerror', None) or e}") from None


def unknown_key(path: Path, key: str, known: list[str]) -> LstmcastError:
    """The error for a key that is no flag of the command, with the nearest flag names."""
    near = difflib.get_close_matches(key.replace("-", "_"), known, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else "; keys are the command's flags with _ for -, e.g. n_prev"
    return LstmcastError(f"config file {path}: unknown key {key!r}{hint}")


def coerce(path: Path, key: str, value: Any, kind: type) -> Any:
    """A TOML value for a flag of type `kind` (bool, int, float or str), or an error naming the key.
    Text flags also take numbers (n_prev = 24) and lists (features = ["a", "b"] for --features a,b)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is bool and isinstance(value, bool):
        return value
    if kind is int and number and isinstance(value, int):
        return value
    if kind is float and number:
        return float(value)
    if kind is str:
        if isinstance(value, str):
            return value
        if number:
            return str(value)
        if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
            return ",".join(str(v) for v in value)
    raise LstmcastError(f"config file {path}: {key} must be {_KINDS.get(kind, kind.__name__)}, got {value!r}")


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return json.dumps(str(v)).replace("\x7f", "\\u007f")  # a JSON string is a TOML basic string


def to_toml(values: dict[str, Any], header: list[str]) -> str:
    """Flat TOML text: comment lines, then one `key = value` per setting (unset ones as comments)."""
    # a path that is not UTF-8 (bytes os.fsdecode kept as surrogates) is shown escaped: the file stays valid UTF-8
    lines = [f"# {h}".encode("utf-8", "backslashreplace").decode("utf-8") for h in header]
    for k, v in values.items():
        lines.append(f"# {k}: not set (automatic)" if v is None else f"{k} = {_value(v)}")
    return "\n".join(lines) + "\n"


def flags_from_config(cfg: TrainConfig, samples: int = 200) -> dict[str, Any]:
    """The `lstmcast train` flags (by name) that reproduce a TrainConfig."""
    flags: dict[str, Any] = {}
    for k, v in cfg.to_dict().items():
        if k == "n_prev":
            v = "auto" if v is None else str(v)
        elif k in ("features", "quantiles"):
            v = ",".join(str(x) for x in v) if v else (None if k == "features" else "")
        flags[k] = v
    flags["samples"] = samples
    return flags


def flag_text(name: str, value: Any) -> str:
    """A TrainConfig field's value as the flag that sets it, for messages: --hidden 8, --no-refit, --n-prev auto."""
    flag = f"--{name.replace('_', '-')}"
    if isinstance(value, bool):
        return flag if value else f"--no-{flag[2:]}"
    if value is None:
        return f"{flag} auto"
    if isinstance(value, (list, tuple)):
        return f"{flag} {','.join(f'{x:g}' if isinstance(x, float) else str(x) for x in value) or '(none)'}"
    return f"{flag} {value}"
