"""The edit log: one record per edit (operation, ids, step, reason), and replay.

Constructors (:func:`graphnet.mlp`, :func:`graphnet.from_edges`) return a graph with an empty
log: that graph is the starting point. :func:`graphnet.load` restores the log that was saved;
the networkx and PyG views carry no log. Every edit appends one :class:`EditRecord`. Replaying the records onto a copy of the
starting graph gives a graph equal to the edited one (:func:`replay`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import GraphError

if TYPE_CHECKING:
    from .graph import NeuronGraph

__all__ = ["EditRecord", "EditLog", "replay", "KNOWN_OPS"]


@dataclass(frozen=True)
class EditRecord:
    """One edit: what was done (``op``), to which ids and with which values (``data``), at
    which training ``step``, and why (``reason``).

    Examples
    --------
    >>> r = EditRecord("remove_edges", 3, "pruned", {"ids": np.array([4])})
    >>> r.op, r.step, r.ids.tolist()
    ('remove_edges', 3, [4])
    """

    op: str
    step: int
    reason: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> np.ndarray:
        """The neuron or edge ids the edit touched (or created)."""
        return np.asarray(self.data.get("ids", ()), dtype=np.int64)

    def __repr__(self) -> str:
        ids = self.ids
        shown = ids[:5].tolist() + (["..."] if ids.size > 5 else [])
        why = f", reason={self.reason!r}" if self.reason else ""
        return f"EditRecord({self.op}, ids={shown}, step={self.step}{why})"


class EditLog:
    """An append-only list of :class:`EditRecord`.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([2, 3, 2], density=1.0, seed=0)
    >>> _ = g.add_neuron(level=1, reason="widen")
    >>> [r.op for r in g.log], g.log[-1].reason
    (['add_neurons'], 'widen')
    """

    def __init__(self, records: Iterable[EditRecord] = ()) -> None:
        self._records: list[EditRecord] = list(records)

    def append(self, op: str, step: int, reason: str, **data: Any) -> EditRecord:
        rec = EditRecord(op, int(step), str(reason), _frozen(data))
        self._records.append(rec)
        return rec

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[EditRecord]:
        return iter(self._records)

    def __getitem__(self, i: int) -> EditRecord:
        return self._records[i]

    def since(self, start: int) -> list[EditRecord]:
        """Records appended after the first ``start`` ones."""
        return self._records[start:]

    def copy(self) -> EditLog:
        return EditLog(self._records)

    def __repr__(self) -> str:
        return f"EditLog(records={len(self)})"


def _frozen(data: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in data.items():
        if isinstance(v, np.ndarray):
            v = v.copy()
            v.flags.writeable = False
        out[k] = v
    return out


def replay(start: NeuronGraph, records: Iterable[EditRecord]) -> NeuronGraph:
    """Apply ``records`` to a copy of ``start`` and return it; ``start`` is left alone.

    Each record is re-applied through the same public edit, so it is validated again, and the
    ids it creates must equal the recorded ones.

    Raises
    ------
    GraphError
        If a record does not apply to the graph (wrong start, or a record out of order).

    Examples
    --------
    >>> import graphnet as gn
    >>> g0 = gn.mlp([3, 4, 2], density=1.0, seed=0)
    >>> g = g0.copy()
    >>> _ = g.add_neuron(level=1)
    >>> g.remove_edge(0, 3)
    >>> replay(g0, g.log.since(len(g0.log))).equals(g)
    True
    """
    g = start.copy()
    for i, rec in enumerate(records):
        g.step = rec.step
        apply = _APPLY.get(rec.op)
        if apply is None:
            raise GraphError(f"edit record {i} has unknown operation {rec.op!r}")
        got = apply(g, rec)
        if got is not None and not np.array_equal(np.asarray(got), rec.ids):
            raise GraphError(
                f"edit record {i} ({rec.op}) created ids {np.asarray(got)[:5].tolist()}, the log "
                f"says {rec.ids[:5].tolist()}: the log does not start from this graph"
            )
    return g


def _names(codes: np.ndarray, vocab: tuple[str, ...]) -> list[str]:
    return [vocab[int(c)] for c in codes]


def _apply_add_neurons(g: NeuronGraph, r: EditRecord) -> np.ndarray:
    from .vocab import ACTIVATIONS

    d = r.data
    return g.add_neurons(
        len(d["ids"]),
        level=d["level"],
        role=d["role"],
        activation=_names(d["activation"], ACTIVATIONS),
        bias=d["bias"],
        reason=r.reason,
    )


_APPLY = {
    "add_neurons": _apply_add_neurons,
    "add_edges": lambda g, r: g.add_edges(
        r.data["src"], r.data["dst"], r.data["weight"], lr=r.data["lr"], reason=r.reason
    ),
    "remove_edges": lambda g, r: g.remove_edges(r.data["ids"], reason=r.reason),
    "remove_neurons": lambda g, r: g.remove_neurons(
        r.data["ids"], cascade=r.data["cascade"], change_io=r.data["change_io"], reason=r.reason
    ),
    "lift": lambda g, r: g.lift(r.data["neurons"], by=r.data["by"], reason=r.reason),
    "set_neuron_attr": lambda g, r: g.set_neuron_attr(
        r.data["name"], r.data["ids"], r.data["values"], reason=r.reason
    ),
    "set_edge_attr": lambda g, r: g.set_edge_attr(
        r.data["name"], r.data["ids"], r.data["values"], reason=r.reason
    ),
    "tag": lambda g, r: g.tag(
        r.data["on"], r.data["name"], r.data["ids"], r.data["value"], reason=r.reason
    ),
    "untag": lambda g, r: g.untag(r.data["on"], r.data["name"], r.data["ids"], reason=r.reason),
}

KNOWN_OPS = frozenset(_APPLY)
"""The operations an edit log may hold."""
