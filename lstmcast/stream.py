"""Streaming inference: read a series' continuation one value at a time and forecast after each value.

The network was trained on windows of n_prev points that start from a zero recurrent state, and with window
normalisation (the default) every input is taken relative to the window's last value, so a state carried on
past the window would give forecasts the model never learnt and that `predict` does not give. Each step
therefore re-encodes the last n_prev points only: O(n_prev) per value, and the same forecast as `predict`.
The damped-trend smoothing averaged into the forecast carries its level and trend from value to value."""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import replace

import numpy as np
import pandas as pd

from .checkpoint import Checkpoint
from .data import MAX_ABS, Panel, future_times
from .errors import LstmcastError
from .forecast import forecast_future, frame_from_forecasts, smoothing_state, step_state
from .prepare import prepare

__all__ = ["Stream", "parse_value", "stream_lines"]


def parse_value(line: str, number: int) -> float:
    """One line of input -> its value; a blank line or anything but a finite number is an error naming the line."""
    text = line.strip()
    if not text:
        raise LstmcastError(f"line {number} is blank; stream reads one number per line")
    try:
        value = float(text.replace("\u2212", "-"))  # the typographic minus, as the CSV loader reads it
    except ValueError:
        raise LstmcastError(f"line {number}: {text[:40]!r} is not a number; stream reads one number per line") from None
    if not math.isfinite(value):
        raise LstmcastError(f"line {number}: {text!r} is not a finite number")
    if abs(value) > MAX_ABS:  # as the CSV loader refuses it
        raise LstmcastError(f"line {number}: {text[:40]!r} is beyond ±{MAX_ABS:g}; divide the values by a power of ten")
    return value


class Stream:
    """A one-series forecaster fed point by point, starting from the history stored in the checkpoint."""

    def __init__(self, ckpt: Checkpoint, horizon: int | None = None, series: str | None = None,
                 samples: int = 200) -> None:
        cfg = ckpt.config
        self.horizon = cfg.horizon if horizon is None else horizon
        if self.horizon < 1:
            raise LstmcastError(f"--horizon must be at least 1, got {self.horizon}")
        if samples < 1:
            raise LstmcastError(f"--samples must be at least 1, got {samples}")
        if cfg.features:
            raise LstmcastError(f"this model reads past --features {','.join(cfg.features)}, which one value per line "
                                "cannot give; stream works with models of the target alone (and calendar)")
        panel = ckpt.tail_panel()
        ids = list(panel.ids)
        if series is not None:
            if not ckpt.data["id_name"]:
                raise LstmcastError(f"--series {series}: this model has a single series (trained without --id-column); "
                                    "leave --series out")
            if series in ckpt.skipped_series():
                raise LstmcastError(f"series {series!r}: training skipped it as too short for the model's windows; "
                                    f"this model forecasts {', '.join(ids[:5])}" + (" ..." if len(ids) > 5 else ""))
            if series not in ids:
                raise LstmcastError(f"series {series!r} is not in this model; it knows: {', '.join(ids[:5])}"
                                    + (" ..." if len(ids) > 5 else ""))
            panel = panel.select(np.array([i == series for i in ids]))
        elif len(ids) > 1:
            raise LstmcastError(f"this model has {len(ids)} series; choose the one to stream with --series "
                                f"(one of {', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''})")
        self.ckpt, self.samples = ckpt, samples
        self.fitted = ckpt.fitted(panel, split=False)
        self.n_prev = self.fitted.prep.n_prev
        # the smoothings' states after the stored history, moved on by each new value
        prep = self.fitted.prep
        self.state = None
        if prep.ets is not None or prep.theta is not None:
            self.state = smoothing_state(prep, prep.ends - 1)
        self._set(self.fitted.prep.panel)

    def _set(self, panel: Panel) -> None:
        """Keep only the points the next forecast reads (the window) and prepare them with the saved statistics."""
        keep = slice(max(0, len(panel.values) - self.n_prev), None)
        panel = replace(panel, values=panel.values[keep], time=panel.time[keep], observed=panel.observed[keep],
                        covariates=panel.covariates[keep], starts=np.array([0, len(panel.values[keep])]), notes=[])
        self.fitted = replace(self.fitted, prep=prepare(panel, self.ckpt.config, self.ckpt.stats, split=False))

    @property
    def panel(self) -> Panel:
        return self.fitted.prep.panel

    def push(self, value: float) -> None:
        """Append the next observed value at the series' next time step."""
        p = self.panel
        t = future_times(p.time[-1], 1, p.freq, p.is_datetime)
        self._set(replace(p, values=np.append(p.values, value), time=np.concatenate([p.time, t]),
                          observed=np.append(p.observed, True), covariates=np.zeros((len(p.values) + 1, 0)),
                          starts=np.array([0, len(p.values) + 1])))
        prep = self.fitted.prep
        if self.state is not None:  # the smoothings move on by the new value, scaled as the model sees it
            self.state = step_state(prep, self.state, prep.target[-1:].astype(np.float64))

    def forecast(self) -> pd.DataFrame:
        """The next `horizon` steps as rows: <time>,forecast[,intervals] (with cutoff,step first when horizon > 1)."""
        fitted, h = self.fitted, self.horizon
        times, point, q = forecast_future(fitted, h, samples=self.samples, seed=fitted.config.seed, state=self.state)
        p = self.panel
        return frame_from_forecasts(fitted, np.zeros(h, np.int64), np.arange(1, h + 1), times[0], point[0],
                                    None if q is None else q[0], "forecast",
                                    origin_times=np.repeat(p.time[-1:], h) if h > 1 else None)


def stream_lines(stream: Stream, lines: Iterable[str]) -> Iterator[str]:
    """CSV text: the header and the forecast from the stored history, then one forecast after every input line."""
    first = True
    for number, line in enumerate(itertools.chain([None], lines)):  # lazily: input arrives as it is typed
        if line is not None:
            stream.push(parse_value(line, number))
        buf = io.StringIO()
        df = stream.forecast()
        if stream.panel.id_name is not None:
            df = df.drop(columns=[stream.panel.id_name])  # one series: its id is the --series flag
        df.to_csv(buf, index=False, header=first)
        first = False
        yield buf.getvalue()
