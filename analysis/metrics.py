"""Graph metrics of a neuron graph, through networkx where networkx has the algorithm (so its
backend dispatch can send them to nx-cugraph on a GPU) and vectorised numpy/scipy elsewhere."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.levels import descendants_mask

__all__ = [
    "degree_by_level",
    "io_path_lengths",
    "off_path_neurons",
    "io_reachability",
    "centrality",
    "clustering",
    "motif_counts",
    "effective_size",
    "spectral_radius",
]


def _adjacency(g: NeuronGraph, weighted: bool = False) -> tuple[sp.csr_matrix, np.ndarray]:
    """Sparse adjacency over the live neurons (positions in ``ids``) and the ids."""
    ids = g.neuron_ids
    pos = np.full(g.next_neuron_id, -1, np.int64)
    pos[ids] = np.arange(ids.size)
    src, dst, w = g.edge_list()
    data = np.abs(w.astype(np.float64)) if weighted else np.ones(src.size)
    return sp.csr_matrix((data, (pos[src], pos[dst])), shape=(ids.size, ids.size)), ids


def degree_by_level(g: NeuronGraph) -> dict[int, dict[str, np.ndarray]]:
    """Per level: the in- and out-degree of each of its neurons (``ids``, ``in``, ``out``).

    Examples
    --------
    >>> import graphnet as gn
    >>> d = degree_by_level(gn.mlp([2, 3, 1], density=1.0, seed=0))
    >>> d[1]["in"].tolist(), d[1]["out"].tolist()
    ([2, 2, 2], [1, 1, 1])
    """
    src, dst, _ = g.edge_list()
    n = g.next_neuron_id
    indeg, outdeg = np.bincount(dst, minlength=n), np.bincount(src, minlength=n)
    ids = g.neuron_ids
    level = g.neuron_attr("level", ids)
    return {
        int(lv): {
            "ids": ids[level == lv],
            "in": indeg[ids[level == lv]],
            "out": outdeg[ids[level == lv]],
        }
        for lv in np.unique(level)
    }


def io_path_lengths(g: NeuronGraph) -> dict[int, tuple[float, float]]:
    """For each output: the lengths (in edges) of its shortest and longest path from any input
    (``inf`` for both when no input reaches it), through networkx.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([2, 2, 1], density=1.0, seed=0); e = g.add_edge(0, 4, 0.0)
    >>> io_path_lengths(g)
    {4: (1.0, 2.0)}
    """
    import networkx as nx

    G = nx.DiGraph()
    G.add_nodes_from(g.neuron_ids.tolist())
    src, dst, _ = g.edge_list()
    G.add_edges_from(zip(src.tolist(), dst.tolist()))
    short = nx.multi_source_dijkstra_path_length(G, set(g.inputs))
    longest: dict[int, float] = {}
    for n in nx.topological_sort(G):  # longest path from an input, dynamic programming
        best = 0.0 if n in set(g.inputs) else -np.inf
        for p in G.predecessors(n):
            best = max(best, longest[p] + 1)
        longest[n] = best
    return {
        o: ((float(short[o]), float(longest[o])) if o in short else (np.inf, np.inf))
        for o in g.outputs
    }


def off_path_neurons(g: NeuronGraph) -> np.ndarray:
    """Hidden neurons on no input-to-output path (not reached from an input, or reaching no
    output): they cannot take part in what the network computes from its inputs.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([2, 2, 1], density=1.0, seed=0); n = g.add_neuron(level=1)
    >>> off_path_neurons(g).tolist()
    [5]
    """
    a, b = io_reachability(g)
    ids = g.neuron_ids
    hidden = ids[g.neuron_attr("role", ids) == 1]
    return hidden[~(a[hidden] & b[hidden])]


def io_reachability(g: NeuronGraph) -> tuple[np.ndarray, np.ndarray]:
    """Two masks over neuron ids: reached from an input, and reaching an output.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([1, 1], density=1.0, seed=0); n = g.add_neuron(role="input")
    >>> [m.tolist() for m in io_reachability(g)]
    [[True, True, True], [True, True, False]]
    """
    src, dst, _ = g.edge_list()
    n = g.next_neuron_id
    from_in = descendants_mask(src, dst, n, np.asarray(g.inputs, np.int64))
    to_out = descendants_mask(dst, src, n, np.asarray(g.outputs, np.int64))
    return from_in, to_out


def centrality(
    g: NeuronGraph, *, exact_up_to: int = 2000, samples: int = 256, seed: int = 0
) -> dict:
    """Betweenness centrality of every neuron (directed, unweighted) through networkx; past
    ``exact_up_to`` neurons it is estimated from ``samples`` source neurons, and the result
    says so (``"sampled"``).

    Examples
    --------
    >>> import graphnet as gn
    >>> r = centrality(gn.mlp([2, 2, 1], density=1.0, seed=0))
    >>> r["sampled"], round(r["values"][2], 3)
    (False, 0.083)
    """
    import networkx as nx

    if not isinstance(samples, (int, np.integer)) or samples < 1:
        raise GraphError(f"centrality: samples must be a positive whole number, got {samples!r}")
    G = nx.DiGraph()
    G.add_nodes_from(g.neuron_ids.tolist())
    src, dst, _ = g.edge_list()
    G.add_edges_from(zip(src.tolist(), dst.tolist()))
    sampled = G.number_of_nodes() > exact_up_to
    values = nx.betweenness_centrality(
        G, k=min(samples, G.number_of_nodes()) if sampled else None, seed=seed
    )
    return {"values": values, "sampled": sampled, "samples": samples if sampled else None}


def clustering(g: NeuronGraph, weighted: bool = False) -> dict[int, float]:
    """Clustering coefficient of each neuron in the undirected network, through networkx
    (``weighted`` uses ``|w|``).

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([1, 1, 1], density=1.0, seed=0); e = g.add_edge(0, 2, 0.5)
    >>> clustering(g)
    {0: 1.0, 1: 1.0, 2: 1.0}
    """
    import networkx as nx

    G = nx.Graph()
    G.add_nodes_from(g.neuron_ids.tolist())
    src, dst, w = g.edge_list()
    G.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), np.abs(w).tolist()))
    if weighted and not np.any(w):  # networkx divides by the largest weight
        return dict.fromkeys(G.nodes, 0.0)
    return nx.clustering(G, weight="weight" if weighted else None)


def motif_counts(g: NeuronGraph) -> dict[str, int]:
    """Counts of the three-neuron DAG motifs, from sparse matrix products (no loop per
    neuron): ``chain`` (a->b->c, no a->c), ``fan_in`` (a->c <- b), ``fan_out`` (b <- a->c),
    ``feed_forward`` (a->b->c and a->c).

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([1, 1, 1], density=1.0, seed=0); e = g.add_edge(0, 2, 0.0)
    >>> motif_counts(g)
    {'chain': 0, 'fan_in': 1, 'fan_out': 1, 'feed_forward': 1}
    """
    A, _ = _adjacency(g)
    A2 = A @ A
    two_paths = int(A2.sum())
    ffl = int(A.multiply(A2).sum())
    indeg = np.asarray(A.sum(0)).ravel()
    outdeg = np.asarray(A.sum(1)).ravel()
    return {
        "chain": two_paths - ffl,
        "fan_in": int((indeg * (indeg - 1) // 2).sum()),
        "fan_out": int((outdeg * (outdeg - 1) // 2).sum()),
        "feed_forward": ffl,
    }


def effective_size(g: NeuronGraph) -> dict[str, float]:
    """``depth``: the longest input-to-output path (edges); ``width``: the size of a typical
    non-input level when levels are weighted by their share of the neurons, ``sum n^2 / sum n``
    (equal to the level size when all levels are equal).

    Examples
    --------
    >>> import graphnet as gn
    >>> effective_size(gn.mlp([4, 8, 2], density=1.0, seed=0))
    {'depth': 2.0, 'width': 6.8}
    """
    lengths = io_path_lengths(g)
    finite = [b for _, b in lengths.values() if np.isfinite(b)]
    ids = g.neuron_ids
    level = g.neuron_attr("level", ids)
    sizes = np.bincount(level[level > 0]).astype(float)
    sizes = sizes[sizes > 0]
    width = float((sizes**2).sum() / sizes.sum()) if sizes.size else 0.0
    return {"depth": float(max(finite)) if finite else 0.0, "width": round(width, 6)}


def spectral_radius(g: NeuronGraph) -> float:
    """The largest eigenvalue of the symmetrised weighted adjacency ``|W| + |W|^T`` (through
    scipy.sparse.linalg). The directed adjacency of a DAG is nilpotent (all its eigenvalues
    are 0), so the undirected one is the informative choice.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([1, 1], density=1.0, seed=0); g.set_edge_attr("weight", [0], [2.0])
    >>> spectral_radius(g)
    2.0
    """
    from scipy.sparse.linalg import eigsh

    A, ids = _adjacency(g, weighted=True)
    S = (A + A.T).tocsr()
    if ids.size == 0:
        raise GraphError("spectral_radius: the graph has no neurons")
    if S.nnz == 0 or not np.any(S.data):
        return 0.0
    if ids.size < 64:
        return float(np.round(np.abs(np.linalg.eigvalsh(S.toarray())).max(), 12))
    vals = eigsh(S, k=1, which="LA", return_eigenvectors=False)
    return float(vals[0])
