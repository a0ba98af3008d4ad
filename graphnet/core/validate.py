"""Invariant checks of a neuron graph, shared by :meth:`NeuronGraph.check` and the edits.

Every failure raises :class:`GraphError` naming the first neuron or edge at fault and the values
found. The checks are vectorised: a graph of 10^7 edges is checked in well under a second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .errors import GraphError
from .keyindex import MAX_NEURON_ID, KeyIndex, edge_keys
from .levels import MAX_LEVEL
from .schema import find_sorted
from .vocab import ACTIVATIONS, HIDDEN, INPUT, OUTPUT, ROLES

if TYPE_CHECKING:
    from .graph import NeuronGraph

__all__ = [
    "check_graph",
    "check_known",
    "check_rising",
    "check_new_edges",
    "check_finite",
    "edge_name",
    "check_tag_value",
]


def edge_name(src: int, dst: int, e: int | None = None) -> str:
    """How messages name an edge: ``edge 7 (3->5)`` or, before it has an id, ``edge 3->5``."""
    return f"edge {src}->{dst}" if e is None else f"edge {e} ({src}->{dst})"


def _first(mask: np.ndarray) -> int | None:
    hit = np.flatnonzero(mask)
    return int(hit[0]) if hit.size else None


_CHUNK = 1 << 20


def _first_where(pred: Callable[..., np.ndarray], *arrays: np.ndarray) -> int | None:
    """Index of the first row where ``pred`` holds, evaluated a chunk at a time so that the
    temporary arrays of a 10^7-edge check stay a few megabytes."""
    n = len(arrays[0]) if arrays else 0
    for lo in range(0, n, _CHUNK):
        hit = np.flatnonzero(pred(*(a[lo : lo + _CHUNK] for a in arrays)))
        if hit.size:
            return lo + int(hit[0])
    return None


def _namer(src: np.ndarray, dst: np.ndarray, eids: np.ndarray | None):
    return lambda i: edge_name(int(src[i]), int(dst[i]), None if eids is None else int(eids[i]))


def check_known(
    g: NeuronGraph, src: np.ndarray, dst: np.ndarray, eids: np.ndarray | None = None
) -> None:
    """Raise unless every endpoint is a live neuron, no edge loops, ends at an input or starts
    at an output."""
    name = _namer(src, dst, eids)
    n = g._neurons
    alive = n.view("alive")
    for ids in (src, dst):
        bad = _first_where(lambda i: (i < 0) | (i >= alive.size), ids)
        if bad is None:
            bad = _first_where(lambda i: ~alive[i], ids)
        if bad is not None:
            who = int(ids[bad])
            gone = 0 <= who < alive.size
            raise GraphError(f"{name(bad)}: {'removed' if gone else 'unknown'} neuron {who}")
    bad = _first(src == dst)
    if bad is not None:
        raise GraphError(f"{name(bad)} is a self-loop on neuron {int(src[bad])}")
    role = n.view("role")
    bad = _first_where(lambda d: role[d] == INPUT, dst)
    if bad is not None:
        raise GraphError(
            f"{name(bad)} ends at input neuron {int(dst[bad])}; inputs take no incoming edges"
        )
    bad = _first_where(lambda s: role[s] == OUTPUT, src)
    if bad is not None:
        raise GraphError(
            f"{name(bad)} starts at output neuron {int(src[bad])}; outputs feed nothing"
        )


def check_rising(
    g: NeuronGraph, src: np.ndarray, dst: np.ndarray, eids: np.ndarray | None = None
) -> None:
    """Raise unless every edge goes from a lower level to a higher one."""
    name = _namer(src, dst, eids)
    level = g._neurons.view("level")
    bad = _first_where(lambda s, d: level[s] >= level[d], src, dst)
    if bad is not None:
        s, d = int(src[bad]), int(dst[bad])
        raise GraphError(
            f"{name(bad)} goes from level {int(level[s])} to level {int(level[d])}; edges must rise "
            f"(add_edge(..., lift=True) lifts neuron {d} and its descendants)"
        )


def check_finite(
    what: Callable[[int], str], values: np.ndarray, attr: str, nonneg: bool = False
) -> None:
    """Raise if any value is NaN or infinite (or negative when ``nonneg``), naming its owner."""
    finite = np.isfinite(values) if values.dtype.kind == "f" else np.ones(values.shape, bool)
    bad = _first(~finite | ((values < 0) if nonneg else False))
    if bad is not None:
        need = "finite and >= 0" if nonneg else "finite"
        raise GraphError(f"{what(bad)} has {attr} {values[bad]}; {attr} must be {need}")


def check_new_edges(
    g: NeuronGraph, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, lr: np.ndarray
) -> np.ndarray:
    """Validate the values of edges about to be added and refuse duplicates; return their keys.
    Endpoints are checked by :func:`check_known` and :func:`check_rising`."""
    if not (src.shape == dst.shape == weight.shape == lr.shape) or src.ndim != 1:
        raise GraphError(
            f"edge arrays differ in shape: src {src.shape}, dst {dst.shape}, "
            f"weight {weight.shape}, lr {lr.shape}"
        )
    name = _namer(src, dst, None)
    check_finite(name, weight, "weight")
    check_finite(name, lr, "lr", nonneg=True)
    keys = edge_keys(src, dst)
    if keys.size > 1:
        order = np.argsort(keys, kind="stable")
        twice = _first(keys[order][1:] == keys[order][:-1])
        if twice is not None:
            i = int(order[twice])
            raise GraphError(f"{name(i)} is given twice; duplicate edges are refused")
    found = g._key_index().lookup(keys)
    bad = _first(found >= 0)
    if bad is not None:
        e = int(g._edges.view("id")[found[bad]])
        raise GraphError(
            f"{name(bad)} already exists (edge {e}); duplicate edges are refused, "
            f"change its weight with set_edge_attr('weight', [{e}], ...)"
        )
    return keys


def check_graph(g: NeuronGraph, *, edges_unique: bool = False) -> None:
    """Raise :class:`GraphError` naming the first broken invariant; return None when sound.

    ``edges_unique=True`` skips the duplicate-edge check when no lookup index exists yet; only
    importers whose source cannot hold duplicates (a networkx ``DiGraph``) pass it.
    """
    n, e = g._neurons, g._edges
    alive, level, role = n.view("alive"), n.view("level"), n.view("role")
    act, bias = n.view("activation"), n.view("bias")
    live = np.flatnonzero(alive)
    _check_neurons(g, live, level, role, act, bias, n.view("born"))
    eid, src, dst = e.view("id"), e.view("src"), e.view("dst")
    bad = _first(eid[1:] <= eid[:-1]) if eid.size > 1 else None
    if bad is not None:
        raise GraphError(f"edge ids are not increasing at edge {int(eid[bad + 1])}")
    if eid.size and (eid[0] < 0 or eid[-1] >= g._next_edge):
        raise GraphError(f"edge ids outside [0, {g._next_edge}): {int(eid[0])}..{int(eid[-1])}")
    check_known(g, src, dst, eid)
    check_rising(g, src, dst, eid)
    nm = _namer(src, dst, eid)
    check_finite(nm, e.view("weight"), "weight")
    check_finite(nm, e.view("lr"), "lr", nonneg=True)
    check_finite(nm, e.view("born"), "born", nonneg=True)
    if not (edges_unique and g._index is None):
        _check_index(g, edge_keys(src, dst), eid, src, dst)
    _check_tags(g, alive, eid)


def _check_neurons(g, live, level, role, act, bias, born) -> None:
    who = lambda i: f"neuron {int(live[i])}"  # noqa: E731
    if live.size and live[-1] > MAX_NEURON_ID:
        raise GraphError(f"neuron id {int(live[-1])} exceeds the largest id {MAX_NEURON_ID}")
    lv, rl, ac = level[live], role[live], act[live]
    bad = _first((rl < 0) | (rl >= len(ROLES)))
    if bad is not None:
        raise GraphError(f"{who(bad)} has unknown role code {int(rl[bad])}")
    bad = _first((ac < 0) | (ac >= len(ACTIVATIONS)))
    if bad is not None:
        raise GraphError(f"{who(bad)} has unknown activation code {int(ac[bad])}")
    check_finite(who, bias[live], "bias")
    check_finite(who, born[live], "born", nonneg=True)
    bad = _first((lv < 0) | (lv > MAX_LEVEL))
    if bad is not None:
        raise GraphError(f"{who(bad)} is on level {int(lv[bad])}, outside [0, {MAX_LEVEL}]")
    bad = _first((rl == INPUT) != (lv == 0))
    if bad is not None:
        raise GraphError(
            f"{who(bad)} is {ROLES[rl[bad]]} on level {int(lv[bad])}; level 0 holds the inputs and only them"
        )
    bad = _first((rl == INPUT) & ((ac != 0) | (bias[live] != 0)))
    if bad is not None:
        raise GraphError(f"input {who(bad)} must have activation 'identity' and bias 0")
    outs = rl == OUTPUT
    if outs.any():
        top = int(lv[outs].max())
        bad = _first(outs & (lv != top))
        if bad is not None:
            raise GraphError(
                f"output {who(bad)} is on level {int(lv[bad])}, the other outputs on {top}; outputs share the top level"
            )
        bad = _first((rl == HIDDEN) & (lv >= top))
        if bad is not None:
            raise GraphError(
                f"hidden {who(bad)} is on level {int(lv[bad])}, not below the outputs' level {top}"
            )
    for name, lst, code in (("inputs", g._inputs, INPUT), ("outputs", g._outputs, OUTPUT)):
        arr = np.asarray(lst, np.int64)
        want = live[rl == code]
        srt = np.sort(arr)
        if srt.size > 1 and np.any(srt[1:] == srt[:-1]):
            raise GraphError(f"g.{name} lists a neuron twice: {lst[:10]}")
        if not np.array_equal(srt, want):
            extra = np.setdiff1d(arr, want)[:3].tolist()
            missing = np.setdiff1d(want, arr)[:3].tolist()
            raise GraphError(
                f"g.{name} disagrees with the neurons' roles: listed but not {name[:-1]} "
                f"{extra}, {name[:-1]} but not listed {missing}"
            )


def _check_index(g, keys, eid, src, dst) -> None:
    idx = g._index
    if idx is None:
        idx = KeyIndex.build(keys)
    else:
        stored = keys if idx.pos is None else keys[idx.pos]
        if idx.keys.size != keys.size or not np.array_equal(stored, idx.keys):
            raise GraphError(
                "the edge lookup index disagrees with the edge arrays (internal error)"
            )
    dup = idx.first_duplicate()
    if dup is not None:
        a, b = (int(p) for p in idx.positions(slice(dup, dup + 2)))
        raise GraphError(
            f"edge {int(eid[a])} and edge {int(eid[b])} both join {int(src[a])}->{int(dst[a])}; "
            "duplicate edges are refused"
        )
    if g._index is None:
        g._index = idx


def check_tag_value(on: str, name: str, owner: int, value: object) -> None:
    """Raise unless a tag value is a bool, int, str or finite float (what every file format
    keeps exactly).

    Examples
    --------
    >>> check_tag_value("neuron", "patch", 3, float("nan"))
    Traceback (most recent call last):
    ...
    graphnet.core.errors.GraphError: neuron 3: tag 'patch' value nan is not a finite bool, int, float or str
    """
    ok = isinstance(value, (bool, int, str)) or (isinstance(value, float) and np.isfinite(value))
    if not ok:
        raise GraphError(
            f"{on} {owner}: tag {name!r} value {value!r} is not a finite bool, int, float or str"
        )


def _check_tags(g, alive, eid) -> None:
    for on, tables in g._tags.items():
        for name, table in tables.items():
            if not isinstance(name, str):
                raise GraphError(f"{on} tag name {name!r} is not a string")
            for owner, value in table.items():
                check_tag_value(on, name, owner, value)
    for name, table in g._tags["neuron"].items():
        ids = np.fromiter(table.keys(), np.int64, len(table))
        bad = (
            _first(
                (ids < 0) | (ids >= alive.size) | ~alive[np.clip(ids, 0, max(alive.size - 1, 0))]
            )
            if ids.size
            else None
        )
        if bad is not None:
            raise GraphError(f"neuron tag {name!r} refers to missing neuron {int(ids[bad])}")
    for name, table in g._tags["edge"].items():
        ids = np.fromiter(table.keys(), np.int64, len(table))
        bad = _first(~find_sorted(eid, ids)[1])
        if bad is not None:
            raise GraphError(f"edge tag {name!r} refers to missing edge {int(ids[bad])}")
