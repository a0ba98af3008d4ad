"""``gn.compile``: a neuron graph to a PyTorch module."""

from __future__ import annotations

import torch

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph

from .devices import check_float_dtype, resolve_device
from .layout import layout_of
from .module import DENSE_THRESHOLD, MODES, CompiledGraph

__all__ = ["compile"]


def compile(  # noqa: A001 - the fixed public name
    g: NeuronGraph,
    mode: str = "auto",
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    threshold: float = DENSE_THRESHOLD,
) -> CompiledGraph:
    """Compile ``g`` into a module mapping ``(batch, len(g.inputs))`` to
    ``(batch, len(g.outputs))``.

    Neurons of one level are computed together from every lower level their edges come from
    (skip edges included) by one block per level. ``mode="dense"`` computes every block as a
    dense matrix (masked entries are not parameters, so they stay exactly zero under any
    optimizer); ``"sparse"`` as CSR; ``"auto"`` picks per block: dense at ``threshold``
    density or more. The module's weights start as the graph's; :func:`compilers.sync` writes
    trained ones back. An edge's ``lr`` attribute multiplies its gradient (so 0 freezes it
    under any optimizer, and 0.5 halves its SGD step).

    Raises
    ------
    GraphError
        If the mode is unknown, the dtype is not a floating-point one, the device is unknown
        or not available here, or the graph has no input or no output.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> g = gn.mlp([4, 8, 3], density=0.5, seed=0)
    >>> model = gn.compile(g)
    >>> model(torch.randn(5, 4)).shape
    torch.Size([5, 3])
    """
    if mode not in MODES:
        raise GraphError(f"unknown compile mode {mode!r}; expected one of {', '.join(MODES)}")
    if not 0.0 <= threshold <= 1.0:
        raise GraphError(f"threshold must lie in [0, 1], got {threshold}")
    if not isinstance(g, NeuronGraph):
        raise GraphError(f"compile needs a NeuronGraph, got {type(g).__name__}")
    dtype = check_float_dtype(dtype)
    device = resolve_device(device)
    model = CompiledGraph(layout_of(g), mode, dtype=dtype, device=device, threshold=threshold)
    model.log_mark = len(g.log)
    return model
