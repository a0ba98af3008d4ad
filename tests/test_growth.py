"""Growth operators keep every invariant, log their edits, and (the function-preserving ones)
leave the network's outputs unchanged; checked on random graphs against the interpreter and
the compiled model, and on digits with training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from compile_strategies import compiler_graphs, inputs_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphnet as gn


def _pick(rnd, arr, k=1):
    arr = np.asarray(arr)
    return arr[rnd.choice(arr.size, size=min(k, arr.size), replace=False)] if arr.size else arr


def _hidden(g):
    ids = g.neuron_ids
    return ids[g.neuron_attr("role", ids) == 1]


def apply_preserving(g: gn.NeuronGraph, op: str, rnd: np.random.Generator):
    """Apply one function-preserving operator with random valid arguments (None if the graph
    offers no valid argument)."""
    ids = g.neuron_ids
    role = g.neuron_attr("role", ids)
    hidden = _hidden(g)
    if op == "add_edges":
        s = int(_pick(rnd, ids[role != 2])[0])
        d = int(_pick(rnd, ids[role != 0])[0])
        if s == d or g.has_edge(s, d):
            return None
        try:
            return gn.add_edges(g, [s], [d], lift=True)
        except gn.GraphError as err:
            assert "cycle" in str(err)
            return None
    if op in ("clone", "clone_noise", "clone_vertical"):
        if not hidden.size:
            return None
        n = int(_pick(rnd, hidden)[0])
        if op == "clone":
            return gn.clone_neuron(g, n)
        if op == "clone_noise":
            return gn.clone_neuron(g, n, noise=0.3, seed=int(rnd.integers(100)))
        return gn.clone_neuron(g, n, vertical=True, scale=0.7)
    if op == "insert_level":
        return gn.insert_level(g, int(rnd.integers(0, g.num_levels - 1)))
    if op == "highway":
        if hidden.size and rnd.random() < 0.7:
            return gn.add_highway(g, _pick(rnd, hidden, 2))
        return gn.add_highway(g, "inputs->outputs")
    if op == "patch":
        srcs = _pick(rnd, ids[role != 2], 2)
        tgts = _pick(rnd, ids[role != 0], 2)
        try:
            return gn.add_patch(g, srcs, tgts, size=int(rnd.integers(1, 4)), seed=1)
        except gn.GraphError as err:
            assert "cycle" in str(err)
            return None
    if op == "route":
        srcs = _pick(rnd, ids[role != 2], 3)
        tgts = _pick(rnd, ids[role != 0], 4)
        return gn.route(g, srcs, tgts, fan_out=2, fan_in=2, radius=2, seed=int(rnd.integers(100)))
    if op == "residual":
        levels = np.unique(g.neuron_attr("level", ids[role != 2]))  # non-empty, below outputs
        return gn.add_residual_block(g, int(_pick(rnd, levels)[0]), width=int(rnd.integers(1, 4)))
    raise AssertionError(op)


PRESERVING = [
    "add_edges",
    "clone",
    "clone_noise",
    "clone_vertical",
    "insert_level",
    "highway",
    "patch",
    "residual",
]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(compiler_graphs(), st.sampled_from(PRESERVING), st.integers(0, 2**32 - 1))
def test_function_preserving_operator_keeps_outputs(g, op, seed):
    rnd = np.random.default_rng(seed)
    x = inputs_for(g, batch=6, seed=seed % 997)
    before = gn.interpret(g, x)
    model = gn.compile(g, dtype=torch.float64)
    log_len = len(g.log)
    report = apply_preserving(g, op, rnd)
    g.check()
    if report is None:
        return
    assert isinstance(report, gn.GrowthReport)
    assert len(g.log) > log_len or "no change" in repr(report)
    assert all(r.reason for r in g.log.since(log_len))
    assert torch.allclose(gn.interpret(g, x), before, atol=1e-9)
    model, _ = gn.recompile(g, model)
    assert torch.allclose(model(x.double()), before, atol=1e-9), op
    f32 = gn.compile(g)(x)
    assert torch.allclose(f32.double(), before, atol=1e-5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(compiler_graphs(), st.integers(0, 2**32 - 1))
def test_random_operator_sequences_keep_invariants_and_match_the_interpreter(g, seed):
    rnd = np.random.default_rng(seed)
    x = inputs_for(g, batch=5, seed=seed % 991)
    model = gn.compile(g)
    start = g.copy()
    for _ in range(6):
        op = str(rnd.choice(PRESERVING + ["prune", "set", "rigl"]))
        if op == "prune":
            gn.prune(g, fraction=0.2)
        elif op == "set":
            gn.rewire(g, "set", 0.2, seed=int(rnd.integers(100)))
        elif op == "rigl":
            y = torch.randn(x.shape[0], len(g.outputs))
            grads = gn.edge_gradients(g, model, (x, y), torch.nn.functional.mse_loss)
            gn.rewire(g, "rigl", 0.2, grads=grads)
        else:
            apply_preserving(g, op, rnd)
        g.check()
        model, _ = gn.recompile(g, model)
        assert torch.allclose(model(x).double(), gn.interpret(g, x), atol=1e-5)
    replayed = gn.replay(start, g.log.since(len(start.log)))
    assert replayed.equals(g)


def test_clone_side_by_side_splits_outgoing_weights():
    g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    w_out = {int(d): float(w) for s, d, w in zip(*g.edge_list()) if s == 3}
    rep = gn.clone_neuron(g, 3, noise=0.25, seed=7)
    (c,) = rep.neurons_added.tolist()
    assert g.neuron(c)["level"] == 1 and g.neuron(c)["bias"] == g.neuron(3)["bias"]
    src, dst, w = g.edge_list()
    into = lambda n: sorted((int(s), float(x)) for s, d, x in zip(src, dst, w) if d == n)  # noqa: E731
    assert into(c) == into(3)
    for t, total in w_out.items():
        a = float(w[(src == 3) & (dst == t)][0])
        b = float(w[(src == c) & (dst == t)][0])
        assert a + b == pytest.approx(total, abs=1e-6) and a != pytest.approx(b)


def test_clone_vertical_sits_one_level_up_with_scaled_inputs_and_zero_outputs():
    g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    rep = gn.clone_neuron(g, 4, vertical=True, scale=0.7)
    (c,) = rep.neurons_added.tolist()
    assert g.neuron(c)["level"] == g.neuron(4)["level"] + 1
    src, dst, w = g.edge_list()
    assert np.allclose(np.sort(w[dst == c]), np.sort(w[dst == 4] * 0.7))
    assert np.all(w[src == c] == 0) and set(dst[src == c]) == set(dst[src == 4])
    assert g.tags("neuron", "clone_of") == {c: 4}


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda g: gn.clone_neuron(g, 0), r"clone_neuron: neuron 0 is an input"),
        (lambda g: gn.clone_neuron(g, 8), r"clone_neuron: neuron 8 is an output"),
        (lambda g: gn.clone_neuron(g, 99), r"unknown neuron 99"),
        (lambda g: gn.clone_neuron(g, 3, noise=float("nan")), r"noise must be finite"),
        (lambda g: gn.insert_level(g, 2), r"insert_level: level must be a whole number in 0..1"),
        (lambda g: gn.add_highway(g, "outputs->inputs"), r"unknown highway"),
        (lambda g: gn.add_patch(g, [7], [3], 2), r"outputs feed nothing"),
        (lambda g: gn.add_patch(g, [3], [0], 2), r"inputs take no edges"),
        (lambda g: gn.add_patch(g, [0], [3], 0), r"size must be a positive whole number"),
        (lambda g: gn.prune(g), r"give exactly one of threshold= and fraction="),
        (lambda g: gn.prune(g, fraction=1.5), r"fraction must lie in \[0, 1\]"),
        (lambda g: gn.add_residual_block(g, 0, width=0), r"width must be a positive whole number"),
        (
            lambda g: gn.add_residual_block(g, 1, 3, activation="bogus"),
            r"unknown activation 'bogus'",
        ),
        (lambda g: gn.add_residual_block(g, 1, 3, seed=-1), r"seed must be a non-negative"),
        (lambda g: gn.add_patch(g, [3], [7], 2, activation="bogus"), r"unknown activation 'bogus'"),
        (lambda g: gn.add_patch(g, [3, 3], [7], 2), r"neuron 3 is given twice"),
        (lambda g: gn.add_patch(g, [3], [7], 2, seed="x"), r"seed must be a non-negative"),
        (lambda g: gn.clone_neuron(g, 3, noise=1e300), r"not finite in float32"),
        (lambda g: gn.clone_neuron(g, 3, vertical=True, scale=1e300), r"not finite in float32"),
        (lambda g: gn.rewire(g, "set", 0.3, weight=float("nan")), r"not finite in float32"),
        (lambda g: gn.rewire(g, "rigl", 0.3, grads={}), r"grads lacks src, dst, grad"),
        (lambda g: gn.prune(g, threshold="0.1"), r"threshold must be a number"),
    ],
)
def test_bad_arguments_are_refused_and_leave_the_graph(call, message):
    g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    before = g.copy()
    with pytest.raises(gn.GraphError, match=message):
        call(g)
    assert g.equals(before) and len(g.log) == len(before.log)


def test_patch_refuses_a_cycle():
    g = gn.mlp([3, 4, 4, 2], density=1.0, seed=0)
    with pytest.raises(gn.GraphError, match="would close a cycle"):
        gn.add_patch(g, [8], [4], 2)  # 4 feeds 8


def test_prune_removes_the_weakest_and_orphans_never_inputs_or_outputs():
    g = gn.mlp([4, 6, 3], density=1.0, seed=2)
    w = np.abs(g.edge_attr("weight")).copy()
    cut = np.sort(w)[len(w) // 3]
    rep = gn.prune(g, threshold=float(cut))
    g.check()
    assert np.all(np.abs(g.edge_attr("weight")) >= cut)
    assert g.inputs == [0, 1, 2, 3] and g.outputs == [10, 11, 12]
    assert rep.edges_removed.size >= int((w < cut).sum())
    # every remaining hidden neuron lies on an input-output path (networkx as the reference)
    import networkx as nx

    G = gn.to_networkx(g)
    reach = set().union(*(nx.descendants(G, i) for i in g.inputs))
    back = set().union(*(nx.ancestors(G, o) for o in g.outputs))
    hidden = set(g.neuron_ids.tolist()) - set(g.inputs) - set(g.outputs)
    assert hidden <= (reach & back)
    assert rep.neurons_removed.size and not (
        set(rep.neurons_removed.tolist()) & (reach & back) & hidden
    )
    per = gn.mlp([4, 6, 3], density=1.0, seed=2)
    gn.prune(per, fraction=0.5, per_level=True, remove_orphans=False)
    lv = per.neuron_attr("level", per.edge_list()[1])
    assert (lv == 1).sum() == 12 and (lv == 2).sum() == 9


def test_growth_on_digits_keeps_accuracy_and_training_improves():
    from graphnet.train import accuracy, digits, fit_classifier

    d = digits()
    g = gn.mlp([64, 32, 10], density=0.3, seed=0)
    model, opt, hist = fit_classifier(g, d, epochs=6, progress=False)
    rnd = np.random.default_rng(0)
    for op in PRESERVING:
        gn.sync(g, model)
        acc = accuracy(model, d.x_test, d.y_test)
        logits = model(d.x_test)
        apply_preserving(g, op, rnd)
        model, opt = gn.recompile(g, model, opt)
        assert accuracy(model, d.x_test, d.y_test) == acc, op
        assert torch.allclose(model(d.x_test), logits, atol=1e-5), op
    loss0 = torch.nn.functional.cross_entropy(model(d.x_train), d.y_train).item()
    model, opt, hist = fit_classifier(g, d, epochs=4, model=model, optimizer=opt, progress=False)
    assert torch.nn.functional.cross_entropy(model(d.x_train), d.y_train).item() < loss0
    assert hist[-1]["test_acc"] > 0.85


def test_prune_folds_the_constants_of_neurons_no_input_reaches():
    g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    g.remove_edges(
        [e for e, d in zip(g.edge_attr("id").tolist(), g.edge_list()[1].tolist()) if d == 4]
    )
    g.set_neuron_attr("bias", [4], [0.8])  # neuron 4 now sends relu(0.8) to the outputs
    x = inputs_for(g)
    before = gn.interpret(g, x)
    rep = gn.prune(g, threshold=0.0)  # drops no edge, removes neuron 4
    assert rep.neurons_removed.tolist() == [4]
    assert torch.allclose(gn.interpret(g, x), before, atol=1e-6)


def test_insert_level_keeps_the_tags_and_birth_of_relayed_edges():
    g = gn.mlp([2, 2, 1], density=1.0, seed=0)
    g.step = 5
    g.set_edge_attr("born", [0, 1], [3, 4])
    g.tag("edge", "frozen", [0, 1], [True, False])
    gn.insert_level(g, 0)
    src, dst, _ = g.edge_list()
    relays = set(g.neuron_ids.tolist()) - {0, 1, 2, 3, 4}
    into_hidden = {
        int(e): (int(s), int(d))
        for e, s, d in zip(g.edge_attr("id"), src, dst)
        if int(s) in relays and int(d) in (2, 3)
    }
    tags = g.tags("edge", "frozen")
    assert sorted(tags.values()) == [False, True] and set(tags) <= set(into_hidden)
    born = dict(zip(g.edge_attr("id").tolist(), g.edge_attr("born").tolist()))
    assert sorted(born[e] for e in tags) == [3, 4]
