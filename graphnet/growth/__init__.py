"""Growth operators: functions that edit a NeuronGraph in place, keep every invariant, log each
edit with a reason, return a :class:`GrowthReport`, and compose with ``gn.recompile``."""

from .clone import clone_neuron
from .edges import add_edges
from .highway import add_highway
from .levels import add_residual_block, insert_level
from .patch import add_patch
from .prune import prune
from .report import GrowthReport
from .rewire import cosine_fraction, edge_gradients, rewire
from .route import route

__all__ = [
    "GrowthReport",
    "add_edges",
    "clone_neuron",
    "insert_level",
    "add_residual_block",
    "add_highway",
    "add_patch",
    "prune",
    "route",
    "rewire",
    "edge_gradients",
    "cosine_fraction",
]
