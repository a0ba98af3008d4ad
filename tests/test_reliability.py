"""Regression tests for answers that were once silently wrong (issue 14): each case is now
a clear error that names the problem, and a refused call changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import graphnet as gn


# ---------------------------------------------------------------- a model of another graph
def test_sync_refuses_a_model_of_another_graph_and_leaves_the_weights():
    g = gn.mlp([5, 3, 2], density=1.0, seed=0)
    before = g.edge_list()[2].copy()
    other = gn.compile(gn.mlp([4, 3, 2], density=1.0, seed=1))
    with pytest.raises(gn.GraphError, match=r"sync: the model was compiled from another graph"):
        gn.sync(g, other)
    np.testing.assert_array_equal(g.edge_list()[2], before)


def test_recompile_refuses_a_model_of_another_graph_of_the_same_size():
    model = gn.compile(gn.mlp([4, 3, 2], density=0.5, seed=1))
    g = gn.mlp([4, 3, 2], density=0.5, seed=0)  # same neurons, other edges
    g.add_neuron(level=1)  # an edit: the log is longer than the model's mark
    with pytest.raises(gn.GraphError, match="recompile: the model was compiled from another graph"):
        gn.recompile(g, model)


def test_a_model_of_the_graph_still_recompiles_after_removals_and_matches_the_interpreter():
    g = gn.mlp([4, 6, 3], density=0.6, seed=2)
    model = gn.compile(g)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    x = torch.randn(16, 4)
    model(x).pow(2).sum().backward()
    opt.step()
    gn.sync(g, model)
    g.remove_edges(g.edge_attr("id")[:3])
    g.remove_neuron(int(g.neuron_ids[5]), cascade=True)
    g.add_edge(0, int(g.outputs[0]), weight=0.1)
    model, opt = gn.recompile(g, model, opt)
    assert torch.allclose(model(x).double(), gn.interpret(g, x), atol=1e-5)


def test_edge_endpoints_agree_with_the_graph_on_a_graph_with_skips():
    g = gn.mlp([3, 4, 4, 2], density=0.7, seed=3)
    g.add_edge(0, int(g.outputs[1]), weight=0.3)  # a skip over two levels
    g.add_edge(1, 10, weight=-0.2)
    eids, src, dst = gn.compile(g).edge_endpoints()
    order = np.argsort(eids)
    gs, gd, _ = g.edge_list()
    np.testing.assert_array_equal(eids[order], g.edge_attr("id"))
    np.testing.assert_array_equal(src[order], gs)
    np.testing.assert_array_equal(dst[order], gd)


def test_recompile_refuses_an_optimizer_of_another_model():
    g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    model = gn.compile(g)
    foreign = torch.optim.SGD(gn.compile(gn.mlp([3, 4, 2], seed=1)).parameters(), lr=0.1)
    for edited in (False, True):
        if edited:
            g.add_neuron(level=1)
        with pytest.raises(gn.GraphError, match="holds none of the model's parameters"):
            gn.recompile(g, model, foreign)


def test_recompile_refuses_a_string_for_the_optimizer():
    g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    with pytest.raises(gn.GraphError, match="optimizer must be a torch.optim.Optimizer"):
        gn.recompile(g, gn.compile(g), "adam")
