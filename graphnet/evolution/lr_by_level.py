"""Learning-rate schedules by where an element sits: its level, the density of its block, the
gradients of its level, the levels a growth event touched. Five of the seeds' twelve
strategies: (1) cascading decay by depth, (8) LARS, (9) progressive freezing by phase,
(10) differential decay after events, (11) sparsity-aware rates.

"Layer ``i`` of ``L``" is read on the graph as the level an edge computes into (its target's
level) minus one, out of ``num_levels - 1``; a bias follows its neuron's level. Absolute rates
are divided by ``state.base_lr``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compilers.sync import require_current
from graphnet.core.errors import GraphError

from .lr_base import LRState, Schedule, both, check_number

__all__ = ["DepthCascade", "LARS", "ProgressiveFreezing", "EventDecay", "SparsityAware"]


@dataclass(frozen=True)
class DepthCascade(Schedule):
    """(1) Cascading decay by depth: layer ``i`` of ``L`` at ``factor ** (i / L)`` (the first
    layer at 1, the last at ``factor ** ((L - 1) / L)``).

    Examples
    --------
    >>> import graphnet as gn
    >>> m = DepthCascade(0.01)(LRState(gn.mlp([1, 1, 1], density=1.0, seed=0)))
    >>> m.edge.tolist(), m.neuron.tolist()
    ([1.0, 0.1], [1.0, 1.0, 0.1])
    """

    factor: float = 0.1

    def __post_init__(self) -> None:
        check_number("DepthCascade: factor", self.factor)

    def rates(self, state: LRState) -> tuple[np.ndarray, np.ndarray]:
        top = max(state.graph.num_levels - 1, 1)
        return both(lambda on: self.factor ** (np.maximum(state.level(on) - 1, 0) / top))


@dataclass(frozen=True)
class LARS(Schedule):
    """(8) Layer-wise adaptive rate scaling: each level's edges and biases at
    ``trust * |w| / (|grad w| + eps)``, the norms over the weights of the edges into the level
    (``state.model.values``) and over their gradients (1 where either norm is 0). Read from
    the gradients present when it is called (after ``backward``, before ``zero_grad``), so
    multipliers computed once an epoch follow that epoch's last batch.

    Raises
    ------
    GraphError
        Without ``state.model``, without gradients, or if the model is stale.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> g = gn.mlp([2, 1], density=1.0, seed=0)
    >>> model = gn.compile(g)
    >>> model.values.grad = 2 * model.values.detach()  # |grad| = 2 |w|
    >>> LARS(eps=0.0)(LRState(g, model=model)).edge.tolist()
    [0.5, 0.5]
    """

    trust: float = 1.0
    eps: float = 1e-8

    def __post_init__(self) -> None:
        check_number("LARS: trust", self.trust)
        check_number("LARS: eps", self.eps)

    def rates(self, state: LRState) -> tuple[np.ndarray, np.ndarray]:
        model = state.model
        if model is None:
            raise GraphError("LARS needs the compiled model in the state (LRState(model=...))")
        require_current(state.graph, model, "LARS")
        if model.values.grad is None:
            raise GraphError(
                "LARS needs gradients: call it after loss.backward(), before zero_grad"
            )
        ids = state.ids("edge")
        pos = np.searchsorted(ids, model.edge_ids().cpu().numpy())
        level = state.level("edge")[pos]
        nl = max(state.graph.num_levels, 1)
        w = model.values.detach().double().cpu().numpy()
        gr = model.values.grad.detach().double().cpu().numpy()
        wn = np.sqrt(np.bincount(level, weights=w * w, minlength=nl))
        gn_ = np.sqrt(np.bincount(level, weights=gr * gr, minlength=nl))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where((wn > 0) & (gn_ > 0), self.trust * wn / (gn_ + self.eps), 1.0)
        return both(lambda on: ratio[state.level(on)])


@dataclass(frozen=True)
class ProgressiveFreezing(Schedule):
    """(9) Progressive freezing by phase (absolute rates). With ``phases`` naming the three
    stages (default ``coarse``, ``medium``, ``fine``): the first trains everything at the
    optimizer's rate; the second the first ``early_layers`` layers at ``medium_early``, the
    rest at ``medium_late``; the third freezes all but the last layer (into the outputs),
    which trains at ``fine_last``.

    Raises
    ------
    GraphError
        If ``state.phase`` is none of ``phases``.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([1, 1, 1], density=1.0, seed=0)
    >>> ProgressiveFreezing()(LRState(g, phase="fine", base_lr=1e-3)).edge.tolist()
    [0.0, 0.1]
    """

    early_layers: int = 2
    medium_early: float = 1e-5
    medium_late: float = 1e-4
    fine_last: float = 1e-4
    phases: tuple[str, str, str] = ("coarse", "medium", "fine")

    def __post_init__(self) -> None:
        check_number("ProgressiveFreezing: early_layers", self.early_layers)
        for name in ("medium_early", "medium_late", "fine_last"):
            check_number(f"ProgressiveFreezing: {name}", getattr(self, name))
        if len(self.phases) != 3 or not all(isinstance(p, str) for p in self.phases):
            raise GraphError(
                f"ProgressiveFreezing: phases must be three phase names, got {self.phases!r}"
            )

    def rates(self, state: LRState) -> tuple[np.ndarray, np.ndarray]:
        if state.phase not in self.phases:
            raise GraphError(
                f"ProgressiveFreezing: unknown phase {state.phase!r}; expected one of "
                f"{', '.join(self.phases)}"
            )
        stage = self.phases.index(state.phase)
        last, lr = state.graph.num_levels - 1, state.base_lr

        def rate(on: str) -> np.ndarray:
            level = state.level(on)
            if stage == 0:
                return np.ones(level.size)
            if stage == 1:
                early = level - 1 < self.early_layers
                return np.where(early, self.medium_early, self.medium_late) / lr
            return np.where(level == last, self.fine_last / lr, 0.0)

        return both(rate)


@dataclass(frozen=True)
class EventDecay(Schedule):
    """(10) Differential decay after growth events: each event multiplies the elements on a
    level it grew (the levels of its new neurons and its new edges' targets) by ``grown``,
    on a neighbouring level by ``adjacent``, elsewhere by ``distant``; it leaves alone what it
    (or a later event) added. The factors of successive events multiply.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([1, 1, 1, 1], density=1.0, seed=0)  # edges 0, 1, 2 into levels 1, 2, 3
    >>> EventDecay()(LRState(g, events=[{"epoch": 0, "neurons_added": [1]}])).edge.tolist()
    [0.9, 0.7, 0.5]
    """

    grown: float = 0.9
    adjacent: float = 0.7
    distant: float = 0.5

    def __post_init__(self) -> None:
        for name in ("grown", "adjacent", "distant"):
            check_number(f"EventDecay: {name}", getattr(self, name))

    def rates(self, state: LRState) -> tuple[np.ndarray, np.ndarray]:
        out = {}
        for on in ("edge", "neuron"):
            level = state.level(on)
            m = np.ones(level.size)
            for k, ev in enumerate(state.past_events):
                grown = self._grown_levels(state, ev)
                if grown.size == 0:
                    continue
                at = np.searchsorted(grown, level)
                d = np.minimum(
                    np.abs(level - grown[np.maximum(at - 1, 0)]),
                    np.abs(level - grown[np.minimum(at, grown.size - 1)]),
                )
                f = np.where(d == 0, self.grown, np.where(d == 1, self.adjacent, self.distant))
                m *= np.where(state.added(on)[1] >= k, 1.0, f)
            out[on] = m
        return out["edge"], out["neuron"]

    @staticmethod
    def _grown_levels(state: LRState, ev: dict) -> np.ndarray:
        levels = [
            state.level(on)[state.positions(on, ev[f"{on}s_added"])] for on in ("edge", "neuron")
        ]
        return np.unique(np.concatenate(levels))


@dataclass(frozen=True)
class SparsityAware(Schedule):
    """(11) Sparsity-aware: the edges of each block (source level, target level) at ``up``
    when its density (edges / (sources x targets on those levels)) is below ``sparse``, at
    ``down`` above ``dense``, at 1 between; biases at 1.

    Examples
    --------
    >>> import graphnet as gn
    >>> SparsityAware()(LRState(gn.mlp([2, 1], density=1.0, seed=0))).edge.tolist()
    [0.5, 0.5]
    """

    sparse: float = 0.02
    dense: float = 0.10
    up: float = 2.0
    down: float = 0.5

    def __post_init__(self) -> None:
        for name in ("sparse", "dense", "up", "down"):
            check_number(f"SparsityAware: {name}", getattr(self, name))
        if self.sparse > self.dense:
            raise GraphError(f"SparsityAware: sparse ({self.sparse}) exceeds dense ({self.dense})")

    def density(self, state: LRState) -> np.ndarray:
        """The density of each edge's block, aligned with the edge ids."""
        g = state.graph
        nl = max(g.num_levels, 1)
        size = np.bincount(state.level("neuron"), minlength=nl)
        src = g.neuron_attr("level", g.edge_attr("src")).astype(np.int64)
        block = src * nl + state.level("edge")
        count = np.bincount(block, minlength=nl * nl)[block]
        return count / (size[src] * size[state.level("edge")])

    def rates(self, state: LRState) -> tuple[np.ndarray, np.ndarray]:
        d = self.density(state)
        edge = np.where(d < self.sparse, self.up, np.where(d > self.dense, self.down, 1.0))
        return edge, np.ones(state.ids("neuron").size)
