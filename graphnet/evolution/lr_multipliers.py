"""Per-edge and per-neuron learning-rate multipliers, applied to any torch optimizer.

A :class:`Multipliers` holds one float per edge id and one per neuron id, *relative* to the
optimizer's learning rate (1 trains at the optimizer's rate, 0 freezes, 0.1 trains ten times
slower). Neuron multipliers apply to biases (inputs have none).

:func:`apply_multipliers` attaches them to a compiled model's optimizer through step hooks:
before each step the model's two flat parameters are remembered, after it each element is
moved back to ``old + m * (new - old)``. Scaling gradients instead would not work under Adam
(its update does not depend on the gradient's scale); scaling the step is exactly a
per-element learning rate for every optimizer whose step is proportional to its learning rate
given its state: SGD (with momentum, Nesterov, weight decay), Adam, AdamW (with its decoupled
weight decay), RMSprop, Adagrad. The optimizer's state (moments, momentum buffers) does not
depend on the learning rate, so it evolves exactly as with per-element rates.

Multipliers follow edge and neuron ids, not positions: after ``gn.recompile``, call
:meth:`LRMultiplierHook.rebind` and every multiplier finds its edge in the new model.

The graph's own edge attribute ``lr`` is separate: the compiled module scales those edges'
gradients by it (see ``compilers.module``), which these multipliers then multiply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from compilers.module import CompiledGraph
from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph

__all__ = ["Multipliers", "LRMultiplierHook", "apply_multipliers"]


def _ids_and_values(ids: Any, values: Any, on: str) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if ids.size != values.size:
        raise GraphError(f"{ids.size} {on} ids but {values.size} {on} multipliers")
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if bad.size:
        i = int(bad[0])
        raise GraphError(
            f"the multiplier of {on} {int(ids[i])} is {values[i]}; multipliers must be finite "
            "and >= 0"
        )
    if ids.size > 1 and not np.all(ids[1:] > ids[:-1]):
        order = np.argsort(ids, kind="stable")
        ids, values = ids[order], values[order]
        twice = np.flatnonzero(ids[1:] == ids[:-1])
        if twice.size:
            raise GraphError(f"{on} {int(ids[twice[0]])} is given two multipliers")
    return ids, values


def _lookup(ids: np.ndarray, values: np.ndarray, query: np.ndarray, fill: float) -> np.ndarray:
    """``values`` at ``query`` ids (``ids`` ascending), ``fill`` where an id is unknown."""
    out = np.full(query.size, float(fill))
    if ids.size and query.size:
        pos = np.minimum(np.searchsorted(ids, query), ids.size - 1)
        found = ids[pos] == query
        out[found] = values[pos[found]]
    return out


@dataclass(eq=False, repr=False)
class Multipliers:
    """Learning-rate multipliers: ``edge[i]`` for edge ``edge_ids[i]``, ``neuron[j]`` for the
    bias of neuron ``neuron_ids[j]``; ids ascending (sorted on construction), values float64,
    finite and >= 0, relative to the optimizer's learning rate.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([2, 1], density=1.0, seed=0)
    >>> m = Multipliers(g.edge_attr("id"), [0.5, 0.0], g.neuron_ids, [1.0, 1.0, 2.0])
    >>> m
    Multipliers(edges=2 in [0, 0.5], neurons=3 in [1, 2])
    >>> (m * m).edge.tolist(), m.edge_of([1, 7]).tolist()
    ([0.25, 0.0], [0.0, 1.0])
    """

    edge_ids: np.ndarray
    edge: np.ndarray
    neuron_ids: np.ndarray
    neuron: np.ndarray

    def __post_init__(self) -> None:
        self.edge_ids, self.edge = _ids_and_values(self.edge_ids, self.edge, "edge")
        self.neuron_ids, self.neuron = _ids_and_values(self.neuron_ids, self.neuron, "neuron")

    @classmethod
    def ones(cls, g: NeuronGraph) -> Multipliers:
        """Multiplier 1 on every edge and neuron of ``g``.

        Examples
        --------
        >>> import graphnet as gn
        >>> Multipliers.ones(gn.mlp([2, 1], density=1.0, seed=0))
        Multipliers(edges=2 in [1, 1], neurons=3 in [1, 1])
        """
        eids, nids = g.edge_attr("id"), g.neuron_ids
        return cls(eids, np.ones(eids.size), nids, np.ones(nids.size))

    def edge_of(self, ids: Any, fill: float = 1.0) -> np.ndarray:
        """The multipliers of edges ``ids``; ``fill`` for ids these multipliers do not know.

        Examples
        --------
        >>> Multipliers([3, 5], [0.1, 0.2], [], []).edge_of([5, 4]).tolist()
        [0.2, 1.0]
        """
        return _lookup(self.edge_ids, self.edge, np.asarray(ids, np.int64).reshape(-1), fill)

    def neuron_of(self, ids: Any, fill: float = 1.0) -> np.ndarray:
        """The multipliers of the biases of neurons ``ids``; ``fill`` for unknown ids.

        Examples
        --------
        >>> Multipliers([], [], [7], [0.0]).neuron_of([7, 8]).tolist()
        [0.0, 1.0]
        """
        return _lookup(self.neuron_ids, self.neuron, np.asarray(ids, np.int64).reshape(-1), fill)

    def __mul__(self, other: Multipliers) -> Multipliers:
        if not isinstance(other, Multipliers):
            return NotImplemented
        if not (
            np.array_equal(self.edge_ids, other.edge_ids)
            and np.array_equal(self.neuron_ids, other.neuron_ids)
        ):
            raise GraphError(
                f"cannot multiply {self!r} by {other!r}: they cover different edges or neurons "
                "(computed from different graphs?)"
            )
        return Multipliers(
            self.edge_ids, self.edge * other.edge, self.neuron_ids, self.neuron * other.neuron
        )

    def __repr__(self) -> str:
        def part(name: str, v: np.ndarray) -> str:
            return f"{name}={v.size}" + (f" in [{v.min():.3g}, {v.max():.3g}]" if v.size else "")

        return f"Multipliers({part('edges', self.edge)}, {part('neurons', self.neuron)})"


class LRMultiplierHook:
    """Per-element learning rates on a compiled model's ``values`` and ``bias``, applied by
    step hooks of its optimizer. Made by :func:`apply_multipliers`; see there.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> g = gn.mlp([2, 1], density=1.0, seed=0)
    >>> model = gn.compile(g)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> hook = apply_multipliers(model, opt, Multipliers.ones(g))
    >>> hook
    LRMultiplierHook(Multipliers(edges=2 in [1, 1], neurons=3 in [1, 1]), active=False)
    >>> hook.remove()
    """

    def __init__(
        self, model: CompiledGraph, optimizer: torch.optim.Optimizer, multipliers: Multipliers
    ) -> None:
        if not isinstance(model, CompiledGraph):
            raise GraphError(
                f"learning-rate multipliers need a module made by gn.compile, got {type(model).__name__}"
            )
        if not isinstance(multipliers, Multipliers):
            raise GraphError(f"expected Multipliers, got {type(multipliers).__name__}")
        self._multipliers = multipliers
        self._handles: list = []
        self._optimizer: torch.optim.Optimizer | None = None
        self.rebind(model, optimizer)

    @property
    def multipliers(self) -> Multipliers:
        """The multipliers in use."""
        return self._multipliers

    @property
    def active(self) -> bool:
        """Whether any multiplier differs from 1 (otherwise the hooks do no work)."""
        return bool(self._pairs)

    def update(self, multipliers: Multipliers) -> None:
        """Use new multipliers from the next step on (e.g. each epoch), keeping the hooks.

        Examples
        --------
        >>> import torch, graphnet as gn
        >>> g = gn.mlp([2, 1], density=1.0, seed=0)
        >>> model = gn.compile(g); opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> hook = apply_multipliers(model, opt, Multipliers.ones(g))
        >>> hook.update(Multipliers(g.edge_attr("id"), [0.0, 1.0], [], [])); hook.active
        True
        """
        if not isinstance(multipliers, Multipliers):
            raise GraphError(f"expected Multipliers, got {type(multipliers).__name__}")
        self._multipliers = multipliers
        self._build()

    def rebind(self, model: CompiledGraph, optimizer: torch.optim.Optimizer) -> None:
        """Follow a new model (and optimizer), e.g. the pair ``gn.recompile`` returned: each
        multiplier goes to its edge or neuron id at its new position; edges and neurons the
        multipliers do not know (grown since) train at the optimizer's rate (multiplier 1)
        until the next :meth:`update`.

        Raises
        ------
        GraphError
            If ``model`` is not a compiled graph, or ``optimizer`` holds none of its parameters.

        Examples
        --------
        >>> import torch, graphnet as gn
        >>> g = gn.mlp([2, 2, 1], density=1.0, seed=0)
        >>> model = gn.compile(g); opt = torch.optim.Adam(model.parameters(), lr=0.1)
        >>> hook = apply_multipliers(model, opt, Multipliers([4], [0.0], [], []))  # freeze edge 4
        >>> e = g.add_edge(0, 4)  # edge 4 moves within model.values
        >>> model, opt = gn.recompile(g, model, opt); hook.rebind(model, opt)
        >>> at = int(model.edge_map()["index"][4]); before = float(model.values.detach()[at])
        >>> model(torch.ones(3, 2)).sum().backward(); opt.step()
        >>> float(model.values.detach()[at]) == before
        True
        """
        if not isinstance(model, CompiledGraph):
            raise GraphError(
                f"learning-rate multipliers need a module made by gn.compile, got {type(model).__name__}"
            )
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        if id(model.values) not in held and id(model.bias) not in held:
            raise GraphError(
                "the optimizer holds neither model.values nor model.bias; build it from "
                "model.parameters() (or rebind to the optimizer gn.recompile returned)"
            )
        if optimizer is not self._optimizer:
            self.remove()
            self._handles = [
                optimizer.register_step_pre_hook(self._before_step),
                optimizer.register_step_post_hook(self._after_step),
            ]
            self._optimizer = optimizer
        self._model = model
        self._held = [p for p in (model.values, model.bias) if id(p) in held]
        self._build()

    def remove(self) -> None:
        """Detach the hooks: the optimizer steps as it did before.

        Examples
        --------
        >>> import torch, graphnet as gn
        >>> g = gn.mlp([2, 1], density=1.0, seed=0)
        >>> model = gn.compile(g); opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> hook = apply_multipliers(model, opt, Multipliers.ones(g)); hook.remove()
        >>> len(opt._optimizer_step_pre_hooks)
        0
        """
        for h in self._handles:
            h.remove()
        self._handles = []
        self._optimizer = None

    # ------------------------------------------------------------------ internals
    def _build(self) -> None:
        """One multiplier tensor per held parameter (None where all are 1)."""
        model, m = self._model, self._multipliers
        pairs = []
        for p in self._held:
            ids = (model.edge_ids() if p is model.values else model.neuron_ids()).cpu().numpy()
            mult = m.edge_of(ids) if p is model.values else m.neuron_of(ids)
            if np.any(mult != 1.0):
                t = torch.as_tensor(mult, dtype=p.dtype, device=p.device)
                pairs.append((p, t, torch.empty_like(p, memory_format=torch.contiguous_format)))
        self._pairs = pairs

    def _before_step(self, optimizer, args, kwargs) -> None:
        if not self._pairs:
            return
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        with torch.no_grad():
            for p, _, old in self._pairs:
                if id(p) not in held:
                    raise GraphError(
                        "the optimizer no longer holds the model these learning-rate multipliers "
                        "were bound to (recompiled?); call hook.rebind(model, optimizer)"
                    )
                old.copy_(p)

    def _after_step(self, optimizer, args, kwargs) -> None:
        with torch.no_grad():
            for p, mult, old in self._pairs:
                p.copy_(old.lerp_(p, mult))  # old + m * (new - old); m = 0 keeps old exactly

    def __repr__(self) -> str:
        return f"LRMultiplierHook({self._multipliers!r}, active={self.active})"


def apply_multipliers(
    model: CompiledGraph, optimizer: torch.optim.Optimizer, multipliers: Multipliers
) -> LRMultiplierHook:
    """Make ``optimizer`` train each edge of ``model`` at ``multipliers.edge`` times its
    learning rate, and each bias at ``multipliers.neuron`` times it.

    Works for any optimizer (it scales the step, not the gradient): exactly a per-element
    learning rate for SGD (momentum, Nesterov, weight decay), Adam, AdamW, RMSprop and Adagrad;
    multiplier 0 freezes exactly. Costs one copy of each parameter with a multiplier other than
    1 per step, and nothing while every multiplier is 1. The optimizer's own learning rate (and
    any scheduler on it) still applies: the multipliers are relative to it.

    Parameters
    ----------
    model : CompiledGraph
        Made by ``gn.compile`` (or ``gn.recompile``).
    optimizer : torch.optim.Optimizer
        Holding ``model.values`` and/or ``model.bias``; its other parameters are left alone.
    multipliers : Multipliers
        Keyed by edge and neuron id; ids the model lacks are ignored, model ids they lack get 1.

    Returns
    -------
    LRMultiplierHook
        ``.update(multipliers)`` each epoch, ``.rebind(model, optimizer)`` after a recompile,
        ``.remove()`` to detach.

    Raises
    ------
    GraphError
        If ``model`` is not a compiled graph or the optimizer holds none of its parameters; at
        a step, if the model was recompiled and the hook not rebound.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> g = gn.mlp([2, 1], density=1.0, seed=0)
    >>> model = gn.compile(g)
    >>> opt = torch.optim.Adam(model.parameters(), lr=0.1)
    >>> hook = apply_multipliers(model, opt, Multipliers(g.edge_attr("id"), [0.0, 1.0], [], []))
    >>> before = model.values.detach().clone()
    >>> model(torch.ones(4, 2)).sum().backward(); opt.step()
    >>> (model.values.detach() != before).tolist()  # edge 0 is frozen
    [False, True]
    """
    return LRMultiplierHook(model, optimizer, multipliers)
