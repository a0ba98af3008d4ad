"""Edge edits of a :class:`~graphnet.core.graph.NeuronGraph`: add, remove, set, and the
lookup index that finds an edge by its endpoints.

A mixin of the graph class; every method validates first, then edits, then logs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import validate
from .errors import GraphError
from .keyindex import KeyIndex, edge_keys
from .levels import descendants_mask, plan_lift
from .schema import EDGE_DTYPES, as_ids, as_values, find_sorted, forget_tags

if TYPE_CHECKING:
    from .columns import Columns

__all__ = ["EdgeEdits"]

_EDGE_SETTABLE = ("weight", "lr", "born")


class EdgeEdits:
    """Add, remove and set edges (mixed into ``NeuronGraph``)."""

    _neurons: Columns
    _edges: Columns
    _next_edge: int
    _index: KeyIndex | None
    step: int

    def add_edge(
        self,
        src: int,
        dst: int,
        weight: float = 0.0,
        *,
        lr: float = 1.0,
        lift: bool = False,
        reason: str = "",
    ) -> int:
        """Add one edge ``src->dst`` and return its id. See :meth:`add_edges`.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 2, 1], density=0.5, seed=0)
        >>> g.add_edge(0, 4, weight=0.0)    # a skip edge from an input to the output
        3
        """
        return int(self.add_edges([src], [dst], [weight], lr=lr, lift=lift, reason=reason)[0])

    def add_edges(
        self,
        src: Any,
        dst: Any,
        weight: Any = 0.0,
        *,
        lr: Any = 1.0,
        lift: bool = False,
        reason: str = "",
    ) -> np.ndarray:
        """Add edges ``src[i]->dst[i]`` in bulk; return their new ids.

        Duplicate edges are refused, not merged: an existing edge keeps its weight, which
        :meth:`set_edge_attr` changes. With ``lift=True`` an edge that does not rise lifts its
        destination and the destination's descendants (:meth:`lift`) instead of failing.

        Raises
        ------
        GraphError
            Naming the first edge that touches an unknown neuron, loops, ends at an input,
            starts at an output, does not rise, would close a cycle, already exists, or has a
            NaN or infinite weight.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 2, 1], density=1.0, seed=0)
        >>> g.add_edges([0, 1], [4, 4]).tolist()
        [6, 7]
        """
        src, dst = as_ids(src, "src"), as_ids(dst, "dst")
        k = src.size
        weight = as_values(weight, k, np.float32, "weight")
        lr = as_values(lr, k, np.float32, "lr")
        if dst.size != k:
            raise GraphError(f"src has {k} ids but dst has {dst.size}")
        validate.check_known(self, src, dst)
        keys = validate.check_new_edges(self, src, dst, weight, lr)
        if lift:
            self._lift_for(src, dst, reason)
        validate.check_rising(self, src, dst)
        first = len(self._edges)
        ids = np.arange(self._next_edge, self._next_edge + k, dtype=np.int64)
        self._edges.append(
            {"id": ids, "src": src, "dst": dst, "weight": weight, "born": self.step, "lr": lr}
        )
        self._next_edge += k
        if self._index is not None:
            self._index.insert(keys, np.arange(first, first + k, dtype=np.int64))
        self.log.append(
            "add_edges", self.step, reason, ids=ids, src=src, dst=dst, weight=weight, lr=lr
        )
        return ids

    def remove_edge(self, src: int, dst: int, *, reason: str = "") -> None:
        """Remove the edge ``src->dst``.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 1], density=1.0, seed=0)
        >>> g.remove_edge(0, 2); g.num_edges
        1
        """
        e = int(self.edge_ids(src, dst)[0])
        if e < 0:
            raise GraphError(f"there is no edge {src}->{dst}")
        self.remove_edges([e], reason=reason)

    def remove_edges(self, ids: Any, *, reason: str = "") -> None:
        """Remove edges by id, in bulk. Their ids are retired, never reused.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 1], density=1.0, seed=0)
        >>> g.remove_edges([0, 1]); g.num_edges
        0
        """
        ids = as_ids(ids, "edge ids")
        pos = self._edge_positions(ids)
        keep = np.ones(len(self._edges), bool)
        keep[pos] = False
        self._drop_edges(keep)
        self.log.append("remove_edges", self.step, reason, ids=ids)

    def set_edge_attr(self, name: str, ids: Any, values: Any, *, reason: str = "") -> None:
        """Set ``weight``, ``lr`` (learning-rate multiplier, >= 0) or ``born`` of edges by id.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 1], density=1.0, seed=0)
        >>> g.set_edge_attr("weight", [0, 1], [0.5, -0.5]); g.edge_list()[2].tolist()
        [0.5, -0.5]
        """
        if name not in _EDGE_SETTABLE:
            raise GraphError(
                f"edge attribute {name!r} cannot be set; settable: {', '.join(_EDGE_SETTABLE)}"
            )
        ids = as_ids(ids, "edge ids")
        pos = self._edge_positions(ids, unique=False)
        arr = as_values(values, ids.size, EDGE_DTYPES[name], name)
        src, dst = self._edges.view("src"), self._edges.view("dst")
        validate.check_finite(
            lambda i: validate.edge_name(int(src[pos[i]]), int(dst[pos[i]]), int(ids[i])),
            arr,
            name,
            nonneg=name != "weight",
        )
        self._edges.writable(name)[pos] = arr
        self.log.append("set_edge_attr", self.step, reason, ids=ids, name=name, values=arr)

    def _edge_positions(self, ids: np.ndarray, unique: bool = True) -> np.ndarray:
        pos, ok = find_sorted(self._edges.view("id"), ids)
        bad = np.flatnonzero(~ok)
        if bad.size:
            e = int(ids[bad[0]])
            raise GraphError(
                f"edge {e} was removed" if 0 <= e < self._next_edge else f"unknown edge {e}"
            )
        if unique and ids.size > 1:
            # Positions lie in [0, E): counting them is O(ids + E), cheaper than sorting ids.
            hits = np.bincount(pos, minlength=len(self._edges))
            if hits.max() > 1:
                twice = int(self._edges.view("id")[int(np.argmax(hits > 1))])
                raise GraphError(f"edge {twice} is given twice")
        return pos

    def _drop_edges(self, keep: np.ndarray) -> None:
        dropped = self._edges.view("id")[~keep]
        if self._index is not None:
            self._index.keep_rows(keep)
        self._edges.keep(keep)
        if dropped.size:
            forget_tags(self._tags["edge"], dropped)

    def _key_index(self) -> KeyIndex:
        if self._index is None:
            e = self._edges
            self._index = KeyIndex.build(edge_keys(e.view("src"), e.view("dst")))
        return self._index

    def _lift_for(self, src: np.ndarray, dst: np.ndarray, reason: str) -> None:
        """Lift the destinations of new edges that do not rise (all-or-nothing)."""
        n, e = self._neurons, self._edges
        level = n.view("level").copy()
        all_src = np.concatenate((e.view("src"), src))
        all_dst = np.concatenate((e.view("dst"), dst))
        plans = []
        for _ in range(10 * src.size + 100):
            bad = np.flatnonzero(level[src] >= level[dst])
            if not bad.size:
                break
            s, d = int(src[bad[0]]), int(dst[bad[0]])
            if descendants_mask(all_src, all_dst, level.size, np.array([d]))[s]:
                raise GraphError(
                    f"edge {s}->{d} would close a cycle: neuron {d} already reaches neuron {s}"
                )
            by = int(level[s] - level[d] + 1)
            level = plan_lift(
                level,
                n.view("role"),
                n.view("alive"),
                e.view("src"),
                e.view("dst"),
                np.array([d]),
                by,
            )
            plans.append((d, by))
        else:
            raise GraphError("lifting for the new edges did not settle (internal error)")
        for d, by in plans:
            self.lift([d], by, reason=reason)
