"""Assembling neuron graphs from arrays: the engine behind :func:`from_edges`, the networkx
and PyG importers and the HDF5 loader, with the documented rules for whatever is not given."""

from __future__ import annotations

from typing import Any

import numpy as np

from .columns import Columns
from .errors import GraphError
from .graph import NeuronGraph
from .keyindex import MAX_NEURON_ID
from .levels import longest_path_levels
from .schema import EDGE_DTYPES, NEURON_DTYPES, as_ids, as_int, as_numbers, as_values
from .validate import check_graph
from .vocab import ACTIVATIONS, HIDDEN, INPUT, OUTPUT, ROLES

__all__ = ["assemble", "build_graph", "from_edges", "init_weights", "sparse_id_limit"]


def init_weights(dst_pos: np.ndarray, num: int, rng: np.random.Generator) -> np.ndarray:
    """Initial weights scaled by each destination's fan-in, as a fresh ``nn.Linear`` would:
    uniform on ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` where ``fan_in`` counts the edges that
    actually enter the neuron (so sparse neurons are not under-scaled).

    Examples
    --------
    >>> w = init_weights(np.array([0, 0, 0, 0]), 1, np.random.default_rng(0))
    >>> bool(np.all(np.abs(w) <= 0.5))
    True
    """
    fan_in = np.bincount(dst_pos, minlength=num).astype(np.float32)
    w = rng.random(dst_pos.size, dtype=np.float32)
    w *= 2.0
    w -= 1.0
    w /= np.sqrt(np.maximum(fan_in, 1.0))[dst_pos]
    return w


def assemble(
    neurons: dict[str, np.ndarray],
    edges: dict[str, np.ndarray],
    inputs: list[int],
    outputs: list[int],
    tags: dict | None = None,
    next_edge: int | None = None,
    step: int = 0,
    check: bool = True,
    edges_unique: bool = False,
) -> NeuronGraph:
    """Build a graph straight from its arrays (neurons indexed by id) and check it."""
    g = NeuronGraph()
    g._neurons = Columns.from_arrays(NEURON_DTYPES, neurons)
    g._edges = Columns.from_arrays(EDGE_DTYPES, edges)
    g._inputs, g._outputs = list(inputs), list(outputs)
    if tags:
        g._tags = {
            on: {k: dict(t) for k, t in tags.get(on, {}).items()} for on in ("neuron", "edge")
        }
    ids = g._edges.view("id")
    g._next_edge = (
        int(next_edge) if next_edge is not None else (int(ids[-1]) + 1 if ids.size else 0)
    )
    g.step = int(step)
    if check:
        check_graph(g, edges_unique=edges_unique)
    return g


def _codes(values: Any, vocab: tuple[str, ...], what: str, ids: np.ndarray) -> np.ndarray:
    """Role or activation codes from names or codes, naming the neuron of a bad one."""
    n = ids.size
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise GraphError(f"{what} has shape {arr.shape}, expected ({n},)")
    if arr.dtype.kind in "iu":
        bad = np.flatnonzero((arr < 0) | (arr >= len(vocab)))
        if bad.size:
            i = int(bad[0])
            raise GraphError(
                f"neuron {int(ids[i])}: {what} code {int(arr[i])} is not one of "
                f"0..{len(vocab) - 1} ({', '.join(vocab)})"
            )
        return arr.astype(np.int8)
    lookup = {name: i for i, name in enumerate(vocab)}
    out = np.empty(n, np.int8)
    for i, v in enumerate(arr.tolist()):
        if v not in lookup:
            raise GraphError(
                f"neuron {int(ids[i])}: unknown {what} {v!r}; expected one of {', '.join(vocab)}"
            )
        out[i] = lookup[v]
    return out


def build_graph(
    ids: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    *,
    weight: Any = None,
    level: Any = None,
    role: Any = None,
    activation: Any = None,
    bias: Any = None,
    born: Any = None,
    edge_id: Any = None,
    edge_born: Any = None,
    lr: Any = None,
    inputs: Any = None,
    outputs: Any = None,
    tags: dict | None = None,
    next_edge: int | None = None,
    next_neuron: int | None = None,
    step: int = 0,
    seed: int = 0,
    edges_unique: bool = False,
    draw_missing: bool = False,
) -> NeuronGraph:
    """The engine behind :func:`from_edges`, ``from_networkx`` and ``from_pyg``: neuron ``ids``
    (any distinct non-negative ints), edges as id arrays, every attribute optional.
    ``draw_missing=True`` reads a NaN weight as "none given" and draws it like a missing one."""
    ids = np.asarray(ids, np.int64)
    n = ids.size
    src, dst = np.asarray(src, np.int64), np.asarray(dst, np.int64)
    if src.shape != dst.shape or src.ndim != 1:
        raise GraphError(
            f"src and dst must be 1-d arrays of one length, got {src.shape} and {dst.shape}"
        )
    if n and (ids.min() < 0 or ids.max() > MAX_NEURON_ID):
        raise GraphError(
            f"neuron ids must lie in [0, {MAX_NEURON_ID}], got {int(ids.min())}..{int(ids.max())}"
        )
    spos, dpos = _positions(ids, src, dst)  # positions in the caller's ``ids`` order
    if role is None:
        has_in = np.bincount(dpos, minlength=n) > 0
        has_out = np.bincount(spos, minlength=n) > 0
        rc = np.where(~has_in, INPUT, np.where(~has_out, OUTPUT, HIDDEN)).astype(np.int8)
    else:
        rc = _codes(role, ROLES, "role", ids)
    pos_of = (
        {int(i): p for p, i in enumerate(ids.tolist())}
        if (inputs is not None or outputs is not None)
        else None
    )
    io = {}
    for name, given, code in (("inputs", inputs, INPUT), ("outputs", outputs, OUTPUT)):
        if given is None:
            io[name] = ids[rc == code][np.argsort(ids[rc == code], kind="stable")].tolist()
            continue
        given = [int(i) for i in given]
        missing = [i for i in given if i not in pos_of]
        if missing:
            raise GraphError(f"{name} lists unknown neuron {missing[0]}")
        if role is None:
            rc[[pos_of[i] for i in given]] = code
        io[name] = given
    if level is None:
        lv = longest_path_levels(n, spos, dpos, rc == INPUT)
        outs, hid = rc == OUTPUT, rc == HIDDEN
        if outs.any():
            lv[outs] = max(int(lv[outs].max()), int(lv[hid].max()) + 1 if hid.any() else 1)
    else:
        lv = as_values(level, n, np.int64, "level")
    if activation is None:
        act = np.where(rc == HIDDEN, ACTIVATIONS.index("relu"), 0).astype(np.int8)
    else:
        act = _codes(activation, ACTIVATIONS, "activation", ids)
    rng = np.random.default_rng(as_int(seed, "seed", lo=0))
    if weight is None:
        w = init_weights(dpos, n, rng)
    else:
        w = as_numbers(weight, "weight")
        if w.shape != src.shape:
            raise GraphError(f"weight has shape {w.shape}, expected {src.shape}")
        if draw_missing:
            missing = np.isnan(w)
            if missing.any():
                w = np.where(missing, init_weights(dpos, n, rng), w)
        bad = np.flatnonzero(~np.isfinite(w))
        if bad.size:
            i = int(bad[0])
            raise GraphError(
                f"edge {int(src[i])}->{int(dst[i])} has weight {w[i]}; weights must be finite"
            )
    size = max(int(ids.max()) + 1 if n else 0, int(next_neuron or 0))
    if next_neuron is None and size > sparse_id_limit(n):  # foreign ids, not a graphnet export
        raise GraphError(
            f"neuron ids reach {size - 1} for {n} neurons; neuron attributes are arrays indexed "
            f"by id, so ids may reach at most {sparse_id_limit(n) - 1} here: renumber the neurons"
        )
    dense = lambda vals, dt, fill: _scatter(size, ids, vals, dt, fill)  # noqa: E731
    m = src.size
    eid = (
        np.arange(m, dtype=np.int64)
        if edge_id is None
        else as_values(edge_id, m, np.int64, "edge id")
    )
    born = None if born is None else as_values(born, n, np.int64, "born")
    edge_born = None if edge_born is None else as_values(edge_born, m, np.int64, "edge born")
    eorder = (
        np.argsort(eid, kind="stable") if eid.size > 1 and np.any(eid[1:] <= eid[:-1]) else None
    )
    pick = (lambda a: a) if eorder is None else (lambda a: np.asarray(a)[eorder])  # noqa: E731
    full = lambda v, fill, m: np.full(m, fill) if v is None else np.asarray(v)  # noqa: E731
    return assemble(
        neurons={
            "level": dense(lv, np.int64, 0),
            "role": dense(rc, np.int8, 1),
            "activation": dense(act, np.int8, 0),
            "bias": dense(full(bias, 0.0, n), np.float32, 0),
            "born": dense(full(born, 0, n), np.int64, 0),
            "alive": dense(np.ones(n, bool), bool, False),
        },
        edges={
            "id": pick(eid),
            "src": pick(src),
            "dst": pick(dst),
            "weight": pick(w),
            "born": pick(full(edge_born, 0, src.size)),
            "lr": pick(full(lr, 1.0, src.size)),
        },
        inputs=io["inputs"],
        outputs=io["outputs"],
        tags=tags,
        next_edge=next_edge,
        step=step,
        edges_unique=edges_unique,
    )


def sparse_id_limit(num_neurons: int) -> int:
    """How far neuron ids may reach for ``num_neurons`` neurons (arrays are indexed by id).

    Examples
    --------
    >>> sparse_id_limit(10)
    1048736
    """
    return 16 * num_neurons + (1 << 20)


def _positions(ids: np.ndarray, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map edge endpoints (neuron ids) to positions in ``ids``, refusing unknown and repeated
    ids. Dense ids use a lookup table (O(V + E)); sparse ones a binary search."""
    n = ids.size
    srt = np.sort(ids)
    twice = np.flatnonzero(srt[1:] == srt[:-1]) if n > 1 else ()
    if len(twice):
        raise GraphError(f"neuron {int(srt[twice[0]])} is given twice")
    if n and srt[0] == 0 and srt[-1] == n - 1 and np.array_equal(ids, srt):
        # ids are 0..n-1 in order: a position is the id itself, once it is known to be in range

        def lookup(a: np.ndarray) -> np.ndarray:
            if a.size == 0 or (a.min() >= 0 and a.max() < n):
                return a
            return np.where((a >= 0) & (a < n), a, -1)
    elif n and srt[-1] <= 4 * n + 1024:
        table = np.full(int(srt[-1]) + 1, -1, np.int64)
        table[ids] = np.arange(n, dtype=np.int64)

        def lookup(a: np.ndarray) -> np.ndarray:
            inside = (a >= 0) & (a < table.size)
            return np.where(inside, table[np.where(inside, a, 0)], -1)
    else:
        order = np.argsort(ids, kind="stable")

        def lookup(a: np.ndarray) -> np.ndarray:
            if n == 0:
                return np.full(a.size, -1, np.int64)
            at = np.minimum(np.searchsorted(srt, a), n - 1)
            return np.where(srt[at] == a, order[at], -1)

    out = []
    for arr in (src, dst):
        pos = lookup(arr)
        bad = np.flatnonzero(pos < 0)
        if bad.size:
            i = int(bad[0])
            raise GraphError(f"edge {int(src[i])}->{int(dst[i])}: unknown neuron {int(arr[i])}")
        out.append(pos)
    return out[0], out[1]


def _scatter(size: int, ids: np.ndarray, vals: np.ndarray, dtype, fill) -> np.ndarray:
    out = np.full(size, fill, dtype=dtype)
    out[ids] = vals
    return out


def _endpoint_ids(x: Any, what: str) -> np.ndarray:
    """Edge endpoints as int64 neuron ids in ``0..MAX_NEURON_ID``, checked before anything
    is allocated for them (floats and strings are refused, not truncated or parsed)."""
    arr = np.asarray(x)
    ids = as_ids(arr.ravel() if arr.ndim > 1 else arr, what)
    if ids.size:
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0:
            raise GraphError(f"{what} holds the negative neuron id {lo}; ids start at 0")
        if hi > MAX_NEURON_ID:
            raise GraphError(f"{what} holds neuron id {hi}, above the largest id {MAX_NEURON_ID}")
    return ids


def from_edges(
    src: Any,
    dst: Any,
    weight: Any = None,
    *,
    num_neurons: int | None = None,
    level: Any = None,
    role: Any = None,
    activation: Any = None,
    bias: Any = None,
    inputs: Any = None,
    outputs: Any = None,
    seed: int = 0,
) -> NeuronGraph:
    """Build a graph from edge arrays; neurons are ``0..num_neurons-1``.

    Rules for what is not given: a neuron with no incoming edge is an input, one with no
    outgoing edge (and some incoming) an output, every other one hidden; an isolated neuron is
    an input. ``inputs``/``outputs`` fix the tensor order (default: ascending id) and, without
    ``role``, the roles of the neurons they list. Levels are longest-path depths from the inputs
    (hidden neurons with no input start on level 1), with all outputs on the top level.
    Activations default to ``relu`` for hidden neurons and ``identity`` otherwise; biases to 0;
    missing weights to the fan-in scaled initialisation of :func:`init_weights` with ``seed``.

    Raises
    ------
    GraphError
        For a cycle (named), an unknown neuron, a NaN weight, a duplicate edge, or attributes
        that break an invariant.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.from_edges([0, 1, 2, 0], [2, 2, 3, 3], [0.5, -0.5, 1.0, 0.1])
    >>> g.inputs, g.outputs, g.neuron_attr("level").tolist()
    ([0, 1], [3], [0, 0, 1, 2])
    """
    src, dst = _endpoint_ids(src, "src"), _endpoint_ids(dst, "dst")
    top = int(max(src.max(initial=-1), dst.max(initial=-1))) + 1
    num = top if num_neurons is None else as_int(num_neurons, "num_neurons", lo=0)
    if num - 1 > MAX_NEURON_ID:
        raise GraphError(f"num_neurons={num} exceeds the largest neuron id {MAX_NEURON_ID} + 1")
    if num < top:
        raise GraphError(f"num_neurons={num} but the edges name neuron {top - 1}")
    return build_graph(
        np.arange(num),
        src,
        dst,
        weight=weight,
        level=level,
        role=role,
        activation=activation,
        bias=bias,
        inputs=inputs,
        outputs=outputs,
        seed=seed,
    )
