"""Bad input to the I/O functions: every failure is a GraphError / GraphFileError whose message
names the problem, and a failed save leaves the previous file alone."""

from __future__ import annotations

import os
import re
import shutil
import stat

import h5py
import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.data import Data

import graphnet as gn


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """A saved graph whose edge datasets are big (~21,000 edges), and the graph itself."""
    g = gn.mlp([200, 200, 10], density=0.5, seed=0)
    path = tmp_path_factory.mktemp("big") / "big.h5"
    gn.save(g, path)
    return path, g


@pytest.fixture
def small_file(tmp_path):
    g = gn.mlp([4, 3, 2], density=0.5, seed=0)
    g.tag("neuron", "patch", [4], "p")
    path = tmp_path / "small.h5"
    gn.save(g, path)
    return path


# ------------------------------------------------------------------------------ load
def test_load_missing_file(tmp_path):
    path = tmp_path / "absent.h5"
    with pytest.raises(gn.GraphFileError, match=re.escape(f"{path}: no such file")):
        gn.load(path)


def test_load_text_file(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("this is not HDF5\n" * 50)
    with pytest.raises(gn.GraphFileError, match=re.escape(str(path)) + ".*unreadable or corrupt"):
        gn.load(path)


@pytest.mark.parametrize("keep", [0.5, 0.97, 0.02])
def test_load_truncated_file(tmp_path, big_file, keep):
    src, _ = big_file
    data = src.read_bytes()
    path = tmp_path / "cut.h5"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(gn.GraphFileError, match="unreadable or corrupt graph file.*truncated"):
        gn.load(path)


def test_load_catches_flipped_bytes_in_a_big_dataset(tmp_path, big_file):
    src, g = big_file
    assert gn.load(src).equals(g)
    with h5py.File(src, "r") as f:
        name = max((f"edges/{k}" for k in f["edges"]), key=lambda k: f[k].nbytes)
        ds = f[name]
        assert ds.fletcher32 and ds.size == g.num_edges
        assert ds.id.get_num_chunks() == 1
        chunk = ds.id.get_chunk_info(0)
        offset, size = chunk.byte_offset, chunk.size
    assert size > 100_000
    data = bytearray(src.read_bytes())
    mid = offset + size // 2
    for i in range(0, 64, 8):  # single-bit flips: Fletcher-32 always sees them
        data[mid + i] ^= 0x10
    path = tmp_path / "flipped.h5"
    path.write_bytes(bytes(data))
    with pytest.raises(gn.GraphFileError, match=re.escape(str(path)) + ".*corrupt"):
        gn.load(path)


def _edited_copy(src, dst, edit):
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return dst


def test_load_newer_version(tmp_path, small_file):
    path = _edited_copy(small_file, tmp_path / "v2.h5", lambda f: f.attrs.__setitem__("version", 2))
    with pytest.raises(
        gn.GraphFileError,
        match=r"format version 2 \(written by a newer graphnet\); this graphnet reads version 1",
    ):
        gn.load(path)


def test_load_unknown_old_version(tmp_path, small_file):
    path = _edited_copy(small_file, tmp_path / "v0.h5", lambda f: f.attrs.__setitem__("version", 0))
    with pytest.raises(gn.GraphFileError, match=r"format version 0; this graphnet reads version 1"):
        gn.load(path)


def test_load_missing_version(tmp_path, small_file):
    path = _edited_copy(small_file, tmp_path / "nov.h5", lambda f: f.attrs.__delitem__("version"))
    with pytest.raises(gn.GraphFileError, match="format version"):
        gn.load(path)


def test_load_wrong_format(tmp_path, small_file):
    path = _edited_copy(
        small_file, tmp_path / "other.h5", lambda f: f.attrs.__setitem__("format", "someone.else")
    )
    with pytest.raises(gn.GraphFileError, match="not a graphnet graph file.*someone.else"):
        gn.load(path)


def test_load_hdf5_that_is_not_a_graph(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(gn.GraphFileError, match="not a graphnet graph file"):
        gn.load(path)


@pytest.mark.parametrize("dataset", ["edges/weight", "neurons/level", "io/inputs"])
def test_load_missing_dataset(tmp_path, small_file, dataset):
    path = _edited_copy(small_file, tmp_path / "holes.h5", lambda f: f.__delitem__(dataset))
    leaf = dataset.rsplit("/", 1)[1]
    with pytest.raises(gn.GraphFileError, match=f"corrupt graph file.*{leaf}"):
        gn.load(path)


def test_load_dataset_of_wrong_length(tmp_path, small_file):
    def shorten(f):
        w = f["edges/weight"][()]
        del f["edges/weight"]
        f["edges/weight"] = w[:-1]

    path = _edited_copy(small_file, tmp_path / "short.h5", shorten)
    with pytest.raises(gn.GraphFileError, match=r"corrupt: edges/weight has shape"):
        gn.load(path)


def test_load_file_that_breaks_an_invariant(tmp_path, small_file):
    def backwards(f):  # every edge now runs downwards
        src, dst = f["edges/src"][()], f["edges/dst"][()]
        del f["edges/src"], f["edges/dst"]
        f["edges/src"], f["edges/dst"] = dst, src

    path = _edited_copy(small_file, tmp_path / "bad.h5", backwards)
    with pytest.raises(gn.GraphFileError, match="corrupt graph file: edge .*input"):
        gn.load(path)


# ------------------------------------------------------------------------------ save
def test_failed_save_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    old = gn.mlp([4, 3, 2], density=0.5, seed=0)
    path = tmp_path / "net.h5"
    gn.save(old, path)
    before = path.read_bytes()

    real = h5py.File.create_group

    def failing(self, name, *args, **kwargs):
        if name == "edges":
            raise OSError("disk full (simulated)")
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(h5py.File, "create_group", failing)
    new = gn.mlp([6, 5, 3], density=1.0, seed=1)
    with pytest.raises(OSError, match="disk full"):
        gn.save(new, path)
    monkeypatch.undo()

    assert os.listdir(tmp_path) == ["net.h5"]
    assert path.read_bytes() == before
    assert gn.load(path).equals(old)


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    real = h5py.File.create_group

    def failing(self, name, *args, **kwargs):
        if name == "edges":
            raise OSError("disk full (simulated)")
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(h5py.File, "create_group", failing)
    with pytest.raises(OSError, match="disk full"):
        gn.save(gn.mlp([2, 1], seed=0), tmp_path / "net.h5")
    assert os.listdir(tmp_path) == []


def test_save_into_a_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gn.save(gn.mlp([2, 1], seed=0), tmp_path / "no" / "net.h5")


# ------------------------------------------------------------------------ from_networkx
def test_from_networkx_undirected():
    with pytest.raises(gn.GraphError, match="needs a networkx DiGraph .*got Graph"):
        gn.from_networkx(nx.Graph([(0, 1)]))


def test_from_networkx_multidigraph():
    with pytest.raises(gn.GraphError, match="needs a networkx DiGraph .*got MultiDiGraph"):
        gn.from_networkx(nx.MultiDiGraph([(0, 1), (0, 1)]))


def test_from_networkx_not_a_graph():
    with pytest.raises(gn.GraphError, match="needs a networkx DiGraph"):
        gn.from_networkx([(0, 1)])


def test_from_networkx_cycle_is_named_by_labels():
    G = nx.DiGraph([("x", "a"), ("a", "b"), ("b", "c"), ("c", "a"), ("c", "y")])
    with pytest.raises(
        gn.GraphError, match="cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)$"
    ):
        gn.from_networkx(G)


def test_from_networkx_cycle_is_named_by_ids():
    G = nx.DiGraph([(5, 1), (1, 2), (2, 3), (3, 1)])
    with pytest.raises(
        gn.GraphError, match="cycle: (1 -> 2 -> 3 -> 1|2 -> 3 -> 1 -> 2|3 -> 1 -> 2 -> 3)$"
    ):
        gn.from_networkx(G)


def test_from_networkx_cycle_with_levels_given_is_named():
    G = nx.DiGraph([("a", "b"), ("b", "a")])
    for n in G:
        G.nodes[n]["level"] = 1
    with pytest.raises(gn.GraphError, match="cycle: (a -> b -> a|b -> a -> b)$"):
        gn.from_networkx(G)


def test_from_networkx_self_loop():
    with pytest.raises(gn.GraphError, match="cycle: q -> q"):
        gn.from_networkx(nx.DiGraph([("p", "q"), ("q", "q")]))


@pytest.mark.parametrize(
    "weights",
    [
        {("a", "b"): float("nan"), ("b", "c"): 1.0},
        {("a", "b"): float("nan")},  # others missing: still refused, not drawn
        {("a", "b"): float("nan"), ("b", "c"): float("nan")},
    ],
)
def test_from_networkx_nan_weight(weights):
    G = nx.DiGraph([("a", "b"), ("b", "c")])
    for (u, v), w in weights.items():
        G.edges[u, v]["weight"] = w
    with pytest.raises(gn.GraphError, match="edge 'a'->'b' has weight nan"):
        gn.from_networkx(G)


@pytest.mark.parametrize("bad", [float("inf"), "heavy", [0.5], None])
def test_from_networkx_weight_that_is_not_a_finite_number(bad):
    G = nx.DiGraph([(0, 1), (1, 2)])
    G.edges[0, 1]["weight"] = 1.0
    G.edges[1, 2]["weight"] = bad
    with pytest.raises(gn.GraphError, match=f"edge 1->2 has weight {re.escape(repr(bad))}"):
        gn.from_networkx(G)


def test_from_networkx_non_scalar_node_attribute():
    G = nx.DiGraph([(0, 1)])
    G.nodes[1]["features"] = [1.0, 2.0]
    with pytest.raises(gn.GraphError, match="node 1 attribute 'features' is a list"):
        gn.from_networkx(G)


def test_from_networkx_non_scalar_edge_attribute():
    G = nx.DiGraph([(0, 1)])
    G.edges[0, 1]["history"] = {"w": 1}
    with pytest.raises(gn.GraphError, match="edge attribute 'history' is a dict"):
        gn.from_networkx(G)


@pytest.mark.parametrize(
    ("key", "value", "want"),
    [
        ("bias", [0.1], "a finite number"),
        ("bias", float("nan"), "a finite number"),  # was silently taken for a missing bias
        ("bias", "0.1", "a finite number"),
        ("level", 1.5, "an integer"),
        ("level", float("nan"), "an integer"),
        ("born", float("inf"), "an integer"),
    ],
)
def test_from_networkx_bad_numeric_node_attribute(key, value, want):
    G = nx.DiGraph([("x", "h"), ("h", "y")])
    G.nodes["h"][key] = value
    if key == "level":
        G.nodes["x"]["level"], G.nodes["y"]["level"] = 0, 2
    with pytest.raises(
        gn.GraphError, match=f"node 'h' has {key}={re.escape(repr(value))}; expected {want}"
    ):
        gn.from_networkx(G)


def test_from_networkx_level_on_some_nodes_only():
    G = nx.DiGraph([("x", "h"), ("h", "y")])
    G.nodes["x"]["level"] = 0
    G.nodes["y"]["level"] = 2
    with pytest.raises(gn.GraphError, match="node 'h' has no 'level' while others do"):
        gn.from_networkx(G)


def test_from_networkx_role_on_some_nodes_only():
    G = nx.DiGraph([("x", "h"), ("h", "y")])
    G.nodes["x"]["role"] = "input"
    with pytest.raises(gn.GraphError, match="node 'h' has no 'role' while others do"):
        gn.from_networkx(G)


def test_to_networkx_refuses_a_tag_named_like_an_attribute():
    g = gn.mlp([2, 2, 1], density=1.0, seed=0)
    g.tag("neuron", "bias", [2], 0.5)  # would overwrite the bias on the way back
    with pytest.raises(
        gn.GraphError, match="neuron tag 'bias' has the name of a networkx node attribute"
    ):
        gn.to_networkx(g)
    g = gn.mlp([2, 2, 1], density=1.0, seed=0)
    g.tag("edge", "weight", [0], 3)
    with pytest.raises(
        gn.GraphError, match="edge tag 'weight' has the name of a networkx edge attribute"
    ):
        gn.to_networkx(g)


# ---------------------------------------------------------------------------- from_pyg
@pytest.mark.parametrize(
    "edge_index",
    [
        torch.tensor([0, 1, 2]),
        torch.zeros(3, 2, dtype=torch.long),
        torch.zeros(2, 2, 2, dtype=torch.long),
    ],
)
def test_from_pyg_bad_edge_index_shape(edge_index):
    with pytest.raises(
        gn.GraphError,
        match=r"needs edge_index of shape \[2, E\], got " + re.escape(str(tuple(edge_index.shape))),
    ):
        gn.from_pyg(Data(edge_index=edge_index, num_nodes=3))


def test_from_pyg_without_edge_index():
    with pytest.raises(gn.GraphError, match=r"needs edge_index of shape \[2, E\], got None"):
        gn.from_pyg(Data(x=torch.ones(3, 1)))


@pytest.mark.parametrize(("edge_index", "node"), [([[0, 5], [1, 1]], 5), ([[0, -1], [1, 1]], -1)])
def test_from_pyg_index_out_of_range(edge_index, node):
    with pytest.raises(gn.GraphError, match=f"edge_index refers to node {node}, outside 0..2"):
        gn.from_pyg(Data(edge_index=torch.tensor(edge_index), num_nodes=3))


def test_from_pyg_float_edge_index():
    with pytest.raises(gn.GraphError, match="needs an integer edge_index, got dtype float32"):
        gn.from_pyg(Data(edge_index=torch.tensor([[0.0, 1.0], [1.0, 2.0]]), num_nodes=3))


def test_from_pyg_multi_column_edge_attr():
    ei = torch.tensor([[0, 1, 2], [2, 2, 3]])
    with pytest.raises(
        gn.GraphError, match=r"edge weight has shape \(3, 3\); expected \[3\] or \[3, 1\]"
    ):
        gn.from_pyg(Data(edge_index=ei, edge_attr=torch.ones(3, 3), num_nodes=4))


def test_from_pyg_nan_edge_weight():
    ei = torch.tensor([[0, 1], [2, 2]])
    with pytest.raises(gn.GraphError, match="edge 1->2 has weight nan"):
        gn.from_pyg(Data(edge_index=ei, edge_weight=torch.tensor([0.5, float("nan")]), num_nodes=3))


def test_from_pyg_cycle():
    with pytest.raises(gn.GraphError, match="cycle: (1 -> 2 -> 1|2 -> 1 -> 2)"):
        gn.from_pyg(Data(edge_index=torch.tensor([[0, 1, 2], [1, 2, 1]]), num_nodes=3))


# ---------------------------------------------------------------------------- GraphML
@pytest.mark.parametrize("value", ["a\x00b", "\x07", "\ud800"])
def test_write_graphml_refuses_text_xml_cannot_hold(tmp_path, value):
    g = gn.mlp([2, 1], density=1.0, seed=0)
    g.tag("neuron", "note", [2], value)
    path = tmp_path / "net.graphml"
    with pytest.raises(gn.GraphError, match=r"neuron 2 tag 'note' .*U\+[0-9A-F]{4}, which XML"):
        gn.write_graphml(g, path)
    assert os.listdir(tmp_path) == []


def test_save_gives_a_new_file_the_usual_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        gn.save(gn.mlp([2, 1], seed=0), tmp_path / "new.h5")
        gn.write_graphml(gn.mlp([2, 1], seed=0), tmp_path / "new.graphml")
    finally:
        os.umask(old)
    for name in ("new.h5", "new.graphml"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name


def test_save_over_a_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "net.h5"
    gn.save(gn.mlp([2, 1], seed=0), path)
    os.chmod(path, 0o604)
    gn.save(gn.mlp([3, 1], seed=0), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o604
    assert gn.load(path).num_neurons == 4
