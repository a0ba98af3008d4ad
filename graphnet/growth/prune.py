"""``gn.prune``: magnitude pruning as a graph edit."""

from __future__ import annotations

import numpy as np

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.vocab import HIDDEN

from .report import GrowthReport

__all__ = ["prune", "smallest_k"]


def prune(
    g: NeuronGraph,
    threshold: float | None = None,
    fraction: float | None = None,
    per_level: bool = False,
    *,
    remove_orphans: bool = True,
    reason: str = "",
) -> GrowthReport:
    """Remove the weakest edges: those with ``|weight| < threshold``, or the ``fraction`` with
    the smallest magnitude (of all edges, or of the edges into each level with
    ``per_level=True``). With ``remove_orphans`` hidden neurons left on no input-to-output
    path are removed too (inputs and outputs never are). Sync trained weights first
    (``gn.sync``) so that the magnitudes are the trained ones.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([4, 8, 2], density=1.0, seed=0)
    >>> rep = gn.prune(g, fraction=0.5, remove_orphans=False)
    >>> rep.edges_removed.size, g.num_edges
    (24, 24)
    """
    if (threshold is None) == (fraction is None):
        raise GraphError("prune: give exactly one of threshold= and fraction=")
    w = np.abs(g.edge_attr("weight"))
    eids = g.edge_attr("id")
    for name, v in (("threshold", threshold), ("fraction", fraction)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float, np.number))):
            raise GraphError(f"prune: {name} must be a number, got {v!r}")
    if threshold is not None:
        if not np.isfinite(threshold) or threshold < 0:
            raise GraphError(f"prune: threshold must be finite and >= 0, got {threshold}")
        drop = np.flatnonzero(w < threshold)
    else:
        if not 0.0 <= fraction <= 1.0:
            raise GraphError(f"prune: fraction must lie in [0, 1], got {fraction}")
        if per_level:
            lv = g._neurons.view("level")[g.edge_list()[1]]
            parts = []
            for level in np.unique(lv).tolist():
                sel = np.flatnonzero(lv == level)
                k = int(round(fraction * sel.size))
                if k:
                    parts.append(sel[smallest_k(w[sel], k)])
            drop = np.concatenate(parts) if parts else np.empty(0, np.int64)
        else:
            k = int(round(fraction * w.size))
            drop = smallest_k(w, k)
    why = reason or (
        "magnitude prune" + (f" below {threshold:g}" if threshold is not None else f" {fraction:g}")
    )
    removed = eids[drop]
    if removed.size:
        g.remove_edges(removed, reason=why)
    gone = np.empty(0, np.int64)
    if remove_orphans:
        gone, constant = _orphans(g)
        if gone.size:
            _fold_constants(g, constant, gone, why)
            cut = np.isin(g.edge_list()[0], gone) | np.isin(g.edge_list()[1], gone)
            removed = np.concatenate((removed, g.edge_attr("id")[cut]))
            g.remove_neurons(gone, cascade=True, reason=why + ": neurons on no input-output path")
    return GrowthReport("prune", edges_removed=removed, neurons_removed=gone)


def smallest_k(w: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` smallest values in O(n) (ties: the lower position first).

    Examples
    --------
    >>> smallest_k(np.array([0.5, 0.1, 0.3, 0.1]), 2).tolist()
    [1, 3]
    """
    if k <= 0:
        return np.empty(0, np.int64)
    if k >= w.size:
        return np.arange(w.size)
    cut = np.partition(w, k - 1)[k - 1]
    below = np.flatnonzero(w < cut)
    at = np.flatnonzero(w == cut)[: k - below.size]
    return np.concatenate((below, at))


def _orphans(g: NeuronGraph) -> tuple[np.ndarray, np.ndarray]:
    """Hidden neurons on no input-to-output path, and those of them that still feed an output
    (reached from no input: they send a constant, which is folded into biases)."""
    from analysis.metrics import io_reachability

    from_in, to_out = io_reachability(g)  # once: off_path_neurons would walk the graph again
    ids = g.neuron_ids
    hidden = ids[g.neuron_attr("role", ids) == HIDDEN]
    gone = hidden[~(from_in[hidden] & to_out[hidden])]
    constant = gone[to_out[gone] & ~from_in[gone]]
    return gone, constant


def _fold_constants(g: NeuronGraph, constant: np.ndarray, gone: np.ndarray, why: str) -> None:
    """Neurons reached from no input compute a constant; add what they send to the neurons
    that stay into those neurons' biases, so removing them keeps the function."""
    if constant.size == 0:
        return
    from compilers.interpret import activate_array

    src, dst, w = g.edge_list()
    value: dict[int, float] = {}
    for n in constant[np.argsort(g.neuron_attr("level", constant), kind="stable")].tolist():
        info = g.neuron(n)
        z = info["bias"] + sum(
            float(x) * value.get(int(s), 0.0) for s, x in zip(src[dst == n], w[dst == n])
        )
        value[n] = float(activate_array(info["activation"], np.array([z]))[0])
    gone_set = set(gone.tolist())
    extra: dict[int, float] = {}
    for s, d, x in zip(src.tolist(), dst.tolist(), w.tolist()):
        if s in value and d not in gone_set:
            extra[d] = extra.get(d, 0.0) + x * value[s]
    if extra:
        ids = np.fromiter(extra.keys(), np.int64, len(extra))
        bias = g.neuron_attr("bias", ids).astype(np.float64) + np.fromiter(
            extra.values(), float, len(extra)
        )
        g.set_neuron_attr(
            "bias", ids, bias, reason=why + ": constants of removed neurons folded into biases"
        )
