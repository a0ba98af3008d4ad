"""from_torch / to_torch: converted models compute what the source computes; anything else is
refused with the layer's name."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

import graphnet as gn


def _same(model, g, x, atol=1e-5):
    with torch.no_grad():
        want = model(x).reshape(x.shape[0], -1)
    flat = x.reshape(x.shape[0], -1)
    for mode in ("dense", "sparse", "auto"):
        got = gn.compile(g, mode)(flat)
        assert torch.allclose(got, want, atol=atol), (mode, (got - want).abs().max())
    ref = gn.interpret(g, flat)
    assert torch.allclose(ref.float(), want, atol=atol)


ALL_ACTS = [
    nn.ReLU(),
    nn.Tanh(),
    nn.Sigmoid(),
    nn.GELU(),
    nn.SiLU(),
    nn.ELU(),
    nn.Softplus(),
    nn.LeakyReLU(),
]


@pytest.mark.parametrize("act", ALL_ACTS, ids=lambda a: type(a).__name__)
def test_sequential_with_each_activation(act):
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(6, 9), act, nn.Dropout(0.3), nn.Linear(9, 4)).eval()
    g = gn.from_torch(seq)
    assert g.num_edges == 6 * 9 + 9 * 4
    assert len(g.inputs) == 6 and len(g.outputs) == 4
    _same(seq, g, torch.randn(11, 6))


def test_flatten_stacked_activations_and_linear_without_bias():
    torch.manual_seed(1)
    seq = nn.Sequential(
        nn.Flatten(),
        nn.Tanh(),  # an activation on the inputs: a pass-through level carries it
        nn.Linear(16, 8, bias=False),
        nn.ReLU(),
        nn.Sigmoid(),  # a second activation: another pass-through level
        nn.Identity(),
        nn.Linear(8, 3),
    )
    g = gn.from_torch(seq)
    g.check()
    _same(seq, g, torch.randn(5, 1, 4, 4))


def test_single_linear_and_nested_sequential():
    torch.manual_seed(2)
    lin = nn.Linear(5, 2)
    _same(lin, gn.from_torch(lin), torch.randn(4, 5))
    nested = nn.Sequential(nn.Sequential(nn.Linear(5, 5), nn.ReLU()), nn.Linear(5, 2))
    _same(nested, gn.from_torch(nested), torch.randn(4, 5))


class Residual(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.inp = nn.Linear(5, width)
        self.block1 = nn.Linear(width, width)
        self.block2 = nn.Linear(width, width)
        self.out = nn.Linear(width, 3)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        h = torch.relu(self.block2(torch.relu(self.block1(h))) + h)  # residual over a block
        h = torch.tanh(h + self.block1(h))  # one more, the other way round, a weight reused
        return self.out(h)


def test_traced_residual_additions_become_skip_edges():
    torch.manual_seed(3)
    model = Residual()
    g = gn.from_torch(model)
    g.check()
    lv = g.neuron_attr("level")
    src, dst, _ = g.edge_list()
    assert (lv[dst] - lv[src] > 1).any()  # skip edges exist
    _same(model, g, torch.randn(7, 5))
    with pytest.raises(gn.GraphError, match="skips a level"):
        gn.to_torch(g)


def test_masked_linear_drops_masked_weights():
    torch.manual_seed(4)
    seq = nn.Sequential(nn.Linear(10, 12), nn.ReLU(), nn.Linear(12, 3))
    prune.random_unstructured(seq[0], "weight", amount=0.7)
    kept = int(seq[0].weight_mask.sum())
    g = gn.from_torch(seq)
    assert g.num_edges == kept + 12 * 3
    _same(seq, g, torch.randn(6, 10))


@pytest.mark.parametrize(
    "model, message",
    [
        (
            nn.Sequential(nn.Conv2d(1, 2, 3)),
            r"layer '0' \(Conv2d\) cannot be converted; supported: Linear",
        ),
        (
            nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)),
            r"layer '1' \(BatchNorm1d\) cannot be converted",
        ),
        (
            nn.Sequential(nn.Linear(4, 4), nn.LeakyReLU(0.2)),
            r"layer '1' .*only the default parameters",
        ),
        (
            nn.Sequential(nn.Linear(4, 4), nn.Linear(5, 2)),
            r"layer '1' takes 5 features but receives 4",
        ),
    ],
)
def test_unsupported_models_are_named(model, message):
    with pytest.raises(gn.GraphError, match=message):
        gn.from_torch(model)


def test_attention_inside_a_custom_module_is_named():
    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(4, 4)
            self.attn = nn.MultiheadAttention(4, 1)

        def forward(self, x):
            return self.attn(self.proj(x), x, x)[0]

    with pytest.raises(gn.GraphError, match="MultiheadAttention"):
        gn.from_torch(Attn())


def test_nan_weight_is_refused():
    lin = nn.Linear(3, 2)
    with torch.no_grad():
        lin.weight[1, 2] = float("nan")
    with pytest.raises(gn.GraphError, match=r"weight\[1, 2\] is nan"):
        gn.from_torch(lin)


def test_to_torch_round_trip_and_mixed_activation_error():
    torch.manual_seed(5)
    seq = nn.Sequential(nn.Linear(6, 7), nn.GELU(), nn.Linear(7, 7), nn.Tanh(), nn.Linear(7, 2))
    back = gn.to_torch(gn.from_torch(seq))
    x = torch.randn(9, 6)
    assert torch.allclose(back(x), seq(x), atol=1e-6)
    assert [type(m) for m in back] == [type(m) for m in seq]
    g = gn.mlp([4, 5, 2], density=1.0, seed=0)
    g.set_neuron_attr("activation", [5], "tanh")
    with pytest.raises(gn.GraphError, match=r"level 1 mixes activations \(relu, tanh\)"):
        gn.to_torch(g)


class _Shared(nn.Module):
    """A skip that must stay unactivated while an activation is applied to an alias of it."""

    def __init__(self):
        super().__init__()
        self.l0, self.d, self.l1 = nn.Linear(4, 4), nn.Dropout(0.1), nn.Linear(4, 4)
        self.block = nn.Sequential(nn.ReLU(), nn.Linear(4, 4))

    def forward(self, x):
        h = self.l0(x)
        a = torch.relu(self.d(h))
        return self.l1(a) + h + self.block(h)


def test_reused_modules_and_aliases_keep_the_source_semantics():
    torch.manual_seed(6)
    act, lin = nn.ReLU(), nn.Linear(4, 4)
    for model in (
        nn.Sequential(
            nn.Linear(4, 4), act, nn.Linear(4, 4), act, nn.Linear(4, 2)
        ),  # one ReLU twice
        nn.Sequential(lin, nn.Tanh(), lin),  # one Linear twice
        _Shared().eval(),
    ):
        _same(model, gn.from_torch(model), torch.randn(6, 4))


def test_in_place_activation_on_a_shared_value_and_constants_are_refused():
    class Inplace(nn.Module):
        def __init__(self):
            super().__init__()
            self.l0, self.r, self.l1 = nn.Linear(4, 4), nn.ReLU(inplace=True), nn.Linear(4, 4)

        def forward(self, x):
            h = self.l0(x)
            return self.l1(self.r(h)) + h

    class Const(nn.Module):
        def __init__(self):
            super().__init__()
            self.l0 = nn.Linear(4, 2)

        def forward(self, x):
            return self.l0(x) + 1

    with pytest.raises(gn.GraphError, match="changes its input in place"):
        gn.from_torch(Inplace())
    with pytest.raises(gn.GraphError, match="adds a constant"):
        gn.from_torch(Const())
