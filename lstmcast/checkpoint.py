"""One checkpoint file per run: weights, config, fitted statistics, data identity, a history tail."""

from __future__ import annotations

import pickle
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__, smoothing
from .config import TrainConfig, kind_problem
from .data import Panel, offset_of
from .errors import LstmcastError
from .io import atomic_path, jsonable
from .losses import make_loss
from .scaling import Scaler
from .prepare import Prepared, Stats, prepare
from .train import Fitted, build_model, resolve_device
from .windows import concat_ranges

__all__ = ["save_checkpoint", "load_checkpoint", "Checkpoint", "FORMAT", "VERSION", "OLDEST", "UPGRADES"]

FORMAT = "lstmcast-checkpoint"
VERSION = 2  # the format this lstmcast writes; raise it whenever a stored field changes name, shape or meaning
# (a new optional field that older readers may ignore, such as `resume`, keeps the number: they still load it)
OLDEST = 1  # the oldest format it reads
# UPGRADES[n] turns a format-n payload into format n+1 (fill a new field with the value that reproduces the
# old behaviour, rename a key, ...). Raising VERSION means adding UPGRADES[VERSION - 1] and keeping
# every tests/fixtures/model_v*.pt loading with the same forecasts; lower OLDEST only with a working upgrade.


def _v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Format 2 gives each series its own smoothing weight (stats.ets: alpha, beta, phi, weight); in format 1
    (--ets) every series weighed smoothing.WEIGHT."""
    for part in (payload, payload.get("eval") or {}):
        ets = (part.get("stats") or {}).get("ets")
        if ets is not None:
            part["stats"] = {**part["stats"], "ets": [[*row, smoothing.WEIGHT] for row in ets]}
    return payload


UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}
TAIL = 500  # points of history kept per series so `predict --horizon` and `plot` need no data file


class Checkpoint:
    """A loaded checkpoint: the raw payload plus a ready-to-forecast Fitted built from its tail."""

    def __init__(self, payload: dict[str, Any], path: Path) -> None:
        self.payload, self.path = payload, path
        self.config = TrainConfig.from_dict(payload["config"])
        self.stats = _stats_from(payload["stats"])
        ev = payload.get("eval")
        self.eval_stats = _stats_from(ev["stats"]) if ev else self.stats

    @property
    def refitted(self) -> bool:
        """True when the forecast model was refitted on all points after the hold-out evaluation."""
        return bool(self.payload.get("eval"))

    @property
    def data(self) -> dict[str, Any]:
        return self.payload["data"]

    @property
    def metrics(self) -> dict[str, Any]:
        return self.payload.get("metrics", {})

    def skipped_series(self, panel: Panel | None = None) -> list[str]:
        """The series that training left out as too short: as recorded, or for a checkpoint written before that
        was recorded, those of `panel` that the model does not know and that are too short for its windows."""
        if "skipped" in self.data or panel is None:
            return list(self.data.get("skipped", []))
        known = set(self.stats.ids)
        need = self.stats.n_prev + self.config.model_horizon
        return [i for i, n in zip(panel.ids, panel.lengths) if i not in known and n < need]

    def tail_panel(self) -> Panel:
        """The last points of every training series, as stored."""
        t = self.payload["tail"]
        d = self.data
        time = t["time"].numpy()
        if d["is_datetime"]:
            time = time.astype("datetime64[ns]")
        return Panel(values=t["values"].numpy().astype(np.float64), starts=t["starts"].numpy().astype(np.int64),
                     ids=list(self.stats.ids), time=time, is_datetime=d["is_datetime"], time_name=d["time_name"],
                     target=d["target"], freq=d["freq"], covariates=t["covariates"].numpy().astype(np.float64),
                     feature_names=list(d["features"]), id_name=d["id_name"], dayfirst=bool(d.get("dayfirst", False)),
                     utc=bool(d.get("utc", False)))

    def fitted(self, panel: Panel | None = None, split: bool = True, device: str = "cpu") -> Fitted:
        """A Fitted over `panel` (default: the stored tail, unsplit) with the saved weights and statistics.

        split=True scores the hold-out, so it uses the evaluation model (trained before the test part);
        split=False forecasts past the end with the final model (refitted on every point by default)."""
        split = split if panel is not None else False
        use_eval = split and self.refitted
        stats = self.eval_stats if use_eval else self.stats
        prep: Prepared = prepare(panel if panel is not None else self.tail_panel(), self.config, stats, split=split)
        loss = make_loss(self.config.loss, self.config.quantiles)
        dev = resolve_device(device)
        model = build_model(self.config, prep.inputs.shape[1], prep.future.shape[1], loss, prep.season_length,
                            prep.n_prev)
        try:
            model.load_state_dict(self.payload["eval"]["model"] if use_eval else self.payload["model"])
        except RuntimeError as e:
            by = self.payload.get("lstmcast_version", "an unknown version")
            fmt = self.payload.get("upgraded_from", self.payload.get("format_version"))  # the format as written
            raise LstmcastError(f"checkpoint {self.path} (format {fmt}, written by lstmcast "
                                f"{by}) does not match its own config: {str(e).splitlines()[0]}; retrain it, or use the "
                                f"lstmcast that wrote it") from None
        model.to(dev).eval()
        return Fitted(model=model, loss=loss, config=self.config, prep=prep, history=self.payload.get("history", []),
                      best_epoch=int(self.payload.get("best_epoch", 0)), interrupted=False, device=dev)


def _stats_dict(prep: Prepared) -> dict[str, Any]:
    return {
        "n_prev": int(prep.n_prev),
        "season_length": None if prep.season_length is None else int(prep.season_length),
        "ids": list(prep.panel.ids),
        "scaler": prep.scaler.to_dict(),
        "cov_loc": [float(v) for v in prep.cov_loc],
        "cov_scale": [float(v) for v in prep.cov_scale],
        "input_names": list(prep.input_names),
        "ets": None if prep.ets is None else prep.ets.tolist(),
        "theta": None if prep.theta is None else prep.theta.tolist(),  # optional: older readers leave Theta out
    }


def _stats_from(sc: dict[str, Any]) -> Stats:
    return Stats(n_prev=int(sc["n_prev"]), season_length=sc["season_length"], ids=list(sc["ids"]),
                 scaler=Scaler.from_dict(sc["scaler"]), cov_loc=np.array(sc["cov_loc"], dtype=np.float64),
                 cov_scale=np.array(sc["cov_scale"], dtype=np.float64),
                 ets=None if sc.get("ets") is None else np.array(sc["ets"], dtype=np.float64).reshape(-1, 4),
                 theta=None if sc.get("theta") is None else np.array(sc["theta"], dtype=np.float64).reshape(-1, 3))


def _state(fitted: Fitted) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in fitted.model.state_dict().items()}


def save_checkpoint(path: Path, fitted: Fitted, data_info: dict[str, Any], metrics: dict[str, Any],
                    evaluation: Fitted | None = None, resume: dict[str, Any] | None = None) -> Path:
    """Write the checkpoint atomically; only tensors and plain str/int/float/list/dict values.

    `fitted` is the forecast model. `evaluation`, when it is a different model (the final one was
    refitted on every point), is kept beside it to reproduce the hold-out scores without leakage.
    `resume` (resume.training_state) is each network's optimiser and training state, for `train --resume`."""
    prep = fitted.prep
    panel = prep.panel
    keep = np.minimum(panel.lengths, max(TAIL, prep.n_prev))
    idx = concat_ranges(panel.starts[1:] - keep, panel.starts[1:])
    time = panel.time[idx]
    time_t = torch.from_numpy(time.astype("datetime64[ns]").astype(np.int64) if panel.is_datetime else time.astype(np.float64))
    ev = evaluation if evaluation is not None and evaluation is not fitted else None
    n_train = (ev or fitted).prep.train_ends - (ev or fitted).prep.panel.starts[:-1]
    payload = {
        "format": FORMAT,
        "format_version": VERSION,
        "lstmcast_version": __version__,
        "torch_version": str(torch.__version__),
        "config": fitted.config.to_dict(),
        "stats": _stats_dict(prep),
        "data": {**data_info, "time_name": panel.time_name, "target": panel.target, "id_name": panel.id_name,
                 "features": list(panel.feature_names), "is_datetime": bool(panel.is_datetime), "freq": panel.freq,
                 "dayfirst": bool(panel.dayfirst), "utc": bool(panel.utc),
                 "lengths": [int(v) for v in panel.lengths],
                 "n_train": [int(v) for v in n_train]},
        "tail": {"values": torch.from_numpy(panel.values[idx].copy()), "time": time_t,
                 "starts": torch.from_numpy(np.concatenate([[0], np.cumsum(keep)]).astype(np.int64)),
                 "covariates": torch.from_numpy(panel.covariates[idx].copy() if panel.feature_names
                                                else np.zeros((len(idx), 0)))},
        "model": _state(fitted),
        "history": jsonable((ev or fitted).history, finite=False),
        "best_epoch": int((ev or fitted).best_epoch),
        "strategy": fitted.config.resolved_strategy,
        "final": {"refit": ev is not None, "points": int(panel.lengths.sum()),
                  "train_points": int((prep.train_ends - panel.starts[:-1]).sum()),
                  "epochs": len(fitted.history)},
        "metrics": jsonable(metrics, finite=False),
    }
    if resume is not None:
        payload["resume"] = resume
    if ev is not None:
        payload["eval"] = {"model": _state(ev), "stats": _stats_dict(ev.prep), "best_epoch": int(ev.best_epoch)}
    buf = BytesIO()  # serialise in memory: a full disk then raises OSError (with its errno), not torch's RuntimeError
    torch.save(payload, buf)
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(buf.getbuffer())
    return Path(path)


def load_checkpoint(path: Path) -> Checkpoint:
    """Load RUN_DIR/model.pt (or a .pt path) with weights_only=True, on CPU, whatever it was trained on."""
    path = Path(path)
    if path.is_file() and path.suffix != ".pt":  # a data file where the run folder goes: say what to run
        run = Path("runs") / path.name.split(".")[0]
        raise LstmcastError(f"{path} is a file, not a run folder; train a model on it first (`lstmcast train {path} "
                            f"--out {run}`), then pass that folder ({run})")
    if path.is_dir() or path.suffix != ".pt":
        path = path / "model.pt"
    if not path.exists():
        raise LstmcastError(f"no checkpoint at {path}; train one first with `lstmcast train DATA --out {path.parent}`")
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise LstmcastError(f"cannot read checkpoint {path}: {e.strerror or e}") from None  # permissions: not damage
    _check_archive(blob, path)
    try:
        payload = torch.load(BytesIO(blob), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError) as e:
        raise LstmcastError(f"checkpoint {path} is unreadable or corrupt ({_load_problem(e)}); retrain to recreate "
                            "it") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise LstmcastError(f"{path} is not an lstmcast checkpoint")
    payload = _upgrade(payload, path)
    _check_contents(payload, path)
    try:
        return Checkpoint(payload, path)
    except LstmcastError as e:  # the stored config fails TrainConfig's own checks
        raise LstmcastError(f"checkpoint {path} has an invalid config ({e}); retrain to recreate it") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:  # deeper than _check_contents looks
        what = f"no {e.args[0]!r}" if isinstance(e, KeyError) and e.args else (str(e).splitlines() or [""])[0][:120]
        raise LstmcastError(f"checkpoint {path} is malformed ({what}); retrain to recreate it") from None


def _check_archive(blob: bytes, path: Path) -> None:
    """Refuse a model.pt that is not a torch zip archive, or whose members fail their CRC-32: torch.load checks
    neither, so a few overwritten bytes loaded as changed (or NaN) weights and forecast without a word."""
    damaged = (f"checkpoint {path} is unreadable or corrupt (not a torch checkpoint: damaged, cut short or another "
               "kind of file)")
    if not zipfile.is_zipfile(BytesIO(blob)):
        raise LstmcastError(f"{damaged}; retrain to recreate it")
    try:
        with zipfile.ZipFile(BytesIO(blob)) as archive:
            if not any(n.endswith("/data.pkl") for n in archive.namelist()):
                raise LstmcastError(f"{damaged}; retrain to recreate it")
            bad = archive.testzip()  # reads every member; model.pt files are small, so this costs milliseconds
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, struct.error) as e:
        raise LstmcastError(f"checkpoint {path} is damaged ({_first_line(e)}); retrain to recreate it") from None
    if bad is not None:
        raise LstmcastError(f"checkpoint {path} is damaged (its part {bad} fails its checksum); retrain to recreate it")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the bold that torch's weights-only refusal is printed in


def _load_problem(e: BaseException) -> str:
    """Why torch.load refused a checkpoint, in words: the pickled object a weights-only load refuses (torch's message
    is a page of advice on loading it unsafely), else the error's first line."""
    text = _ANSI.sub("", str(e))
    found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if found or "Weights only load failed" in text:
        what = f"a pickled {found[1]}" if found else "pickled Python objects"
        return f"it holds {what}; a checkpoint holds only tensors and plain values"
    return _first_line(e)


def _first_line(e: BaseException, limit: int = 120) -> str:
    """An error's first line for a one-line message, cut at a word (and marked ...) when longer than `limit`."""
    first = (_ANSI.sub("", str(e)).strip().splitlines() or [type(e).__name__])[0].strip()
    return first if len(first) <= limit else f"{first[:limit].rsplit(' ', 1)[0]} ..."


# What loading and forecasting read from a payload, with the kinds they need: a missing or mistyped one gives one
# line naming it instead of a KeyError or ValueError from deep inside (ints pass for floats, bools for neither).
_PARTS = {"config": dict, "stats": dict, "data": dict, "tail": dict, "model": dict}
_OPTIONAL = {"metrics": dict, "history": list, "eval": (dict, type(None)), "best_epoch": int}
_STATS = {"n_prev": int, "season_length": (int, type(None)), "ids": list, "scaler": dict, "cov_loc": list,
          "cov_scale": list}
_STATS_OPTIONAL = {"ets": (list, type(None)), "theta": (list, type(None))}
_DATA = {"time_name": str, "target": str, "id_name": (str, type(None)), "features": list, "is_datetime": bool,
         "freq": (str, type(None))}
_DATA_OPTIONAL = {"dayfirst": bool, "utc": bool, "skipped": list, "path": str, "sha256": str}
_TAIL = {"values": torch.Tensor, "time": torch.Tensor, "starts": torch.Tensor, "covariates": torch.Tensor}
_TAIL_DIMS = {"values": 1, "time": 1, "starts": 1, "covariates": 2}
# Fitted statistics that forecasts compute with: NaN or infinite ones gave empty forecast cells, and a scale
# divides, so it must be positive. (ets and theta: optional, None when the model has no smoothing.)
_STATISTICS = ("scaler.loc", "scaler.scale", "scaler.season", "scaler.floor", "cov_loc", "cov_scale", "ets", "theta")
_SCALES = ("scaler.scale", "cov_scale")
_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text", type(None): "None",
          list: "a list", tuple: "a list", dict: "a dict", torch.Tensor: "a tensor"}


def _check_contents(payload: dict[str, Any], path: Path) -> None:
    """Refuse a payload whose parts are missing, of the wrong kind, inconsistent, or hold non-finite weights."""
    def fail(what: str) -> None:
        raise LstmcastError(f"checkpoint {path} is {what}; retrain to recreate it")

    def check(part: dict[str, Any], kinds: dict[str, Any], prefix: str, required: bool) -> None:
        for key, kind in kinds.items():
            if key not in part:
                if required:
                    fail(f"incomplete: it has no '{prefix}{key}'")
                continue
            if not _is(part[key], kind):
                fail(f"malformed: {prefix}{key} is {_describe(part[key])}, not {_kind_words(kind)}")

    check(payload, _PARTS, "", True)
    check(payload, _OPTIONAL, "", False)
    for prefix, part in [("", payload)] + ([("eval.", payload["eval"])] if payload.get("eval") else []):
        if prefix:
            check(part, {"model": dict, "stats": dict}, prefix, True)
        check(part["stats"], _STATS, f"{prefix}stats.", True)
        check(part["stats"], _STATS_OPTIONAL, f"{prefix}stats.", False)
        stats_problem = _stats_problem(part["stats"], f"{prefix}stats.")
        if stats_problem:
            fail(stats_problem)
        for name, value in part["model"].items():
            if not isinstance(value, torch.Tensor):
                fail(f"malformed: {prefix}model.{name} is {_describe(value)}, not a tensor")
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                bad = int((~torch.isfinite(value)).sum())
                fail(f"damaged: {bad} of the {value.numel()} weights in {prefix}model.{name} are NaN or infinite")
    check(payload["data"], _DATA, "data.", True)
    check(payload["data"], _DATA_OPTIONAL, "data.", False)
    check(payload["tail"], _TAIL, "tail.", True)
    for name, value in payload["config"].items():  # keys a newer lstmcast added are not checked (nor read)
        words = kind_problem(name, value)
        if words:
            fail(f"malformed: config.{name} is {_describe(value)}, not {words}")
    tail, n_ids = payload["tail"], len(payload["stats"]["ids"])
    shape_problem = _tail_problem(tail, payload["data"]["features"])
    if shape_problem:
        fail(shape_problem)
    starts = tail["starts"]
    if (any(t.dim() == 0 for t in tail.values()) or starts.dim() != 1 or starts.is_floating_point()
            or len(starts) != n_ids + 1 or n_ids == 0 or bool((starts[1:] < starts[:-1]).any())
            or {len(tail["values"]), len(tail["time"]), len(tail["covariates"])} != {int(starts[-1])}):
        fail(f"inconsistent: its stored history (tail) does not hold the {n_ids} series it lists")
    for problem in (_time_problem(payload["data"], tail), _history_problem(payload.get("history", []))):
        if problem:
            fail(problem)


def _stats_problem(stats: dict[str, Any], prefix: str) -> str | None:
    """What is wrong with a model's fitted statistics (`prefix`: where they are, for the message), or None: a window
    shorter than a step, NaN or infinite statistics, or a scale that is not positive."""
    if stats["n_prev"] < 1:
        return f"malformed: {prefix}n_prev is {stats['n_prev']}, not a window of at least 1 step"
    for name in _STATISTICS:
        values = _numbers(_lookup(stats, name))
        bad = 0 if values is None else int((~np.isfinite(values)).sum())
        if bad:
            return f"damaged: {bad} of the {values.size} values in {prefix}{name} are NaN or infinite"
    for name in _SCALES:
        values = _numbers(_lookup(stats, name))
        bad = 0 if values is None else int((values <= 0).sum())
        if bad:
            return (f"damaged: {bad} of the {values.size} values in {prefix}{name} are zero or negative, and a scale "
                    "must be positive")
    return None


def _lookup(part: dict[str, Any], name: str) -> Any:
    """part["scaler"]["loc"] for "scaler.loc"; None where a level is missing or not a dict (loading names it)."""
    for key in name.split("."):
        part = part.get(key) if isinstance(part, dict) else None
    return part


def _numbers(value: Any) -> np.ndarray | None:
    """A stored list of numbers (or of lists of numbers) as a float array; None for anything else (None, text, a
    ragged list), whose kind loading judges."""
    if not isinstance(value, list):
        return None
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _tail_problem(tail: dict[str, torch.Tensor], features: list[Any]) -> str | None:
    """A stored history whose tensors do not have their shapes: values, times and offsets 1-D, the features 2-D
    with a column per feature; None when they do."""
    for name, dims in _TAIL_DIMS.items():
        if tail[name].dim() != dims:
            return f"malformed: tail.{name} is a {tail[name].dim()}-D tensor, not {dims}-D"
    if tail["covariates"].shape[1] != len(features):
        return (f"inconsistent: its stored history (tail) has {tail['covariates'].shape[1]} feature columns for the "
                f"{len(features)} features in data.features")
    return None


def _time_problem(data: dict[str, Any], tail: dict[str, torch.Tensor]) -> str | None:
    """A run's time that forecasts cannot continue, or None: dates flagged on stored step numbers, or a frequency
    that is not one (a pandas frequency or lstmcast's "M@15" for dates, a positive number as text for steps)."""
    dated, freq = data["is_datetime"], data["freq"]
    if dated and tail["time"].is_floating_point():
        return "inconsistent: data.is_datetime is True, but its stored times (tail.time) are step numbers"
    if freq is None or _steps_by(freq, dated):
        return None
    if dated:
        return (f"malformed: data.freq is {_describe(freq)}, not a pandas frequency (D, h, MS, M@15, ...) for a run on "
                "dates")
    return f"malformed: data.freq is {_describe(freq)}, not a step (a positive number) for a run on step numbers"


def _steps_by(freq: str, dated: bool) -> bool:
    """Whether forecasts can step by `freq`: a frequency of a positive step for dates, a positive number for steps."""
    try:
        return offset_of(freq).n > 0 if dated else 0 < float(freq) < np.inf
    except (ValueError, TypeError):
        return False


def _history_problem(history: list[Any]) -> str | None:
    """The first entry of the training history that is not an epoch record (what `plot` draws), or None."""
    bad = next((i for i, record in enumerate(history) if not _is_epoch(record)), None)
    if bad is None:
        return None
    return f"malformed: history[{bad}] is {_describe(history[bad])}, not an epoch record (epoch, train_loss, val_loss)"


def _is_epoch(record: Any) -> bool:
    """An epoch record: {"epoch": whole number, "train_loss": number, "val_loss": number or None, ...}."""
    return (isinstance(record, dict) and _is(record.get("epoch"), int) and _is(record.get("train_loss"), (int, float))
            and _is(record.get("val_loss"), (int, float, type(None))))


def _is(value: Any, kind: Any) -> bool:
    """isinstance, but a bool is not a whole number or a number here."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    flat = tuple(k for group in kinds for k in (group if isinstance(group, tuple) else (group,)))
    if isinstance(value, bool):
        return bool in flat
    return isinstance(value, flat)


def _kind_words(kind: Any) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    flat = [k for group in kinds for k in (group if isinstance(group, tuple) else (group,))]
    words = list(dict.fromkeys(_WORDS.get(k, k.__name__) for k in flat if not (k is int and float in flat)))
    return " or ".join(words)


def _describe(value: Any) -> str:
    """A stored value as the error shows it: a scalar as itself (cut short), anything else by its kind."""
    if isinstance(value, (str, int, float, bool, type(None))):
        shown = repr(value)
        return shown if len(shown) <= 40 else f"{shown[:40]}..."
    return _WORDS.get(type(value), f"a {type(value).__name__}")


def _upgrade(payload: dict[str, Any], path: Path) -> dict[str, Any]:
    """Bring an older format up to VERSION step by step; say exactly what to do when that is impossible."""
    version = payload.get("format_version", 0)
    known = payload.get("lstmcast_version")
    by = known or "an unknown version"
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise LstmcastError(f"checkpoint {path} has no valid format number ({version!r}); retrain to recreate it")
    if version > VERSION:
        raise LstmcastError(f"checkpoint {path} has format {version}, written by lstmcast {by}; this lstmcast "
                            f"{__version__} reads formats up to {VERSION}: upgrade with `pip install -U lstmcast`")
    start = version
    while version < VERSION:
        step = UPGRADES.get(version)
        if step is None or version < OLDEST:
            raise LstmcastError(
                f"checkpoint {path} has format {start}, written by lstmcast {by}; this lstmcast {__version__} reads "
                f"formats {OLDEST} to {VERSION}: retrain with `lstmcast train DATA --out {path.parent}`, or load it "
                "with the lstmcast that wrote it" + (f" (pip install 'lstmcast=={known}')" if known else ""))
        try:
            payload = step(dict(payload))
        except (KeyError, TypeError, AttributeError, ValueError) as e:  # parts of the old format missing or mistyped
            raise LstmcastError(f"checkpoint {path} has format {version} but cannot be upgraded from it "
                                f"({type(e).__name__}: {e}); retrain to recreate it") from None
        version += 1
        payload["format_version"] = version
    if start != VERSION:
        payload["upgraded_from"] = start
    return payload
