"""Errors raised by graphnet.

Every broken invariant raises :class:`GraphError`, a :class:`ValueError` whose message names the
neuron or edge at fault. Unreadable or corrupt files raise :class:`GraphFileError`, a subclass
that names the file.
"""

from __future__ import annotations

__all__ = ["GraphError", "GraphFileError"]


class GraphError(ValueError):
    """An edit or an input would break an invariant of a :class:`NeuronGraph`.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([2, 2, 2], density=1.0, seed=0)
    >>> g.add_edge(2, 3)
    Traceback (most recent call last):
    ...
    graphnet.core.errors.GraphError: edge 2->3 goes from level 1 to level 1; edges must rise ...
    """


class GraphFileError(GraphError):
    """A graph file is missing, truncated, corrupt, or of an unknown format version."""
