"""Atomic writes and strict JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lstmcast.io import write_json


def refuse(name: str) -> None:
    """json.loads hook for the bare NaN/Infinity tokens that strict JSON does not have."""
    raise ValueError(f"not strict JSON: {name}")


def test_write_json_turns_non_finite_into_null(tmp_path: Path) -> None:
    obj = {"a": float("nan"), "b": [np.float64("inf")], "c": np.array([1.0, np.nan]),
           "d": {"e": (np.float32(2.5), -float("inf"))}, "f": np.int64(3), 4: "key"}
    path = write_json(obj, tmp_path / "m.json")
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text, parse_constant=refuse) == {"a": None, "b": [None], "c": [1.0, None],
                                                       "d": {"e": [2.5, None]}, "f": 3, "4": "key"}


def test_write_json_still_rejects_unknown_objects(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        write_json({"x": object()}, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


def test_run_folder_tidies_only_its_own_leftovers(tmp_path: Path) -> None:
    """`.x.tmp-*` and `.y.old-*` also match the hidden files of run folders named `x.tmp-1` and `y.old-1`: a live
    run's staging folder and lock must survive a write to `x`, and nothing of `y.old-1`'s (nor a file) may be
    renamed into place as `y`; `x`'s own stale staging and set-aside runs are still removed."""
    from lstmcast.io import run_folder

    others = [".x.tmp-1.lock", ".x.tmp-1.tmp-abcd1234/model.pt", ".y.old-1.lock", ".y.old-1.tmp-abcd1234/model.pt",
              ".y.old-2-3", "x.tmp-1/model.pt", "y.old-1/model.pt"]
    for name in others:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("other run\n")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.txt").write_text("old\n")
    for stale in (".x.tmp-k9_zq0w1", ".x.old-12-345"):
        (tmp_path / stale).mkdir()
    for name in ("x", "y"):
        with run_folder(tmp_path / name, ("a.txt",)) as stage:
            (stage / "a.txt").write_text("new\n")
    assert (tmp_path / "x" / "a.txt").read_text() == (tmp_path / "y" / "a.txt").read_text() == "new\n"
    assert sorted(p.name for p in (tmp_path / "y").iterdir()) == ["a.txt"]
    assert all((tmp_path / name).read_text() == "other run\n" for name in others)
    assert not (tmp_path / ".x.tmp-k9_zq0w1").exists() and not (tmp_path / ".x.old-12-345").exists()
