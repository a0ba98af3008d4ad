"""Text views of a graph: the per-level summary, and the first difference between two graphs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .vocab import ROLES

if TYPE_CHECKING:
    from .graph import NeuronGraph

__all__ = ["GraphSummary", "summarize", "first_difference"]


@dataclass(frozen=True)
class GraphSummary:
    """Neurons per level and, per pair of levels joined by edges, the edge count and density
    (edges divided by ``neurons[src level] * neurons[dst level]``).

    Examples
    --------
    >>> import graphnet as gn
    >>> s = gn.mlp([4, 3, 2], density=0.5, seed=0).summary()
    >>> s.neurons_per_level, s.edges_per_pair
    ({0: 4, 1: 3, 2: 2}, {(0, 1): 6, (1, 2): 3})
    """

    neurons_per_level: dict[int, int]
    edges_per_pair: dict[tuple[int, int], int]
    density_per_pair: dict[tuple[int, int], float]
    num_neurons: int
    num_edges: int
    num_inputs: int
    num_outputs: int

    @property
    def density(self) -> float:
        """Edges divided by the number of possible edges between distinct levels, low to high."""
        counts = np.array(list(self.neurons_per_level.values()), dtype=np.float64)
        possible = (counts.sum() ** 2 - (counts**2).sum()) / 2
        return self.num_edges / possible if possible else 0.0

    def __str__(self) -> str:
        lines = [
            f"NeuronGraph: {self.num_neurons} neurons ({self.num_inputs} inputs, "
            f"{self.num_outputs} outputs), {self.num_edges} edges, density {self.density:.4g}",
            "  level  neurons",
        ]
        lines += [f"  {lv:>5}  {cnt:>7}" for lv, cnt in self.neurons_per_level.items()]
        if self.edges_per_pair:
            lines.append("  levels      edges   density")
            for (a, b), cnt in self.edges_per_pair.items():
                lines.append(f"  {a:>2} -> {b:<2} {cnt:>9}   {self.density_per_pair[(a, b)]:.4g}")
        return "\n".join(lines)


def summarize(g: NeuronGraph) -> GraphSummary:
    """Compute :class:`GraphSummary` in O(V + E)."""
    ids = g.neuron_ids
    lv_all = g._neurons.view("level")
    levels, counts = np.unique(lv_all[ids], return_counts=True) if ids.size else ([], [])
    per_level = {int(a): int(c) for a, c in zip(levels, counts)}
    src, dst, _ = g.edge_list()
    pairs: dict[tuple[int, int], int] = {}
    if src.size:
        width = int(lv_all.max()) + 1
        code = lv_all[src] * width + lv_all[dst]
        cnt = np.bincount(code, minlength=width * width)
        for c in np.flatnonzero(cnt).tolist():
            pairs[(c // width, c % width)] = int(cnt[c])
    dens = {p: c / (per_level[p[0]] * per_level[p[1]]) for p, c in pairs.items()}
    return GraphSummary(
        per_level, pairs, dens, int(ids.size), int(src.size), len(g._inputs), len(g._outputs)
    )


def first_difference(a: NeuronGraph, b: NeuronGraph) -> str | None:
    """Describe the first way ``a`` and ``b`` differ (state only, not the log), or None."""
    ia, ib = a.neuron_ids, b.neuron_ids
    if not np.array_equal(ia, ib):
        return f"neuron ids differ: {np.setxor1d(ia, ib)[:5].tolist()}"
    if a.next_neuron_id != b.next_neuron_id or a.next_edge_id != b.next_edge_id:
        return (
            f"next ids differ: neurons {a.next_neuron_id} vs {b.next_neuron_id}, "
            f"edges {a.next_edge_id} vs {b.next_edge_id}"
        )
    for name in ("level", "role", "activation", "bias", "born"):
        x, y = a._neurons.view(name)[ia], b._neurons.view(name)[ib]
        if not np.array_equal(x, y):
            i = int(np.flatnonzero(x != y)[0])
            val = (lambda v: ROLES[v]) if name == "role" else (lambda v: v)
            return f"neuron {int(ia[i])} {name}: {val(x[i])} vs {val(y[i])}"
    for name in ("id", "src", "dst", "weight", "born", "lr"):
        x, y = a._edges.view(name), b._edges.view(name)
        if x.shape != y.shape:
            return f"edge count differs: {x.size} vs {y.size}"
        if not np.array_equal(x, y):
            i = int(np.flatnonzero(x != y)[0])
            return f"edge {int(a._edges.view('id')[i])} {name}: {x[i]} vs {y[i]}"
    if a._inputs != b._inputs or a._outputs != b._outputs:
        return "input or output order differs"
    for on in ("neuron", "edge"):
        if _typed(a._tags[on]) != _typed(b._tags[on]):
            return f"{on} tags differ"
    return None


def _typed(tables: dict) -> dict:
    """Tag tables with each value paired with its type, so that True, 1 and 1.0 differ."""
    return {k: {i: (type(v), v) for i, v in t.items()} for k, t in tables.items()}
