"""Recompilation keeps trained weights and optimizer state: checked against an independent
reference, a plain-torch network with one dense masked matrix over all neurons, where a new
edge is a mask entry switched on (weight 0, state 0 from the start)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from compile_strategies import inputs_for

import graphnet as gn

ACT = {"relu": torch.relu, "tanh": torch.tanh, "identity": lambda z: z}


class MaskedReference(torch.nn.Module):
    """All neurons in one N x N weight matrix (row = destination id, column = source id)."""

    def __init__(self, g: gn.NeuronGraph):
        super().__init__()
        n = g.next_neuron_id
        src, dst, w = g.edge_list()
        weight = torch.zeros(n, n)
        weight[torch.tensor(dst), torch.tensor(src)] = torch.tensor(w)
        self.weight = torch.nn.Parameter(weight)
        self.register_buffer("mask", (weight != 0) | _edge_mask(g, n))
        self.bias = torch.nn.Parameter(torch.zeros(n))
        with torch.no_grad():
            ids = g.neuron_ids
            self.bias[torch.as_tensor(ids)] = torch.as_tensor(g.neuron_attr("bias", ids))
        self.g = g

    def forward(self, x):
        g = self.g
        h = torch.zeros(x.shape[0], self.weight.shape[0])
        h = h.index_copy(1, torch.as_tensor(g.inputs), x)
        w = self.weight * self.mask
        ids = g.neuron_ids
        level = g.neuron_attr("level", ids)
        for lv in sorted(set(level.tolist()) - {0}):
            idx = torch.as_tensor(ids[level == lv])
            z = h @ w[idx].T + self.bias[idx]
            acts = [g.neuron(int(i))["activation"] for i in idx]
            out = torch.stack([ACT[a](z[:, j]) for j, a in enumerate(acts)], dim=1)
            h = h.index_copy(1, idx, out)
        return h[:, torch.as_tensor(g.outputs)]


def _edge_mask(g, n):
    src, dst, _ = g.edge_list()
    m = torch.zeros(n, n, dtype=torch.bool)
    m[torch.tensor(dst), torch.tensor(src)] = True
    return m


def _graph():
    g = gn.mlp([5, 6, 6, 3], density=0.5, seed=11, activation="tanh")
    g.set_neuron_attr("activation", [5, 6], "relu")
    g.add_edges([0, 1], [17, 12], [0.2, -0.3])  # skip edges
    return g


def _train(model, opt, x, y, steps):
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


OPTIMIZERS = {
    "adam": lambda p: torch.optim.Adam(p, lr=0.02),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.02, weight_decay=0.1),
    "sgd-momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
}


@pytest.mark.parametrize("mode", ["dense", "sparse", "auto"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_trajectory_equals_a_model_that_had_the_edge_from_the_start(mode, name):
    torch.manual_seed(0)
    g = _graph()
    x = inputs_for(g, batch=32, seed=1)
    y = torch.randn(32, 3, generator=torch.Generator().manual_seed(2))
    ref = MaskedReference(g)
    model = gn.compile(g, mode)
    opt_ref = OPTIMIZERS[name](ref.parameters())
    opt = OPTIMIZERS[name](model.parameters())
    _train(ref, opt_ref, x, y, 6)
    _train(model, opt, x, y, 6)
    assert torch.allclose(model(x), ref(x), atol=1e-5)
    new_src, new_dst = 2, 14  # input -> level-2 neuron: a new skip edge, weight 0
    assert not g.has_edge(new_src, new_dst)
    g.add_edge(new_src, new_dst, weight=0.0, reason="grow")
    model, opt = gn.recompile(g, model, opt)
    with torch.no_grad():
        ref.mask[new_dst, new_src] = True  # had the entry all along at weight 0, state 0
        ref.weight[new_dst, new_src] = 0.0
    for _ in range(6):
        _train(ref, opt_ref, x, y, 1)
        _train(model, opt, x, y, 1)
        assert torch.allclose(model(x), ref(x), atol=1e-5)
    gn.sync(g, model)
    w_new = g.edge_list()[2][g.edge_ids([new_src], [new_dst])[0]]
    assert w_new != 0.0  # the new edge trained
    assert abs(w_new - float(ref.weight.detach()[new_dst, new_src])) < 1e-5


def test_recompile_without_changes_keeps_parameters_and_state():
    g = _graph()
    model = gn.compile(g)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x = inputs_for(g)
    _train(model, opt, x, torch.zeros(7, 3), 3)
    values, state = model.values, opt.state[model.values]
    g.tag("neuron", "seen", [6])  # an edit that changes no edge and no neuron
    model2, opt2 = gn.recompile(g, model, opt)
    assert opt2 is opt and model2.values is values and opt.state[model2.values] is state
    g.add_edge(6, 17, 0.0)
    model3, _ = gn.recompile(g, model2, opt)
    assert model3.values is not values
    assert opt.param_groups[0]["params"] == [model3.values, model3.bias]
    assert opt.state[model3.values]["exp_avg"].shape == model3.values.shape
    assert int(opt.state[model3.values]["step"]) == 3


def test_trained_values_survive_and_edited_ones_take_the_graph_value():
    g = _graph()
    model = gn.compile(g)
    with torch.no_grad():
        model.values.mul_(2.0)
        model.bias.add_(0.5)
    trained = model(inputs_for(g))
    e = int(g.edge_attr("id")[3])
    g.set_edge_attr("weight", [e], [1.25], reason="edit")
    g.set_neuron_attr("bias", [16], [0.75])
    gone = int(g.edge_attr("id")[10])
    g.remove_edges([gone])
    model2, _ = gn.recompile(g, model)
    # Reference: the graph carrying the trained values, then the same edits.
    h = _graph()
    gn.sync(h, model)
    h.set_edge_attr("weight", [e], [1.25])
    h.set_neuron_attr("bias", [16], [0.75])
    h.remove_edges([gone])
    x = inputs_for(g)
    assert torch.allclose(model2(x).double(), gn.interpret(h, x), atol=1e-5)
    assert not torch.allclose(model2(x), trained)


def test_recompile_after_new_neurons_and_a_removed_one():
    g = _graph()
    model = gn.compile(g)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = inputs_for(g)
    _train(model, opt, x, torch.zeros(7, 3), 2)
    gn.sync(g, model)
    n = g.add_neuron(level=1, activation="tanh", bias=0.1)
    g.add_edges([0, n], [n, 12], [0.5, 0.0])
    g.remove_neuron(7, cascade=True)
    g.lift([8])  # moves neuron 8 (and what it feeds) up a level
    model, opt = gn.recompile(g, model, opt)
    assert torch.allclose(model(x).double(), gn.interpret(g, x), atol=1e-5)
    _train(model, opt, x, torch.zeros(7, 3), 2)  # still trains
    for p in opt.param_groups[0]["params"]:
        assert p in opt.state and opt.state[p]["momentum_buffer"].shape == p.shape


def test_recompile_refuses_a_model_of_another_graph():
    g = _graph()
    g.add_edge(2, 14, 0.0)
    model = gn.compile(g)
    other = _graph()
    with pytest.raises(gn.GraphError, match="compiled from another graph"):
        gn.recompile(other, model)
    with pytest.raises(gn.GraphError, match="compiled from another graph"):
        gn.sync(_graph(), model)


def test_optimizer_state_that_cannot_be_carried_is_named():
    g = _graph()
    model = gn.compile(g)
    opt = torch.optim.Adam(model.parameters())
    _train(model, opt, inputs_for(g), torch.zeros(7, 3), 1)
    opt.state[model.values]["odd"] = torch.zeros(2, 2, 2)
    g.add_edge(6, 17, 0.0)
    with pytest.raises(gn.GraphError, match="cannot carry optimizer state 'odd'"):
        gn.recompile(g, model, opt)


def test_sync_refuses_nan_and_leaves_the_graph():
    g = _graph()
    model = gn.compile(g)
    with torch.no_grad():
        model.block_values(1)[0] = float("nan")
    before = g.copy()
    with pytest.raises(gn.GraphError, match="has trained weight nan"):
        gn.sync(g, model)
    assert g.equals(before)
    assert np.isfinite(g.edge_list()[2]).all()


# ------------------------------------------------------------------ property: any edit sequence
from compile_strategies import compiler_graphs  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _random_edits(g: gn.NeuronGraph, rnd: np.random.Generator, count: int) -> None:
    """Apply ``count`` random valid edits (new edges with lift, removals, new neurons, weight
    and bias sets, activation changes) through the public API."""
    for _ in range(count):
        ids = g.neuron_ids
        role = g.neuron_attr("role", ids)
        kind = rnd.integers(0, 6)
        if kind == 0:  # a new edge, lifting if needed
            src = ids[role != 2]
            dst = ids[role != 0]
            s, d = int(rnd.choice(src)), int(rnd.choice(dst))
            if s != d and not g.has_edge(s, d):
                try:
                    g.add_edge(s, d, float(rnd.normal()), lift=True)
                except gn.GraphError:
                    pass  # would close a cycle
        elif kind == 1 and g.num_edges:
            g.remove_edges([int(rnd.choice(g.edge_attr("id")))])
        elif kind == 2:
            top = g.num_levels - 1
            if top > 1:
                g.add_neuron(
                    level=int(rnd.integers(1, top)), activation=str(rnd.choice(["relu", "tanh"]))
                )
        elif kind == 3 and g.num_edges:
            e = int(rnd.choice(g.edge_attr("id")))
            g.set_edge_attr("weight", [e], [float(rnd.normal())])
        elif kind == 4:
            hidden = ids[role != 0]
            g.set_neuron_attr("bias", [int(rnd.choice(hidden))], [float(rnd.normal())])
        else:
            hidden = ids[role == 1]
            if hidden.size:
                g.remove_neuron(int(rnd.choice(hidden)), cascade=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(compiler_graphs(), st.integers(0, 2**32 - 1), st.sampled_from(["dense", "sparse", "auto"]))
def test_recompile_after_random_edits_equals_the_edited_trained_graph(g, seed, mode):
    model = gn.compile(g, mode)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    x = inputs_for(g, batch=9, seed=seed % 1000)
    _train(model, opt, x, torch.randn(9, len(g.outputs)), 3)
    # Reference: the trained values written onto a copy, then the same edits.
    ref = g.copy()
    gn.sync(ref, model)
    _random_edits(g, np.random.default_rng(seed + 1), 6)
    _random_edits(ref, np.random.default_rng(seed + 1), 6)
    assert ref.num_edges == g.num_edges and ref.neuron_ids.tolist() == g.neuron_ids.tolist()
    model, opt = gn.recompile(g, model, opt)
    assert torch.allclose(model(x).double(), gn.interpret(ref, x), atol=1e-4, rtol=1e-4)
    _train(model, opt, x, torch.randn(9, len(g.outputs)), 2)  # and it trains on
    gn.sync(g, model)
    g.check()


def test_sync_after_an_edit_is_refused_instead_of_undoing_it():
    g = _graph()
    model = gn.compile(g)
    gn.clone_neuron(g, 6)  # splits neuron 6's outgoing weights in the graph
    before = g.copy()
    with pytest.raises(
        gn.GraphError, match="edited since the model was compiled .*recompile first"
    ):
        gn.sync(g, model)
    assert g.equals(before)
    g.tag("neuron", "note", [6])
    model, _ = gn.recompile(g, model)
    g.tag("neuron", "seen", [7])  # tags change no value: syncing stays allowed
    gn.sync(g, model)


def test_parameters_left_out_of_the_optimizer_or_frozen_stay_so():
    g = _graph()
    model = gn.compile(g)
    model.bias.requires_grad_(False)
    opt = torch.optim.SGD([model.values], lr=0.1, momentum=0.9)
    x = inputs_for(g)
    _train(model, opt, x, torch.zeros(7, 3), 2)
    g.add_edge(6, 17, 0.0)
    model, opt = gn.recompile(g, model, opt)
    assert opt.param_groups[0]["params"] == [model.values]
    assert not model.bias.requires_grad
    bias = model.bias.detach().clone()
    _train(model, opt, x, torch.zeros(7, 3), 2)
    assert torch.equal(model.bias, bias)


def test_new_elements_start_from_the_optimizers_own_initial_state():
    g = _graph()
    model = gn.compile(g)
    opt = torch.optim.Rprop(model.parameters(), lr=0.01)
    _train(model, opt, inputs_for(g), torch.zeros(7, 3), 2)
    e = g.add_edge(6, 17, 0.0)
    model, opt = gn.recompile(g, model, opt)
    at = int(np.flatnonzero(model.edge_ids().numpy() == e)[0])
    assert float(opt.state[model.values]["step_size"][at]) == pytest.approx(0.01)


def test_state_dict_of_another_graph_is_refused():
    a, b = gn.compile(gn.mlp([4, 5, 2], 0.5, seed=0)), gn.compile(gn.mlp([4, 5, 2], 0.5, seed=1))
    with pytest.raises(gn.GraphError, match="belongs to a model of another graph"):
        b.load_state_dict(a.state_dict())
