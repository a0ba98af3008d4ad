"""MaskedLinear, DeepFFN, DeepDAN: masks hold, learnable masks learn, pruning is a graph edit
that keeps what was learned."""

from __future__ import annotations

import networkx as nx
import pytest
import torch

import graphnet as gn


def test_masked_linear_keeps_masked_weights_out_and_converts():
    torch.manual_seed(0)
    layer = gn.MaskedLinear(10, 6, density=0.3, seed=1)
    opt = torch.optim.AdamW(layer.parameters(), lr=0.1, weight_decay=0.1)
    x = torch.randn(32, 10)
    for _ in range(5):
        opt.zero_grad()
        layer(x).square().mean().backward()
        opt.step()
    dense = torch.nn.functional.linear(x, layer.weight * layer.mask, layer.bias)
    assert torch.equal(layer(x), dense)
    g = gn.from_torch(layer)
    assert g.num_edges == int(layer.mask.sum()) == 18
    assert torch.allclose(gn.compile(g)(x), layer(x), atol=1e-6)


def test_learnable_mask_receives_gradients_and_changes():
    torch.manual_seed(0)
    layer = gn.MaskedLinear(8, 4, density=0.5, learnable_mask=True, seed=2)
    before = layer.mask.clone()
    opt = torch.optim.SGD(layer.parameters(), lr=1.0)
    x, y = torch.randn(64, 8), torch.randn(64, 4)
    layer(x).sub(y).square().mean().backward()
    assert layer.scores.grad is not None and layer.scores.grad.abs().sum() > 0
    for _ in range(20):
        opt.zero_grad()
        layer(x).sub(y).square().mean().backward()
        opt.step()
    assert not torch.equal(layer.mask, before)


def test_deep_ffn_trains_and_pruning_keeps_trained_weights():
    torch.manual_seed(0)
    net = gn.DeepFFN(12, 3, [16, 8], density=0.6, seed=3)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    x, y = torch.randn(64, 12), torch.randint(0, 3, (64,))
    lossf = torch.nn.CrossEntropyLoss()
    for _ in range(30):
        opt.zero_grad()
        lossf(net(x), y).backward()
        opt.step()
    edges = net.graph.num_edges
    net.sync()
    weights = dict(zip(net.graph.edge_attr("id").tolist(), net.graph.edge_attr("weight").tolist()))
    opt = net.prune(0.5, opt)
    g = net.graph
    g.check()
    assert g.num_edges == edges - round(0.5 * edges)
    assert g.log[-1].op == "remove_edges" and "magnitude prune" in g.log[-1].reason
    kept = g.edge_attr("weight")
    assert min(abs(w) for w in kept) >= max(
        abs(w) for e, w in weights.items() if e not in set(g.edge_attr("id").tolist())
    )
    # The pruned model is the graph, and it still trains with the carried optimizer.
    assert torch.allclose(net(x).double(), gn.interpret(g, x), atol=1e-5)
    before = lossf(net(x), y).item()
    for _ in range(10):
        opt.zero_grad()
        lossf(net(x), y).backward()
        opt.step()
    assert lossf(net(x), y).item() < before


def test_deep_dan_keeps_skip_connections():
    G = nx.gnp_random_graph(30, 0.3, seed=1, directed=True)
    G = nx.DiGraph((u, v) for u, v in G.edges if u < v)
    net = gn.DeepDAN(G, seed=0)
    g = net.graph
    assert g.num_edges == G.number_of_edges()
    x = torch.randn(5, len(g.inputs))
    assert torch.allclose(net(x).double(), gn.interpret(g, x), atol=1e-5)
    lv = g.neuron_attr("level")
    src, dst, _ = g.edge_list()
    assert (lv[dst] - lv[src] > 1).any()


def test_bad_arguments():
    with pytest.raises(gn.GraphError, match="density must lie in"):
        gn.MaskedLinear(3, 2, density=0.0)
    with pytest.raises(gn.GraphError, match="fraction must lie in"):
        gn.DeepFFN(3, 2, [4]).prune(1.5)
