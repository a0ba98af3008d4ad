"""Export: the traceable form equals the compiled model; ONNX outputs equal PyTorch's
(checked with onnxruntime)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from compile_strategies import compiler_graphs, inputs_for
from hypothesis import given, settings

import graphnet as gn


@settings(max_examples=40, deadline=None)
@given(compiler_graphs())
def test_traceable_equals_the_compiled_model(g):
    model = gn.compile(g)
    x = inputs_for(g)
    assert torch.allclose(gn.traceable(model)(x), model(x), atol=1e-5)


def test_onnx_export_matches_pytorch(tmp_path):
    pytest.importorskip("onnx", reason="ONNX export needs the onnx package (dev extra)")
    ort = pytest.importorskip("onnxruntime", reason="checking ONNX outputs needs onnxruntime")
    g = gn.mlp([10, 12, 8, 3], density=0.4, seed=1)
    g.add_edges([0, 1], [22, 23], [0.5, -0.25])  # skips into the outputs
    g.set_neuron_attr("activation", [10, 11, 12], "tanh")
    g.set_neuron_attr("activation", [23], "sigmoid")
    model = gn.compile(g)
    with torch.no_grad():
        model.block_values(0).mul_(1.5)  # trained values, not the graph's, are exported
    path = tmp_path / "net.onnx"
    gn.export_onnx(model, path)
    session = ort.InferenceSession(str(path))
    for batch in (1, 7, 64):  # the batch dimension is dynamic
        x = inputs_for(g, batch=batch, seed=batch)
        (got,) = session.run(None, {"x": x.numpy()})
        np.testing.assert_allclose(got, model(x).detach().numpy(), atol=1e-5)
