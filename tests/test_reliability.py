"""Regression tests for answers that were once silently wrong (issue 14): each case is now
a clear error that names the problem, and a refused call changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import graphnet as gn


# ---------------------------------------------------------------- a model of another graph
def test_sync_refuses_a_model_of_another_graph_and_leaves_the_weights():
    g = gn.mlp([5, 3, 2], density=1.0, seed=0)
    before = g.edge_list()[2].copy()
    other = gn.compile(gn.mlp([4, 3, 2], density=1.0, seed=1))
    with pytest.raises(gn.GraphError, match=r"sync: the model was compiled from another graph"):
        gn.sync(g, other)
    np.testing.assert_array_equal(g.edge_list()[2], before)


def test_recompile_refuses_a_model_of_another_graph_of_the_same_size():
    model = gn.compile(gn.mlp([4, 3, 2], density=0.5, seed=1))
    g = gn.mlp([4, 3, 2], density=0.5, seed=0)  # same neurons, other edges
    g.add_neuron(level=1)  # an edit: the log is longer than the model's mark
    with pytest.raises(gn.GraphError, match="recompile: the model was compiled from another graph"):
        gn.recompile(g, model)


def test_a_model_of_the_graph_still_recompiles_after_removals_and_matches_the_interpreter():
    g = gn.mlp([4, 6, 3], density=0.6, seed=2)
    model = gn.compile(g)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    x = torch.randn(16, 4)
    model(x).pow(2).sum().backward()
    opt.step()
    gn.sync(g, model)
    g.remove_edges(g.edge_attr("id")[:3])
    g.remove_neuron(int(g.neuron_ids[5]), cascade=True)
    g.add_edge(0, int(g.outputs[0]), weight=0.1)
    model, opt = gn.recompile(g, model, opt)
    assert torch.allclose(model(x).double(), gn.interpret(g, x), atol=1e-5)


def test_edge_endpoints_agree_with_the_graph_on_a_graph_with_skips():
    g = gn.mlp([3, 4, 4, 2], density=0.7, seed=3)
    g.add_edge(0, int(g.outputs[1]), weight=0.3)  # a skip over two levels
    g.add_edge(1, 10, weight=-0.2)
    eids, src, dst = gn.compile(g).edge_endpoints()
    order = np.argsort(eids)
    gs, gd, _ = g.edge_list()
    np.testing.assert_array_equal(eids[order], g.edge_attr("id"))
    np.testing.assert_array_equal(src[order], gs)
    np.testing.assert_array_equal(dst[order], gd)


def test_recompile_refuses_an_optimizer_of_another_model():
    g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    model = gn.compile(g)
    foreign = torch.optim.SGD(gn.compile(gn.mlp([3, 4, 2], seed=1)).parameters(), lr=0.1)
    for edited in (False, True):
        if edited:
            g.add_neuron(level=1)
        with pytest.raises(gn.GraphError, match="holds none of the model's parameters"):
            gn.recompile(g, model, foreign)


def test_recompile_refuses_a_string_for_the_optimizer():
    g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    with pytest.raises(gn.GraphError, match="optimizer must be a torch.optim.Optimizer"):
        gn.recompile(g, gn.compile(g), "adam")


# ---------------------------------------------------------------- inputs the model refuses
def test_predict_refuses_nan_rows_instead_of_calling_them_class_0(tmp_path):
    from graphnet.evolution.run_files import LoadedRun

    g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    prep = {"kind": "standardise", "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    run = LoadedRun(tmp_path, g, gn.compile(g).eval(), prep, None)
    assert run.predict([[0.1, 0.2, 0.3]]).shape == (1,)
    with pytest.raises(gn.GraphError, match=r"input row 1, feature 2 is nan"):
        run.predict([[0.1, 0.2, 0.3], [0.0, 0.0, float("nan")]])
    with pytest.raises(gn.GraphError, match="rows of numbers"):
        run.predict([["a", "b", "c"]])


def test_the_model_refuses_a_numpy_array_with_a_hint():
    model = gn.compile(gn.mlp([3, 2], seed=0))
    with pytest.raises(gn.GraphError, match=r"got numpy.ndarray \(convert it: torch.as_tensor"):
        model(np.zeros((2, 3), np.float32))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dtype": torch.int32}, "dtype must be a floating-point torch dtype"),
        ({"dtype": np.float32}, "dtype must be a floating-point torch dtype"),
        ({"device": "banana"}, "unknown device 'banana'"),
        ({"device": 3.5}, "device must be a name"),
    ],
)
def test_compile_refuses_a_bad_dtype_or_device(kwargs, message):
    with pytest.raises(gn.GraphError, match=message):
        gn.compile(gn.mlp([3, 2], seed=0), **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_compile_refuses_cuda_where_there_is_none():
    with pytest.raises(gn.GraphError, match="CUDA is not available here"):
        gn.compile(gn.mlp([3, 2], seed=0), device="cuda")


# ---------------------------------------------------------------- image files
def _npz(path, **over):
    arrays = {
        "x_train": np.zeros((4, 2, 2), np.uint8),
        "y_train": np.array([0, 1, 2, 3]),
        "x_test": np.zeros((2, 2, 2), np.uint8),
        "y_test": np.array([1, 0]),
    }
    arrays.update(over)
    np.savez(path, **arrays)
    return path


def test_float_labels_are_refused_unless_whole_numbers(tmp_path):
    from graphnet.train.image_files import read_image_set

    with pytest.raises(gn.GraphFileError, match=r"y_train\[0\] is 0.5, not a class number"):
        read_image_set(_npz(tmp_path / "half.npz", y_train=np.full(4, 0.5)))
    (_, y, _, _), _ = read_image_set(_npz(tmp_path / "whole.npz", y_train=np.arange(4.0)))
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2, 3]
    with pytest.raises(gn.GraphFileError, match="integer class labels"):
        read_image_set(_npz(tmp_path / "text.npz", y_test=np.array(["a", "b"])))


def test_an_empty_test_set_is_named(tmp_path):
    from graphnet.train.image_files import read_image_set

    empty = _npz(tmp_path / "e.npz", x_test=np.zeros((0, 2, 2), np.uint8), y_test=np.zeros(0))
    with pytest.raises(gn.GraphFileError, match="no test images"):
        read_image_set(empty)


def test_an_empty_idx_test_set_is_named(tmp_path):
    from graphnet.train.image_files import read_image_set

    def idx(name, dims, payload):
        head = bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
        (tmp_path / name).write_bytes(head + bytes(payload))

    idx("train-images-idx3-ubyte", (2, 2, 2), [0] * 8)
    idx("train-labels-idx1-ubyte", (2,), [0, 1])
    idx("t10k-images-idx3-ubyte", (0, 2, 2), [])
    idx("t10k-labels-idx1-ubyte", (0,), [])
    with pytest.raises(gn.GraphFileError, match="no test images"):
        read_image_set(tmp_path)


# ---------------------------------------------------------------- no silent coercion
@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: gn.from_edges([0.7, 1.2], [2.9, 2.5], [1.0, 1.0]), r"integer ids.*0\.7"),
        (lambda: gn.from_edges(["0", "1"], ["2", "2"], [1.0, 1.0]), "integer ids"),
        (lambda: gn.from_edges([True], [False], [1.0]), "integer ids"),
        (lambda: gn.from_edges([-1], [2], [1.0]), "negative neuron id -1"),
        (lambda: gn.from_edges([0], [2**40], [1.0]), "above the largest id"),
        (lambda: gn.from_edges([0], [1], [1.0], num_neurons="3"), "num_neurons must be an integer"),
        (lambda: gn.from_edges([0], [1], ["0.5"]), "weight must be numbers"),
        (lambda: gn.mlp([2.5, 2]), r"level width must be an integer, got 2\.5"),
        (lambda: gn.mlp([True, 2]), "level width must be an integer, got True"),
        (lambda: gn.mlp("32"), "sequence of level widths"),
        (lambda: gn.mlp([3, 2], density="0.5"), "density must be a number"),
        (lambda: gn.mlp([3, 2], density=float("nan")), r"density must lie in \(0, 1\]"),
        (lambda: gn.mlp([3, 2], seed="abc"), "seed must be an integer, got 'abc'"),
        (lambda: gn.mlp([3, 2], seed=-1), "seed must be 0 or more, got -1"),
    ],
)
def test_constructors_refuse_what_they_would_have_coerced(build, message):
    with pytest.raises(gn.GraphError, match=message):
        build()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda g: g.add_neuron(level="1"), "level must be numbers, got '1'"),
        (lambda g: g.add_neuron(level=True), "level must be numbers"),
        (lambda g: g.add_neuron(level=1, bias="0.1"), "bias must be numbers"),
        (lambda g: g.add_edge(0, 3, weight="0.5"), "weight must be numbers"),
        (lambda g: g.add_edge(0, 3, weight=None), r"weight must be numbers, got \[None\]"),
        (lambda g: g.set_edge_attr("weight", [0], ["1"]), "must be numbers"),
    ],
)
def test_edits_refuse_strings_booleans_and_none_and_leave_the_graph(edit, message):
    g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    before = g.copy()
    with pytest.raises(gn.GraphError, match=message):
        edit(g)
    assert g.equals(before) and len(g.log) == len(before.log)


@pytest.mark.parametrize(
    "section, message",
    [
        ({"network": {"hidden": [True]}}, r"network\.hidden\.0: .*integer, got True"),
        ({"network": {"hidden": ["64"]}}, r"network\.hidden\.0: .*integer, got '64'"),
        ({"network": {"density": "0.5"}}, r"network\.density: .*number, got '0\.5'"),
        ({"training": {"batch_size": 0}}, r"batch_size must be at least 1"),
        ({"training": {"batch_size": True}}, r"training\.batch_size"),
        ({"seed": 1.5}, r"seed: .*integer"),
    ],
)
def test_a_config_refuses_what_it_would_have_coerced(section, message):
    from graphnet.evolution.config import as_config

    with pytest.raises(gn.GraphError, match=message):
        as_config(section)


def test_edge_gradients_refuses_a_batch_with_nan():
    g = gn.mlp([3, 4, 2], density=0.5, seed=0)
    model = gn.compile(g)
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    ranked = gn.edge_gradients(g, model, (x, y), torch.nn.functional.cross_entropy)
    assert np.isfinite(ranked["grad"]).all() and ranked["grad"].size
    x[5, 1] = float("nan")
    with pytest.raises(gn.GraphError, match=r"edge_gradients: input row 5, feature 1 is nan"):
        gn.edge_gradients(g, model, (x, y), torch.nn.functional.cross_entropy)
