"""The base of the learning-rate schedules: the state a schedule reads and how schedules
compose.

A schedule is a small callable: ``schedule(state) -> Multipliers``, one multiplier per edge and
per neuron (bias) of ``state.graph``, relative to the optimizer's learning rate
(``state.base_lr``); :func:`~graphnet.evolution.lr_multipliers.apply_multipliers` applies them
to any torch optimizer. Schedules multiply with :class:`Product` (or ``a * b``) and are
restricted to some kinds of element with :class:`Only`. The seeds' twelve strategies live in
:mod:`~graphnet.evolution.lr_by_kind` and :mod:`~graphnet.evolution.lr_by_level`; users import
everything from :mod:`graphnet.evolution.learning_rates`.

Who is who comes from the graph alone
(:func:`~graphnet.evolution.lr_components.component_of`); when an element was grown, and how
long ago, from the growth events in the state (:meth:`LRState.added`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compilers.module import CompiledGraph
from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.schema import find_sorted
from graphnet.core.vocab import INPUT

from .lr_components import KINDS, Components, component_of
from .lr_multipliers import Multipliers

__all__ = [
    "LRState",
    "Schedule",
    "Product",
    "Only",
    "Constant",
    "both",
    "check_number",
]


def _as_ids(x: Any, what: str) -> np.ndarray:
    if x is not None and np.ndim(x) == 0:
        raise GraphError(f"{what} must be an array of ids, got {x!r} (a count is not enough)")
    try:
        return np.asarray(x if x is not None else [], dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise GraphError(f"{what} must be an array of ids, got {x!r}") from None


@dataclass
class LRState:
    """What a schedule reads: the graph and where training stands.

    ``epoch`` is the epoch about to be trained, ``phase`` its phase's name (``"coarse"``,
    ``"medium"``, ``"fine"``), ``base_lr`` the optimizer's learning rate (absolute rates are
    divided by it). ``events`` are the growth events so far, each a mapping with at least
    ``epoch`` (the epoch at the end of which it grew the network: the grown parts train from
    the next one on) and the ids it added, ``edges_added`` / ``neurons_added`` (arrays of ids,
    e.g. a GrowthReport's; other keys are kept); events after ``epoch`` are ignored. ``step``
    (the graph clock that ``born`` counts in) defaults to ``graph.step``. ``model`` (compiled
    from ``graph``, after ``backward``) is needed only by gradient-based schedules.
    ``scaffold_step``: see :func:`component_of`.
    The state caches what it derives from the graph: make a new one after editing the graph.

    Raises
    ------
    GraphError
        If an event has no ``epoch`` or gives a count instead of ids, or ``base_lr``,
        ``epoch`` or ``phase`` is not valid.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([2, 2, 1], density=1.0, seed=0)
    >>> g.step = 5; e = g.add_edge(0, 4)
    >>> s = LRState(g, epoch=3, events=[{"epoch": 2, "edges_added": [e]}])
    >>> s.added("edge")[0].tolist()  # the epoch each edge was added, -1: not by an event
    [-1, -1, -1, -1, -1, -1, 2]
    """

    graph: NeuronGraph
    epoch: int = 0
    phase: str = "coarse"
    base_lr: float = 1e-3
    events: Sequence[Mapping[str, Any]] = ()
    model: CompiledGraph | None = None
    step: int | None = None
    scaffold_step: int = 0
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.graph, NeuronGraph):
            raise GraphError(f"LRState needs a NeuronGraph, got {type(self.graph).__name__}")
        if not isinstance(self.phase, str):
            raise GraphError(f"phase must be a phase name, got {self.phase!r}")
        check_number("base_lr", self.base_lr, 0.0, open_lo=True)
        if not isinstance(self.epoch, (int, np.integer)) or self.epoch < 0:
            raise GraphError(f"epoch must be a whole number >= 0, got {self.epoch!r}")
        if self.step is None:
            self.step = self.graph.step
        events = []
        for k, ev in enumerate(self.events):
            if not isinstance(ev, Mapping) or not isinstance(ev.get("epoch"), (int, np.integer)):
                raise GraphError(f"growth event {k} needs an 'epoch' (a whole number), got {ev!r}")
            events.append(
                {
                    **ev,
                    "epoch": int(ev["epoch"]),
                    "edges_added": _as_ids(ev.get("edges_added"), f"event {k}'s edges_added"),
                    "neurons_added": _as_ids(ev.get("neurons_added"), f"event {k}'s neurons_added"),
                }
            )
        self.events = events

    @property
    def past_events(self) -> list[dict]:
        """The events at or before ``epoch``, in order."""
        return [ev for ev in self.events if ev["epoch"] <= self.epoch]

    @property
    def components(self) -> Components:
        """:func:`component_of` the graph (with ``scaffold_step``), computed once."""
        if "components" not in self._cache:
            self._cache["components"] = component_of(self.graph, scaffold_step=self.scaffold_step)
        return self._cache["components"]

    def ids(self, on: str) -> np.ndarray:
        """Edge ids (``g.edge_attr("id")``) or neuron ids (``g.neuron_ids``)."""
        if on == "edge":
            return self.graph.edge_attr("id")
        if on == "neuron":
            return self.graph.neuron_ids
        raise GraphError(f"on must be 'edge' or 'neuron', got {on!r}")

    def level(self, on: str) -> np.ndarray:
        """The level each edge computes into (its target's) or each neuron is on."""
        key = f"level_{on}"
        if key not in self._cache:
            g = self.graph
            ids = g.edge_attr("dst") if on == "edge" else self.ids(on)
            self._cache[key] = g.neuron_attr("level", ids).astype(np.int64)
        return self._cache[key]

    def positions(self, on: str, ids: Any) -> np.ndarray:
        """Where the edges (or neurons) ``ids`` are in :meth:`ids`; ids no longer in the graph
        are left out."""
        ids = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), np.int64)
        pos, found = find_sorted(self.ids(on), ids.reshape(-1))
        return pos[found]

    def added(self, on: str) -> tuple[np.ndarray, np.ndarray]:
        """``(epoch, event)``: for each edge or neuron, the epoch and index (into
        :attr:`past_events`) of the event that added it; -1 for both where no event did."""
        key = f"added_{on}"
        if key not in self._cache:
            ids = self.ids(on)
            epoch = np.full(ids.size, -1, np.int64)
            index = np.full(ids.size, -1, np.int64)
            for k, ev in enumerate(self.past_events):
                pos = self.positions(on, ev[f"{on}s_added"])
                epoch[pos], index[pos] = ev["epoch"], k
            self._cache[key] = (epoch, index)
        return self._cache[key]

    def multipliers(self, edge: Any, neuron: Any) -> Multipliers:
        """:class:`Multipliers` over this graph's ids (input neurons, which have no bias, get 1)."""
        neuron = np.array(neuron, dtype=np.float64).reshape(-1)
        if neuron.size == self.graph.neuron_ids.size:
            neuron[self.graph.neuron_attr("role") == INPUT] = 1.0
        return Multipliers(self.ids("edge"), edge, self.ids("neuron"), neuron)


class Schedule:
    """A learning-rate schedule: ``schedule(state) -> Multipliers``. Subclasses implement
    :meth:`rates`, returning ``(edge, neuron)`` float arrays aligned with ``state.ids``.

    Examples
    --------
    >>> import graphnet as gn
    >>> s = LRState(gn.mlp([2, 1], density=1.0, seed=0))
    >>> (Constant(0.5) * Constant(0.5))(s).edge.tolist()
    [0.25, 0.25]
    """

    def rates(self, state: LRState) -> tuple[np.ndarray, np.ndarray]:
        """``(edge, neuron)`` multipliers aligned with ``state.ids("edge")`` and
        ``state.ids("neuron")``."""
        raise NotImplementedError

    def __call__(self, state: LRState) -> Multipliers:
        return state.multipliers(*self.rates(state))

    def __mul__(self, other: Schedule) -> Product:
        if not isinstance(other, Schedule):
            return NotImplemented
        return Product(self, other)


def both(f: Callable[[str], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(f("edge"), f("neuron"))``: a rule written once for edges and neurons.

    Examples
    --------
    >>> both(lambda on: on)
    ('edge', 'neuron')
    """
    return f("edge"), f("neuron")


def check_number(what: str, value: Any, lo: float = 0.0, *, open_lo: bool = False) -> Any:
    """``value`` if it is a finite number ``>= lo`` (``> lo`` with ``open_lo``), else a
    GraphError naming ``what``.

    Examples
    --------
    >>> check_number("WarmUp: epochs", 0, open_lo=True)
    Traceback (most recent call last):
    ...
    graphnet.core.errors.GraphError: WarmUp: epochs must be a finite number > 0.0, got 0
    """
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    if not ok or not (lo < value if open_lo else lo <= value) or not value < float("inf"):
        raise GraphError(
            f"{what} must be a finite number {'>' if open_lo else '>='} {lo}, got {value!r}"
        )
    return value


def _ones(state: LRState) -> tuple[np.ndarray, np.ndarray]:
    return np.ones(state.ids("edge").size), np.ones(state.ids("neuron").size)


class Product(Schedule):
    """The element-wise product of schedules (no schedule: all 1).

    Examples
    --------
    >>> import graphnet as gn
    >>> s = LRState(gn.mlp([2, 1], density=1.0, seed=0))
    >>> p = Product(Constant(0.5), Constant(0.2)); p
    Product(Constant(value=0.5), Constant(value=0.2))
    >>> p(s).edge.tolist()
    [0.1, 0.1]
    """

    def __init__(self, *schedules: Schedule) -> None:
        bad = [s for s in schedules if not isinstance(s, Schedule)]
        if bad:
            raise GraphError(f"Product takes schedules, got {bad[0]!r}")
        self.schedules = tuple(schedules)

    def rates(self, state: LRState) -> tuple[np.ndarray, np.ndarray]:
        edge, neuron = _ones(state)
        for s in self.schedules:
            e, n = s.rates(state)
            edge, neuron = edge * e, neuron * n
        return edge, neuron

    def __repr__(self) -> str:
        return f"Product({', '.join(map(repr, self.schedules))})"


@dataclass(frozen=True)
class Constant(Schedule):
    """The same multiplier on every edge and neuron.

    Examples
    --------
    >>> import graphnet as gn
    >>> Constant(0.5)(LRState(gn.mlp([2, 1], density=1.0, seed=0))).edge.tolist()
    [0.5, 0.5]
    """

    value: float = 1.0

    def __post_init__(self) -> None:
        check_number("Constant: value", self.value)

    def rates(self, state: LRState) -> tuple[np.ndarray, np.ndarray]:
        edge, neuron = _ones(state)
        return edge * self.value, neuron * self.value


class Only(Schedule):
    """``schedule`` on the elements of the given kinds (see :data:`KINDS`), 1 elsewhere.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([2, 2, 1], density=1.0, seed=0)
    >>> g.step = 3; e = g.add_edge(0, 4)  # born after the scaffold: new
    >>> half_new = Only("new", Constant(0.5)); half_new
    Only(('new',), Constant(value=0.5))
    >>> half_new(LRState(g)).edge.tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5]
    """

    def __init__(self, kinds: str | Sequence[str], schedule: Schedule) -> None:
        kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise GraphError(
                f"Only: unknown kind {unknown[0]!r}; expected one of {', '.join(KINDS)}"
            )
        if not isinstance(schedule, Schedule):
            raise GraphError(f"Only: expected a schedule, got {schedule!r}")
        self.kinds, self.schedule = kinds, schedule

    def rates(self, state: LRState) -> tuple[np.ndarray, np.ndarray]:
        edge, neuron = self.schedule.rates(state)
        c = state.components
        return (
            np.where(c.mask("edge", *self.kinds), edge, 1.0),
            np.where(c.mask("neuron", *self.kinds), neuron, 1.0),
        )

    def __repr__(self) -> str:
        return f"Only({self.kinds!r}, {self.schedule!r})"
