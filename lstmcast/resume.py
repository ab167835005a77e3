"""train --resume RUN_DIR: each network's training state after its last finished epoch, saved in the
checkpoint, and the checks that a resumed run continues the same training on the same data."""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .config import TrainConfig
from .configfile import flag_text, read_config
from .data import file_fingerprint
from .errors import LstmcastError

if TYPE_CHECKING:
    from .train import Fitted

__all__ = ["MemberState", "Resume", "CHANGEABLE", "training_state", "plan_resume"]

# What a resumed run may change: how far and where it trains, never what it trains.
CHANGEABLE = ("epochs", "patience", "device", "precision", "threads")


def _cpu(obj: Any) -> Any:
    """Tensors (in nested dicts and lists) copied to the CPU, for the checkpoint."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu(v) for v in obj)
    return obj


class MemberState:
    """One network's training state after its last finished epoch: its weights (and the best epoch's when
    those differ), the optimiser's state, the batch-order generator, torch's CPU generator (dropout) and
    the early-stopping counters. A run interrupted mid-epoch resumes from the epoch before."""

    def __init__(self, saved: dict[str, Any] | None = None) -> None:
        self.saved = saved

    def restore(self, model: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator,
                history: list[dict[str, Any]]) -> tuple[int, float, int, dict[str, torch.Tensor], int]:
        """Load the saved state -> (first epoch to run, best score, best epoch, best weights, epochs since best)."""
        s = self.saved
        assert s is not None
        model.load_state_dict(s["weights"])
        opt.load_state_dict(s["optimizer"])
        gen.set_state(s["generator"])
        torch.set_rng_state(s["rng"])
        if s.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state(s["cuda_rng"])
        history.extend(dict(h) for h in s["history"])
        best = copy.deepcopy(s["best"] if s["best"] is not None else s["weights"])
        return int(s["epoch"]) + 1, float(s["best_val"]), int(s["best_epoch"]), best, int(s["since_best"])

    def snap(self, epoch: int, model: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator,
             best: tuple[float, int, dict[str, torch.Tensor], int], history: list[dict[str, Any]]) -> None:
        """Keep the state at the end of `epoch`; best = (score, epoch, weights, epochs since)."""
        best_val, best_epoch, best_state, since_best = best
        cuda = next(model.parameters()).is_cuda
        self.saved = {
            "epoch": epoch, "weights": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "best": None if best_epoch == epoch else best_state,  # best_state is replaced, never changed in place
            "optimizer": copy.deepcopy(opt.state_dict()), "generator": gen.get_state(), "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state() if cuda else None,
            "best_val": float(best_val), "best_epoch": int(best_epoch), "since_best": int(since_best),
            "history": [dict(h) for h in history],
        }

    def stopped(self, patience: int | None) -> bool:
        """Whether early stopping had ended this network's training."""
        return self.saved is not None and patience is not None and self.saved["since_best"] >= patience


def training_state(cfg: TrainConfig, evaluation: Fitted, final: Fitted, interrupted: bool = False) -> dict[str, Any]:
    """The checkpoint's `resume` entry: the run's settings (its full ensemble, even when Ctrl-C cut it short),
    each network's state in both stages (None for one never started), and whether the run was cut short
    (`interrupted`: also when the cut came before the final model's first epoch, which left no final state)."""
    def states(f: Fitted) -> list[dict[str, Any] | None]:
        return [_cpu(s.saved) for s in f.states]

    return {"config": cfg.to_dict(), "planned_epochs": int(evaluation.epochs),
            "interrupted": bool(interrupted or evaluation.interrupted or final.interrupted),
            "evaluation": states(evaluation), "final": states(final) if final is not evaluation else None}


@dataclass
class Resume:
    """What `train --resume` continues: the run's settings (with the allowed changes), its data and state."""

    run: Path
    config: TrainConfig
    data: Path
    state: dict[str, Any]
    notes: list[str]
    samples: int = 200  # the run's --samples (its config.toml's), for scoring it as it was scored


def plan_resume(run_dir: Path, asked: dict[str, Any] | None = None, data: Path | None = None) -> Resume:
    """Check that RUN_DIR can be resumed with the settings `asked` (TrainConfig fields the user gave) on
    `data` (default: the file the run recorded), and say what will be continued.

    --epochs is the total number of epochs, as Keras's `epochs` with `initial_epoch` and Lightning's
    `max_epochs` after a checkpoint: a run of 4 resumed with --epochs 8 trains 4 more."""
    from .checkpoint import load_checkpoint  # checkpoint imports train, which imports this module

    ckpt = load_checkpoint(run_dir)
    run = Path(run_dir) if Path(run_dir).is_dir() else Path(run_dir).parent
    state = ckpt.payload.get("resume")
    if state is None:
        raise LstmcastError(f"--resume {run}: {ckpt.path} holds no optimiser state to continue from (it was saved by "
                            f"an lstmcast that did not keep it); start a new training from its weights with "
                            f"--init-from {run}")
    old = TrainConfig.from_dict(state["config"])
    asked = dict(asked or {})
    differ = [f.name for f in fields(TrainConfig) if f.name in asked and f.name not in CHANGEABLE
              and asked[f.name] != getattr(old, f.name)]
    if differ:
        yours = ", ".join(flag_text(n, asked[n]) for n in differ)
        had = ", ".join(flag_text(n, getattr(old, n)) for n in differ)
        raise LstmcastError(f"--resume {run}: {yours} differ{'s' * (len(differ) == 1)} from the run's {had}; a resumed "
                            f"run continues the same training, so only --epochs, --patience, --device, --precision "
                            f"and --threads may change (--init-from {run} starts a new training from its weights)")
    cfg = replace(old, **{k: asked[k] for k in CHANGEABLE if k in asked})
    src = Path(data) if data is not None else Path(ckpt.data["path"])
    if not src.exists():
        raise LstmcastError(f"--resume {run}: its training data {src} is not there; give the file: "
                            f"lstmcast train FILE --resume {run}")
    if file_fingerprint(src) != ckpt.data.get("sha256"):
        raise LstmcastError(f"--resume {run}: {src} is not the file the run trained on (its sha256 differs from the "
                            f"one in {ckpt.path}); to train on other data from this run's weights use "
                            f"--init-from {run}")
    done = [MemberState(s) for s in state["evaluation"]]
    ran = max((int(s.saved["epoch"]) for s in done if s.saved is not None), default=0)
    target = cfg.epochs if cfg.epochs is not None else int(state["planned_epochs"])
    if ran > target:
        raise LstmcastError(f"--resume {run}: the run has trained {ran} epochs already and --epochs {target} asks for "
                            f"fewer; --epochs is the total number of epochs, so ask for more than {ran}")
    stopped = [s.stopped(cfg.patience) for s in done]
    pending = len(done) < cfg.networks or any(
        s.saved is None or (int(s.saved["epoch"]) < target and not stop) for s, stop in zip(done, stopped))
    if not pending and not state["interrupted"]:
        if all(stopped):
            raise LstmcastError(f"--resume {run}: nothing left to train: every network stopped early under --patience "
                                f"{cfg.patience}; a larger --patience lets them go on")
        early = f" or stopped early under --patience {cfg.patience}" if any(stopped) else ""
        raise LstmcastError(f"--resume {run}: nothing left to train: every network has run its {target} epochs{early}; "
                            f"--epochs is the total, so ask for more (e.g. --epochs {2 * target})"
                            + (" or a larger --patience" if early else ""))
    notes = [f"resumed {run} after {_epochs_done(done)}, to {target} epochs"]
    return Resume(run=run, config=cfg, data=src, state=state, notes=notes, samples=_samples(run))


def _samples(run: Path) -> int:
    """The run's --samples from its config.toml; 200 (the default) when the run has none."""
    try:
        value = read_config(run / "config.toml").get("samples", 200)
    except LstmcastError:
        return 200
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 200


def _epochs_done(done: list[MemberState]) -> str:
    epochs = sorted({int(s.saved["epoch"]) if s.saved is not None else 0 for s in done})
    if len(epochs) == 1:
        return f"{epochs[0]} epoch{'s' * (epochs[0] != 1)}"
    return f"{epochs[0]}-{epochs[-1]} epochs per network"
