"""train --init-from RUN_DIR: start every network from an earlier run's final weights (fine-tuning on new data)."""

from __future__ import annotations

from pathlib import Path

import torch

from .checkpoint import load_checkpoint
from .config import TrainConfig
from .configfile import flag_text
from .errors import LstmcastError

__all__ = ["SHAPE_FIELDS", "init_weights"]

# The settings that fix the networks' shapes; the inputs (features, calendar) are checked when the weights load.
SHAPE_FIELDS = ("cell", "hidden", "layers", "loss", "quantiles", "features", "training")


def init_weights(run_dir: Path, cfg: TrainConfig) -> list[dict[str, torch.Tensor]]:
    """One state dict per network of the run's final model, after checking that `cfg` builds the same networks."""
    ckpt = load_checkpoint(run_dir)
    old = ckpt.config
    run = Path(run_dir) if Path(run_dir).is_dir() else Path(run_dir).parent
    pairs = [(f, getattr(old, f), getattr(cfg, f)) for f in SHAPE_FIELDS]
    pairs.append(("ensemble", old.networks, cfg.networks))
    pairs.append(("horizon", old.model_horizon, cfg.model_horizon))  # the head's width: steps per pass
    diff = [(f, a, b) for f, a, b in pairs if (list(a) if isinstance(a, (list, tuple)) else a)
            != (list(b) if isinstance(b, (list, tuple)) else b)]
    if diff:
        had = " ".join(flag_text(f, a) for f, a, _ in diff)
        asks = " ".join(flag_text(f, b) for f, _, b in diff)
        raise LstmcastError(f"--init-from {run}: that run's networks were trained with {had}, this training asks for "
                            f"{asks}; give the same model flags (--config {run / 'config.toml'} repeats them all)")
    state = ckpt.payload["model"]
    if old.networks == 1:
        return [dict(state)]
    return [{k.split(".", 2)[2]: v for k, v in state.items() if k.startswith(f"members.{i}.")}
            for i in range(old.networks)]
