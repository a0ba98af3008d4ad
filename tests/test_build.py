"""gn.mlp and gn.from_edges: exact edge counts, coverage, uniform sampling, documented rules."""

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import graphnet as gn


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=2, max_size=5),
    density=st.floats(1e-4, 1.0),
    seed=st.integers(0, 2**20),
)
def test_mlp_counts_and_coverage(sizes, density, seed):
    g = gn.mlp(sizes, density=density, seed=seed)
    g.check()
    src, dst, w = g.edge_list()
    level = g.neuron_attr("level")
    expect = sum(min(a * b, max(b, round(density * a * b))) for a, b in zip(sizes, sizes[1:]))
    assert src.size == expect
    assert np.all(level[dst] == level[src] + 1)  # MLP: consecutive levels only
    fed = np.bincount(dst, minlength=sum(sizes)) > 0
    assert fed[sizes[0] :].all()  # every hidden/output neuron has an input
    keys = dst.astype(np.int64) * sum(sizes) + src
    assert np.all(np.diff(keys) > 0)  # sorted by destination, then source; no duplicates
    fan_in = np.bincount(dst, minlength=sum(sizes))
    assert np.all(np.abs(w) <= 1 / np.sqrt(fan_in[dst]) + 1e-7)
    assert g.equals(gn.mlp(sizes, density=density, seed=seed))  # same seed, same graph


def test_mlp_samples_positions_uniformly():
    # over many seeds, each of the 20x20 positions is chosen equally often (chi-square)
    hits = np.zeros((20, 20))
    for seed in range(400):
        src, dst, _ = gn.mlp([20, 20], density=0.1, seed=seed).edge_list()
        hits[dst - 20, src] += 1
    # given the guaranteed one-per-row draw, positions stay exchangeable within each row
    _, p = stats.chisquare(hits.ravel())
    assert p > 1e-3
    assert abs(hits.sum() - 400 * 40) == 0


def test_mlp_dense_and_per_pair_density():
    g = gn.mlp([5, 4, 3], density=[1.0, 0.5], seed=3)
    assert g.summary().edges_per_pair == {(0, 1): 20, (1, 2): 6}
    assert gn.mlp([5, 4, 3], seed=1).num_edges == 32


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(sizes=[3]), r"at least two levels"),
        (dict(sizes=[3, 0, 2]), r"at least two levels of at least one neuron"),
        (dict(sizes=[3, 2], density=0.0), r"density must lie in \(0, 1\], got 0.0"),
        (dict(sizes=[3, 2], density=1.5), r"density must lie in \(0, 1\], got 1.5"),
        (dict(sizes=[3, 2, 2], density=[0.5]), r"1 densities given for 2 level pairs"),
        (dict(sizes=[3, 2], activation="nope"), r"unknown activation 'nope'"),
    ],
)
def test_mlp_bad_arguments(kwargs, message):
    with pytest.raises(gn.GraphError, match=message):
        gn.mlp(**kwargs)


def test_from_edges_rules_match_networkx():
    rng = np.random.default_rng(0)
    G = nx.gnp_random_graph(60, 0.08, seed=1, directed=True)
    G = nx.DiGraph([(u, v) for u, v in G.edges if u < v])
    G.add_nodes_from(range(60))
    src, dst = map(np.array, zip(*G.edges))
    w = rng.normal(size=src.size)
    g = gn.from_edges(src, dst, w, num_neurons=60)
    g.check()
    level = g.neuron_attr("level")
    depth = {}
    for n in nx.topological_sort(G):
        preds = list(G.predecessors(n))
        depth[n] = max((depth[p] + 1 for p in preds), default=0)
    ins = [n for n in G if G.in_degree(n) == 0]
    outs = [n for n in G if G.in_degree(n) > 0 and G.out_degree(n) == 0]
    assert g.inputs == sorted(ins) and g.outputs == sorted(outs)
    top = level[outs].max()
    for n in G:
        assert level[n] == (top if n in outs else depth[n])
    assert np.allclose(g.edge_list()[2], w.astype(np.float32))


def test_from_edges_missing_weights_are_seeded_and_scaled():
    src, dst = np.array([0, 1, 2, 0]), np.array([3, 3, 3, 4])
    a = gn.from_edges(src, dst, seed=1).edge_list()[2]
    b = gn.from_edges(src, dst, seed=1).edge_list()[2]
    c = gn.from_edges(src, dst, seed=2).edge_list()[2]
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.all(np.abs(a[:3]) <= 1 / np.sqrt(3)) and len(set(a.tolist())) == 4


def test_from_edges_bad_input():
    with pytest.raises(
        gn.GraphError,
        match=r"the graph has a cycle: (1 -> 2 -> 3 -> 1|2 -> 3 -> 1 -> 2|3 -> 1 -> 2 -> 3)",
    ):
        gn.from_edges([0, 1, 2, 3], [1, 2, 3, 1])
    with pytest.raises(gn.GraphError, match=r"edge 0->1 has weight nan"):
        gn.from_edges([0], [1], [np.nan])
    with pytest.raises(gn.GraphError, match=r"num_neurons=2 but the edges name neuron 4"):
        gn.from_edges([0], [4], num_neurons=2)
    with pytest.raises(gn.GraphError, match=r"duplicate edges are refused"):
        gn.from_edges([0, 0], [1, 1])
