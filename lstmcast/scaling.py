"""Per-series target transforms fitted on training points only: log, seasonal adjustment, scaling.

The network sees z = (T(x) - s[phase] - loc) / scale, where T is log for a positive series (so a
season that grows with the level becomes a fixed pattern), s the series' seasonal indices from a
classical decomposition (when the training part shows that season: season_test) and loc/scale the
usual standardisation. Forecasts are mapped back step by step; those of a series whose training points are
never negative but not all positive (counts, sales with zeros: no log) stop at zero, as the log keeps a
positive series' forecasts positive.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import LstmcastError
from .windows import concat_ranges

__all__ = ["Scaler", "seasonal_indices", "season_decay", "season_test", "detect_period", "cycles", "peaks_at",
           "SEASON_DECAY", "DECAYS"]

SEASON_DECAY = 0.8  # the decay of a series whose training part has too few cycles to choose one
# Candidate weights per cycle back, chosen per series as Holt-Winters fits its seasonal smoothing: the one whose
# indices, built from the cycles before each cycle, best forecast that cycle's detrended values.
DECAYS = (0.5, 0.65, 0.8, 0.9, 1.0)
FIT_CYCLES = 40  # the decay is chosen on each series' last 40 cycles at most


STAND_IN = 1e-6  # the spread of a constant training part, relative to its level (at least 1)


class Scaler:
    """standard: (x - mean) / std; minmax: (x - min) / (max - min); none: identity. One (loc, scale) per
    series, after an optional per-series log (`log` (S,) bool) and seasonal indices (`season` (S, m)); the
    forecasts of series `nonneg` (S,) bool are floored at zero."""

    def __init__(self, kind: str = "standard", loc: np.ndarray | None = None, scale: np.ndarray | None = None,
                 log: np.ndarray | None = None, season: np.ndarray | None = None,
                 floor: np.ndarray | None = None, nonneg: np.ndarray | None = None) -> None:
        if kind not in ("standard", "minmax", "none"):
            raise LstmcastError(f"unknown scaler {kind!r}; use standard, minmax or none")
        self.kind = kind
        self.loc = None if loc is None else np.asarray(loc, dtype=np.float64)
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64)
        n = 0 if self.loc is None else len(self.loc)
        self.log = np.zeros(n, bool) if log is None else np.asarray(log, dtype=bool)
        self.season = np.zeros((n, 1)) if season is None else np.asarray(season, dtype=np.float64).reshape(n, -1)
        self.floor = np.zeros(n) if floor is None else np.asarray(floor, dtype=np.float64)
        self.nonneg = np.zeros(n, bool) if nonneg is None else np.asarray(nonneg, dtype=bool)

    @property
    def m(self) -> int:
        return int(self.season.shape[1])

    def fit(self, values: np.ndarray, starts: np.ndarray, train_ends: np.ndarray, phase: np.ndarray | None = None,
            m: int = 1, log: str = "none", deseason: bool = False) -> Scaler:
        """Fit on values[starts[s]:train_ends[s]] for each series s; (N,), (S+1,), (S,).

        log="auto" takes logs of every series whose training points are all positive and floors the forecasts
        of every series whose training points are all at or above zero; deseason=True
        removes the seasonal indices (period m, position `phase` (N,)) of each series whose season is
        significant."""
        n_series = len(starts) - 1
        idx = _train_index(starts, train_ends)
        sid = np.repeat(np.arange(n_series), train_ends - starts[:-1])
        lo = np.full(n_series, np.inf)
        np.minimum.at(lo, sid, values[idx])
        self.log = (lo > 0) if log == "auto" else np.zeros(n_series, bool)
        self.nonneg = (lo >= 0) if log == "auto" else np.zeros(n_series, bool)
        # inputs at or below zero on a log series (new data) are clamped here rather than turned into NaN
        self.floor = np.where(self.log, lo / 10.0, 0.0)
        self.season = np.zeros((n_series, max(1, m)))
        self.loc, self.scale = np.zeros(n_series), np.ones(n_series)
        all_sid = np.repeat(np.arange(n_series), np.diff(starts))
        y = self._pre(values, all_sid)
        if deseason and m > 1 and phase is not None:
            self.season = seasonal_indices(y, starts, train_ends, phase, m)
        pts = (y - self.season[all_sid, phase if phase is not None else 0])[idx]
        count = np.bincount(sid, minlength=n_series).astype(np.float64)
        if self.kind == "none":
            loc, scale = np.zeros(n_series), np.ones(n_series)
        elif self.kind == "standard":
            loc = np.bincount(sid, pts, minlength=n_series) / count
            scale = np.sqrt(np.bincount(sid, (pts - loc[sid]) ** 2, minlength=n_series) / count)
        else:
            hi = np.full(n_series, -np.inf)
            lo2 = np.full(n_series, np.inf)
            np.minimum.at(lo2, sid, pts)
            np.maximum.at(hi, sid, pts)
            loc, scale = lo2, hi - lo2
        # A constant training part has no spread: keep the shift, do not divide by zero. The stand-in spread is
        # tiny next to the level, so the network's small errors around "no change" do not show in the forecast
        # (a series of 7s forecasts 7, not 7.004); new inputs off that level still anchor on their last value.
        self.loc = loc
        level = np.maximum(1.0, np.abs(loc))
        self.scale = np.where(scale > 1e-12 * level, scale, STAND_IN * level)
        return self

    def _constant(self) -> np.ndarray:
        """(S,) whether each series' training part was constant (its scale the stand-in spread)."""
        return self.scale == STAND_IN * np.maximum(1.0, np.abs(self.loc))

    def _pre(self, values: np.ndarray, sid: np.ndarray) -> np.ndarray:
        lg = self.log[sid]
        if not np.any(lg):
            return np.asarray(values, dtype=np.float64)
        safe = np.where(lg, np.maximum(values, self.floor[sid]), 1.0)
        return np.where(lg, np.log(safe), values)

    def transform(self, values: np.ndarray, sid: np.ndarray, phase: np.ndarray | int = 0) -> np.ndarray:
        """values (...,) of series sid at season positions `phase` (broadcastable) -> scaled."""
        y = self._pre(values, sid) - self.season[sid, np.asarray(phase) % self.m]
        return (y - self.loc[sid]) / self.scale[sid]

    def inverse_transform(self, values: np.ndarray, sid: np.ndarray, phase: np.ndarray | int = 0) -> np.ndarray:
        """Undo `transform`. On a series whose training part was constant, outputs within half a unit of the
        stand-in spread (a millionth of the level) are its level exactly: the network's small errors around "no
        change" would otherwise turn a series of zeros into forecasts of 1e-9 (an sMAPE of 200% against an exact
        0). Larger outputs (new data off that level) are left as they are."""
        constant = self._constant()
        if constant.any():
            values = np.where(constant[sid] & (np.abs(values) < 0.5), 0.0, values)
        y = values * self.scale[sid] + self.loc[sid] + self.season[sid, np.asarray(phase) % self.m]
        lg = np.broadcast_to(self.log[sid], np.shape(y))
        if lg.any():
            y = np.where(lg, np.exp(np.minimum(np.where(lg, y, 0.0), 700.0)), y)
        nonneg = np.broadcast_to(self.nonneg[sid], np.shape(y))
        return np.where(nonneg, np.maximum(y, 0.0), y) if nonneg.any() else y

    def select(self, rows: np.ndarray) -> Scaler:
        """The statistics of the series `rows` only."""
        return Scaler(self.kind, self.loc[rows], self.scale[rows], self.log[rows], self.season[rows], self.floor[rows],
                      self.nonneg[rows])

    def to_dict(self) -> dict[str, Any]:
        """Plain lists for the checkpoint."""
        return {"kind": self.kind, "loc": [float(v) for v in self.loc], "scale": [float(v) for v in self.scale],
                "log": [bool(v) for v in self.log], "season": self.season.tolist(),
                "floor": [float(v) for v in self.floor], "nonneg": [bool(v) for v in self.nonneg]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaler:
        loc = np.array(d["loc"], dtype=np.float64)
        return cls(d["kind"], loc, np.array(d["scale"], dtype=np.float64),
                   np.array(d.get("log", [False] * len(loc)), dtype=bool),
                   np.array(d.get("season", [[0.0]] * len(loc)), dtype=np.float64),
                   np.array(d.get("floor", [0.0] * len(loc)), dtype=np.float64),
                   # written before the floor at zero: the forecasts as they were
                   np.array(d.get("nonneg", [False] * len(loc)), dtype=bool))


def _train_index(starts: np.ndarray, train_ends: np.ndarray) -> np.ndarray:
    """Indices of every training point, series after series."""
    return concat_ranges(starts[:-1], train_ends)


def _centred_ma(y: np.ndarray, starts: np.ndarray, ends: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(N,) centred moving average of order m (2xm for even m) inside [starts, ends) of each series,
    and a mask of the points where it is defined."""
    n = len(y)
    half = m // 2
    c = np.concatenate([[0.0], np.cumsum(y)])
    i = np.arange(n)
    sid = np.searchsorted(starts[1:], i, side="right")
    lo_ok = i - half >= starts[sid]
    hi_ok = i + half + 1 <= ends[sid] if m % 2 else i + half + 1 <= ends[sid]
    a, b = np.clip(i - half, 0, n), np.clip(i + half + 1, 0, n)
    if m % 2:
        ma = (c[b] - c[a]) / m
    else:  # 2xm: average of the two m-windows around i, the end points weighted 1/2
        ma = ((c[b] - c[a]) - 0.5 * (y[a.clip(0, n - 1)] + y[(b - 1).clip(0, n - 1)])) / m
    return ma, lo_ok & hi_ok


def seasonal_indices(y: np.ndarray, starts: np.ndarray, train_ends: np.ndarray, phase: np.ndarray,
                     m: int) -> np.ndarray:
    """(S, m) additive seasonal indices of each series from its training part (classical decomposition:
    weighted mean detrended value at each season position, recent cycles weighted more (by each series'
    own decay, see season_decay), centred on zero); zero where the season is not significant or the
    training part holds fewer than three seasons."""
    n_series = len(starts) - 1
    det, key, sid, pos = _detrended(y, starts, train_ends, phase, m)
    # Recent cycles count more (weight SEASON_DECAY per cycle back): a pattern that drifts over the
    # years is forecast from its latest form, as Holt-Winters' seasonal smoothing does.
    back = (train_ends[sid] - 1 - pos) // m
    decay = season_decay(det, key, back, sid, n_series, m)
    w = decay[sid] ** back.astype(np.float64)
    s = np.bincount(key, det * w, minlength=n_series * m)
    c = np.bincount(key, w, minlength=n_series * m)
    idx = np.where(c > 0, s / np.maximum(c, 1), 0.0).reshape(n_series, m)
    idx -= idx.mean(axis=1, keepdims=True)
    found = _acf_test(y, starts, train_ends, m) | _aicc_test(det, key, sid, n_series, m)
    keep = found & (train_ends - starts[:-1] >= 3 * m)
    return np.where(keep[:, None], idx, 0.0)


def _detrended(y: np.ndarray, starts: np.ndarray, train_ends: np.ndarray, phase: np.ndarray, m: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each series' training points less their centred moving average, where it is defined: the values, their
    keys (series * m + season position), their series and their positions in y."""
    ma, ok = _centred_ma(y, starts[:-1], train_ends, m)
    pos = np.flatnonzero(ok)
    sid = np.searchsorted(starts[1:], pos, side="right")
    return y[pos] - ma[pos], sid * m + phase[pos] % m, sid, pos


def season_decay(det: np.ndarray, key: np.ndarray, back: np.ndarray, sid: np.ndarray, n_series: int,
                 m: int) -> np.ndarray:
    """(S,) weight per cycle back for each series' seasonal indices, one of DECAYS: the one whose weighted
    mean of the older cycles best forecasts each cycle's detrended values `det` (squared error summed over
    the cycles that have at least two older ones; `key` = series * m + season position, `back` = cycles
    before the last, `sid` = series of each value). SEASON_DECAY where no cycle can be forecast so. A panel
    shares one decay, the one with the lowest sum over its series of each one's error relative to its own
    best, as a global model shares its weights: on four many-series files (bench/accuracy_panel.py) this
    gave 136 -> 142 wins of 177 over seasonal naive, no file worse."""
    n_cycles = int(min(FIT_CYCLES, back.max() + 1)) if len(back) else 0
    out = np.full(n_series, SEASON_DECAY)
    if n_cycles < 3:
        return out
    near = back < n_cycles
    col = n_cycles - 1 - back[near]  # oldest cycle first
    d = np.zeros((n_series * m, n_cycles))
    seen = np.zeros_like(d)
    d[key[near], col] = det[near]
    seen[key[near], col] = 1.0
    c = np.arange(n_cycles)
    older = c[None, :] < c[:, None]  # (cycle, earlier cycle)
    enough = seen @ older.T.astype(np.float64) >= 2  # (S*m, cycles): at least two older values to average
    row_series = np.arange(n_series * m) // m
    sse = np.zeros((len(DECAYS), n_series))
    for i, decay in enumerate(DECAYS):  # five candidates, each a matrix product over all series at once
        w = np.where(older, float(decay) ** np.clip(c[:, None] - 1 - c[None, :], 0, None), 0.0)
        num, den = d @ w.T, seen @ w.T
        pred = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        err = np.where(enough & (seen > 0), (d - pred) ** 2, 0.0).sum(axis=1)
        sse[i] = np.bincount(row_series, err, minlength=n_series)
    fitted = (enough & (seen > 0)).reshape(n_series, m, n_cycles).any(axis=(1, 2))
    if fitted.sum() > 1:  # one decay for the panel: each series' errors relative to its best, summed
        rel = sse[:, fitted] / np.maximum(sse[:, fitted].min(axis=0, keepdims=True), 1e-300)
        return np.where(fitted, float(np.asarray(DECAYS)[np.argmin(rel.sum(axis=1))]), out)
    return np.where(fitted, np.asarray(DECAYS)[np.argmin(sse, axis=0)], out)


def _acf_at(y: np.ndarray, starts: np.ndarray, ends: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """(S, L) sample autocorrelation of each series' [starts, ends) part at each lag."""
    n_series = len(ends)
    i = np.arange(len(y))
    sid = np.searchsorted(starts[1:], i, side="right")
    inside = (i >= starts[sid]) & (i < ends[sid])
    cnt = np.bincount(sid[inside], minlength=n_series)
    mean = np.bincount(sid[inside], y[inside], minlength=n_series) / np.maximum(cnt, 1)
    d = np.where(inside, y - mean[sid], 0.0)
    var = np.bincount(sid, d * d, minlength=n_series)
    out = np.zeros((n_series, len(lags)))
    for j, k in enumerate(lags):  # a loop over a handful of lags, not over points
        ok = inside & (i - k >= starts[sid]) & np.roll(inside, k)
        prod = np.where(ok, d * np.roll(d, k), 0.0)
        out[:, j] = np.bincount(sid, prod, minlength=n_series) / np.where(var > 0, var, np.inf)
    return out


def season_test(y: np.ndarray, starts: np.ndarray, train_ends: np.ndarray, phase: np.ndarray, m: int
                ) -> np.ndarray:
    """(S,) whether each series' training part shows a season of period m: its lag-m autocorrelation is
    significant at 90% (the M4 Naive2 benchmark's test: |r_m| above 1.645 * sqrt((1 + 2 * sum_{k<m} r_k^2) / n)),
    or its detrended values (y less the centred moving average) fit better with a mean per season position than
    with one mean, by AICc (as AutoETS chooses its seasonal models). The first misses a strong season in a
    series only three seasons long, whose own season inflates the limit (36 months of lung deaths: r_12 0.59
    against 0.70); the second misses a season that drifts (a pattern that turns over the years averages out)."""
    det, key, sid, _ = _detrended(y, starts, train_ends, phase, m)
    return _acf_test(y, starts, train_ends, m) | _aicc_test(det, key, sid, len(train_ends), m)


def _acf_test(y: np.ndarray, starts: np.ndarray, train_ends: np.ndarray, m: int) -> np.ndarray:
    n = train_ends - starts[:-1]
    r = _acf_at(y, starts, train_ends, np.arange(1, m + 1))
    limit = 1.645 * np.sqrt((1 + 2 * (r[:, :-1] ** 2).sum(axis=1)) / np.maximum(n, 1))
    return (np.abs(r[:, -1]) > limit) & (n > m + 1)


def _aicc_test(det: np.ndarray, key: np.ndarray, sid: np.ndarray, n_series: int, m: int) -> np.ndarray:
    n = np.bincount(sid, minlength=n_series).astype(np.float64)
    mean = np.bincount(sid, det, minlength=n_series) / np.maximum(n, 1)
    rss0 = np.bincount(sid, (det - mean[sid]) ** 2, minlength=n_series)
    cnt = np.bincount(key, minlength=n_series * m)
    pos_mean = np.bincount(key, det, minlength=n_series * m) / np.maximum(cnt, 1)
    rss1 = np.bincount(sid, (det - pos_mean[key]) ** 2, minlength=n_series)
    p1 = (cnt.reshape(n_series, m) > 0).sum(axis=1).astype(np.float64)  # season positions seen

    def aicc(rss: np.ndarray, p: np.ndarray | float) -> np.ndarray:
        tiny = 1e-300 + 1e-24 * rss0  # a season that fits exactly still scores finitely
        return n * np.log(np.maximum(rss, tiny) / np.maximum(n, 1)) + 2 * p + 2 * p * (p + 1) / (n - p - 1)

    with np.errstate(divide="ignore", invalid="ignore"):
        better = aicc(rss1, p1) < aicc(rss0, 1.0)
    return better & (n - p1 - 1 > 0) & (rss0 > 0) & (p1 > 1)


def detect_period(y: np.ndarray, max_lag: int | None = None) -> int | None:
    """A clear cycle in a series without a calendar season: the lag (>= 2) of the highest peak of the
    autocorrelation after its first zero crossing, if that peak is above 0.5; else None."""
    y = np.asarray(y, dtype=np.float64)
    k = int(cycles(y, np.array([0]), np.array([len(y)]), max_lag)[0])
    return k or None


CYCLE_BATCH = 1 << 22  # padded points per FFT batch in `cycles` (memory about 100 bytes per point)


def cycles(y: np.ndarray, starts: np.ndarray, ends: np.ndarray, max_lag: int | None = None) -> np.ndarray:
    """(S,) detect_period of each series' part y[starts[s]:ends[s]], 0 where none: series of similar length
    together, from the autocorrelations of the zero-padded series by one FFT per batch (lags up to a third of
    each length), so memory stays bounded however uneven the lengths."""
    return _batched(_cycles, y, starts, ends, max_lag).astype(np.int64)


def peaks_at(y: np.ndarray, starts: np.ndarray, ends: np.ndarray, lag: int) -> np.ndarray:
    """(S,) bool: each series' autocorrelation has a peak within 2% of `lag`, above 0.5 and above its value at
    half the lag: a cycle of that length, even where a slow swing keeps every shorter lag correlated too (a
    year of half-hourly demand, whose autocorrelation first crosses zero after the week) and `cycles` looks
    past it. Needs the lag and its margin within a third of the series, as `cycles` reads."""
    return _batched(_peak_at, y, starts, ends, lag).astype(bool)


def _batched(fn: Any, y: np.ndarray, starts: np.ndarray, ends: np.ndarray, arg: int | None) -> np.ndarray:
    """fn(y, starts, ends, arg) over batches of series of similar length, up to CYCLE_BATCH padded points each."""
    n = ends - starts
    order = np.argsort(n, kind="stable")
    out = np.zeros(len(n), np.int64)
    i = 0
    while i < len(n):  # a loop over batches of series
        j = min(len(n), i + max(1, CYCLE_BATCH // max(int(n[order[i]]), 1)))
        j = min(j, i + max(1, CYCLE_BATCH // max(int(n[order[j - 1]]), 1)))
        rows = order[i:j]
        out[rows] = fn(y, starts[rows], ends[rows], arg)
        i = j
    return out


def _acf(y: np.ndarray, starts: np.ndarray, ends: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """(S, max_lag + 1) autocorrelations of each series' part (zero-padded, one FFT), and (S,) its variance."""
    start, n = starts, ends - starts
    t = np.arange(int(n.max()))
    inside = t[None, :] < n[:, None]
    vals = np.where(inside, y[np.where(inside, start[:, None] + t[None, :], 0)], 0.0)
    d = np.where(inside, vals - vals.sum(axis=1, keepdims=True) / np.maximum(n, 1)[:, None], 0.0)
    var = (d * d).sum(axis=1)
    f = np.fft.rfft(d, 2 * len(t), axis=1)
    acf = np.fft.irfft(f * np.conj(f), axis=1)[:, :max_lag + 1]
    return acf / np.where(var > 0, var, np.inf)[:, None], var


def _peak_at(y: np.ndarray, starts: np.ndarray, ends: np.ndarray, lag: int) -> np.ndarray:
    n = ends - starts
    w = lag // 50
    if not len(n) or n.max() // 3 < lag + w + 1 or lag < 2:
        return np.zeros(len(n), bool)
    acf, var = _acf(y, starts, ends, lag + w + 1)
    near = acf[:, lag - w:lag + w + 1]  # (S, 2w + 1)
    top = near.max(axis=1)
    inner = (top > acf[:, lag - w - 1]) & (top > acf[:, lag + w + 1])  # a peak, not a slope through the margin
    return (n // 3 >= lag + w + 1) & (var > 0) & inner & (top > 0.5) & (top > acf[:, lag // 2])


def _cycles(y: np.ndarray, starts: np.ndarray, ends: np.ndarray, max_lag: int | None) -> np.ndarray:
    n = ends - starts
    if not len(n) or n.max() < 12:
        return np.zeros(len(n), np.int64)
    limit = np.minimum(max_lag or n // 3, n // 3)  # (S,) highest lag read
    acf, var = _acf(y, starts, ends, int(limit.max()))
    lag = np.arange(acf.shape[1])
    valid = lag[None, :] <= limit[:, None]
    neg = valid & (acf < 0)
    first = np.where(neg.any(axis=1), np.argmax(neg, axis=1), acf.shape[1])  # the first zero crossing
    k = np.argmax(np.where(valid & (lag[None, :] >= first[:, None]), acf, -np.inf), axis=1)
    rows = np.arange(len(n))
    peak_at = acf[rows, k]
    left, right = acf[rows, np.maximum(k - 1, 0)], acf[rows, np.minimum(k + 1, acf.shape[1] - 1)]
    found = ((n >= 12) & (var > 0) & (limit >= 2) & (first < acf.shape[1]) & (k > 0) & (k < limit)
             & (peak_at >= left) & (peak_at >= right) & (peak_at > 0.5) & (k >= 2))
    return np.where(found, k, 0).astype(np.int64)
