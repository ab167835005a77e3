"""The seed task side by side in one run: lstmcast (windows and forking training), Darts' BlockRNNModel and
NeuralForecast's LSTM, all one LSTM(300) over 30-step windows, batch 600, 15 epochs, RMSprop lr 1e-3, MSE, on
sample_data/sine.csv with its last 400 points held out; seconds to train and one-step test MSE (original scale).

Needs the anchors extra in its own venv: `make bench-anchors` (ANCHORS_ARGS='--epochs 2' for a quick run), or
python bench/bench_anchors.py [--epochs 15] [--threads 2] [--only lstmcast-windows,darts,...]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from machine import cpu_name  # bench/machine.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
HIDDEN, WINDOW, BATCH, LR, TEST = 300, 30, 600, 1e-3, 400


def lstmcast_run(values: np.ndarray, epochs: int, training: str, precision: str) -> tuple[float, float, float]:
    """(train seconds, test-prediction seconds, test MSE) with the seed-task flags and lstmcast's other defaults."""
    from lstmcast.config import TrainConfig
    from lstmcast.data import panel_from_frame
    from lstmcast.run import evaluate
    from lstmcast.train import fit

    panel = panel_from_frame(pd.DataFrame({"t": np.arange(len(values)), "y": values}))
    cfg = TrainConfig(hidden=HIDDEN, ensemble=1, n_prev=WINDOW, batch_size=BATCH, epochs=epochs, lr=LR,
                      optimizer="rmsprop", loss="mse", test_size=TEST / len(values), training=training,
                      precision=precision, refit=False)
    t0 = time.perf_counter()
    fitted = fit(panel, cfg)
    t1 = time.perf_counter()
    _, m = evaluate(fitted)
    assert m["test_forecasts"] == TEST
    return t1 - t0, time.perf_counter() - t1, float(m["model"]["mse"])


def darts_run(values: np.ndarray, epochs: int) -> tuple[float, float, float]:
    """Darts BlockRNNModel (LSTM), min-max scaled on the training part, last-epoch weights."""
    from darts import TimeSeries
    from darts.dataprocessing.transformers import Scaler
    from darts.models import BlockRNNModel

    series = TimeSeries.from_values(values.astype(np.float32))
    train = series[: len(values) - TEST]
    scaler = Scaler().fit(train)
    model = BlockRNNModel(input_chunk_length=WINDOW, output_chunk_length=1, model="LSTM", hidden_dim=HIDDEN,
                          n_rnn_layers=1, batch_size=BATCH, n_epochs=epochs, optimizer_cls=torch.optim.RMSprop,
                          optimizer_kwargs={"lr": LR, "alpha": 0.9}, random_state=0,
                          pl_trainer_kwargs={"accelerator": "cpu", "enable_progress_bar": False,
                                             "enable_model_summary": False, "logger": False})
    t0 = time.perf_counter()
    model.fit(scaler.transform(train), verbose=False)
    t1 = time.perf_counter()
    fc = model.historical_forecasts(scaler.transform(series), start=len(values) - TEST, forecast_horizon=1,
                                    retrain=False, last_points_only=True, verbose=False)
    pred = scaler.inverse_transform(fc).values()[:, 0]
    return t1 - t0, time.perf_counter() - t1, float(np.mean((pred - values[-TEST:]) ** 2))


def neuralforecast_run(values: np.ndarray, epochs: int) -> tuple[float, float, float]:
    """NeuralForecast LSTM (one layer, linear decoder), standard-scaled per window; training and the 400 test
    origins happen in one cross_validation call, so its time is reported as training (it includes predicting)."""
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MSE
    from neuralforecast.models import LSTM

    df = pd.DataFrame({"unique_id": "sine", "ds": np.arange(len(values)), "y": values})
    steps = epochs * math.ceil((len(values) - TEST - WINDOW) / BATCH)  # NeuralForecast counts optimiser steps
    model = LSTM(h=1, input_size=WINDOW, encoder_n_layers=1, encoder_hidden_size=HIDDEN, decoder_layers=1,
                 decoder_hidden_size=HIDDEN, loss=MSE(), max_steps=steps, learning_rate=LR, batch_size=1,
                 windows_batch_size=BATCH, scaler_type="standard", random_seed=0, optimizer=torch.optim.RMSprop,
                 optimizer_kwargs={"alpha": 0.9}, accelerator="cpu", enable_progress_bar=False,
                 enable_model_summary=False, logger=False)
    nf = NeuralForecast(models=[model], freq=1)
    t0 = time.perf_counter()
    cv = nf.cross_validation(df=df, n_windows=TEST, step_size=1, refit=False)
    t = time.perf_counter() - t0
    pred = cv.sort_values("ds")["LSTM"].to_numpy()
    return t, 0.0, float(np.mean((pred - values[-TEST:]) ** 2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--data", type=Path, default=ROOT / "sample_data" / "sine.csv")
    ap.add_argument("--only", default="", help="comma-separated subset of the runs below")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    values = pd.read_csv(a.data).iloc[:, 1].to_numpy(np.float64)
    runs: dict[str, Callable[[], tuple[float, float, float]]] = {
        "lstmcast-windows": lambda: lstmcast_run(values, a.epochs, "windows", "fp32"),
        "lstmcast-forking": lambda: lstmcast_run(values, a.epochs, "forking", "fp32"),
        "darts-blockrnn": lambda: darts_run(values, a.epochs),
        "neuralforecast-lstm": lambda: neuralforecast_run(values, a.epochs),
    }
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        runs["lstmcast-forking-bf16"] = lambda: lstmcast_run(values, a.epochs, "forking", "bf16")
    chosen = [r for r in a.only.split(",") if r] or list(runs)
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__}, {a.threads} threads; "
          f"{a.data.name}: {len(values)} points, last {TEST} test; LSTM {HIDDEN}, window {WINDOW}, batch {BATCH}, "
          f"{a.epochs} epochs, RMSprop lr {LR:g}, MSE")
    print("| run | train s | test predict s | test MSE |\n|---|---:|---:|---:|")
    for name in chosen:
        train_s, pred_s, mse = runs[name]()
        print(f"| {name} | {train_s:.2f} | {pred_s:.2f} | {mse:.6f} |", flush=True)


if __name__ == "__main__":
    main()
