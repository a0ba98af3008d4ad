"""analysis: pure functions of neuron graphs and compiled networks (extrema, information flow,
graph metrics, topology). Imports graphnet.core and compilers only; never mutates a graph.
"""

__all__: list[str] = []
