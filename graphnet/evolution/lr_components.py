"""Who is who in a grown graph: scaffold, patch, clone, highway or new, read from the ``born``
step of each edge and neuron, the growth operators' neuron tags (``patch``, ``clone_of``,
``residual_block``) and the evolution system's ``component`` tag. Reads the graph only.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.schema import find_sorted

__all__ = ["KINDS", "Components", "component_of"]


KINDS = (
    "scaffold",
    "patch",
    "clone",
    "highway",
    "new",
    "route",
    "level",
    "residual",
    "rewire",
    "proportional",
)
"""Element kinds, indexed by the codes :func:`component_of` returns (a ``component`` tag of any
other name — a user's own rule — counts as ``new``). The first five are the
coarse kinds; ``route`` ... ``proportional`` are the evolution system's other components, all
of which count as ``new`` (:meth:`Components.mask` with ``"new"`` selects codes >= 4)."""

_NEW = KINDS.index("new")
_COMPONENT_CODE = {k: i for i, k in enumerate(KINDS) if k not in ("scaffold", "new")}
# An untagged edge takes the kind of an endpoint neuron; the later kinds win.
_INHERIT = ("route", "rewire", "proportional", "highway", "level", "residual", "clone", "patch")
_OPERATOR_TAGS = (("residual_block", "residual"), ("clone_of", "clone"), ("patch", "patch"))


def _positions(ids: np.ndarray, keys: Any) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``keys`` (ids) in the ascending ``ids`` and a mask of those found."""
    keys = np.asarray(keys if isinstance(keys, np.ndarray) else list(keys), np.int64)
    return find_sorted(ids, keys.reshape(-1))


def _component_codes(g: NeuronGraph, on: str, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(positions, codes)`` of the elements carrying a ``component`` tag."""
    tags = g.tags(on, "component")
    pos, found = _positions(ids, list(tags))
    codes = np.empty(pos.size, np.int8)
    for i, value in enumerate(tags.values()):
        # a component of a user's own rule (any other name) is new structure
        codes[i] = _COMPONENT_CODE.get(value, _NEW)
    return pos[found], codes[found]


class Components(NamedTuple):
    """Kind codes (into :data:`KINDS`, int8) of each edge, aligned with ``g.edge_attr("id")``,
    and of each neuron, aligned with ``g.neuron_ids``. Made by :func:`component_of`.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([2, 1], density=1.0, seed=0)
    >>> c = component_of(g)
    >>> c.names("edge").tolist(), bool(c.mask("neuron", "scaffold").all())
    (['scaffold', 'scaffold'], True)
    """

    edge: np.ndarray
    neuron: np.ndarray

    def mask(self, on: str, *kinds: str) -> np.ndarray:
        """Boolean mask of the edges (``on="edge"``) or neurons of any of ``kinds``; ``"new"``
        includes the evolution system's new components (``route``, ``level``, ...)."""
        codes = self._codes(on)
        out = np.zeros(codes.size, bool)
        for k in kinds:
            if k not in KINDS:
                raise GraphError(f"unknown kind {k!r}; expected one of {', '.join(KINDS)}")
            out |= codes >= _NEW if k == "new" else codes == KINDS.index(k)
        return out

    def names(self, on: str) -> np.ndarray:
        """The kind names of the edges or neurons, as a string array."""
        return np.asarray(KINDS)[self._codes(on)]

    def _codes(self, on: str) -> np.ndarray:
        if on not in ("edge", "neuron"):
            raise GraphError(f"on must be 'edge' or 'neuron', got {on!r}")
        return self.edge if on == "edge" else self.neuron


def component_of(g: NeuronGraph, *, scaffold_step: int = 0) -> Components:
    """What each edge and neuron of ``g`` is: scaffold, patch, clone, highway or new.

    For each neuron, the first rule that applies:

    1. its ``component`` tag (set by the evolution system): that component;
    2. tagged ``patch`` -> ``patch``; tagged ``clone_of`` -> ``clone``; tagged
       ``residual_block`` -> ``residual`` (a kind of new);
    3. born after ``scaffold_step`` -> ``new``; otherwise ``scaffold``.

    For each edge: its ``component`` tag; else the kind of an endpoint neuron that is
    neither scaffold nor plain new (an edge touching a patch neuron is ``patch``; if the two
    endpoints differ, ``patch`` beats ``clone`` beats ``residual``); else ``new`` if born
    after ``scaffold_step``, ``scaffold`` otherwise. Highways are only known by their tag
    (``gn.add_highway`` sets none), untagged they are ``new``.

    Parameters
    ----------
    g : NeuronGraph
        Read only.
    scaffold_step : int, default 0
        Elements born at this step or before (and untagged) are the scaffold.

    Returns
    -------
    Components
        ``(edge, neuron)`` int8 codes into :data:`KINDS`; ``.mask(on, kind)`` and
        ``.names(on)`` read them.

    Raises
    ------
    GraphError
        If a ``component`` tag holds an unknown value.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    >>> g.step = 10
    >>> rep = gn.add_patch(g, [3], [7], size=1)     # neuron 9 and edges 20, 21
    >>> e = gn.add_highway(g, "inputs->outputs").edges_added
    >>> g.tag("edge", "component", e[:2], "highway")
    >>> c = component_of(g)
    >>> c.names("neuron")[-1:].tolist(), c.names("edge")[[0, 20, 21, 22, 24]].tolist()
    (['patch'], ['scaffold', 'patch', 'patch', 'highway', 'new'])
    """
    eids, nids = g.edge_attr("id"), g.neuron_ids
    neuron = np.where(g.neuron_attr("born") > scaffold_step, _NEW, 0).astype(np.int8)
    for tag, kind in _OPERATOR_TAGS:
        pos, found = _positions(nids, list(g.tags("neuron", tag)))
        neuron[pos[found]] = KINDS.index(kind)
    pos, codes = _component_codes(g, "neuron", nids)
    neuron[pos] = codes
    edge = np.where(g.edge_attr("born") > scaffold_step, _NEW, 0).astype(np.int8)
    if eids.size:
        ends = (
            neuron[np.searchsorted(nids, g.edge_attr("src"))],
            neuron[np.searchsorted(nids, g.edge_attr("dst"))],
        )
        for kind in _INHERIT:
            code = KINDS.index(kind)
            edge[(ends[0] == code) | (ends[1] == code)] = code
    pos, codes = _component_codes(g, "edge", eids)
    edge[pos] = codes
    return Components(edge, neuron)
