"""The part of a compiled graph its outputs depend on.

A hidden neuron from which no path leads to an output changes neither the outputs nor the
loss: its incoming edges always get a zero gradient. Sparse networks are full of such dead
ends (in a random 784-256-128-10 network at 1% density only about one hidden neuron in eight
reaches an output), and computing them costs as much as the rest. :func:`live_part` describes
the sub-network that matters: block plans over a compact buffer holding only the inputs that
are read and the neurons that reach an output, with index vectors that gather its weights,
biases and inputs from the full model's. Running those plans on the gathered tensors gives
the model's outputs, and (through autograd's gather) its gradients, with zeros for the dead
ends' edges and biases — what the full computation gives them, barring a NaN or infinity that
reaches only dead ends (the full computation turns their gradients into NaN).

Blocks keep their kind: a dense block becomes a smaller dense block over the live rows and
columns (or a full one when every entry left is an edge), run by the interpreter of
:mod:`compilers.level_stack`; all-CSR structures run as generated code.

Analysis that reads every neuron's activation runs the full plans instead
(:meth:`compilers.module.CompiledGraph.activations`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .level_stack import BlockPlan

__all__ = ["LivePart", "live_part", "MIN_DEAD"]

MIN_DEAD = 0.1
"""Dead ends are left out when they are at least this share of the neurons and edges (or
when more than a tenth of the inputs are never read); below it gathering the live part's
weights on every call costs more than it saves."""


@dataclass
class LivePart:
    """Plans over the compact buffer and where its tensors come from in the full model."""

    plans: list[BlockPlan]
    num_inputs: int  # inputs read (the compact buffer's first rows)
    num_slots: int
    inputs: torch.Tensor | None  # columns of x to read, None: all of them
    values: torch.Tensor  # positions in the model's values, compact CSR order
    bias: torch.Tensor  # positions in the model's bias, compact slot order
    dead_neurons: int  # hidden neurons left out
    dead_edges: int


def _live_slots(plans: list[BlockPlan], crows, cols, num_slots: int, num_outputs: int):
    """``(live, live_values)``: a boolean mask over slots, the outputs and every neuron with a
    path to one (inputs included when some live neuron reads them), and per block a mask over
    its values, those of live rows. One pass over the blocks, top down: a block's rows are
    final once every higher block has been seen, since edges only go up."""
    live = np.zeros(num_slots, bool)
    live[num_slots - num_outputs :] = True
    live_values = [None] * len(plans)
    for k in range(len(plans) - 1, -1, -1):
        p = plans[k]
        live_values[k] = np.repeat(live[p.start : p.end], np.diff(crows[k]))
        live[p.lo + cols[k][live_values[k]]] = True
    return live, live_values


def _compact_activations(acts, rows: np.ndarray, num_rows: int, device) -> list:
    """A block's activation selections restricted to its live ``rows`` (compact positions)."""
    position = np.full(num_rows, -1, np.int64)
    position[rows] = np.arange(rows.size)
    out = []
    for code, sel in acts:
        picked = np.arange(num_rows)[sel] if isinstance(sel, slice) else sel.cpu().numpy()
        kept = position[picked]
        kept = kept[kept >= 0]
        if kept.size == 0:
            continue
        if np.array_equal(kept, np.arange(kept[0], kept[0] + kept.size)):
            out.append((code, slice(int(kept[0]), int(kept[0] + kept.size))))
        else:
            out.append((code, torch.as_tensor(kept, device=device)))
    return out


def _compact_kind(kind: str, nnz: int, rows: int, width: int, crow, col):
    """The kind of a compacted block (a dense one stays dense, full when every entry is an
    edge) and, for a dense one, the flat position of each value in its rows x width matrix."""
    if nnz == 0:
        return "empty", None
    if kind in ("sparse", "empty"):
        return "sparse", None
    if nnz == rows * width:
        return "full", None
    return "dense", np.repeat(np.arange(rows), np.diff(crow)) * width + col


def live_part(
    plans: list[BlockPlan], num_inputs: int, num_slots: int, num_outputs: int
) -> LivePart | None:
    """The plans of the sub-network the outputs depend on, or None when leaving out the rest
    would not pay (less than :data:`MIN_DEAD` of it dead, nine in ten inputs read). Blocks
    keep their kind (a dense block stays dense, over the live rows and columns).

    Examples
    --------
    >>> import graphnet as gn
    >>> m = gn.compile(gn.mlp([64, 32, 32, 10], density=0.05, seed=0), "sparse")
    >>> part = live_part(m._plan(), m.num_inputs, m.num_slots, m.num_outputs)
    >>> part.num_slots < m.num_slots, part.dead_edges > 0
    (True, True)
    """
    if not plans:
        return None
    crows = [p.crow.cpu().numpy() for p in plans]
    cols = [p.col.cpu().numpy() for p in plans]
    live, live_values = _live_slots(plans, crows, cols, num_slots, num_outputs)
    inputs_read = int(live[:num_inputs].sum())
    gather_inputs = inputs_read < 0.9 * num_inputs  # else a plain transposed copy is cheaper
    dead_neurons = int((~live[num_inputs:]).sum())
    dead_edges = sum(int(np.count_nonzero(~mask)) for mask in live_values)
    hidden_and_edges = num_slots - num_inputs + plans[-1].v1
    if not gather_inputs and dead_neurons + dead_edges < MIN_DEAD * hidden_and_edges:
        return None  # gathering would cost more than the few dead ends
    keep = live.copy()
    if not gather_inputs:
        keep[:num_inputs] = True
    new = np.cumsum(keep) - 1  # compact slot of each kept slot
    device = plans[0].crow.device
    compact: list[BlockPlan] = []
    value_parts, bias_parts = [], []
    v = b = 0
    for p, crow, col, values_kept in zip(plans, crows, cols, live_values):
        rows = np.flatnonzero(live[p.start : p.end])
        if rows.size == 0:
            continue  # no neuron of this level reaches an output: nobody reads it
        start = int(new[p.start + rows[0]])
        where = np.flatnonzero(values_kept)  # values of live rows
        src = new[p.lo + col[where]]
        lo = int(src.min()) if src.size else start
        c_crow = np.zeros(rows.size + 1, np.int64)
        np.cumsum(np.diff(crow)[rows], out=c_crow[1:])
        nnz = int(where.size)
        kind, flat = _compact_kind(p.kind, nnz, rows.size, start - lo, c_crow, src - lo)
        index = dict(dtype=p.crow.dtype, device=device)  # the CSR kernels' index type
        has_edges = kind != "empty"
        compact.append(
            BlockPlan(
                start, start + rows.size, lo, kind,
                torch.as_tensor(flat, device=device) if flat is not None else None,
                torch.as_tensor(c_crow, **index) if has_edges else None,
                torch.as_tensor(src - lo, **index) if has_edges else None,
                _compact_activations(p.activations, rows, p.rows, device), p.needs_pre,
                v, v + nnz, b, b + rows.size,
            )
        )  # fmt: skip
        value_parts.append(p.v0 + where)
        bias_parts.append(p.b0 + rows)
        v, b = v + nnz, b + rows.size
    long = lambda parts: torch.as_tensor(np.concatenate(parts), dtype=torch.int64, device=device)  # noqa: E731
    return LivePart(
        plans=compact,
        num_inputs=int(keep[:num_inputs].sum()),
        num_slots=int(keep.sum()),
        inputs=long([np.flatnonzero(live[:num_inputs])]) if gather_inputs else None,
        values=long(value_parts),
        bias=long(bias_parts),
        dead_neurons=dead_neurons,
        dead_edges=dead_edges,
    )
