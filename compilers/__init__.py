"""compilers: NeuronGraph <-> PyTorch.

``compile`` builds a module from a graph, ``sync`` writes trained values back, ``recompile``
rebuilds after edits keeping weights and optimizer state, ``interpret`` is the slow reference.
Imports graphnet.core only.
"""

from .compile_graph import compile
from .export import export_onnx, traceable
from .from_torch import from_torch
from .interpret import interpret
from .models import DeepDAN, DeepFFN, GraphModel, MaskedLinear
from .module import DENSE_THRESHOLD, CompiledGraph
from .recompile import recompile
from .sync import sync
from .to_torch import to_torch

__all__ = [
    "compile",
    "sync",
    "recompile",
    "interpret",
    "from_torch",
    "to_torch",
    "CompiledGraph",
    "DENSE_THRESHOLD",
    "MaskedLinear",
    "DeepFFN",
    "DeepDAN",
    "GraphModel",
    "export_onnx",
    "traceable",
]
