"""Hypothesis strategies for compiler tests: random layered DAGs with skip edges, empty
levels, isolated neurons, removed neurons and mixed activations."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import graphnet as gn

__all__ = ["compiler_graphs", "inputs_for"]


@st.composite
def compiler_graphs(
    draw,
    max_hidden_levels: int = 4,
    max_width: int = 6,
    one_activation_per_level: bool = False,
    activations: tuple[str, ...] = gn.ACTIVATIONS,
) -> gn.NeuronGraph:
    """A random graph that compiles: >= 1 input and >= 1 output, any skip structure; with
    ``one_activation_per_level`` every neuron of a level has the same activation, drawn from
    ``activations``."""
    g = gn.NeuronGraph()
    n_in = draw(st.integers(1, 5))
    n_levels = draw(st.integers(0, max_hidden_levels))
    widths = [draw(st.integers(0, max_width)) for _ in range(n_levels)]  # 0 = an empty level
    n_out = draw(st.integers(1, 4))
    acts = st.sampled_from(activations)

    def level_acts(w: int) -> list[str]:
        if one_activation_per_level:
            return [draw(acts)] * w
        return draw(st.lists(acts, min_size=w, max_size=w))

    small = st.floats(-1.0, 1.0, allow_nan=False, width=32)
    g.add_neurons(n_in, role="input")
    for lv, w in enumerate(widths, start=1):
        if w:
            g.add_neurons(
                w,
                level=lv,
                activation=level_acts(w),
                bias=draw(st.lists(small, min_size=w, max_size=w)),
            )
    g.add_neurons(
        n_out,
        role="output",
        level=n_levels + 1,
        activation=level_acts(n_out),
        bias=draw(st.lists(small, min_size=n_out, max_size=n_out)),
    )
    ids = g.neuron_ids
    level = g.neuron_attr("level", ids)
    role = g.neuron_attr("role", ids)
    i, j = np.meshgrid(np.arange(ids.size), np.arange(ids.size), indexing="ij")
    ok = (level[i] < level[j]) & (role[i] != 2) & (role[j] != 0)
    u, v = ids[i[ok]], ids[j[ok]]
    density = draw(st.sampled_from([0.0, 0.1, 0.3, 0.6, 1.0]))
    keep = draw(st.lists(st.floats(0, 1), min_size=u.size, max_size=u.size))
    sel = np.asarray(keep, dtype=float) < density if u.size else np.zeros(0, bool)
    if sel.any():
        n = int(sel.sum())
        g.add_edges(u[sel], v[sel], draw(st.lists(small, min_size=n, max_size=n)))
    hidden = ids[role == 1].tolist()
    if hidden and draw(st.booleans()):  # removed neurons leave id gaps
        g.remove_neuron(draw(st.sampled_from(hidden)), cascade=True)
    return g


def inputs_for(g: gn.NeuronGraph, batch: int = 7, seed: int = 0):
    """A float32 input batch in [-1, 1) for ``g``."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, len(g.inputs), generator=gen) * 2 - 1
