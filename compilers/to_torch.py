"""``gn.to_torch``: a layered graph back to a plain ``nn.Sequential``."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.vocab import ACTIVATIONS

from .layout import layout_of

__all__ = ["to_torch"]

_MODULE_OF = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "softplus": nn.Softplus,
    "leaky_relu": nn.LeakyReLU,
}


def to_torch(g: NeuronGraph, dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """A plain ``nn.Sequential`` of ``Linear`` layers and activations computing what ``g``
    computes, for a graph whose edges all join adjacent non-empty levels and whose levels each
    have one activation. Missing edges are zeros of the dense weights.

    Raises
    ------
    GraphError
        Naming the first skip edge or the level with mixed activations.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> g = gn.mlp([4, 8, 3], density=0.5, seed=0)
    >>> seq = gn.to_torch(g)
    >>> seq
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=3, bias=True)
    )
    >>> x = torch.randn(2, 4)
    >>> torch.allclose(seq(x), gn.compile(g)(x), atol=1e-6)
    True
    """
    lay = layout_of(g)
    layers: list[nn.Module] = []
    prev = (0, lay.num_inputs)
    for b in lay.blocks:
        if b.nnz and b.lo < prev[0]:
            col = int(np.argmin(b.col))
            row = int(np.searchsorted(b.crow, col, side="right") - 1)
            raise GraphError(
                f"edge {int(b.edge_ids[col])} ({int(lay.order[b.lo + b.col[col]])}->"
                f"{int(b.neuron_ids[row])}) skips a level; nn.Sequential holds layered MLPs only "
                "(use gn.compile for any graph)"
            )
        codes = g.neuron_attr("activation", b.neuron_ids)
        if np.any(codes != codes[0]):
            raise GraphError(
                f"level {b.level} mixes activations ({', '.join(sorted({ACTIVATIONS[c] for c in codes}))}); "
                "nn.Sequential needs one per level (use gn.compile for any graph)"
            )
        width = prev[1] - prev[0]
        linear = nn.Linear(width, b.rows, dtype=dtype)
        weight = np.zeros((b.rows, width))
        rows = b.row_of_values()
        weight[rows, b.col + b.lo - prev[0]] = b.weight
        with torch.no_grad():
            linear.weight.copy_(torch.as_tensor(weight))
            linear.bias.copy_(torch.as_tensor(b.bias))
        layers.append(linear)
        act = ACTIVATIONS[codes[0]]
        if act != "identity":
            layers.append(_MODULE_OF[act]())
        prev = (b.start, b.end)
    return nn.Sequential(*layers)
