"""Round trips through networkx, PyTorch Geometric and HDF5, conversion of foreign graphs, and
GraphML export."""

from __future__ import annotations

import math
import os
import random

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import neuron_graphs
from torch_geometric.data import Data

import graphnet as gn
from graphnet.core.describe import first_difference

EXAMPLES = 100
PROPERTY = settings(max_examples=EXAMPLES, deadline=None)
# tmp_path is shared by the examples of one test: each example overwrites the same file, which
# exercises saving over an existing graph file.
PROPERTY_TMP = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


# ---------------------------------------------------------------------------------- helpers
def typed(table: dict) -> dict:
    """Tag table with the type of each value, so True and 1 (equal in Python) differ."""
    return {k: (type(v).__name__, v) for k, v in table.items()}


def assert_same_graph(g: gn.NeuronGraph, h: gn.NeuronGraph) -> None:
    assert h.equals(g), first_difference(g, h)
    h.check()
    assert h.neuron_ids.tolist() == g.neuron_ids.tolist()
    assert h.edge_attr("id").tolist() == g.edge_attr("id").tolist()
    assert h.inputs == g.inputs
    assert h.outputs == g.outputs
    assert (h.next_neuron_id, h.next_edge_id) == (g.next_neuron_id, g.next_edge_id)
    assert h.step == g.step
    for on in ("neuron", "edge"):
        assert h.tag_names(on) == g.tag_names(on)
        for name in g.tag_names(on):
            assert typed(h.tags(on, name)) == typed(g.tags(on, name)), (on, name)


def assert_same_log(log: gn.EditLog, got: gn.EditLog) -> None:
    assert len(got) == len(log)
    for i, (a, b) in enumerate(zip(log, got)):
        assert (b.op, b.step, b.reason) == (a.op, a.step, a.reason), i
        assert b.ids.dtype == np.int64
        assert b.ids.tolist() == a.ids.tolist(), (i, a.op)
        assert set(b.data) == set(a.data), (i, a.op)
        for key, val in a.data.items():
            other = b.data[key]
            if isinstance(val, np.ndarray) and val.dtype.kind != "U":
                assert isinstance(other, np.ndarray) and other.dtype == val.dtype, (i, a.op, key)
                assert np.array_equal(other, val), (i, a.op, key)
            else:
                norm = val.tolist() if isinstance(val, np.ndarray) else val
                back = other.tolist() if isinstance(other, np.ndarray) else other
                assert back == norm, (i, a.op, key)


def with_io_order(g: gn.NeuronGraph, rnd: random.Random) -> gn.NeuronGraph:
    """``g`` with its inputs and outputs in a shuffled tensor order (via networkx, which takes
    the order from the graph attributes)."""
    G = gn.to_networkx(g)
    for key in ("inputs", "outputs"):
        order = list(G.graph[key])
        rnd.shuffle(order)
        G.graph[key] = order
    return gn.from_networkx(G)


def _save_load(g: gn.NeuronGraph, path) -> gn.NeuronGraph:
    gn.save(g, path)
    return gn.load(path)


# ------------------------------------------------------------------------------ round trips
@PROPERTY
@given(neuron_graphs())
def test_networkx_round_trip(g):
    G = gn.to_networkx(g)
    assert sorted(G.nodes) == g.neuron_ids.tolist()
    assert G.number_of_edges() == g.num_edges
    h = gn.from_networkx(G)
    assert_same_graph(g, h)
    assert len(h.log) == 0


@PROPERTY
@given(neuron_graphs())
def test_pyg_round_trip(g):
    data = gn.to_pyg(g)
    ids = data.neuron_id.numpy()
    assert ids.tolist() == g.neuron_ids.tolist()
    src, dst, weight = g.edge_list()
    assert ids[data.edge_index.numpy()[0]].tolist() == src.tolist()
    assert ids[data.edge_index.numpy()[1]].tolist() == dst.tolist()
    assert np.array_equal(data.edge_attr.numpy()[:, 0], weight)
    assert ids[data.input_index.numpy()].tolist() == g.inputs
    assert ids[data.output_index.numpy()].tolist() == g.outputs
    h = gn.from_pyg(data)
    assert_same_graph(g, h)


@PROPERTY_TMP
@given(neuron_graphs())
def test_hdf5_round_trip(tmp_path, g):
    path = tmp_path / "graph.h5"
    h = _save_load(g, path)
    assert_same_graph(g, h)
    assert_same_log(g.log, h.log)
    # The strategy builds every graph from an empty one, so the loaded log replays to it.
    assert gn.replay(gn.NeuronGraph(), h.log).equals(g)
    assert sorted(os.listdir(tmp_path)) == ["graph.h5"]  # no temporary file left over


@PROPERTY_TMP
@given(neuron_graphs(), st.randoms(use_true_random=False))
def test_round_trips_keep_a_shuffled_io_order(tmp_path, g, rnd):
    h = with_io_order(g, rnd)
    assert sorted(h.inputs) == sorted(g.inputs) and sorted(h.outputs) == sorted(g.outputs)
    g = h
    assert_same_graph(g, gn.from_networkx(gn.to_networkx(g)))
    assert_same_graph(g, gn.from_pyg(gn.to_pyg(g)))
    assert_same_graph(g, _save_load(g, tmp_path / "graph.h5"))


def test_round_trips_keep_a_non_ascending_io_order(tmp_path):
    G = gn.to_networkx(gn.mlp([3, 4, 2], density=0.5, seed=2))
    G.graph["inputs"], G.graph["outputs"] = [2, 0, 1], [8, 7]
    g = gn.from_networkx(G)
    assert (g.inputs, g.outputs) == ([2, 0, 1], [8, 7])
    for h in (
        gn.from_networkx(gn.to_networkx(g)),
        gn.from_pyg(gn.to_pyg(g)),
        _save_load(g, tmp_path / "g.h5"),
    ):
        assert (h.inputs, h.outputs) == ([2, 0, 1], [8, 7])
        assert_same_graph(g, h)


@pytest.mark.parametrize("reason", ["\x00", "a\x00b", "\ud800", "line\nbreak", "é", ""])
def test_hdf5_keeps_any_edit_reason(tmp_path, reason):
    g = gn.mlp([2, 2, 1], density=1.0, seed=0)
    g.add_neuron(level=1, reason=reason)
    g.tag("edge", "note", [0], reason, reason=reason)
    h = _save_load(g, tmp_path / "g.h5")
    assert [r.reason for r in h.log] == [reason, reason]
    assert h.tags("edge", "note") == {0: reason}


def test_hdf5_keeps_tag_value_types(tmp_path):
    g = gn.mlp([3, 2], density=1.0, seed=0)
    g.tag("neuron", "t", [0, 1, 2, 3], [True, 1, "1", 0])
    g.tag("edge", "t", [0, 1], [False, 2**62])
    for h in (
        _save_load(g, tmp_path / "g.h5"),
        gn.from_pyg(gn.to_pyg(g)),
        gn.from_networkx(gn.to_networkx(g)),
    ):
        assert typed(h.tags("neuron", "t")) == {
            0: ("bool", True),
            1: ("int", 1),
            2: ("str", "1"),
            3: ("int", 0),
        }
        assert typed(h.tags("edge", "t")) == {0: ("bool", False), 1: ("int", 2**62)}


def test_removals_drop_emptied_tag_tables():
    g = gn.mlp([3, 3, 2], density=1.0, seed=0)
    g.tag("neuron", "patch", [3])
    g.remove_neurons([3], cascade=True)
    e = int(g.edge_attr("id")[0])
    g.tag("edge", "frozen", [e])
    g.remove_edges([e])
    assert g.tag_names("neuron") == []
    assert g.tag_names("edge") == []
    assert gn.from_networkx(gn.to_networkx(g)).equals(g)


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


# ---------------------------------------------------------------------- foreign PyG Data
def test_from_pyg_edge_index_only():
    ei = torch.tensor([[0, 1, 2, 0], [2, 2, 3, 3]])
    g = gn.from_pyg(Data(edge_index=ei, num_nodes=6), seed=3)
    ref = gn.from_edges([0, 1, 2, 0], [2, 2, 3, 3], num_neurons=6, seed=3)
    assert_same_graph(ref, g)
    assert g.inputs == [0, 1, 4, 5]  # isolated 4, 5 are inputs
    assert g.outputs == [3]
    assert g.neuron_attr("level").tolist() == [0, 0, 1, 2, 0, 0]
    w = g.edge_list()[2]
    assert np.unique(w).size == 4
    assert not np.array_equal(
        w, gn.from_pyg(Data(edge_index=ei, num_nodes=6), seed=4).edge_list()[2]
    )


@pytest.mark.filterwarnings("ignore:Unable to accurately infer 'num_nodes'")
def test_from_pyg_edge_index_only_infers_the_node_count():
    g = gn.from_pyg(Data(edge_index=torch.tensor([[0, 1], [2, 2]])))
    assert g.neuron_ids.tolist() == [0, 1, 2]
    assert (g.inputs, g.outputs) == ([0, 1], [2])


def test_from_pyg_edge_weight():
    ei = torch.tensor([[0, 1, 2], [2, 2, 3]])
    w = torch.tensor([0.5, -0.25, 3.0])
    g = gn.from_pyg(Data(edge_index=ei, edge_weight=w, num_nodes=4))
    assert g.edge_list()[2].tolist() == [0.5, -0.25, 3.0]
    assert g.edge_list()[0].tolist() == [0, 1, 2]
    assert g.edge_list()[1].tolist() == [2, 2, 3]


def test_from_pyg_one_column_edge_attr():
    ei = torch.tensor([[0, 1, 2], [2, 2, 3]])
    g = gn.from_pyg(
        Data(edge_index=ei, edge_attr=torch.tensor([[0.5], [-0.25], [3.0]]), num_nodes=4)
    )
    assert g.edge_list()[2].tolist() == [0.5, -0.25, 3.0]
    assert g.neuron_attr("level").tolist() == [0, 0, 1, 2]


# ------------------------------------------------------------------------------- GraphML
def xml_safe(g: gn.NeuronGraph) -> bool:
    import re

    bad = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
    for on in ("neuron", "edge"):
        for name in g.tag_names(on):
            for v in [name, *g.tags(on, name).values()]:
                if isinstance(v, str) and bad.search(v):
                    return False
    return True


@PROPERTY_TMP
@given(neuron_graphs())
def test_graphml_export_is_readable(tmp_path, g):
    path = tmp_path / "net.graphml"
    if path.exists():
        path.unlink()
    if not xml_safe(g):
        with pytest.raises(gn.GraphError, match="XML .*cannot store"):
            gn.write_graphml(g, path)
        assert os.listdir(tmp_path) == []
        return
    gn.write_graphml(g, path)
    G = nx.read_graphml(path)
    assert G.number_of_nodes() == g.num_neurons
    assert G.number_of_edges() == g.num_edges
    src, dst, w = g.edge_list()
    got = {(int(u), int(v)): d["weight"] for u, v, d in G.edges(data=True)}
    assert got == dict(zip(zip(src.tolist(), dst.tolist()), w.tolist()))
    assert G.graph["inputs"] == ",".join(map(str, g.inputs))
    assert G.graph["outputs"] == ",".join(map(str, g.outputs))
    assert os.listdir(tmp_path) == ["net.graphml"]
    back = gn.read_graphml(path)
    assert back.equals(g), first_difference(g, back)


def test_graphml_export_of_an_mlp():
    import tempfile

    g = gn.mlp([5, 4, 3], density=0.5, seed=1)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "net.graphml")
        gn.write_graphml(g, path)
        G = nx.read_graphml(path)
    assert G.number_of_edges() == g.num_edges
    src, dst, w = g.edge_list()
    for s, t, weight in zip(src.tolist(), dst.tolist(), w.tolist()):
        assert G.edges[str(s), str(t)]["weight"] == weight
        assert np.float32(G.edges[str(s), str(t)]["weight"]) == np.float32(weight)
