"""The evolution system: a sparse network that grows its own structure from analysis of its
state. ``gn.evolve(config)`` runs it; its parts (analyzers, growth rules, trainers) follow small
protocols and can be swapped (:mod:`graphnet.evolution.protocols`)."""

from .config import EvolutionConfig, load_config
from .evolve import Run, evolve, load_data, seed_network
from .protocols import Analyzer, Context, GrowthRule, Operation, Proposal, Trainer
from .rules import make_rule
from .run_files import LoadedRun, load_run

__all__ = [
    "EvolutionConfig",
    "load_config",
    "evolve",
    "Run",
    "load_data",
    "seed_network",
    "Analyzer",
    "GrowthRule",
    "Trainer",
    "Context",
    "Operation",
    "Proposal",
    "make_rule",
    "load_run",
    "LoadedRun",
]
