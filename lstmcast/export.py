"""Export a run's forecast model to ONNX or TorchScript, checked against torch, with a JSON that says how
to turn the exported model's raw output into a forecast."""

from __future__ import annotations

import inspect
import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .checkpoint import load_checkpoint
from .errors import LstmcastError
from .forecast import inputs_at, smoothing_state
from .io import check_regular, atomic_path, file_identity, lock_if_inside, write_json
from .model import Ensemble, Forecaster
from .prepare import Prepared
from .run import RunResult
from .train import Fitted
from .windows import concat_ranges

__all__ = ["FORMATS", "TOLERANCE", "CHECK_BATCHES", "export_run", "describe"]

FORMATS = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt"}  # default file names in the run folder
TOLERANCE = 1e-5  # largest raw-output difference from torch the export may show, relative to max(1, |output|)
CHECK_BATCHES = (1, 37)  # batch sizes the exported file is run at before it is written
OPSET = 17


def _needs(module: str, fmt: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise LstmcastError(f"--format {fmt} needs the {module} package: pip install 'lstmcast[export]'") from None


def _check_inputs(fitted: Fitted, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch` real input windows from the stored history (the latest origins, repeated when there are fewer)."""
    prep = fitted.prep
    starts, ends = prep.panel.starts[:-1], prep.panel.starts[1:]
    origins = np.resize(concat_ranges(starts + prep.n_prev, ends + 1)[::-1], batch)
    win, fut = inputs_at(prep, origins, fitted.config.model_horizon)
    return torch.from_numpy(np.ascontiguousarray(win)), torch.from_numpy(np.ascontiguousarray(fut))


def _args(module: Forecaster | Ensemble, x: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return (x, f) if module.n_future else (x,)


def _to_onnx(module: Forecaster | Ensemble, x: torch.Tensor, f: torch.Tensor) -> tuple[bytes, Any]:
    """Serialised ONNX model and a function running it on numpy inputs (onnxruntime, CPU)."""
    _needs("onnx", "onnx")
    ort = _needs("onnxruntime", "onnx")
    names = ["x", "future"][:len(_args(module, x, f))]
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter warns about tracing; verified below
        # dynamo=False: the TorchScript-based exporter works offline; the dynamo one needs onnxscript. Torch
        # before 2.5 has no such argument (and only that exporter).
        legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
        torch.onnx.export(module, _args(module, x, f), buf, input_names=names, output_names=["raw"],
                          dynamic_axes={n: {0: "batch"} for n in [*names, "raw"]}, opset_version=OPSET, **legacy)
    data = buf.getvalue()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])

    def run(*arrays: np.ndarray) -> np.ndarray:
        return session.run(None, dict(zip(names, arrays)))[0]

    return data, run


def _to_torchscript(module: Forecaster | Ensemble, x: torch.Tensor, f: torch.Tensor) -> tuple[bytes, Any]:
    """Serialised TorchScript (traced) module and a function running the reloaded copy on numpy inputs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings; the traced module is checked at two batch sizes below
        traced = torch.jit.trace(module, _args(module, x, f), check_trace=False)
        buf = io.BytesIO()
        torch.jit.save(traced, buf)
        loaded = torch.jit.load(io.BytesIO(buf.getvalue()), map_location="cpu")

    @torch.no_grad()
    def run(*arrays: np.ndarray) -> np.ndarray:
        return loaded(*(torch.from_numpy(a) for a in arrays)).numpy()

    return buf.getvalue(), run


def _combine(model: Forecaster | Ensemble) -> dict[str, Any]:
    """How the networks' outputs become one (done inside the exported model)."""
    def one(k: int) -> str:
        return "median" if k > 2 else ("mean" if k == 2 else "none")
    if not isinstance(model, Ensemble):
        return {"combine": "none"}
    if len(model.groups) == 1:
        return {"combine": one(model.groups[0])}
    return {"combine": "mean of the groups' outputs",
            "groups": [{"training": kind, "networks": k, "combine": one(k)}
                       for kind, k in zip(("windows", "forking"), model.groups)]}


def _link_text(loss_name: str) -> str:
    return {
        "gaussian": "raw[..., 0] is the mean; the std is softplus(raw[..., 1]) + 1e-6",
        "quantile": "raw[..., a] is the median column a (the level nearest 0.5); the levels above add "
                    "softplus(raw) gaps cumulatively going up, the levels below subtract them going down",
    }.get(loss_name, "identity: raw[..., 0] is the point forecast")


def _smoothing(prep: Prepared) -> dict[str, Any] | None:
    """The smoothings that lstmcast averages into the networks' forecast (not in the exported file: they read the
    whole history, not the window): their parameters and their states after the stored history."""
    if prep.ets is None and prep.theta is None:
        return None
    level, trend, theta_level = smoothing_state(prep, prep.ends - 1)
    ets = np.zeros((prep.panel.n_series, 4)) if prep.ets is None else prep.ets
    theta = np.tile([1.0, 0.0, 0.0], (prep.panel.n_series, 1)) if prep.theta is None else prep.theta
    return {"to_forecast": "in the scaled space of column 0 of x, step h (1-based): z_h = raw_h + weight * (level + "
                           "(phi + phi^2 + ... + phi^h) * trend - raw_h) + theta_weight * (theta_level + "
                           "theta_drift * (h - 1 + 1 / theta_alpha) - raw_h), raw_h the point forecast (the "
                           "quantiles move by the same amount); then to_forecast of scaling",
            "update": "for each new scaled value z: f = level + phi * trend; e = z - f; level = f + alpha * e; "
                      "trend = phi * trend + alpha * beta * e; theta_level = theta_level + theta_alpha * "
                      "(z - theta_level)",
            "series": [{"id": sid, "alpha": float(ets[i, 0]), "beta": float(ets[i, 1]),
                        "phi": float(ets[i, 2]), "weight": float(ets[i, 3]), "level": float(level[i]),
                        "trend": float(trend[i]), "theta_alpha": float(theta[i, 0]),
                        "theta_drift": float(theta[i, 1]), "theta_weight": float(theta[i, 2]),
                        "theta_level": float(theta_level[i])}
                       for i, sid in enumerate(prep.panel.ids)]}


def describe(fitted: Fitted, fmt: str, file: str, check: dict[str, Any]) -> dict[str, Any]:
    """What a user needs beside the exported file: inputs, outputs, scaling and how raw output becomes a forecast."""
    prep, cfg = fitted.prep, fitted.config
    sc = prep.scaler
    n_series = prep.panel.n_series
    ends = prep.panel.starts[1:]
    phase = prep.phase[ends - 1] if prep.phase is not None else np.zeros(n_series, np.int64)
    inputs: list[dict[str, Any]] = [{"name": "x", "shape": ["batch", prep.n_prev, len(prep.input_names)],
                                     "dtype": "float32", "columns": list(prep.input_names)}]
    if fitted.model.n_future:
        cal = prep.input_names[len(prep.input_names) - prep.future.shape[1]:]
        inputs.append({"name": "future", "shape": ["batch", cfg.model_horizon, prep.future.shape[1]],
                       "dtype": "float32", "columns": list(cal),
                       "meaning": "the calendar columns of the steps being forecast (sin/cos of the time)"})
    model = fitted.model
    k = len(model.members) if isinstance(model, Ensemble) else 1
    return {
        "lstmcast_version": __version__, "torch_version": str(torch.__version__), "format": fmt, "file": file,
        **({"opset": OPSET} if fmt == "onnx" else {}),
        "inputs": inputs,
        "outputs": [{"name": "raw", "shape": ["batch", cfg.model_horizon, fitted.loss.n_outputs], "dtype": "float32"}],
        "model": {"cell": cfg.cell, "hidden": cfg.hidden, "layers": cfg.layers, "networks": k,
                  **_combine(model),
                  "window_norm": model.window_norm,
                  "window_norm_note": "inside the exported model: feed the scaled window as it is"},
        "loss": {"name": cfg.loss, "link": _link_text(cfg.loss),
                 **({"quantiles": list(cfg.quantiles)} if cfg.loss == "quantile" else {})},
        "scaling": {
            "kind": sc.kind,
            "to_input": "z = (T(value) - season[s][phase % m] - loc[s]) / scale[s], T = log(max(value, floor[s])) "
                        "where log[s], else the value itself; this is column 0 of x",
            "to_forecast": "value = U(z * scale[s] + loc[s] + season[s][phase % m]), U = exp where log[s], then "
                           "max(value, 0) where nonneg[s]; the forecast for step h (1-based) past the last point "
                           "uses phase = next_phase[s] + h - 1",
            "series": [{"id": sid, "loc": float(sc.loc[i]), "scale": float(sc.scale[i]), "log": bool(sc.log[i]),
                        "floor": float(sc.floor[i]), "nonneg": bool(sc.nonneg[i]),
                        "season": [float(v) for v in sc.season[i]],
                        "next_phase": int(phase[i]) + 1} for i, sid in enumerate(prep.panel.ids)],
            "features": {"names": list(prep.panel.feature_names), "loc": [float(v) for v in prep.cov_loc],
                         "scale": [float(v) for v in prep.cov_scale],
                         "to_input": "(value - loc) / scale, the columns after the target in x"},
        },
        "smoothing": _smoothing(prep),
        "window": prep.n_prev, "horizon": cfg.model_horizon,
        "time": {"name": prep.panel.time_name, "freq": prep.panel.freq, "is_datetime": bool(prep.panel.is_datetime)},
        "checked": check,
    }


def export_run(run_dir: Path, fmt: str, out: Path | None = None) -> RunResult:
    """Export the run's forecast model to `fmt` (onnx | torchscript) with a dynamic batch dimension, after checking
    the exported file's outputs against torch's at batch sizes 1 and 37; write OUT and OUT.json beside it."""
    if fmt not in FORMATS:
        raise LstmcastError(f"unknown --format {fmt!r}; use {' or '.join(FORMATS)}")
    model = Path(run_dir) / "model.pt" if Path(run_dir).is_dir() else Path(run_dir)
    seen = file_identity(model)  # before reading it: a train swapping the folder in meanwhile is caught at the write
    ckpt = load_checkpoint(run_dir)
    run_dir = Path(run_dir) if Path(run_dir).is_dir() else Path(run_dir).parent
    target = Path(out) if out is not None else run_dir / FORMATS[fmt]
    if target.resolve() == ckpt.path.resolve():
        raise LstmcastError(f"--out {target} is the run's checkpoint; choose another file")
    description = target.with_name(target.name + ".json")
    for path in (target, description):  # both refused before either is written: never a new model beside an old .json
        check_regular(path)
    fitted = ckpt.fitted(split=False)
    module = fitted.model.eval()  # Ensemble and Forecaster trace as they are (the median is a sort)
    x, f = _check_inputs(fitted, 2)
    try:
        data, run = (_to_onnx if fmt == "onnx" else _to_torchscript)(module, x, f)
    except LstmcastError:
        raise
    except Exception as e:  # an operator the exporter cannot express: say which model could not be exported
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise LstmcastError(f"cannot export this {ckpt.config.cell} model to {fmt}: {first}") from None
    worst = 0.0
    with torch.no_grad():
        for b in CHECK_BATCHES:
            xb, fb = _check_inputs(fitted, b)
            want = fitted.model(xb, fb if module.n_future else None).numpy()
            try:
                got = run(*(a.numpy() for a in _args(module, xb, fb)))
            except Exception as e:  # e.g. a size the tracer froze: the file would fail for its users too
                first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
                raise LstmcastError(f"the {fmt} export fails at batch size {b} ({first}); nothing was written") from None
            if got.shape != want.shape:
                raise LstmcastError(f"the {fmt} export gives shape {got.shape} at batch {b}, torch {want.shape}; "
                                    "nothing was written")
            worst = max(worst, float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want)))))
    if not worst <= TOLERANCE:
        raise LstmcastError(f"the {fmt} export differs from torch by {worst:.3g} (more than {TOLERANCE:g}) on the "
                            "run's own windows; nothing was written")
    check = {"batch_sizes": list(CHECK_BATCHES), "max_difference": worst, "tolerance": TOLERANCE,
             "against": "torch outputs on windows from the run's stored history"}
    info = describe(fitted, fmt, target.name, check)
    with lock_if_inside(run_dir, target, model, seen):
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
        meta = write_json(info, description)
    return RunResult(paths={"model": target, "description": meta},
                     notes=[f"checked against torch at batch sizes {', '.join(map(str, CHECK_BATCHES))}: largest "
                            f"difference {worst:.2g}"])
