"""``gn.add_patch``: a small dense network embedded between some sources and some targets."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphnet.core.assemble import init_weights
from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.levels import descendants_mask
from graphnet.core.schema import as_ids
from graphnet.core.vocab import INPUT, OUTPUT

from .common import check_activation, distinct, rng_for
from .report import GrowthReport

__all__ = ["add_patch"]


def add_patch(
    g: NeuronGraph,
    sources: Any,
    targets: Any,
    size: int,
    *,
    activation: str = "relu",
    seed: int = 0,
    reason: str = "",
) -> GrowthReport:
    """``size`` new neurons one level above the highest source, fed by every source (fan-in
    scaled random weights, seeded) and feeding every target with weight 0, so the network
    computes the same until they train. Targets that do not lie above the new level are lifted
    (with what they feed). The new neurons are tagged ``patch`` with the patch's id (its first
    neuron), so learning-rate rules can find them.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([4, 4, 2], density=1.0, seed=0)
    >>> rep = gn.add_patch(g, [0, 1], [4, 5], size=3)
    >>> rep.neurons_added.tolist(), sorted(g.tags("neuron", "patch").values())
    ([10, 11, 12], [10, 10, 10])
    """
    sources, targets = as_ids(sources, "sources"), as_ids(targets, "targets")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise GraphError(f"add_patch: size must be a positive whole number, got {size!r}")
    if sources.size == 0 or targets.size == 0:
        raise GraphError("add_patch: needs at least one source and one target")
    if np.any(g.neuron_attr("role", sources) == OUTPUT):
        raise GraphError("add_patch: outputs feed nothing and cannot be patch sources")
    if np.any(g.neuron_attr("role", targets) == INPUT):
        raise GraphError("add_patch: inputs take no edges and cannot be patch targets")
    distinct(sources, "add_patch sources")
    distinct(targets, "add_patch targets")
    check_activation(activation, "add_patch")
    rng = rng_for(seed, "add_patch")
    src, dst, _ = g.edge_list()
    reach = descendants_mask(src, dst, g.next_neuron_id, targets)
    if reach[sources].any():
        s = int(sources[reach[sources]][0])
        raise GraphError(
            f"add_patch: source {s} is fed by a target, so the patch would close a cycle"
        )
    why = reason or f"patch of {size} neurons"
    level = int(g.neuron_attr("level", sources).max()) + 1
    low = targets[g.neuron_attr("level", targets) <= level]
    lifted = np.empty(0, np.int64)
    hidden_low = low[g.neuron_attr("role", low) != OUTPUT]
    if hidden_low.size:
        lifted = g.lift(
            hidden_low, level + 1 - int(g.neuron_attr("level", hidden_low).min()), reason=why
        )
    top = g.num_levels - 1
    if level >= top:
        lifted = np.union1d(lifted, g.lift(g.outputs, level + 1 - top, reason=why))
    new = g.add_neurons(size, level=level, activation=activation, reason=why)
    w_in = init_weights(np.tile(np.arange(size), sources.size), size, rng)
    added = g.add_edges(
        np.concatenate((np.repeat(sources, size), np.repeat(new, targets.size))),
        np.concatenate((np.tile(new, sources.size), np.tile(targets, size))),
        np.concatenate((w_in, np.zeros(size * targets.size))),
        reason=why,
    )
    g.tag("neuron", "patch", new, int(new[0]), reason=why)
    return GrowthReport("add_patch", neurons_added=new, edges_added=added, lifted=lifted)
