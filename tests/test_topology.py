"""Topology on the graph: neural persistence against gudhi, Betti numbers against networkx's
cycle rank, and the size guard."""

from __future__ import annotations

import gudhi
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphnet as gn
from analysis import betti_numbers, neural_persistence, persistence_diagram


def gudhi_neural_persistence(g, p=2.0):
    """Reference: per level pair, gudhi's zero-dimensional persistence of the edges filtered at
    1 - |w|/max|w| (so a death at f is a persistence of f = 1 - w)."""
    src, dst, w = g.edge_list()
    a = np.abs(w.astype(np.float64))
    a = a / a.max()
    level = g._neurons.view("level")
    out = {}
    for pair in sorted({(int(level[s]), int(level[d])) for s, d in zip(src, dst)}):
        sel = [(int(s), int(d), x) for s, d, x in zip(src, dst, a) if (level[s], level[d]) == pair]
        st_ = gudhi.SimplexTree()
        nodes = {v for s, d, _ in sel for v in (s, d)}
        for v in nodes:
            st_.insert([v], 0.0)
        for s, d, x in sel:
            st_.insert([s, d], 1.0 - x)
        st_.compute_persistence()
        deaths = [d for b, d in st_.persistence_intervals_in_dimension(0) if np.isfinite(d)]
        value = float(np.sum(np.asarray(deaths) ** p) ** (1 / p)) if deaths else 0.0
        out[pair] = value / (len(nodes) - 1) ** (1 / p)
    return out


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([1.0, 2.0, 3.0]))
def test_neural_persistence_equals_gudhi(seed, p):
    rng = np.random.default_rng(seed)
    sizes = [int(v) for v in rng.integers(2, 7, size=rng.integers(2, 5))]
    g = gn.mlp(sizes, density=float(rng.uniform(0.3, 1.0)), seed=seed)
    if rng.random() < 0.5 and len(sizes) > 2:
        g.add_edges([0], [g.outputs[0]], [float(rng.normal())])  # a skip: its own level pair
    got = neural_persistence(g, p=p)["pairs"]
    want = gudhi_neural_persistence(g, p=p)
    assert set(got) == set(want)
    for pair, v in want.items():
        assert got[pair] == pytest.approx(v, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6))
def test_betti_one_of_a_triangle_free_graph_is_its_cycle_rank(seed):
    rng = np.random.default_rng(seed)
    sizes = [int(v) for v in rng.integers(2, 6, size=rng.integers(2, 5))]
    g = gn.mlp(sizes, density=float(rng.uniform(0.2, 1.0)), seed=seed)  # layered: no triangles
    G = gn.to_networkx(g).to_undirected()
    assert sum(nx.triangles(G).values()) == 0
    b0, b1 = betti_numbers(g, max_dim=1)
    c = nx.number_connected_components(G)
    assert b0 == c
    assert b1 == G.number_of_edges() - G.number_of_nodes() + c


def test_triangles_fill_cycles_and_the_diagram_orders_by_strength():
    g = gn.NeuronGraph()
    a = g.add_neuron(role="input")
    b = g.add_neuron(level=1)
    c = g.add_neuron(role="output")
    g.add_edges([a, b, a], [b, c, c], [1.0, 0.5, 0.25])  # one triangle: no 1-cycle survives
    assert betti_numbers(g) == [1, 0]
    d = persistence_diagram(g)
    assert np.isinf(d[0][:, 1]).sum() == 1
    # the strongest edge (1.0) merges at 0 (a zero-length interval, which gudhi omits), the
    # next (0.5) at 1 - 0.5; the weakest closes a cycle that the triangle fills at once
    assert sorted(d[0][np.isfinite(d[0][:, 1]), 1]) == pytest.approx([0.5])
    assert d[1].shape[0] == 0


def test_size_guard_refuses_or_samples():
    g = gn.mlp([60, 60, 60], density=1.0, seed=0)
    with pytest.raises(
        gn.GraphError, match="holds 7,380 simplices .* past the bound max_simplices=1,000"
    ):
        persistence_diagram(g, max_simplices=1000)
    with pytest.warns(UserWarning, match="sampled the strongest edges"):
        d = persistence_diagram(g, max_simplices=5000, sample=True)
    assert np.isinf(d[0][:, 1]).sum() == 1  # still one component: the strongest edges span it


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6))
def test_triangle_count_of_the_size_guard_equals_networkx(seed):
    from analysis.topology import _triangles

    rng = np.random.default_rng(seed)
    G = nx.gnp_random_graph(25, float(rng.uniform(0.1, 0.6)), seed=seed)
    src, dst = (
        (np.array(a, dtype=np.int64) for a in zip(*G.edges))
        if G.number_of_edges()
        else (np.empty(0, np.int64),) * 2
    )
    assert _triangles(src, dst, 25) == sum(nx.triangles(G).values()) // 3


def test_infinity_norm_and_higher_dimension_guard():
    g = gn.mlp([4, 4, 3], density=1.0, seed=0)
    src, dst, w = g.edge_list()
    r = neural_persistence(g, p=float("inf"))
    a = np.abs(w) / np.abs(w).max()
    assert 0 < r["mean"] < 1 and r["mean"] <= 1 - a.min()
    # a complete DAG on 8 neurons: 8 + 28 + 56 = 92 simplices up to triangles, 70 tetrahedra more
    pairs = np.array([(i, j) for i in range(8) for j in range(i + 1, 8)]).T
    dense = gn.from_edges(pairs[0], pairs[1], np.linspace(0.1, 1, pairs.shape[1]))
    assert persistence_diagram(dense, max_dim=1, max_simplices=100)  # 92: within the bound
    with pytest.raises(gn.GraphError, match="up to dimension 3 holds 162 simplices"):
        persistence_diagram(dense, max_dim=2, max_simplices=100)
    with pytest.raises(gn.GraphError, match="neurons alone reach"):
        persistence_diagram(dense, max_simplices=8, sample=True)
