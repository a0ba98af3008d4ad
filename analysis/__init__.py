"""analysis: pure functions of neuron graphs and compiled networks (extrema, information flow,
graph metrics, topology). Imports graphnet.core and compilers only; never mutates a graph.
"""

from .information import mutual_information

__all__ = ["mutual_information"]
