"""LSTMForecaster: the estimator API (fit a DataFrame or a file, predict, evaluate, save, load)."""

from __future__ import annotations

import copy
import difflib
import io
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .checkpoint import Checkpoint, load_checkpoint
from .config import (DESEASONS, DEVICES, FILLS, OPTIMIZERS, PRECISIONS, SCALERS, STRATEGIES, TRAININGS, TRANSFORMS,
                     WINDOW_NORMS, TrainConfig)
from .configfile import flags_from_config, to_toml
from .data import EXACT_FLOATS, IN_MEMORY, read_written
from .errors import LstmcastError
from .forecast import forecast_future, interval_columns, report_levels
from .io import atomic_path, run_folder
from .run import train_run
from .train import EpochInfo, Fitted

__all__ = ["LSTMForecaster", "DATA_FIELDS", "LONG_COLUMNS"]

# What describes the data (given to fit) rather than the model: TrainConfig field -> fit() argument.
DATA_FIELDS = {"column": "target_col", "time_column": "time_col", "id_column": "id_col", "features": "features",
               "fill": "fill", "freq": "freq"}
LONG_COLUMNS = ("unique_id", "ds", "y")  # statsforecast's and NeuralForecast's long shape
RUN_FILES = ("model.pt", "history.csv", "metrics.json", "test_predictions.csv", "config.toml")


# An error names the CLI's flags (--fill drop, --n-prev 19); from Python it names fit()'s and the settings' names.
_CHOICES = sorted({*DESEASONS, *DEVICES, *FILLS, *OPTIMIZERS, *PRECISIONS, *SCALERS, *STRATEGIES, *TRAININGS,
                   *TRANSFORMS, *WINDOW_NORMS}, key=len, reverse=True)
_FLAG = re.compile(r"--(no-)?([a-z][a-z0-9-]*)(?: (\d[\d.e+-]*|'[^']*'|[a-z]+(?:\|[a-z]+)+|"
                   + "|".join(_CHOICES) + r")(?![\w|-]))?")
_PARAMS = {"column": "target_col", "time-column": "time_col", "id-column": "id_col", "out": "path"}


def python_terms(message: str) -> str:
    """`message` with each CLI flag as the Python name that sets it: '--fill drop' as "fill='drop'", '--n-prev
    auto' as 'n_prev=None', '--no-ets' as 'ets=False', '--id-column' as 'id_col'."""
    def name(m: re.Match[str]) -> str:
        key = _PARAMS.get(m[2], m[2].replace("-", "_"))
        value = m[3]
        if m[1]:
            return f"{key}=False" + (f" {value}" if value else "")
        if value is None:
            return key
        if value == "auto" and key == "n_prev":
            return "n_prev=None"
        if "|" in value:
            *first, last = [repr(v) for v in value.split("|")]
            return f"{key}={', '.join(first)} or {last}"
        literal = value[0] == "'" or value[0].isdigit()  # a number or a quoted name stays as it is written
        return f"{key}={value if literal else repr(value)}"

    return _FLAG.sub(name, message)


@contextmanager
def _python_terms() -> Iterator[None]:
    """Errors raised inside the block speak of Python names, not CLI flags (python_terms)."""
    try:
        yield
    except LstmcastError as e:
        e.args = (python_terms(str(e)),)
        raise


class LSTMForecaster:
    """An LSTM forecaster in the scikit-learn manner: settings in the constructor, data in `fit`.

    `LSTMForecaster(horizon=12, hidden=32)` takes any TrainConfig model/training setting by name (or a
    whole `config=TrainConfig(...)`); the columns, ids, fill and frequency are `fit`'s arguments. `fit` runs
    the same two stages as `lstmcast train` (an evaluation model scored on the held-out end, then the
    forecast model refit on every point), so the same data and seed give the CLI's forecast."""

    def __init__(self, config: TrainConfig | None = None, *, samples: int = 200, **settings: Any) -> None:
        known = {f.name for f in fields(TrainConfig)}
        for key in settings:
            if key in DATA_FIELDS:
                raise LstmcastError(f"{key!r} describes the data, not the model: pass {DATA_FIELDS[key]}= to fit()")
            if key not in known:
                near = difflib.get_close_matches(key, sorted(known - set(DATA_FIELDS)), n=1)
                raise LstmcastError(f"unknown setting {key!r}" + (f"; did you mean {near[0]!r}?" if near else
                                    f"; settings are: {', '.join(sorted(known - set(DATA_FIELDS)))}"))
        if samples < 1:
            raise LstmcastError(f"samples must be at least 1, got {samples}")
        if config is not None and not isinstance(config, TrainConfig):
            raise LstmcastError(f"config must be a TrainConfig (or left out, with settings by name), got "
                                f"{type(config).__name__}")
        with _python_terms():
            self.config = replace(config or TrainConfig(), **settings)  # replace() validates through __post_init__
        self.samples = samples
        self._ids: tuple[dict[str, Any], Any] | None = None  # fit's ids by their text, and their dtype
        self._final: Fitted | None = None
        self._files: dict[str, bytes] = {}
        # The fitted attributes (checkpoint_, metrics_, notes_, history_, holdout_predictions_, interrupted_; and
        # backtest_metrics_ after backtest) exist only once set, as scikit-learn's check_is_fitted expects.

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The settings by name, as scikit-learn's estimators give them (so sklearn.base.clone copies this one):
        every model and training setting of TrainConfig and `samples`; the data's own (columns, fill,
        frequency) belong to fit()."""
        params = {f.name: getattr(self.config, f.name) for f in fields(TrainConfig) if f.name not in DATA_FIELDS}
        return {**params, "samples": self.samples}

    def set_params(self, **params: Any) -> LSTMForecaster:
        """Change settings by name (as the constructor takes them) -> self; a fitted model stays as it was fitted
        until the next fit()."""
        samples = params.pop("samples", self.samples)
        checked = LSTMForecaster(self.config, samples=samples, **params)  # the constructor's checks and messages
        self.config, self.samples = checked.config, checked.samples
        return self

    def __repr__(self) -> str:
        default = TrainConfig()
        changed = [f"{f.name}={getattr(self.config, f.name)!r}" for f in fields(TrainConfig)
                   if getattr(self.config, f.name) != getattr(default, f.name)]
        return f"LSTMForecaster({', '.join(changed)})"

    def fit(self, data: pd.DataFrame | pd.Series | str | Path, *, target_col: str | None = None,
            time_col: str | None = None, id_col: str | None = None, features: list[str] | None = None,
            fill: str | None = None, freq: str | None = None,
            on_epoch: Callable[[EpochInfo], None] | None = None) -> LSTMForecaster:
        """Train on a DataFrame, a Series (its index as the time) or a CSV/Parquet file -> self.

        Columns are found as by `lstmcast train` (the time column by name or dates, the only numeric column
        as the target). A frame with `unique_id`, `ds` and `y` columns (the long shape of statsforecast and
        NeuralForecast) is read as many series, unless columns are named. `on_epoch` sees every epoch."""
        if on_epoch is not None and not callable(on_epoch):
            raise LstmcastError(f"on_epoch must be a function of one EpochInfo, got {type(on_epoch).__name__}")
        with _python_terms():
            return self._fit(data, target_col, time_col, id_col, features, fill, freq, on_epoch)

    def _fit(self, data: pd.DataFrame | pd.Series | str | Path, target_col: str | None, time_col: str | None,
             id_col: str | None, features: list[str] | None, fill: str | None, freq: str | None,
             on_epoch: Callable[[EpochInfo], None] | None) -> LSTMForecaster:
        cfg, frame, columns = self._data_config(data, target_col, time_col, id_col, features, fill, freq)
        self._ids = _id_types(frame, columns, cfg.id_column)  # ids come back as the frame held them (7, not "7")
        text = to_toml(flags_from_config(cfg, self.samples),
                       ["Settings of a run fitted with lstmcast's Python API (LSTMForecaster). The same run from the",
                        "shell: lstmcast train DATA --out RUN --config config.toml"])
        with tempfile.TemporaryDirectory(prefix="lstmcast-") as tmp, _named(data, Path(tmp)):
            src = _as_file(data, frame, columns, Path(tmp))
            result = train_run(src, cfg, Path(tmp) / "run", on_epoch=on_epoch, samples=self.samples,
                               settings=("config.toml", text), recorded=IN_MEMORY if frame is not None else None)
            self._adopt(Path(tmp) / "run")
        self.notes_ = (["sorted the DataFrame's rows by time"] if frame is not None and frame.attrs.get("sorted")
                       else []) + [python_terms(n) for n in result.notes]
        self.interrupted_ = result.interrupted
        if result.interrupted:
            warnings.warn("training was interrupted; the model kept is the best one so far", stacklevel=2)
        return self

    def backtest(self, data: pd.DataFrame | pd.Series | str | Path, *, folds: int = 3,
                 horizon: int | None = None, step: int | None = None, retrain: str = "always",
                 target_col: str | None = None, time_col: str | None = None, id_col: str | None = None,
                 features: list[str] | None = None, fill: str | None = None, freq: str | None = None) -> pd.DataFrame:
        """Rolling-origin evaluation with these settings, as `lstmcast backtest` (statsforecast's
        cross_validation): `folds` origins `step` apart (default: the horizon) at the end of every series, a
        model trained before each (retrain="never": once, at the first) and the baselines on the same targets
        -> the long forecast table (fold, cutoff, step, actual, the model's column "lstm" and the baselines'
        columns). The scores per fold and their mean are left in `backtest_metrics_`. Needs no fit()."""
        from .backtest import RETRAIN, backtest as run_backtest
        from .run import load_for

        if retrain not in RETRAIN:
            raise LstmcastError(f"retrain must be one of {', '.join(RETRAIN)}; got {retrain!r}")
        with _python_terms():
            cfg, frame, columns = self._data_config(data, target_col, time_col, id_col, features, fill, freq)
            h = cfg.horizon if horizon is None else horizon
            cfg = replace(cfg, horizon=h)
            with tempfile.TemporaryDirectory(prefix="lstmcast-") as tmp, _named(data, Path(tmp)):
                panel = load_for(_as_file(data, frame, columns, Path(tmp)), cfg)
            result = run_backtest(panel, {"lstm": cfg}, h, folds, step, retrain, self.samples)
        self.backtest_metrics_ = {**result.metrics, "notes": list(result.notes)}
        return self._typed(result.forecasts, panel.id_name, [panel.time_name, "cutoff"], panel.is_datetime,
                           _id_types(frame, columns, cfg.id_column))

    def _typed(self, df: pd.DataFrame, id_col: str | None, times: list[str], is_datetime: bool,
               ids: tuple[dict[str, Any], Any] | None = None) -> pd.DataFrame:
        """A table the jobs wrote as text, in the types of the data given to fit (or to backtest: `ids`): the ids
        as the frame held them (7, not "7"; a category stays one) and the times as datetimes (UTC-aware when
        marked +00:00)."""
        ids = ids if ids is not None else self._ids
        out = df.copy()
        if ids is not None and id_col in out.columns:
            mapping, dtype = ids
            out[id_col] = out[id_col].map(mapping).astype(dtype)
        for c in (c for c in times if is_datetime and c in out.columns and out[c].dtype.kind not in "Mm"):
            text = out[c].astype(str)
            out[c] = pd.to_datetime(text, format="ISO8601", utc=bool(text.str.endswith("+00:00").all()))
        return out

    def _data_config(self, data: pd.DataFrame | pd.Series | str | Path, target_col: str | None,
                     time_col: str | None, id_col: str | None, features: list[str] | None, fill: str | None,
                     freq: str | None) -> tuple[TrainConfig, pd.DataFrame | None, list[str]]:
        """The settings with what describes this data filled in, the frame (None for a file), its columns."""
        cfg = self.config
        # checked here, not when set: a grid search sets loss over an estimator whose quantiles are not the default
        if cfg.loss != "quantile" and cfg.quantiles != TrainConfig().quantiles:
            raise LstmcastError(f"quantiles sets the levels of loss='quantile', but the loss is {cfg.loss!r}; "
                                "pass loss='quantile', or leave quantiles out")
        if isinstance(features, str):  # "temp" or "temp,promo", as a config file takes them: not its characters
            features = [f.strip() for f in features.split(",") if f.strip()]
        given = {"column": target_col, "time_column": time_col, "id_column": id_col, "features": features,
                 "fill": fill, "freq": freq}
        data_cfg = {k: (v if v is not None else getattr(cfg, k)) for k, v in given.items()}
        data_cfg["features"] = list(data_cfg["features"] or [])
        if isinstance(data, (np.ndarray, list, tuple)) and np.ndim(data) == 1:
            data = pd.Series(np.asarray(data), name="y")  # a plain array: one series on integer steps
        frame = (_series_frame(data) if isinstance(data, pd.Series)
                 else _indexed_frame(data) if isinstance(data, pd.DataFrame) else None)
        if frame is None and not isinstance(data, (str, Path)):
            shape = f" of shape {np.shape(data)}" if isinstance(data, (np.ndarray, list, tuple)) else ""
            raise LstmcastError(f"expected a DataFrame, a Series, a 1-D array or a file path, got "
                                f"{type(data).__name__}{shape}")
        if frame is not None and len(frame) == 0:
            raise LstmcastError("the DataFrame has no rows" if isinstance(data, pd.DataFrame) else "the series is empty")
        columns = [str(c) for c in frame.columns] if frame is not None else _file_columns(Path(data))
        if (all(data_cfg[k] is None for k in ("column", "time_column", "id_column"))
                and set(LONG_COLUMNS) <= set(columns)):
            data_cfg.update(column="y", time_column="ds", id_column="unique_id")
        if frame is not None:
            frame = _in_time_order(frame, columns, data_cfg["time_column"], data_cfg["id_column"])
        return replace(cfg, **data_cfg), frame, columns

    def _adopt(self, run_dir: Path, ckpt: Checkpoint | None = None) -> None:
        """Hold a run folder's files in memory (for save) and its final model (for predict)."""
        self._files = {name: (run_dir / name).read_bytes() for name in RUN_FILES if (run_dir / name).exists()}
        self.checkpoint_ = ckpt or load_checkpoint(run_dir)
        self._final = self.checkpoint_.fitted(split=False)
        self.metrics_ = copy.deepcopy(self.checkpoint_.metrics)
        self.notes_ = [python_terms(n) for n in self.metrics_.get("notes", [])]
        self.history_ = pd.read_csv(io.BytesIO(self._files["history.csv"]), **EXACT_FLOATS) if "history.csv" in self._files else None
        preds = self._files.get("test_predictions.csv")
        ids = self.checkpoint_.data["id_name"]  # series ids as written: 007 is not 7
        self.holdout_predictions_ = self._typed(read_written(io.BytesIO(preds), ids, **EXACT_FLOATS), ids,
                                                [self.checkpoint_.data["time_name"], "cutoff"],
                                                self.checkpoint_.data["is_datetime"]) if preds else None
        self.interrupted_ = bool(self.metrics_.get("interrupted", False))

    def _fitted(self) -> Fitted:
        if self._final is None or getattr(self, "checkpoint_", None) is None:
            raise LstmcastError("this LSTMForecaster is not fitted yet; call fit(data) or LSTMForecaster.load(dir)")
        return self._final

    def predict(self, h: int | None = None) -> pd.DataFrame:
        """Forecast h steps (default: the trained horizon) past the end of every series with the final model
        -> DataFrame unique_id, ds, forecast [, forecast_lo_80, forecast_hi_80, ...]. A single series without
        an id column gets the target column's name as its unique_id."""
        fitted = self._fitted()
        h = fitted.config.horizon if h is None else h
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1:
            raise LstmcastError(f"h must be a whole number of steps, at least 1; got {h!r}")
        with _python_terms():
            try:
                times, point, q = forecast_future(fitted, int(h), samples=self.samples, seed=fitted.config.seed)
            except MemoryError:
                raise LstmcastError(f"not enough memory to forecast h={h} steps; ask for fewer") from None
        panel = fitted.prep.panel
        ids = list(panel.ids) if panel.id_name is not None else [panel.target]
        ds = times.reshape(-1)
        if panel.is_datetime:  # times read from UTC offsets stay marked as UTC
            ds = pd.DatetimeIndex(ds).tz_localize("UTC") if panel.utc else pd.DatetimeIndex(ds).to_numpy()
        elif np.all(np.mod(ds, 1) == 0):
            ds = ds.astype(np.int64)
        uid = np.repeat(np.asarray(ids, dtype=object), h)
        if self._ids is not None and panel.id_name is not None:
            uid = pd.Series(uid).map(self._ids[0]).astype(self._ids[1])  # a Series: a category stays one
        cols: dict[str, Any] = {"unique_id": uid, "ds": ds,
                                "forecast": point.reshape(-1)}
        if q is not None:
            flat = q.reshape(-1, q.shape[-1])
            for name, i in interval_columns("forecast", report_levels(fitted)):
                cols[name] = flat[:, i]
        return pd.DataFrame(cols)

    def evaluate(self) -> dict[str, Any]:
        """The evaluation model's scores on the held-out end, beside the baselines (metrics.json's content)."""
        self._fitted()
        if not self.metrics_.get("holdout", True):
            raise LstmcastError("this model has no held-out test part (test_size=0, or the series was too short to "
                                "spare one), so there is nothing to evaluate")
        return copy.deepcopy(self.metrics_)

    def save(self, path: str | Path) -> Path:
        """Write the run folder (model.pt, history.csv, metrics.json, test_predictions.csv, config.toml):
        `lstmcast predict DIR --horizon N` and `LSTMForecaster.load(DIR)` both read it."""
        self._fitted()
        with _python_terms(), run_folder(Path(path), RUN_FILES) as stage:
            for name, blob in self._files.items():
                with atomic_path(stage / name) as tmp:
                    tmp.write_bytes(blob)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, *, samples: int = 200) -> LSTMForecaster:
        """A fitted forecaster from a folder written by save() or `lstmcast train`."""
        ckpt = load_checkpoint(Path(path))
        est = cls(config=ckpt.config, samples=samples)
        est._adopt(ckpt.path.parent, ckpt)
        return est


def _id_types(frame: pd.DataFrame | None, columns: list[str], id_col: str | None
              ) -> tuple[dict[str, Any], Any] | None:
    """A frame's series ids by the text the jobs write them as, and the id column's dtype; None for a file."""
    if frame is None or id_col not in columns:
        return None
    col = frame.iloc[:, columns.index(id_col)]
    return {str(v): v for v in col.unique()}, col.dtype


def _series_frame(data: pd.Series) -> pd.DataFrame:
    """One series as a frame: its values under its name (or "y"), its index as the time column (named "ds"
    when unnamed; periods as their start) unless it is the default 0..n-1 range."""
    name = str(data.name) if data.name is not None else "y"
    index = data.index
    if isinstance(index, pd.MultiIndex):  # (id, time) levels, as df.set_index(["store", "date"])["sales"] leaves
        if any(n is None for n in index.names) or name in index.names:
            raise LstmcastError("a Series with a MultiIndex needs its levels named, each unlike the Series: name "
                                "them with s.rename_axis(['id', 'time']), then fit(s, id_col='id', time_col='time')")
        return data.rename(name).reset_index()
    if isinstance(index, pd.PeriodIndex):
        index = index.to_timestamp()
    if index.name is None and index.equals(pd.RangeIndex(len(index))):
        return pd.DataFrame({name: data.to_numpy()})
    time = str(index.name) if index.name is not None else ("ds" if name != "ds" else "time")
    return pd.DataFrame({time: index, name: data.to_numpy()})


def _indexed_frame(data: pd.DataFrame) -> pd.DataFrame:
    """A frame with its index as a column where the index holds data: a named index (df.set_index("date")),
    or an unnamed one of dates or periods (named "ds", or "time" beside a "ds" column; periods as their
    start). Any other unnamed index (row labels left by filtering or sorting) is not data."""
    index = data.index
    if isinstance(index, pd.MultiIndex):
        return data.reset_index() if all(n is not None for n in index.names) else data
    if isinstance(index, pd.PeriodIndex):
        index = index.to_timestamp()
    if index.name is None and not isinstance(index, pd.DatetimeIndex):
        return data
    name = index.name if index.name is not None else ("ds" if "ds" not in data.columns else "time")
    if name in data.columns:
        raise LstmcastError(f"the DataFrame's index and one of its columns are both named {str(name)!r}; "
                            "rename one, or drop the index with df.reset_index(drop=True)")
    out = data.copy()
    out.index = pd.RangeIndex(len(out))
    out.insert(0, name, index)
    return out


@contextmanager
def _named(data: pd.DataFrame | pd.Series | str | Path, tmp: Path) -> Iterator[None]:
    """Errors raised inside the block name the DataFrame or the series, not the file in `tmp` it was written
    to for the job (`data.parquet`, which the user never made), and its rows by position (as iloc counts
    them), not by that file's lines."""
    try:
        yield
    except LstmcastError as e:
        if not isinstance(data, (str, Path)):
            what = "the series" if isinstance(data, pd.Series) or np.ndim(data) == 1 else "the DataFrame"
            text = str(e).replace(str(tmp / "data.parquet"), what).replace(
                "write the file long (", "make the frame long with df.melt (")
            text = _LINES.sub(lambda m: f"rows {int(m[1]) - 2}-{int(m[2]) - 2} (counting from 0)", text)
            e.args = (_LINE.sub(lambda m: f"row {int(m[1]) - 2} (counting from 0)", text),)
        raise


_LINE, _LINES = re.compile(r"\bline (\d+)\b"), re.compile(r"\blines (\d+)-(\d+)\b")


def _in_time_order(frame: pd.DataFrame, columns: list[str], time_col: str | None, id_col: str | None) -> pd.DataFrame:
    """The frame's rows in time order (within each series, the series in their order of first appearance), when
    its time column holds datetimes or numbers already: rows a merge or a groupby left out of order. A file is
    never reordered (a step back there may be a misread date); neither is a frame whose time column is text."""
    names = dict(zip(columns, frame.columns))
    if time_col is None:
        dated = [c for c in columns if frame[names[c]].dtype.kind == "M"]
        time_col = dated[0] if len(dated) == 1 else None
    if time_col not in names or frame[names[time_col]].dtype.kind not in "Miuf":
        return frame
    time = frame[names[time_col]].to_numpy()
    if id_col in names:
        order = np.lexsort((time, pd.factorize(frame[names[id_col]])[0]))  # stable: ties keep their order
    else:
        order = np.argsort(time, kind="stable")
    if (order == np.arange(len(order))).all():
        return frame
    out = frame.iloc[order].reset_index(drop=True)
    out.attrs["sorted"] = True
    return out


def _as_file(data: pd.DataFrame | pd.Series | str | Path, frame: pd.DataFrame | None, columns: list[str],
             tmp: Path) -> Path:
    """The data as a file the jobs read: the path itself, or the frame written to TMP/data.parquet."""
    if frame is None:
        return Path(data)  # type: ignore[arg-type]
    src = tmp / "data.parquet"
    frame = frame.copy()
    frame.columns = columns
    complex_ = [c for c in columns if frame[c].dtype.kind == "c"]
    if complex_:
        raise LstmcastError(f"column {complex_[0]!r} holds complex numbers; lstmcast forecasts real values (pass "
                            "its .real, .imag or abs())")
    try:
        frame.to_parquet(src, index=False)  # exact values: the job reads it as `train` reads a file
    except (ValueError, TypeError) as e:  # pyarrow's ArrowInvalid and ArrowTypeError among them
        raise LstmcastError(f"cannot use this DataFrame: {str(e).splitlines()[0]}") from None
    return src


def _file_columns(path: Path) -> list[str]:
    """The column names of a CSV or Parquet file (empty when it cannot be read: fit reports that itself)."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return [str(c).strip() for c in pq.read_schema(path).names]
        return [str(c).strip() for c in pd.read_csv(path, nrows=0).columns]
    except Exception:  # noqa: BLE001 - a missing or bad file is train_run's to report, with its own message
        return []
