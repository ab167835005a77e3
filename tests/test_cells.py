"""Tests for lstmcast.cells: equations vs nn.LSTM, gate coupling, peepholes, shapes, training, checkpoints."""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator

import pytest
import torch
from torch import Tensor, nn

from lstmcast.cells import CELLS, CIFGLSTM, PeepholeLSTM, build_recurrent

HIDDEN = 8


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Run on one thread: for hidden-8 models torch's fused RNN kernels get ~20x slower on a busy 2-core box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _sine_windows(window: int = 10, n: int = 96) -> tuple[Tensor, Tensor]:
    """Windows (n, window, 1) of a sine and the value right after each, (n, 1)."""
    t = torch.arange(n + window, dtype=torch.float32)
    s = torch.sin(2 * math.pi * t / 16.0)
    x = torch.stack([s[i : i + window] for i in range(n)]).unsqueeze(-1)
    y = s[window : window + n].unsqueeze(-1)
    return x, y


@pytest.mark.parametrize("num_layers", [1, 2])
def test_plain_lstm_matches_torch_lstm(num_layers: int) -> None:
    """peephole=False with nn.LSTM's weights reproduces nn.LSTM's outputs and final state."""
    torch.manual_seed(0)
    ref = nn.LSTM(3, HIDDEN, num_layers=num_layers, batch_first=True).double()
    ours = PeepholeLSTM(3, HIDDEN, num_layers=num_layers, peephole=False).double()
    ours.copy_from_torch_lstm(ref)
    x = torch.randn(5, 7, 3, dtype=torch.float64)
    h0 = torch.randn(num_layers, 5, HIDDEN, dtype=torch.float64)
    c0 = torch.randn(num_layers, 5, HIDDEN, dtype=torch.float64)
    for state in (None, (h0, c0)):
        out_ref, (h_ref, c_ref) = ref(x, state)
        out, (h, c) = ours(x, state)
        torch.testing.assert_close(out, out_ref, atol=1e-6, rtol=0)
        torch.testing.assert_close(h, h_ref, atol=1e-6, rtol=0)
        torch.testing.assert_close(c, c_ref, atol=1e-6, rtol=0)
    # Same gradients too (the hand-written recurrence back-propagates like torch's).
    (out_ref.pow(2).sum() + c_ref.sum()).backward()
    (out.pow(2).sum() + c.sum()).backward()
    for name, p_ref in ref.named_parameters():
        torch.testing.assert_close(getattr(ours, name).grad, p_ref.grad, atol=1e-6, rtol=0, msg=name)


def test_plain_lstm_has_torch_lstm_state_dict_layout() -> None:
    """peephole=False holds exactly nn.LSTM's parameter names and shapes, so its state_dict loads directly."""
    ref = nn.LSTM(2, HIDDEN, num_layers=2, batch_first=True)
    ours = PeepholeLSTM(2, HIDDEN, num_layers=2, peephole=False)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 4, 2)
    torch.testing.assert_close(ours(x)[0], ref(x)[0], atol=1e-6, rtol=0)


def test_cifg_input_gate_is_one_minus_forget_gate() -> None:
    """CIFG's input gate is 1 - forget gate at every step and layer, and it has no input-gate weights."""
    torch.manual_seed(0)
    m = CIFGLSTM(2, HIDDEN, num_layers=2)
    x = torch.randn(4, 6, 2)
    for layer in (0, 1):
        g = m.gates(x, layer=layer)
        assert g["f"].shape == (4, 6, HIDDEN)
        torch.testing.assert_close(g["i"], 1.0 - g["f"], atol=0, rtol=0)
        assert not torch.allclose(g["f"], torch.full_like(g["f"], 0.5))  # really computed, not a constant
    assert m.weight_ih_l0.shape == (3 * HIDDEN, 2)  # f, g, o blocks only
    assert m.weight_hh_l1.shape == (3 * HIDDEN, HIDDEN)


def test_gates_of_plain_lstm_are_independent() -> None:
    """The uncoupled LSTM's input gate is not tied to its forget gate (the CIFG test is not vacuous)."""
    torch.manual_seed(0)
    g = PeepholeLSTM(2, HIDDEN, peephole=False).gates(torch.randn(4, 6, 2))
    assert not torch.allclose(g["i"], 1.0 - g["f"], atol=1e-3)


def test_peepholes_change_the_output() -> None:
    """Zero peepholes equal a plain LSTM; nonzero ones change outputs; every peephole weight gets a gradient."""
    torch.manual_seed(0)
    peep = PeepholeLSTM(2, HIDDEN, num_layers=2, peephole=True)
    plain = PeepholeLSTM(2, HIDDEN, num_layers=2, peephole=False)
    plain.load_state_dict(peep.state_dict(), strict=False)  # same W, U, b; plain has no peephole weights
    x = torch.randn(4, 6, 2)
    torch.testing.assert_close(peep(x)[0], plain(x)[0], atol=1e-6, rtol=0)  # peepholes start at zero

    with torch.no_grad():
        for name, p in peep.named_parameters():
            if name.startswith("peephole_"):
                p.uniform_(-1.0, 1.0)
    assert (peep(x)[0] - plain(x)[0]).abs().max() > 1e-3

    peep(x)[0].sum().backward()
    peep_names = sorted(n for n, _ in peep.named_parameters() if n.startswith("peephole_"))
    assert peep_names == [f"peephole_{g}_l{k}" for g in "fio" for k in (0, 1)]
    for name, p in peep.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_each_peephole_feeds_its_gate() -> None:
    """p_o reads c_t (moves o already at step 0); p_i, p_f read c_{t-1} (first move i resp. f at step 1)."""
    x = torch.randn(3, 5, 2, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    base = PeepholeLSTM(2, HIDDEN).gates(x)  # zero peepholes
    for peep, gate, first_step in (("o", "o", 0), ("i", "i", 1), ("f", "f", 1)):
        torch.manual_seed(0)
        m = PeepholeLSTM(2, HIDDEN)
        with torch.no_grad():
            getattr(m, f"peephole_{peep}_l0").fill_(2.0)
        moved = m.gates(x)
        for name in "ifgo":
            # Before first_step nothing may change; at first_step only the peephole's own gate.
            steps = slice(0, first_step + 1) if name != gate else slice(0, first_step)
            torch.testing.assert_close(moved[name][:, steps], base[name][:, steps], atol=0, rtol=0)
        assert (moved[gate][:, first_step] - base[gate][:, first_step]).abs().max() > 1e-3, peep


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_output_shape(cell: str, num_layers: int) -> None:
    """Every encoder is batch_first and returns (out (batch, time, hidden), state)."""
    m = build_recurrent(cell, 3, HIDDEN, num_layers=num_layers, dropout=0.2)
    out = m(torch.randn(4, 7, 3))
    assert isinstance(out, tuple)
    assert out[0].shape == (4, 7, HIDDEN)


@pytest.mark.parametrize("cell", CELLS)
def test_short_training_lowers_loss(cell: str) -> None:
    """Thirty Adam steps on next-value-of-a-sine lower the MSE of encoder + linear head."""
    torch.manual_seed(0)
    x, y = _sine_windows()
    encoder = build_recurrent(cell, 1, HIDDEN)
    head = nn.Linear(HIDDEN, 1)
    opt = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=0.02)

    def loss() -> Tensor:
        """MSE of the head on the last encoder output."""
        return nn.functional.mse_loss(head(encoder(x)[0][:, -1]), y)

    first = loss().item()
    for _ in range(30):
        opt.zero_grad()
        loss().backward()
        opt.step()
    last = loss().item()
    assert last < 0.5 * first, (first, last)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_state_dict_round_trip(cell: str, num_layers: int) -> None:
    """torch.save(state_dict) -> torch.load(weights_only=True) into a fresh module gives identical outputs."""
    torch.manual_seed(0)
    m = build_recurrent(cell, 2, HIDDEN, num_layers=num_layers, dropout=0.3)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.startswith("peephole_"):
                p.uniform_(-0.5, 0.5)  # make sure peepholes travel too
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    torch.manual_seed(1)
    fresh = build_recurrent(cell, 2, HIDDEN, num_layers=num_layers, dropout=0.3)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    m.eval()
    fresh.eval()
    x = torch.randn(3, 5, 2)
    out_a, out_b = m(x)[0], fresh(x)[0]
    assert torch.equal(out_a, out_b)


@pytest.mark.parametrize("cell", ["peephole", "cifg"])
def test_dropout_between_layers(cell: str) -> None:
    """Our modules drop out between layers in training mode only."""
    torch.manual_seed(0)
    m = build_recurrent(cell, 2, HIDDEN, num_layers=2, dropout=0.5)
    x = torch.randn(4, 6, 2)
    m.train()
    assert not torch.equal(m(x)[0], m(x)[0])
    m.eval()
    assert torch.equal(m(x)[0], m(x)[0])
    single = build_recurrent(cell, 2, HIDDEN, num_layers=1, dropout=0.5).train()
    assert torch.equal(single(x)[0], single(x)[0])  # nothing to drop between with one layer


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_fused_single_layer_dropout_does_not_warn(cell: str) -> None:
    """build_recurrent drops the dropout argument for one-layer fused modules, so torch does not warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = build_recurrent(cell, 1, HIDDEN, num_layers=1, dropout=0.3)
    assert m.dropout == 0.0
    assert build_recurrent(cell, 1, HIDDEN, num_layers=2, dropout=0.3).dropout == 0.3


def test_unknown_cell_lists_valid_names() -> None:
    """An unknown cell name raises ValueError naming every valid cell."""
    with pytest.raises(ValueError) as err:
        build_recurrent("transformer", 1, HIDDEN)
    for name in CELLS:
        assert name in str(err.value)
