"""Graph metrics equal networkx called directly (or a brute-force count) on random graphs."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from compile_strategies import compiler_graphs
from hypothesis import given, settings

import graphnet as gn
from analysis import (
    centrality,
    clustering,
    degree_by_level,
    effective_size,
    io_path_lengths,
    motif_counts,
    off_path_neurons,
    spectral_radius,
)


def digraph(g):
    G = nx.DiGraph()
    G.add_nodes_from(g.neuron_ids.tolist())
    src, dst, w = g.edge_list()
    G.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), np.abs(w).tolist()))
    return G


@settings(max_examples=40, deadline=None)
@given(compiler_graphs())
def test_metrics_equal_networkx(g):
    G = digraph(g)
    for d in degree_by_level(g).values():
        assert d["in"].tolist() == [G.in_degree(n) for n in d["ids"].tolist()]
        assert d["out"].tolist() == [G.out_degree(n) for n in d["ids"].tolist()]
    paths = io_path_lengths(g)
    for o in g.outputs:
        lengths = [nx.shortest_path_length(G, i, o) for i in g.inputs if nx.has_path(G, i, o)]
        longest = [
            max(len(p) - 1 for p in nx.all_simple_paths(G, i, o)) if i != o else 0
            for i in g.inputs
            if nx.has_path(G, i, o)
        ]
        assert paths[o] == (
            (float(min(lengths)), float(max(longest))) if lengths else (np.inf, np.inf)
        )
    reach = set().union(*(nx.descendants(G, i) | {i} for i in g.inputs))
    back = set().union(*(nx.ancestors(G, o) | {o} for o in g.outputs))
    hidden = set(g.neuron_ids.tolist()) - set(g.inputs) - set(g.outputs)
    assert set(off_path_neurons(g).tolist()) == hidden - (reach & back)
    assert centrality(g)["values"] == pytest.approx(nx.betweenness_centrality(G))
    assert clustering(g) == pytest.approx(nx.clustering(G.to_undirected()))
    if np.any(g.edge_list()[2]):  # networkx divides by the largest weight
        want = nx.clustering(G.to_undirected(), weight="weight")
        assert clustering(g, weighted=True) == pytest.approx(want)
    else:
        assert set(clustering(g, weighted=True).values()) <= {0.0}


@settings(max_examples=40, deadline=None)
@given(compiler_graphs())
def test_motif_counts_equal_a_brute_force_count(g):
    G = digraph(g)
    nodes = list(G.nodes)
    chain = ffl = 0
    for a, b, c in itertools.permutations(nodes, 3):
        if G.has_edge(a, b) and G.has_edge(b, c):
            if G.has_edge(a, c):
                ffl += 1
            else:
                chain += 1
    fan_in = sum(d * (d - 1) // 2 for _, d in G.in_degree())
    fan_out = sum(d * (d - 1) // 2 for _, d in G.out_degree())
    assert motif_counts(g) == {
        "chain": chain,
        "fan_in": fan_in,
        "fan_out": fan_out,
        "feed_forward": ffl,
    }


def test_spectral_radius_small_and_large_agree_with_numpy():
    for sizes in ([3, 4, 2], [40, 60, 30]):  # exact path, then the scipy eigsh path
        g = gn.mlp(sizes, density=0.5, seed=1)
        A = nx.to_numpy_array(digraph(g).to_undirected(), weight="weight")
        assert spectral_radius(g) == pytest.approx(np.abs(np.linalg.eigvalsh(A)).max(), rel=1e-6)


def test_centrality_samples_past_the_bound_and_says_so():
    g = gn.mlp([30, 30, 5], density=0.3, seed=0)
    r = centrality(g, exact_up_to=10, samples=8)
    assert r["sampled"] and r["samples"] == 8 and len(r["values"]) == g.num_neurons


def test_effective_size():
    g = gn.mlp([4, 8, 2], density=1.0, seed=0)
    assert effective_size(g) == {"depth": 2.0, "width": pytest.approx((64 + 4) / 10)}


def test_analysis_functions_never_change_the_graph():
    import torch

    import analysis

    g = gn.mlp([6, 8, 4, 3], density=0.5, seed=2)
    g.add_edge(0, 18, 0.3)
    g.tag("neuron", "patch", [6])
    before, log_len = g.copy(), len(g.log)
    model = gn.compile(g)
    x, y = torch.randn(64, 6), torch.randint(0, 3, (64,))
    analysis.capture(g, model, x)
    analysis.extrema(g, model, x)
    analysis.information_flow(g, model, x, y)
    analysis.level_activations(g, model, x)
    for f in (
        degree_by_level,
        io_path_lengths,
        off_path_neurons,
        centrality,
        clustering,
        motif_counts,
    ):
        f(g)
    effective_size(g)
    spectral_radius(g)
    analysis.neural_persistence(g)
    analysis.persistence_diagram(g)
    analysis.betti_numbers(g)
    assert g.equals(before) and len(g.log) == log_len
