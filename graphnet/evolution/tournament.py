"""The tournament: each candidate proposal is applied to a copy of the network (graph, model
and optimizer state), trained briefly, and scored by the change of a validation metric per
parameter it adds, against the same copy trained the same steps without the change.

``score = (metric(candidate) - metric(unchanged)) / max(1, added parameters)``

Candidates are independent, so with ``processes > 1`` they are scored in a process pool
(spawned, one thread each). Learning-rate multiplier hooks are not copied into candidates.
"""

from __future__ import annotations

import copy
import pickle
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from compilers import recompile

from .protocols import Context, Proposal, parameter_count

__all__ = ["Score", "score_proposals", "select"]


@dataclass
class Score:
    """A candidate's result: its metric after brief training, the unchanged network's, the
    parameters it adds and the score."""

    rule: str
    metric: float
    baseline: float
    added_parameters: int
    score: float


def _clone_training(model, optimizer):
    model2, opt2 = copy.deepcopy((model, optimizer))
    for hooks in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks"):
        getattr(opt2, hooks, {}).clear()
    return model2, opt2


def _metric(ctx: Context, kind: str) -> float:
    x, y = ctx.state.get("validation") or ctx.analysis_batch()
    with torch.no_grad():
        out = ctx.model(x)
    if kind == "information":
        from analysis.information import mutual_information

        vals = [
            mutual_information(out[:, j].double().cpu().numpy(), y.cpu().numpy(), "binned")
            for j in range(out.shape[1])
        ]
        return float(np.mean(vals))
    return float((out.argmax(1) == y).double().mean())


def _trial(
    ctx: Context, proposal: Proposal | None, steps: int, metric: str, trainer
) -> tuple[float, int]:
    g = ctx.graph.copy()
    model, opt = _clone_training(ctx.model, ctx.optimizer)
    if proposal is not None:
        proposal.apply(g)
        model, opt = recompile(g, model, opt)
    sub = Context(g, model, opt, ctx.data, ctx.config, ctx.epoch, ctx.step, results=ctx.results)
    sub.state["validation"] = ctx.state.get("validation")
    if steps:
        _train_quietly(trainer, sub, steps)
    return _metric(sub, metric), parameter_count(g) - parameter_count(ctx.graph)


def _train_quietly(trainer, ctx: Context, steps: int) -> None:
    """Train a candidate copy; a trainer that can keep its hands off the growth economy
    (``monitor=False``) is asked to, any other trainer is called as the protocol says."""
    import inspect

    if "monitor" in inspect.signature(trainer.train).parameters:
        trainer.train(ctx, steps, monitor=False)
    else:
        trainer.train(ctx, steps)


def _trial_in_worker(payload: bytes) -> tuple[float, int]:
    torch.set_num_threads(1)
    ctx, proposal, steps, metric, trainer = pickle.loads(payload)
    return _trial(ctx, proposal, steps, metric, trainer)


def score_proposals(ctx: Context, proposals: list[Proposal], trainer, config) -> list[Score]:
    """Score every proposal against the unchanged network (see the module docstring)."""
    steps, metric = config.train_steps, config.metric
    jobs = [None, *proposals]
    if config.processes > 1 and len(jobs) > 1:
        lean = Context(
            ctx.graph, ctx.model, ctx.optimizer, ctx.data, ctx.config, ctx.epoch, ctx.step
        )
        lean.results = ctx.results
        lean.state["validation"] = ctx.state.get("validation")
        model, opt = _clone_training(ctx.model, ctx.optimizer)
        lean.model, lean.optimizer = model, opt
        payloads = [pickle.dumps((lean, p, steps, metric, trainer)) for p in jobs]
        import multiprocessing as mp

        with ProcessPoolExecutor(min(config.processes, len(jobs)), mp.get_context("spawn")) as pool:
            results = list(pool.map(_trial_in_worker, payloads))
    else:
        results = [_trial(ctx, p, steps, metric, trainer) for p in jobs]
    base = results[0][0]
    return [
        Score(p.rule, m, base, added, (m - base) / max(1, added))
        for p, (m, added) in zip(proposals, results[1:])
    ]


def select(
    ctx: Context, proposals: list[Proposal], trainer, config
) -> tuple[Proposal | None, list[Score]]:
    """The proposal to apply: the best-scoring one when the tournament is on and there is a
    choice, else the first (rules are listed in priority order)."""
    if not proposals:
        return None, []
    proposals = proposals[: config.max_candidates]
    if not config.enabled or len(proposals) == 1:
        return proposals[0], []
    scores = score_proposals(ctx, proposals, trainer, config)
    best = max(range(len(scores)), key=lambda i: (scores[i].score, -i))
    return proposals[best], scores
