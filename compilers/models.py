"""Models for users of masked and DAG networks, each a thin layer over NeuronGraph + compile.

* :class:`MaskedLinear` — a linear layer with a fixed mask (a buffer), or a learnable one
  (real-valued scores, thresholded at zero in the forward, straight-through in the backward,
  so the scores receive gradients). :func:`graphnet.from_torch` turns it into a graph.
* :class:`DeepFFN` — a sparse feed-forward network: ``gn.mlp`` compiled.
* :class:`DeepDAN` — any networkx DAG (or NeuronGraph) as a network, skip connections kept.

``DeepFFN`` and ``DeepDAN`` keep their graph in ``.graph``; ``prune(fraction)`` removes the
smallest-magnitude edges from the graph (an edit, logged) and recompiles, trained weights and
optimizer state carried.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from graphnet.core.build import mlp
from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.io_networkx import from_networkx

from .compile_graph import compile
from .recompile import recompile
from .sync import sync

__all__ = ["MaskedLinear", "DeepFFN", "DeepDAN", "GraphModel"]


class MaskedLinear(nn.Module):
    """``y = x @ (weight * mask).T + bias``.

    ``density`` < 1 draws a random mask with exactly that fraction of ones (seeded). With
    ``learnable_mask=True`` the mask is ``scores > 0`` and ``scores`` (initialised so that the
    same fraction is positive) learn through a straight-through estimator.

    Examples
    --------
    >>> import torch
    >>> layer = MaskedLinear(8, 4, density=0.5, seed=0)
    >>> int(layer.mask.sum()), layer(torch.randn(2, 8)).shape
    (16, torch.Size([2, 4]))
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        density: float = 1.0,
        bias: bool = True,
        learnable_mask: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not 0.0 < density <= 1.0:
            raise GraphError(f"density must lie in (0, 1], got {density}")
        self.in_features, self.out_features = in_features, out_features
        gen = torch.Generator().manual_seed(seed)
        bound = 1.0 / np.sqrt(in_features)
        self.weight = nn.Parameter(
            (torch.rand(out_features, in_features, generator=gen) * 2 - 1) * bound
        )
        self.bias = (
            nn.Parameter((torch.rand(out_features, generator=gen) * 2 - 1) * bound)
            if bias
            else None
        )
        cells = out_features * in_features
        keep = torch.zeros(cells, dtype=torch.bool)
        keep[torch.randperm(cells, generator=gen)[: max(1, round(density * cells))]] = True
        keep = keep.view(out_features, in_features)
        self.learnable_mask = learnable_mask
        if learnable_mask:
            self.scores = nn.Parameter(torch.where(keep, 0.01, -0.01))
        else:
            self.register_buffer("fixed_mask", keep.float())

    @property
    def mask(self) -> torch.Tensor:
        """The current 0/1 mask (``scores > 0`` when learnable)."""
        if self.learnable_mask:
            return (self.scores > 0).to(self.weight.dtype)
        return self.fixed_mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.learnable_mask:
            hard = (self.scores > 0).to(self.weight.dtype)
            m = hard + self.scores - self.scores.detach()  # forward: hard; backward: identity
        else:
            m = self.fixed_mask
        return F.linear(x, self.weight * m, self.bias)


class GraphModel(nn.Module):
    """A NeuronGraph with its compiled module; the base of :class:`DeepFFN` and
    :class:`DeepDAN`. Inputs are flattened to ``(batch, features)``."""

    def __init__(self, graph: NeuronGraph, mode: str = "auto", **compile_kw: Any) -> None:
        super().__init__()
        self.graph = graph
        self.net = compile(graph, mode, **compile_kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(x.shape[0], -1))

    def sync(self) -> NeuronGraph:
        """Write the trained weights onto ``self.graph`` and return it."""
        sync(self.graph, self.net)
        return self.graph

    def prune(
        self, fraction: float, optimizer: torch.optim.Optimizer | None = None
    ) -> torch.optim.Optimizer | None:
        """Remove the ``fraction`` of edges with the smallest trained magnitude from the graph
        (one logged edit) and recompile; returns the optimizer, carried.

        Examples
        --------
        >>> net = DeepFFN(8, 2, [16], density=1.0, seed=0)
        >>> _ = net.prune(0.25); net.graph.num_edges
        120
        """
        if not 0.0 <= fraction <= 1.0:
            raise GraphError(f"fraction must lie in [0, 1], got {fraction}")
        self.sync()
        k = int(round(fraction * self.graph.num_edges))
        if k:
            w = np.abs(self.graph.edge_attr("weight"))
            drop = np.argpartition(w, k - 1)[:k]
            self.graph.remove_edges(
                self.graph.edge_attr("id")[drop], reason=f"magnitude prune {fraction:.3g}"
            )
        self.net, optimizer = recompile(self.graph, self.net, optimizer)
        return optimizer

    @property
    def density(self) -> float:
        """Edges over the edges a layered dense network of the same levels would have."""
        return self.graph.summary().density


class DeepFFN(GraphModel):
    """A feed-forward network of the given sizes at ``density`` (``gn.mlp`` compiled).

    Examples
    --------
    >>> import torch
    >>> net = DeepFFN(784, 10, [256, 128], density=0.05, seed=0)
    >>> net(torch.randn(4, 1, 28, 28)).shape
    torch.Size([4, 10])
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        hidden_sizes: list[int],
        *,
        density: float = 1.0,
        activation: str = "relu",
        seed: int = 0,
        mode: str = "auto",
        **compile_kw: Any,
    ) -> None:
        sizes = [int(input_size), *map(int, hidden_sizes), int(output_size)]
        super().__init__(mlp(sizes, density, seed=seed, activation=activation), mode, **compile_kw)


class DeepDAN(GraphModel):
    """A network over any DAG: a networkx ``DiGraph`` (layered by longest path, skip edges
    kept, see :func:`graphnet.from_networkx`) or a :class:`NeuronGraph`.

    Examples
    --------
    >>> import networkx as nx, torch
    >>> G = nx.DiGraph([(0, 2), (1, 2), (2, 3), (0, 3)])
    >>> DeepDAN(G)(torch.randn(5, 2)).shape
    torch.Size([5, 1])
    """

    def __init__(self, dag: Any, *, seed: int = 0, mode: str = "auto", **compile_kw: Any) -> None:
        graph = dag if isinstance(dag, NeuronGraph) else from_networkx(dag, seed=seed)
        super().__init__(graph, mode, **compile_kw)
