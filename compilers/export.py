"""Export a compiled graph: a plain-tensor module (traceable) and ONNX."""

from __future__ import annotations

import os
import warnings

import torch
from torch import nn

from graphnet.core.errors import GraphError
from graphnet.core.vocab import ACTIVATIONS

from .activations import ACTIVATION_FUNCTIONS
from .module import CompiledGraph

__all__ = ["export_onnx", "traceable"]


class _Traceable(nn.Module):
    """The same function as a :class:`CompiledGraph`, written with dense per-level matrices and
    plain tensor operations only, so that tracers and exporters follow it."""

    def __init__(self, model: CompiledGraph) -> None:
        super().__init__()
        self.num_inputs = model.num_inputs
        self.blocks = []
        plans = model._plan()
        for k, p in enumerate(plans):
            w = torch.zeros(p.rows * max(p.width, 0), dtype=model.values.dtype)
            if p.kind != "empty":
                crow, col = p.crow.cpu(), p.col.cpu()
                rows = torch.repeat_interleave(torch.arange(p.rows), crow[1:] - crow[:-1])
                w[rows * p.width + col] = model.block_values(k).detach().cpu()
            self.register_buffer(f"w{k}", w.view(p.rows, p.width))
            self.register_buffer(f"b{k}", model.block_bias(k).detach().cpu().clone())
            groups = [
                (ACTIVATIONS[c], s if isinstance(s, slice) else s.cpu()) for c, s in p.activations
            ]
            self.blocks.append((p.start, p.end, p.lo, groups))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = [x]  # level outputs, batch-major, concatenated as needed
        width = [self.num_inputs]
        for k, (start, end, lo, groups) in enumerate(self.blocks):
            src = torch.cat(h, dim=1)[:, lo:start] if len(h) > 1 else h[0][:, lo:start]
            z = src @ getattr(self, f"w{k}").t() + getattr(self, f"b{k}")
            if groups:
                parts = [z]
                for name, sel in groups:
                    idx = torch.arange(end - start)[sel] if isinstance(sel, slice) else sel
                    parts[0] = parts[0].index_copy(
                        1, idx, ACTIVATION_FUNCTIONS[name](z.index_select(1, idx))
                    )
                z = parts[0]
            h.append(z)
            width.append(end - start)
        return h[-1]


def traceable(model: CompiledGraph) -> nn.Module:
    """A module computing what ``model`` computes with plain dense tensor operations (no custom
    autograd function, no sparse tensors): for tracing, ONNX and other exporters.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> g = gn.mlp([4, 6, 2], density=0.5, seed=0); e = g.add_edge(0, 10, 0.3)
    >>> model = gn.compile(g); x = torch.randn(3, 4)
    >>> torch.allclose(traceable(model)(x), model(x), atol=1e-6)
    True
    """
    if not isinstance(model, CompiledGraph):
        raise GraphError(f"traceable needs a module made by gn.compile, got {type(model).__name__}")
    return _Traceable(model).eval()


def export_onnx(model: CompiledGraph, path: str | os.PathLike, *, opset: int = 17) -> None:
    """Write ``model`` as an ONNX file (input ``x``: (batch, inputs); output ``y``), with a
    dynamic batch dimension. Needs the ``onnx`` package.

    Raises
    ------
    GraphError
        If onnx export is not available here.
    """
    tm = traceable(model)
    example = torch.zeros(
        2, model.num_inputs, dtype=tm.b0.dtype if model.num_blocks else torch.float32
    )
    try:
        with warnings.catch_warnings():
            # torch marks its TorchScript-based exporter deprecated; it needs no onnxscript
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                tm,
                (example,),
                str(path),
                input_names=["x"],
                output_names=["y"],
                dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
                opset_version=opset,
                dynamo=False,
            )
    except ImportError as err:
        raise GraphError(f"ONNX export needs the onnx package ({err}); pip install onnx") from err
