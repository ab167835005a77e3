"""Fit the network on a Prepared panel (prepare.py): device, precision, compile, torchrun, the ensemble and the
two stages (evaluation fit, refit); one batched pass per step, no per-sample work. The preparation names are
re-exported here for code that imported them from train."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from .config import TrainConfig
from .data import Panel
from .distributed import SINGLE, Group, config_fingerprint, fingerprint, guard, join, launched
from .errors import LstmcastError, NothingTrained
from .losses import Loss, make_loss
from .model import Ensemble, Forecaster
from .prepare import (MIN_HOLDOUT_WINDOWS, Prepared, SplitPlan, Stats, auto_n_prev, plan_split, prepare,  # noqa: F401
                      resolve_season, training_windows, use_calendar)
from .resume import MemberState
from .windows import ForkSet, WindowSet

__all__ = ["Stats", "Prepared", "Fitted", "EpochInfo", "SplitPlan", "plan_split", "prepare", "fit", "refit", "resolve_device", "resolve_precision", "cpu_has_bf16", "auto_n_prev", "build_model", "resolve_window_norm", "use_calendar", "fork_span"]


@dataclass
class EpochInfo:
    """What `on_epoch` receives after every epoch."""

    epoch: int
    epochs: int
    train_loss: float
    val_loss: float | None
    seconds: float
    best: bool


@dataclass
class Fitted:
    """A trained model with everything needed to forecast and to save it."""

    model: Forecaster
    loss: Loss
    config: TrainConfig
    prep: Prepared
    history: list[dict[str, Any]]
    best_epoch: int
    interrupted: bool
    device: torch.device
    batch_size: int = 0
    epochs: int = 0
    best_epochs: list[int] = field(default_factory=list)  # each ensemble member's
    states: list[MemberState] = field(default_factory=list)  # each planned member's, for --resume


# --device auto trains on a GPU from this many points (all series together). A whole `train` on an H100 took
# about 30 s whatever the data (CUDA's start and one small kernel launch after another), on that machine's CPU
# 23-29 s for 100-1,625 points and 48 s for 4,001 (bench/bench_device.py): the GPU pays from about 1,750.
AUTO_GPU_POINTS = 2_000


def resolve_device(name: str, points: int | None = None) -> torch.device:
    """auto picks CUDA when present, unless `points` (the data to train on) are too few for it to pay; asking
    for CUDA without it is an error, not a silent CPU run."""
    if name == "auto":
        gpu = torch.cuda.is_available() and (points is None or points >= AUTO_GPU_POINTS)
        return torch.device("cuda" if gpu else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise LstmcastError("--device cuda asked but no CUDA GPU is available to torch; use --device cpu")
    return torch.device(name)


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for training (None: plain fp32). auto is fp32: on a CPU it is bit-reproducible with
    --seed, and on an H100 bf16 trained this tool's small recurrent networks no faster (LSTM 300 0.32 s an
    epoch against fp32's 0.27, five LSTM 64 0.06 against 0.04, forking 2.23 against 1.73; one 1,000-series
    panel 1.11 against 1.19: bench/bench_train.py), as cuDNN already runs fp32 matrix products in TF32.
    bf16 on a CPU without bf16 instructions (AVX512-BF16 or AMX) or fp16 on a CPU is an error, not a silent
    slow path."""
    cuda = device.type == "cuda"
    if name in ("fp32", "auto"):
        return None
    if name == "fp16":
        if not cuda:
            raise LstmcastError("--precision fp16 needs a CUDA GPU; on a CPU use bf16 (where supported) or fp32")
        return torch.float16
    if not cuda and not cpu_has_bf16():
        raise LstmcastError("--precision bf16: this CPU has no bf16 instructions (AVX512-BF16 or AMX), so it "
                            "would run slower than fp32; use --precision fp32")
    return torch.bfloat16


def cpu_has_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_window_norm(cfg: TrainConfig, season: int | None, n_prev: int, training: str | None = None) -> str:
    """auto: last (the network forecasts a correction to the last value of the seasonally adjusted
    series, ES-RNN's level normalisation; an untrained network is the M4 benchmark Naive2), except for a
    one-step model on data without any season, which sees absolute values: a relative-only network
    cannot tell a cycle's crest from its middle and drifts when fed its own forecasts (seen on the sine
    before its cycle was detected). `training` is the network's own (windows or forking; default: the run's)."""
    training = training or cfg.training
    if cfg.window_norm == "auto":
        seasonal = bool(season and season > 1)
        if training == "forking":  # differences in, so every position needs an anchor: never "none"
            return "season" if seasonal and cfg.deseason == "none" and n_prev >= season else "last"  # type: ignore[operator]
        if not seasonal and cfg.model_horizon == 1:
            return "none"
        if seasonal and cfg.deseason == "none":
            return "season" if n_prev >= season else "last"  # type: ignore[operator]
        return "last"
    if cfg.window_norm == "season" and not (season and season > 1 and n_prev >= season):
        raise LstmcastError(f"--window-norm season needs a season longer than 1 that fits in --n-prev {n_prev} "
                            f"(season: {season}); set --season-length or use --window-norm last")
    return cfg.window_norm


def build_model(cfg: TrainConfig, n_inputs: int, n_future: int, loss: Loss, season: int | None = None,
                n_prev: int = 0, training: str | None = None) -> Forecaster | Ensemble:
    """The network a config describes (used for training and to rebuild from a checkpoint): one
    Forecaster trained as `training` (windows or forking) when given, else the run's whole ensemble
    (cfg.member_trainings(): windows networks, then forking ones)."""

    def one(kind: str) -> Forecaster:
        norm = resolve_window_norm(cfg, season, n_prev, kind)
        return Forecaster(n_inputs=n_inputs, hidden=cfg.hidden, layers=cfg.layers, dropout=cfg.dropout, cell=cfg.cell,
                          horizon=cfg.model_horizon, n_outputs=loss.n_outputs, n_future=n_future,
                          level_outputs=loss.level_outputs() if norm != "none" else None, level=norm,
                          season=season or 1, forking=kind == "forking", context=n_prev)

    if training is not None:
        return one(training)
    kinds = cfg.member_trainings()
    if len(kinds) == 1:
        return one(kinds[0])
    return Ensemble([one(k) for k in kinds], groups=_groups(kinds))


def _groups(kinds: list[str]) -> tuple[int, ...]:
    """Ensemble groups: the windows networks, then the forking ones."""
    return kinds.count("windows"), kinds.count("forking")


def fork_span(n_prev: int) -> int:
    """Scored positions per forking chunk: as many as the warm-up (so a chunk reads at most twice the points
    it scores, against n_prev times for windows), at least 16 so that short windows still share a pass."""
    return max(n_prev, 16)


def _forward(model: nn.Module, train: WindowSet | ForkSet) -> Callable[..., torch.Tensor]:
    """The training forward: (x, f) -> raw outputs (B, H, K), or (B, span, H, K) at every forking position."""
    if isinstance(train, ForkSet):
        span = len(train.pos)
        return lambda x, f: model.forward_all(x, f, positions=span)  # type: ignore[operator]
    return model


def _compiled(fn: Callable[..., torch.Tensor], on: bool) -> Callable[..., torch.Tensor]:
    """torch.compile(fn) for --compile (compiling happens at the first call, where a failure is caught)."""
    return torch.compile(fn) if on else fn


def _batches(n: int, size: int, perm: torch.Tensor | None) -> list[torch.Tensor | slice]:
    if perm is None:
        return [slice(i, min(i + size, n)) for i in range(0, n, size)]
    return [perm[i:i + size] for i in range(0, n, size)]


@torch.no_grad()
def mean_loss(model: nn.Module, loss: Loss, windows: WindowSet, batch: int, group: Group = SINGLE) -> float:
    """Loss over a whole set of windows in eval mode (dropout off), back to train mode after. Under
    torchrun each rank scores its own part and the sums are added up: every rank gets the same number."""
    was = model.training
    model.eval()
    total = 0.0
    part = group.span(len(windows))
    for b in _batches(part.stop - part.start, batch, None):
        x, y, f = windows[slice(b.start + part.start, b.stop + part.start)]
        total += float(loss(loss.link(model(x, f)), y)) * len(y)
    model.train(was)
    total, n = group.sum(total, part.stop - part.start)
    return total / max(n, 1)


def fit(panel: Panel | Prepared, cfg: TrainConfig, on_epoch: Callable[[EpochInfo], None] | None = None,
        on_start: Callable[[int, int, int, int], None] | None = None, *, epochs: int | list[int] | None = None,
        val_size: float | None = None, batch: int | None = None, keep_last: bool = False,
        init: list[dict[str, torch.Tensor]] | None = None, resume: list[dict[str, Any] | None] | None = None
        ) -> Fitted:
    """Train on the training windows; keep the weights of the best validation epoch, or the last epoch's
    (keep_last, as a refit with a fixed budget does, or without validation windows); with --patience and
    no validation windows, the epoch of lowest training loss. `epochs`, `val_size` and `batch` override
    the config's for this fit only.

    on_start(training windows, validation windows, batch size, epochs) runs once the data checks have passed.
    Ctrl-C stops after the current batch and returns the best model so far (`interrupted`).
    `init` (one state dict per network) starts each network from those weights instead of random ones (fine-tuning).
    `resume` (one saved MemberState per network, None for one never trained) continues each network after its
    last finished epoch; a network whose state is past its epochs here starts afresh.
    """
    torch.manual_seed(cfg.seed)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    prep = panel if isinstance(panel, Prepared) else prepare(panel, cfg)
    # torchrun asked for several processes: auto takes the GPUs whatever the size of the data
    device = resolve_device(cfg.device, None if launched() else len(prep.inputs))
    if cfg.device == "auto" and device.type == "cpu" and torch.cuda.is_available():
        note = (f"--device auto trained on the CPU: {len(prep.inputs):,} points are too few for the GPU to pay "
                f"(it takes over from {AUTO_GPU_POINTS:,}); --device cuda uses it anyway")
        if note not in prep.notes:  # the refit on all points reuses the evaluation's notes
            prep.notes.append(note)
    group = join(device)  # torchrun: this rank's process group (and its own GPU); else a single process
    device = group.device if group.active else device
    amp = resolve_precision(cfg.precision, device)
    h = cfg.model_horizon
    tr_o, va_o = training_windows(prep, h, cfg.val_size if val_size is None else val_size)
    if len(tr_o) == 0:
        raise LstmcastError("no training windows: the series is too short for --n-prev; use a smaller --n-prev")

    # The points go to the device once; each batch gathers its windows from them (memory linear in the data).
    points = [torch.from_numpy(a).to(device) for a in (prep.inputs, prep.target, prep.future)]
    val_set = WindowSet(*points, torch.from_numpy(va_o), prep.n_prev, h)
    loss = make_loss(cfg.loss, cfg.quantiles)
    # With no validation windows, the whole budget is the choice: the lowest running training loss (a mean
    # over an epoch of changing weights) is no better guide than the last epoch. --patience still watches it.
    keep_last = keep_last or (len(va_o) == 0 and cfg.patience is None)
    batch = batch or cfg.batch_for(len(tr_o))
    kinds = cfg.member_trainings()
    sets: dict[str, tuple[WindowSet | ForkSet, int]] = {}
    if "windows" in kinds:
        sets["windows"] = WindowSet(*points, torch.from_numpy(tr_o), prep.n_prev, h), batch
    if "forking" in kinds:  # a batch holds about as many scored positions as windows mode's windows
        span = fork_span(prep.n_prev)
        sets["forking"] = ForkSet(*points, tr_o, prep.n_prev, h, span), max(1, round(batch / span))
    k_members = len(kinds)
    fixed = list(epochs) if isinstance(epochs, list) else [epochs] * k_members
    plan = [e or cfg.epochs_for(len(tr_o), batch) for e in fixed]
    if group.active:
        group.agree({"training windows": len(tr_o), "validation windows": len(va_o), "batch size": batch,
                     "epochs": sum(plan), "inputs": prep.inputs.shape[1], "data": fingerprint(prep.inputs),
                     "flags": config_fingerprint(cfg.to_dict())})
    if on_start is not None:
        on_start(len(tr_o), len(va_o), batch, sum(plan))
    members, histories, bests = [], [], []
    saved = list(resume or [])[:k_members]
    states = [MemberState(s if s is not None and s["epoch"] <= plan[k] else None)
              for k, s in enumerate(saved + [None] * (k_members - len(saved)))]
    interrupted = False
    done = 0
    for k in range(k_members):
        # member k: its own initial weights and batch order, seeded by its place among networks trained alike
        seed = cfg.seed + kinds[:k].count(kinds[k])
        torch.manual_seed(seed)
        model = build_model(cfg, prep.inputs.shape[1], prep.future.shape[1], loss, prep.season_length,
                            prep.n_prev, training=kinds[k]).to(device)
        if init is not None:
            _load_init(model, init[k], prep.input_names)

        def report(e: EpochInfo, k: int = k, done: int = done) -> None:
            if on_epoch is not None:
                on_epoch(EpochInfo(done + e.epoch, sum(plan), e.train_loss, e.val_loss, e.seconds, e.best))

        train_set, step_batch = sets[kinds[k]]
        # A forking network's forward pass bypasses DDP: under torchrun every rank trains it whole, alike
        # (forking networks train about 10x faster than windows ones, so this costs little).
        mine = group if kinds[k] == "windows" else SINGLE
        with guard():
            hist, best, interrupted = _train_one(model, loss, cfg, train_set, val_set, step_batch, plan[k],
                                                 seed, device, keep_last, report, prep.notes, amp, states[k],
                                                 group=mine)
        done += plan[k]
        if not hist:
            if not members:
                raise NothingTrained("Interrupted before the first epoch finished; nothing was written.")
            break  # stopped before this member's first epoch: keep the members already trained
        members.append(model)
        histories.append(hist)
        bests.append(best)
        if interrupted:
            break
    config = cfg
    if interrupted:  # the networks that ran; a mixed ensemble cut short in its forking half keeps its windows half
        kinds = kinds[:len(members)]
        if "forking" in kinds and "windows" in kinds and len(kinds) < k_members:
            keep = kinds.count("windows")
            members, histories, bests, kinds = members[:keep], histories[:keep], bests[:keep], kinds[:keep]
        config = replace(cfg, ensemble=len(members), training=cfg.training if len(set(kinds)) > 1 else kinds[0])
    model = members[0] if len(members) == 1 else Ensemble(members, groups=_groups(kinds))  # type: ignore[arg-type]
    model.eval()
    return Fitted(model=model, loss=loss, config=config,
                  prep=prep, history=_mean_history(histories), best_epoch=int(np.median(bests)),
                  interrupted=interrupted, device=device, batch_size=batch, epochs=plan[0], best_epochs=bests,
                  states=states)


def _mean_history(histories: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per-epoch losses averaged over the ensemble's members (over those that ran that epoch)."""
    n = max(len(h) for h in histories)
    out = []
    for e in range(n):
        rows = [h[e] for h in histories if len(h) > e]
        vals = [r["val_loss"] for r in rows if r["val_loss"] is not None]
        out.append({"epoch": e + 1, "train_loss": float(np.mean([r["train_loss"] for r in rows])),
                    "val_loss": float(np.mean(vals)) if vals else None,
                    "seconds": float(np.sum([r["seconds"] for r in rows]))})
    return out


class _Diverged(Exception):
    """The training loss stopped being finite after at least one good epoch."""


def _train_one(model: nn.Module, loss: Loss, cfg: TrainConfig, train: WindowSet | ForkSet, val: WindowSet, batch: int,
               epochs: int, seed: int, device: torch.device, keep_last: bool,
               on_epoch: Callable[[EpochInfo], None], notes: list[str], amp: torch.dtype | None = None,
               state: MemberState | None = None, group: Group = SINGLE) -> tuple[list[dict[str, Any]], int, bool]:
    """Train one network in place; leave it at its best epoch (or its last with keep_last).
    `state` starts it from a saved state when it holds one, and keeps the state after every epoch.
    Returns (history, best epoch, interrupted). Under torchrun each rank trains on its shard of every
    batch and DDP averages the gradients: the same step as one process on the whole batch."""
    net = group.wrap(model)
    # alpha=0.9 is Keras's RMSprop rho, the tutorial's optimiser; torch's 0.99 adapts too slowly for 15 epochs
    opt = (torch.optim.RMSprop(model.parameters(), lr=cfg.lr, alpha=0.9) if cfg.optimizer == "rmsprop"
           else torch.optim.Adam(model.parameters(), lr=cfg.lr))
    gen = torch.Generator().manual_seed(seed)
    # fp16 needs loss scaling against underflowing gradients; disabled, the scaler is a plain backward/step
    scaler = (torch.amp.GradScaler(device.type, enabled=amp is torch.float16) if hasattr(torch.amp, "GradScaler")
              else torch.cuda.amp.GradScaler(enabled=amp is torch.float16))  # torch 2.2 (fp16 is CUDA-only)
    history: list[dict[str, Any]] = []
    best_val, best_epoch, best_state, since_best = math.inf, 0, copy.deepcopy(model.state_dict()), 0
    first = 1
    if state is not None and state.saved is not None:  # --resume: go on after the last finished epoch
        first, best_val, best_epoch, best_state, since_best = state.restore(model, opt, gen, history)
        if state.stopped(cfg.patience):
            notes.append(_early_stop(first - 1, cfg.patience, len(val) > 0))  # the epoch it stopped at, as a straight run says
            first = epochs + 1  # early stopping had ended it; a larger --patience lets it go on
    interrupted = False
    model.train()
    eager = _forward(net, train)  # net: the DDP wrapper under torchrun (windows only), else the model
    forward, tried = _compiled(eager, cfg.compile), not cfg.compile
    fork = isinstance(train, ForkSet)
    try:
        for epoch in range(first, epochs + 1):
            t0 = time.perf_counter()
            total, scored = 0.0, 0
            for b in _batches(len(train), batch, torch.randperm(len(train), generator=gen).to(device)):
                mine, weight = group.shard(b)  # type: ignore[arg-type]  # a permutation's slice
                x, y, f = train[mine]
                opt.zero_grad(set_to_none=True)
                with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                    try:
                        out = forward(x, f)
                    except Exception as e:  # noqa: BLE001 - any compiler failure: train eagerly instead
                        if tried:
                            raise
                        why = (str(e).strip().splitlines() or [""])[0][:200]
                        notes.append(f"--compile failed ({type(e).__name__}: {why}); trained without it")
                        forward = eager
                        out = forward(x, f)
                    tried = True
                if fork:  # only positions inside their chunk are scored: (M, H, K) against (M, H)
                    keep = ~torch.isnan(y[..., 0])
                    out, y = out[keep], y[keep]
                batch_loss = loss(loss.link(out.float()), y)  # the loss in fp32 whatever the precision
                seen, n_seen = batch_loss.detach(), len(y)
                if group.active:  # the whole batch's mean on every rank: one verdict on divergence, one history
                    s, n = group.sum(seen * len(y) * (weight > 0), len(y) * (weight > 0))
                    seen, n_seen = torch.tensor(s / n), int(n)
                    batch_loss = batch_loss * weight
                if not torch.isfinite(seen):
                    what = (f"training loss became {seen.item()} at epoch {epoch}; try a smaller --lr "
                            f"(now {cfg.lr:g})" + (" or --scaler standard" if cfg.scaler == "none" else ""))
                    if not history:
                        raise LstmcastError(what)
                    # keep the last good weights rather than lose the run: stop here and say so
                    notes.append(f"{what}; stopped and kept the weights of epoch {best_epoch}")
                    raise _Diverged
                scaler.scale(batch_loss).backward()
                scaler.step(opt)
                scaler.update()
                total += float(seen) * n_seen
                scored += n_seen
            train_loss = total / max(scored, 1)
            val_loss = mean_loss(model, loss, val, 4096, group) if len(val) else None
            score = val_loss if val_loss is not None else train_loss
            better = score < best_val  # best_val: the lowest score so far, whichever epoch is kept
            if better:
                best_val = score
            if better or keep_last:
                best_epoch, since_best = epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                since_best += 1
            seconds = time.perf_counter() - t0
            history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "seconds": seconds})
            if state is not None:
                state.snap(epoch, model, opt, gen, (best_val, best_epoch, best_state, since_best), history)
            on_epoch(EpochInfo(epoch, epochs, train_loss, val_loss, seconds, better))
            if cfg.patience is not None and since_best >= cfg.patience:
                notes.append(_early_stop(epoch, cfg.patience, val_loss is not None))
                break
    except KeyboardInterrupt:
        interrupted = True
    except _Diverged:
        pass
    model.load_state_dict(best_state)
    return history, best_epoch, interrupted


def _early_stop(epoch: int, patience: int | None, validated: bool = True) -> str:
    return f"early stop at epoch {epoch}: no better {'validation' if validated else 'training'} loss for {patience} epochs"


def _load_init(model: nn.Module, state: dict[str, torch.Tensor], names: list[str]) -> None:
    """Fine-tuning's starting weights; a network of another shape is the user's mismatch, said plainly."""
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        detail = next((ln.strip() for ln in str(e).splitlines() if "size mismatch" in ln or "key" in ln.lower()), "")
        raise LstmcastError(f"--init-from: that run's network does not fit this data's inputs ({', '.join(names)}): "
                            f"{detail[:160]}") from None


def refit(fitted: Fitted, panel: Panel, on_epoch: Callable[[EpochInfo], None] | None = None,
          on_start: Callable[[int, int, int, int], None] | None = None,
          init: list[dict[str, torch.Tensor]] | None = None, resume: list[dict[str, Any] | None] | None = None
          ) -> Fitted:
    """The forecast model: the same set-up trained afresh on every point of `panel` (scaler included)
    for the number of epochs the evaluation fit found best, with no validation part held back."""
    cfg = fitted.config
    prep = prepare(panel, replace(cfg, test_size=0.0), n_prev=fitted.prep.n_prev)
    prep.notes[:] = [n for n in prep.notes if not n.startswith("--n-prev auto")]
    return fit(prep, cfg, on_epoch, on_start, epochs=[max(1, e) for e in fitted.best_epochs], val_size=0.0,
               batch=fitted.batch_size, keep_last=True, init=init, resume=resume)
