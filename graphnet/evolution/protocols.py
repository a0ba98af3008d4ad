"""The evolution system's parts, as small protocols, and what they share.

* an :class:`Analyzer` reads a :class:`Context` and returns a result (stored in
  ``ctx.results[analyzer.name]``);
* a :class:`GrowthRule` reads the context (and the analyzers' results) and proposes edits:
  :class:`Proposal` objects, each a list of growth-operator calls (:class:`Operation`) with
  an expected cost in parameters;
* a :class:`Trainer` trains the compiled model a number of steps (one epoch by default).

Anything with these methods plugs into :func:`graphnet.evolve`; nothing needs subclassing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.growth.report import GrowthReport

__all__ = [
    "Analyzer",
    "GrowthRule",
    "Trainer",
    "Context",
    "Operation",
    "Proposal",
    "seed_for",
    "parameter_count",
]


def seed_for(seed: int, *parts: Any) -> int:
    """A 63-bit seed derived from a run seed and a label, the same in every process and run.

    >>> seed_for(0, "epoch", 3) == seed_for(0, "epoch", 3) != seed_for(1, "epoch", 3)
    True
    """
    text = "/".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


def parameter_count(g: NeuronGraph) -> int:
    """Trainable parameters of a graph: one per edge, one bias per non-input neuron.

    >>> import graphnet as gn
    >>> parameter_count(gn.mlp([3, 2], density=1.0, seed=0))
    8
    """
    return int(g.num_edges + g.num_neurons - len(g.inputs))


@dataclass
class Context:
    """What the parts of an evolution run read and write.

    ``model`` and ``optimizer`` are the compiled graph and its optimizer (replaced after every
    recompile); ``data`` a :class:`graphnet.train.Dataset`; ``history`` one metrics dict per
    epoch; ``results`` the analyzers' latest results by name; ``state`` free room for rules.
    """

    graph: NeuronGraph
    model: Any
    optimizer: torch.optim.Optimizer
    data: Any
    config: Any
    epoch: int = 0
    step: int = 0
    history: list[dict] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    def seed(self, *parts: Any) -> int:
        """A seed for one decision of this epoch (see :func:`seed_for`)."""
        return seed_for(self.config.seed, self.epoch, *parts)

    def analysis_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A fixed subsample of the training set that analyzers read (same rows every time)."""
        n = self.data.x_train.shape[0]
        k = min(n, self.config.analysis_samples)
        rows = np.random.default_rng(seed_for(self.config.seed, "analysis")).permutation(n)[:k]
        idx = torch.from_numpy(np.sort(rows))
        return self.data.x_train[idx], self.data.y_train[idx]


@dataclass(frozen=True)
class Operation:
    """One call of a growth operator by name (``graphnet.growth.<op>(g, *args, **kwargs)``):
    plain data, so a proposal can be applied to a copy, pickled to another process, and
    logged.

    >>> import graphnet as gn
    >>> g = gn.mlp([3, 2], density=0.5, seed=0)
    >>> Operation("add_edges", ([1], [3])).apply(g)
    GrowthReport(add_edges: +1 edges)
    """

    op: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def apply(self, g: NeuronGraph) -> GrowthReport:
        import graphnet.growth as growth

        fn = getattr(growth, self.op, None)
        if fn is None or self.op not in growth.__all__:
            raise GraphError(f"unknown growth operator {self.op!r}")
        return fn(g, *self.args, **self.kwargs)


@dataclass
class Proposal:
    """Edits a rule proposes: ``operations`` applied in order, tagged ``component``.

    ``cost`` is the expected change in parameters and ``structures`` the new edges plus
    neurons it adds (what a phase's limit counts).
    """

    rule: str
    reason: str
    operations: list[Operation]
    cost: int
    structures: int
    component: str = ""

    def apply(self, g: NeuronGraph) -> GrowthReport:
        """Apply every operation to ``g`` in place; one merged report. New edges and neurons
        are tagged ``component`` (so learning-rate rules can find them)."""
        merged = GrowthReport(self.rule)
        for op in self.operations:
            rep = op.apply(g)
            for name in (
                "neurons_added",
                "edges_added",
                "neurons_removed",
                "edges_removed",
                "lifted",
            ):
                setattr(merged, name, np.concatenate([getattr(merged, name), getattr(rep, name)]))
            merged.skipped.extend(rep.skipped)
        tag = self.component or self.rule
        live_e = np.setdiff1d(merged.edges_added, merged.edges_removed)
        live_n = np.setdiff1d(merged.neurons_added, merged.neurons_removed)
        live_e = live_e[np.isin(live_e, g.edge_attr("id"))]
        live_n = live_n[np.isin(live_n, g.neuron_ids)]
        if live_e.size:
            g.tag("edge", "component", live_e, tag, reason=f"{self.rule}: component")
        if live_n.size:
            g.tag("neuron", "component", live_n, tag, reason=f"{self.rule}: component")
        return merged


@runtime_checkable
class Analyzer(Protocol):
    """Reads the context; its result lands in ``ctx.results[name]``."""

    name: str

    def analyze(self, ctx: Context) -> Any: ...


@runtime_checkable
class GrowthRule(Protocol):
    """Proposes edits; ``budget`` is the most structures (edges + neurons) it may add."""

    name: str
    needs: tuple[str, ...]

    def propose(self, ctx: Context, budget: int) -> list[Proposal]: ...


@runtime_checkable
class Trainer(Protocol):
    """Trains ``ctx.model`` for ``steps`` optimizer steps (``None``: one epoch); returns the
    epoch's metrics (at least ``loss``)."""

    def train(self, ctx: Context, steps: int | None = None) -> dict: ...
