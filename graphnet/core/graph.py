"""The canonical model: :class:`NeuronGraph`, a DAG of neurons and weighted edges in arrays.

Neurons have stable integer ids that are never reused; their attributes live in arrays indexed
by id. Edges have stable ids too and live in arrays in id order. Every edge rises from a lower
level to a higher one, which keeps the graph acyclic by construction. Every edit validates its
arguments before it changes anything (a refused edit leaves the graph as it was) and appends a
record to ``g.log``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import validate
from .columns import Columns
from .editlog import EditLog
from .errors import GraphError
from .keyindex import MAX_NEURON_ID, KeyIndex, edge_keys
from .levels import descendants_mask, plan_lift
from .vocab import (
    ACTIVATIONS,
    HIDDEN,
    INPUT,
    OUTPUT,
    ROLES,
    activation_code,
    default_activation,
    role_code,
)

__all__ = ["NeuronGraph", "NEURON_DTYPES", "EDGE_DTYPES"]

NEURON_DTYPES = {
    "level": np.int64,
    "role": np.int8,
    "activation": np.int8,
    "bias": np.float32,
    "born": np.int64,
    "alive": np.bool_,
}
EDGE_DTYPES = {
    "id": np.int64,
    "src": np.int64,
    "dst": np.int64,
    "weight": np.float32,
    "born": np.int64,
    "lr": np.float32,
}
_NEURON_SETTABLE = ("bias", "activation", "born")
_EDGE_SETTABLE = ("weight", "lr", "born")
TagValue = bool | int | float | str


def _ids(x: Any, what: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(x))
    if arr.size == 0:
        return np.empty(0, np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise GraphError(
            f"{what} must be a 1-d sequence of integer ids, got {arr.dtype} of shape {arr.shape}"
        )
    return arr.astype(np.int64, copy=False)


def _values(x: Any, n: int, dtype: type, what: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64 if dtype is not np.int64 else np.int64)
    except (TypeError, ValueError):
        raise GraphError(f"{what} must be numbers, got {type(x).__name__}") from None
    if arr.ndim == 0:
        arr = np.full(n, arr)
    if arr.shape != (n,):
        raise GraphError(f"{what} has shape {arr.shape}, expected ({n},)")
    with np.errstate(over="ignore"):
        return arr.astype(dtype)


class NeuronGraph:
    """A directed acyclic graph of neurons and weighted edges, stored as arrays.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.NeuronGraph()
    >>> x = g.add_neuron(role="input")
    >>> h = g.add_neuron(level=1, activation="tanh")
    >>> y = g.add_neuron(role="output")
    >>> _ = g.add_edge(x, h, weight=0.5); _ = g.add_edge(h, y, weight=-1.0)
    >>> g
    NeuronGraph(neurons=3, edges=2, levels=3)
    >>> g.inputs, g.outputs
    ([0], [2])
    """

    def __init__(self) -> None:
        self._neurons = Columns(NEURON_DTYPES)
        self._edges = Columns(EDGE_DTYPES)
        self._inputs: list[int] = []
        self._outputs: list[int] = []
        self._tags: dict[str, dict[str, dict[int, TagValue]]] = {"neuron": {}, "edge": {}}
        self._next_edge = 0
        self._index: KeyIndex | None = None
        self.step = 0
        self.log = EditLog()

    # ------------------------------------------------------------------ reading
    @property
    def num_neurons(self) -> int:
        """Number of live neurons."""
        return int(np.count_nonzero(self._neurons.view("alive")))

    @property
    def num_edges(self) -> int:
        """Number of edges."""
        return len(self._edges)

    @property
    def num_levels(self) -> int:
        """One more than the highest level in use (0 for an empty graph)."""
        lv = self._neurons.view("level")[self._neurons.view("alive")]
        return int(lv.max()) + 1 if lv.size else 0

    @property
    def inputs(self) -> list[int]:
        """Input neuron ids in tensor order (column ``i`` of the model's input is ``inputs[i]``)."""
        return list(self._inputs)

    @property
    def outputs(self) -> list[int]:
        """Output neuron ids in tensor order."""
        return list(self._outputs)

    @property
    def neuron_ids(self) -> np.ndarray:
        """Ids of the live neurons, ascending."""
        return np.flatnonzero(self._neurons.view("alive"))

    @property
    def next_neuron_id(self) -> int:
        """The id the next new neuron will get (ids are never reused)."""
        return len(self._neurons)

    @property
    def next_edge_id(self) -> int:
        """The id the next new edge will get (ids are never reused)."""
        return self._next_edge

    def neuron_attr(self, name: str, ids: Any = None) -> np.ndarray:
        """Values of one neuron attribute (``level``, ``role``, ``activation``, ``bias``,
        ``born``) for ``ids`` (default: all live neurons, ascending). Roles and activations come
        as codes into :data:`graphnet.ROLES` and :data:`graphnet.ACTIVATIONS`.

        Examples
        --------
        >>> import graphnet as gn
        >>> gn.mlp([2, 3, 1], density=1.0, seed=0).neuron_attr("level").tolist()
        [0, 0, 1, 1, 1, 2]
        """
        if name not in NEURON_DTYPES or name == "alive":
            raise GraphError(
                f"unknown neuron attribute {name!r}; expected one of {', '.join(list(NEURON_DTYPES)[:-1])}"
            )
        ids = self.neuron_ids if ids is None else self._live_neurons(_ids(ids, "ids"))
        return self._neurons.view(name)[ids]

    def neuron(self, n: int) -> dict[str, Any]:
        """All attributes of neuron ``n``, names decoded, tags included.

        Examples
        --------
        >>> import graphnet as gn
        >>> gn.mlp([2, 1], density=1.0, seed=0).neuron(2)
        {'id': 2, 'level': 1, 'role': 'output', 'activation': 'identity', 'bias': 0.0, 'born': 0}
        """
        n = int(self._live_neurons(_ids(n, "neuron"))[0])
        col = self._neurons.view
        out = {
            "id": n,
            "level": int(col("level")[n]),
            "role": ROLES[col("role")[n]],
            "activation": ACTIVATIONS[col("activation")[n]],
            "bias": float(col("bias")[n]),
            "born": int(col("born")[n]),
        }
        out.update({k: t[n] for k, t in self._tags["neuron"].items() if n in t})
        return out

    def edge_attr(self, name: str) -> np.ndarray:
        """Read-only array of one edge attribute (``id``, ``src``, ``dst``, ``weight``, ``born``,
        ``lr``), in edge-id order; valid until the next edit.

        Examples
        --------
        >>> import graphnet as gn
        >>> gn.mlp([2, 1], density=1.0, seed=0).edge_attr("id").tolist()
        [0, 1]
        """
        if name not in EDGE_DTYPES:
            raise GraphError(
                f"unknown edge attribute {name!r}; expected one of {', '.join(EDGE_DTYPES)}"
            )
        return self._edges.view(name)

    def edge_list(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(src, dst, weight)`` as read-only numpy arrays in edge-id order.

        Examples
        --------
        >>> import graphnet as gn
        >>> src, dst, w = gn.mlp([2, 1], density=1.0, seed=0).edge_list()
        >>> src.tolist(), dst.tolist()
        ([0, 1], [2, 2])
        """
        e = self._edges
        return e.view("src"), e.view("dst"), e.view("weight")

    def edge_ids(self, src: Any, dst: Any) -> np.ndarray:
        """Id of the edge ``src[i]->dst[i]`` for each ``i``, -1 where there is none.

        Examples
        --------
        >>> import graphnet as gn
        >>> gn.mlp([2, 1], density=1.0, seed=0).edge_ids([0, 2], [2, 0]).tolist()
        [0, -1]
        """
        src, dst = _ids(src, "src"), _ids(dst, "dst")
        pos = self._key_index().lookup(edge_keys(src, dst))
        return np.where(
            pos >= 0, self._edges.view("id")[np.maximum(pos, 0)] if len(self._edges) else -1, -1
        )

    def has_edge(self, src: int, dst: int) -> bool:
        """Whether the edge ``src->dst`` exists."""
        return bool(self.edge_ids(src, dst)[0] >= 0)

    def tags(self, on: str, name: str) -> dict[int, TagValue]:
        """A copy of one tag: ``{id: value}`` over neurons (``on="neuron"``) or edges.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 1], density=1.0, seed=0)
        >>> g.tag("neuron", "patch", [2])
        >>> g.tags("neuron", "patch")
        {2: True}
        """
        return dict(self._tag_table(on).get(name, {}))

    def tag_names(self, on: str) -> list[str]:
        """Names of the tags in use on neurons or edges."""
        return sorted(self._tag_table(on))

    # ------------------------------------------------------------------ editing
    def add_neuron(
        self,
        level: int | None = None,
        role: str = "hidden",
        activation: str | None = None,
        bias: float = 0.0,
        *,
        reason: str = "",
    ) -> int:
        """Add one neuron and return its id. See :meth:`add_neurons` for the rules.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 3, 1], density=1.0, seed=0)
        >>> g.add_neuron(level=1, activation="tanh")
        6
        """
        return int(
            self.add_neurons(
                1, level=level, role=role, activation=activation, bias=bias, reason=reason
            )[0]
        )

    def add_neurons(
        self,
        count: int,
        *,
        level: Any = None,
        role: str = "hidden",
        activation: str | Sequence[str] | None = None,
        bias: Any = 0.0,
        reason: str = "",
    ) -> np.ndarray:
        """Add ``count`` neurons of one role; return their new ids.

        Inputs sit on level 0 (identity, bias 0) and are appended to ``g.inputs``. Outputs share
        the top level (``level=None`` picks it) and are appended to ``g.outputs``. Hidden
        neurons need a level between the inputs and the outputs; to make room above, lift the
        outputs first (``g.lift(g.outputs)``). ``activation=None`` gives the role's default.

        Raises
        ------
        GraphError
            For an unknown role or activation, a level the role may not take, or a NaN bias.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 3, 1], density=1.0, seed=0)
        >>> g.add_neurons(2, level=1).tolist()
        [6, 7]
        """
        if not isinstance(count, numbers.Integral) or count < 0:
            raise GraphError(f"count must be a non-negative integer, got {count!r}")
        rc = role_code(role)
        level = self._levels_for(rc, count, level)
        if activation is None or isinstance(activation, str):
            acts = np.full(count, activation_code(activation or default_activation(role)), np.int8)
        else:
            if len(activation) != count:
                raise GraphError(f"{len(activation)} activations given for {count} neurons")
            acts = np.array([activation_code(a) for a in activation], np.int8)
        bias = _values(bias, count, np.float32, "bias")
        start = self.next_neuron_id
        validate.check_finite(lambda i: f"new neuron {start + i}", bias, "bias")
        if rc == INPUT and (np.any(acts != 0) or np.any(bias != 0)):
            raise GraphError(
                "input neurons take activation 'identity' and bias 0: they pass the input through"
            )
        if start + count - 1 > MAX_NEURON_ID:
            raise GraphError(f"neuron ids would pass the largest id {MAX_NEURON_ID}")
        ids = np.arange(start, start + count, dtype=np.int64)
        self._neurons.append(
            {
                "level": level,
                "role": rc,
                "activation": acts,
                "bias": bias,
                "born": self.step,
                "alive": True,
            }
        )
        (self._inputs if rc == INPUT else self._outputs if rc == OUTPUT else []).extend(
            ids.tolist()
        )
        self.log.append(
            "add_neurons",
            self.step,
            reason,
            ids=ids,
            level=level,
            role=role,
            activation=acts,
            bias=bias,
        )
        return ids

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
        src, dst = _ids(src, "src"), _ids(dst, "dst")
        k = src.size
        weight = _values(weight, k, np.float32, "weight")
        lr = _values(lr, k, np.float32, "lr")
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
        ids = _ids(ids, "edge ids")
        pos = self._edge_positions(ids)
        keep = np.ones(len(self._edges), bool)
        keep[pos] = False
        self._drop_edges(keep)
        self.log.append("remove_edges", self.step, reason, ids=ids)

    def remove_neuron(
        self, n: int, *, cascade: bool = False, change_io: bool = False, reason: str = ""
    ) -> None:
        """Remove neuron ``n``. See :meth:`remove_neurons`.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 3, 1], density=1.0, seed=0)
        >>> g.remove_neuron(2, cascade=True); g.num_neurons, g.num_edges
        (5, 6)
        """
        self.remove_neurons([n], cascade=cascade, change_io=change_io, reason=reason)

    def remove_neurons(
        self, ids: Any, *, cascade: bool = False, change_io: bool = False, reason: str = ""
    ) -> None:
        """Remove neurons by id; their ids are retired, never reused.

        A neuron that still has edges is refused unless ``cascade=True`` (which removes them
        too). Removing an input or output changes the model's tensor sizes and is refused
        unless ``change_io=True``.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 3, 1], density=1.0, seed=0)
        >>> g.remove_neurons([0], cascade=True)
        Traceback (most recent call last):
        ...
        graphnet.core.errors.GraphError: neuron 0 is input 0 of 2: removing it changes the model's input size; pass change_io=True
        """
        ids = self._live_neurons(_ids(ids, "neuron ids"), unique=True)
        role = self._neurons.view("role")[ids]
        if not change_io:
            for code, lst, what in (
                (INPUT, self._inputs, "input"),
                (OUTPUT, self._outputs, "output"),
            ):
                hit = np.flatnonzero(role == code)
                if hit.size:
                    n = int(ids[hit[0]])
                    raise GraphError(
                        f"neuron {n} is {what} {lst.index(n)} of {len(lst)}: removing it "
                        f"changes the model's {what} size; pass change_io=True"
                    )
        gone = np.zeros(self.next_neuron_id, bool)
        gone[ids] = True
        touch = gone[self._edges.view("src")] | gone[self._edges.view("dst")]
        if touch.any() and not cascade:
            src, dst = self._edges.view("src"), self._edges.view("dst")
            e = int(np.flatnonzero(touch)[0])
            n = int(src[e]) if gone[src[e]] else int(dst[e])
            cnt = int(np.count_nonzero((src == n) | (dst == n)))
            raise GraphError(
                f"neuron {n} still has {cnt} edges; pass cascade=True to remove them with it"
            )
        if touch.any():
            self._drop_edges(~touch)
        self._neurons.writable("alive")[ids] = False
        for table in self._tags["neuron"].values():
            for n in ids.tolist():
                table.pop(n, None)
        self._inputs = [n for n in self._inputs if not gone[n]]
        self._outputs = [n for n in self._outputs if not gone[n]]
        self.log.append(
            "remove_neurons",
            self.step,
            reason,
            ids=ids,
            cascade=bool(cascade),
            change_io=bool(change_io),
        )

    def lift(self, neurons: Any, by: int = 1, *, reason: str = "") -> np.ndarray:
        """Raise ``neurons`` and all their descendants by ``by`` levels; return the ids that moved.

        Every edge still rises afterwards. If a lifted neuron reaches the outputs' level, all
        outputs move up so that they keep the top level to themselves. Growth uses this to make
        room for an edge or a neuron between two levels.

        Raises
        ------
        GraphError
            If an input would be lifted, or a neuron is unknown.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 2, 1], density=1.0, seed=0)
        >>> g.lift([2]).tolist()            # neuron 2 and the output 4 rise one level
        [2, 4]
        """
        neurons = self._live_neurons(_ids(neurons, "neurons"))
        if not isinstance(by, numbers.Integral):
            raise GraphError(f"by must be an integer, got {by!r}")
        n = self._neurons
        e = self._edges
        new = plan_lift(
            n.view("level"),
            n.view("role"),
            n.view("alive"),
            e.view("src"),
            e.view("dst"),
            neurons,
            int(by),
        )
        moved = np.flatnonzero(new != n.view("level"))
        n.writable("level")[:] = new
        self.log.append("lift", self.step, reason, ids=moved, neurons=neurons, by=int(by))
        return moved

    def set_neuron_attr(self, name: str, ids: Any, values: Any, *, reason: str = "") -> None:
        """Set ``bias``, ``activation`` (names) or ``born`` of neurons.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 2, 1], density=1.0, seed=0)
        >>> g.set_neuron_attr("activation", [2, 3], "tanh"); g.neuron(2)["activation"]
        'tanh'
        """
        if name not in _NEURON_SETTABLE:
            raise GraphError(
                f"neuron attribute {name!r} cannot be set; settable: {', '.join(_NEURON_SETTABLE)} "
                "(levels change through lift)"
            )
        ids = self._live_neurons(_ids(ids, "neuron ids"))
        if name == "activation":
            vals = ([values] * ids.size) if isinstance(values, str) else list(values)
            if len(vals) != ids.size:
                raise GraphError(f"{len(vals)} activations given for {ids.size} neurons")
            arr = np.array([activation_code(v) for v in vals], np.int8)
        else:
            arr = _values(values, ids.size, NEURON_DTYPES[name], name)
            validate.check_finite(
                lambda i: f"neuron {int(ids[i])}", arr, name, nonneg=name == "born"
            )
        bad = np.flatnonzero((self._neurons.view("role")[ids] == INPUT) & (arr != 0))
        if bad.size and name != "born":
            raise GraphError(
                f"input neuron {int(ids[bad[0]])} keeps activation 'identity' and bias 0"
            )
        self._neurons.writable(name)[ids] = arr
        self.log.append(
            "set_neuron_attr",
            self.step,
            reason,
            ids=ids,
            name=name,
            values=arr if name != "activation" else np.array([ACTIVATIONS[c] for c in arr]),
        )

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
        ids = _ids(ids, "edge ids")
        pos = self._edge_positions(ids, unique=False)
        arr = _values(values, ids.size, EDGE_DTYPES[name], name)
        src, dst = self._edges.view("src"), self._edges.view("dst")
        validate.check_finite(
            lambda i: validate.edge_name(int(src[pos[i]]), int(dst[pos[i]]), int(ids[i])),
            arr,
            name,
            nonneg=name != "weight",
        )
        self._edges.writable(name)[pos] = arr
        self.log.append("set_edge_attr", self.step, reason, ids=ids, name=name, values=arr)

    def tag(self, on: str, name: str, ids: Any, value: Any = True, *, reason: str = "") -> None:
        """Tag neurons or edges: ``value`` (one, or one per id) is a bool, int, float or str.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 1], density=1.0, seed=0)
        >>> g.tag("edge", "frozen", [1]); g.tags("edge", "frozen")
        {1: True}
        """
        table = self._tag_table(on)
        ids = _ids(ids, f"{on} ids")
        self._check_tag_targets(on, ids)
        vals = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value] * ids.size
        if len(vals) != ids.size:
            raise GraphError(f"{len(vals)} tag values given for {ids.size} ids")
        vals = [v.item() if isinstance(v, np.generic) else v for v in vals]
        for v in vals:
            if not isinstance(v, (bool, int, float, str)) or (
                isinstance(v, float) and not np.isfinite(v)
            ):
                raise GraphError(
                    f"tag {name!r} value {v!r} is not a finite bool, int, float or str"
                )
        table.setdefault(str(name), {}).update(zip(ids.tolist(), vals))
        self.log.append("tag", self.step, reason, ids=ids, on=on, name=str(name), value=vals)

    def untag(self, on: str, name: str, ids: Any, *, reason: str = "") -> None:
        """Remove tag ``name`` from the given neurons or edges (ids without it are ignored)."""
        table = self._tag_table(on).get(name, {})
        ids = _ids(ids, f"{on} ids")
        for i in ids.tolist():
            table.pop(i, None)
        if not table:
            self._tag_table(on).pop(name, None)
        self.log.append("untag", self.step, reason, ids=ids, on=on, name=str(name))

    # ------------------------------------------------------------------ whole graph
    def check(self) -> None:
        """Raise :class:`GraphError` naming the first broken invariant; return None if sound.

        Examples
        --------
        >>> import graphnet as gn
        >>> gn.mlp([4, 3, 2], density=0.5, seed=0).check()
        """
        validate.check_graph(self)

    def copy(self) -> NeuronGraph:
        """An independent copy, edit log included."""
        g = NeuronGraph.__new__(NeuronGraph)
        g._neurons, g._edges = self._neurons.copy(), self._edges.copy()
        g._inputs, g._outputs = list(self._inputs), list(self._outputs)
        g._tags = {on: {k: dict(t) for k, t in tabs.items()} for on, tabs in self._tags.items()}
        g._next_edge, g.step, g.log = self._next_edge, self.step, self.log.copy()
        g._index = None if self._index is None else self._index.copy()
        return g

    def equals(self, other: NeuronGraph) -> bool:
        """Whether two graphs hold the same neurons, edges, ids, attributes, order and tags
        (the edit log and the current step are not compared).

        Examples
        --------
        >>> import graphnet as gn
        >>> gn.mlp([3, 2], 0.5, seed=1).equals(gn.mlp([3, 2], 0.5, seed=1))
        True
        """
        from .describe import first_difference

        return first_difference(self, other) is None

    def summary(self):
        """Neurons per level, edges and density per level pair (see :class:`GraphSummary`)."""
        from .describe import summarize

        return summarize(self)

    def __repr__(self) -> str:
        return f"NeuronGraph(neurons={self.num_neurons}, edges={self.num_edges}, levels={self.num_levels})"

    def __str__(self) -> str:
        return str(self.summary())

    # ------------------------------------------------------------------ internals
    def _tag_table(self, on: str) -> dict[str, dict[int, TagValue]]:
        if on not in self._tags:
            raise GraphError(f"tags go on 'neuron' or 'edge', got {on!r}")
        return self._tags[on]

    def _check_tag_targets(self, on: str, ids: np.ndarray) -> None:
        if on == "neuron":
            self._live_neurons(ids)
        else:
            self._edge_positions(ids, unique=False)

    def _live_neurons(self, ids: np.ndarray, unique: bool = False) -> np.ndarray:
        alive = self._neurons.view("alive")
        bad = np.flatnonzero((ids < 0) | (ids >= alive.size))
        if bad.size:
            raise GraphError(f"unknown neuron {int(ids[bad[0]])}")
        bad = np.flatnonzero(~alive[ids])
        if bad.size:
            raise GraphError(f"neuron {int(ids[bad[0]])} was removed")
        if unique and ids.size > 1:
            s = np.sort(ids)
            twice = np.flatnonzero(s[1:] == s[:-1])
            if twice.size:
                raise GraphError(f"neuron {int(s[twice[0]])} is given twice")
        return ids

    def _edge_positions(self, ids: np.ndarray, unique: bool = True) -> np.ndarray:
        eid = self._edges.view("id")
        pos = np.searchsorted(eid, ids)
        ok = (
            (pos < eid.size) & (eid[np.minimum(pos, max(eid.size - 1, 0))] == ids)
            if eid.size
            else np.zeros(ids.size, bool)
        )
        bad = np.flatnonzero(~ok)
        if bad.size:
            e = int(ids[bad[0]])
            raise GraphError(
                f"edge {e} was removed" if 0 <= e < self._next_edge else f"unknown edge {e}"
            )
        if unique and ids.size > 1:
            s = np.sort(ids)
            twice = np.flatnonzero(s[1:] == s[:-1])
            if twice.size:
                raise GraphError(f"edge {int(s[twice[0]])} is given twice")
        return pos

    def _drop_edges(self, keep: np.ndarray) -> None:
        dropped = self._edges.view("id")[~keep]
        if self._index is not None:
            self._index.keep_rows(keep)
        self._edges.keep(keep)
        if dropped.size:
            for table in self._tags["edge"].values():
                for e in dropped.tolist() if len(table) else ():
                    table.pop(e, None)

    def _key_index(self) -> KeyIndex:
        if self._index is None:
            e = self._edges
            self._index = KeyIndex.build(edge_keys(e.view("src"), e.view("dst")))
        return self._index

    def _levels_for(self, rc: int, count: int, level: Any) -> np.ndarray:
        n = self._neurons
        alive, role, lv = n.view("alive"), n.view("role"), n.view("level")
        outs = alive & (role == OUTPUT)
        hid = alive & (role == HIDDEN)
        top = int(lv[outs].max()) if outs.any() else None
        hmax = int(lv[hid].max()) if hid.any() else 0
        if level is None:
            if rc == HIDDEN:
                raise GraphError("a hidden neuron needs a level (1 or more)")
            level = 0 if rc == INPUT else (top if top is not None else hmax + 1)
        level = _values(level, count, np.int64, "level")
        if rc == INPUT and np.any(level != 0):
            raise GraphError(f"input neurons sit on level 0, got level {int(level[level != 0][0])}")
        if rc == HIDDEN and count:
            if level.min() < 1:
                raise GraphError(
                    f"hidden neurons sit on level 1 or above, got level {int(level.min())}"
                )
            if top is not None and level.max() >= top:
                raise GraphError(
                    f"a hidden neuron on level {int(level.max())} would not lie below the outputs "
                    f"(level {top}); lift the outputs first: g.lift(g.outputs)"
                )
        if rc == OUTPUT and count:
            if np.any(level != level[0]) or (top is not None and level[0] != top):
                raise GraphError(
                    f"outputs share the top level {top if top is not None else int(level[0])}; "
                    f"got level {int(level[level != (top if top is not None else level[0])][0])}"
                )
            if level[0] <= hmax:
                raise GraphError(
                    f"outputs must lie above every hidden neuron (highest on level {hmax}); got level {int(level[0])}"
                )
        return level

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
