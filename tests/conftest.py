"""Shared tiny data and settings: <= 200 points, hidden 8, 1-2 epochs, CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lstmcast.config import TrainConfig
from lstmcast.data import generate_sine


# Tiny models run faster on one thread, and the suite does not fight itself for the 2 cores.
torch.set_num_threads(1)


def tiny_config(**kw: object) -> TrainConfig:
    """The defaults scaled down for a fast test."""
    base: dict[str, object] = dict(n_prev=10, hidden=8, ensemble=1, epochs=2, batch_size=32, device="cpu", lr=0.01, seed=0)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
def sine_csv(tmp_path: Path) -> Path:
    """160-point noisy sine as t,sin_t."""
    path = tmp_path / "sine.csv"
    generate_sine(steps_per_cycle=20, cycles=8, noise=0.05, seed=0).to_csv(path, index=False)
    return path


@pytest.fixture
def daily_csv(tmp_path: Path) -> Path:
    """180 daily points with a weekly cycle and a trend, as date,sales,temp."""
    rng = np.random.default_rng(1)
    n = 180
    t = np.arange(n)
    df = pd.DataFrame({
        "date": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        "sales": 10 + 0.02 * t + 3 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.3, n),
        "temp": 15 + 5 * np.sin(2 * np.pi * t / 365) + rng.normal(0, 1, n),
    })
    path = tmp_path / "daily.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture
def long_csv(tmp_path: Path) -> Path:
    """Three daily series of 80 points each in long format, different levels: store,date,y."""
    rng = np.random.default_rng(2)
    frames = []
    for k, (level, amp) in enumerate([(100.0, 10.0), (5.0, 1.0), (-50.0, 4.0)]):
        t = np.arange(80)
        frames.append(pd.DataFrame({
            "store": f"s{k}", "date": pd.date_range("2024-01-01", periods=80, freq="D").strftime("%Y-%m-%d"),
            "y": level + amp * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.1 * amp, 80),
        }))
    path = tmp_path / "long.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path
