"""analysis: pure functions of neuron graphs and compiled networks (extrema, information flow,
graph metrics, topology). Imports graphnet.core and compilers only; never mutates a graph.
"""

from .capture import ActivationStats, capture
from .extrema import Extrema, extrema
from .flow import GradientMonitor, information_flow, level_activations
from .information import mutual_information
from .metrics import (
    centrality,
    clustering,
    degree_by_level,
    effective_size,
    io_path_lengths,
    motif_counts,
    off_path_neurons,
    spectral_radius,
)
from .plots import plot_activations, plot_degrees, plot_information, plot_persistence
from .topology import MAX_SIMPLICES, betti_numbers, neural_persistence, persistence_diagram

__all__ = [
    "capture",
    "ActivationStats",
    "extrema",
    "Extrema",
    "mutual_information",
    "information_flow",
    "level_activations",
    "GradientMonitor",
    "neural_persistence",
    "persistence_diagram",
    "betti_numbers",
    "MAX_SIMPLICES",
    "degree_by_level",
    "io_path_lengths",
    "off_path_neurons",
    "centrality",
    "clustering",
    "motif_counts",
    "effective_size",
    "spectral_radius",
    "plot_persistence",
    "plot_degrees",
    "plot_activations",
    "plot_information",
]
