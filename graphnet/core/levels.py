"""Levels of a neuron DAG: reachability, lifting, and longest-path layering, all vectorised.

A level assignment is legal when every edge rises (``level[src] < level[dst]``), inputs sit on
level 0, outputs share the top level and hidden neurons lie strictly between.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .errors import GraphError
from .vocab import HIDDEN, INPUT, OUTPUT

__all__ = ["descendants_mask", "plan_lift", "longest_path_levels", "MAX_LEVEL"]

MAX_LEVEL = (1 << 31) - 1
"""The highest level a neuron may sit on."""


def descendants_mask(src: np.ndarray, dst: np.ndarray, num: int, seeds: np.ndarray) -> np.ndarray:
    """Boolean mask over ``num`` neuron ids: the ``seeds`` and everything reachable from them.

    One vectorised pass over the edges per step of path length; no Python loop per edge.

    Examples
    --------
    >>> descendants_mask(np.array([0, 1, 3]), np.array([1, 2, 4]), 5, np.array([0])).tolist()
    [True, True, True, False, False]
    """
    mark = np.zeros(num, dtype=bool)
    mark[np.asarray(seeds, dtype=np.int64)] = True
    while True:
        reach = dst[mark[src]]
        new = reach[~mark[reach]]
        if new.size == 0:
            return mark
        mark[new] = True


def plan_lift(
    level: np.ndarray,
    role: np.ndarray,
    alive: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    neurons: np.ndarray,
    by: int,
) -> np.ndarray:
    """Return a new level array in which ``neurons`` and all their descendants rise by ``by``.

    Outputs always share the top level: if a lifted neuron reaches or passes it, every output
    moves up with it. The input arrays are left unchanged.

    Raises
    ------
    GraphError
        If an input neuron would be lifted (inputs stay on level 0).

    Examples
    --------
    >>> lv = plan_lift(np.array([0, 1, 2]), np.array([0, 1, 2]), np.ones(3, bool),
    ...                np.array([0, 1]), np.array([1, 2]), np.array([1]), 1)
    >>> lv.tolist()
    [0, 2, 3]
    """
    if not 1 <= by <= MAX_LEVEL:
        raise GraphError(f"lift needs 1 <= by <= {MAX_LEVEL}, got {by}")
    mask = descendants_mask(src, dst, level.size, neurons)
    if mask.any() and int(level[mask].max()) + by > MAX_LEVEL:
        raise GraphError(f"lifting by {by} would take a neuron above level {MAX_LEVEL}")
    ins = np.flatnonzero(mask & (role == INPUT))
    if ins.size:
        raise GraphError(f"input neuron {int(ins[0])} cannot be lifted: inputs stay on level 0")
    new = level.copy()
    new[mask] += by
    outs = alive & (role == OUTPUT)
    if outs.any():
        hidden = alive & (role == HIDDEN)
        top = int(new[outs].max())
        if hidden.any():
            top = max(top, int(new[hidden].max()) + 1)
        new[outs] = top
    return new


def longest_path_levels(
    num: int, src: np.ndarray, dst: np.ndarray, is_input: np.ndarray
) -> np.ndarray:
    """Level of every node of a DAG given as positions ``0..num-1``, in O(V + E).

    Inputs get level 0; every other node gets one more than the highest level among its
    predecessors, and at least 1 (a node without predecessors that is not an input is a hidden
    neuron fed by nothing). This is Kahn's algorithm run one generation at a time.

    Raises
    ------
    GraphError
        If the edges contain a cycle (the message lists one) or an input has a predecessor.

    Examples
    --------
    >>> longest_path_levels(4, np.array([0, 1, 0]), np.array([1, 2, 2]),
    ...                     np.array([True, False, False, False])).tolist()
    [0, 1, 2, 1]
    """
    src = np.asarray(src, np.int64)
    dst = np.asarray(dst, np.int64)
    fed = np.flatnonzero(is_input[dst]) if dst.size else np.empty(0, np.int64)
    if fed.size:
        e = int(fed[0])
        raise GraphError(
            f"edge {src[e]}->{dst[e]} ends at input {dst[e]}; inputs take no incoming edges"
        )
    adj = sp.csr_array((np.ones(src.size, np.int8), (src, dst)), shape=(num, num))
    indptr, indices = adj.indptr, adj.indices.astype(np.int64, copy=False)
    indeg = np.bincount(indices, minlength=num).astype(np.int64)  # duplicates counted once
    level = np.zeros(num, np.int64)
    frontier = np.flatnonzero(is_input)
    orphans = np.flatnonzero((indeg == 0) & ~is_input)
    done, gen = 0, 0
    while frontier.size or (gen == 0 and orphans.size):
        level[frontier] = gen
        done += frontier.size
        starts, stops = indptr[frontier], indptr[frontier + 1]
        counts = stops - starts
        total = int(counts.sum())
        if total:
            offs = np.repeat(starts - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
            succ = indices[offs + np.arange(total)]
            np.subtract.at(indeg, succ, 1)
            succ = np.sort(succ)
            succ = succ[np.concatenate(([True], succ[1:] != succ[:-1]))]
            frontier = succ[indeg[succ] == 0]
        else:
            frontier = np.empty(0, np.int64)
        if gen == 0 and orphans.size:
            frontier = np.concatenate((frontier, orphans))
        gen += 1
    if done < num:
        raise GraphError(f"the graph has a cycle: {_a_cycle(indptr, indices, indeg > 0)}")
    return level


def _a_cycle(indptr: np.ndarray, indices: np.ndarray, stuck: np.ndarray) -> str:
    """Describe one cycle among the nodes Kahn's algorithm could not order."""
    import networkx as nx

    nodes = np.flatnonzero(stuck)
    sub = nx.DiGraph()
    for u in nodes.tolist():
        for v in indices[indptr[u] : indptr[u + 1]].tolist():
            if stuck[v]:
                sub.add_edge(u, v)
    cyc = nx.find_cycle(sub)
    return " -> ".join(str(u) for u, _ in cyc) + f" -> {cyc[0][0]}"
