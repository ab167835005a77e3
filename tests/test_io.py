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
