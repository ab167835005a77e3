"""Retrain a run from its recorded settings and data, and say whether the result is the same, file by file."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from .checkpoint import load_checkpoint
from .config import TrainConfig
from .data import IN_MEMORY, STDIN, STREAMS, file_fingerprint, is_stream, refuse_device
from .errors import LstmcastError
from .io import jsonable
from .run import train_run

__all__ = ["ReproduceResult", "reproduce_run", "run_source", "compare_run_folders"]

# Parts of metrics.json that describe the circumstances, not the result: another machine's versions, the path
# the data was read from, and the notes (they quote that path).
CIRCUMSTANCES = ("versions", "data.path", "notes")


@dataclass
class ReproduceResult:
    """checks: {what: differences (empty when the same)}; matches when every list is empty."""

    run: Path
    data: Path
    checks: dict[str, list[str]]
    notes: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not any(self.checks.values())


def run_source(run_dir: Path, data: Path | None = None) -> Path:
    """The data file to retrain RUN_DIR from: `data`, or the file the run recorded, after checking that its
    bytes are the ones the run saw (sha256)."""
    ckpt = load_checkpoint(run_dir)
    recorded = ckpt.data.get("path", "")
    src = Path(data) if data is not None else Path(recorded)
    if data is None and recorded in STREAMS:
        raise LstmcastError(f"run {run_dir} was trained on data from {STREAMS[recorded]}; pass the same file with "
                            "--data")
    refuse_device(src)
    if not is_stream(src) and not src.is_file():
        raise LstmcastError(f"training data {src} not found; pass the file the run was trained on with --data")
    if recorded != IN_MEMORY and file_fingerprint(src) != ckpt.data.get("sha256"):  # a DataFrame's bytes were
        # a temporary file's: the reproduction's own comparison of the results tells whether the data were the same
        raise LstmcastError(f"{'stdin' if src == STDIN else src} is not the data run {run_dir} was trained on (its "
                            "sha256 differs); pass the original file with --data")
    return src


def reproduce_run(run_dir: Path, cfg: TrainConfig, data: Path, samples: int = 200,
                  **callbacks: Any) -> ReproduceResult:
    """Train `cfg` on `data` into a temporary folder (removed afterwards) and compare it with RUN_DIR.
    `callbacks` (on_epoch, on_start, on_stage) go to the training job."""
    run_dir = Path(run_dir)
    checks = {"settings": _dict_differences(load_checkpoint(run_dir).config.to_dict(), cfg.to_dict())}
    tmp = Path(tempfile.mkdtemp(prefix="lstmcast-reproduce-"))
    try:
        result = train_run(data, cfg, tmp / "run", samples=samples, **callbacks)
        if result.interrupted:  # a Ctrl-C that training absorbed: a cut-short run proves nothing either way
            raise KeyboardInterrupt("Interrupted; nothing was written (the reproduction is discarded)")
        checks.update(compare_run_folders(run_dir, tmp / "run"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    notes = []
    saved = _read(run_dir / "metrics.json", _json)[0] or {}  # where the run trained (auto depends on the data);
    versions = saved.get("versions")  # older runs, or a metrics.json gone or broken (a check says so): the flag
    trained_on = str(versions.get("device", cfg.device) if isinstance(versions, dict) else cfg.device)
    if trained_on.startswith("cuda") or (trained_on == "auto" and torch.cuda.is_available()):
        notes.append(f"the run trained on {trained_on}: results are bit-identical only on CPU")
    return ReproduceResult(run=run_dir, data=Path(data), checks=checks, notes=notes)


def compare_run_folders(old: Path, new: Path) -> dict[str, list[str]]:
    """{file: differences} between two train run folders: metrics (the circumstances aside), hold-out
    predictions, loss history (timings aside) and the weights of both models."""
    try:  # a run fitted from a DataFrame hashed a temporary file's bytes: no file can match them
        memory = _json(old / "metrics.json").get("data", {}).get("path") == IN_MEMORY
    except (OSError, ValueError, AttributeError):
        memory = False
    read = (lambda p: _metrics(p, ("data.sha256",))) if memory else _metrics
    (a, why_a), (b, why_b) = (_read(run / "metrics.json", read) for run in (old, new))
    checks = {"metrics.json": _dict_differences(a, b) if a is not None and b is not None else
              _unread("metrics.json", why_a, why_b)}
    for name, drop in (("test_predictions.csv", []), ("history.csv", ["seconds"])):
        a, b = old / name, new / name
        if a.exists() != b.exists():
            checks[name] = [f"{name} {'only in the original run' if a.exists() else 'missing from the original run'}"]
        elif a.exists():
            (fa, why_a), (fb, why_b) = (_read(p, lambda p: pd.read_csv(p).drop(columns=drop, errors="ignore"))
                                        for p in (a, b))
            checks[name] = (_frame_differences(fa, fb) if fa is not None and fb is not None
                            else _unread(name, why_a, why_b))
    checks["model.pt"] = _weight_differences(old / "model.pt", new / "model.pt")
    return checks


def _read(path: Path, read: Callable[[Path], Any]) -> tuple[Any, str]:
    """read(path), or None and why not: "missing", or "unreadable (the reader's complaint)". A run file deleted or
    edited by hand is a difference to report, not a crash."""
    try:
        return read(path), ""
    except FileNotFoundError:
        return None, "missing"
    except (OSError, ValueError) as e:  # invalid JSON, a CSV that does not parse, bytes that are not text
        return None, f"unreadable ({(str(e).strip().splitlines() or [type(e).__name__])[0][:120]})"


def _unread(name: str, why_old: str, why_new: str) -> list[str]:
    """A file that one run lacks or that does not parse, as a difference (worded as a missing history.csv is)."""
    if why_old == "missing":
        return [f"{name} missing from the original run"]
    if why_new == "missing":
        return [f"{name} only in the original run"]
    return [f"{name} in the {'original run' if why_old else 'reproduction'} is {why_old or why_new}"]


def _json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`; anything else is a ValueError."""
    m = json.loads(path.read_text())
    if not isinstance(m, dict):
        raise ValueError(f"not a JSON object but {type(m).__name__}")
    return m


def _metrics(path: Path, also: tuple[str, ...] = ()) -> dict[str, Any]:
    """metrics.json without the circumstances (and the keys `also`)."""
    m = _json(path)
    for key in CIRCUMSTANCES + also:
        *parents, last = key.split(".")
        node = m
        for p in parents:
            node = node.get(p, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(last, None)
    return m


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        return {k: v for key, val in d.items() for k, v in _flat(val, f"{prefix}{key}.").items()}
    if isinstance(d, list) and d and all(isinstance(v, dict) for v in d):
        return {k: v for i, val in enumerate(d) for k, v in _flat(val, f"{prefix}{i}.").items()}
    return {prefix.rstrip("."): jsonable(d)}


def _same(a: Any, b: Any) -> bool:
    both_nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return both_nan or a == b


def _dict_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """'key: original -> reproduced' for every leaf that differs (at most 10 listed)."""
    fa, fb = _flat(a), _flat(b)
    out = [f"{k}: {fa.get(k, '(absent)')!r} -> {fb.get(k, '(absent)')!r}"
           for k in sorted(fa.keys() | fb.keys()) if not _same(fa.get(k), fb.get(k))]
    return out[:10] + ([f"... and {len(out) - 10} more"] if len(out) > 10 else [])


def _frame_differences(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    if list(a.columns) != list(b.columns) or a.shape != b.shape:
        return [f"shape {a.shape} with columns {list(a.columns)} -> {b.shape} with {list(b.columns)}"]
    out = []
    for c in a.columns:
        x, y = a[c], b[c]
        diff = ~((x == y) | (x.isna() & y.isna()))
        if diff.any():
            worst = ""
            if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
                worst = f", largest difference {float((x - y).abs().max()):.3g}"
            out.append(f"column {c}: {int(diff.sum())} of {len(x)} values differ{worst}")
    return out


def _weight_differences(a: Path, b: Path) -> list[str]:
    pa, pb = (torch.load(p, map_location="cpu", weights_only=True) for p in (a, b))
    out = []
    for label, key in (("forecast model", "model"), ("evaluation model", "eval")):
        sa, sb = pa.get(key), pb.get(key)
        if key == "eval":
            sa, sb = (s["model"] if s else None for s in (sa, sb))
        if (sa is None) != (sb is None):
            out.append(f"{label}: only one run has it")
        elif sa is not None:
            differ = [k for k in sa if k not in sb or not torch.equal(sa[k], sb[k])]
            if differ or sa.keys() != sb.keys():
                out.append(f"{label}: {len(differ)} of {len(sa)} weight tensors differ")
    return out
