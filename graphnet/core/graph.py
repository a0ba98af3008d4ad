"""The canonical model: :class:`NeuronGraph`, a DAG of neurons and weighted edges in arrays.

Neurons have stable integer ids that are never reused; their attributes live in arrays indexed
by id. Edges have stable ids too and live in arrays in id order. Every edge rises from a lower
level to a higher one, which keeps the graph acyclic by construction. Every edit validates its
arguments before it changes anything (a refused edit leaves the graph as it was) and appends a
record to ``g.log``. The edits live in :mod:`.neuron_edits` and :mod:`.edge_edits`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import validate
from .columns import Columns
from .edge_edits import EdgeEdits
from .editlog import EditLog
from .errors import GraphError
from .keyindex import KeyIndex, edge_keys
from .neuron_edits import NeuronEdits
from .schema import (
    EDGE_DTYPES,
    MAX_INT_VALUE,
    NEURON_DTYPES,
    TagValue,
    as_ids,
    as_values,
    first_repeat,
)
from .vocab import ACTIVATIONS, ROLES

__all__ = ["NeuronGraph", "NEURON_DTYPES", "EDGE_DTYPES"]


class NeuronGraph(NeuronEdits, EdgeEdits):
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
        self._step = 0
        self.log = EditLog()

    @property
    def step(self) -> int:
        """The training step that new neurons and edges record as ``born`` and the log records.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.NeuronGraph(); g.step = 120; g.step
        120
        """
        return self._step

    @step.setter
    def step(self, value: int) -> None:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, np.integer))
            or not 0 <= value <= MAX_INT_VALUE
        ):
            raise GraphError(f"step must be a whole number in [0, 2**53], got {value!r}")
        self._step = int(value)

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
        ids = self.neuron_ids if ids is None else self._live_neurons(as_ids(ids, "ids"))
        return self._neurons.view(name)[ids]

    def neuron(self, n: int) -> dict[str, Any]:
        """All attributes of neuron ``n``, names decoded, tags included.

        Examples
        --------
        >>> import graphnet as gn
        >>> gn.mlp([2, 1], density=1.0, seed=0).neuron(2)
        {'id': 2, 'level': 1, 'role': 'output', 'activation': 'identity', 'bias': 0.0, 'born': 0}
        """
        n = int(self._live_neurons(as_ids(n, "neuron"))[0])
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
        src, dst = as_ids(src, "src"), as_ids(dst, "dst")
        if src.size != dst.size:
            raise GraphError(f"src has {src.size} ids but dst has {dst.size}")
        top = self.next_neuron_id
        known = (src >= 0) & (src < top) & (dst >= 0) & (dst < top)
        pos = self._key_index().lookup(edge_keys(np.where(known, src, 0), np.where(known, dst, 0)))
        pos[~known] = -1
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
        ids = as_ids(ids, f"{on} ids")
        self._check_tag_targets(on, ids)
        vals = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value] * ids.size
        if len(vals) != ids.size:
            raise GraphError(f"{len(vals)} tag values given for {ids.size} ids")
        vals = [v.item() if isinstance(v, np.generic) else v for v in vals]
        for i, v in zip(ids.tolist(), vals):
            validate.check_tag_value(on, name, i, v)
        if ids.size:
            table.setdefault(str(name), {}).update(zip(ids.tolist(), vals))
        self.log.append("tag", self.step, reason, ids=ids, on=on, name=str(name), value=vals)

    def untag(self, on: str, name: str, ids: Any, *, reason: str = "") -> None:
        """Remove tag ``name`` from the given neurons or edges (ids without it are ignored)."""
        table = self._tag_table(on).get(name, {})
        ids = as_ids(ids, f"{on} ids")
        for i in ids.tolist():
            table.pop(i, None)
        if not table:
            self._tag_table(on).pop(name, None)
        self.log.append("untag", self.step, reason, ids=ids, on=on, name=str(name))

    def write_parameters(
        self,
        edge_ids: Any,
        weights: Any,
        neuron_ids: Any = None,
        biases: Any = None,
    ) -> None:
        """Write trained weights (and biases) onto existing edges (and neurons).

        This is training state, not a structural edit: nothing is appended to the edit log
        (save the graph to keep it). :func:`compilers.sync` calls this.

        Raises
        ------
        GraphError
            Naming the edge or neuron, if an id is unknown or a value is NaN or infinite
            (a diverged training run is not written over the graph).

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 1], density=1.0, seed=0)
        >>> g.write_parameters([0, 1], [0.5, -0.5]); g.edge_list()[2].tolist(), len(g.log)
        ([0.5, -0.5], 0)
        """
        ids = as_ids(edge_ids, "edge ids")
        pos = self._edge_positions(ids)
        w = as_values(weights, ids.size, np.float32, "weights")
        src, dst = self._edges.view("src"), self._edges.view("dst")
        validate.check_finite(
            lambda i: validate.edge_name(int(src[pos[i]]), int(dst[pos[i]]), int(ids[i])),
            w,
            "trained weight",
        )
        if neuron_ids is not None:
            nids = self._live_neurons(as_ids(neuron_ids, "neuron ids"), unique=True)
            b = as_values(biases, nids.size, np.float32, "biases")
            validate.check_finite(lambda i: f"neuron {int(nids[i])}", b, "trained bias")
            bad = np.flatnonzero((self._neurons.view("role")[nids] == 0) & (b != 0))
            if bad.size:
                raise GraphError(f"input neuron {int(nids[bad[0]])} keeps bias 0")
            self._neurons.writable("bias")[nids] = b
        self._edges.writable("weight")[pos] = w

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
        g._next_edge, g._step, g.log = self._next_edge, self._step, self.log.copy()
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
        twice = first_repeat(ids) if unique else None
        if twice is not None:
            raise GraphError(f"neuron {twice} is given twice")
        return ids
