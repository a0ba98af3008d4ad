"""Adaptive learning rates for grown networks: multipliers on edges and neurons, chosen by
schedules that read the graph, applied to any torch optimizer.

The one place to import from; the parts live in

* :mod:`~graphnet.evolution.lr_components`: who is who (:func:`component_of`);
* :mod:`~graphnet.evolution.lr_base`: the state a schedule reads (:class:`LRState`), the
  schedule algebra (:class:`Product`, :class:`Only`, :class:`Constant`);
* :mod:`~graphnet.evolution.lr_by_kind` and :mod:`~graphnet.evolution.lr_by_level`: the
  seeds' twelve strategies;
* :mod:`~graphnet.evolution.lr_multipliers`: :class:`Multipliers` and
  :func:`apply_multipliers`, which applies them through optimizer step hooks.

A training loop computes multipliers each epoch and hands them to the hook::

    hook = apply_multipliers(model, optimizer, schedule(LRState(g, epoch=0)))
    for epoch in range(epochs):
        hook.update(schedule(LRState(g, epoch=epoch, events=events, base_lr=lr)))
        ...                                     # train; after growth and gn.recompile:
        hook.rebind(model, optimizer)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphnet.core.errors import GraphError

from .lr_base import Constant, LRState, Only, Product, Schedule
from .lr_by_kind import (
    AgeDecay,
    ComponentRates,
    DualRates,
    GrowthAware,
    PretrainedPlusNew,
    Sedimentary,
    WarmUp,
)
from .lr_by_level import LARS, DepthCascade, EventDecay, ProgressiveFreezing, SparsityAware
from .lr_components import KINDS, Components, component_of
from .lr_multipliers import LRMultiplierHook, Multipliers, apply_multipliers

__all__ = [
    "KINDS",
    "Components",
    "component_of",
    "LRState",
    "Schedule",
    "Product",
    "Only",
    "Constant",
    "DepthCascade",
    "DualRates",
    "AgeDecay",
    "ComponentRates",
    "PretrainedPlusNew",
    "GrowthAware",
    "WarmUp",
    "LARS",
    "ProgressiveFreezing",
    "EventDecay",
    "SparsityAware",
    "Sedimentary",
    "recommended",
    "SCHEDULES",
    "schedule_by_name",
    "Multipliers",
    "LRMultiplierHook",
    "apply_multipliers",
]


def recommended(
    *,
    depth_factor: float = 0.1,
    age_factor: float = 0.1,
    age_every: int = 20,
    patch: float = 0.5,
    warmup_epochs: int = 5,
) -> Product:
    """The seeds' recommended combination: the scaffold cascaded by depth times aged by epoch
    (``depth_factor ** (i / L) * age_factor ** (epoch // age_every)``), patches at ``patch``
    times the rate, and a linear warm-up over ``warmup_epochs`` of whatever growth added.

    Examples
    --------
    >>> import graphnet as gn
    >>> recommended().schedules[1:]
    (Only(('patch',), Constant(value=0.5)), WarmUp(epochs=5))
    >>> recommended()(LRState(gn.mlp([2, 1], density=1.0, seed=0), epoch=45)).edge.round(12).tolist()
    [0.01, 0.01]
    """
    return Product(
        Only("scaffold", Product(DepthCascade(depth_factor), AgeDecay(age_factor, age_every))),
        Only("patch", Constant(patch)),
        WarmUp(warmup_epochs),
    )


SCHEDULES: dict[str, Callable[..., Schedule]] = {
    "none": Product,
    "recommended": recommended,
    "cascade": DepthCascade,
    "dual": DualRates,
    "age": AgeDecay,
    "components": ComponentRates,
    "pretrained": PretrainedPlusNew,
    "growth_aware": GrowthAware,
    "warmup": WarmUp,
    "lars": LARS,
    "freezing": ProgressiveFreezing,
    "event_decay": EventDecay,
    "sparsity": SparsityAware,
    "sedimentary": Sedimentary,
}
"""Schedule makers by name (``"none"``: every multiplier 1)."""


def schedule_by_name(name: str, **options: Any) -> Schedule:
    """The schedule :data:`SCHEDULES` names, made with ``options``.

    Raises
    ------
    GraphError
        If the name is unknown.

    Examples
    --------
    >>> schedule_by_name("dual", patch=1e-3)
    DualRates(scaffold=0.0001, patch=0.001)
    >>> schedule_by_name("fast")
    Traceback (most recent call last):
    ...
    graphnet.core.errors.GraphError: unknown learning-rate schedule 'fast'; known: none, recommended, ...
    """
    if name not in SCHEDULES:
        raise GraphError(f"unknown learning-rate schedule {name!r}; known: {', '.join(SCHEDULES)}")
    return SCHEDULES[name](**options)
