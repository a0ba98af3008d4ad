"""Routing and rewiring: fan limits hold and shortfalls are reported; SET and RigL keep the
edge count; RigL grows exactly the top-|gradient| absent edges of a dense autograd reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import graphnet as gn

ACT = {"relu": torch.relu, "tanh": torch.tanh, "identity": lambda z: z}


def _graph():
    g = gn.mlp([5, 6, 6, 3], density=0.4, seed=4, activation="tanh")
    g.add_edges([0, 1], [12, 17], [0.3, -0.2])  # skips
    return g


def dense_absent_gradients(g, x, y, loss_fn):
    """Reference: one N x N weight matrix with every legal pair as a parameter (absent ones at
    0), plain autograd; returns {(src, dst): grad} over absent legal pairs."""
    n = g.next_neuron_id
    src, dst, w = g.edge_list()
    W = torch.zeros(n, n, dtype=torch.float64)
    W[torch.tensor(src), torch.tensor(dst)] = torch.tensor(w, dtype=torch.float64)
    W.requires_grad_(True)
    ids = g.neuron_ids
    level = g.neuron_attr("level", ids)
    h = torch.zeros(x.shape[0], n, dtype=torch.float64)
    h = h.index_copy(1, torch.tensor(g.inputs), x.double())
    for lv in sorted(set(level.tolist()) - {0}):
        idx = torch.tensor(ids[level == lv])
        bias = torch.tensor([g.neuron(int(i))["bias"] for i in idx], dtype=torch.float64)
        z = h @ W[:, idx] + bias
        out = torch.stack(
            [ACT[g.neuron(int(i))["activation"]](z[:, j]) for j, i in enumerate(idx)], 1
        )
        h = h.index_copy(1, idx, out)
    loss = loss_fn(h[:, torch.tensor(g.outputs)], y)
    (grad,) = torch.autograd.grad(loss, W)
    role = g.neuron_attr("role", ids)
    lv_of = dict(zip(ids.tolist(), level.tolist()))
    out = {}
    for s in ids[role != 2].tolist():
        for d in ids[role != 0].tolist():
            if lv_of[s] < lv_of[d] and not g.has_edge(s, d):
                out[(s, d)] = float(grad[s, d])
    return out


def test_edge_gradients_equal_the_dense_reference_and_rigl_grows_the_top_ones():
    g = _graph()
    torch.manual_seed(0)
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    loss_fn = torch.nn.CrossEntropyLoss()
    model = gn.compile(g, dtype=torch.float64)
    grads = gn.edge_gradients(g, model, (x, y), loss_fn, top_k=10**6)
    ref = dense_absent_gradients(g, x, y, loss_fn)
    got = {(int(s), int(d)): float(v) for s, d, v in zip(grads["src"], grads["dst"], grads["grad"])}
    assert set(got) == set(ref)  # every absent legal pair, nothing else
    for pair, v in ref.items():
        assert got[pair] == pytest.approx(v, abs=1e-10)
    # RigL: drop the weakest k, grow exactly the k absent pairs with the largest |gradient|.
    k = 6
    ranked = sorted(ref, key=lambda p: -abs(ref[p]))
    assert abs(ref[ranked[k - 1]]) > abs(ref[ranked[k]])  # no tie at the cut
    n = g.num_edges
    frac = k / n
    rep = gn.rewire(g, "rigl", frac, grads=gn.edge_gradients(g, model, (x, y), loss_fn))
    g.check()
    assert g.num_edges == n and rep.edges_added.size == k
    src, dst, _ = g.edge_list()
    grown = {
        (int(s), int(d))
        for s, d in zip(src, dst)
        if int(g.edge_ids([s], [d])[0]) in set(rep.edges_added.tolist())
    }
    assert grown == set(ranked[:k])


def test_set_keeps_the_count_drops_the_weakest_and_grows_legal_edges():
    g = _graph()
    w = np.abs(g.edge_attr("weight"))
    weakest = set(g.edge_attr("id")[np.argsort(w, kind="stable")[:5]].tolist())
    n = g.num_edges
    rep = gn.rewire(g, "set", 5 / n, seed=3)
    g.check()
    assert g.num_edges == n
    assert set(rep.edges_removed.tolist()) == weakest
    assert rep.edges_added.size == 5 and np.all(g.edge_attr("weight")[-5:] == 0)
    again = _graph()
    gn.rewire(again, "set", 5 / n, seed=3)
    assert again.equals(g)  # seeded


def test_cosine_schedule_and_rewire_errors():
    assert gn.cosine_fraction(25, 100, 0.4) == pytest.approx(0.2 * (1 + np.cos(np.pi / 4)))
    g = _graph()
    with pytest.raises(gn.GraphError, match="method='rigl' needs grads"):
        gn.rewire(g, "rigl", 0.1)
    with pytest.raises(gn.GraphError, match="unknown method 'magic'"):
        gn.rewire(g, "magic", 0.1)


def test_route_respects_fan_limits_radius_and_reports_shortfalls():
    g = gn.mlp([4, 5, 5, 5, 2], density=0.2, seed=1)
    sources = [4, 5, 6]  # level 1
    targets = list(range(9, 19))  # levels 2 and 3
    rep = gn.route(g, sources, targets, fan_out=4, fan_in=1, radius=2, seed=0)
    g.check()
    src, dst, w = g.edge_list()
    new = np.isin(g.edge_attr("id"), rep.edges_added)
    assert np.all(w[new] == 0)
    lv = g.neuron_attr("level", dst[new]) - g.neuron_attr("level", src[new])
    assert np.all((lv >= 1) & (lv <= 2))
    assert np.bincount(dst[new]).max() <= 1  # fan-in
    assert np.bincount(src[new]).max() <= 4  # fan-out
    placed = {s: int((src[new] == s).sum()) for s in sources}
    short = {s: p for s, p, _ in rep.skipped}
    for s in sources:
        assert placed[s] == 4 or short[s] == placed[s]  # a shortfall is always reported
    assert sum(placed.values()) + sum(4 - p for p in short.values()) == 12
    # nearest levels first: with room for everyone, level-2 targets are used before level 3
    g2 = gn.mlp([4, 5, 5, 5, 2], density=0.2, seed=1)
    rep2 = gn.route(g2, [4], targets, fan_out=3, fan_in=5, radius=3)
    d2 = g2.edge_list()[1][np.isin(g2.edge_attr("id"), rep2.edges_added)]
    assert np.all(g2.neuron_attr("level", d2) == 2)
    with pytest.raises(gn.GraphError, match="fan_out must be a positive whole number"):
        gn.route(g2, [4], targets, fan_out=0)
