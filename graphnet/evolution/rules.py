"""Growth rules: each reads the analyzers' results and proposes edits built from the growth
operators (:mod:`graphnet.growth`), within a budget of structures (new edges + neurons).

Every rule is deterministic given the context's epoch seed, so a run replays exactly. The
names are the ones :class:`graphnet.EvolutionConfig` lists in ``rules``.

===================  =====================================================================
rule                 what it proposes
===================  =====================================================================
extrema_routing      saturated -> dead (else unsaturated) neurons 1..radius levels up,
                     fan-out 3-4, fan-in <= 5, plus *lateral returns* (see below)
vertical_cloning     a vertical clone of each saturated neuron (weights x 0.7)
dead_highways        skip edges from a dead neuron's sources to its targets
extrema_patches      a small dense patch between an extremum's sources and targets
bottleneck_level     a new (identity-initialised) level below an information bottleneck
proportional         new edges in proportion to the network's size, preferring forward skips
                     (optionally pruning as many weak edges: constant sparsity)
set / rigl           drop the weakest edges, regrow at random / where gradients are largest
residual             a residual block above the level with the most extrema
gradient_edges       the absent edges with the largest loss gradient (RigL's growth half)
plateau_level        a new level below the outputs after a plateau (indefinite growth)
===================  =====================================================================

The seeds' "reciprocal" connections (20% of routed pairs also joined backwards) cannot exist
in a DAG: an edge ``t -> s`` from a higher to a lower level would close a cycle. The closest
legal equivalent used here is a **lateral return**: for a share (default 20%) of routed pairs
``s -> t``, the target ``t`` also feeds one of ``s``'s own targets that lies above ``t``, so
what ``t`` computes from ``s`` flows back into ``s``'s path, one level later, as feedback
would after one time step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphnet.core.graph import NeuronGraph
from graphnet.growth.common import incoming, outgoing
from graphnet.growth.rewire import cosine_fraction

from .protocols import Context, Operation, Proposal

__all__ = [
    "ExtremaRouting",
    "VerticalCloning",
    "DeadHighways",
    "ExtremaPatches",
    "BottleneckLevel",
    "ProportionalGrowth",
    "Rewiring",
    "ResidualBlocks",
    "GradientEdges",
    "PlateauLevel",
    "make_rule",
]


def _levels(g: NeuronGraph) -> np.ndarray:
    return g._neurons.view("level")


def _hidden(g: NeuronGraph, ids) -> list[int]:
    ids = np.asarray(sorted(int(i) for i in ids), np.int64)
    if not ids.size:
        return []
    live = np.isin(ids, g.neuron_ids)
    ids = ids[live]
    return ids[g.neuron_attr("role", ids) == 1].tolist()


def _neighbours(g: NeuronGraph, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(sources, targets)`` of neuron ``n``."""
    return incoming(g, n)[1], outgoing(g, n)[1]


class ExtremaRouting:
    """Route saturated neurons to dead ones (else to unsaturated ones) above them."""

    name = "extrema_routing"
    needs = ("extrema",)

    def __init__(self, fan_out: int = 4, fan_in: int = 5, radius: int = 3, returns: float = 0.2):
        self.fan_out, self.fan_in, self.radius, self.returns = fan_out, fan_in, radius, returns

    def propose(self, ctx: Context, budget: int) -> list[Proposal]:
        g, ex = ctx.graph, ctx.results.get("extrema")
        if ex is None or not ex.saturated:
            return []
        sources = _hidden(g, ex.saturated)
        dead = [n for n in ex.dead if n not in ex.saturated]
        ids = g.neuron_ids
        targets = (
            sorted(dead)
            or ids[(g.neuron_attr("role", ids) != 0) & ~np.isin(ids, list(ex.saturated))].tolist()
        )
        if not sources or not targets:
            return []
        sources = sources[: max(1, budget // self.fan_out)]
        fan_out = min(self.fan_out, budget)
        # Where route would put the edges is only known after it ran: reserve the returns.
        returns = int(self.returns * fan_out * len(sources))
        fan_out = max(1, min(fan_out, (budget - returns) // max(1, len(sources))))
        ops = [
            Operation(
                "route",
                (sources, targets),
                {
                    "fan_out": fan_out,
                    "fan_in": self.fan_in,
                    "radius": self.radius,
                    "seed": ctx.seed(self.name),
                    "reason": f"{self.name}: saturated -> {'dead' if dead else 'unsaturated'}",
                },
            )
        ]
        pairs = _route_preview(g, ops[0])
        ret_s, ret_d = _lateral_returns(g, pairs, self.returns, ctx.seed(self.name, "returns"))
        if ret_s.size:
            ops.append(
                Operation(
                    "add_edges",
                    (ret_s.tolist(), ret_d.tolist()),
                    {"reason": f"{self.name}: lateral returns (the DAG form of reciprocal links)"},
                )
            )
        n = len(pairs[0]) + int(ret_s.size)
        if n == 0:
            return []
        return [
            Proposal(self.name, f"{len(sources)} saturated neuron(s) routed", ops, n, n, "route")
        ]


def _route_preview(g: NeuronGraph, op: Operation) -> tuple[np.ndarray, np.ndarray]:
    """The pairs a route operation will add (it is deterministic: run it on a copy)."""
    trial = g.copy()
    rep = op.apply(trial)
    src, dst = trial.edge_attr("src"), trial.edge_attr("dst")
    at = np.isin(trial.edge_attr("id"), rep.edges_added)
    return src[at], dst[at]


def _lateral_returns(
    g: NeuronGraph, pairs: tuple[np.ndarray, np.ndarray], share: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    s_all, t_all = pairs
    if share <= 0 or not s_all.size:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    rng = np.random.default_rng(seed)
    pick = rng.random(s_all.size) < share
    level = _levels(g)
    src, dst, _ = g.edge_list()
    out_s, out_d, seen = [], [], set()
    for s, t in zip(s_all[pick].tolist(), t_all[pick].tolist()):
        if g.neuron(t)["role"] == "output":
            continue
        cand = dst[(src == s) & (level[dst] > level[t])]
        cand = [int(c) for c in cand if c != t and (t, int(c)) not in seen]
        cand = [c for c in cand if not g.has_edge(t, c)]
        if cand:
            c = cand[int(rng.integers(len(cand)))]
            seen.add((t, c))
            out_s.append(t)
            out_d.append(c)
    return np.asarray(out_s, np.int64), np.asarray(out_d, np.int64)


class VerticalCloning:
    """A vertical clone (one level up, incoming weights x ``scale``, outgoing 0) of each
    saturated neuron: a redundant pathway that takes load off it."""

    name = "vertical_cloning"
    needs = ("extrema",)

    def __init__(self, scale: float = 0.7):
        self.scale = scale

    def propose(self, ctx: Context, budget: int) -> list[Proposal]:
        g, ex = ctx.graph, ctx.results.get("extrema")
        if ex is None:
            return []
        ops, used, picked = [], 0, []
        for n in _hidden(g, ex.saturated):
            ins, outs = _neighbours(g, n)
            size = 1 + ins.size + outs.size
            if used + size > budget:
                continue
            used += size
            picked.append(n)
            ops.append(
                Operation(
                    "clone_neuron",
                    (n,),
                    {
                        "vertical": True,
                        "scale": self.scale,
                        "reason": f"{self.name}: {n} saturated",
                    },
                )
            )
        if not ops:
            return []
        return [Proposal(self.name, f"clone saturated {picked}", ops, used, used, "clone")]


class DeadHighways:
    """Skip edges around dead neurons: each one's sources feed its targets directly."""

    name = "dead_highways"
    needs = ("extrema",)

    def propose(self, ctx: Context, budget: int) -> list[Proposal]:
        g, ex = ctx.graph, ctx.results.get("extrema")
        if ex is None:
            return []
        picked, used = [], 0
        for n in _hidden(g, ex.dead):
            ins, outs = _neighbours(g, n)
            new = int(np.sum(g.edge_ids(np.repeat(ins, outs.size), np.tile(outs, ins.size)) < 0))
            if new == 0 or used + new > budget:
                continue
            picked.append(n)
            used += new
        if not picked:
            return []
        op = Operation("add_highway", (picked,), {"reason": f"{self.name}: around dead {picked}"})
        return [
            Proposal(
                self.name,
                f"highways around {len(picked)} dead neuron(s)",
                [op],
                used,
                used,
                "highway",
            )
        ]


class ExtremaPatches:
    """A dense patch of ``size`` neurons between an extremum's sources and its targets."""

    name = "extrema_patches"
    needs = ("extrema",)

    def __init__(self, size: int = 2, activation: str = "relu"):
        self.size, self.activation = size, activation

    def propose(self, ctx: Context, budget: int) -> list[Proposal]:
        g, ex = ctx.graph, ctx.results.get("extrema")
        if ex is None:
            return []
        ops, used = [], 0
        for n in _hidden(g, set(ex.saturated) | set(ex.dead)):
            ins, outs = _neighbours(g, n)
            if not ins.size or not outs.size:
                continue
            size = self.size * (ins.size + outs.size + 1)
            if used + size > budget:
                continue
            used += size
            ops.append(
                Operation(
                    "add_patch",
                    (ins.tolist(), outs.tolist(), self.size),
                    {
                        "activation": self.activation,
                        "seed": ctx.seed(self.name, n),
                        "reason": f"{self.name}: patch at extremum {n}",
                    },
                )
            )
        if not ops:
            return []
        return [Proposal(self.name, f"{len(ops)} patch(es) at extrema", ops, used, used, "patch")]


class BottleneckLevel:
    """A new level just below the first information bottleneck (identity relays, so the
    network computes the same)."""

    name = "bottleneck_level"
    needs = ("information_flow",)

    def propose(self, ctx: Context, budget: int) -> list[Proposal]:
        g, flow = ctx.graph, ctx.results.get("information_flow")
        if not flow or not flow.get("bottlenecks"):
            return []
        b = int(flow["bottlenecks"][0])
        src, dst, _ = g.edge_list()
        level = _levels(g)
        relays = np.unique(src[(level[src] <= b - 1) & (level[dst] > b - 1)]).size
        size = 2 * relays  # one relay neuron and one edge into it per crossing source
        if relays == 0 or size > budget:
            return []
        op = Operation(
            "insert_level", (b - 1,), {"reason": f"{self.name}: bottleneck at level {b}"}
        )
        return [
            Proposal(self.name, f"level inserted below bottleneck {b}", [op], size, size, "level")
        ]


class PlateauLevel:
    """A new level below the outputs once the selection accuracy has not improved for
    ``patience`` epochs (since the start, or since this rule's last level): the seeds'
    indefinite growth, which deepens a network that stopped learning. The level starts as
    identity relays (the network computes the same); other rules then connect into it."""

    name = "plateau_level"
    needs: tuple[str, ...] = ()

    def __init__(self, patience: int = 8):
        self.patience = patience

    def propose(self, ctx: Context, budget: int) -> list[Proposal]:
        g, hist = ctx.graph, ctx.history
        since = _last_epoch_of(ctx, self.name)
        window = [h for h in hist if h["epoch"] > since]
        if len(window) <= self.patience:
            return []
        acc = [h.get("extra", {}).get("val_acc", h["test_acc"]) for h in window]
        if max(acc[-self.patience :]) > max(acc[: -self.patience]):
            return []
        below = g.num_levels - 2
        src, dst, _ = g.edge_list()
        level = _levels(g)
        relays = np.unique(src[(level[src] <= below) & (level[dst] > below)]).size
        if relays == 0 or 2 * relays > budget:
            return []
        op = Operation(
            "insert_level", (below,), {"reason": f"{self.name}: no gain for {self.patience} epochs"}
        )
        return [
            Proposal(
                self.name,
                f"a level below the outputs after a {self.patience}-epoch plateau",
                [op],
                2 * relays,
                2 * relays,
                "level",
            )
        ]


def _last_epoch_of(ctx: Context, rule: str) -> int:
    """The epoch of the last edit a rule made (from the graph's log), -1 if none."""
    step = next(
        (r.step for r in reversed(list(ctx.graph.log)) if r.reason.startswith(rule + ":")), None
    )
    if step is None:
        return -1
    # an edit made during epoch e carries the step at which epoch e started (the end of e - 1)
    return next((h["epoch"] for h in ctx.history if h["step"] > step), ctx.epoch)


class ProportionalGrowth:
    """``ratio`` x (current edges) new zero-weight edges, a share ``skip`` of them forward skips
    (spanning two or more levels); with ``keep_sparsity`` as many of the weakest edges are
    pruned first, so the density stays constant."""

    name = "proportional"
    needs: tuple[str, ...] = ()

    def __init__(self, ratio: float = 0.1, skip: float = 0.5, keep_sparsity: bool = False):
        self.ratio, self.skip, self.keep_sparsity = ratio, skip, keep_sparsity

    def propose(self, ctx: Context, budget: int) -> list[Proposal]:
        g = ctx.graph
        k = min(budget, max(1, math.ceil(self.ratio * g.num_edges)))
        s, d = _random_pairs(g, k, self.skip, ctx.seed(self.name))
        if not s.size:
            return []
        ops = []
        if self.keep_sparsity:
            ops.append(
                Operation(
                    "prune",
                    (),
                    {
                        "fraction": s.size / max(1, g.num_edges),
                        "remove_orphans": False,
                        "reason": f"{self.name}: prune to keep the density",
                    },
                )
            )
        ops.append(
            Operation(
                "add_edges",
                (s.tolist(), d.tolist()),
                {"reason": f"{self.name}: {s.size} new edges"},
            )
        )
        cost = 0 if self.keep_sparsity else int(s.size)
        return [
            Proposal(
                self.name,
                f"{s.size} edges in proportion to size",
                ops,
                cost,
                int(s.size),
                "proportional",
            )
        ]


def _random_pairs(g: NeuronGraph, k: int, skip: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``k`` absent legal pairs, a share ``skip`` spanning at least two levels."""
    rng = np.random.default_rng(seed)
    ids = g.neuron_ids
    role = g.neuron_attr("role", ids)
    level = _levels(g)
    srcs, dsts = ids[role != 2], ids[role != 0]
    want_skip = int(round(skip * k))
    out_s: list[int] = []
    out_d: list[int] = []
    seen: set = set()
    for wanted, is_skip in ((want_skip, True), (k - want_skip, False)):
        got = 0
        for _ in range(32):
            if got >= wanted:
                break
            m = max(8 * (wanted - got), 64)
            s = srcs[rng.integers(0, srcs.size, m)]
            d = dsts[rng.integers(0, dsts.size, m)]
            gap = level[d] - level[s]
            ok = gap >= 2 if is_skip else gap == 1
            s, d = s[ok], d[ok]
            if s.size:
                fresh = g.edge_ids(s, d) < 0
                s, d = s[fresh], d[fresh]
            for a, b in zip(s.tolist(), d.tolist()):
                if (a, b) not in seen and got < wanted:
                    seen.add((a, b))
                    out_s.append(a)
                    out_d.append(b)
                    got += 1
        if is_skip and got < wanted:  # too few skip pairs (a shallow net): fill with adjacent
            want_skip = got
    return np.asarray(out_s, np.int64), np.asarray(out_d, np.int64)


class Rewiring:
    """SET (``method="set"``) or RigL (``"rigl"``) rewiring of a cosine-decaying fraction of
    edges (constant edge count)."""

    needs: tuple[str, ...] = ()

    def __init__(self, method: str = "set", fraction: float = 0.3):
        self.method, self.fraction = method, fraction
        self.name = method

    def propose(self, ctx: Context, budget: int) -> list[Proposal]:
        g = ctx.graph
        frac = cosine_fraction(ctx.epoch, ctx.config.stop.max_epochs, self.fraction)
        frac = min(frac, budget / max(1, g.num_edges))
        if frac <= 0 or int(frac * g.num_edges) == 0:
            return []
        kwargs: dict[str, Any] = {"seed": ctx.seed(self.name), "reason": f"{self.name} rewiring"}
        if self.method == "rigl":
            import torch

            from graphnet.growth.rewire import edge_gradients

            x, y = ctx.analysis_batch()
            kwargs["grads"] = edge_gradients(g, ctx.model, (x, y), torch.nn.CrossEntropyLoss())
        n = int(frac * g.num_edges)
        op = Operation("rewire", (self.method, frac), kwargs)
        return [Proposal(self.name, f"{self.method} rewiring of {frac:.1%}", [op], 0, n, "rewire")]


class GradientEdges:
    """The ``ratio`` x (current edges) absent edges whose loss gradient is largest (RigL's
    growth half, without its drop), at weight 0: where the loss says a connection would help
    most, skips included."""

    name = "gradient_edges"
    needs: tuple[str, ...] = ()

    def __init__(self, ratio: float = 0.1):
        self.ratio = ratio

    def propose(self, ctx: Context, budget: int) -> list[Proposal]:
        import torch

        from graphnet.growth.rewire import edge_gradients

        g = ctx.graph
        k = min(budget, max(1, math.ceil(self.ratio * g.num_edges)))
        x, y = ctx.analysis_batch()
        grads = edge_gradients(g, ctx.model, (x, y), torch.nn.CrossEntropyLoss(), top_k=k)
        top = np.argsort(-np.abs(grads["grad"]), kind="stable")[:k]
        s, d = grads["src"][top], grads["dst"][top]
        if not s.size:
            return []
        op = Operation(
            "add_edges", (s.tolist(), d.tolist()), {"reason": f"{self.name}: {s.size} edges"}
        )
        return [
            Proposal(
                self.name,
                f"{s.size} edges where the loss gradient is largest",
                [op],
                int(s.size),
                int(s.size),
                "gradient",
            )
        ]


class ResidualBlocks:
    """A residual block of ``width`` neurons above the hidden level with the most extrema."""

    name = "residual"
    needs = ("extrema",)

    def __init__(self, width: int = 4):
        self.width = width

    def propose(self, ctx: Context, budget: int) -> list[Proposal]:
        g, ex = ctx.graph, ctx.results.get("extrema")
        if ex is None:
            return []
        level = _levels(g)
        hits = [int(level[n]) for n in _hidden(g, set(ex.dead) | set(ex.saturated))]
        if not hits:
            return []
        at = max(set(hits), key=hits.count)
        ids = g.neuron_ids
        x = int(np.sum(g.neuron_attr("level", ids) == at))
        src, _, _ = g.edge_list()
        fed = np.unique(_neighbours_of_level(g, at)).size
        # A (x -> width), A's bias, B (width -> width), B's bias, B -> everything x feeds
        size = self.width * x + self.width * self.width + 2 * self.width + self.width * fed
        if size > budget or src.size == 0:
            return []
        op = Operation(
            "add_residual_block",
            (at, self.width),
            {"seed": ctx.seed(self.name), "reason": f"{self.name}: block above level {at}"},
        )
        return [
            Proposal(self.name, f"residual block above level {at}", [op], size, size, "residual")
        ]


def _neighbours_of_level(g: NeuronGraph, lv: int) -> np.ndarray:
    src, dst, _ = g.edge_list()
    return dst[_levels(g)[src] == lv]


_RULES = {
    "extrema_routing": ExtremaRouting,
    "vertical_cloning": VerticalCloning,
    "dead_highways": DeadHighways,
    "extrema_patches": ExtremaPatches,
    "bottleneck_level": BottleneckLevel,
    "proportional": ProportionalGrowth,
    "set": lambda **kw: Rewiring("set", **kw),
    "rigl": lambda **kw: Rewiring("rigl", **kw),
    "residual": ResidualBlocks,
    "gradient_edges": GradientEdges,
    "plateau_level": PlateauLevel,
}


def make_rule(name: str, **options: Any):
    """A growth rule by its config name.

    >>> make_rule("extrema_routing", fan_out=3).fan_out
    3
    """
    from graphnet.core.errors import GraphError

    if name not in _RULES:
        raise GraphError(f"unknown growth rule {name!r}; known: {', '.join(_RULES)}")
    try:
        return _RULES[name](**options)
    except TypeError as err:
        raise GraphError(f"growth rule {name!r}: bad options {options} ({err})") from None
