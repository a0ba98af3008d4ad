"""Learning-rate schedules by who and when: the kind of each edge and neuron (scaffold, patch,
clone, highway, new), its age and the growth events since it was added. Six of the seeds'
twelve strategies: (2) dual rates, (3) age-based decay, (4) component-specific rates,
(5) pretrained plus new, (6) growth-aware, (7) warm-up of new parts, (12) sedimentary.

Strategies the seeds state as absolute rates (``scaffold 1e-4``) divide them by
``state.base_lr``: with ``base_lr=1e-3``, ``1e-4`` is the multiplier 0.1. Kinds come from
:func:`~graphnet.evolution.lr_components.component_of`, "added" and ages from the state's growth
events (:meth:`~graphnet.evolution.lr_base.LRState.added`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from graphnet.core.errors import GraphError

from .lr_base import LRState, Schedule, both, check_number
from .lr_components import KINDS

__all__ = [
    "ComponentRates",
    "DualRates",
    "PretrainedPlusNew",
    "AgeDecay",
    "GrowthAware",
    "WarmUp",
    "Sedimentary",
]


def _by_kind(state: LRState, rates: Mapping[str, float], default: float | None):
    """Absolute ``rates`` per kind as multipliers: a kind's own rate, else (if not scaffold)
    the ``new`` rate, else ``default``, else the base rate."""
    table = np.ones(len(KINDS))
    for code, kind in enumerate(KINDS):
        rate = rates.get(kind, rates.get("new") if kind != "scaffold" else None)
        rate = default if rate is None else rate
        if rate is not None:
            table[code] = rate / state.base_lr
    c = state.components
    return table[c.edge], table[c.neuron]


def _events_since(state: LRState, on: str) -> np.ndarray:
    """Past events after the one that added each element (all past events if none did)."""
    _, index = state.added(on)
    return len(state.past_events) - 1 - index


class ComponentRates(Schedule):
    """(4) Component-specific rates: an absolute learning rate per kind of element.

    A kind without its own rate takes the ``new`` rate unless it is the scaffold, else
    ``default``, else the optimizer's rate. The seeds' defaults: scaffold 1e-4, patches 5e-4,
    new blocks (``residual``) and new sparse levels (``level``) 1e-3.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([2, 1], density=1.0, seed=0)
    >>> ComponentRates()(LRState(g, base_lr=1e-3)).edge.tolist()  # scaffold: 1e-4 / 1e-3
    [0.1, 0.1]
    """

    DEFAULT = {"scaffold": 1e-4, "patch": 5e-4, "residual": 1e-3, "level": 1e-3}

    def __init__(
        self, rates: Mapping[str, float] | None = None, *, default: float | None = None
    ) -> None:
        rates = dict(self.DEFAULT if rates is None else rates)
        for kind, rate in rates.items():
            if kind not in KINDS:
                raise GraphError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
            check_number(f"the rate of {kind!r}", rate)
        if default is not None:
            check_number("default", default)
        self.rates_by_kind, self.default = rates, default

    def rates(self, state: LRState) -> tuple[np.ndarray, np.ndarray]:
        return _by_kind(state, self.rates_by_kind, self.default)

    def __repr__(self) -> str:
        return f"ComponentRates({self.rates_by_kind!r}, default={self.default!r})"


class DualRates(ComponentRates):
    """(2) Dual rates: the scaffold at ``scaffold``, patches at ``patch`` (absolute), the rest
    at the optimizer's rate.

    Examples
    --------
    >>> import graphnet as gn
    >>> DualRates()(LRState(gn.mlp([2, 1], density=1.0, seed=0), base_lr=1e-3)).edge.tolist()
    [0.1, 0.1]
    """

    def __init__(self, scaffold: float = 1e-4, patch: float = 5e-4) -> None:
        super().__init__({"scaffold": scaffold, "patch": patch})

    def __repr__(self) -> str:
        r = self.rates_by_kind
        return f"DualRates(scaffold={r['scaffold']!r}, patch={r['patch']!r})"


class PretrainedPlusNew(ComponentRates):
    """(5) Pretrained plus new: the scaffold (pretrained) at ``pretrained``, the ``adapters``
    kinds at ``adapter``, everything else grown at ``new`` (absolute rates).

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([2, 2, 1], density=1.0, seed=0)
    >>> g.step = 1; e = g.add_edge(0, 4)  # a new edge among scaffold ones
    >>> PretrainedPlusNew()(LRState(g, base_lr=1e-3)).edge.tolist()
    [0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 1.0]
    """

    def __init__(
        self,
        pretrained: float = 1e-5,
        new: float = 1e-3,
        adapter: float = 5e-4,
        adapters: Sequence[str] = ("patch",),
    ) -> None:
        adapters = (adapters,) if isinstance(adapters, str) else tuple(adapters)
        super().__init__({"scaffold": pretrained, "new": new, **dict.fromkeys(adapters, adapter)})
        self.args = (pretrained, new, adapter, adapters)

    def __repr__(self) -> str:
        p, n, a, k = self.args
        return f"PretrainedPlusNew(pretrained={p!r}, new={n!r}, adapter={a!r}, adapters={k!r})"


@dataclass(frozen=True)
class AgeDecay(Schedule):
    """(3) Age-based decay: ``factor ** (age // every)``, the age counted in ``unit``:

    * ``"epoch"``: epochs since the event that added the element (elements no event added
      count from epoch 0);
    * ``"event"``: growth events since then (one decay per growth phase);
    * ``"step"``: graph steps since the element's ``born`` (``state.step - born``).

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([2, 1], density=1.0, seed=0)
    >>> AgeDecay(0.1, every=2)(LRState(g, epoch=5)).edge.round(12).tolist()  # 0.1 ** (5 // 2)
    [0.01, 0.01]
    """

    factor: float = 0.1
    every: int = 1
    unit: str = "epoch"

    def __post_init__(self) -> None:
        check_number("AgeDecay: factor", self.factor)
        check_number("AgeDecay: every", self.every, 0, open_lo=True)
        if self.unit not in ("epoch", "event", "step"):
            raise GraphError(
                f"AgeDecay: unit must be 'epoch', 'event' or 'step', got {self.unit!r}"
            )

    def age(self, state: LRState, on: str) -> np.ndarray:
        """The age of each edge or neuron, in ``unit``."""
        if self.unit == "epoch":
            return np.maximum(state.epoch - np.maximum(state.added(on)[0], 0), 0)
        if self.unit == "event":
            return _events_since(state, on)
        g = state.graph
        born = g.edge_attr("born") if on == "edge" else g.neuron_attr("born")
        return np.maximum(state.step - born.astype(np.int64), 0)

    def rates(self, state: LRState) -> tuple[np.ndarray, np.ndarray]:
        return both(lambda on: self.factor ** (self.age(state, on) // self.every).astype(float))


@dataclass(frozen=True)
class GrowthAware(Schedule):
    """(6) Growth-aware: each growth event multiplies everything older by ``scaffold``
    (halves it); what an event added starts at the absolute rate ``fresh``.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([2, 1], density=1.0, seed=0)
    >>> s = LRState(g, epoch=4, events=[{"epoch": 1}, {"epoch": 3}])
    >>> GrowthAware()(s).edge.tolist()  # two events since the scaffold was built
    [0.25, 0.25]
    """

    scaffold: float = 0.5
    fresh: float = 1e-3

    def __post_init__(self) -> None:
        check_number("GrowthAware: scaffold", self.scaffold)
        check_number("GrowthAware: fresh", self.fresh)

    def rates(self, state: LRState) -> tuple[np.ndarray, np.ndarray]:
        def rate(on: str) -> np.ndarray:
            start = np.where(state.added(on)[1] >= 0, self.fresh / state.base_lr, 1.0)
            return start * self.scaffold ** _events_since(state, on).astype(float)

        return both(rate)


@dataclass(frozen=True)
class WarmUp(Schedule):
    """(7) Linear warm-up of what growth events added: ``min(1, e / epochs)`` ``e`` epochs
    after the event's epoch (at least ``1 / epochs``): 0.2, 0.4, ... 1 over the five epochs
    after growth with the default; what no event added stays at 1.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([2, 1], density=1.0, seed=0)
    >>> s = LRState(g, epoch=8, events=[{"epoch": 6, "edges_added": [1]}])
    >>> WarmUp(5)(s).edge.tolist()
    [1.0, 0.4]
    """

    epochs: int = 5

    def __post_init__(self) -> None:
        check_number("WarmUp: epochs", self.epochs, 0, open_lo=True)

    def rates(self, state: LRState) -> tuple[np.ndarray, np.ndarray]:
        def rate(on: str) -> np.ndarray:
            added = state.added(on)[0]
            ramp = np.minimum(np.maximum(state.epoch - added, 1) / self.epochs, 1.0)
            return np.where(added >= 0, ramp, 1.0)

        return both(rate)


@dataclass(frozen=True)
class Sedimentary(Schedule):
    """(12) Sedimentary stratification by age (absolute rates): patches at ``patch``; what the
    last ``active_events`` growth events added at ``active``; other grown parts at
    ``sediment``; the scaffold (never grown) at ``geological``.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([2, 1], density=1.0, seed=0)
    >>> s = LRState(g, events=[{"epoch": 0, "edges_added": [1]}])
    >>> Sedimentary()(s).edge.tolist()  # edge 0: 1e-5 / 1e-3, edge 1: 1e-3 / 1e-3
    [0.01, 1.0]
    """

    geological: float = 1e-5
    sediment: float = 1e-4
    active: float = 1e-3
    patch: float = 5e-4
    active_events: int = 1

    def __post_init__(self) -> None:
        for name in ("geological", "sediment", "active", "patch", "active_events"):
            check_number(f"Sedimentary: {name}", getattr(self, name))

    def rates(self, state: LRState) -> tuple[np.ndarray, np.ndarray]:
        n = len(state.past_events)

        def rate(on: str) -> np.ndarray:
            c = state.components
            index = state.added(on)[1]
            active = (index >= 0) & (index >= n - self.active_events)
            grown = ~c.mask(on, "scaffold") | (index >= 0)
            r = np.where(grown, self.sediment, self.geological)
            r = np.where(active, self.active, r)
            return np.where(c.mask(on, "patch"), self.patch, r) / state.base_lr

        return both(rate)
