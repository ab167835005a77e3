"""TrainConfig: every choice a training run makes, saved in the checkpoint as plain data."""

from __future__ import annotations

import difflib
import numbers
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from .cells import CELLS  # the registries own the names: config, CLI and checkpoint read them from there
from .errors import LstmcastError
from .losses import LOSSES

__all__ = ["TrainConfig", "kind_problem", "CELLS", "LOSSES", "OPTIMIZERS", "SCALERS", "FILLS", "STRATEGIES", "DEVICES", "WINDOW_NORMS", "TRANSFORMS", "DESEASONS", "PRECISIONS", "TRAININGS"]

MAX_SEED = 2**62  # seeds below it in size leave room for seed + k (networks, folds, compare's seeds)
OPTIMIZERS = ("rmsprop", "adam")
SCALERS = ("standard", "minmax", "none")
FILLS = ("interpolate", "ffill", "zero", "drop")
STRATEGIES = ("direct", "recursive")
DEVICES = ("auto", "cpu", "cuda")
WINDOW_NORMS = ("auto", "last", "mean", "season", "none")
TRANSFORMS = ("auto", "none")
DESEASONS = ("auto", "none")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
TRAININGS = ("both", "windows", "forking")


@dataclass
class TrainConfig:
    """Data columns, split, model, loss and optimiser settings; defaults are the tutorial's model."""

    # data
    column: str | None = None
    time_column: str | None = None
    id_column: str | None = None
    features: list[str] = field(default_factory=list)
    calendar: bool | None = None  # None: on for sub-daily datetime series
    fill: str | None = None
    freq: str | None = None
    season_length: int | None = None
    # windows and split
    n_prev: int | None = None  # None means "auto": 3 seasons (30 steps without one), bounded by the data
    horizon: int = 1
    strategy: str | None = None  # None: direct for horizon > 1, recursive for horizon 1
    test_size: float = 0.1  # at least one horizon when the series allows it; 0: no hold-out, fit on all
    # 0: a fixed training budget, no epoch picked on validation (NeuralForecast's default too): on the 38-series
    # benchmark, picking the best epoch on 5% of the windows chose epochs as early as 1 and cost accuracy
    val_size: float = 0.0
    refit: bool = True  # after the hold-out evaluation, refit on every point for the forecast model
    # model
    cell: str = "lstm"
    hidden: int = 64
    layers: int = 1
    dropout: float = 0.0
    loss: str = "mse"
    ensemble: int | None = None  # networks (None: 10 with training "both", else 5); see member_trainings
    quantiles: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9])
    # optimisation
    epochs: int | None = None  # None: 15, more on short series (see epochs_for)
    batch_size: int | None = None  # None: 600 (the tutorial's), fewer when an epoch would have < 16 steps
    lr: float = 1e-3
    optimizer: str = "rmsprop"
    scaler: str = "standard"
    transform: str = "auto"  # auto: log of every series whose training points are all positive; forecasts of one
    # never below zero floored at zero
    deseason: str = "auto"  # auto: remove significant seasonal indices (classical decomposition) before scaling
    window_norm: str = "auto"
    patience: int | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # auto: fp32 everywhere (train.resolve_precision says why)
    threads: int | None = None  # torch CPU threads; None: torch's default (one per core)
    # windows: each window encoded afresh; forking: one pass, a loss at every position; both: half of each
    training: str = "both"
    # a damped-trend exponential smoothing of each series weighs a third of the forecast, two thirds on seasonal data
    # (see smoothing.py); None: on, but not for a series that cycles (prepare.ets_weights) nor with --features
    ets: bool | None = None
    compile: bool = False  # torch.compile the network for training (falls back to eager with a note)

    def __post_init__(self) -> None:
        if self.n_prev == "auto":  # how the CLI and config files spell None
            self.n_prev = None
        for f in fields(self):  # numpy's numbers (np.int64(8)) as Python's, so torch and json take them
            value = getattr(self, f.name)
            if isinstance(value, np.bool_):
                setattr(self, f.name, bool(value))
            elif isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_, int)):
                setattr(self, f.name, int(value))
            elif isinstance(value, np.floating) and not isinstance(value, float):  # np.float32(0.01) is 0.01,
                setattr(self, f.name, float(np.format_float_positional(value, unique=True)))  # not 0.0099999998
            elif isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_, int, float)):
                setattr(self, f.name, float(value))
        self.validate()

    @property
    def resolved_strategy(self) -> str:
        """The strategy actually used: direct for multi-step unless recursive was asked."""
        if self.strategy is not None:
            return self.strategy
        return "direct" if self.horizon > 1 else "recursive"

    @property
    def model_horizon(self) -> int:
        """Steps the network's head emits: H for direct, 1 for recursive."""
        return self.horizon if self.resolved_strategy == "direct" else 1

    @property
    def networks(self) -> int:
        """Networks in the ensemble: --ensemble, else 10 with --training both (5 of each kind), else 5."""
        if self.ensemble is not None:
            return self.ensemble
        return 10 if self.training == "both" else 5

    def member_trainings(self) -> list[str]:
        """How each network trains, in training order. both: the first half (rounded up) on windows, the
        rest forking; all on windows when --window-norm mean or none leaves forking no anchor."""
        k = self.networks
        if self.training == "both":
            if self.window_norm in ("mean", "none"):
                return ["windows"] * k
            return ["windows"] * (k - k // 2) + ["forking"] * (k // 2)
        return [self.training] * k

    def batch_for(self, n_windows: int) -> int:
        """The batch size used: --batch-size if given, else 600 (the tutorial's) lowered so that an epoch
        has at least 16 optimiser steps, never below 32."""
        if self.batch_size is not None:
            return self.batch_size
        return int(min(600, max(32, -(-n_windows // 16))))

    def epochs_for(self, n_windows: int, batch: int) -> int:
        """The epochs run: --epochs if given, else 15, raised on short series so that training takes at
        least 240 optimiser steps (at most 300 epochs): 15 epochs of 2 batches teach a network nothing."""
        if self.epochs is not None:
            return self.epochs
        steps = -(-n_windows // batch)
        return int(min(300, max(15, -(-240 // steps))))

    def validate(self) -> None:
        """Raise LstmcastError naming the flag for any impossible value."""
        self._check_types()
        _choice("--cell", self.cell, CELLS)
        _choice("--loss", self.loss, LOSSES)
        _choice("--optimizer", self.optimizer, OPTIMIZERS)
        _choice("--scaler", self.scaler, SCALERS)
        _choice("--device", self.device, DEVICES)
        _choice("--precision", self.precision, PRECISIONS)
        _choice("--training", self.training, TRAININGS)
        if self.training == "forking" and self.window_norm in ("mean", "none"):
            raise LstmcastError(f"--training forking anchors every position's forecast on its last value and needs "
                                f"--window-norm last, season or auto; got --window-norm {self.window_norm} (use "
                                "--training windows for it)")
        if self.threads is not None:
            _at_least("--threads", self.threads, 1)
        _choice("--window-norm", self.window_norm, WINDOW_NORMS)
        _choice("--transform", self.transform, TRANSFORMS)
        _choice("--deseason", self.deseason, DESEASONS)
        if self.fill is not None:
            _choice("--fill", self.fill, FILLS)
        if self.strategy is not None:
            _choice("--strategy", self.strategy, STRATEGIES)
        if self.n_prev is not None:
            _at_least("--n-prev", self.n_prev, 1)
        _at_least("--horizon", self.horizon, 1)
        _at_least("--hidden", self.hidden, 1)
        _at_least("--layers", self.layers, 1)
        if self.ensemble is not None:
            _at_least("--ensemble", self.ensemble, 1)
        if self.epochs is not None:
            _at_least("--epochs", self.epochs, 1)
        if self.batch_size is not None:
            _at_least("--batch-size", self.batch_size, 1)
        if self.patience is not None:
            _at_least("--patience", self.patience, 1)
        if self.season_length is not None:
            _at_least("--season-length", self.season_length, 1)
        if abs(self.seed) >= MAX_SEED:  # seed + k seeds the k-th network or fold: keep them within torch's 64 bits
            raise LstmcastError(f"--seed must be between -{MAX_SEED - 1} and {MAX_SEED - 1}, got {self.seed}")
        if not 0.0 <= self.test_size < 1.0:
            raise LstmcastError(f"--test-size must be in [0, 1) (0: no hold-out), got {self.test_size}")
        if not 0.0 <= self.val_size < 1.0:
            raise LstmcastError(f"--val-size must be in [0, 1), got {self.val_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise LstmcastError(f"--dropout must be in [0, 1), got {self.dropout}")
        if not self.lr > 0.0:
            raise LstmcastError(f"--lr must be positive, got {self.lr}")
        if self.loss == "quantile":
            qs = list(self.quantiles)
            if not qs or any(not 0.0 < q < 1.0 for q in qs) or sorted(set(qs)) != qs:
                raise LstmcastError(
                    f"--quantiles must be increasing, distinct and inside (0, 1), got {','.join(map(str, qs))}"
                )
        if self.id_column is not None and self.id_column in self.features:
            raise LstmcastError(f"--id-column {self.id_column!r} cannot also be a --features column")

    def _check_types(self) -> None:
        """Each setting of the kind its annotation names (a bool is no number here, 2.0 no whole number), so a
        wrong type from Python (hidden='8', refit='yes') is one error up front, not a TypeError mid-training."""
        for f in fields(self):
            value = getattr(self, f.name)
            words = kind_problem(f.name, value)
            if words:
                raise LstmcastError(f"--{f.name.replace('_', '-')} must be {words}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for the checkpoint (str/int/float/list/None only)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Rebuild from `to_dict()`, ignoring keys a newer version may have added."""
        known = {f.name for f in fields(cls)}
        d = {"training": "windows", **d}  # written before --training existed: windows was all there was
        return cls(**{k: v for k, v in d.items() if k in known})


_KIND_WORDS = {"int": "a whole number", "float": "a number", "bool": "True or False", "str": "text",
               "None": "None (automatic)", "list[str]": "a list of names", "list[float]": "a list of numbers"}


def kind_problem(name: str, value: Any) -> str | None:
    """The kinds the TrainConfig field `name` takes, in words, when `value` is none of them; None when it fits (or
    there is no such field)."""
    f = _FIELDS.get(name)
    if f is None:
        return None
    kinds = [k.strip() for k in str(f.type).split("|")]
    if any(_is_kind(value, k) for k in kinds):
        return None
    return " or ".join(_KIND_WORDS.get(k, k) for k in kinds)


def _is_kind(value: Any, kind: str) -> bool:
    """Whether `value` is of the annotated kind `kind` ('int', 'float', 'str | None', 'list[float]', ...)."""
    number = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if kind == "int":
        return number and isinstance(value, numbers.Integral)
    if kind == "float":
        return number
    if kind == "list[float]":
        return isinstance(value, (list, tuple)) and all(_is_kind(v, "float") for v in value)
    if kind == "list[str]":
        return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    return isinstance(value, {"bool": (bool, np.bool_), "str": str, "None": type(None)}.get(kind, object))


_FIELDS = {f.name: f for f in fields(TrainConfig)}


def _choice(flag: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        near = difflib.get_close_matches(str(value), allowed, n=1)
        raise LstmcastError(f"{flag} must be one of {', '.join(allowed)}; got {value!r}"
                            + (f"; did you mean {near[0]!r}?" if near else ""))


def _at_least(flag: str, value: int, low: int) -> None:
    if value < low:
        raise LstmcastError(f"{flag} must be at least {low}, got {value}")
