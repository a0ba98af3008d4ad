"""``gn.interpret``: the reference interpreter — slow, float64, obviously correct.

It shares nothing with the compiler: no slots, no blocks, no torch kernels. Neurons are visited
one at a time in topological order (by level), each summing its incoming edges in numpy, and
activations are written out from their definitions.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.vocab import ACTIVATIONS

__all__ = ["interpret", "activate_array"]

_erf = np.vectorize(math.erf, otypes=[np.float64])


def activate_array(name: str, z: np.ndarray) -> np.ndarray:
    """Activation ``name`` of :data:`graphnet.ACTIVATIONS` on a float64 array, written out
    from its definition (the reference the compiled kernels are tested against).

    Examples
    --------
    >>> activate_array("relu", np.array([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    if name == "identity":
        return z
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "gelu":
        return 0.5 * z * (1.0 + _erf(z / math.sqrt(2.0)))
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))
    if name == "softplus":
        return np.where(z > 20, z, np.log1p(np.exp(np.minimum(z, 20.0))))
    if name == "silu":
        return z / (1.0 + np.exp(-z))
    raise GraphError(f"the interpreter does not know activation {name!r}")


def interpret(g: NeuronGraph, x) -> torch.Tensor:
    """Evaluate ``g`` on ``x`` (batch x inputs) neuron by neuron, in float64.

    Same contract as a compiled model: returns a ``(batch, len(g.outputs))`` tensor.

    Raises
    ------
    GraphError
        If ``x`` does not have one column per input neuron.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    >>> x = torch.randn(5, 3)
    >>> torch.allclose(gn.interpret(g, x), gn.compile(g, dtype=torch.float64)(x.double()))
    True
    """
    xs = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    if xs.ndim != 2 or xs.shape[1] != len(g.inputs):
        raise GraphError(f"the graph takes (batch, {len(g.inputs)}) inputs, got {xs.shape}")
    value: dict[int, np.ndarray] = dict(zip(g.inputs, xs.T))
    src, dst, w = g.edge_list()
    incoming: dict[int, list[tuple[int, float]]] = {}
    for s, d, wt in zip(src.tolist(), dst.tolist(), w.tolist()):
        incoming.setdefault(d, []).append((s, wt))
    ids = g.neuron_ids
    level = g.neuron_attr("level", ids)
    for n in ids[np.argsort(level, kind="stable")].tolist():
        if n in value:
            continue
        info = g.neuron(n)
        z = np.full(xs.shape[0], info["bias"], dtype=np.float64)
        for s, wt in incoming.get(n, []):
            z = z + wt * value[s]
        value[n] = activate_array(info["activation"], z)
    out = np.stack([value[n] for n in g.outputs], axis=1) if g.outputs else np.zeros((len(xs), 0))
    return torch.from_numpy(out)


assert set(ACTIVATIONS) <= {
    "identity", "relu", "leaky_relu", "tanh", "sigmoid", "gelu", "elu", "softplus", "silu",
}  # fmt: skip
