"""Forecasts from a fitted model: at origins inside the data (test, backtest) and past its end."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch

from . import smoothing
from .data import future_times, is_sub_daily
from .errors import LstmcastError
from .features import calendar_features
from .prepare import Prepared
from .train import Fitted

__all__ = ["report_levels", "interval_columns", "format_times", "rollout", "predict_at", "forecast_future",
           "frame_from_forecasts", "smoothing_state", "step_state"]

GAUSSIAN_LEVELS = (0.1, 0.5, 0.9)
SmoothState = tuple[np.ndarray, np.ndarray, np.ndarray]  # (K,) damped-trend level and trend, Theta level


def report_levels(fitted: Fitted) -> list[float]:
    """Quantile levels written out for a probabilistic model (empty for a point model)."""
    if not fitted.loss.probabilistic:
        return []
    return list(fitted.config.quantiles) if fitted.config.loss == "quantile" else list(GAUSSIAN_LEVELS)


def interval_columns(prefix: str, levels: list[float]) -> list[tuple[str, int]]:
    """(column name, level index) for every level but the median: a symmetric pair q, 1-q
    becomes <prefix>_lo_P / <prefix>_hi_P with P = 100(1-2q); others <prefix>_qNN."""
    cols = []
    for i, q in enumerate(levels):
        if abs(q - 0.5) < 1e-9:
            continue
        partner = any(abs(q + r - 1.0) < 1e-9 for r in levels)
        pct = round(100 * abs(1 - 2 * q))
        if partner:
            cols.append((f"{prefix}_{'lo' if q < 0.5 else 'hi'}_{pct}", i))
        else:
            cols.append((f"{prefix}_q{round(100 * q):02d}", i))
    return cols


@torch.no_grad()
def rollout(fitted: Fitted, x: torch.Tensor, fut: torch.Tensor, steps: int, samples: int,
            gen: torch.Generator, carry: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scaled forecast of `steps` from windows x (K, W, I) with calendar fut (K, >=steps', C).

    Returns point (K, steps) and quantiles (K, steps, L) (None for a point model). Past the
    model's own horizon it recurses in blocks; a probabilistic model then samples `samples`
    paths, feeding each path its own draws, so uncertainty grows honestly with the horizon.
    """
    model, loss, h = fitted.model, fitted.loss, fitted.config.model_horizon
    levels = report_levels(fitted)
    n_blocks = math.ceil(steps / h)
    if n_blocks == 1:
        params = loss.link(model(x, fut[:, :h]))  # (K, h, P)
        point = loss.point(params)[:, :steps]
        q = loss.quantiles(params, levels)[:, :steps] if levels else None
        return point, q
    k = len(x)
    paths = samples if levels else 1
    xs = x.repeat(paths, 1, 1)  # (S*K, W, I): path s of origin i at row s*K + i
    fs = fut.repeat(paths, 1, 1)
    out = []
    # A forking model reads the window once and carries its state over its own forecasts (O(W + steps), as
    # in training, where a position saw up to n_prev + span - 1 points); others re-encode the last W rows.
    state = model.begin(xs) if model.forking and carry else None
    for b in range(n_blocks):
        f_blk = fs[:, b * h:(b + 1) * h]
        params = loss.link(model(xs, f_blk) if state is None else model.emit(state, f_blk))  # (S*K, h, P)
        if b == 0 and levels:  # every path's first block is the same direct forecast: its own values, not samples
            first = loss.point(params[:k]), loss.quantiles(params[:k], levels)
        step = loss.sample(params, 1, gen)[0] if levels else loss.point(params)  # (S*K, h)
        out.append(step)
        # next window: drop the oldest h rows, append [value, calendar] of the new steps
        new_rows = torch.cat([step[..., None], f_blk], dim=-1)
        if state is not None:
            state = model.extend(state, new_rows) if b + 1 < n_blocks else state
        else:
            xs = torch.cat([xs[:, h:], new_rows], dim=1) if h < xs.shape[1] else new_rows[:, -xs.shape[1]:]
    y = torch.cat(out, dim=1)[:, :steps].view(paths, k, steps)
    if not levels:
        return y[0], None
    q = torch.quantile(y, torch.tensor(levels, dtype=y.dtype, device=y.device), dim=0).permute(1, 2, 0)
    point = torch.quantile(y, 0.5, dim=0)
    # steps 1..h keep the direct model's values (as a forecast of h steps gives them); sampled paths only beyond
    point[:, :h], q[:, :h] = first[0], first[1]
    return point, q


@contextlib.contextmanager
def full_fp32() -> Iterator[None]:
    """Forecast in true fp32 on a GPU: cuDNN may run its recurrent kernels in TF32 (a 10-bit mantissa) by
    default. Off here, with the sample paths drawn on the CPU (_run), a GPU's forecast equals the CPU's to 1e-4
    (tests/test_gpu.py, on an H100). Training keeps TF32 (speed); a forecast is cheap."""
    if not torch.cuda.is_available():
        yield
        return
    matmul = torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = False
        with torch.backends.cudnn.flags(enabled=torch.backends.cudnn.enabled, benchmark=torch.backends.cudnn.benchmark,
                                        deterministic=torch.backends.cudnn.deterministic, allow_tf32=False):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul


def _run(fitted: Fitted, windows: np.ndarray, fut: np.ndarray, steps: int, samples: int, seed: int,
         chunk: int = 4096) -> tuple[np.ndarray, np.ndarray | None]:
    """rollout over chunks of origins (bounded memory); numpy in, numpy out (scaled)."""
    dev = fitted.device
    gen = torch.Generator().manual_seed(seed)  # draws on the CPU, then moved: a GPU forecast equals the CPU's
    per = max(1, chunk // max(1, samples if fitted.loss.probabilistic and steps > fitted.config.model_horizon else 1))
    points, qs = [], []
    fitted.model.eval()
    with full_fp32():
        for i in range(0, len(windows), per):
            x = torch.from_numpy(np.ascontiguousarray(windows[i:i + per])).to(dev)
            f = torch.from_numpy(np.ascontiguousarray(fut[i:i + per])).to(dev)
            p, q = rollout(fitted, x, f, steps, samples, gen)
            points.append(p.cpu().numpy())
            if q is not None:
                qs.append(q.cpu().numpy())
    point = np.concatenate(points) if points else np.zeros((0, steps))
    return point, (np.concatenate(qs) if qs else None)


def _check_recursion(fitted: Fitted, steps: int) -> None:
    if steps > fitted.config.model_horizon and fitted.prep.panel.feature_names:
        raise LstmcastError(
            f"this model uses past --features, so it can forecast at most {fitted.config.model_horizon} "
            f"step{'s' * (fitted.config.model_horizon != 1)} "
            f"(future feature values are unknown); ask for --horizon {fitted.config.model_horizon} or less"
        )


def windows_before(prep: Prepared, origins: np.ndarray) -> np.ndarray:
    """The model's input windows (K, W, I) ending just before each origin (K,): a strided view, no copy."""
    return np.lib.stride_tricks.sliding_window_view(prep.inputs, prep.n_prev, axis=0)[origins - prep.n_prev
                                                                                      ].transpose(0, 2, 1)


def inputs_at(prep: Prepared, origins: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows (K, W, I) before the origins and their known-future inputs (K, steps, C); steps past the
    data repeat its last row (they are never scored)."""
    idx = np.minimum(origins[:, None] + np.arange(steps), len(prep.future) - 1)
    return windows_before(prep, origins), prep.future[idx]


def predict_at(fitted: Fitted, origins: np.ndarray, steps: int, samples: int = 200,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Forecasts made at origins (K,) (index of the first target; history is everything before)
    -> point (K, steps) and quantiles (K, steps, L) on the original scale."""
    _check_recursion(fitted, steps)
    prep = fitted.prep
    sid = np.searchsorted(prep.panel.starts, origins, side="right") - 1
    if np.any(origins - prep.n_prev < prep.panel.starts[sid]):
        raise LstmcastError(f"a forecast origin has fewer than --n-prev {prep.n_prev} points of history in its series")
    h_total = math.ceil(steps / fitted.config.model_horizon) * fitted.config.model_horizon
    win, fut = inputs_at(prep, origins, h_total)
    point, q = _blend(prep, *_run(fitted, win, fut, steps, samples, seed), sid, origins - 1)
    return _unscale(prep, point, q, sid, origins - 1)


def forecast_future(fitted: Fitted, steps: int, samples: int = 200, seed: int = 0,
                    state: SmoothState | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Forecast `steps` past the end of every series -> times (S, steps), point (S, steps),
    quantiles (S, steps, L) on the original scale. `state`: each series' smoothing states after its last point
    (smoothing_state), when the panel holds only the latest points (stream); else read from the panel."""
    _check_recursion(fitted, steps)
    prep = fitted.prep
    panel = prep.panel
    ends = panel.starts[1:]
    h_total = math.ceil(steps / fitted.config.model_horizon) * fitted.config.model_horizon
    times = np.stack([future_times(panel.time[e - 1], h_total, panel.freq, panel.is_datetime, steps) for e in ends])
    win = windows_before(prep, ends)
    if prep.future.shape[1]:
        fut = calendar_features(times.reshape(-1), panel.freq, True).reshape(len(ends), h_total, -1)
    else:
        fut = np.zeros((len(ends), h_total, 0), np.float32)
    sid = np.arange(panel.n_series)
    point, q = _blend(prep, *_run(fitted, win, fut, steps, samples, seed), sid, ends - 1, state)
    point, q = _unscale(prep, point, q, sid, ends - 1)
    return times[:, :steps], point, q


def _blend(prep: Prepared, point: np.ndarray, q: np.ndarray | None, sid: np.ndarray, last: np.ndarray,
           state: SmoothState | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Scaled network forecasts (K, steps) [and quantiles (K, steps, L)] made after points `last` (K,) of
    series sid (K,) -> the series' weight (a third, two thirds, or 0) of the way to the damped-trend smoothing's
    forecast, and its Theta weight (a third, or 0) of the way to the Theta method's; the quantiles move with the point
    forecast, so the spread the networks learned is kept. `state`: the smoothings' states at those points
    (smoothing_state), when the panel does not hold the history to compute them."""
    if prep.ets is None and prep.theta is None:
        return point, q
    if state is None:
        state = smoothing_state(prep, last)
    steps = point.shape[1]
    shift = np.zeros_like(point)
    if prep.ets is not None:
        stat = smoothing.forecast(state[0], state[1], prep.ets[sid, 2], steps)
        shift += prep.ets[sid, 3, None] * (stat - point)
    if prep.theta is not None:
        shift += prep.theta[sid, 2, None] * (smoothing.theta_forecast(state[2], prep.theta[sid], steps) - point)
    return point + shift, (None if q is None else q + shift[..., None])


def smoothing_state(prep: Prepared, last: np.ndarray) -> SmoothState:
    """The smoothings' states after points `last` (K,) of the panel: the damped trend's level and trend and the
    Theta method's level (zeros for a smoothing the model has not got)."""
    zero = np.zeros(len(last))
    level, trend = (zero, zero) if prep.ets is None else \
        smoothing.state_after(prep.target, prep.panel.starts, prep.ets, last)
    theta = zero if prep.theta is None else \
        smoothing.state_after(prep.target, prep.panel.starts, smoothing.theta_params(prep.theta), last)[0]
    return level, trend, theta


def step_state(prep: Prepared, state: SmoothState, z: np.ndarray) -> SmoothState:
    """The smoothings' states moved on by one new scaled value per series (K,)."""
    level, trend = state[0], state[1]
    if prep.ets is not None:
        level, trend, _ = smoothing.step(level, trend, prep.ets, z)
    theta = state[2]
    if prep.theta is not None:
        theta = smoothing.step(theta, np.zeros_like(theta), smoothing.theta_params(prep.theta), z)[0]
    return level, trend, theta


def _unscale(prep: Prepared, point: np.ndarray, q: np.ndarray | None, sid: np.ndarray,
             last: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Scaled (K, steps) [and (K, steps, L)] forecasts made after points `last` (K,) of series sid (K,)
    -> the original scale, each step with its own season position."""
    phase0 = prep.phase[last] if prep.phase is not None else np.zeros(len(last), np.int64)
    phase = phase0[:, None] + 1 + np.arange(point.shape[1])  # (K, steps)
    sid = sid[:, None]
    point = prep.scaler.inverse_transform(point, sid, phase)
    if q is not None:
        q = prep.scaler.inverse_transform(q, sid[..., None], phase[..., None])
    return point, q


def frame_from_forecasts(fitted: Fitted, series: np.ndarray, step: np.ndarray, times: np.ndarray,
                         point: np.ndarray, q: np.ndarray | None, prefix: str,
                         actual: np.ndarray | None = None, origin_times: np.ndarray | None = None) -> pd.DataFrame:
    """Long table, one row per (forecast, step): [id], [origin, step], time, [actual], prefix, intervals."""
    panel = fitted.prep.panel
    cols: dict[str, object] = {}
    if panel.id_name is not None:
        cols[panel.id_name] = np.asarray(panel.ids, dtype=object)[series]
    if origin_times is not None:
        cols["cutoff"] = format_times(origin_times, panel.is_datetime, panel.freq, panel.utc)
        cols["step"] = step
    cols[panel.time_name] = format_times(times, panel.is_datetime, panel.freq, panel.utc)
    if actual is not None:
        cols["actual"] = actual
    cols[prefix] = point
    if q is not None:
        for name, i in interval_columns(prefix, report_levels(fitted)):
            cols[name] = q[:, i]
    return pd.DataFrame(cols)


def format_times(times: np.ndarray, is_datetime: bool, freq: str | None = None, utc: bool = False) -> np.ndarray:
    """Datetimes as ISO strings (dates alone when every time is midnight, unless `freq` is sub-daily: a block
    of hourly times that happen to be midnights keeps its hours; with `utc`, times read from UTC offsets,
    marked +00:00); integer-valued steps as ints."""
    if is_datetime:
        idx = pd.DatetimeIndex(times)
        dates_only = not utc and not is_sub_daily(freq) and (len(idx) == 0 or bool((idx == idx.normalize()).all()))
        return idx.strftime("%Y-%m-%d" if dates_only else
                            "%Y-%m-%d %H:%M:%S+00:00" if utc else "%Y-%m-%d %H:%M:%S").to_numpy()
    t = np.asarray(times, dtype=np.float64)
    return t.astype(np.int64) if np.all(np.mod(t, 1) == 0) else t
