"""Losses: values by hand, monotone quantile link, Gaussian NLL/quantiles vs torch.distributions, sampling."""

import json
import math
from statistics import NormalDist

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal

from lstmcast.losses import LOSSES, GaussianLoss, QuantileLoss, make_loss

__all__: list[str] = []


def test_pinball_by_hand() -> None:
    """Levels .1/.5/.9; y=1, p=(0,1,2) -> .1,0,.1; y=1, p=(3,0,0) -> 1.8,.5,.9; mean 3.4/6."""
    loss = make_loss("quantile", (0.1, 0.5, 0.9))
    params = torch.tensor([[[0.0, 1.0, 2.0]], [[3.0, 0.0, 0.0]]], dtype=torch.float64)
    y = torch.tensor([[1.0], [1.0]], dtype=torch.float64)
    assert loss(params, y).item() == pytest.approx(3.4 / 6)
    assert loss(params[:1], y[:1]).item() == pytest.approx(0.2 / 3)


def test_point_losses_match_torch() -> None:
    """mse/mae/huber on column 0; Huber delta=.5 by hand: |e|=2 -> .5*(2-.25), |e|=.2 -> .5*.04."""
    p = torch.tensor([[[2.0], [0.2]]], dtype=torch.float64)
    y = torch.zeros(1, 2, dtype=torch.float64)
    assert make_loss("mse")(p, y).item() == pytest.approx((4 + 0.04) / 2)
    assert make_loss("mae")(p, y).item() == pytest.approx(2.2 / 2)
    assert make_loss("huber", huber_delta=0.5)(p, y).item() == pytest.approx((0.875 + 0.02) / 2)
    assert make_loss("huber")(p, y).item() == pytest.approx(F.huber_loss(p[..., 0], y).item())


@pytest.mark.parametrize("levels", [(0.5,), (0.1, 0.9), (0.1, 0.5, 0.9), (0.05, 0.2, 0.4, 0.6, 0.8, 0.95)])
def test_quantile_link_is_ordered(levels: tuple[float, ...]) -> None:
    """Property: for 200 random raw tensors (wide range of magnitudes) the linked quantiles never cross."""
    loss = make_loss("quantile", levels)
    gen = torch.Generator().manual_seed(0)
    raw = torch.randn(200, 8, 5, len(levels), generator=gen)
    raw = raw * torch.logspace(-2, 2, 200).view(200, 1, 1, 1)  # from tiny to huge raw outputs
    params = loss.link(raw)
    assert params.shape == raw.shape
    assert torch.isfinite(params).all()
    assert (params.diff(dim=-1) >= 0).all()


def test_quantile_link_anchors_median() -> None:
    """The level nearest 0.5 is the free output, so raw zeros give a median of exactly 0."""
    loss = make_loss("quantile", (0.1, 0.5, 0.9))
    params = loss.link(torch.zeros(1, 1, 3))
    assert params[0, 0, 1].item() == 0.0
    assert params[0, 0, 0].item() < 0.0 < params[0, 0, 2].item()


def test_gaussian_nll_matches_normal_log_prob() -> None:
    """Mean NLL equals -Normal(mean, scale).log_prob(y).mean()."""
    loss = make_loss("gaussian")
    gen = torch.Generator().manual_seed(1)
    params = loss.link(torch.randn(4, 6, 2, generator=gen, dtype=torch.float64))
    y = torch.randn(4, 6, generator=gen, dtype=torch.float64)
    expected = -Normal(params[..., 0], params[..., 1]).log_prob(y).mean()
    assert loss(params, y).item() == pytest.approx(expected.item(), rel=1e-12)
    assert (params[..., 1] > 0).all()


def test_gaussian_link_scale_stays_positive() -> None:
    """Very negative raw scale still yields the 1e-6 floor (as float32 rounds it) and a finite loss."""
    loss = make_loss("gaussian")
    params = loss.link(torch.tensor([[[0.0, -1e4]]]))
    assert params[0, 0, 1].item() == pytest.approx(1e-6, rel=1e-6)
    assert torch.isfinite(loss(params, torch.zeros(1, 1)))


def test_point_picks_median_or_mean() -> None:
    """Quantile: the 0.5 column, else interpolated; gaussian: mean; point losses: the value."""
    p = torch.tensor([[[0.0, 1.0, 3.0]]])
    assert make_loss("quantile", (0.1, 0.5, 0.9)).point(p).tolist() == [[1.0]]
    # 0.5 lies a quarter of the way from 0.4 (value 1) to 0.8 (value 3).
    assert make_loss("quantile", (0.2, 0.4, 0.8)).point(p).tolist() == [[1.5]]
    g = torch.tensor([[[2.5, 0.7]]])
    assert make_loss("gaussian").point(g).tolist() == [[2.5]]
    assert make_loss("mse").point(torch.tensor([[[4.0]]])).tolist() == [[4.0]]


def test_quantile_levels_interpolate_and_extrapolate() -> None:
    """Own levels .1/.5/.9 -> values 0/1/3; 0.3 -> 0.5, 0.7 -> 2; outside, exponential tails through the
    two outermost knots: Q(.05) = 0 + (1-0)/ln5 * ln(.5), Q(.95) = 3 - (3-1)/ln5 * ln(.5)."""
    loss = make_loss("quantile", (0.1, 0.5, 0.9))
    p = torch.tensor([[[0.0, 1.0, 3.0]], [[10.0, 20.0, 30.0]]], dtype=torch.float64)
    out = loss.quantiles(p, [0.05, 0.1, 0.3, 0.5, 0.7, 0.95])
    assert out.shape == (2, 1, 6)
    lo, hi = math.log(0.5) / math.log(5), -2 * math.log(0.5) / math.log(5)
    expect = torch.tensor([[lo, 0.0, 0.5, 1.0, 2.0, 3.0 + hi], [10 + 10 * lo, 10.0, 15.0, 20.0, 25.0, 30 + 5 * hi]],
                          dtype=torch.float64)
    torch.testing.assert_close(out[:, 0], expect)


def test_gaussian_quantiles_match_icdf() -> None:
    """mean + scale * Phi^-1(level) agrees with Normal.icdf."""
    loss = make_loss("gaussian")
    params = torch.tensor([[[1.0, 2.0], [-3.0, 0.5]]], dtype=torch.float64)
    levels = [0.05, 0.1, 0.5, 0.9, 0.95]
    out = loss.quantiles(params, levels)
    expected = Normal(params[..., :1], params[..., 1:2]).icdf(torch.tensor(levels, dtype=torch.float64))
    torch.testing.assert_close(out, expected)


def test_point_losses_have_no_quantiles() -> None:
    """Asking a point loss for quantiles is a ValueError that says why."""
    for name in ("mse", "mae", "huber"):
        with pytest.raises(ValueError, match="not probabilistic"):
            make_loss(name).quantiles(torch.zeros(1, 1, 1), [0.5])


def test_sample_shapes_all_losses() -> None:
    """Every loss returns (n, B, H) samples."""
    gen = torch.Generator().manual_seed(2)
    for name in LOSSES:
        loss = make_loss(name)
        params = loss.link(torch.randn(3, 4, loss.n_outputs, generator=gen))
        assert loss.sample(params, 7, gen).shape == (7, 3, 4)


def test_point_loss_samples_repeat_point() -> None:
    """A point forecast has no spread."""
    loss = make_loss("mae")
    params = torch.tensor([[[1.0], [2.0]]])
    s = loss.sample(params, 5, torch.Generator().manual_seed(0))
    assert (s == params[..., 0]).all()


def test_gaussian_samples_match_params() -> None:
    """20000 draws: mean within 0.05*scale (~7 standard errors), std within 3% (~6 standard errors)."""
    loss = make_loss("gaussian")
    params = torch.tensor([[[1.0, 2.0], [-3.0, 0.5], [10.0, 5.0]]], dtype=torch.float64)
    s = loss.sample(params, 20000, torch.Generator().manual_seed(3))
    scale = params[..., 1]
    assert ((s.mean(0) - params[..., 0]).abs() <= 0.05 * scale).all()
    assert ((s.std(0) - scale).abs() <= 0.03 * scale).all()


def test_quantile_samples_pass_the_outer_levels_and_hit_median() -> None:
    """About 10% of draws fall below the lowest and above the highest quantile; u=0.5 maps to the median."""
    loss = make_loss("quantile", (0.1, 0.5, 0.9))
    params = torch.tensor([[[0.0, 1.0, 3.0], [-5.0, -4.0, 0.0]]], dtype=torch.float64)
    s = loss.sample(params, 20000, torch.Generator().manual_seed(4))
    below = (s < params[..., 0]).double().mean(0)
    above = (s > params[..., 2]).double().mean(0)
    # binomial standard error sqrt(.09/20000) = 0.002: 0.015 is 7 of them
    torch.testing.assert_close(below, torch.full_like(below, 0.1), atol=0.015, rtol=0.0)
    torch.testing.assert_close(above, torch.full_like(above, 0.1), atol=0.015, rtol=0.0)
    # Width of the 0.4..0.6 band at the median is ~0.5 (row 0) and ~1 (row 1); 0.05 is far tighter
    # than that and still ~10 standard errors of the sample median.
    torch.testing.assert_close(s.median(0).values, params[..., 1], atol=0.05, rtol=0.0)
    again = loss.sample(params, 20000, torch.Generator().manual_seed(4))
    assert torch.equal(s, again)
    assert torch.isfinite(loss.sample(params, 200000, torch.Generator().manual_seed(5))).all()


def test_perfect_quantile_model_samples_cover_80_percent() -> None:
    """Exact N(0,1) quantiles at .1/.5/.9: the draws' 10%/90% points are -+1.2816 and their 80% band
    covers 78-82% of fresh N(0,1) draws (sampling only between the outer levels covered ~64%)."""
    levels = (0.1, 0.5, 0.9)
    loss = make_loss("quantile", levels)
    params = torch.tensor([[[NormalDist().inv_cdf(q) for q in levels]]], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    s = loss.sample(params, 100000, gen)[:, 0, 0]
    lo, hi = torch.quantile(s, torch.tensor([0.1, 0.9], dtype=torch.float64)).tolist()
    # standard error of the sample 10% point here is ~0.01 (density 0.126 just below it)
    assert lo == pytest.approx(-1.2816, abs=0.04) and hi == pytest.approx(1.2816, abs=0.04)
    y = torch.randn(100000, generator=gen, dtype=torch.float64)
    assert 0.78 <= ((y >= lo) & (y <= hi)).double().mean().item() <= 0.82


def test_make_loss_unknown_name_lists_valid() -> None:
    """The error names every valid loss."""
    with pytest.raises(ValueError) as info:
        make_loss("rmse")
    for name in LOSSES:
        assert name in str(info.value)


@pytest.mark.parametrize(
    "quantiles", [(), (0.0, 0.5), (0.5, 1.0), (-0.1,), (0.9, 0.1), (0.5, 0.5), (0.1, 0.5, 0.3)]
)
def test_make_loss_bad_quantiles(quantiles: tuple[float, ...]) -> None:
    """Levels must be non-empty, strictly inside (0, 1), sorted and unique."""
    with pytest.raises(ValueError, match="quantiles"):
        make_loss("quantile", quantiles)


def test_quantiles_only_checked_for_quantile_loss() -> None:
    """Like TrainConfig, other losses ignore the quantiles argument."""
    assert make_loss("mse", (0.9, 0.1)).n_outputs == 1


def test_make_loss_bad_huber_delta() -> None:
    """delta must be positive."""
    with pytest.raises(ValueError, match="huber_delta"):
        make_loss("huber", huber_delta=0.0)


def test_losses_rebuild_from_config() -> None:
    """config() is plain JSON data and make_loss(**config) gives an equal loss."""
    for loss in (
        make_loss("mse"),
        make_loss("mae"),
        make_loss("huber", huber_delta=0.3),
        make_loss("quantile", (0.05, 0.5, 0.95)),
        make_loss("gaussian"),
    ):
        cfg = json.loads(json.dumps(loss.config()))
        again = make_loss(**cfg)
        assert again == loss and type(again) is type(loss)
        assert (again.n_outputs, again.probabilistic) == (loss.n_outputs, loss.probabilistic)
    assert isinstance(make_loss("quantile"), QuantileLoss) and make_loss("quantile").n_outputs == 3
    assert isinstance(make_loss("gaussian"), GaussianLoss) and make_loss("gaussian").n_outputs == 2


def test_probabilistic_losses_backprop() -> None:
    """Gradients reach the raw output through link() for the distributional losses."""
    for name in ("quantile", "gaussian"):
        loss = make_loss(name)
        raw = torch.randn(2, 3, loss.n_outputs, requires_grad=True)
        loss(loss.link(raw), torch.randn(2, 3)).backward()
        assert raw.grad is not None and torch.isfinite(raw.grad).all()
