"""Training-throughput benchmark of every recurrent cell in lstmcast.cells (encoder + linear head, Adam)."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from lstmcast.cells import CELLS, build_recurrent  # noqa: E402

__all__ = ["Forecaster", "bench_cell", "machine_info", "main"]


class Forecaster(nn.Module):
    """Recurrent encoder + linear head on the last output, as the real model uses it."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        """Build the encoder with build_recurrent and a 1-output linear head."""
        super().__init__()
        self.encoder = build_recurrent(cell, input_size, hidden_size, num_layers, dropout)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        """x (batch, time, input) -> prediction (batch, 1)."""
        out = self.encoder(x)[0]  # (batch, time, hidden)
        return self.head(out[:, -1])  # (batch, 1)


def machine_info() -> str:
    """One line: CPU model, CPUs available, torch threads, torch/Python versions, current load."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    avail = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"CPU: {model} | cpus available: {avail} | torch threads: {torch.get_num_threads()} | "
        f"torch {torch.__version__} | python {platform.python_version()} | load avg (1 min) {load:.2f}"
    )


def bench_cell(
    cell: str, x: Tensor, y: Tensor, hidden: int, layers: int, dropout: float, steps: int, warmup: int
) -> tuple[int, float, float]:
    """Return (parameters, training windows/s, inference windows/s) for one cell."""
    torch.manual_seed(0)
    model = Forecaster(cell, x.shape[-1], hidden, layers, dropout)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()

    def train_step() -> None:
        """One forward + backward + optimizer step."""
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    model.train()
    for _ in range(warmup):
        train_step()
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step()
    train_rate = steps * x.shape[0] / (time.perf_counter() - t0)

    model.eval()
    with torch.inference_mode():
        model(x)
        t0 = time.perf_counter()
        for _ in range(steps):
            model(x)
        infer_rate = steps * x.shape[0] / (time.perf_counter() - t0)
    n_params = sum(p.numel() for p in model.parameters())
    return n_params, train_rate, infer_rate


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, benchmark each cell, print the table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hidden", type=int, default=300)
    ap.add_argument("--window", type=int, default=30)
    ap.add_argument("--batch", type=int, default=600)
    ap.add_argument("--steps", type=int, default=20, help="timed optimizer steps per cell")
    ap.add_argument("--warmup", type=int, default=3, help="untimed optimizer steps per cell")
    ap.add_argument("--input", type=int, default=1, help="features per time step")
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--repeats", type=int, default=1, help="sweeps over all cells; best rate per cell is kept")
    ap.add_argument(
        "--threads", type=int, default=0, help="torch threads (0: torch default); 1 is steadier on a busy machine"
    )
    ap.add_argument("--cells", default=",".join(CELLS), help="comma-separated subset of " + ",".join(CELLS))
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]

    print(machine_info())
    print(
        f"batch {args.batch} | window {args.window} | input {args.input} | hidden {args.hidden} | "
        f"layers {args.layers} | dropout {args.dropout} | {args.warmup} warm-up + {args.steps} timed steps"
    )
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, args.window, args.input, generator=gen)
    y = torch.randn(args.batch, 1, generator=gen)

    best: dict[str, tuple[int, float, float]] = {}
    for rep in range(args.repeats):  # whole sweeps, so a burst of load elsewhere hits one sweep, not one cell
        for cell in cells:
            n_params, train_rate, infer_rate = bench_cell(
                cell, x, y, args.hidden, args.layers, args.dropout, args.steps, args.warmup
            )
            old = best.get(cell, (n_params, 0.0, 0.0))
            best[cell] = (n_params, max(old[1], train_rate), max(old[2], infer_rate))
            print(f"  sweep {rep + 1}/{args.repeats}: {cell} {train_rate:,.0f} train win/s", file=sys.stderr)
    rows = [(cell, *best[cell]) for cell in cells]

    base = {r[0]: r for r in rows}.get("lstm")
    print()
    print(f"{'cell':<10}{'params':>10}{'train win/s':>14}{'vs lstm':>9}{'infer win/s':>14}{'vs lstm':>9}")
    for cell, n_params, train_rate, infer_rate in rows:
        rt = f"{train_rate / base[2]:.2f}x" if base else "-"
        ri = f"{infer_rate / base[3]:.2f}x" if base else "-"
        print(f"{cell:<10}{n_params:>10,}{train_rate:>14,.0f}{rt:>9}{infer_rate:>14,.0f}{ri:>9}")


if __name__ == "__main__":
    main()
