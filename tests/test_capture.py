"""Activation capture and extrema: streamed statistics equal a direct computation from a
neuron-by-neuron evaluation; constructed dead and saturated neurons are found."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from compile_strategies import compiler_graphs, inputs_for
from hypothesis import given, settings

import graphnet as gn
from analysis import capture, extrema
from compilers.interpret import activate_array


def all_values(g, x):
    """Every neuron's activation per sample, neuron by neuron (float64 reference)."""
    xs = x.double().numpy()
    value = dict(zip(g.inputs, xs.T))
    src, dst, w = g.edge_list()
    ids = g.neuron_ids
    for n in ids[np.argsort(g.neuron_attr("level", ids), kind="stable")].tolist():
        if n in value:
            continue
        info = g.neuron(n)
        z = np.full(xs.shape[0], info["bias"])
        for s, wt in zip(src[dst == n].tolist(), w[dst == n].tolist()):
            z = z + wt * value[s]
        value[n] = activate_array(info["activation"], z)
    return value


@settings(max_examples=25, deadline=None)
@given(compiler_graphs())
def test_streamed_statistics_equal_the_direct_ones(g):
    x = inputs_for(g, batch=50, seed=1)
    s = capture(g, gn.compile(g, dtype=torch.float64), x, batch_size=7)  # 8 uneven batches
    ref = all_values(g, x)
    assert s.count == 50
    for i, n in enumerate(s.neuron_ids.tolist()):
        v = ref[n]
        assert s.mean[i] == pytest.approx(v.mean(), abs=1e-9)
        assert s.std[i] == pytest.approx(v.std(), abs=1e-6)
        assert s.frac_zero[i] == pytest.approx(np.mean(v == 0))
        assert s.max[i] == pytest.approx(v.max(), abs=1e-9)


def test_extrema_finds_constructed_dead_and_saturated_neurons():
    g = gn.mlp([4, 6, 6, 2], density=1.0, seed=0, activation="tanh")
    g.set_neuron_attr("activation", [4, 5, 6], "relu")
    g.set_neuron_attr("bias", [4], [-50.0])  # relu never active: dead
    g.set_neuron_attr("bias", [5], [40.0])  # relu far above its level: saturated
    out5 = [e for e, s_ in zip(g.edge_attr("id").tolist(), g.edge_list()[0].tolist()) if s_ == 5]
    g.set_edge_attr("weight", out5, 0.0)  # ... without pinning the next level
    g.set_neuron_attr("bias", [10], [20.0])  # tanh pinned at +1: saturated
    g.set_neuron_attr("activation", [11], "sigmoid")
    g.set_neuron_attr("bias", [11], [-30.0])  # sigmoid pinned at 0: saturated
    model = gn.compile(g)
    x = inputs_for(g, batch=200)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, torch.zeros(200)), batch_size=32
    )
    e = extrema(g, model, loader)
    assert e.dead == {4}
    assert e.saturated == {5, 10, 11}
    assert e.stats.count == 200
    # thresholds are parameters: a stricter saturation margin finds fewer
    assert 10 in extrema(g, model, x, margin=0.001).saturated


def test_capture_refuses_a_stale_model_and_bad_batches():
    g = gn.mlp([3, 2], density=1.0, seed=0)
    model = gn.compile(g)
    with pytest.raises(gn.GraphError, match=r"batches must be \(batch, 3\)"):
        capture(g, model, torch.zeros(4, 5))
    with pytest.raises(gn.GraphError, match="NaN or infinite"):
        capture(g, model, torch.tensor([[0.0, float("nan"), 1.0]]))
    h = gn.mlp([3, 4, 2], density=1.0, seed=0)
    m = gn.compile(h)
    gn.clone_neuron(h, 3)
    with pytest.raises(gn.GraphError, match="recompile first"):
        capture(h, m, torch.zeros(2, 3))


def test_a_list_of_batches_is_read_whole_and_smooth_relus_can_be_dead():
    g = gn.mlp([3, 5, 2], density=1.0, seed=0)
    g.set_neuron_attr("activation", [3, 4, 5], ["softplus", "leaky_relu", "gelu"])
    g.set_neuron_attr("bias", [3], [-100.0])  # softplus: output ~1e-44, never really active
    model = gn.compile(g)
    batches = [inputs_for(g, batch=32, seed=s) for s in range(5)]
    assert capture(g, model, batches).count == 160
    e = extrema(g, model, batches)
    assert e.stats.count == 160 and 3 in e.dead
    # dead_fraction applies to every ReLU-like activation: a leaky_relu inactive in part of
    # the samples is dead below that fraction, alive at the default (never active)
    g.set_neuron_attr("bias", [4], [-0.3])
    model = gn.compile(g)
    x = inputs_for(g, batch=400)
    frac = extrema(g, model, x).stats.frac_inactive[list(model.slot_order.numpy()).index(4)]
    assert 0.05 < frac < 1.0
    assert 4 in extrema(g, model, x, dead_fraction=frac / 2).dead
    assert 4 not in extrema(g, model, x).dead
