"""Graphs that graphnet did not write: GraphML from other tools, PyG data (plain, and with bad
index tensors), and corrupt fields in HDF5 files."""

import json

import h5py
import networkx as nx
import numpy as np
import pytest
import torch
from graph_asserts import assert_same_graph
from torch_geometric.data import Data

import graphnet as gn


# ---------------------------------------------------------------------------- GraphML
def test_graphml_round_trip_keeps_ids_attributes_and_tags(tmp_path):
    g = gn.mlp([4, 5, 3], density=0.4, seed=2)
    g.remove_neuron(5, cascade=True)
    g.step = 17
    h = g.add_neuron(level=1, activation="tanh", bias=0.5)
    g.add_edges([0, h], [h, 10], [0.125, -2.0])
    g.tag("neuron", "patch", [h])
    g.tag("edge", "note", [1], "kept")
    g.tag("edge", "score", [2], 0.75)
    path = tmp_path / "net.graphml"
    gn.write_graphml(g, path)
    back = gn.read_graphml(path)
    assert back.equals(g), gn.core.describe.first_difference(g, back)
    assert back.step == 17 and back.next_neuron_id == g.next_neuron_id


def test_graphml_keeps_tags_whose_values_mix_types(tmp_path):
    # GraphML gives an attribute one type: True, 1 and 1.5 in one tag must still come back
    # as bool, int and float (a flaky failure of the round-trip property test found this).
    g = gn.mlp([3, 2], density=1.0, seed=0)
    g.tag("neuron", "t", [0], True)
    g.tag("neuron", "t", [1], 1)
    g.tag("neuron", "t", [2], 1.5)
    g.tag("edge", "u", [0, 1], ["x", 7])
    g.tag("edge", "text", [2, 3], ["a\rb", "\r\n"])  # XML reads a bare \r back as \n
    path = tmp_path / "mixed.graphml"
    gn.write_graphml(g, path)
    back = gn.read_graphml(path)
    assert back.equals(g)
    assert [type(v) for v in back.tags("neuron", "t").values()] == [bool, int, float]
    assert back.tags("edge", "text") == {2: "a\rb", 3: "\r\n"}


def test_read_graphml_from_another_tool(tmp_path):
    G = nx.DiGraph([("a", "h"), ("b", "h"), ("h", "out")])
    G.edges["a", "h"]["weight"] = 0.5
    path = tmp_path / "foreign.graphml"
    nx.write_graphml(G, path)
    g = gn.read_graphml(path)
    names = g.tags("neuron", "name")
    assert sorted(names.values()) == ["a", "b", "h", "out"]
    assert [names[i] for i in g.inputs] == ["a", "b"] and [names[i] for i in g.outputs] == ["out"]
    by_name = {v: k for k, v in names.items()}
    assert g.edge_list()[2][g.edge_ids([by_name["a"]], [by_name["h"]])[0]] == 0.5


def test_read_graphml_errors(tmp_path):
    with pytest.raises(gn.GraphFileError, match="no such file"):
        gn.read_graphml(tmp_path / "missing.graphml")
    bad = tmp_path / "bad.graphml"
    bad.write_text("<graphml><graph edgedefault='directed'><node")
    with pytest.raises(gn.GraphFileError, match="bad.graphml: not a readable GraphML file"):
        gn.read_graphml(bad)
    undirected = tmp_path / "u.graphml"
    nx.write_graphml(nx.Graph([(0, 1)]), undirected)
    with pytest.raises(gn.GraphError, match="undirected"):
        gn.read_graphml(undirected)


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


# ---------------------------------------------------------------------------- PyG
@pytest.mark.parametrize(
    "index, message",
    [
        (torch.tensor([5]), r"input_index refers to node 5, outside 0..2"),
        (torch.tensor([-1]), r"input_index refers to node -1"),
        (torch.tensor([0.0]), r"input_index must be a 1-d integer tensor"),
    ],
)
def test_from_pyg_bad_input_index(index, message):
    data = Data(edge_index=torch.tensor([[0, 1], [2, 2]]), num_nodes=3, input_index=index)
    with pytest.raises(gn.GraphError, match=message):
        gn.from_pyg(data)


def test_from_pyg_refuses_fractional_levels():
    data = Data(edge_index=torch.tensor([[0], [1]]), num_nodes=2, level=torch.tensor([0.0, 1.5]))
    with pytest.raises(gn.GraphError, match="level must be whole numbers"):
        gn.from_pyg(data)


# ---------------------------------------------------------------------------- HDF5 fields
def _saved(tmp_path):
    g = gn.mlp([3, 2], density=1.0, seed=0)
    g.tag("neuron", "patch", [3])
    g.add_edge(0, 4, 0.0) if not g.has_edge(0, 4) else g.set_edge_attr("weight", [0], [0.5])
    path = tmp_path / "g.h5"
    gn.save(g, path)
    return path


def _tamper_attr(obj, key, value):
    del obj.attrs[key]
    obj.attrs[key] = value


CORRUPT_FIELDS = [
    ("tags not a table", lambda f: _tamper_attr(f["tags"], "json", "[]"), "tags are not a"),
    (
        "tag value a dict",
        lambda f: _tamper_attr(f["tags"], "json", json.dumps({"neuron": {"p": [[3, {}]]}})),
        r"tag 'p' value \{\} is not a finite bool",
    ),
    (
        "log scalars not a table",
        lambda f: _tamper_attr(f["log/00000000"], "scalars", "[]"),
        "edit record 0 scalars are not a table",
    ),
    (
        "log record a dataset",
        lambda f: (f["log"].__delitem__("00000000"), f["log"].create_dataset("00000000", data=[1])),
        "edit record 0 is not a group",
    ),
    (
        "unknown log operation",
        lambda f: _tamper_attr(f["log/00000000"], "op", "explode"),
        "edit record 0 has unknown operation 'explode'",
    ),
    (
        "huge next_neuron_id",
        lambda f: _tamper_attr(f, "next_neuron_id", np.int64(1 << 40)),
        "next_neuron_id 1099511627776 exceeds",
    ),
    (
        "float edge sources",
        lambda f: (
            f["edges"].__delitem__("src"),
            f["edges"].create_dataset("src", data=np.arange(6, dtype=np.float64) * 0.5),
        ),
        "edges/src holds float64, expected int64",
    ),
    (
        "negative step",
        lambda f: _tamper_attr(f, "step", np.int64(-4)),
        "step is negative",
    ),
]


@pytest.mark.parametrize(
    "what, tamper, message", CORRUPT_FIELDS, ids=[c[0] for c in CORRUPT_FIELDS]
)
def test_load_names_a_corrupt_field(tmp_path, what, tamper, message):
    path = _saved(tmp_path)
    with h5py.File(path, "r+") as f:
        tamper(f)
    with pytest.raises(gn.GraphFileError, match=message) as err:
        gn.load(path)
    assert "g.h5" in str(err.value)
