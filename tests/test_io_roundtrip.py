"""Round trips through networkx, PyTorch Geometric, HDF5 and GraphML: every graph comes back
equal, ids, order, tags and log included."""

from __future__ import annotations

import os
import random

import networkx as nx
import numpy as np
import pytest
from graph_asserts import assert_same_graph, assert_same_log, typed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import neuron_graphs

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
