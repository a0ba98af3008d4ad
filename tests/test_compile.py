"""Compiled modules equal the reference interpreter, in every mode, and their gradients are
right (torch.autograd.gradcheck)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from compile_strategies import compiler_graphs, inputs_for
from hypothesis import given, settings

import graphnet as gn
from compilers.level_stack import run_levels

MODES = ("dense", "sparse", "auto")


@settings(max_examples=150, deadline=None)
@given(compiler_graphs())
def test_every_mode_equals_the_interpreter(g):
    g.check()
    x = inputs_for(g)
    want = gn.interpret(g, x)
    for mode in MODES:
        got = gn.compile(g, mode)(x)
        assert got.dtype == torch.float32 and got.shape == want.shape
        assert torch.allclose(got.double(), want, atol=1e-5, rtol=1e-5), (mode, got, want)
        got64 = gn.compile(g, mode, dtype=torch.float64)(x.double())
        assert torch.allclose(got64, want, atol=1e-10, rtol=1e-10), mode


def _functional(model):
    plans = model._plan()

    def f(x, values, bias):
        return run_levels(plans, model.num_inputs, model.num_slots, x, values, bias)

    return f, [model.values, model.bias]


@settings(max_examples=25, deadline=None)
@given(compiler_graphs(max_hidden_levels=3, max_width=3))
def test_gradients_pass_gradcheck(g):
    # Kinks (relu at exactly 0) have no derivative: keep pre-activations off zero by giving
    # every neuron a bias of magnitude >= 0.1 (a zero bias with no edges sits on the kink).
    rng = np.random.default_rng(0)
    ids = [n for n in g.neuron_ids.tolist() if n not in g.inputs]
    g.set_neuron_attr("bias", ids, rng.uniform(0.1, 0.9, len(ids)) * rng.choice([-1, 1], len(ids)))
    x = inputs_for(g, batch=3).double().requires_grad_(True)
    for mode in MODES:
        model = gn.compile(g, mode, dtype=torch.float64)
        f, params = _functional(model)
        assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-5), mode


def test_gradients_equal_autograd_through_the_interpreter_layers():
    # The same MLP as an nn.Sequential (autograd's own gradients) and compiled.
    g = gn.mlp([5, 7, 3], density=1.0, seed=1, activation="tanh")
    x = inputs_for(g, batch=4)
    seq = gn.compile(g, "dense")
    w1 = torch.zeros(7, 5)
    w2 = torch.zeros(3, 7)
    src, dst, w = g.edge_list()
    for s, d, wt in zip(src.tolist(), dst.tolist(), w.tolist()):
        if d < 12:
            w1[d - 5, s] = wt
        else:
            w2[d - 12, s - 5] = wt
    w1.requires_grad_(True)
    w2.requires_grad_(True)
    ref = torch.tanh(x @ w1.T) @ w2.T
    out = seq(x)
    assert torch.allclose(out, ref, atol=1e-6)
    out.square().sum().backward()
    ref.square().sum().backward()
    grad = seq.values.grad
    assert torch.allclose(grad[: 7 * 5], w1.grad.reshape(-1), atol=1e-6)
    assert torch.allclose(grad[7 * 5 :], w2.grad.reshape(-1), atol=1e-6)


@pytest.mark.parametrize("mode", ["dense", "auto"])
@pytest.mark.parametrize(
    "make_opt",
    [
        lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.5),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.3),
        lambda p: torch.optim.Adagrad(p, lr=0.1, weight_decay=0.1),
        lambda p: torch.optim.RMSprop(p, lr=0.01, weight_decay=0.2),
    ],
)
def test_missing_edges_stay_exactly_zero_under_any_optimizer(mode, make_opt):
    g = gn.mlp([6, 8, 4], density=0.4, seed=3)
    model = gn.compile(g, mode)
    opt = make_opt(model.parameters())
    x = inputs_for(g, batch=16)
    for _ in range(20):
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
    # The effective weights: probe the first block with unit inputs through the identity
    # of a graph whose hidden level is linear.
    mask = np.zeros((8, 6), bool)
    emap = model.edge_map()
    first = emap["block"] == 0
    mask[emap["row"][first], emap["col"][first]] = True
    rows = model.neuron_ids(0).numpy() - 6
    src, dst, _ = g.edge_list()
    truth = np.zeros((8, 6), bool)
    truth[dst[dst < 14] - 6, src[dst < 14]] = True
    assert np.array_equal(mask[np.argsort(rows)], truth)
    # Structural zeros: an edge that is not in the graph has no parameter to move.
    assert model.block_values(0).numel() == int(truth.sum())
    gn.sync(g, model)
    g.check()


def test_output_order_follows_g_outputs():
    g = gn.NeuronGraph()
    a, b = g.add_neurons(2, role="input").tolist()
    o1, o2 = g.add_neurons(2, role="output", level=1).tolist()
    g.add_edges([a, b], [o1, o2], [1.0, 2.0])
    G = gn.to_networkx(g)
    G.graph["outputs"] = [o2, o1]
    g2 = gn.from_networkx(G)
    x = torch.tensor([[1.0, 1.0]])
    assert gn.compile(g)(x).tolist() == [[1.0, 2.0]]
    assert gn.compile(g2)(x).tolist() == [[2.0, 1.0]]
    assert gn.interpret(g2, x).tolist() == [[2.0, 1.0]]


def test_bad_inputs_are_named():
    g = gn.mlp([3, 2], density=1.0, seed=0)
    model = gn.compile(g)
    with pytest.raises(gn.GraphError, match=r"takes \(batch, 3\) inputs, got shape \(4, 5\)"):
        model(torch.zeros(4, 5))
    with pytest.raises(gn.GraphError, match=r"unknown compile mode 'fast'"):
        gn.compile(g, "fast")
    empty = gn.NeuronGraph()
    empty.add_neurons(2, role="input")
    with pytest.raises(gn.GraphError, match="needs at least one input and one output"):
        gn.compile(empty)
    with pytest.raises(gn.GraphError, match=r"takes \(batch, 3\) inputs"):
        gn.interpret(g, np.zeros((2, 4)))


def test_state_dict_round_trips_through_torch_save(tmp_path):
    g = gn.mlp([5, 6, 6, 2], density=0.5, seed=4)
    g.add_edge(0, 15, 0.3)
    model = gn.compile(g)
    with torch.no_grad():
        model.values.add_(0.1)
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)
    fresh = gn.compile(g)
    fresh.load_state_dict(torch.load(path))
    x = inputs_for(g)
    assert torch.equal(fresh(x), model(x))
    assert not torch.equal(gn.compile(g)(x), model(x))


def test_whole_model_pickles_and_deep_copies(tmp_path):
    import copy

    g = gn.mlp([5, 6, 3], density=0.5, seed=2)
    model = gn.compile(g)
    x = inputs_for(g)
    model(x).sum().backward()  # leaves caches and a workspace behind
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.values.add_(1.0)
    assert not torch.equal(twin(x), model(x))  # independent parameters
    path = tmp_path / "whole.pt"
    torch.save(model, path)
    back = torch.load(path, weights_only=False)
    assert torch.equal(back(x), model(x))
    back(x).sum().backward()
    assert back.values.grad is not None


@pytest.mark.parametrize("sizes", [[3, 8, 2], [3, 8, 1]])
def test_outputs_do_not_alias_the_reused_workspace(sizes):
    # batch 1, or a single output, makes the transposed output look contiguous: it must still
    # be a copy, or the next call overwrites it
    g = gn.mlp(sizes, density=1.0, seed=0)
    model = gn.compile(g)
    xs = inputs_for(g, batch=5)
    with torch.no_grad():
        one_by_one = torch.cat([model(xs[i : i + 1]) for i in range(5)])
        kept = [model(xs) for _ in range(2)]
        kept[0].add_(0)  # no error, and both calls' results stay distinct tensors
    assert torch.allclose(one_by_one, model(xs), atol=1e-6)
    assert kept[0].data_ptr() != kept[1].data_ptr()


def test_edge_learning_rate_multipliers_scale_gradients():
    g = gn.mlp([4, 5, 2], density=1.0, seed=3)
    frozen, half = int(g.edge_attr("id")[0]), int(g.edge_attr("id")[1])
    g.set_edge_attr("lr", [frozen, half], [0.0, 0.5])
    plain = gn.compile(gn.mlp([4, 5, 2], density=1.0, seed=3))
    model = gn.compile(g)
    x = inputs_for(g, batch=8)
    for m in (plain, model):
        m(x).square().sum().backward()
    emap = model.edge_map()
    at = dict(zip(emap["edge_id"].tolist(), emap["index"].tolist()))
    gp, gm = plain.values.grad, model.values.grad
    assert gm[at[frozen]] == 0 and gp[at[frozen]] != 0
    assert torch.isclose(gm[at[half]], 0.5 * gp[at[half]])
    others = [i for e, i in at.items() if e not in (frozen, half)]
    assert torch.equal(gm[others], gp[others])
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    w0 = float(model.values.detach()[at[frozen]])
    for _ in range(5):
        opt.zero_grad()
        model(x).square().sum().backward()
        opt.step()
    assert float(model.values.detach()[at[frozen]]) == w0  # lr 0 freezes the edge under Adam too
