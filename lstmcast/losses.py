"""Training losses and how to read point forecasts, quantiles and samples out of the model's raw output (torch)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "LOSSES",
    "REGISTRY",
    "Loss",
    "MSELoss",
    "MAELoss",
    "HuberLoss",
    "QuantileLoss",
    "GaussianLoss",
    "make_loss",
]


_MIN_SCALE = 1e-6
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _check_levels(levels: Sequence[float], what: str) -> list[float]:
    """Levels (L,) -> list of floats, each strictly inside (0, 1), else ValueError."""
    out = [float(q) for q in levels]
    if not out:
        raise ValueError(f"{what} must not be empty")
    bad = [q for q in out if not (0.0 < q < 1.0)]
    if bad:
        raise ValueError(f"{what} must lie strictly inside (0, 1), got {bad}")
    return out


class Loss:
    """Base class: raw model output (B,H,K) -> distribution params (B,H,K) -> loss, point, quantiles, samples."""

    name: str = ""
    n_outputs: int = 1
    probabilistic: bool = False

    def config(self) -> dict[str, Any]:
        """-> plain-data kwargs such that make_loss(**config()) rebuilds an equivalent loss."""
        return {"name": self.name}

    def link(self, raw: Tensor) -> Tensor:
        """raw (B,H,K) -> params (B,H,K); identity for point losses."""
        return raw

    def level_outputs(self) -> tuple[bool, ...]:
        """(K,) which raw outputs are locations (shift with the series' level) rather than spreads."""
        return (True,) * self.n_outputs

    def __call__(self, params: Tensor, y: Tensor) -> Tensor:
        """params (B,H,K), y (B,H) -> scalar mean loss."""
        raise NotImplementedError

    def point(self, params: Tensor) -> Tensor:
        """params (B,H,K) -> point forecast (B,H)."""
        return params[..., 0]

    def quantiles(self, params: Tensor, levels: Sequence[float]) -> Tensor:
        """params (B,H,K), levels (L,) -> (B,H,L); point losses raise ValueError."""
        raise ValueError(
            f"loss {self.name!r} is not probabilistic and has no quantiles; "
            f"train with 'quantile' or 'gaussian' for intervals"
        )

    def sample(self, params: Tensor, n: int, generator: torch.Generator) -> Tensor:
        """params (B,H,K) -> (n,B,H) samples; point losses repeat the point forecast."""
        # A point forecast carries no spread, so every "sample" is the same value.
        return self.point(params).unsqueeze(0).expand(n, *params.shape[:-1]).clone()

    def __repr__(self) -> str:
        """-> e.g. QuantileLoss(name='quantile', quantiles=[0.1, 0.5, 0.9])."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        """Two losses are equal when they rebuild from the same config."""
        return isinstance(other, Loss) and self.config() == other.config()

    def __hash__(self) -> int:
        """Hash of the config, consistent with __eq__."""
        return hash(repr(self))


class MSELoss(Loss):
    """Mean squared error on a single output column."""

    name = "mse"

    def __call__(self, params: Tensor, y: Tensor) -> Tensor:
        """params (B,H,1), y (B,H) -> scalar MSE."""
        return F.mse_loss(params[..., 0], y)


class MAELoss(Loss):
    """Mean absolute error on a single output column (its optimum is the median)."""

    name = "mae"

    def __call__(self, params: Tensor, y: Tensor) -> Tensor:
        """params (B,H,1), y (B,H) -> scalar MAE."""
        return F.l1_loss(params[..., 0], y)


class HuberLoss(Loss):
    """Huber loss: quadratic within delta, linear beyond, on a single output column."""

    name = "huber"

    def __init__(self, delta: float = 1.0) -> None:
        """delta > 0: where the loss switches from quadratic to linear (in scaled target units)."""
        if not (delta > 0.0 and math.isfinite(delta)):
            raise ValueError(f"huber_delta must be a finite number > 0, got {delta}")
        self.delta = float(delta)

    def config(self) -> dict[str, Any]:
        """-> {name, huber_delta}."""
        return {"name": self.name, "huber_delta": self.delta}

    def __call__(self, params: Tensor, y: Tensor) -> Tensor:
        """params (B,H,1), y (B,H) -> scalar Huber loss."""
        return F.huber_loss(params[..., 0], y, delta=self.delta)


class QuantileLoss(Loss):
    """Pinball loss over fixed quantile levels; outputs are monotone in the level by construction."""

    name = "quantile"
    probabilistic = True

    def __init__(self, quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> None:
        """quantiles (Q,): strictly increasing levels strictly inside (0, 1)."""
        levels = _check_levels(quantiles, "quantiles")
        if any(b <= a for a, b in zip(levels, levels[1:])):
            raise ValueError(f"quantiles must be sorted ascending with no duplicates, got {levels}")
        self.levels = levels
        self.n_outputs = len(levels)
        # Anchor the free column at the level nearest the median so the point forecast is one
        # unconstrained output and the spread grows symmetrically from it at initialisation.
        self._anchor = min(range(len(levels)), key=lambda i: abs(levels[i] - 0.5))

    def config(self) -> dict[str, Any]:
        """-> {name, quantiles}."""
        return {"name": self.name, "quantiles": list(self.levels)}

    def _levels_like(self, t: Tensor) -> Tensor:
        """-> own levels (Q,) on t's device and dtype."""
        return torch.tensor(self.levels, dtype=t.dtype, device=t.device)

    def level_outputs(self) -> tuple[bool, ...]:
        """Only the anchor is a location; the other raw outputs are gaps."""
        return tuple(i == self._anchor for i in range(self.n_outputs))

    def link(self, raw: Tensor) -> Tensor:
        """raw (B,H,Q) -> ordered quantiles (B,H,Q): anchor column free, neighbours +/- cumulative softplus gaps."""
        a = self._anchor
        anchor = raw[..., a : a + 1]
        gaps = F.softplus(raw)
        # Levels above the anchor add non-negative gaps going up, levels below subtract going down,
        # so the output is non-decreasing in the level whatever the raw values are.
        above = anchor + torch.cumsum(gaps[..., a + 1 :], dim=-1)
        below = anchor - torch.cumsum(gaps[..., :a].flip(-1), dim=-1).flip(-1)
        return torch.cat([below, anchor, above], dim=-1)

    def __call__(self, params: Tensor, y: Tensor) -> Tensor:
        """params (B,H,Q), y (B,H) -> pinball loss averaged over levels, batch and horizon."""
        q = self._levels_like(params)
        diff = y.unsqueeze(-1) - params
        return torch.maximum(q * diff, (q - 1.0) * diff).mean()

    def _interp(self, params: Tensor, u: Tensor) -> Tensor:
        """params (B,H,Q), u (*lead,B,H,L) levels in (0,1) -> (*lead,B,H,L) values of the quantile function.

        Linear between own levels; past the outermost ones an exponential tail through the two outermost
        knots on each side (GluonTS ISQF's tails): Q(u) = q_1 + b_lo * ln(u / a_1) below a_1 with
        b_lo = (q_2 - q_1) / ln(a_2 / a_1), and the mirror image above a_Q. So the distribution reaches past
        the trained quantiles and still puts exactly a_1 of its mass below q_1 (and 1 - a_Q above q_Q).
        """
        own = self._levels_like(params)
        lead = u.shape[: u.dim() - params.dim()]
        # expand() makes no copy; gather only reads through the broadcast view.
        p = params.expand(*lead, *params.shape)
        if own.numel() == 1:
            return p.expand(u.shape).clone()  # one level carries no spread to extrapolate
        a1, a2, b1, b2 = self.levels[0], self.levels[1], self.levels[-2], self.levels[-1]
        inner = u.clamp(min=a1, max=b2)
        hi = torch.searchsorted(own, inner.contiguous()).clamp(1, own.numel() - 1)
        lo = hi - 1
        w = (inner - own[lo]) / (own[hi] - own[lo])
        v_lo = torch.gather(p, -1, lo)
        v_hi = torch.gather(p, -1, hi)
        mid = v_lo + w * (v_hi - v_lo)
        tiny = torch.finfo(u.dtype).tiny  # log(0) would give -inf for a draw of exactly u = 0
        slope_lo = (p[..., 1:2] - p[..., :1]) / math.log(a2 / a1)
        slope_hi = (p[..., -1:] - p[..., -2:-1]) / math.log((1.0 - b1) / (1.0 - b2))
        below = p[..., :1] + slope_lo * torch.log(u.clamp(min=tiny) / a1)
        above = p[..., -1:] - slope_hi * torch.log((1.0 - u).clamp(min=tiny) / (1.0 - b2))
        return torch.where(u < a1, below, torch.where(u > b2, above, mid))

    def point(self, params: Tensor) -> Tensor:
        """params (B,H,Q) -> median (B,H): the 0.5 column if present, else read off quantiles()."""
        for i, q in enumerate(self.levels):
            if math.isclose(q, 0.5, abs_tol=1e-9):
                return params[..., i]
        return self.quantiles(params, [0.5])[..., 0]

    def quantiles(self, params: Tensor, levels: Sequence[float]) -> Tensor:
        """params (B,H,Q), levels (L,) -> (B,H,L): linear between own levels, exponential tails outside them."""
        req = torch.tensor(_check_levels(levels, "levels"), dtype=params.dtype, device=params.device)
        u = req.expand(*params.shape[:-1], req.numel())
        return self._interp(params, u)

    def sample(self, params: Tensor, n: int, generator: torch.Generator) -> Tensor:
        """params (B,H,Q) -> (n,B,H) inverse-CDF samples, u ~ U(0, 1), through the quantile function of quantiles().

        The tails past the outermost levels are exponential (see _interp), so a perfect model's sampled
        80% band covers 80%; clamping u to [lowest, highest level] would cover only ~70% at levels .1/.5/.9.
        """
        u = torch.rand((n, *params.shape[:-1], 1), generator=generator, dtype=params.dtype,
                       device=generator.device).to(params.device)
        return self._interp(params, u)[..., 0]


class GaussianLoss(Loss):
    """Gaussian negative log-likelihood; params [..., 0] = mean, [..., 1] = scale (std) > 0."""

    name = "gaussian"
    n_outputs = 2
    probabilistic = True

    def level_outputs(self) -> tuple[bool, ...]:
        """The mean shifts with the level; the scale does not."""
        return (True, False)

    def link(self, raw: Tensor) -> Tensor:
        """raw (B,H,2) -> (B,H,2) [mean, softplus(raw)+1e-6]; the floor keeps log(scale) finite."""
        return torch.stack([raw[..., 0], F.softplus(raw[..., 1]) + _MIN_SCALE], dim=-1)

    def __call__(self, params: Tensor, y: Tensor) -> Tensor:
        """params (B,H,2), y (B,H) -> mean of -Normal(mean, scale).log_prob(y)."""
        mean, scale = params[..., 0], params[..., 1]
        z = (y - mean) / scale
        return (0.5 * z * z + torch.log(scale) + _HALF_LOG_2PI).mean()

    def point(self, params: Tensor) -> Tensor:
        """params (B,H,2) -> mean (B,H)."""
        return params[..., 0]

    def quantiles(self, params: Tensor, levels: Sequence[float]) -> Tensor:
        """params (B,H,2), levels (L,) -> (B,H,L) Normal quantiles mean + scale * Phi^-1(level)."""
        req = torch.tensor(_check_levels(levels, "levels"), dtype=params.dtype, device=params.device)
        return params[..., :1] + params[..., 1:2] * torch.special.ndtri(req)

    def sample(self, params: Tensor, n: int, generator: torch.Generator) -> Tensor:
        """params (B,H,2) -> (n,B,H) draws from Normal(mean, scale)."""
        eps = torch.randn((n, *params.shape[:-1]), generator=generator, dtype=params.dtype,
                          device=generator.device).to(params.device)
        return params[..., 0] + params[..., 1] * eps


def make_loss(
    name: str, quantiles: Sequence[float] = (0.1, 0.5, 0.9), huber_delta: float = 1.0
) -> Loss:
    """Build a loss from plain config data; ValueError for an unknown name or bad quantiles/delta."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid losses are: {', '.join(LOSSES)}")
    # Levels are only checked where they are used (as TrainConfig does), so a stray --quantiles
    # value cannot break an mse run; QuantileLoss validates them itself.
    return REGISTRY[name](quantiles, huber_delta)


# The one registry of losses (see cells.REGISTRY): name -> builder from (quantiles, huber delta).
REGISTRY: dict[str, Callable[[Sequence[float], float], Loss]] = {
    "mse": lambda q, d: MSELoss(),
    "mae": lambda q, d: MAELoss(),
    "huber": lambda q, d: HuberLoss(d),
    "quantile": lambda q, d: QuantileLoss(q),
    "gaussian": lambda q, d: GaussianLoss(),
}
LOSSES: tuple[str, ...] = tuple(REGISTRY)
