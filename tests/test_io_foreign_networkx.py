"""Foreign networkx DAGs: layering by longest path, labels, roles, missing attributes."""

from __future__ import annotations

import math
import random

import networkx as nx
import numpy as np
import pytest
from graph_asserts import typed
from hypothesis import given, settings
from hypothesis import strategies as st

import graphnet as gn

PROPERTY = settings(max_examples=100, deadline=None)


# --------------------------------------------------------------------- foreign networkx DAGs
def expected_levels(G: nx.DiGraph) -> dict:
    """Longest-path depth from a source, by networkx; outputs (sinks with an in-edge) all on
    the top level."""
    depth = {}
    for v in nx.topological_sort(G):
        depth[v] = max((depth[u] + 1 for u in G.predecessors(v)), default=0)
    top = max(depth.values(), default=0)
    return {v: top if G.in_degree(v) and not G.out_degree(v) else d for v, d in depth.items()}


def random_dag(n: int, p: float, seed: int) -> nx.DiGraph:
    """nx.gnp_random_graph with every edge oriented from the lower to the higher node id."""
    U = nx.gnp_random_graph(n, p, seed=seed)
    G = nx.DiGraph()
    G.add_nodes_from(U.nodes)
    G.add_edges_from((min(u, v), max(u, v)) for u, v in U.edges)
    return G


def neuron_of(g: gn.NeuronGraph, G: nx.DiGraph) -> dict:
    """Map node label -> neuron id (labels are ids, or kept in the ``name`` tag)."""
    names = g.tags("neuron", "name")
    if not names:
        return {v: v for v in G.nodes}
    by_name = {name: n for n, name in names.items()}
    return {v: by_name[str(v)] for v in G.nodes}


@PROPERTY
@given(
    st.integers(1, 25),
    st.floats(0.0, 0.6),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["int", "shuffled", "str"]),
)
def test_foreign_dag_levels_are_longest_paths(n, p, seed, labels):
    G = random_dag(n, p, seed)
    if labels != "int":
        order = list(G.nodes)
        random.Random(seed).shuffle(order)
        relabel = {v: (f"n{v}" if labels == "str" else v) for v in order}
        H = nx.DiGraph()
        H.add_nodes_from(relabel[v] for v in order)  # nodes in shuffled order
        H.add_edges_from((relabel[u], relabel[v]) for u, v in G.edges)
        G = H
    g = gn.from_networkx(G, seed=seed)
    g.check()
    at = neuron_of(g, G)
    level = {v: int(g.neuron(at[v])["level"]) for v in G.nodes}
    assert level == expected_levels(G)
    for v in G.nodes:  # cross-check one definition with another
        anc = G.subgraph(nx.ancestors(G, v) | {v})
        if G.out_degree(v) or not G.in_degree(v):
            assert level[v] == nx.dag_longest_path_length(anc)
    for u, v in G.edges:
        assert level[u] < level[v]
    sources = [v for v in G.nodes if G.in_degree(v) == 0]
    sinks = [v for v in G.nodes if G.in_degree(v) and not G.out_degree(v)]
    assert g.inputs == sorted(at[v] for v in sources)
    assert g.outputs == sorted(at[v] for v in sinks)
    if sinks:
        assert {level[v] for v in sinks} == {g.num_levels - 1}
    assert g.num_edges == G.number_of_edges()


@PROPERTY
@given(st.integers(2, 30), st.floats(0.05, 0.8), st.integers(0, 2**32 - 1))
def test_levels_rise_along_every_edge_of_a_random_dag(n, p, seed):
    G = random_dag(n, p, seed)
    g = gn.from_networkx(G)
    g.check()
    level = g.neuron_attr("level", list(range(n)))
    src, dst, _ = g.edge_list()
    assert sorted(zip(src.tolist(), dst.tolist())) == sorted(G.edges)
    assert np.all(level[src] < level[dst])


def test_foreign_labels_are_kept_as_name_tag():
    G = nx.DiGraph()
    G.add_nodes_from(["x1", ("t", 2), 7.5, "x2", -3])
    G.add_edges_from([("x1", ("t", 2)), ("x2", ("t", 2)), (("t", 2), 7.5), ("x1", 7.5), (-3, 7.5)])
    g = gn.from_networkx(G)
    assert g.neuron_ids.tolist() == [0, 1, 2, 3, 4]  # ids in node order
    assert g.tags("neuron", "name") == {0: "x1", 1: "('t', 2)", 2: "7.5", 3: "x2", 4: "-3"}
    src, dst, _ = g.edge_list()
    assert sorted(zip(src.tolist(), dst.tolist())) == [(0, 1), (0, 2), (1, 2), (3, 1), (4, 2)]
    assert (g.inputs, g.outputs) == ([0, 3, 4], [2])


def test_foreign_int_labels_become_ids():
    G = nx.DiGraph([(10, 4), (4, 99), (10, 99)])
    g = gn.from_networkx(G)
    assert g.neuron_ids.tolist() == [4, 10, 99]
    assert g.tag_names("neuron") == []
    assert g.next_neuron_id == 100
    assert (g.inputs, g.outputs) == ([10], [99])


def test_isolated_nodes_become_inputs():
    G = nx.DiGraph([(0, 2), (1, 2), (2, 3)])
    G.add_nodes_from([5, 4])
    g = gn.from_networkx(G)
    assert g.inputs == [0, 1, 4, 5]
    for n in (4, 5):
        assert g.neuron(n)["role"] == "input"
        assert g.neuron(n)["level"] == 0
    assert g.outputs == [3]
    only = gn.from_networkx(nx.empty_graph(3, create_using=nx.DiGraph))
    assert only.inputs == [0, 1, 2]
    assert only.outputs == []


def _fan_in_dag() -> nx.DiGraph:
    # 100 sources feed hidden 100 (fan-in 100) and 101 (fan-in 4); both feed 102 (fan-in 2).
    G = nx.DiGraph()
    G.add_edges_from((i, 100) for i in range(100))
    G.add_edges_from((i, 101) for i in range(4))
    G.add_edges_from([(100, 102), (101, 102)])
    return G


def test_missing_weights_are_seeded_fan_in_scaled_and_not_constant():
    G = _fan_in_dag()
    w0 = gn.from_networkx(G, seed=0)
    w0_again = gn.from_networkx(G, seed=0)
    w1 = gn.from_networkx(G, seed=1)
    src, dst, w = w0.edge_list()
    assert np.array_equal(w, w0_again.edge_list()[2])
    assert not np.array_equal(w, w1.edge_list()[2])
    assert np.unique(w).size == w.size  # not a constant
    for node, fan_in in ((100, 100), (101, 4), (102, 2)):
        ws = w[dst == node]
        assert ws.size == fan_in
        bound = 1 / math.sqrt(fan_in)
        assert np.all(np.abs(ws) <= bound * (1 + 1e-6))
        if fan_in >= 4:
            assert np.abs(ws).max() > bound / 4  # scaled, not shrunk
    big = np.abs(w[dst == 100])
    assert big.max() < 0.2  # 1/sqrt(100) = 0.1
    assert np.any(w[dst == 100] < 0) and np.any(w[dst == 100] > 0)


def test_given_weights_are_kept_exactly():
    G = nx.DiGraph()
    G.add_edge("a", "b", weight=0.1)
    G.add_edge("b", "c", weight=-3e38)
    G.add_edge("a", "c", weight=np.float32(1e-40))
    g = gn.from_networkx(G, seed=5)
    src, dst, w = g.edge_list()
    assert dict(zip(zip(src.tolist(), dst.tolist()), w.tolist())) == {
        (0, 1): float(np.float32(0.1)),
        (1, 2): float(np.float32(-3e38)),
        (0, 2): float(np.float32(1e-40)),
    }


def test_foreign_activation_on_some_nodes_defaults_the_rest_by_role():
    G = nx.DiGraph([("x", "h"), ("h", "y"), ("x", "y")])
    G.nodes["h"]["activation"] = "tanh"
    g = gn.from_networkx(G)
    assert [g.neuron(n)["activation"] for n in (0, 1, 2)] == ["identity", "tanh", "identity"]
    G = nx.DiGraph([("x", "h"), ("h", "y"), ("h", "z")])
    G.nodes["y"]["activation"] = "sigmoid"
    g = gn.from_networkx(G)
    assert [g.neuron(n)["activation"] for n in (0, 1, 2, 3)] == [
        "identity",
        "relu",
        "sigmoid",
        "identity",
    ]


def test_foreign_edge_attributes_become_edge_tags_without_ids():
    G = nx.DiGraph()
    G.add_edge("a", "b", frozen=True)
    G.add_edge("b", "c", group="g1", frozen=False)
    G.add_edge("a", "c")
    g = gn.from_networkx(G)
    eid = {(int(s), int(d)): int(e) for s, d, e in zip(*g.edge_list()[:2], g.edge_attr("id"))}
    assert g.tags("edge", "frozen") == {eid[(0, 1)]: True, eid[(1, 2)]: False}
    assert g.tags("edge", "group") == {eid[(1, 2)]: "g1"}


def test_foreign_node_attributes_become_neuron_tags():
    G = nx.DiGraph([(0, 1)])
    G.nodes[0]["colour"] = "red"
    G.nodes[1]["colour"] = np.int64(3)
    g = gn.from_networkx(G)
    assert typed(g.tags("neuron", "colour")) == {0: ("str", "red"), 1: ("int", 3)}


# ---------------------------------------------------------------------------- networkx
def test_from_networkx_draws_only_the_missing_weights():
    G = nx.DiGraph([(0, 2), (1, 2), (0, 3), (1, 3), (2, 4), (3, 4)])
    G.edges[0, 2]["weight"] = 0.25
    G.edges[3, 4]["weight"] = -1.5
    g = gn.from_networkx(G, seed=3)
    w = dict(zip(zip(*(a.tolist() for a in g.edge_list()[:2])), g.edge_list()[2].tolist()))
    assert w[0, 2] == 0.25 and w[3, 4] == -1.5
    drawn = [w[k] for k in [(1, 2), (0, 3), (1, 3), (2, 4)]]
    assert np.all(np.isfinite(drawn)) and len(set(drawn)) == 4  # drawn, not a constant
    again = gn.from_networkx(G, seed=3)
    assert again.equals(g)
    other = gn.from_networkx(G, seed=4)
    assert not np.array_equal(other.edge_list()[2], g.edge_list()[2])
    g.check()


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("inputs", ["x", "nope"], r"G.graph\['inputs'\] lists 'nope', which is not a node"),
        ("outputs", "y", r"G.graph\['outputs'\] must be a list of node labels"),
    ],
)
def test_from_networkx_io_labels_that_are_not_nodes(key, value, message):
    G = nx.DiGraph([("x", "h"), ("h", "y")])
    G.graph[key] = value
    with pytest.raises(gn.GraphError, match=message):
        gn.from_networkx(G)


def test_from_networkx_unknown_integer_io_label():
    G = nx.DiGraph([(0, 1), (1, 2)])
    G.graph["inputs"] = [7]
    with pytest.raises(gn.GraphError, match="inputs lists unknown neuron 7"):
        gn.from_networkx(G)
