"""Typer commands: parse flags, call the library, print. No forecasting logic lives here."""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import errno
import functools
import inspect
import json
import math
import os
import re
import signal
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from . import __version__
from .config import (CELLS, DESEASONS, DEVICES, FILLS, LOSSES, OPTIMIZERS, PRECISIONS, SCALERS, STRATEGIES, TRANSFORMS,
                     TRAININGS, WINDOW_NORMS, TrainConfig)
from .backtest import RETRAIN, FoldInfo, backtest_run
from .compare import compare_run
from .configfile import coerce, flags_from_config, read_config, to_toml, unknown_key
from .data import generate_memory, generate_sine
from .distributed import SharedError, is_main, rank
from .errors import LstmcastError, Terminated
from .io import STDOUT, finished_writes, forget_writes, jsonable, pause_point, stop_on_sigterm, write_error, write_table
from .parallel import check_jobs
from .reproduce import reproduce_run, run_source
from .run import RunResult, plot_run, predict_run, train_run
from .stdio import HumanConsole, ReaderGone, need_stdin, need_stdout, write_stdout
from .train import EpochInfo

try:
    from typer._click.exceptions import ClickException  # Typer >= 0.2x carries its own copy of Click
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - older Typer runs on Click itself (0.12 .. 0.1x)
    from click.exceptions import ClickException  # type: ignore[no-redef]
    from click.globals import get_current_context  # type: ignore[no-redef]

__all__ = ["app"]


class OneLineErrors(TyperGroup):
    """Click's own usage errors (an unknown option, a value of the wrong type, a missing option) as one
    `Error:` line on stderr with Click's exit code (2), instead of Typer's boxed panel. A Ctrl-C while the command
    line is read (before a command's user_errors takes over) says so, as one there would: Typer exits 130 in silence."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except ClickException as e:
            _usage_error(e)
        except KeyboardInterrupt:
            _interrupted_early()

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ClickException as e:
            _usage_error(e)
        except KeyboardInterrupt:
            _interrupted_early()


NOTHING_WRITTEN = "Interrupted; nothing was written."


def _interrupted_early() -> NoReturn:
    err_console.print(NOTHING_WRITTEN, highlight=False, soft_wrap=True)
    raise typer.Exit(code=130)


def _usage_error(e: ClickException) -> NoReturn:
    if type(e).__name__ == "NoArgsIsHelpError":  # `lstmcast` alone: Typer prints the help
        raise e
    message = _number_message(e) or _choice_message(e.format_message())
    err_console.print(f"[red]Error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=e.exit_code)


_NOT_A_NUMBER = re.compile(r"Invalid value for '(?P<flag>[^']+)': (?:'(?P<value>.*)' is not a valid (?P<old>int|integer|float)\.|"
                           r"Input should be a valid (?P<new>integer|number)\b.*)$")


def _number_message(e: ClickException) -> str | None:
    """A value that is not a number, in the same words whatever Typer wrote (0.2x: "'two' is not a valid int.";
    later, through pydantic: "Input should be a valid integer, unable to parse ...", without the value):
    `--epochs must be a whole number; got 'two'`."""
    m = _NOT_A_NUMBER.match(e.format_message())
    if not m:
        return None
    value = m["value"]
    cause = e.__cause__ or e.__context__
    if value is None and hasattr(cause, "errors"):  # pydantic's ValidationError holds the input
        with contextlib.suppress(Exception):
            value = str(cause.errors()[0]["input"])
    what = "a whole number" if (m["old"] or m["new"]).startswith("int") else "a number"
    return f"{m['flag']} must be {what}" + (f"; got {value!r}" if value is not None else "")


_NOT_A_CHOICE = re.compile(r"Invalid value for '(?P<flag>[^']+)': (?:Value error, )?'(?P<value>.*)' is not one of "
                           r"(?P<choices>.*)\.$")


def _choice_message(message: str) -> str:
    """Click's "'x' is not one of 'a', 'b'" in the words TrainConfig uses for a config file's value, with the
    nearest choice: `--cell must be one of lstm, gru, ...; got 'lstn'; did you mean 'lstm'?`."""
    m = _NOT_A_CHOICE.match(message)
    if not m:
        return message
    choices = re.findall(r"'([^']*)'", m["choices"])
    near = difflib.get_close_matches(m["value"], choices, n=1)
    return (f"{m['flag']} must be one of {', '.join(choices)}; got {m['value']!r}"
            + (f"; did you mean {near[0]!r}?" if near else ""))


app = typer.Typer(cls=OneLineErrors, add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train LSTM forecasters on a CSV and get forecasts, metrics and plots, honestly scored "
                       "against naive baselines.")
out_console = HumanConsole()  # a closed pipe or a full disk on stdout stops the printing, never the job
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENAMETOOLONG, errno.EISDIR,
               errno.ENOTDIR}


def user_errors(fn: F) -> F:
    """Turn LstmcastError into one red line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        forget_writes()
        try:
            with stop_on_sigterm():
                return fn(*args, **kwargs)
        except Terminated:
            err_console.print("Terminated; nothing was left half-written.", highlight=False, soft_wrap=True)
            raise typer.Exit(code=128 + signal.SIGTERM) from None
        except LstmcastError as e:
            # torchrun: rank 0 speaks for every rank about what they all found; another rank's own trouble
            # (its copy of the data missing, say) is printed by that rank, named
            if is_main() or not isinstance(e, SharedError):
                where = "" if is_main() else f"rank {rank()}: "
                err_console.print(f"[red]Error:[/red] {escape(where + str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except (typer.Exit, typer.Abort):
            raise
        except ReaderGone:  # stdout's reader took what it wanted (`--out - | head`): done, quietly
            raise typer.Exit(code=0) from None
        except Exception as e:  # a bug, not bad input: one line unless the user asks for the traceback
            if _out_of_memory(e):  # --hidden 10000000000 or --horizon 100000000000: the user asked for too much
                err_console.print(f"[red]Error:[/red] {escape(_memory_message(e))}", highlight=False, soft_wrap=True)
                raise typer.Exit(code=2) from None
            if isinstance(e, OSError) and e.errno in USER_ERRNOS:  # a full disk, a read-only folder: the user's to fix
                where = Path(e.filename) if e.filename else None  # some name no file (a write to a stream)
                err_console.print(f"[red]Error:[/red] {escape(str(write_error(where, e, 'use')))}", highlight=False,
                                  soft_wrap=True)
                raise typer.Exit(code=2) from None
            if os.environ.get("LSTMCAST_DEBUG"):
                raise
            err_console.print(f"[red]Internal error:[/red] {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
                              "(rerun with LSTMCAST_DEBUG=1 for the traceback, and please report it)",
                              highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt as e:  # Ctrl-C outside a training loop: the job's writes are all-or-nothing
            done = finished_writes()
            said = (f"Interrupted after writing {', '.join(map(str, done))}, whole; nothing else was written."
                    if done else NOTHING_WRITTEN)
            err_console.print(str(e) or said, highlight=False, soft_wrap=True)
            raise typer.Exit(code=130) from None

    return wrapper  # type: ignore[return-value]


# Flags that decide how much memory a job takes, named in the advice when the memory runs out.
SIZE_FLAGS = ("hidden", "layers", "ensemble", "batch_size", "n_prev", "horizon", "samples", "folds", "seeds")


def _out_of_memory(e: Exception) -> bool:
    return isinstance(e, MemoryError) or (isinstance(e, RuntimeError) and any(
        s in str(e) for s in ("can't allocate memory", "out of memory", "Cannot allocate memory")))


def _memory_message(e: Exception) -> str:
    """Out of memory, in one line, with the size flags the user gave (those are what to lower)."""
    ctx = get_current_context(silent=True)
    given = []
    if ctx is not None:
        for name in SIZE_FLAGS:
            source = ctx.get_parameter_source(name)
            if source is not None and source.name == "COMMANDLINE":
                given.append(f"--{name.replace('_', '-')} {ctx.params[name]}")
    need = re.search(r"allocate (\d+(?:\.\d+)?)\.? ?([KMGT]i?B|bytes)", str(e))
    size = (f"{float(need[1]) / 2**30:,.0f} GiB" if need[2] == "bytes" else f"{need[1]} {need[2]}") if need else ""
    what = f" (it asked for {size} at once)" if need else ""
    advice = f"lower {' or '.join(given)}" if given else "ask for a smaller model or a shorter forecast"
    return f"not enough memory for this job{what}; {advice}"


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


def _example(*commands: str) -> str:
    """A command's epilog: the examples under its --help."""
    return "Examples:\n\n" + "\n\n".join(f"  {c}" for c in commands)


TABLE_TO_STDOUT = "--out - prints the table there; give --out a file name or redirect stdout to a file"
RunDirArg = Annotated[Path, typer.Argument(help="Run folder written by `lstmcast train`.")]
DataArg = Annotated[Path, typer.Argument(help="CSV (comma, semicolon or tab separated; UTF-8, Windows-1252 or Latin-1) or "
                                              "Parquet file with the series; - reads a CSV from stdin.")]


@app.command("generate-sine", epilog=_example("lstmcast generate-sine --out sample_data/sine.csv --seed 0"))
@user_errors
def generate_sine_cmd(
    out: Annotated[Path, typer.Option(help="CSV or Parquet file to write (columns t,sin_t); - for stdout.")],
    steps_per_cycle: Annotated[int, typer.Option(help="Points per sine cycle (>= 2).")] = 80,
    cycles: Annotated[int, typer.Option(help="Number of cycles (>= 1).")] = 50,
    noise: Annotated[float, typer.Option(help="Phase noise amplitude: U(-noise, noise) added inside sin.")] = 0.05,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Write the tutorial's noisy sine: t = 0..steps*cycles, sin_t = sin(2 pi t/steps + U(-noise, noise))."""
    if out == STDOUT:
        need_stdout(TABLE_TO_STDOUT)
    df = generate_sine(steps_per_cycle, cycles, noise, seed)
    write_table(df, out)
    if out != STDOUT:
        out_console.print(f"Wrote {len(df)} rows to {out}")


def _progress_bar(unit: str = "epoch", disable: bool = False) -> Progress:
    """A progress bar on stderr, so that stdout carries only results (a table, a CSV, a JSON document)."""
    return Progress(TextColumn(unit), MofNCompleteColumn(), BarColumn(), TextColumn("{task.fields[info]}"),
                    TimeElapsedColumn(), console=err_console, transient=False, disable=disable)


def _stop(progress: Progress) -> None:
    """Stop a progress bar if it ever started (stopping one that did not prints an empty line on stderr)."""
    if progress.live.is_started:
        progress.stop()


@contextlib.contextmanager
def _showing(progress: Progress) -> Iterator[None]:
    """Run a job under `progress`; when it fails (an Error, Ctrl-C) the bar vanishes, so that the job's one
    line is all stderr holds."""
    try:
        yield
    except BaseException:
        progress.live.transient = True
        if progress.live.is_started:
            progress.live.stop()  # not progress.stop(): it would add an empty line
        raise
    _stop(progress)


def _metrics_table(metrics: dict[str, Any], title: str) -> Table:
    table = Table(title=title)
    table.add_column("forecaster")
    cols = ["mse", "rmse", "mae", "smape", "mase"]
    for c in cols:
        table.add_column(c.upper() if c != "smape" else "sMAPE %", justify="right")
    rows = [k for k in ("model", "naive", "seasonal_naive") if k in metrics]
    best = {c: min((metrics[r][c] for r in rows if metrics[r][c] is not None and math.isfinite(metrics[r][c])),
                   default=None) for c in cols}
    for r in rows:
        cells = []
        for c in cols:
            v = metrics[r][c]
            s = f"{v:.4g}" if v is not None and math.isfinite(v) else "–"  # MASE without a scale (too short)
            cells.append(f"[bold green]{s}[/bold green]" if v == best[c] and len(rows) > 1 else s)
        strategy = "one-step" if metrics.get("horizon") == 1 else metrics.get("strategy", "")
        table.add_row({"model": f"lstmcast ({strategy})", "naive": "naive (last value)",
                       "seasonal_naive": f"seasonal naive (m={metrics.get('season_length')})"}[r], *cells)
    return table


def _print_probabilistic(m: dict[str, Any], said: Output) -> None:
    keys = [k for k in m if k.startswith(("coverage_", "width_")) or k in ("pinball", "crps")]
    if keys:
        said.print("Uncertainty: " + ", ".join(f"{k} {m[k]:.4g}" for k in keys))


# Help panels, so that `train --help` reads as a few short groups instead of one long list.
DATA, MODEL, TRAINING, FORECAST, OUTPUT = "Data", "Model", "Training", "Forecast", "Output"
BACKTEST, COMPARE = "Backtest", "Compare"
PANELS = {**dict.fromkeys(("column", "time_column", "id_column", "features", "calendar", "fill", "freq",
                           "season_length", "test_size"), DATA),
          **dict.fromkeys(("n_prev", "cell", "hidden", "layers", "dropout", "ensemble", "loss", "quantiles", "scaler",
                           "transform", "deseason", "window_norm", "ets"), MODEL),
          **dict.fromkeys(("val_size", "refit", "epochs", "batch_size", "lr", "optimizer", "patience", "seed", "device",
                           "precision", "threads", "training", "compile"), TRAINING),
          "samples": FORECAST}


def _opt(annotation: Any, help: str, panel: str | None = None) -> Any:
    return Annotated[annotation, typer.Option(help=help, rich_help_panel=panel)]


# The flags that build a TrainConfig, shared by train, backtest and compare: (name, type, default, help).
CONFIG_FLAGS: list[tuple[str, Any, Any, str]] = [
    ("column", str | None, None, "Value column to forecast (default: the only numeric one)."),
    ("time_column", str | None, None, "Time column (default: detected by name or dates)."),
    ("id_column", str | None, None, "Series key for a long file with many series."),
    ("features", str | None, None, "Comma-separated past covariate columns fed beside the target."),
    ("calendar", bool | None, None, "Add known-future calendar features (sin/cos of hour, weekday, day of year or "
                                    "month); default: on for sub-daily series (hourly, minutely), off otherwise."),
    ("fill", Literal[FILLS] | None, None, "Missing values: interpolate, ffill, zero or drop (default: error)."),
    ("freq", str | None, None, "Pandas frequency (h, D, W, MS, ...) when it cannot be inferred."),
    ("season_length", int | None, None, "Season length (default from the frequency: hourly 24, daily 7, weekly 52, "
                                        "monthly 12, quarterly 4, yearly 1; without a calendar, a clear cycle in "
                                        "the autocorrelation)."),
    ("n_prev", str, "auto", "Input window length, or auto: 30 steps or three seasons if shorter, at least twice "
                            "the horizon, at most a fifth of the median training part."),
    ("test_size", float, 0.1, "Fraction of each series' last points held out as test, at least one --horizon; "
                              "0: no hold-out. Series too short to spare one train on all points, unscored."),
    ("val_size", float, 0.0, "Fraction of the latest training windows held out for validation, [0, 1): each network "
                             "then keeps its epoch with the best validation loss (and --patience can stop it). 0: "
                             "train the whole budget and keep the last epoch (with --patience: the lowest training loss)."),
    ("refit", bool, True, "After scoring on the hold-out, refit on every point for the forecast model, for the "
                          "epochs each evaluation network kept; --no-refit forecasts with the evaluation model."),
    ("cell", Literal[CELLS], "lstm", "Recurrent cell: lstm, gru, rnn, peephole or cifg."),
    ("hidden", int, 64, "Hidden units per layer (the tutorial's 300 is no more accurate on real series, and "
                        "slower)."),
    ("layers", int, 1, "Stacked recurrent layers."),
    ("dropout", float, 0.0, "Dropout between stacked layers, [0, 1)."),
    ("ensemble", int | None, None, "Networks trained from seeds seed, seed+1, ... (default 10 with --training both, "
                                   "else 5); the forecast is their median (with both: the mean of the windows "
                                   "networks' median and the forking ones')."),
    ("loss", Literal[LOSSES], "mse", "mse, mae, huber, quantile (pinball) or gaussian (NLL)."),
    ("quantiles", str, "0.1,0.5,0.9", "Quantile levels for --loss quantile."),
    ("epochs", int | None, None, "Training epochs (default 15, more on short series so that training takes at "
                                 "least 240 optimiser steps)."),
    ("batch_size", int | None, None, "Windows per optimiser step (default 600, fewer on short series so an epoch "
                                     "has at least 16 steps)."),
    ("lr", float, 1e-3, "Learning rate."),
    ("optimizer", Literal[OPTIMIZERS], "rmsprop", "rmsprop or adam."),
    ("scaler", Literal[SCALERS], "standard", "standard, minmax or none; fitted per series on training points only."),
    ("transform", Literal[TRANSFORMS], "auto", "auto: model the log of every series whose training points are all positive (a "
                               "season that grows with the level becomes a fixed pattern), and keep the forecasts of "
                               "one never below zero (counts with zeros) at or above zero; none: raw values."),
    ("deseason", Literal[DESEASONS], "auto", "auto: remove each series' seasonal indices (classical decomposition of the training "
                              "part, kept only when the lag-season autocorrelation is significant) before the "
                              "network sees it; none: leave the season in."),
    ("window_norm", Literal[WINDOW_NORMS], "auto", "The network sees each window relative to its last value (or mean) and forecasts "
                                 "a correction to an anchor: last (the last value), mean, season (the seasonal naive "
                                 "forecast), none (absolute scaled values); auto: last, except none for a one-step "
                                 "model of a series without any season, and season when --deseason none leaves a "
                                 "season in that fits in the window."),
    ("ets", bool | None, None, "Average the networks' forecast with a damped-trend exponential smoothing of each "
                                "series (fitted on the same adjusted training points), weighing a third, two thirds "
                                "on seasonal data. Default: on, "
                                "except for a series that cycles (a cycle in the autocorrelation, as its season or "
                                "left after the calendar season), whose swings the smoothing would extrapolate as a "
                                "trend, and with --features, which it cannot read. A series with no season gets the "
                                "Theta method as another third."),
    ("patience", int | None, None, "Stop after this many epochs without a better validation loss (training loss "
                                   "with --val-size 0)."),
    ("seed", int, 0, "Random seed (same seed on CPU, same results)."),
    ("device", Literal[DEVICES], "auto", "auto, cpu or cuda. auto trains on a CUDA GPU when there is one and the "
                                         "data have 2,000 points or more (fewer train faster on the CPU)."),
    ("precision", Literal[PRECISIONS], "auto", "Training precision: fp32, bf16 (mixed, autocast; CPUs with AVX512-BF16 or AMX, and "
                               "GPUs) or fp16 (mixed with loss scaling, CUDA only); auto: fp32 (on a GPU, bf16 "
                               "was no faster for these small networks). Forecasting always runs in fp32."),
    ("threads", int | None, None, "CPU threads for torch (default: torch's, one per core); 1 keeps a run from "
                                  "slowing down when other processes share the cores."),
    ("training", Literal[TRAININGS], "both", "windows: every window encoded afresh; forking: one recurrent pass over chunks "
                                 "of the series with a forecast and a loss at every position after an --n-prev "
                                 "warm-up (MQ-RNN, DeepAR), inputs as differences, about 10x faster; both: half "
                                 "the networks each way, their medians averaged (the two err differently: on 38 "
                                 "real series the mix beats either alone). Recursive forecasts carry the state "
                                 "when every network is forking."),
    ("compile", bool, False, "torch.compile the network for training; trains eagerly with a note when it "
                             "cannot compile (no C++ compiler, unsupported op)."),
    ("samples", int, 200, "Sample paths for recursive probabilistic forecasts."),
]


def config_flags(fn: F) -> F:
    """Add the CONFIG_FLAGS options to a command; it receives them as one `flags` dict."""
    sig = inspect.signature(fn, eval_str=True)  # real Annotated objects, not the strings of `annotations`
    own = [p for p in sig.parameters.values() if p.name != "flags"]
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=_opt(tp, help, PANELS[name]))
             for name, tp, default, help in CONFIG_FLAGS]

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        flags = {name: kwargs.pop(name) for name, *_ in CONFIG_FLAGS}
        return fn(**kwargs, flags=flags)

    at = next(i for i, p in enumerate(own) if p.name == "out") + 1  # help panels in order: Data, Model, ... Output
    params = own[:at] + extra + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own[at:]]
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper  # type: ignore[return-value]


# Flags that say where this invocation writes and how it talks, not how the run goes: not in a --config file.
NOT_IN_FILE = {"data", "out", "config", "json_out", "quiet", "verbose", "log", "log_dir", "init_from", "resume"}
_settings: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("lstmcast_settings")
_given: contextvars.ContextVar[set[str]] = contextvars.ContextVar("lstmcast_given")  # set on the command line or in --config


def _flag_base(annotation: Any) -> Any:
    """A flag's annotation without Annotated and Optional: a type, or a Literal of its choices."""
    tp = typing.get_args(annotation)[0] if typing.get_origin(annotation) is Annotated else annotation
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def _flag_type(annotation: Any) -> type:
    """bool, int, float or str: the type a flag's value has once parsed (Optional removed)."""
    tp = _flag_base(annotation)
    if typing.get_origin(tp) is Literal:  # a choice
        tp = type(typing.get_args(tp)[0])
    return tp  # type: ignore[no-any-return]


def _flag_choices(annotation: Any) -> tuple[Any, ...] | None:
    """The values a choice flag allows (--cell lstm|gru|...), or None for a free one."""
    tp = _flag_base(annotation)
    return typing.get_args(tp) if typing.get_origin(tp) is Literal else None


def _read_flags(path: Path, params: list[inspect.Parameter]) -> dict[str, Any]:
    """The flags a TOML file sets, by name, each checked against the type of its parameter among `params` (those
    a file may set) and, for a choice flag, against its values."""
    kinds = {p.name: _flag_type(p.annotation) for p in params}
    choices = {p.name: c for p in params if (c := _flag_choices(p.annotation)) is not None}
    flags = {}
    for key, value in read_config(path).items():
        name = key.replace("-", "_")
        if isinstance(value, dict) and name not in kinds:
            raise LstmcastError(f"config file {path}: [{key}] is a TOML table, but settings are read only from the "
                                "top of the file; remove the section header and keep its key = value lines")
        if name in NOT_IN_FILE:
            raise LstmcastError(f"config file {path}: {key!r} cannot be set in a config file; give it on the command "
                                "line")
        if name not in kinds:
            raise unknown_key(path, key, list(kinds))
        flags[name] = coerce(path, key, value, kinds[name])
        if name in choices and flags[name] not in choices[name]:
            near = difflib.get_close_matches(str(flags[name]), list(map(str, choices[name])), n=1)
            raise LstmcastError(f"config file {path}: {key} must be one of {', '.join(map(str, choices[name]))}; "
                                f"got {value!r}" + (f"; did you mean {near[0]!r}?" if near else ""))
    return flags


def config_file(fn: F) -> F:
    """Add `--config FILE.toml`: any other flag of the command under its name (n_prev = 24 for --n-prev 24);
    a flag given on the command line wins over the file. The merged settings are kept for the run folder."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    settable = [p for p in params if p.name not in NOT_IN_FILE]
    kinds = {p.name: _flag_type(p.annotation) for p in settable}
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
        given = {k for k in kinds if getattr(ctx.get_parameter_source(k), "name", None) == "COMMANDLINE"}
        if config is not None:
            for name, value in _read_flags(config, settable).items():
                source = ctx.get_parameter_source(name)
                if source is None or source.name != "COMMANDLINE":
                    kwargs[name] = value
                    given.add(name)
        _settings.set({k: kwargs[k] for k in kinds})
        _given.set(given)
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
    """Where a command's words go: --json puts one JSON document on stdout, --quiet keeps errors only,
    --verbose adds a line per epoch, fold or fit on stderr; progress (stderr), tables and notes never reach
    stdout under --json or --quiet. `stdout_taken`: stdout carries a file (--out -), so tables and progress stay
    off, while notes (stderr) still print."""

    json: bool = False
    quiet: bool = False
    verbose: bool = False
    stdout_taken: bool = False

    def __post_init__(self) -> None:
        if self.quiet and self.verbose:
            raise LstmcastError("--quiet and --verbose ask for opposite things; give one of them")
        if not is_main():  # torchrun: rank 0 alone reports; the other ranks train in silence
            self.json, self.quiet, self.verbose = False, True, False
        if self.json:  # before any work: the document would have nowhere to go
            need_stdout("--json prints its document there; leave --json out or redirect stdout to a file")

    @property
    def chatty(self) -> bool:
        return not (self.json or self.quiet or self.stdout_taken)

    def print(self, *objects: Any) -> None:
        if self.chatty:
            out_console.print(*objects)

    def notes(self, notes: list[str]) -> None:
        if not self.quiet:
            _notes(notes)

    def detail(self, text: str) -> None:
        """A --verbose line on stderr (printed above a live progress bar)."""
        if self.verbose:
            err_console.print(text, highlight=False, soft_wrap=True)

    def document(self, doc: dict[str, Any]) -> None:
        if self.json:
            write_stdout(json.dumps(jsonable(doc), indent=2, allow_nan=False, default=str) + "\n")


JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (what was written, the "
                                                       "metrics, the notes) and nothing else; notes go to stderr.",
                                        rich_help_panel=OUTPUT)]
QuietFlag = Annotated[bool, typer.Option("--quiet", "-q", help="No progress, tables or notes; errors only.",
                                          rich_help_panel=OUTPUT)]
VerboseFlag = Annotated[bool, typer.Option("--verbose", "-v", help="More detail on stderr: a line per epoch (per fold "
                                                                   "or fit for backtest and compare).",
                                           rich_help_panel=OUTPUT)]
JobsFlag = Annotated[int, typer.Option(help="Fits run side by side in this many processes on this machine, each with "
                                            "cores/N torch threads (unless --threads); the results equal --jobs 1's "
                                            "at the same --threads.", rich_help_panel=TRAINING)]


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
    cfg = TrainConfig(**kw)
    if "quantiles" in _given.get(set()) and cfg.loss != "quantile" and cfg.quantiles != TrainConfig().quantiles:
        raise LstmcastError(f"--quantiles sets the levels of --loss quantile, but the loss is {cfg.loss}; add --loss "
                            "quantile, or leave --quantiles out")
    return cfg


@app.command(epilog=_example("lstmcast train sample_data/sine.csv --out runs/sine --horizon 12",
                             "lstmcast train sales.csv --out runs/sales --id-column store --verbose"))
@user_errors
@config_file
@config_flags
def train(
    data: Annotated[Path | None, typer.Argument(help="CSV or Parquet file with the series, or - for stdin (with "
                                                     "--resume: the run's own by default).",
                                                show_default=False)] = None,
    out: Annotated[Path | None, typer.Option(help="Run folder to write (model.pt, history.csv, metrics.json, "
                                                  "test_predictions.csv, config.toml); with --resume, the run "
                                                  "folder itself by default.", show_default=False)] = None,
    horizon: Annotated[int, typer.Option(help="Steps ahead to forecast and score (>= 1).",
                                         rich_help_panel=FORECAST)] = 1,
    strategy: Annotated[Literal[STRATEGIES] | None, typer.Option(
        help="direct (one head for all steps; default for horizon > 1) or recursive (one-step model fed its own "
             "forecasts).", rich_help_panel=FORECAST)] = None,
    json_out: JsonFlag = False,
    quiet: QuietFlag = False,
    verbose: VerboseFlag = False,
    log: Annotated[Literal["tensorboard", "mlflow"] | None, typer.Option(
        help="Also log parameters, per-epoch losses, metrics and the plot to tensorboard or mlflow (pip install "
             "'lstmcast[tensorboard]' or 'lstmcast[mlflow]').", rich_help_panel=OUTPUT)] = None,
    log_dir: Annotated[Path | None, typer.Option(help="tensorboard: folder for the event files (default "
                                                      "tensorboard/RUN_NAME beside the run folder); mlflow: a local "
                                                      "store instead of MLFLOW_TRACKING_URI.",
                                                 rich_help_panel=OUTPUT)] = None,
    init_from: Annotated[Path | None, typer.Option(help="Fine-tune: start every network from this run's final "
                                                        "weights (the same model flags are needed).",
                                                   rich_help_panel=TRAINING)] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue this run's training, interrupted or finished, from "
                                                     "its saved optimiser state up to --epochs in all (the same "
                                                     "data and model flags), writing back into it.",
                                                rich_help_panel=TRAINING)] = None,
    flags: dict[str, Any] | None = None,
) -> None:
    """Train an LSTM on DATA, score it on the held-out end against naive baselines, and write a run folder."""
    assert flags is not None
    said = Output(json_out, quiet, verbose)
    cfg = _config(flags, horizon=horizon, strategy=strategy)
    samples = flags["samples"]
    resumed = None
    if resume is not None:
        from .resume import plan_resume

        if init_from is not None:
            raise LstmcastError("--resume continues a run's own training and --init-from starts a new one from a "
                                "run's weights; give one of them")
        given = _given.get()
        resumed = plan_resume(resume, {k: getattr(cfg, k) for k in given if hasattr(cfg, k)}, data)
        cfg, data, out = resumed.config, resumed.data, out or resumed.run
        samples = samples if "samples" in given else resumed.samples
        run_flags = flags_from_config(cfg, samples)
        _settings.set({k: run_flags.get(k, v) for k, v in _settings.get().items()})  # the run's, in train's order
    elif data is None:
        raise LstmcastError("Missing argument 'DATA'.")
    elif out is None:
        raise LstmcastError("Missing option '--out'.")
    tracker = None
    if log is not None:
        from .tracking import open_tracker

        tracker = open_tracker(log, out, {**cfg.to_dict(), "data": str(data)}, log_dir)
    progress, callbacks = _training_progress(said, tracker, cfg.networks)
    try:
        with _showing(progress):
            result = train_run(data, cfg, out, samples=samples, settings=_settings_file("train", data, out),
                               init_from=init_from, resume=resumed.state if resumed is not None else None,
                               **callbacks)
    except BaseException:
        if tracker is not None:
            tracker.fail()  # nothing was written to the run folder: no log of it either
        raise
    if tracker is not None:
        tracker.finish(result.metrics)
    if resumed is not None:
        result.notes[:0] = resumed.notes
    _report_train(result, said)


def _training_progress(said: Output, tracker: Any = None, networks: int = 1
                       ) -> tuple[Progress, dict[str, Callable[..., None]]]:
    """A progress bar for the stages of a training job, and the on_stage/on_start/on_epoch callbacks that
    drive it (and print --verbose's line per epoch). Its epochs are all `networks`' together."""
    progress = _progress_bar(disable=not said.chatty)
    task = [progress.add_task("train", total=15, info="", start=False, visible=False)]
    stage = [""]

    def on_stage(text: str) -> None:
        stage[0] = text  # printed once the data checks have passed (on_start), never before an error

    def on_start(n_train: int, n_val: int, batch: int, epochs: int) -> None:
        _stop(progress)
        for t in list(progress.task_ids):  # a finished stage's bar stays printed above; do not redraw it
            progress.remove_task(t)
        said.print(stage[0])
        said.print(f"Training on {n_train} windows" + (f" ({n_val} more for validation)" if n_val else "")
                   + f": batch {batch}, {epochs} epoch{'s' * (epochs != 1)}" + (f" over {networks} networks" if networks > 1 else ""))
        task[0] = progress.add_task("train", total=epochs, info="")
        progress.start()
        if tracker is not None:
            tracker.on_start()

    def on_epoch(e: EpochInfo) -> None:
        val = f"{e.val_loss:.4g}" if e.val_loss is not None else "-"
        info = f"train {e.train_loss:.4g}  val {val}{' *' if e.best else ''}  {e.seconds:.1f}s"
        progress.update(task[0], completed=e.epoch, info=info)
        said.detail(f"epoch {e.epoch}/{e.epochs}: {info}")
        if tracker is not None:
            tracker.on_epoch(e)
        pause_point("train:epoch")

    return progress, {"on_stage": on_stage, "on_start": on_start, "on_epoch": on_epoch}


def _test_part(m: dict[str, Any]) -> str:
    """'400 held-out points, one step ahead' or '296 held-out points, 249 forecasts of 48 steps' (the table's title)."""
    held = m.get("leakage_audit", {}).get("split", {}).get("test_points", m["test_points"])
    if m["horizon"] == 1:
        return f"{held} held-out points, one step ahead"
    return f"{held} held-out points, {m['test_forecasts']} forecasts of {m['horizon']} steps"


def _report_train(result: RunResult, said: Output) -> None:
    m = result.metrics
    run = result.paths["checkpoint"].parent
    said.notes(result.notes)
    if m.get("holdout", True):
        said.print(_metrics_table(m, f"Test part (evaluation model): {_test_part(m)}, original scale"))
        _print_probabilistic(m["model"], said)
    said.print(f"Run written to {run}/: " + ", ".join(p.name for p in result.paths.values()))
    said.document({"command": "train", "run": str(run), "files": _files(result), "interrupted": result.interrupted,
                   "notes": result.notes, "metrics": m})
    if result.interrupted:  # Ctrl-C stopped training: the run is saved, but the shell must hear it was cut short
        final = m.get("final_model", {})
        if final.get("refit_interrupted"):
            what = ("before the final model's first epoch on all points finished: saved the evaluation model, "
                    "trained in full, as the forecast model")
        elif final.get("refit"):
            what = (f"while refitting the final model on all points (after {final.get('epochs')} of its epochs): saved "
                    "it as it stood, with the evaluation model's scores,")
        else:
            what = f"after epoch {m['epochs_run']}: saved the best checkpoint so far (epoch {m['best_epoch']})"
        err_console.print(f"[yellow]Interrupted[/yellow] {what} to {run}/ "
                          f"({', '.join(p.name for p in result.paths.values())}); `lstmcast train --resume {run}` "
                          "continues it", highlight=False, soft_wrap=True)
        raise typer.Exit(code=130)


@app.command(epilog=_example("lstmcast predict runs/sine --horizon 24", "lstmcast predict runs/sine --horizon 24 --out fc.parquet",
                             "lstmcast predict runs/sine --data new.csv --horizon 24 --out - | head"))
@user_errors
def predict(
    run_dir: RunDirArg,
    out: Annotated[Path | None, typer.Option(help="Table to write, CSV or Parquet by its extension; - prints CSV to "
                                                  "stdout (default RUN_DIR/test_predictions.csv, or "
                                                  "RUN_DIR/forecast.csv with --horizon).")] = None,
    data: Annotated[Path | None, typer.Option(help="Data file with the training file's columns (default: the training "
                                                   "file recorded in the run); - reads stdin.")] = None,
    horizon: Annotated[int | None, typer.Option(help="Forecast this many steps past the end of the data instead.",
                                                rich_help_panel=FORECAST)] = None,
    samples: Annotated[int, typer.Option(help="Sample paths for recursive probabilistic forecasts.",
                                         rich_help_panel=FORECAST)] = 200,
    device: Annotated[Literal[DEVICES], typer.Option(help="cpu, cuda or auto.", rich_help_panel=FORECAST)] = "cpu",
    fill: Annotated[Literal[FILLS] | None, typer.Option(help="Missing values in --data, and dates the model's step "
                                                        "skips: interpolate, ffill, zero or drop (default: as in "
                                                        "training).")] = None,
    json_out: JsonFlag = False,
    quiet: QuietFlag = False,
    verbose: VerboseFlag = False,
) -> None:
    """One-step-ahead predictions for the test points, or with --horizon N a forecast past the end."""
    to_stdout = out == STDOUT
    if to_stdout and json_out:
        raise LstmcastError("--out - and --json both write to stdout; give one of them")
    if to_stdout:
        need_stdout(TABLE_TO_STDOUT)
    said = Output(json_out, quiet, verbose, stdout_taken=to_stdout)  # stdout carries the table: notes go to stderr
    with _working(said, f"Forecasting {horizon} steps" if horizon else "Scoring the test part"):
        result = predict_run(run_dir, out, data, horizon, samples, device, fill)
    said.notes(result.notes)
    if horizon is None:
        said.print(_metrics_table(result.metrics, "Test part, original scale"))
    path = next(iter(result.paths.values()))
    said.print(f"Wrote {path}")
    said.document({"command": "predict", "files": _files(result), "notes": result.notes, "metrics": result.metrics})


def _working(said: Output, what: str) -> Any:
    """A spinner with the time spent on stderr while a long job without steps of its own runs (silent under
    --quiet and --json, and where stderr is no terminal)."""
    return err_console.status(f"{what}...") if said.chatty and err_console.is_terminal else contextlib.nullcontext()


@app.command(epilog=_example("lstmcast plot runs/sine", "lstmcast plot runs/sales --series store_7 --out store_7.svg"))
@user_errors
def plot(
    run_dir: RunDirArg,
    out: Annotated[Path | None, typer.Option(help="Figure to write, PNG, SVG or PDF by its extension (default "
                                                  "RUN_DIR/plot.png).")] = None,
    forecast: Annotated[Path | None, typer.Option(help="Forecast CSV to draw (default RUN_DIR/forecast.csv if present).")] = None,
    series: Annotated[str | None, typer.Option(help="Series id to draw, with its own scores in the title (default: "
                                                    "the first series).")] = None,
    quiet: QuietFlag = False,
) -> None:
    """Plot predicted vs actual on the test part, the loss curves, and the forecast when there is one."""
    result = plot_run(run_dir, out, forecast, series)
    if not quiet:
        _notes(result.notes)
    Output(quiet=quiet).print(f"Wrote {result.paths['plot']}")


@app.command(epilog=_example("lstmcast export runs/sine --format onnx",
                             "lstmcast export runs/sine --format torchscript --out sine.pt"))
@user_errors
def export(
    run_dir: RunDirArg,
    format: Annotated[Literal["onnx", "torchscript"], typer.Option("--format", help="onnx or torchscript.")] = "onnx",
    out: Annotated[Path | None, typer.Option(help="File to write (default RUN_DIR/model.onnx, or "
                                                  "RUN_DIR/model.torchscript.pt); FILE.json describes it.")] = None,
) -> None:
    """Export the forecast model (ensemble and window normalisation included) to ONNX or TorchScript, checked
    against torch; FILE.json says how to scale inputs and turn the raw output into a forecast."""
    from .export import export_run  # torch.onnx is slow to import: only for this command

    result = export_run(run_dir, format, out)
    _notes(result.notes)
    out_console.print(f"Wrote {', '.join(str(p) for p in result.paths.values())}")


@app.command(epilog=_example("printf '0.31\\n0.28\\n' | lstmcast stream runs/sine",
                             "tail -f readings.txt | lstmcast stream runs/sales --series store_1 --horizon 3"))
@user_errors
def stream(
    run_dir: RunDirArg,
    horizon: Annotated[int | None, typer.Option(help="Steps to forecast after each value (default: the model's "
                                                     "--horizon).")] = None,
    series: Annotated[str | None, typer.Option(help="The series to continue, for a many-series model.")] = None,
    samples: Annotated[int, typer.Option(help="Sample paths for recursive probabilistic forecasts.")] = 200,
) -> None:
    """Read the series' next values from stdin, one per line, and print the forecast after each (CSV, flushed per
    line), starting from the history stored in the run."""
    import sys

    from .checkpoint import load_checkpoint
    from .stream import Stream, stream_lines

    need_stdin("stream reads the series' next values from it, one per line (tail -f readings.txt | lstmcast stream "
               "RUN_DIR)")
    need_stdout("stream prints its forecasts there; redirect stdout to a file or a pipe")
    for text in stream_lines(Stream(load_checkpoint(run_dir), horizon, series, samples), sys.stdin):
        write_stdout(text)  # flushed: each forecast is out before the next value is read


@app.command("generate-memory", epilog=_example("lstmcast generate-memory --out memory.csv --lag 40"))
@user_errors
def generate_memory_cmd(
    out: Annotated[Path, typer.Option(help="CSV or Parquet file to write (columns t,y); - for stdout.")],
    points: Annotated[int, typer.Option(help="Number of points.")] = 4000,
    lag: Annotated[int, typer.Option(help="Steps between a spike and its echo.")] = 40,
    p: Annotated[float, typer.Option(help="Probability of a spike at each step.")] = 0.05,
    echo: Annotated[float, typer.Option(help="Size of the echo relative to the spike.")] = 0.8,
    noise: Annotated[float, typer.Option(help="Standard deviation of added Gaussian noise.")] = 0.05,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Write a long-dependency series: random spikes that echo LAG steps later (y_t = s_t + echo*s_{t-lag} + noise)."""
    if out == STDOUT:
        need_stdout(TABLE_TO_STDOUT)
    df = generate_memory(points, lag, p, echo, noise, seed)
    write_table(df, out)
    if out != STDOUT:
        out_console.print(f"Wrote {len(df)} rows to {out}")


def _score_table(title: str, rows: dict[str, dict[str, float]], cols: list[str], winner: dict[str, str]) -> Table:
    table = Table(title=title)
    table.add_column("forecaster")
    for c in cols:
        table.add_column({"smape": "sMAPE %"}.get(c, c.upper()), justify="right")
    for name, m in rows.items():
        cells = []
        for c in cols:
            v = m.get(c)
            text = f"{v:.4g}" if isinstance(v, (int, float)) and math.isfinite(v) else "–"  # no MASE scale: –
            cells.append(f"[bold green]{text}[/bold green]" if winner.get(c) == name else text)
        table.add_row(name.replace("_", " "), *cells)
    return table


@app.command(epilog=_example("lstmcast backtest sample_data/sine.csv --out runs/bt --horizon 12 --folds 5",
                             "lstmcast backtest sales.csv --out runs/bt --strategy direct,recursive --json"))
@user_errors
@config_file
@config_flags
def backtest(
    data: DataArg,
    out: Annotated[Path, typer.Option(help="Folder to write backtest.csv, backtest.json, backtest.png and "
                                           "backtest.toml.")],
    horizon: Annotated[int, typer.Option(help="Steps forecast from each origin.", rich_help_panel=BACKTEST)] = 1,
    folds: Annotated[int, typer.Option(help="Forecast origins per series (the last ends at the end of the data).",
                                       rich_help_panel=BACKTEST)] = 3,
    step: Annotated[int | None, typer.Option(help="Steps between origins (default: --horizon).",
                                             rich_help_panel=BACKTEST)] = None,
    retrain: Annotated[Literal[RETRAIN], typer.Option(help="always: refit on everything before each origin; never: fit "
                                                           "once before the first origin and slide.",
                                                      rich_help_panel=BACKTEST)] = "always",
    strategy: Annotated[str | None, typer.Option(help="direct, recursive, or both as 'direct,recursive' to compare "
                                                      "them in one table.", rich_help_panel=BACKTEST)] = None,
    jobs: JobsFlag = 1,
    json_out: JsonFlag = False,
    quiet: QuietFlag = False,
    verbose: VerboseFlag = False,
    flags: dict[str, Any] | None = None,
) -> None:
    """Rolling-origin backtest of the LSTM against naive, seasonal naive, drift and mean forecasts."""
    assert flags is not None
    said = Output(json_out, quiet, verbose)
    check_jobs(jobs)  # before the progress bar
    strategies = _split_list(strategy) or [None]
    models = {(f"lstm_{s}" if len(strategies) > 1 else "lstm"): _config(flags, horizon=horizon, strategy=s)
              for s in strategies}
    progress = _progress_bar("fit", disable=not said.chatty)
    task = progress.add_task("backtest", total=len(models) * folds, info="")

    def on_fold(f: FoldInfo) -> None:
        info = f"{f.model} fold {f.fold + 1}/{f.folds} " + (f"trained in {f.seconds:.1f}s" if f.trained else "(reused)")
        progress.update(task, advance=1, info=info)
        said.detail(info)
        pause_point("backtest:fold")

    progress.start()
    with _showing(progress):
        result = backtest_run(data, models, out, horizon, folds, step, retrain, flags["samples"], on_fold, jobs,
                              settings=_settings_file("backtest", data, out))
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


@app.command(epilog=_example("lstmcast compare sample_data/sine.csv --out runs/cmp --cells lstm,gru --seeds 3"))
@user_errors
@config_file
@config_flags
def compare(
    data: DataArg,
    out: Annotated[Path, typer.Option(help="Folder to write compare.csv, compare.json, compare.png and compare.toml.")],
    cells: Annotated[str, typer.Option(help="Comma-separated cells to train.", rich_help_panel=COMPARE)
                     ] = "lstm,gru,rnn,peephole,cifg",
    seeds: Annotated[int, typer.Option(help="Seeds per cell (seed, seed+1, ...).", rich_help_panel=COMPARE)] = 3,
    horizon: Annotated[int, typer.Option(help="Steps ahead to forecast and score.", rich_help_panel=FORECAST)] = 1,
    strategy: Annotated[Literal[STRATEGIES] | None, typer.Option(help="direct or recursive.",
                                                                 rich_help_panel=FORECAST)] = None,
    jobs: JobsFlag = 1,
    json_out: JsonFlag = False,
    quiet: QuietFlag = False,
    verbose: VerboseFlag = False,
    flags: dict[str, Any] | None = None,
) -> None:
    """Train several recurrent cells on the same split, window and budget over several seeds, and compare."""
    assert flags is not None
    said = Output(json_out, quiet, verbose)
    cfg = _config(flags, horizon=horizon, strategy=strategy)
    check_jobs(jobs)  # before the progress bar
    names = _split_list(cells)
    progress = _progress_bar("fit", disable=not said.chatty)
    task = progress.add_task("compare", total=max(1, len(names) * seeds), info="")
    done = [0]

    def on_fit(cell: str, seed: int) -> None:  # called as each fit finishes (in any order with --jobs)
        done[0] += 1
        progress.update(task, completed=done[0], info=f"{cell} seed {seed} done")
        said.detail(f"fit {done[0]}/{len(names) * seeds}: {cell} seed {seed} done")

    progress.start()
    with _showing(progress):
        result = compare_run(data, cfg, names, seeds, out, on_fit=on_fit, samples=flags["samples"], jobs=jobs,
                             settings=_settings_file("compare", data, out))
        progress.update(task, completed=len(names) * seeds)
    said.notes(result.notes)
    table = Table(title=f"{len(names)} cells x {seeds} seeds, {cfg.epochs or 'auto'} epochs, hidden {cfg.hidden}: test part, "
                        "mean ± sd over seeds")
    for c in ("cell", "parameters", "s/epoch", "MSE", "MAE", "MASE"):
        table.add_column(c, justify="left" if c == "cell" else "right")
    for r in result.metrics["summary"]:
        table.add_row(r["cell"], f"{r['parameters_mean']:,.0f}", f"{r['seconds_per_epoch_mean']:.2f}",
                      *(_plus_minus(r[f"{k}_mean"], r[f"{k}_std"]) for k in ("mse", "mae", "mase")))
    for name, b in result.metrics["baselines"].items():
        table.add_row(name.replace("_", " "), "-", "-", f"{b['mse']:.4g}", f"{b['mae']:.4g}", f"{b['mase']:.4g}")
    said.print(table)
    said.print(f"Wrote {', '.join(str(p) for p in result.paths.values())}")
    said.document({"command": "compare", "files": _files(result), "notes": result.notes, "metrics": result.metrics})


def _plus_minus(mean: float, sd: float) -> str:
    """'158±40', '0.123±0.060': the mean to the decimals of the spread's first two digits, not '158±4e+01'."""
    if not (math.isfinite(mean) and math.isfinite(sd)) or sd <= 0:
        return f"{mean:.4g}±{sd:.2g}"
    decimals = max(0, 1 - math.floor(math.log10(sd)))
    return f"{mean:.{decimals}f}±{sd:.{decimals}f}"


def _file_flags(command: Callable[..., Any], path: Path) -> dict[str, Any]:
    """Every flag of `command` that a config file may set, at its default unless the TOML file `path` sets it."""
    params = [p for p in inspect.signature(command).parameters.values()
              if p.name not in NOT_IN_FILE and p.name != "ctx"]
    flags = {p.name: p.default for p in params}
    flags.update(_read_flags(path, params))
    return flags


@app.command(epilog=_example("lstmcast reproduce runs/sine", "lstmcast reproduce runs/sine --data moved/sine.csv --json"))
@user_errors
def reproduce(
    run_dir: RunDirArg,
    data: Annotated[Path | None, typer.Option(help="The training data, if it moved (default: the file recorded in the "
                                                   "run; its sha256 must match); - reads stdin.")] = None,
    json_out: JsonFlag = False,
    quiet: QuietFlag = False,
    verbose: VerboseFlag = False,
) -> None:
    """Retrain RUN_DIR from its config.toml and data in a temporary folder and compare: exit 0 when metrics,
    hold-out predictions, losses and weights are all the same, 1 when something differs (listed)."""
    said = Output(json_out, quiet, verbose)
    settings = Path(run_dir) / "config.toml"
    if not settings.is_file():
        what = "is not a file" if settings.exists() else "not found"
        raise LstmcastError(f"{settings} {what}; reproduce retrains a run folder written by `lstmcast train`")
    src = run_source(run_dir, data)
    flags = _file_flags(train, settings)
    horizon, strategy = flags.pop("horizon"), flags.pop("strategy")
    cfg = _config(flags, horizon=horizon, strategy=strategy)
    said.print(f"Retraining {run_dir} from {settings} on {'stdin' if src == STDOUT else src}")
    progress, callbacks = _training_progress(said, networks=cfg.networks)
    with _showing(progress):
        result = reproduce_run(run_dir, cfg, src, flags["samples"], **callbacks)
    said.notes(result.notes)
    table = Table(title=f"Reproduction of {run_dir}")
    table.add_column("check")
    table.add_column("result")
    for name, diffs in result.checks.items():
        table.add_row(name, "[green]same[/green]" if not diffs else "[red]differs:[/red] " + escape("; ".join(diffs)))
    said.print(table)
    said.print("The run reproduces exactly." if result.matches else
               f"The run does not reproduce: {sum(map(bool, result.checks.values()))} of {len(result.checks)} checks "
               "differ.")
    said.document({"command": "reproduce", "run": str(run_dir), "data": str(src), "matches": result.matches,
                   "checks": result.checks, "notes": result.notes})
    if not result.matches:
        raise typer.Exit(code=1)
