"""Typer commands: parse flags, call the library, print. No forecasting logic lives here."""

from __future__ import annotations

import contextvars
import errno
import functools
import inspect
import json
import os
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from . import __version__
from .config import TrainConfig
from .backtest import FoldInfo, backtest_run
from .compare import compare_run
from .configfile import coerce, read_config, to_toml, unknown_key
from .data import generate_memory, generate_sine
from .distributed import SharedError, is_main, rank
from .errors import LstmcastError
from .io import jsonable, pause_point, write_csv, write_error
from .parallel import check_jobs
from .run import RunResult, plot_run, predict_run, train_run
from .train import EpochInfo

try:
    from typer._click.exceptions import ClickException  # Typer >= 0.2x carries its own copy of Click
except ImportError:  # pragma: no cover - older Typer runs on Click itself
    from click.exceptions import ClickException  # type: ignore[no-redef]

__all__ = ["app"]


class OneLineErrors(TyperGroup):
    """Click's own usage errors (an unknown option, a value of the wrong type, a missing option) as one
    `Error:` line on stderr with Click's exit code (2), instead of Typer's boxed panel."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except ClickException as e:
            _usage_error(e)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ClickException as e:
            _usage_error(e)


def _usage_error(e: ClickException) -> NoReturn:
    if type(e).__name__ == "NoArgsIsHelpError":  # `lstmcast` alone: Typer prints the help
        raise e
    err_console.print(f"[red]Error:[/red] {escape(e.format_message())}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=e.exit_code)


app = typer.Typer(cls=OneLineErrors, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train LSTM forecasters on a CSV and get forecasts, metrics and plots, honestly scored "
                       "against naive baselines.")
out_console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENAMETOOLONG, errno.EISDIR,
               errno.ENOTDIR}


def user_errors(fn: F) -> F:
    """Turn LstmcastError into one red line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LstmcastError as e:
            # torchrun: rank 0 speaks for every rank about what they all found; another rank's own trouble
            # (its copy of the data missing, say) is printed by that rank, named
            if is_main() or not isinstance(e, SharedError):
                where = "" if is_main() else f"rank {rank()}: "
                err_console.print(f"[red]Error:[/red] {escape(where + str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as e:  # a bug, not bad input: one line unless the user asks for the traceback
            if isinstance(e, OSError) and e.errno in USER_ERRNOS:  # a full disk, a read-only folder: the user's to fix
                err_console.print(f"[red]Error:[/red] {write_error(Path(e.filename or '?'), e, 'use')}", highlight=False,
                                  soft_wrap=True)
                raise typer.Exit(code=2) from None
            if os.environ.get("LSTMCAST_DEBUG"):
                raise
            err_console.print(f"[red]Internal error:[/red] {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
                              "(rerun with LSTMCAST_DEBUG=1 for the traceback, and please report it)",
                              highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt as e:  # Ctrl-C outside a training loop: the job's writes are all-or-nothing
            err_console.print(str(e) or "Interrupted; nothing was written.", highlight=False,
                              soft_wrap=True)
            raise typer.Exit(code=130) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        out_console.print(f"lstmcast {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False) -> None:
    """lstmcast: LSTM time-series forecasts from the shell."""


def _notes(notes: list[str]) -> None:
    for n in notes:
        err_console.print(f"[yellow]Note:[/yellow] {n}", highlight=False, soft_wrap=True)


def _split_list(text: str | None) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()] if text else []


def _floats(text: str, flag: str) -> list[float]:
    try:
        return [float(p) for p in _split_list(text)]
    except ValueError:
        raise LstmcastError(f"{flag} must be comma-separated numbers, got {text!r}") from None


def _n_prev(text: str) -> int | None:
    if text.strip().lower() == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise LstmcastError(f"--n-prev must be a whole number or 'auto', got {text!r}") from None


@app.command("generate-sine")
@user_errors
def generate_sine_cmd(
    out: Annotated[Path, typer.Option(help="CSV file to write (columns t,sin_t).")],
    steps_per_cycle: Annotated[int, typer.Option(help="Points per sine cycle (>= 2).")] = 80,
    cycles: Annotated[int, typer.Option(help="Number of cycles (>= 1).")] = 50,
    noise: Annotated[float, typer.Option(help="Phase noise amplitude: U(-noise, noise) added inside sin.")] = 0.05,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Write the tutorial's noisy sine: t = 0..steps*cycles, sin_t = sin(2 pi t/steps + U(-noise, noise))."""
    df = generate_sine(steps_per_cycle, cycles, noise, seed)
    write_csv(df, out)
    out_console.print(f"Wrote {len(df)} rows to {out}")


def _progress_bar(unit: str = "epoch", disable: bool = False) -> Progress:
    return Progress(TextColumn(unit), MofNCompleteColumn(), BarColumn(), TextColumn("{task.fields[info]}"),
                    TimeElapsedColumn(), console=out_console, transient=False, disable=disable)


def _metrics_table(metrics: dict[str, Any], title: str) -> Table:
    table = Table(title=title)
    table.add_column("forecaster")
    cols = ["mse", "rmse", "mae", "smape", "mase"]
    for c in cols:
        table.add_column(c.upper() if c != "smape" else "sMAPE %", justify="right")
    rows = [k for k in ("model", "naive", "seasonal_naive") if k in metrics]
    best = {c: min(metrics[r][c] for r in rows) for c in cols}
    for r in rows:
        cells = []
        for c in cols:
            v = metrics[r][c]
            s = f"{v:.4g}"
            cells.append(f"[bold green]{s}[/bold green]" if v == best[c] and len(rows) > 1 else s)
        strategy = "one-step" if metrics.get("horizon") == 1 else metrics.get("strategy", "")
        table.add_row({"model": f"lstmcast ({strategy})", "naive": "naive (last value)",
                       "seasonal_naive": f"seasonal naive (m={metrics.get('season_length')})"}[r], *cells)
    return table


def _print_probabilistic(m: dict[str, Any], said: Output) -> None:
    keys = [k for k in m if k.startswith(("coverage_", "width_")) or k in ("pinball", "crps")]
    if keys:
        said.print("Uncertainty: " + ", ".join(f"{k} {m[k]:.4g}" for k in keys))


def _opt(annotation: Any, help: str) -> Any:
    return Annotated[annotation, typer.Option(help=help)]


# The flags that build a TrainConfig, shared by train, backtest and compare: (name, type, default, help).
CONFIG_FLAGS: list[tuple[str, Any, Any, str]] = [
    ("column", str | None, None, "Value column to forecast (default: the only numeric one)."),
    ("time_column", str | None, None, "Time column (default: detected by name or dates)."),
    ("id_column", str | None, None, "Series key for a long file with many series."),
    ("features", str | None, None, "Comma-separated past covariate columns fed beside the target."),
    ("calendar", bool | None, None, "Add known-future calendar features (sin/cos of hour, weekday, day of year or "
                                    "month); default: on for sub-daily series (hourly, minutely), off otherwise."),
    ("fill", str | None, None, "Missing values: interpolate, ffill, zero or drop (default: error)."),
    ("freq", str | None, None, "Pandas frequency (h, D, W, MS, ...) when it cannot be inferred."),
    ("season_length", int | None, None, "Season length (default from the frequency: hourly 24, daily 7, weekly 52, "
                                        "monthly 12, quarterly 4, yearly 1; without a calendar, a clear cycle in "
                                        "the autocorrelation)."),
    ("n_prev", str, "auto", "Input window length, or auto: 30 steps or three seasons if shorter, at least twice "
                            "the horizon, at most a fifth of the median training part."),
    ("test_size", float, 0.1, "Fraction of each series' last points held out as test, at least one --horizon; "
                              "0: no hold-out. Series too short to spare one train on all points, unscored."),
    ("val_size", float, 0.05, "Fraction of the latest training windows used for validation, [0, 1)."),
    ("refit", bool, True, "After scoring on the hold-out, refit on every point for the forecast model, for the "
                          "evaluation's best number of epochs; --no-refit forecasts with the evaluation model."),
    ("cell", str, "lstm", "Recurrent cell: lstm, gru, rnn, peephole or cifg."),
    ("hidden", int, 64, "Hidden units per layer (the tutorial's 300 is no more accurate on real series, and "
                        "slower)."),
    ("layers", int, 1, "Stacked recurrent layers."),
    ("dropout", float, 0.0, "Dropout between stacked layers, [0, 1)."),
    ("ensemble", int, 5, "Networks trained from seeds seed, seed+1, ...; the forecast is their median."),
    ("loss", str, "mse", "mse, mae, huber, quantile (pinball) or gaussian (NLL)."),
    ("quantiles", str, "0.1,0.5,0.9", "Quantile levels for --loss quantile."),
    ("epochs", int | None, None, "Training epochs (default 15, more on short series so that training takes at "
                                 "least 240 optimiser steps)."),
    ("batch_size", int | None, None, "Windows per optimiser step (default 600, fewer on short series so an epoch "
                                     "has at least 16 steps)."),
    ("lr", float, 1e-3, "Learning rate."),
    ("optimizer", str, "rmsprop", "rmsprop or adam."),
    ("scaler", str, "standard", "standard, minmax or none; fitted per series on training points only."),
    ("transform", str, "auto", "auto: model the log of every series whose training points are all positive (a "
                               "season that grows with the level becomes a fixed pattern); none: raw values."),
    ("deseason", str, "auto", "auto: remove each series' seasonal indices (classical decomposition of the training "
                              "part, kept only when the lag-season autocorrelation is significant) before the "
                              "network sees it; none: leave the season in."),
    ("window_norm", str, "auto", "The network sees each window relative to its last value (or mean) and forecasts "
                                 "a correction to an anchor: last (the last value), mean, season (the seasonal naive "
                                 "forecast), none (absolute scaled values); auto: last, except none for a one-step "
                                 "model of a series without any season, and season when --deseason none leaves a "
                                 "season in that fits in the window."),
    ("patience", int | None, None, "Stop after this many epochs without a better validation loss."),
    ("seed", int, 0, "Random seed (same seed on CPU, same results)."),
    ("device", str, "auto", "auto, cpu or cuda."),
    ("precision", str, "auto", "Training precision: fp32, bf16 (mixed, autocast; CPUs with AVX512-BF16 or AMX, and "
                               "GPUs) or fp16 (mixed with loss scaling, CUDA only); auto: fp32 on CPU, bf16 (else "
                               "fp16) on CUDA. Forecasting always runs in fp32."),
    ("threads", int | None, None, "CPU threads for torch (default: torch's, one per core); 1 keeps a run from "
                                  "slowing down when other processes share the cores."),
    ("samples", int, 200, "Sample paths for recursive probabilistic forecasts."),
]


def config_flags(fn: F) -> F:
    """Add the CONFIG_FLAGS options to a command; it receives them as one `flags` dict."""
    sig = inspect.signature(fn, eval_str=True)  # real Annotated objects, not the strings of `annotations`
    own = [p for p in sig.parameters.values() if p.name != "flags"]
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=_opt(tp, help))
             for name, tp, default, help in CONFIG_FLAGS]

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        flags = {name: kwargs.pop(name) for name, *_ in CONFIG_FLAGS}
        return fn(**kwargs, flags=flags)

    wrapper.__signature__ = sig.replace(parameters=own + extra)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in own + extra}
    return wrapper  # type: ignore[return-value]


# Flags that say where this invocation writes and how it talks, not how the run goes: not in a --config file.
NOT_IN_FILE = {"data", "out", "config", "json_out", "quiet"}
_settings: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("lstmcast_settings")


def _flag_type(annotation: Any) -> type:
    """bool, int, float or str: the type a flag's value has once parsed (Optional removed)."""
    tp = typing.get_args(annotation)[0] if typing.get_origin(annotation) is Annotated else annotation
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    return tp  # type: ignore[no-any-return]


def config_file(fn: F) -> F:
    """Add `--config FILE.toml`: any other flag of the command under its name (n_prev = 24 for --n-prev 24);
    a flag given on the command line wins over the file. The merged settings are kept for the run folder."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    kinds = {p.name: _flag_type(p.annotation) for p in params if p.name not in NOT_IN_FILE}
    at = next(i for i, p in enumerate(params) if p.name == "out") + 1
    extra = [
        inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
            Path | None, typer.Option(help="TOML file setting any other flag of this command by name (n_prev = 24, "
                                           "window_norm = \"last\"); flags on the command line win. The run folder "
                                           "gets the effective settings (config.toml for train).")]),
        inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context),
    ]

    @functools.wraps(fn)
    def wrapper(ctx: typer.Context, config: Path | None = None, **kwargs: Any) -> Any:
        if config is not None:
            for key, value in read_config(config).items():
                name = key.replace("-", "_")
                if name in NOT_IN_FILE:
                    raise LstmcastError(f"config file {config}: {key!r} cannot be set in a config file; give it on "
                                        "the command line")
                if name not in kinds:
                    raise unknown_key(config, key, list(kinds))
                source = ctx.get_parameter_source(name)
                if source is None or source.name != "COMMANDLINE":
                    kwargs[name] = coerce(config, key, value, kinds[name])
        _settings.set({k: kwargs[k] for k in kinds})
        return fn(**kwargs)

    new = params[:at] + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params[at:]]
    wrapper.__signature__ = sig.replace(parameters=new[:at] + extra + new[at:])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in new + extra}
    return wrapper  # type: ignore[return-value]


def _settings_file(command: str, data: Path, out: Path) -> tuple[str, str]:
    """The run folder's settings file (train: config.toml; backtest.toml, compare.toml, so that a backtest into a
    train run's folder leaves the model's settings alone): every setting this run used, ready for --config."""
    name = "config.toml" if command == "train" else f"{command}.toml"
    header = [f"lstmcast {command} settings, every flag but --out by its name (n_prev for --n-prev). This run:",
              f"  lstmcast {command} {data} --out {out} --config {Path(out) / name}",
              "Flags given on the command line win over this file."]
    return name, to_toml(_settings.get(), header)


@dataclass
class Output:
    """Where a command's words go: --json puts one JSON document on stdout, --quiet keeps errors only;
    progress, tables and notes never reach stdout in either."""

    json: bool = False
    quiet: bool = False

    def __post_init__(self) -> None:
        if not is_main():  # torchrun: rank 0 alone reports; the other ranks train in silence
            self.json, self.quiet = False, True

    @property
    def chatty(self) -> bool:
        return not (self.json or self.quiet)

    def print(self, *objects: Any) -> None:
        if self.chatty:
            out_console.print(*objects)

    def notes(self, notes: list[str]) -> None:
        if not self.quiet:
            _notes(notes)

    def document(self, doc: dict[str, Any]) -> None:
        if self.json:
            typer.echo(json.dumps(jsonable(doc), indent=2, allow_nan=False, default=str))


JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (what was written, the "
                                                       "metrics, the notes) and nothing else; notes go to stderr.")]
QuietFlag = Annotated[bool, typer.Option("--quiet", "-q", help="No progress, tables or notes; errors only.")]
JobsFlag = Annotated[int, typer.Option(help="Fits run side by side in this many processes on this machine, each with "
                                            "cores/N torch threads (unless --threads); the results equal --jobs 1's "
                                            "at the same --threads.")]


def _files(result: RunResult) -> dict[str, str]:
    return {k: str(p) for k, p in result.paths.items()}


def _config(flags: dict[str, Any], **override: Any) -> TrainConfig:
    """A validated TrainConfig from the shared flags (text lists parsed here)."""
    kw = {k: v for k, v in flags.items() if k != "samples"}
    kw["features"] = _split_list(flags["features"])
    kw["n_prev"] = _n_prev(flags["n_prev"])
    kw["quantiles"] = _floats(flags["quantiles"], "--quantiles")
    kw.update(override)
    if flags["samples"] < 1:
        raise LstmcastError(f"--samples must be at least 1, got {flags['samples']}")
    return TrainConfig(**kw)


@app.command()
@user_errors
@config_file
@config_flags
def train(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file with the series.")],
    out: Annotated[Path, typer.Option(help="Run folder to write (model.pt, history.csv, metrics.json, "
                                           "test_predictions.csv, config.toml).")],
    horizon: Annotated[int, typer.Option(help="Steps ahead to forecast and score (>= 1).")] = 1,
    strategy: Annotated[str | None, typer.Option(help="direct (one head for all steps; default for horizon > 1) or "
                                                      "recursive (one-step model fed its own forecasts).")] = None,
    json_out: JsonFlag = False,
    quiet: QuietFlag = False,
    flags: dict[str, Any] | None = None,
) -> None:
    """Train an LSTM on DATA, score it on the held-out end against naive baselines, and write a run folder."""
    assert flags is not None
    said = Output(json_out, quiet)
    cfg = _config(flags, horizon=horizon, strategy=strategy)
    samples = flags["samples"]
    progress = _progress_bar(disable=not said.chatty)
    task = [progress.add_task("train", total=cfg.epochs or 15, info="", start=False, visible=False)]

    stage = [""]

    def on_stage(text: str) -> None:
        stage[0] = text  # printed once the data checks have passed (on_start), never before an error

    def on_start(n_train: int, n_val: int, batch: int, epochs: int) -> None:
        progress.stop()
        for t in list(progress.task_ids):  # a finished stage's bar stays printed above; do not redraw it
            progress.remove_task(t)
        said.print(stage[0])
        said.print(f"Training on {n_train} windows" + (f" ({n_val} more for validation)" if n_val else "")
                   + f": batch {batch}, {epochs} epochs")
        task[0] = progress.add_task("train", total=epochs, info="")
        progress.start()

    def on_epoch(e: EpochInfo) -> None:
        val = f"{e.val_loss:.4g}" if e.val_loss is not None else "-"
        progress.update(task[0], completed=e.epoch,
                        info=f"train {e.train_loss:.4g}  val {val}{' *' if e.best else ''}  {e.seconds:.1f}s")
        pause_point("train:epoch")

    try:
        result = train_run(data, cfg, out, on_epoch=on_epoch, samples=samples, on_start=on_start, on_stage=on_stage,
                           settings=_settings_file("train", data, out))
    finally:
        progress.stop()
    _report_train(result, said)


def _report_train(result: RunResult, said: Output) -> None:
    m = result.metrics
    run = result.paths["checkpoint"].parent
    said.notes(result.notes)
    if m.get("holdout", True):
        said.print(_metrics_table(m, f"Test part (evaluation model): {m['test_points']} points, horizon "
                                     f"{m['horizon']}, original scale"))
        _print_probabilistic(m["model"], said)
    said.print(f"Run written to {run}/: " + ", ".join(p.name for p in result.paths.values()))
    said.document({"command": "train", "run": str(run), "files": _files(result), "interrupted": result.interrupted,
                   "notes": result.notes, "metrics": m})
    if result.interrupted:  # Ctrl-C stopped training: the run is saved, but the shell must hear it was cut short
        final = m.get("final_model", {})
        if final.get("refit"):
            what = (f"while refitting the final model on all points (after {final.get('epochs')} of its epochs): saved "
                    "it as it stood, with the evaluation model's scores,")
        else:
            what = f"after epoch {m['epochs_run']}: saved the best checkpoint so far (epoch {m['best_epoch']})"
        err_console.print(f"[yellow]Interrupted[/yellow] {what} to {run}/ "
                          f"({', '.join(p.name for p in result.paths.values())})", highlight=False, soft_wrap=True)
        raise typer.Exit(code=130)


@app.command()
@user_errors
def predict(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `lstmcast train`.")],
    out: Annotated[Path | None, typer.Option(help="CSV to write (default RUN_DIR/test_predictions.csv, or "
                                                  "RUN_DIR/forecast.csv with --horizon).")] = None,
    data: Annotated[Path | None, typer.Option(help="Data file (default: the training file recorded in the run).")] = None,
    horizon: Annotated[int | None, typer.Option(help="Forecast this many steps past the end of the data instead.")] = None,
    samples: Annotated[int, typer.Option(help="Sample paths for recursive probabilistic forecasts.")] = 200,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
    json_out: JsonFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """One-step-ahead predictions for the test points, or with --horizon N a forecast past the end."""
    said = Output(json_out, quiet)
    result = predict_run(run_dir, out, data, horizon, samples, device)
    said.notes(result.notes)
    if horizon is None:
        said.print(_metrics_table(result.metrics, "Test part, original scale"))
    path = next(iter(result.paths.values()))
    said.print(f"Wrote {path}")
    said.document({"command": "predict", "files": _files(result), "notes": result.notes, "metrics": result.metrics})


@app.command()
@user_errors
def plot(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `lstmcast train`.")],
    out: Annotated[Path | None, typer.Option(help="PNG to write (default RUN_DIR/plot.png).")] = None,
    forecast: Annotated[Path | None, typer.Option(help="Forecast CSV to draw (default RUN_DIR/forecast.csv if present).")] = None,
) -> None:
    """Plot predicted vs actual on the test part, the loss curves, and the forecast when there is one."""
    result = plot_run(run_dir, out, forecast)
    out_console.print(f"Wrote {result.paths['plot']}")


@app.command("generate-memory")
@user_errors
def generate_memory_cmd(
    out: Annotated[Path, typer.Option(help="CSV file to write (columns t,y).")],
    points: Annotated[int, typer.Option(help="Number of points.")] = 4000,
    lag: Annotated[int, typer.Option(help="Steps between a spike and its echo.")] = 40,
    p: Annotated[float, typer.Option(help="Probability of a spike at each step.")] = 0.05,
    echo: Annotated[float, typer.Option(help="Size of the echo relative to the spike.")] = 0.8,
    noise: Annotated[float, typer.Option(help="Standard deviation of added Gaussian noise.")] = 0.05,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Write a long-dependency series: random spikes that echo LAG steps later (y_t = s_t + echo*s_{t-lag} + noise)."""
    df = generate_memory(points, lag, p, echo, noise, seed)
    write_csv(df, out)
    out_console.print(f"Wrote {len(df)} rows to {out}")


def _score_table(title: str, rows: dict[str, dict[str, float]], cols: list[str], winner: dict[str, str]) -> Table:
    table = Table(title=title)
    table.add_column("forecaster")
    for c in cols:
        table.add_column({"smape": "sMAPE %"}.get(c, c.upper()), justify="right")
    for name, m in rows.items():
        cells = []
        for c in cols:
            v = m.get(c, float("nan"))
            text = f"{v:.4g}"
            cells.append(f"[bold green]{text}[/bold green]" if winner.get(c) == name else text)
        table.add_row(name.replace("_", " "), *cells)
    return table


@app.command()
@user_errors
@config_file
@config_flags
def backtest(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file with the series.")],
    out: Annotated[Path, typer.Option(help="Folder to write backtest.csv, backtest.json, backtest.png and "
                                           "backtest.toml.")],
    horizon: Annotated[int, typer.Option(help="Steps forecast from each origin.")] = 1,
    folds: Annotated[int, typer.Option(help="Forecast origins per series (the last ends at the end of the data).")] = 3,
    step: Annotated[int | None, typer.Option(help="Steps between origins (default: --horizon).")] = None,
    retrain: Annotated[str, typer.Option(help="always: refit on everything before each origin; never: fit once "
                                              "before the first origin and slide.")] = "always",
    strategy: Annotated[str | None, typer.Option(help="direct, recursive, or both as 'direct,recursive' to compare "
                                                      "them in one table.")] = None,
    jobs: JobsFlag = 1,
    json_out: JsonFlag = False,
    quiet: QuietFlag = False,
    flags: dict[str, Any] | None = None,
) -> None:
    """Rolling-origin backtest of the LSTM against naive, seasonal naive, drift and mean forecasts."""
    assert flags is not None
    said = Output(json_out, quiet)
    check_jobs(jobs)  # before the progress bar
    strategies = _split_list(strategy) or [None]
    models = {(f"lstm_{s}" if len(strategies) > 1 else "lstm"): _config(flags, horizon=horizon, strategy=s)
              for s in strategies}
    progress = _progress_bar("fit", disable=not said.chatty)
    task = progress.add_task("backtest", total=len(models) * folds, info="")
    progress.start()

    def on_fold(f: FoldInfo) -> None:
        progress.update(task, advance=1, info=f"{f.model} fold {f.fold + 1}/{f.folds} "
                        + (f"trained in {f.seconds:.1f}s" if f.trained else "(reused)"))
        pause_point("backtest:fold")

    try:
        result = backtest_run(data, models, out, horizon, folds, step, retrain, flags["samples"], on_fold, jobs,
                              settings=_settings_file("backtest", data, out))
    finally:
        progress.stop()
    m = result.metrics
    said.notes(result.notes)
    cols = ["mae", "rmse", "smape", "mase"]
    prob = sorted({k for r in m["mean"].values() for k in r if k.startswith("coverage_") or k in ("crps",)})
    said.print(_score_table(
        f"Backtest: {folds} folds x horizon {horizon}, retrain {retrain}, mean over folds "
        f"(MASE lag {m.get('mase_lag')})", m["mean"], cols + prob, m["winner"]))
    best = m["winner"].get("mase")
    if best:
        said.print(f"Best by MASE: [bold]{best.replace('_', ' ')}[/bold]")
    said.print(f"Wrote {', '.join(str(p) for p in result.paths.values())}")
    said.document({"command": "backtest", "files": _files(result), "notes": result.notes, "metrics": m})


@app.command()
@user_errors
@config_file
@config_flags
def compare(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file with the series.")],
    out: Annotated[Path, typer.Option(help="Folder to write compare.csv, compare.json, compare.png and compare.toml.")],
    cells: Annotated[str, typer.Option(help="Comma-separated cells to train.")] = "lstm,gru,rnn,peephole,cifg",
    seeds: Annotated[int, typer.Option(help="Seeds per cell (seed, seed+1, ...).")] = 3,
    horizon: Annotated[int, typer.Option(help="Steps ahead to forecast and score.")] = 1,
    strategy: Annotated[str | None, typer.Option(help="direct or recursive.")] = None,
    jobs: JobsFlag = 1,
    json_out: JsonFlag = False,
    quiet: QuietFlag = False,
    flags: dict[str, Any] | None = None,
) -> None:
    """Train several recurrent cells on the same split, window and budget over several seeds, and compare."""
    assert flags is not None
    said = Output(json_out, quiet)
    cfg = _config(flags, horizon=horizon, strategy=strategy)
    check_jobs(jobs)  # before the progress bar
    names = _split_list(cells)
    progress = _progress_bar("fit", disable=not said.chatty)
    task = progress.add_task("compare", total=max(1, len(names) * seeds), info="")
    progress.start()

    def on_fit(cell: str, seed: int) -> None:
        progress.update(task, advance=1, info=f"{cell} seed {seed} done")

    try:
        result = compare_run(data, cfg, names, seeds, out, on_fit=on_fit, samples=flags["samples"], jobs=jobs,
                             settings=_settings_file("compare", data, out))
        progress.update(task, completed=len(names) * seeds)
    finally:
        progress.stop()
    said.notes(result.notes)
    table = Table(title=f"{len(names)} cells x {seeds} seeds, {cfg.epochs or 'auto'} epochs, hidden {cfg.hidden}: test part, "
                        "mean ± sd over seeds")
    for c in ("cell", "parameters", "s/epoch", "MSE", "MAE", "MASE"):
        table.add_column(c, justify="left" if c == "cell" else "right")
    for r in result.metrics["summary"]:
        table.add_row(r["cell"], f"{r['parameters_mean']:,.0f}", f"{r['seconds_per_epoch_mean']:.2f}",
                      *(f"{r[f'{k}_mean']:.3g}±{r[f'{k}_std']:.1g}" for k in ("mse", "mae", "mase")))
    for name, b in result.metrics["baselines"].items():
        table.add_row(name.replace("_", " "), "-", "-", f"{b['mse']:.4g}", f"{b['mae']:.4g}", f"{b['mase']:.4g}")
    said.print(table)
    said.print(f"Wrote {', '.join(str(p) for p in result.paths.values())}")
    said.document({"command": "compare", "files": _files(result), "notes": result.notes, "metrics": result.metrics})
