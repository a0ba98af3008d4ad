"""Convert between :class:`NeuronGraph` and networkx, losslessly, and export GraphML.

``to_networkx`` writes a ``DiGraph`` keyed by neuron id with node attributes ``level``,
``role``, ``activation``, ``bias``, ``born`` and the neuron's tags; edge attributes ``weight``,
``id``, ``born``, ``lr`` and the edge's tags; graph attributes ``inputs``, ``outputs``,
``next_neuron_id``, ``next_edge_id`` and ``step``. ``from_networkx`` reads all of these back,
and takes any other networkx DAG by the rules in its docstring. The views carry no edit log.
"""

from __future__ import annotations

import itertools
import math
import operator
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import GraphError

if TYPE_CHECKING:
    import networkx as nx

    from .graph import NeuronGraph

__all__ = ["to_networkx", "from_networkx"]

_NODE_KEYS = ("level", "role", "activation", "bias", "born")
_EDGE_KEYS = ("weight", "id", "born", "lr")
_SCALAR = (bool, int, float, str, np.integer, np.floating, np.bool_)


def to_networkx(g: NeuronGraph) -> nx.DiGraph:
    """A networkx ``DiGraph`` view of ``g``, nodes keyed by neuron id (a copy; edit ``g``).

    Examples
    --------
    >>> import graphnet as gn
    >>> G = gn.to_networkx(gn.mlp([2, 1], density=1.0, seed=0))
    >>> sorted(G.edges()), G.nodes[2]["role"], G.graph["outputs"]
    ([(0, 2), (1, 2)], 'output', [2])
    """
    import networkx as nx

    from .vocab import ACTIVATIONS, ROLES

    for on, what, reserved in (("neuron", "node", _NODE_KEYS), ("edge", "edge", _EDGE_KEYS)):
        clash = sorted(set(g._tags[on]) & set(reserved))
        if clash:
            raise GraphError(
                f"{on} tag {clash[0]!r} has the name of a networkx {what} attribute that "
                f"to_networkx writes ({', '.join(reserved)}); rename the tag to convert"
            )
    G = nx.DiGraph(
        inputs=g.inputs,
        outputs=g.outputs,
        next_neuron_id=g.next_neuron_id,
        next_edge_id=g.next_edge_id,
        step=int(g.step),
    )
    ids = g.neuron_ids
    col = g._neurons.view
    ntags = g._tags["neuron"]
    G.add_nodes_from(
        (
            n,
            {
                "level": lv,
                "role": ROLES[r],
                "activation": ACTIVATIONS[a],
                "bias": b,
                "born": bo,
                **{k: t[n] for k, t in ntags.items() if n in t},
            },
        )
        for n, lv, r, a, b, bo in zip(
            ids.tolist(),
            col("level")[ids].tolist(),
            col("role")[ids].tolist(),
            col("activation")[ids].tolist(),
            col("bias")[ids].tolist(),
            col("born")[ids].tolist(),
        )
    )
    e = g._edges.view
    etags = g._tags["edge"]
    G.add_edges_from(
        (
            s,
            d,
            {
                "weight": w,
                "id": i,
                "born": bo,
                "lr": lr,
                **{k: t[i] for k, t in etags.items() if i in t},
            },
        )
        for s, d, w, i, bo, lr in zip(
            e("src").tolist(),
            e("dst").tolist(),
            e("weight").tolist(),
            e("id").tolist(),
            e("born").tolist(),
            e("lr").tolist(),
        )
    )
    return G


def from_networkx(G: nx.DiGraph, *, seed: int = 0) -> NeuronGraph:
    """Build a :class:`NeuronGraph` from a networkx DAG.

    Rules:

    * Nodes: non-negative integer labels become the neuron ids (unless they are so sparse that
      arrays indexed by id would be wasteful: past ``16 * V + 2**20``). Otherwise ids are given
      in node order and every label is kept as the neuron tag ``name`` (its ``str``).
    * Roles: a ``role`` attribute wins; otherwise a node without in-edges is an input, one
      without out-edges an output, the rest hidden. An isolated node is an input.
    * Order: ``G.graph["inputs"]``/``["outputs"]`` if present, else ascending id.
    * Levels: a ``level`` attribute on every node, or none (mixing is refused). Without it,
      levels are longest-path depths from the inputs, outputs all on the top level; this is
      O(V + E). Disconnected parts are layered the same way, side by side.
    * Attributes: ``activation``, ``bias``, ``born`` on nodes; ``weight``, ``born``, ``lr``,
      ``id`` on edges. An edge without ``weight`` (on every edge, or on some only) gets a
      fan-in scaled initial weight drawn with ``seed`` (never a constant); given weights are
      kept exactly. Other scalar attributes become tags.

    Raises
    ------
    GraphError
        If ``G`` is undirected, a multigraph, has a cycle (named), a NaN weight, a non-scalar
        attribute, or attributes that break an invariant.

    Examples
    --------
    >>> import networkx as nx, graphnet as gn
    >>> g = gn.from_networkx(nx.DiGraph([("x", "h"), ("h", "y"), ("x", "y")]))
    >>> g.inputs, g.outputs, g.tags("neuron", "name")
    ([0], [2], {0: 'x', 1: 'h', 2: 'y'})
    """
    import networkx as nx

    from .assemble import build_graph, sparse_id_limit

    if not isinstance(G, nx.DiGraph) or G.is_multigraph():
        kind = type(G).__name__
        raise GraphError(f"from_networkx needs a networkx DiGraph (a DAG), got {kind}")
    nodes = list(G.nodes)
    V = len(nodes)
    int_labels = (
        set(map(type, nodes)) <= {int, np.int64, np.int32}
        and min(nodes, default=0) >= 0
        and ("next_neuron_id" in G.graph or max(nodes, default=0) < sparse_id_limit(V))
    )
    adj = G._adj  # node -> {successor: edge data}, in node order; read in C-level passes
    out_degree = np.fromiter(map(len, adj.values()), np.int64, V)
    E = int(out_degree.sum())
    successors = itertools.chain.from_iterable(adj.values())
    if int_labels:
        ids = np.fromiter(nodes, np.int64, V)
        dst = np.fromiter(successors, np.int64, E)
        tags: dict[str, dict] = {"neuron": {}, "edge": {}}
        key_of = None
    else:
        ids = np.arange(V, dtype=np.int64)
        key_of = {n: i for i, n in enumerate(nodes)}
        dst = np.fromiter(map(key_of.__getitem__, successors), np.int64, E)
        tags = {"neuron": {"name": {i: str(n) for i, n in enumerate(nodes)}}, "edge": {}}
    src = np.repeat(ids, out_degree)
    node_attr = (
        _columns(G.nodes(data=True), V, _NODE_KEYS, "node", ids, tags["neuron"], nodes)
        if sum(map(len, G._node.values()))  # any node attributes at all?
        else {}
    )
    edge_data = list(itertools.chain.from_iterable(map(dict.values, adj.values())))
    edge_attr, edge_keys = _edge_columns(edge_data, G)
    inputs = _labels(G.graph.get("inputs"), key_of, "inputs")
    outputs = _labels(G.graph.get("outputs"), key_of, "outputs")
    acts = node_attr.get("activation")
    if acts is not None and any(a is None for a in acts):
        node_attr["activation"] = _fill_activations(
            acts, node_attr.get("role"), ids, src, dst, (inputs or []) + (outputs or [])
        )
    for k in ("level",):
        got = node_attr.get(k)
        if got is not None and np.isnan(got).any():
            n = nodes[int(np.flatnonzero(np.isnan(got))[0])]
            raise GraphError(
                f"node {n!r} has no {k!r} while others do; give it on every node or on none"
            )
    if "id" in edge_attr and np.isnan(edge_attr["id"]).any():
        raise GraphError("some edges carry an 'id' attribute and others do not")
    # Without an 'id' attribute, edges get ids 0..E-1 in this order (see build_graph).
    if edge_keys - set(_EDGE_KEYS):  # other attributes become edge tags
        tags["edge"] = _extra_edge_tags(edge_data, edge_attr.get("id", np.arange(E)))
    try:
        g = build_graph(
            ids,
            src,
            dst,
            weight=_fill(edge_attr.get("weight")),
            level=_opt_int(node_attr.get("level")),
            role=node_attr.get("role"),
            activation=node_attr.get("activation"),
            bias=_fill(node_attr.get("bias"), 0.0),
            born=_opt_int(node_attr.get("born"), 0),
            edge_id=_opt_int(edge_attr.get("id")),
            edge_born=_opt_int(edge_attr.get("born"), 0),
            lr=_fill(edge_attr.get("lr"), 1.0),
            inputs=inputs,
            outputs=outputs,
            tags=tags,
            next_edge=G.graph.get("next_edge_id"),
            next_neuron=G.graph.get("next_neuron_id"),
            step=int(G.graph.get("step", 0)),
            seed=seed,
            edges_unique=True,
            draw_missing=True,
        )
    except GraphError as err:
        # build_graph names neurons by id; name a cycle by the caller's node labels instead.
        if not nx.is_directed_acyclic_graph(G):
            cycle = nx.find_cycle(G)
            path = " -> ".join(str(u) for u, _ in cycle) + f" -> {cycle[0][0]}"
            raise GraphError(f"the graph has a cycle: {path}") from err
        raise
    return g


def _labels(given: Any, key_of: dict | None, what: str) -> list[int] | None:
    """Node labels listed in ``G.graph[what]`` as neuron ids, or a GraphError naming the label."""
    if given is None:
        return None
    if isinstance(given, (str, bytes)) or not hasattr(given, "__iter__"):
        raise GraphError(f"G.graph[{what!r}] must be a list of node labels, got {given!r}")
    out = []
    for n in given:
        if key_of is not None:
            if n not in key_of:
                raise GraphError(f"G.graph[{what!r}] lists {n!r}, which is not a node")
            out.append(key_of[n])
        elif isinstance(n, (int, np.integer)) and not isinstance(n, bool):
            out.append(int(n))
        else:
            raise GraphError(f"G.graph[{what!r}] lists {n!r}, which is not a node")
    return out


def _fill(arr: np.ndarray | None, default: float | None = None) -> np.ndarray | None:
    """Missing entries (NaN) take ``default``; with no default (weights) they stay NaN and
    :func:`build_graph` draws them."""
    if arr is None:
        return None
    if default is None:
        return None if np.isnan(arr).all() else arr
    return np.where(np.isnan(arr), default, arr)


def _opt_int(arr: np.ndarray | None, default: int | None = None) -> np.ndarray | None:
    if arr is None:
        return None
    if default is not None:
        arr = np.where(np.isnan(arr), default, arr)
    return arr.astype(np.int64)


def _columns(items, n: int, keys, what: str, ids: np.ndarray, tags: dict, labels: list) -> dict:
    """Known attributes as arrays (NaN / None where missing); other scalars into ``tags``."""
    out: dict[str, Any] = {}
    numeric = {"level", "bias", "born"}
    for i, (label, d) in enumerate(items):
        for k, v in d.items():
            if k in keys:
                if k not in out:
                    out[k] = np.full(n, np.nan) if k in numeric else [None] * n
                if k in numeric and not _finite_number(v, integral=k != "bias"):
                    kind = "a finite number" if k == "bias" else "an integer"
                    raise GraphError(f"{what} {label!r} has {k}={v!r}; expected {kind}")
                out[k][i] = v
            elif isinstance(v, _SCALAR):
                tags.setdefault(k, {})[int(ids[i])] = v.item() if isinstance(v, np.generic) else v
            else:
                raise GraphError(
                    f"{what} {label!r} attribute {k!r} is a {type(v).__name__}; only bool, int, "
                    f"float and str attributes are kept (drop it before converting)"
                )
    # A missing activation is filled in by from_networkx, once the roles are known.
    if "role" in out:
        missing = [labels[i] for i, v in enumerate(out["role"]) if v is None]
        if missing:
            raise GraphError(
                f"node {missing[0]!r} has no 'role' while others do; give it on every node or on none"
            )
    return out


def _finite_number(v: Any, integral: bool) -> bool:
    if isinstance(v, str) or not isinstance(v, _SCALAR):
        return False
    if isinstance(v, (float, np.floating)):
        return math.isfinite(v) and (not integral or float(v).is_integer())
    return True


def _fill_activations(
    acts: list,
    roles: list | None,
    ids: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    listed: list[int],
) -> list:
    """Missing activations take the default of the neuron's role. Without a ``role`` attribute
    the role follows build_graph's rule: a node listed as input or output, or without an in- or
    an out-edge, is not hidden."""
    from .vocab import default_activation

    if roles is None:
        order = np.argsort(ids, kind="stable")
        pos = lambda x: order[np.searchsorted(ids[order], np.asarray(x, np.int64))]  # noqa: E731
        has_in = np.bincount(pos(dst), minlength=ids.size) > 0
        hidden = has_in & (np.bincount(pos(src), minlength=ids.size) > 0)
        hidden[pos(np.intersect1d(listed, ids))] = False
        roles = ["hidden" if h else "input" for h in hidden.tolist()]
    return [a if a is not None else default_activation(r) for a, r in zip(acts, roles)]


def _edge_columns(edge_data: list[dict], G: nx.DiGraph) -> tuple[dict[str, np.ndarray], set]:
    """Known edge attributes as float arrays, NaN where an edge lacks one, and the set of all
    attribute names. A value that is there must be a finite number (a NaN weight is refused,
    not taken for a missing one). The common cases (every edge has the same known attributes,
    or none) take one C-level pass per attribute plus one to count them."""
    E = len(edge_data)
    full = {}
    for k in _EDGE_KEYS:
        try:
            full[k] = np.fromiter(map(operator.itemgetter(k), edge_data), np.float64, E)
        except KeyError:  # some edge lacks it
            continue
        except (TypeError, ValueError):  # a value that is not a number: found below
            break
    else:
        if sum(map(len, edge_data)) == E * len(full):  # nothing else on any edge
            return _finite_columns(full, edge_data, G), set(full)
    keys = set(itertools.chain.from_iterable(edge_data))
    out = {}
    for k in _EDGE_KEYS:
        if k not in keys:
            continue
        try:
            vals = np.fromiter((d.get(k, np.nan) for d in edge_data), np.float64, E)
        except (TypeError, ValueError):
            vals = None
        out[k] = vals
    return _finite_columns(out, edge_data, G), keys


def _finite_columns(cols: dict, edge_data: list[dict], G: nx.DiGraph) -> dict[str, np.ndarray]:
    """Refuse a present value that is not a finite number, naming the edge."""
    for k, vals in cols.items():
        if vals is None or not np.isfinite(vals).all():
            for j, d in enumerate(edge_data):
                if k in d and not _finite_number(d[k], integral=False):
                    pairs = ((u, v) for u, nbrs in G._adj.items() for v in nbrs)
                    u, v = next(itertools.islice(pairs, j, None))
                    raise GraphError(
                        f"edge {u!r}->{v!r} has {k} {d[k]!r}; {k} must be a finite number"
                    )
    return cols


def _extra_edge_tags(edge_data: list[dict], ids: np.ndarray | None) -> dict:
    tags: dict[str, dict] = {}
    for j, d in enumerate(edge_data):
        if len(d) <= len(_EDGE_KEYS) and all(k in _EDGE_KEYS for k in d):
            continue
        for k, v in d.items():
            if k in _EDGE_KEYS:
                continue
            if not isinstance(v, _SCALAR):
                raise GraphError(
                    f"edge attribute {k!r} is a {type(v).__name__}; only bool, int, float and str "
                    "attributes are kept (drop it before converting)"
                )
            if ids is not None:
                tags.setdefault(k, {})[int(ids[j])] = v.item() if isinstance(v, np.generic) else v
    return tags
