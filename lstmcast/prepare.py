"""Cut a Panel into what the network trains on: the split, the window, scaled inputs and the window origins.

Everything here is fitted on training points only (the scaler, the seasonal indices, the feature
statistics) and is plain numpy: no torch, no training. train.fit consumes a Prepared; a checkpoint's Stats
rebuild one for new data without refitting anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from . import smoothing
from .config import TrainConfig
from .data import Panel, fixed_step, is_sub_daily, refill_training, season_length_for, season_phase
from .errors import LstmcastError
from .features import calendar_features, calendar_names
from .scaling import Scaler, cycles, detect_period, peaks_at
from .windows import window_origins

__all__ = ["Prepared", "Stats", "SplitPlan", "MIN_HOLDOUT_WINDOWS", "auto_n_prev", "plan_split", "prepare",
           "resolve_season", "theta_weights", "use_calendar", "training_windows"]


@dataclass
class Prepared:
    """A panel cut into scaled model inputs, with the split and the fitted statistics."""

    panel: Panel
    n_prev: int
    season_length: int | None
    train_ends: np.ndarray  # (S,) absolute index of each series' first test point
    scaler: Scaler
    cov_loc: np.ndarray  # (F,) feature means on training points
    cov_scale: np.ndarray  # (F,)
    inputs: np.ndarray  # (N, I) float32: scaled target, scaled features, calendar
    target: np.ndarray  # (N,) float32 scaled target
    future: np.ndarray  # (N, C) float32 calendar of each point (known ahead)
    input_names: list[str]
    notes: list[str] = field(default_factory=list)
    phase: np.ndarray | None = None  # (N,) position of each point in its season (0 without one)
    ets: np.ndarray | None = None  # (S, 4) damped-trend smoothing alpha, beta, phi, weight (smoothing.py), or None
    theta: np.ndarray | None = None  # (S, 3) Theta method alpha, drift, weight (smoothing.py), or None

    @property
    def ends(self) -> np.ndarray:
        return self.panel.starts[1:]

    @property
    def series_starts(self) -> np.ndarray:
        return self.panel.starts[:-1]


def auto_n_prev(season_length: int | None, typical_train: int, horizon: int, deseason: bool = True) -> int:
    """The input window: at least 2*horizon, and 30 steps (three seasons when those are shorter; three
    seasons whatever their length when the season is left in the data, so the seasonal anchor fits),
    bounded so that a typical training part holds at least four times as many windows as the window is long."""
    m = season_length if season_length and season_length > 1 else None
    base = 30 if m is None else (min(3 * m, 30) if deseason else 3 * m)
    want = max(base, 2 * horizon, 4)
    cap = max(1, (typical_train - horizon + 1) // 5)
    if m is not None and not deseason:  # the seasonal anchor reads the last season: the window must hold it
        cap = max(cap, m)
    return int(min(want, cap))


MIN_HOLDOUT_WINDOWS = 4  # a hold-out is kept only if the training part still gives this many windows


@dataclass
class SplitPlan:
    """How each series is cut: the window, its training points, and which series are kept."""

    n_prev: int
    n_train: np.ndarray  # (S,) training points of each kept series (== length: no hold-out)
    keep: np.ndarray  # (S,) bool
    notes: list[str]


def plan_split(lengths: np.ndarray, cfg: TrainConfig, season: int | None, ids: list[str],
               n_prev: int | None = None) -> SplitPlan:
    """The test part holds max(round(test_size * n), horizon) points when the series allows it; a
    series too short for that trains on everything (no hold-out score); one too short for a single
    training window is skipped (an error when none is left). The auto window follows the median
    series, so one short series does not shrink the window of all the others."""
    lengths = np.asarray(lengths, dtype=np.int64)
    h, big_h = cfg.model_horizon, cfg.horizon
    notes: list[str] = []
    test = np.zeros_like(lengths)
    if cfg.test_size > 0:
        test = np.minimum(np.maximum(np.round(lengths * cfg.test_size).astype(np.int64), big_h), lengths)
    fixed = n_prev if n_prev is not None else cfg.n_prev
    if fixed is None:
        typical = int(np.median(lengths - test))
        ds = cfg.deseason != "none"
        w = auto_n_prev(season, typical, h, ds)
        if typical - w - h + 1 < MIN_HOLDOUT_WINDOWS:  # the typical series cannot spare a hold-out
            w = auto_n_prev(season, int(np.median(lengths)), h, ds)
        notes.append(f"a window of {w} step{'s' * (w != 1)} (--n-prev auto)")
    else:
        w = int(fixed)
    hold = (test > 0) & (lengths - test - w - h + 1 >= MIN_HOLDOUT_WINDOWS)
    n_train = np.where(hold, lengths - test, lengths)
    keep = n_train - w - h + 1 >= 1
    if not keep.any():
        longest = int(lengths.max())
        what = "the series has" if len(lengths) == 1 else "every series is too short; the longest has"
        need = w + h
        if fixed is None:
            advice = (f"use a smaller --horizon (at most {longest - w})" if h > 1 and longest > w
                      else "the series needs more points")
            raise LstmcastError(f"{what} {longest} point{'s' * (longest != 1)} but --horizon {big_h} needs at least "
                                f"{need} (a window of {w} and {h} target{'s' * (h > 1)}); {advice}")
        raise LstmcastError(f"{what} {longest} point{'s' * (longest != 1)} but --n-prev {w} + --horizon {h} needs at "
                            f"least {need}; use a smaller --n-prev (or --n-prev auto)")
    if cfg.test_size > 0 and not hold[keep].any() and int(keep.sum()) > 1:
        notes.append(f"no hold-out score was possible: none of the {int(keep.sum())} series can spare its test part "
                     f"(up to {int(test[keep].max())} points) and keep a training window; each trained on all its points")
    elif cfg.test_size > 0 and not hold[keep].any():
        notes.append(f"no hold-out score was possible: the series is too short to spare {int(test.max())} test "
                     f"point{'s' * (int(test.max()) != 1)}; trained on all {int(lengths[keep].max())} points")
    elif cfg.test_size > 0 and not hold[keep].all():
        short = [ids[i] for i in np.flatnonzero(keep & ~hold)]
        notes.append(f"{len(short)} series too short for a hold-out train on all their points and are not scored: "
                     f"{', '.join(short[:5])}{' ...' if len(short) > 5 else ''}")
    if not keep.all():
        short = [ids[i] for i in np.flatnonzero(~keep)]
        notes.append(f"skipped {len(short)} series shorter than {w + h} points (--n-prev {w} + {h}-step targets): "
                     f"{', '.join(short[:5])}{' ...' if len(short) > 5 else ''}")
    return SplitPlan(w, n_train, keep, notes)


@dataclass
class Stats:
    """Statistics fitted at training time, reused as-is when predicting."""

    n_prev: int
    season_length: int | None
    ids: list[str]
    scaler: Scaler
    cov_loc: np.ndarray
    cov_scale: np.ndarray
    ets: np.ndarray | None = None  # (S, 4) damped-trend smoothing alpha, beta, phi, weight (None: networks alone)
    theta: np.ndarray | None = None  # (S, 3) Theta method alpha, drift, weight (None: not in the forecast)


def prepare(panel: Panel, cfg: TrainConfig, stats: Stats | None = None, split: bool = True,
            n_train: np.ndarray | None = None, n_prev: int | None = None) -> Prepared:
    """Split by time, fit scalers on training points only, and build the model's input columns.

    With `stats` (from a checkpoint) nothing is refitted: the saved window, scaler and feature
    statistics are applied. With split=False the whole panel is history (forecasting past its end).
    `n_train` (S,) sets each series' training points explicitly (a backtest fold's origin)
    instead of --test-size; `n_prev` fixes the window (the final refit reuses the evaluation's).
    """
    if stats is not None:
        return _prepare_with(panel, cfg, stats, split)
    notes = list(panel.notes)
    if cfg.resolved_strategy == "recursive" and cfg.horizon > 1 and panel.feature_names:
        raise LstmcastError(
            "--strategy recursive cannot forecast past one step with --features (future feature values are "
            "unknown); use --strategy direct"
        )
    season = resolve_season(panel, cfg, n_train)
    cycle = bool(season and season > 1 and cfg.season_length is None
                 and season_length_for(panel.freq, panel.is_datetime) is None)  # found, not given by a calendar
    if cycle:
        notes.append(f"found a cycle of {season} steps in the autocorrelation; using it as the season "
                     "(set --season-length to choose)")
    h_model = cfg.model_horizon
    if n_train is not None:  # a backtest fold: the origins are given, only the window is checked
        n_train = np.asarray(n_train, dtype=np.int64)
        if n_prev is None:
            n_prev = (cfg.n_prev if cfg.n_prev is not None
                      else auto_n_prev(season, int(np.median(n_train)), h_model, cfg.deseason != "none"))
        need = n_prev + h_model + 1
        ok = (n_train >= need) & (panel.lengths - n_train >= cfg.horizon)
        if not ok.any() or (panel.n_series == 1 and not ok.all()):
            raise LstmcastError(
                f"the training part before the first origin has {int(n_train.max())} points but --n-prev {n_prev} "
                f"with {h_model}-step targets needs at least {need}; use fewer --folds, a smaller "
                "--step or a smaller --n-prev"
            )
        if not ok.all():
            short = [panel.ids[i] for i in np.flatnonzero(~ok)]
            notes.append(f"skipped {len(short)} series whose training part is shorter than {need} points: "
                         f"{', '.join(short[:5])}{' ...' if len(short) > 5 else ''}")
            panel, n_train = panel.select(ok), n_train[ok]
    else:
        plan = plan_split(panel.lengths, cfg, season, panel.ids, n_prev=n_prev)
        notes += plan.notes
        n_prev = plan.n_prev
        n_train = plan.n_train[plan.keep]
        if not plan.keep.all():
            panel = panel.select(plan.keep)
    train_ends = panel.starts[:-1] + n_train
    if cfg.fill is not None and not panel.observed.all():  # re-impute so training points read no test value
        panel = replace(panel, values=refill_training(panel.values, panel.observed, panel.starts, train_ends,
                                                      cfg.fill, panel.ids))

    cov_loc, cov_scale = np.zeros(0), np.ones(0)
    if panel.feature_names:
        sid = panel.series_index()
        tr = panel.covariates[np.arange(len(sid)) < train_ends[sid]]
        cov_loc, cov_scale = tr.mean(axis=0), tr.std(axis=0)
        cov_scale = np.where(cov_scale > 1e-12, cov_scale, 1.0)

    def adjusted(m: int | None) -> tuple[Prepared, Stats, np.ndarray]:
        """The inputs with season m removed, and the cycle each series' adjusted training part still has."""
        phase = season_phase(panel.time, panel.freq, panel.is_datetime, m or 1)
        scaler = Scaler(cfg.scaler).fit(panel.values, panel.starts, train_ends, phase=phase, m=m or 1,
                                        log=cfg.transform, deseason=cfg.deseason != "none")
        st = Stats(n_prev, m, list(panel.ids), scaler, cov_loc, cov_scale)
        pr = _build(panel, cfg, st, train_ends, notes)
        return pr, st, cycles(pr.target, pr.series_starts, train_ends)

    prep, stats, left = adjusted(season)
    week = weekly_season(prep, cfg, cycle, left) if panel.is_datetime else None
    if week:  # hour-of-week indices in place of hour-of-day ones
        notes.append(f"the series still cycle weekly after removing the daily season ({season} steps); using a "
                     f"week ({week} steps) as the season (set --season-length to choose)")
        prep, stats, left = adjusted(week)
    weight = ets_weights(cfg, prep, cycle, left)
    if weight.any():  # fitted on the scaled training points, as the networks see them
        params = smoothing.fit(prep.target, prep.series_starts, train_ends)
        prep.ets = stats.ets = np.column_stack([params, weight])
        theta = theta_weights(prep, weight)
        if theta.any():
            alpha_drift = smoothing.theta_fit(prep.target, prep.series_starts, train_ends)
            prep.theta = stats.theta = np.column_stack([alpha_drift, theta])
        if cfg.ets is None:
            off = int((weight == 0).sum())
            share = "two thirds" if _seasonal(prep) else "a third"
            prep.notes.append(f"a damped-trend exponential smoothing weighs {share} of the forecast"
                              + (f" of {len(weight) - off} series (not of {off} that still cycle after the "
                                 "seasonal adjustment)" if off else "")
                              + (", and the Theta method another third (no season)" if theta.any() else "")
                              + " (--no-ets: the networks alone)")
    return prep


def resolve_season(panel: Panel, cfg: TrainConfig, n_train: np.ndarray | None = None) -> int | None:
    """--season-length, else the frequency's (monthly 12, ...), else a clear cycle in the autocorrelation of
    the longest series' training part when the time has no calendar: its first 90%, and never a point of the
    largest test part --test-size and --horizon can give it (nor, with `n_train`, of a backtest fold's), so that
    no test value chooses the season."""
    if cfg.season_length is not None:
        if cfg.season_length > int(panel.lengths.max()):  # no cycle fits: nothing to learn, and its arrays grow with it
            raise LstmcastError(f"--season-length {cfg.season_length} is longer than the longest series "
                                f"({int(panel.lengths.max())} points); a season must repeat within the data")
        return cfg.season_length
    season = season_length_for(panel.freq, panel.is_datetime)
    if season is not None:
        return season
    n = panel.lengths if n_train is None else np.asarray(n_train, dtype=np.int64)
    s = int(np.argmax(n))
    known = int(n[s]) if n_train is not None else int(n[s]) - (
        min(int(n[s]), max(int(round(n[s] * cfg.test_size)), cfg.horizon)) if cfg.test_size > 0 else 0)
    lo = int(panel.starts[s])
    return detect_period(panel.values[lo:lo + min(int(0.9 * n[s]), known)])


def weekly_season(prep: Prepared, cfg: TrainConfig, cycle: bool, left: np.ndarray) -> int | None:
    """The steps in a week, for sub-daily data that most series still cycle at once the day's season is
    removed (hourly electricity: 168 after 24), to remove in its place, as MSTL or TBATS fit a second season.
    A series cycles weekly when its adjusted training part's cycle (`left`) is the week, or its autocorrelation
    peaks at the week all the same (a year of demand, whose slow swing hides the week from `cycles`). None when
    the season was given or found, is left in the data, or most series show no weekly cycle. Only the week: it
    is a whole number of days, where a year is not (a 364-day season drifts off daily data)."""
    season = prep.season_length
    if cfg.season_length is not None or cycle or not season or season < 2 or cfg.deseason == "none":
        return None
    step = fixed_step(prep.panel.freq)  # None for months, quarters, years, business days
    week = 7 * 86_400 * 10**9
    if step is None or week % step or week // step != 7 * season:
        return None
    steps = int(week // step)
    weekly = np.abs(left - steps) <= steps // 50  # the autocorrelation's peak, a step or two either side
    weekly |= peaks_at(prep.target, prep.series_starts, prep.train_ends, steps)
    return steps if 2 * int(weekly.sum()) > len(left) else None


def ets_weights(cfg: TrainConfig, prep: Prepared, cycle: bool, left: np.ndarray) -> np.ndarray:
    """(S,) the damped-trend smoothing's share of each series' forecast: --ets its share, --no-ets 0. The share
    is smoothing.WEIGHT, or SEASONAL_WEIGHT when the data have a season (the smoothing then runs on the adjusted
    series). By default that share, but 0 where a cycle is left that the networks can follow from the window and a
    damped trend would extrapolate swing by swing: for every series when the season is a `cycle` found in the
    autocorrelation, for a series whose adjusted training part still has one (sunspots, lynx, a weekly cycle in
    hourly data); and 0 with --features, which the smoothing cannot read (README: Results)."""
    n_series = prep.panel.n_series
    share = smoothing.SEASONAL_WEIGHT if _seasonal(prep) else smoothing.WEIGHT
    if cfg.ets is not None or cycle or prep.panel.feature_names:
        return np.full(n_series, share if cfg.ets else 0.0)
    return np.where(left > 0, 0.0, share)


def _seasonal(prep: Prepared) -> bool:
    """Whether the data have a season longer than one step (its indices may still be zero for some series)."""
    return prep.season_length is not None and prep.season_length > 1


def theta_weights(prep: Prepared, weight: np.ndarray) -> np.ndarray:
    """(S,) the Theta method's share of each series' forecast: smoothing.WEIGHT where the damped-trend smoothing
    has a share and the data have no season, else 0. Without a season the networks have the least to learn from
    the window, and a trend they or the damped trend carry on in the log can run away (a yearly series growing
    20% a year); Theta's straight half-slope line, a third beside them, held that on 17 yearly series of the two
    accuracy corpora (README: Results). Seasonal series get no Theta share."""
    if _seasonal(prep):
        return np.zeros_like(weight)
    return np.where(weight > 0, smoothing.WEIGHT, 0.0)


def use_calendar(cfg: TrainConfig, panel: Panel) -> bool:
    """--calendar as given; by default on for sub-daily datetime series, whose daily cycle the
    hour of day explains (it turned the hourly electricity backtest from a loss into a win)."""
    if cfg.calendar is not None:
        return cfg.calendar
    return panel.is_datetime and is_sub_daily(panel.freq)


def _build(panel: Panel, cfg: TrainConfig, stats: Stats, train_ends: np.ndarray, notes: list[str]) -> Prepared:
    """Model inputs (N, I): scaled target, scaled features, calendar."""
    sid = panel.series_index()
    phase = season_phase(panel.time, panel.freq, panel.is_datetime, stats.season_length or 1)
    target = stats.scaler.transform(panel.values, sid, phase).astype(np.float32)
    cols, names = [target[:, None]], [panel.target]
    if panel.feature_names:
        cols.append(((panel.covariates - stats.cov_loc) / stats.cov_scale).astype(np.float32))
        names += panel.feature_names
    future = np.zeros((len(sid), 0), np.float32)
    if use_calendar(cfg, panel):
        future = calendar_features(panel.time, panel.freq, panel.is_datetime)
        cols.append(future)
        names += calendar_names(panel.freq)
    inputs = np.concatenate(cols, axis=1).astype(np.float32, copy=False)  # every column is float32 already
    return Prepared(panel=panel, n_prev=stats.n_prev, season_length=stats.season_length, train_ends=train_ends,
                    scaler=stats.scaler, cov_loc=stats.cov_loc, cov_scale=stats.cov_scale, inputs=inputs,
                    target=target, future=future, input_names=names, notes=notes, phase=phase, ets=stats.ets,
                    theta=stats.theta)


def _prepare_with(panel: Panel, cfg: TrainConfig, stats: Stats, split: bool) -> Prepared:
    """Apply saved statistics to (possibly new) data of the same series."""
    if panel.feature_names != (list(cfg.features) or []):
        raise LstmcastError(f"the model was trained with --features {','.join(cfg.features) or '(none)'}; "
                            f"the data gives {','.join(panel.feature_names) or '(none)'}")
    where = {k: i for i, k in enumerate(stats.ids)}
    unknown = [i for i in panel.ids if i not in where]
    if unknown:
        raise LstmcastError(f"series {unknown[0]!r} was not in the training data ({len(unknown)} unknown series); "
                            f"the model knows: {', '.join(stats.ids[:5])}{' ...' if len(stats.ids) > 5 else ''}")
    rows = np.array([where[i] for i in panel.ids], dtype=np.int64)
    sc = stats.scaler
    scaler = sc.select(rows)
    lengths = panel.lengths
    if split:
        need = stats.n_prev + cfg.model_horizon
        if int(lengths.max()) < need:  # plan_split's advice is train's (--n-prev); this model's window is fixed
            raise LstmcastError(f"the data have {int(lengths.max())} points at most; this model's window of "
                                f"{stats.n_prev} and {cfg.model_horizon}-step targets need at least {need}: pass the "
                                "series' whole history, as the training file had it")
        plan = plan_split(lengths, cfg, stats.season_length, list(panel.ids), n_prev=stats.n_prev)
        n_train = plan.n_train
        short = ~plan.keep
    else:
        n_train = lengths.copy()
        short = lengths < stats.n_prev
    if short.any():
        i = int(np.flatnonzero(short)[0])
        name = f"series {panel.ids[i]!r}" if panel.ids[i] else "the series"
        need = stats.n_prev + (cfg.model_horizon if split else 0)
        raise LstmcastError(f"{name} has {int(lengths[i])} points; this model's --n-prev {stats.n_prev} needs at "
                            f"least {need}" + ("" if split else "; --data replaces the training file's history: "
                                               "pass the history with the new rows appended"))
    local = Stats(stats.n_prev, stats.season_length, list(panel.ids), scaler, stats.cov_loc, stats.cov_scale,
                  None if stats.ets is None else stats.ets[rows], None if stats.theta is None else stats.theta[rows])
    train_ends = panel.starts[:-1] + n_train
    if cfg.fill is not None and not panel.observed.all():
        panel = replace(panel, values=refill_training(panel.values, panel.observed, panel.starts, train_ends,
                                                      cfg.fill, panel.ids))
    return _build(panel, cfg, local, train_ends, list(panel.notes))


def training_windows(prep: Prepared, h_model: int, val_size: float) -> tuple[np.ndarray, np.ndarray]:
    """Origins of training and validation windows: all targets inside each series' training part;
    validation takes the last `val_size` of each series' windows (in time), and the h_model - 1 origins
    before it are dropped (a gap, as TimeSeriesSplit(gap=...)) so no training target is a validation target."""
    starts = prep.series_starts
    origins = window_origins(starts, prep.train_ends, prep.n_prev, h_model, starts)
    if val_size <= 0:
        return origins, origins[:0]
    sid = np.searchsorted(prep.panel.starts, origins, side="right") - 1
    n_win = np.bincount(sid, minlength=len(starts))
    n_val = np.where(n_win > 1, np.ceil(n_win * val_size), 0).astype(np.int64)
    # A series with no room for a training window before the gap keeps all its windows for training.
    n_val = np.where(n_win - n_val - (h_model - 1) >= 1, n_val, 0)
    first_val = prep.train_ends - h_model + 1 - n_val  # origins >= this are validation
    is_val = origins >= first_val[sid]
    # A training window's last target, origin + h_model - 1, must come before the first validation target.
    in_gap = ~is_val & (n_val[sid] > 0) & (origins + h_model > first_val[sid])
    return origins[~is_val & ~in_gap], origins[is_val]
