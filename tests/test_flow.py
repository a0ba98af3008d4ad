"""Information flow to the labels and per-level gradient statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import graphnet as gn
from analysis import GradientMonitor, information_flow, level_activations
from graphnet.train import digits, fit_classifier


@pytest.fixture(scope="module")
def trained():
    d = digits()
    g = gn.mlp([64, 32, 10], density=0.5, seed=0)
    model, _, _ = fit_classifier(g, d, epochs=5, progress=False)
    gn.sync(g, model)
    return g, model, d


def test_level_activations_equal_the_interpreter(trained):
    g, model, d = trained
    acts = level_activations(g, model, d.x_test[:50])
    assert sorted(acts) == [0, 1, 2]
    out = gn.interpret(g, d.x_test[:50]).numpy()
    order = model.slot_order.numpy()
    top = order[g.neuron_attr("level", order) == 2]
    assert top.tolist() == g.outputs
    assert np.allclose(acts[2], out, atol=1e-5)


def test_information_reaches_the_labels_and_a_dead_level_is_a_bottleneck(trained):
    g, model, d = trained
    x, y = d.x_test, d.y_test
    flow = information_flow(g, model, x, y)
    assert flow["per_level"][2] > 0.5  # the best logit tells a lot about the digit (max log 10)
    assert flow["bottlenecks"] == []
    dead = g.copy()
    hidden = dead.neuron_ids[dead.neuron_attr("level") == 1]
    dead.set_neuron_attr("bias", hidden, -100.0)  # nothing passes level 1
    flow = information_flow(dead, gn.compile(dead), x, y)
    assert flow["per_level"][1] == 0.0
    assert 1 in flow["bottlenecks"]


def test_gradient_monitor_norms_variance_and_spikes():
    g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    model = gn.compile(g)
    mon = GradientMonitor(model, window=6)
    x = torch.randn(16, 3)
    for scale in (1, 1, 1, 1, 1, 10):  # a jump in the last steps: the variance spikes
        model.zero_grad()
        (scale * model(x).sum()).backward()
        norms = mon.record()
    grad_v, grad_b = model.values.grad, model.bias.grad
    first = float(torch.cat((grad_v[: 3 * 4], grad_b[:4])).norm())
    assert norms[1] == pytest.approx(first, rel=1e-6)
    assert set(mon.variance()) == {1, 2} and mon.variance()[1] > 0
    assert mon.spikes(0.5) == [1, 2]
    with pytest.raises(gn.GraphError, match="window must be"):
        GradientMonitor(model, window=1)


def test_information_between_levels_drops_at_a_dead_level(trained):
    g, model, d = trained
    x, y = d.x_test, d.y_test
    alive = information_flow(g, model, x, y)["between_levels"]
    dead = g.copy()
    hidden = dead.neuron_ids[dead.neuron_attr("level") == 1]
    dead.set_neuron_attr("bias", hidden, -100.0)
    cut = information_flow(dead, gn.compile(dead), x, y)["between_levels"]
    assert alive[(0, 1)] > 0.5 and cut[(0, 1)] == 0.0 and cut[(1, 2)] == 0.0


def test_gradient_monitor_follows_a_recompile_and_names_real_levels():
    g = gn.NeuronGraph()
    g.add_neurons(3, role="input")
    h = g.add_neurons(2, level=1)
    o = g.add_neurons(1, role="output", level=3)  # level 2 is empty
    g.add_edges([0, 1, 2, 3, 4], [3, 4, 3, o[0], o[0]], 0.5)
    model = gn.compile(g)
    mon = GradientMonitor(model, window=4)
    x = torch.randn(8, 3)
    model(x).sum().backward()
    assert sorted(mon.record()) == [1, 3]
    with pytest.raises(gn.GraphError, match="no new gradients since the last record"):
        mon.record()
    g.add_edge(0, h[1], 0.0)
    model, _ = gn.recompile(g, model)
    mon.rebind(model)
    model(x).sum().backward()
    assert sorted(mon.record()) == [1, 3] and len(mon.history) == 1
