"""Recurrent encoders: torch's fused LSTM/GRU/RNN plus our own peephole and CIFG LSTMs."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["CELLS", "REGISTRY", "build_recurrent", "PeepholeLSTM", "CIFGLSTM"]


_FUSED: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}

State = tuple[Tensor, Tensor]
Peepholes = tuple[Tensor | None, Tensor | None, Tensor | None]


class _GatedLSTM(nn.Module):
    """Stacked batch_first LSTM whose gate equations are written out in `_step` (shared by both variants)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        peephole: bool = True,
        coupled: bool = False,
    ) -> None:
        """Create weights laid out like nn.LSTM (`weight_ih_l{k}` ...) plus `peephole_{i,f,o}_l{k}`."""
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be in [0, 1], got {dropout}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.peephole = peephole
        self.coupled = coupled
        self.batch_first = True
        # Gate blocks stacked along dim 0: i, f, g, o (as nn.LSTM) or f, g, o when coupled (no input gate).
        self.n_gates = 3 if coupled else 4
        self.drop = nn.Dropout(dropout)
        for k in range(num_layers):
            layer_in = input_size if k == 0 else hidden_size
            g = self.n_gates * hidden_size
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(g, layer_in)))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(g, hidden_size)))
            self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(g)))
            self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(g)))
            if peephole:
                gates_seeing_c = "fo" if coupled else "ifo"
                for name in gates_seeing_c:
                    self.register_parameter(f"peephole_{name}_l{k}", nn.Parameter(torch.empty(hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Init every weight like nn.LSTM: uniform(-1/sqrt(hidden), 1/sqrt(hidden)), peepholes at zero."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for name, p in self.named_parameters():
            if name.startswith("peephole_"):
                nn.init.zeros_(p)
            else:
                nn.init.uniform_(p, -bound, bound)

    def _layer_params(self, k: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Return (weight_ih, weight_hh, bias_ih, bias_hh) of layer k."""
        return (
            getattr(self, f"weight_ih_l{k}"),
            getattr(self, f"weight_hh_l{k}"),
            getattr(self, f"bias_ih_l{k}"),
            getattr(self, f"bias_hh_l{k}"),
        )

    def _peepholes(self, k: int) -> Peepholes:
        """(p_i, p_f, p_o) of layer k, None for each gate without a peephole."""
        p_i, p_f, p_o = (getattr(self, f"peephole_{gate}_l{k}", None) for gate in "ifo")
        return p_i, p_f, p_o

    def _step(self, pre: Tensor, c: Tensor, peep: Peepholes) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """One time step from pre-activations `pre` = W x + U h + b and c_{t-1}; returns (h_t, c_t, gates)."""
        # pre: (batch, n_gates*hidden), c: (batch, hidden), each peephole: (hidden,) or None
        p_i, p_f, p_o = peep
        if self.coupled:
            a_f, a_g, a_o = pre.chunk(3, dim=1)
            f = torch.sigmoid(a_f if p_f is None else a_f + p_f * c)  # f = σ(W_f x + U_f h + p_f⊙c_{t-1} + b_f)
            i = 1.0 - f  # CIFG: input gate coupled to forget gate
        else:
            a_i, a_f, a_g, a_o = pre.chunk(4, dim=1)
            i = torch.sigmoid(a_i if p_i is None else a_i + p_i * c)  # i = σ(W_i x + U_i h + p_i⊙c_{t-1} + b_i)
            f = torch.sigmoid(a_f if p_f is None else a_f + p_f * c)  # f = σ(W_f x + U_f h + p_f⊙c_{t-1} + b_f)
        g = torch.tanh(a_g)  # g = tanh(W_g x + U_g h + b_g)
        c = f * c + i * g  # c_t = f⊙c_{t-1} + i⊙g
        o = torch.sigmoid(a_o if p_o is None else a_o + p_o * c)  # o = σ(W_o x + U_o h + p_o⊙c_t + b_o)
        h = o * torch.tanh(c)  # h_t = o⊙tanh(c_t)
        return h, c, {"i": i, "f": f, "g": g, "o": o}

    def _layer(
        self, k: int, seq: Tensor, h: Tensor, c: Tensor, keep_gates: bool = False
    ) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
        """Run layer k over time-major seq (time, batch, in); return (out (time, batch, hidden), h, c, gates)."""
        w_ih, w_hh, b_ih, b_hh = self._layer_params(k)
        # One matmul for every time step's input projection (+ both biases): (time, batch, n_gates*hidden).
        x_proj = torch.addmm(b_ih + b_hh, seq.reshape(-1, seq.shape[-1]), w_ih.t())
        x_proj = x_proj.view(seq.shape[0], seq.shape[1], -1)
        w_hh_t = w_hh.t()  # (hidden, n_gates*hidden)
        peep = self._peepholes(k)
        outs: list[Tensor] = []
        kept: dict[str, list[Tensor]] = {"i": [], "f": [], "g": [], "o": []}
        # unbind, not x_proj[t]: indexing would make backward build a full-size zero gradient for every step.
        for x_t in x_proj.unbind(0):
            pre = torch.addmm(x_t, h, w_hh_t)  # (batch, n_gates*hidden): the only per-step matmul
            h, c, gate_vals = self._step(pre, c, peep)  # (batch, hidden) each
            outs.append(h)
            if keep_gates:
                for name, v in gate_vals.items():
                    kept[name].append(v)
        gates = {name: torch.stack(vs, dim=1) for name, vs in kept.items()} if keep_gates else {}
        return torch.stack(outs, dim=0), h, c, gates  # out: (time, batch, hidden)

    def _run(self, x: Tensor, state: State | None, gates_of: int = -1) -> tuple[Tensor, State, dict[str, Tensor]]:
        """Run the whole stack; also return the gates (batch, time, hidden) of layer `gates_of` if >= 0."""
        if x.dim() != 3:
            raise ValueError(f"expected x of shape (batch, time, input), got {tuple(x.shape)}")
        if state is None:
            zeros = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        h0, c0 = state  # (layers, batch, hidden) each
        seq = x.transpose(0, 1)  # (time, batch, in): time-major so each step's slice is contiguous
        h_n: list[Tensor] = []
        c_n: list[Tensor] = []
        gates: dict[str, Tensor] = {}
        for k in range(self.num_layers):
            if k > 0:
                seq = self.drop(seq)  # dropout between layers only, as nn.LSTM
            seq, h, c, g = self._layer(k, seq, h0[k], c0[k], keep_gates=k == gates_of)
            gates.update(g)
            h_n.append(h)
            c_n.append(c)
        out = seq.transpose(0, 1)  # (batch, time, hidden)
        return out, (torch.stack(h_n, dim=0), torch.stack(c_n, dim=0)), gates

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """x (batch, time, input) -> (out (batch, time, hidden), (h_n, c_n) each (layers, batch, hidden))."""
        out, final, _ = self._run(x, state)
        return out, final

    @torch.no_grad()
    def gates(self, x: Tensor, layer: int = 0) -> dict[str, Tensor]:
        """Gate activations of `layer` for x: "i"/"f"/"g"/"o" -> (batch, time, hidden); use eval() if dropout > 0."""
        if not 0 <= layer < self.num_layers:
            raise ValueError(f"layer must be in [0, {self.num_layers}), got {layer}")
        return self._run(x, None, gates_of=layer)[2]

    def extra_repr(self) -> str:
        """Summary shown by print(module)."""
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"dropout={self.dropout}, peephole={self.peephole}, batch_first=True"
        )


class PeepholeLSTM(_GatedLSTM):
    """Peephole LSTM (Gers & Schmidhuber 2000); with peephole=False a plain LSTM matching nn.LSTM."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        peephole: bool = True,
    ) -> None:
        """Gates i, f see c_{t-1} and gate o sees c_t through diagonal peephole weights."""
        super().__init__(input_size, hidden_size, num_layers, dropout, peephole=peephole, coupled=False)

    @torch.no_grad()
    def copy_from_torch_lstm(self, lstm: nn.LSTM) -> None:
        """Copy weight_ih/weight_hh/bias_ih/bias_hh of every layer from a matching nn.LSTM (peepholes untouched)."""
        if (lstm.input_size, lstm.hidden_size, lstm.num_layers) != (self.input_size, self.hidden_size, self.num_layers):
            raise ValueError("nn.LSTM sizes (input, hidden, layers) do not match this module")
        if lstm.bidirectional or lstm.proj_size or not lstm.bias:
            raise ValueError("only unidirectional nn.LSTM with biases and no projection can be copied")
        for k in range(self.num_layers):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(self, f"{name}_l{k}").copy_(getattr(lstm, f"{name}_l{k}"))


class CIFGLSTM(_GatedLSTM):
    """Coupled input-forget gate LSTM (Greff et al. 2015): no input gate, i = 1 - f; gate blocks ordered f, g, o."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        peephole: bool = False,
    ) -> None:
        """peephole=True adds f/o peepholes, the exact CIFG variant of Greff et al."""
        super().__init__(input_size, hidden_size, num_layers, dropout, peephole=peephole, coupled=True)


def _fused(cell: str) -> Callable[[int, int, int, float], nn.Module]:
    def make(input_size: int, hidden_size: int, num_layers: int, dropout: float) -> nn.Module:
        kwargs: dict[str, object] = {"dropout": dropout} if num_layers > 1 else {}
        if cell == "rnn":
            kwargs["nonlinearity"] = "tanh"
        return _FUSED[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True, **kwargs)
    return make


# The one registry of cells: the CLI's choices, TrainConfig's validation, the help text and the checkpoint's
# rebuild all read it, so a new cell is one line here (and its class).
REGISTRY: dict[str, Callable[[int, int, int, float], nn.Module]] = {
    "lstm": _fused("lstm"),
    "gru": _fused("gru"),
    "rnn": _fused("rnn"),
    "peephole": lambda i, h, n, d: PeepholeLSTM(i, h, num_layers=n, dropout=d),
    "cifg": lambda i, h, n, d: CIFGLSTM(i, h, num_layers=n, dropout=d),
}
CELLS: tuple[str, ...] = tuple(REGISTRY)


def build_recurrent(
    cell: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0
) -> nn.Module:
    """Encoder: forward(x (batch, time, input)) -> (out (batch, time, hidden), state)."""
    if cell not in REGISTRY:
        raise ValueError(f"unknown cell {cell!r}; valid cells: {', '.join(CELLS)}")
    return REGISTRY[cell](input_size, hidden_size, num_layers, dropout)
