"""Analyzers: thin adapters from :mod:`analysis` to the evolution context. Each reads the
context's fixed analysis batch (the same training rows every time) and returns the analysis
function's own result."""

from __future__ import annotations

from typing import Any

from analysis.extrema import Extrema, extrema
from analysis.flow import information_flow

from .protocols import Context

__all__ = ["ExtremaAnalyzer", "FlowAnalyzer", "make_analyzers"]


class ExtremaAnalyzer:
    """Dead and saturated neurons (:func:`analysis.extrema`) -> ``ctx.results["extrema"]``."""

    name = "extrema"

    def __init__(self, **options: Any) -> None:
        self.options = options

    def analyze(self, ctx: Context) -> Extrema:
        x, _ = ctx.analysis_batch()
        return extrema(ctx.graph, ctx.model, x, **self.options)


class FlowAnalyzer:
    """Information per level and bottlenecks (:func:`analysis.information_flow`) ->
    ``ctx.results["information_flow"]``."""

    name = "information_flow"

    def __init__(self, **options: Any) -> None:
        self.options = options

    def analyze(self, ctx: Context) -> dict:
        x, y = ctx.analysis_batch()
        return information_flow(ctx.graph, ctx.model, x, y, **self.options)


def make_analyzers(rules: list) -> list:
    """The analyzers the given rules need, each once, plus extrema (the stop rule reads it).

    >>> from graphnet.evolution.rules import make_rule
    >>> [a.name for a in make_analyzers([make_rule("bottleneck_level")])]
    ['extrema', 'information_flow']
    """
    wanted = {"extrema"} | {need for r in rules for need in getattr(r, "needs", ())}
    known = {"extrema": ExtremaAnalyzer, "information_flow": FlowAnalyzer}
    return [known[n]() for n in ("extrema", "information_flow") if n in wanted]
