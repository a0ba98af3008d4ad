"""graphnet: neural networks that grow their own structure.

A network is a DAG of neurons and weighted edges (:class:`NeuronGraph`); training runs on a
compiled view of it, growth is an edit of it, analysis is a function of it.

>>> import graphnet as gn
>>> g = gn.mlp([784, 256, 10], density=0.01, seed=0)
>>> g
NeuronGraph(neurons=1050, edges=2033, levels=3)
"""

from __future__ import annotations

import importlib
from typing import Any

from .core import (
    ACTIVATIONS,
    ROLES,
    EditLog,
    EditRecord,
    GraphError,
    GraphFileError,
    NeuronGraph,
    from_edges,
    mlp,
    replay,
)
from .core.io_graphml import read_graphml, write_graphml
from .core.io_hdf5 import load, save
from .core.io_networkx import from_networkx, to_networkx
from .core.io_pyg import from_pyg, to_pyg

__version__ = "0.1.0"

# Names served lazily from packages on higher floors, so that ``import compilers`` before
# ``import graphnet`` works and importing graphnet stays light.
_LAZY = {
    "draw": "graphnet.drawing",
}
_LAZY_MODULES = ("compilers", "analysis", "graphnet.growth", "graphnet.evolution")

__all__ = [
    "ACTIVATIONS",
    "ROLES",
    "EditLog",
    "EditRecord",
    "GraphError",
    "GraphFileError",
    "NeuronGraph",
    "draw",
    "from_edges",
    "from_networkx",
    "from_pyg",
    "load",
    "mlp",
    "replay",
    "save",
    "to_networkx",
    "to_pyg",
    "write_graphml",
    "read_graphml",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _LAZY_MODULES:
        return importlib.import_module(name)
    if f"graphnet.{name}" in _LAZY_MODULES:
        return importlib.import_module(f"graphnet.{name}")
    for mod in _LAZY_MODULES:
        module = importlib.import_module(mod)
        if name in getattr(module, "__all__", ()):
            return getattr(module, name)
    raise AttributeError(f"module 'graphnet' has no attribute {name!r}")
