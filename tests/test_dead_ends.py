"""Dead-end elimination: a compiled model computes only the neurons with a path to an output,
and its outputs, gradients and optimizer trajectory are those of the whole network; analysis
still sees every neuron. The reference is the whole network run by the same model
(``_run_all``), the float64 interpreter, and a networkx reachability count."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from compile_strategies import compiler_graphs, inputs_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphnet as gn
from analysis import capture, level_activations
from compilers.dead_ends import live_part

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _whole_network_grads(model, x, y):
    """Gradients of the loss through the whole network (every neuron computed)."""
    model.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    torch.nn.functional.mse_loss(model._run_all(x), y).backward()
    return model.values.grad.clone(), model.bias.grad.clone(), x.grad.clone()


def _live_grads(model, x, y):
    model.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    torch.nn.functional.mse_loss(model(x), y).backward()
    return model.values.grad.clone(), model.bias.grad.clone(), x.grad.clone()


def _dead_hidden(g: gn.NeuronGraph) -> set[int]:
    """Hidden neurons with no path to an output, by networkx."""
    G = nx.DiGraph()
    G.add_nodes_from(g.neuron_ids.tolist())
    src, dst, _ = g.edge_list()
    G.add_edges_from(zip(src.tolist(), dst.tolist()))
    reach = set(g.outputs)
    for o in g.outputs:
        reach |= nx.ancestors(G, o)
    hidden = [n for n in g.neuron_ids.tolist() if g.neuron(n)["role"] == "hidden"]
    return {n for n in hidden if n not in reach}


@SETTINGS
@given(
    g=compiler_graphs(max_hidden_levels=4, max_width=6),
    seed=st.integers(0, 3),
    mode=st.sampled_from(["sparse", "dense", "auto"]),
)
def test_outputs_and_gradients_equal_the_whole_network(g, seed, mode):
    model = gn.compile(g, mode)
    model._plan()
    part = model._live
    dead = _dead_hidden(g)
    if part is not None:
        assert part.dead_neurons == len(dead)
    x = inputs_for(g, batch=7, seed=seed)
    y = torch.randn(7, len(g.outputs), generator=torch.Generator().manual_seed(seed))
    out = model(x)
    torch.testing.assert_close(out, model._run_all(x), rtol=1e-6, atol=1e-6)
    assert torch.allclose(out.double(), gn.interpret(g, x.double()), atol=1e-5)
    live_v, live_b, live_x = _live_grads(model, x, y)
    all_v, all_b, all_x = _whole_network_grads(model, x, y)
    torch.testing.assert_close(live_v, all_v, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(live_b, all_b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(live_x, all_x, rtol=1e-5, atol=1e-6)
    if part is not None:  # the dead ends' parameters get exactly zero
        dead_v = np.setdiff1d(np.arange(model.values.numel()), part.values.numpy())
        dead_b = np.setdiff1d(np.arange(model.bias.numel()), part.bias.numpy())
        assert not live_v[dead_v].any() and not live_b[dead_b].any()
        ids = model.neuron_ids().numpy()
        assert set(ids[dead_b].tolist()) == dead


def _sparse_net_with_dead_ends(seed: int = 0) -> gn.NeuronGraph:
    g = gn.mlp([40, 24, 16, 5], density=0.06, seed=seed)
    assert _dead_hidden(g), "the test needs dead ends"
    return g


def test_a_sparse_mlp_leaves_out_its_dead_ends_and_unread_inputs():
    g = _sparse_net_with_dead_ends()
    model = gn.compile(g)
    model._plan()
    part = model._live
    dead = _dead_hidden(g)
    read = {int(s) for s, d, _ in zip(*g.edge_list()) if d not in dead}
    read_inputs = read & set(g.inputs)
    assert part.dead_neurons == len(dead)
    assert part.num_inputs == len(read_inputs) < len(g.inputs)
    assert part.num_slots == len(read_inputs) + g.num_neurons - len(g.inputs) - len(dead)
    assert part.dead_edges == sum(1 for d in g.edge_list()[1] if d in dead)


@pytest.mark.parametrize("mode", ["auto", "dense"])
@pytest.mark.parametrize("opt_name", ["adam", "adamw", "sgd"])
def test_training_trajectory_equals_the_whole_network(opt_name, mode):
    g = _sparse_net_with_dead_ends()
    make = {
        "adam": lambda p: torch.optim.Adam(p, lr=1e-2),
        "adamw": lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
        "sgd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    }[opt_name]
    live, whole = gn.compile(g, mode), gn.compile(g, mode)
    live._plan()
    assert live._live is not None
    opts = make(live.parameters()), make(whole.parameters())
    gen = torch.Generator().manual_seed(0)
    for _ in range(15):
        x = torch.randn(32, 40, generator=gen)
        y = torch.randint(0, 5, (32,), generator=gen)
        for opt, run in ((opts[0], live), (opts[1], whole._run_all)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(run(x), y).backward()
            opt.step()
    torch.testing.assert_close(live.values, whole.values, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(live.bias, whole.bias, rtol=1e-5, atol=1e-6)
    x = torch.randn(9, 40, generator=gen)
    torch.testing.assert_close(live(x), whole._run_all(x), rtol=1e-5, atol=1e-6)


def test_analysis_still_sees_every_neuron():
    # level_activations and capture read the dead ends too: equal to a float64 recomputation
    g = _sparse_net_with_dead_ends()
    model = gn.compile(g)
    x = torch.randn(11, 40, generator=torch.Generator().manual_seed(1))
    model(x)  # a live-only forward first: what analysis reads must not depend on it
    acts = level_activations(g, model, x)
    order = model.slot_order.numpy()
    level = g.neuron_attr("level", order)
    src, dst, w = g.edge_list()
    h = {int(n): x[:, i].double() for i, n in enumerate(g.inputs)}
    for n in order[len(g.inputs) :].tolist():
        info = g.neuron(n)
        z = torch.full((11,), float(np.float32(info["bias"])), dtype=torch.float64)
        for s, ww in zip(src[dst == n].tolist(), w[dst == n].tolist()):
            z = z + float(np.float32(ww)) * h[s]
        h[n] = torch.relu(z) if info["activation"] == "relu" else z
    for lv, got in acts.items():
        want = torch.stack([h[int(n)] for n in order[level == lv]], 1).numpy()
        np.testing.assert_allclose(got, want, atol=1e-5)
    dead = _dead_hidden(g)
    dead_cols = [
        np.flatnonzero(order[level == 1] == n)[0] for n in dead if g.neuron(n)["level"] == 1
    ]
    assert np.abs(acts[1][:, dead_cols]).sum() > 0  # the dead ends were computed, not zeros
    stats = capture(g, model, x)
    place = {int(n): i for i, n in enumerate(stats.neuron_ids)}
    np.testing.assert_allclose(
        [stats.mean[place[n]] for n in dead], [h[n].mean().item() for n in dead], atol=1e-5
    )


def test_recompile_after_a_dead_end_comes_alive():
    g = _sparse_net_with_dead_ends()
    model = gn.compile(g)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(16, 40, generator=torch.Generator().manual_seed(2))
    torch.nn.functional.mse_loss(model(x), torch.zeros(16, 5)).backward()
    opt.step()
    gn.sync(g, model)
    before = model._live.dead_neurons
    n = sorted(_dead_hidden(g))[0]
    g.add_edge(n, int(g.outputs[0]), weight=0.5)
    model, opt = gn.recompile(g, model, opt)
    model._plan()
    assert model._live.dead_neurons < before
    assert n not in _dead_hidden(g)
    torch.testing.assert_close(model(x).double(), gn.interpret(g, x.double()), atol=1e-5, rtol=0)


def test_edge_learning_rates_reach_the_live_part():
    g = _sparse_net_with_dead_ends()
    model = gn.compile(g)
    model._plan()
    live_ids = model.edge_ids().numpy()[model._live.values.numpy()]
    e = int(live_ids[0])
    g.set_edge_attr("lr", [e], [0.0])
    model = gn.compile(g)
    x = torch.randn(8, 40)
    model(x).square().sum().backward()
    where = int(np.flatnonzero(model.edge_ids().numpy() == e)[0])
    assert model.values.grad[where] == 0
    assert model.values.grad.abs().sum() > 0


def test_mixed_activations_run_the_live_part_through_the_interpreter():
    g = gn.mlp([12, 10, 8, 3], density=0.15, seed=3)
    hidden = [n for n in g.neuron_ids.tolist() if g.neuron(n)["role"] == "hidden"]
    g.set_neuron_attr(
        "activation", hidden, [["tanh", "gelu", "relu"][i % 3] for i in range(len(hidden))]
    )
    model = gn.compile(g, "sparse")
    model._plan()
    x = inputs_for(g, batch=5)
    assert torch.allclose(model(x).double(), gn.interpret(g, x.double()), atol=1e-5)
    assert model._live is not None and model._live_run is not None
    torch.testing.assert_close(model(x), model._run_all(x), rtol=1e-6, atol=1e-6)


def test_live_part_is_none_when_nothing_is_dead():
    model = gn.compile(gn.mlp([8, 6, 3], density=1.0, seed=0), "sparse")
    assert live_part(model._plan(), model.num_inputs, model.num_slots, model.num_outputs) is None


def test_a_few_dead_ends_are_not_worth_leaving_out():
    # one dead hidden neuron in a dense-enough network: gathering would cost more than it saves
    g = gn.mlp([8, 12, 3], density=1.0, seed=0)
    g.add_neurons(1, level=1, activation="relu")
    model = gn.compile(g, "sparse")
    assert len(_dead_hidden(g)) == 1
    assert live_part(model._plan(), model.num_inputs, model.num_slots, model.num_outputs) is None


def test_a_nan_read_only_by_dead_ends_stays_out_of_the_gradients():
    g = _sparse_net_with_dead_ends()
    model = gn.compile(g)
    model._plan()
    unread = sorted(set(range(40)) - set(model._live.inputs.tolist()))
    x = torch.randn(6, 40)
    x[:, unread[0]] = float("nan")
    out = model(x)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert torch.isfinite(model.values.grad).all() and torch.isfinite(model.bias.grad).all()
    torch.testing.assert_close(out.double(), gn.interpret(g, x.double()), atol=1e-5, rtol=0)


def test_a_pickled_model_runs_its_live_part_again():
    import pickle

    g = _sparse_net_with_dead_ends()
    model = gn.compile(g)
    x = torch.randn(5, 40)
    want = model(x)
    state = model.__getstate__()
    for name in ("_live", "_live_run", "_live_lr", "_live_workspace"):  # as pickled before
        state.pop(name)
    old = object.__new__(type(model))
    old.__setstate__(state)
    copy = pickle.loads(pickle.dumps(model))
    for m in (old, copy):
        torch.testing.assert_close(m(x), want, rtol=0, atol=0)
        assert m._live is not None
