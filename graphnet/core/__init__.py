"""graphnet.core: the NeuronGraph, its invariants, edits, the edit log and I/O.

Imports no compiler and no analysis (see ARCHITECTURE.md, import floors).
"""

from .assemble import from_edges
from .build import mlp
from .editlog import EditLog, EditRecord, replay
from .errors import GraphError, GraphFileError
from .graph import NeuronGraph
from .vocab import ACTIVATIONS, ROLES

__all__ = [
    "ACTIVATIONS",
    "EditLog",
    "EditRecord",
    "GraphError",
    "GraphFileError",
    "NeuronGraph",
    "ROLES",
    "from_edges",
    "mlp",
    "replay",
]
