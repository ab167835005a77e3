"""Typer commands: parse flags, call the library, print. No forecasting logic lives here."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from .config import TrainConfig
from .data import generate_sine
from .errors import LstmcastError
from .io import write_csv
from .run import RunResult, plot_run, predict_run, train_run
from .train import EpochInfo

__all__ = ["app"]

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train LSTM forecasters on a CSV and get forecasts, metrics and plots, honestly scored "
                       "against naive baselines.")
out_console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Turn LstmcastError into one red line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LstmcastError as e:
            err_console.print(f"[red]Error:[/red] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt:
            err_console.print("Interrupted; nothing was written.")
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


def _progress_bar() -> Progress:
    return Progress(TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TextColumn("{task.fields[info]}"),
                    TimeElapsedColumn(), console=out_console, transient=False)


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


def _print_probabilistic(m: dict[str, Any]) -> None:
    keys = [k for k in m if k.startswith(("coverage_", "width_")) or k in ("pinball", "crps")]
    if keys:
        out_console.print("Uncertainty: " + ", ".join(f"{k} {m[k]:.4g}" for k in keys))


@app.command()
@user_errors
def train(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file with the series.")],
    out: Annotated[Path, typer.Option(help="Run folder to write (model.pt, history.csv, metrics.json, "
                                           "test_predictions.csv).")],
    column: Annotated[str | None, typer.Option(help="Value column to forecast (default: the only numeric one).")] = None,
    time_column: Annotated[str | None, typer.Option(help="Time column (default: detected by name or dates).")] = None,
    id_column: Annotated[str | None, typer.Option(help="Series key for a long file with many series.")] = None,
    features: Annotated[str | None, typer.Option(help="Comma-separated past covariate columns fed beside the target.")] = None,
    calendar: Annotated[bool, typer.Option(help="Add known-future calendar features (sin/cos of hour, weekday, "
                                                "day of year or month).")] = False,
    fill: Annotated[str | None, typer.Option(help="Missing values: interpolate, ffill, zero or drop (default: error).")] = None,
    freq: Annotated[str | None, typer.Option(help="Pandas frequency (h, D, W, MS, ...) when it cannot be inferred.")] = None,
    season_length: Annotated[int | None, typer.Option(help="Season length (default from the frequency: hourly 24, "
                                                           "daily 7, weekly 52, monthly 12, quarterly 4).")] = None,
    n_prev: Annotated[str, typer.Option(help="Input window length, or 'auto' (3 seasons, bounded by the data).")] = "30",
    horizon: Annotated[int, typer.Option(help="Steps ahead to forecast and score (>= 1).")] = 1,
    strategy: Annotated[str | None, typer.Option(help="direct (one head for all steps; default for horizon > 1) or "
                                                      "recursive (one-step model fed its own forecasts).")] = None,
    test_size: Annotated[float, typer.Option(help="Fraction of each series' last points held out as test, in (0, 1).")] = 0.1,
    val_size: Annotated[float, typer.Option(help="Fraction of the latest training windows used for validation, [0, 1).")] = 0.05,
    cell: Annotated[str, typer.Option(help="Recurrent cell: lstm, gru, rnn, peephole or cifg.")] = "lstm",
    hidden: Annotated[int, typer.Option(help="Hidden units per layer.")] = 300,
    layers: Annotated[int, typer.Option(help="Stacked recurrent layers.")] = 1,
    dropout: Annotated[float, typer.Option(help="Dropout between stacked layers, [0, 1).")] = 0.0,
    loss: Annotated[str, typer.Option(help="mse, mae, huber, quantile (pinball) or gaussian (NLL).")] = "mse",
    quantiles: Annotated[str, typer.Option(help="Quantile levels for --loss quantile.")] = "0.1,0.5,0.9",
    epochs: Annotated[int, typer.Option(help="Training epochs (>= 1).")] = 15,
    batch_size: Annotated[int | None, typer.Option(help="Windows per optimiser step (default 600, fewer on short "
                                                        "series so an epoch has at least 4 steps).")] = None,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 1e-3,
    optimizer: Annotated[str, typer.Option(help="rmsprop or adam.")] = "rmsprop",
    scaler: Annotated[str, typer.Option(help="standard, minmax or none; fitted per series on training points only.")] = "standard",
    window_norm: Annotated[str, typer.Option(help="last: the network sees each window relative to its last value "
                                                  "(handles trends and level shifts); none: absolute scaled values.")] = "last",
    patience: Annotated[int | None, typer.Option(help="Stop after this many epochs without a better validation loss.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed on CPU, same results).")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    samples: Annotated[int, typer.Option(help="Sample paths for recursive probabilistic forecasts.")] = 200,
) -> None:
    """Train an LSTM on DATA, score it on the held-out end against naive baselines, and write a run folder."""
    cfg = TrainConfig(
        column=column, time_column=time_column, id_column=id_column, features=_split_list(features),
        calendar=calendar, fill=fill, freq=freq, season_length=season_length, n_prev=_n_prev(n_prev),
        horizon=horizon, strategy=strategy, test_size=test_size, val_size=val_size, cell=cell, hidden=hidden,
        layers=layers, dropout=dropout, loss=loss, quantiles=_floats(quantiles, "--quantiles"), epochs=epochs,
        batch_size=batch_size, lr=lr, optimizer=optimizer, scaler=scaler, window_norm=window_norm, patience=patience, seed=seed, device=device,
    )
    if samples < 1:
        raise LstmcastError(f"--samples must be at least 1, got {samples}")
    progress = _progress_bar()
    task = progress.add_task("train", total=cfg.epochs, info="", start=False)

    def on_start(n_train: int, n_val: int, batch: int) -> None:
        out_console.print(f"Training on {n_train} windows ({n_val} more for validation), batch {batch}")
        progress.start()
        progress.start_task(task)

    def on_epoch(e: EpochInfo) -> None:
        val = f"{e.val_loss:.4g}" if e.val_loss is not None else "-"
        progress.update(task, completed=e.epoch,
                        info=f"train {e.train_loss:.4g}  val {val}{' *' if e.best else ''}  {e.seconds:.1f}s")

    try:
        result = train_run(data, cfg, out, on_epoch=on_epoch, samples=samples, on_start=on_start)
    finally:
        progress.stop()
    _report_train(result)


def _report_train(result: RunResult) -> None:
    m = result.metrics
    _notes(result.notes)
    if result.interrupted:
        err_console.print(f"[yellow]Interrupted after epoch {m['epochs_run']}:[/yellow] saved the best checkpoint so far "
                          f"(epoch {m['best_epoch']}).")
    out_console.print(_metrics_table(m, f"Test part: {m['test_points']} points, horizon {m['horizon']}, "
                                        "original scale"))
    _print_probabilistic(m["model"])
    out_console.print(f"Run written to {result.paths['checkpoint'].parent}/: "
                      + ", ".join(p.name for p in result.paths.values()))


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
) -> None:
    """One-step-ahead predictions for the test points, or with --horizon N a forecast past the end."""
    result = predict_run(run_dir, out, data, horizon, samples, device)
    _notes(result.notes)
    if horizon is None:
        out_console.print(_metrics_table(result.metrics, "Test part, original scale"))
    path = next(iter(result.paths.values()))
    out_console.print(f"Wrote {path}")


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
