from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from lstmcast.windows import WindowSet, concat_ranges, make_windows, window_origins


def tutorial_windows(values: np.ndarray, n_prev: int) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's loop over df.iloc[i:i+n_prev], kept here as the reference semantics."""
    df = pd.DataFrame(values)
    xs, ys = [], []
    for i in range(len(df) - n_prev):
        xs.append(df.iloc[i:i + n_prev].to_numpy())
        ys.append(df.iloc[i + n_prev].to_numpy())
    return np.array(xs), np.array(ys)


def test_windows_on_arange_follow_the_tutorial() -> None:
    x, y = make_windows(np.arange(10), 3)
    assert x.shape == (7, 3) and y.shape == (7, 1)
    assert x[0].tolist() == [0, 1, 2] and y[0].tolist() == [3]
    assert x[-1].tolist() == [6, 7, 8] and y[-1].tolist() == [9]
    tx, ty = tutorial_windows(np.arange(10.0), 3)
    np.testing.assert_array_equal(x, tx[:, :, 0])
    np.testing.assert_array_equal(y, ty)


def test_windows_multi_step_and_features() -> None:
    v = np.stack([np.arange(10.0), 100 + np.arange(10.0)], axis=1)
    x, y = make_windows(v, 4, horizon=3)
    assert x.shape == (4, 4, 2) and y.shape == (4, 3)
    assert x[1, :, 1].tolist() == [101, 102, 103, 104]
    assert y[1].tolist() == [5, 6, 7]


def test_windows_too_short_is_empty() -> None:
    x, y = make_windows(np.arange(3.0), 3, 1)
    assert x.shape == (0, 3) and y.shape == (0, 1)


def test_concat_ranges() -> None:
    assert concat_ranges(np.array([0, 5, 9]), np.array([3, 5, 11])).tolist() == [0, 1, 2, 9, 10]
    assert concat_ranges(np.array([4]), np.array([2])).tolist() == []


def test_origins_never_cross_series() -> None:
    starts = np.array([0, 10])
    o = window_origins(starts, np.array([10, 20]), 3, 2, starts)
    assert o.tolist() == [3, 4, 5, 6, 7, 8, 13, 14, 15, 16, 17, 18]
    pts = torch.arange(20.0)
    x, y, _ = WindowSet(pts[:, None], pts, torch.zeros(20, 0), torch.from_numpy(o), 3, 2)[:]
    x, y = x.numpy(), y.numpy()
    assert x.shape == (12, 3, 1)
    assert x[6, :, 0].tolist() == [10, 11, 12] and y[6].tolist() == [13, 14]
    # no window mixes the two series
    assert all((row // 10 == row[0] // 10).all() for row in np.concatenate([x[:, :, 0], y], axis=1))


def test_window_set_gathers_the_windows() -> None:
    """Batches gathered on the fly equal the windows cut out by hand, targets past the end read NaN,
    and the calendar of each target step comes along (clamped at the last point)."""
    rng = np.random.default_rng(0)
    inputs, target = rng.normal(size=(40, 3)).astype(np.float32), rng.normal(size=40).astype(np.float32)
    future = rng.normal(size=(40, 2)).astype(np.float32)
    origins = np.array([5, 9, 17, 38, 39])
    x = inputs[origins[:, None] + np.arange(-5, 0)]  # (K, 5, 3): the 5 points before each origin
    y = np.concatenate([target, np.full(3, np.nan, np.float32)])[origins[:, None] + np.arange(3)]
    ws = WindowSet(torch.from_numpy(inputs), torch.from_numpy(target), torch.from_numpy(future),
                   torch.from_numpy(origins), 5, 3)
    b = torch.tensor([4, 0, 2])
    gx, gy, gf = ws[b]
    np.testing.assert_array_equal(gx.numpy(), x[[4, 0, 2]])
    np.testing.assert_array_equal(gy.numpy(), y[[4, 0, 2]])
    assert torch.isnan(gy[0, 1:]).all() and gf.shape == (3, 3, 2)
    np.testing.assert_array_equal(gf[1].numpy(), future[[5, 6, 7]])
    np.testing.assert_array_equal(gf[0].numpy(), future[[39, 39, 39]])
    assert len(ws) == 5 and ws[1:3][0].shape == (2, 5, 3)
