"""Where every neuron and edge of a graph goes in a compiled module.

Neurons get *slots*: columns of one activation buffer, level by level (inputs in tensor order
first, outputs in tensor order last, hidden neurons of a level grouped by activation so that
each activation is one contiguous slice). Level ``k`` is computed from the buffer columns
``[lo, start)`` — every lower level its edges come from — by one block whose rows are the
level's neurons. A block's edges are kept in CSR order (by row, then column); that order is
also the order of the block's parameter vector, so an edge's place is (block, position).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.vocab import ACTIVATIONS

__all__ = ["Layout", "BlockLayout", "layout_of"]


@dataclass
class BlockLayout:
    """One level's block: rows are slots ``[start, end)``, columns slots ``[lo, start)``."""

    level: int
    start: int
    end: int
    lo: int
    neuron_ids: np.ndarray  # (rows,) neuron id of each row
    crow: np.ndarray  # (rows + 1,) CSR row pointers
    col: np.ndarray  # (nnz,) column within [0, width)
    edge_ids: np.ndarray  # (nnz,) edge id of each value, CSR order
    lr: np.ndarray  # (nnz,) the edges' learning-rate multipliers, CSR order
    weight: np.ndarray  # (nnz,) the graph's weights, CSR order (float32, as stored)
    bias: np.ndarray  # (rows,) the graph's biases (float32, as stored)
    activations: list[tuple[int, slice | np.ndarray]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.end - self.start

    @property
    def width(self) -> int:
        return self.start - self.lo

    @property
    def nnz(self) -> int:
        return int(self.col.size)

    @property
    def density(self) -> float:
        """Fraction of the block's ``rows x width`` entries that are edges (1.0 when empty)."""
        cells = self.rows * self.width
        return self.nnz / cells if cells else 1.0

    def row_of_values(self) -> np.ndarray:
        """The row of each value, CSR order."""
        return np.repeat(np.arange(self.rows, dtype=np.int64), np.diff(self.crow))


@dataclass
class Layout:
    """Slots of every live neuron and the blocks of every non-input level."""

    slot_of: np.ndarray  # (next_neuron_id,) slot of each neuron id, -1 for removed ones
    order: np.ndarray  # (N,) neuron id of each slot
    num_inputs: int
    num_outputs: int
    blocks: list[BlockLayout]

    @property
    def num_slots(self) -> int:
        return int(self.order.size)


def _activation_groups(codes: np.ndarray) -> list[tuple[int, slice | np.ndarray]]:
    """Per activation present (identity skipped): a slice when its neurons are contiguous,
    else an index array."""
    if codes.size == 0:
        return []
    change = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [codes.size]))
    runs: dict[int, list[tuple[int, int]]] = {}
    for a, b in zip(starts.tolist(), ends.tolist()):
        runs.setdefault(int(codes[a]), []).append((a, b))
    out: list[tuple[int, slice | np.ndarray]] = []
    for code, spans in runs.items():
        if ACTIVATIONS[code] == "identity":
            continue
        if len(spans) == 1:
            out.append((code, slice(*spans[0])))
        else:
            out.append((code, np.flatnonzero(codes == code)))
    return out


def layout_of(g: NeuronGraph) -> Layout:
    """Compute the slots and blocks of ``g``; vectorised, one sort of the edges at most.

    Raises
    ------
    GraphError
        If the graph has no inputs or no outputs (a model needs both).

    Examples
    --------
    >>> import graphnet as gn
    >>> lay = layout_of(gn.mlp([3, 4, 2], density=1.0, seed=0))
    >>> [(b.start, b.end, b.lo, b.nnz) for b in lay.blocks]
    [(3, 7, 0, 12), (7, 9, 3, 8)]
    """
    if not g.inputs or not g.outputs:
        raise GraphError(
            f"a graph needs at least one input and one output neuron to compile "
            f"(it has {len(g.inputs)} inputs, {len(g.outputs)} outputs)"
        )
    ids = g.neuron_ids
    level = g.neuron_attr("level", ids)
    act = g.neuron_attr("activation", ids)
    role = g.neuron_attr("role", ids)
    hidden = role == 1
    h_ids = ids[hidden]
    h_order = np.lexsort((h_ids, act[hidden], level[hidden]))
    order = np.concatenate(
        (np.asarray(g.inputs, np.int64), h_ids[h_order], np.asarray(g.outputs, np.int64))
    )
    slot_of = np.full(g.next_neuron_id, -1, np.int64)
    slot_of[order] = np.arange(order.size, dtype=np.int64)
    lv_all = g._neurons.view("level")
    act_all = g._neurons.view("activation")
    bias_all = g._neurons.view("bias")
    slot_level = lv_all[order]
    # Level boundaries in slot order (levels rise along the slots).
    cut = np.flatnonzero(slot_level[1:] != slot_level[:-1]) + 1
    starts = np.concatenate(([0], cut)).tolist()
    ends = np.concatenate((cut, [order.size])).tolist()

    src, dst, w = g.edge_list()
    eid = g.edge_attr("id")
    lr = g.edge_attr("lr")
    n = order.size
    s_src, s_dst = slot_of[src], slot_of[dst]
    key = s_dst * n + s_src
    if key.size > 1 and np.any(key[1:] < key[:-1]):
        perm = np.argsort(key, kind="stable")
        s_src, s_dst, w, eid, lr = s_src[perm], s_dst[perm], w[perm], eid[perm], lr[perm]
    bounds = np.searchsorted(s_dst, np.asarray(starts[1:] + [n], np.int64))
    blocks = []
    for b, (start, end) in enumerate(zip(starts[1:], ends[1:]), start=1):
        a, z = int(bounds[b - 1]), int(bounds[b])
        cols = s_src[a:z]
        lo = int(cols.min()) if cols.size else start
        rows = s_dst[a:z] - start
        counts = np.bincount(rows, minlength=end - start)
        crow = np.zeros(end - start + 1, np.int64)
        np.cumsum(counts, out=crow[1:])
        neuron_ids = order[start:end]
        blocks.append(
            BlockLayout(
                level=int(slot_level[start]),
                start=start,
                end=end,
                lo=lo,
                neuron_ids=neuron_ids,
                crow=crow,
                col=cols - lo,
                edge_ids=eid[a:z],
                lr=lr[a:z],
                weight=w[a:z],
                bias=bias_all[neuron_ids],
                activations=_activation_groups(act_all[neuron_ids]),
            )
        )
    return Layout(slot_of, order, len(g.inputs), len(g.outputs), blocks)
