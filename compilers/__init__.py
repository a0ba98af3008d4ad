"""compilers: NeuronGraph <-> PyTorch.

``compile`` builds a module from a graph, ``sync`` writes trained values back, ``recompile``
rebuilds after edits keeping weights and optimizer state, ``interpret`` is the slow reference.
Imports graphnet.core only.
"""

from .compile_graph import compile
from .interpret import interpret
from .module import DENSE_THRESHOLD, CompiledGraph
from .recompile import recompile
from .sync import sync

__all__ = ["compile", "sync", "recompile", "interpret", "CompiledGraph", "DENSE_THRESHOLD"]
