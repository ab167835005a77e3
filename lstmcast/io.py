"""Atomic file writes: a temp file in the target folder, then one rename."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import LstmcastError

__all__ = ["atomic_path", "write_csv", "write_json", "jsonable", "ensure_dir"]


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


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path next to `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    ensure_dir(path.parent if str(path.parent) else Path("."))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)  # atomic on POSIX and Windows: readers see old or new, never half
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write `df` to CSV atomically (no index)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return Path(path)


def write_json(obj: Any, path: Path) -> Path:
    """Write `obj` as indented strict JSON atomically: NaN and infinities become null (JSON has neither)."""
    text = json.dumps(jsonable(obj), indent=2, default=_json_default, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")
    return Path(path)


def jsonable(obj: Any) -> Any:
    """NumPy values to plain Python, recursively; NaN and infinities to None; dict keys to str."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _json_default(o: Any) -> Any:
    """Turn other objects with a tolist() (torch tensors, pandas arrays) into plain JSON values."""
    if hasattr(o, "tolist"):
        return jsonable(o.tolist())
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
