"""``gn.clone_neuron``: widen a level by a copy of a neuron, or add a vertical twin above it."""

from __future__ import annotations

import numpy as np

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.vocab import OUTPUT

from .common import finite32, hidden_neurons, incoming, outgoing, rng_for
from .report import GrowthReport

__all__ = ["clone_neuron"]


def clone_neuron(
    g: NeuronGraph,
    n: int,
    noise: float = 0.0,
    vertical: bool = False,
    scale: float = 1.0,
    *,
    seed: int = 0,
    reason: str = "",
) -> GrowthReport:
    """Clone hidden neuron ``n``; the network computes exactly what it computed before.

    * Side by side (``vertical=False``, Net2Net widening): the clone sits on ``n``'s level,
      copies its incoming weights, bias and activation, and each outgoing weight ``w`` of ``n``
      is split, ``r * w`` staying on ``n`` and ``(1 - r) * w`` going to the clone, with
      ``r = 1/2 + noise * N(0, 1)`` per edge (seeded). The two neurons compute the same value,
      so any split keeps the outputs; ``noise`` breaks the symmetry of their gradients.
    * Vertical (``vertical=True``, a redundant pathway for a saturated neuron): the clone sits
      one level above ``n``, takes ``n``'s sources with weights (and bias) times ``scale`` and
      feeds ``n``'s targets with weight 0; targets on that level (and what they feed) are lifted
      a level to make room.

    The clone is tagged ``clone_of = n``.

    Raises
    ------
    GraphError
        If ``n`` is an input or output, unknown, or ``noise``/``scale`` are not finite.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    >>> gn.clone_neuron(g, 3)
    GrowthReport(clone_neuron: +1 neurons, +5 edges)
    >>> g.tags("neuron", "clone_of")
    {9: 3}
    """
    (n,) = hidden_neurons(g, [n], "clone_neuron").tolist()
    for name, v in (("noise", noise), ("scale", scale)):
        if not np.isfinite(v):
            raise GraphError(f"clone_neuron: {name} must be finite, got {v}")
    why = reason or f"clone neuron {n}" + (" vertically" if vertical else "")
    info = g.neuron(n)
    _, srcs, w_in = incoming(g, n)
    out_ids, tgts, w_out = outgoing(g, n)
    if not vertical:
        rng = rng_for(seed, "clone_neuron")
        r = 0.5 + noise * rng.standard_normal(tgts.size)
        keep = finite32(r * w_out, "clone_neuron: a split outgoing weight")
        # float32 subtraction of a nearby value is exact, so keep + share == w exactly
        share = finite32(w_out.astype(np.float32) - keep, "clone_neuron: a split outgoing weight")
        c = g.add_neuron(
            level=info["level"], activation=info["activation"], bias=info["bias"], reason=why
        )
        edges = g.add_edges(
            np.concatenate((srcs, np.full(tgts.size, c))),
            np.concatenate((np.full(srcs.size, c), tgts)),
            np.concatenate((w_in, share)),
            reason=why,
        )
        if out_ids.size:
            g.set_edge_attr("weight", out_ids, keep, reason=why)
        g.tag("neuron", "clone_of", [c], n, reason=why)
        return GrowthReport("clone_neuron", neurons_added=np.array([c]), edges_added=edges)
    level = info["level"]
    with np.errstate(over="ignore", invalid="ignore"):
        w_scaled = finite32(w_in * scale, "clone_neuron: an incoming weight times scale")
    b_scaled = float(finite32([info["bias"] * scale], "clone_neuron: the bias times scale")[0])
    lifted = np.empty(0, np.int64)
    tgt_level = g.neuron_attr("level", tgts) if tgts.size else np.empty(0, np.int64)
    close = (
        tgts[(tgt_level == level + 1) & (g.neuron_attr("role", tgts) != OUTPUT)]
        if tgts.size
        else tgts
    )
    if close.size:
        lifted = g.lift(close, 1, reason=why)
    top = g.num_levels - 1
    if g.outputs and level + 1 >= top:
        lifted = np.union1d(lifted, g.lift(g.outputs, level + 2 - top, reason=why))
    c = g.add_neuron(level=level + 1, activation=info["activation"], bias=b_scaled, reason=why)
    edges = g.add_edges(
        np.concatenate((srcs, np.full(tgts.size, c))),
        np.concatenate((np.full(srcs.size, c), tgts)),
        np.concatenate((w_scaled, np.zeros(tgts.size, np.float32))),
        reason=why,
    )
    g.tag("neuron", "clone_of", [c], n, reason=why)
    return GrowthReport(
        "clone_neuron", neurons_added=np.array([c]), edges_added=edges, lifted=lifted
    )
