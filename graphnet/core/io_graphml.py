"""GraphML export and import, for Gephi, yEd and Cytoscape users.

The file holds what :func:`graphnet.to_networkx` holds (every attribute and tag, typed), with
the input and output order as comma-separated graph attributes, since GraphML has no list type,
and tags whose values mix types written as typed text (GraphML gives an attribute one type).
:func:`read_graphml` reads such a file back into an equal graph; a GraphML file from another
tool is read by the rules of :func:`graphnet.from_networkx`.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import GraphError, GraphFileError

if TYPE_CHECKING:
    from .graph import NeuronGraph

__all__ = ["write_graphml", "read_graphml"]

# Characters XML 1.0 (and so GraphML) cannot hold, not even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


_MIXED_KEY = "graphnet_mixed_type_tags"
_TYPES = {"bool": bool, "int": int, "float": float, "str": str}


def _encode(v: object) -> str:
    # JSON text escapes the carriage returns that XML parsers turn into line feeds.
    return f"{type(v).__name__}:{json.dumps(v)}"


def _decode(text: str) -> object:
    kind, _, raw = str(text).partition(":")
    if kind not in _TYPES:
        raise ValueError(f"unknown typed value {text!r}")
    value = json.loads(raw)
    return _TYPES[kind](value)


def _needs_typed_text(table: dict) -> bool:
    """A tag GraphML cannot hold as one plain attribute: mixed value types, or text with a
    carriage return (XML reads it back as a line feed)."""
    return len({type(v) for v in table.values()}) > 1 or any(
        isinstance(v, str) and "\r" in v for v in table.values()
    )


def write_graphml(g: NeuronGraph, path: str | os.PathLike) -> None:
    """Export ``g`` as GraphML, written atomically.

    Raises
    ------
    GraphError
        If a tag holds a character XML cannot store.

    Examples
    --------
    >>> import graphnet as gn, tempfile, os, networkx as nx
    >>> path = os.path.join(tempfile.mkdtemp(), "net.graphml")
    >>> gn.write_graphml(gn.mlp([3, 2], density=1.0, seed=0), path)
    >>> nx.read_graphml(path).number_of_edges()
    6
    """
    import networkx as nx

    from .atomic import atomic_path
    from .io_networkx import to_networkx

    for on in ("neuron", "edge"):
        for name, table in g._tags[on].items():
            for i, v in itertools.chain([(None, name)], table.items()):
                bad = _NOT_XML.search(v) if isinstance(v, str) else None
                if bad:
                    what = (
                        f"{on} tag name {name!r}"
                        if i is None
                        else f"{on} {i} tag {name!r} value {v!r}"
                    )
                    raise GraphError(
                        f"{what} holds the character U+{ord(bad.group()):04X}, which XML (so "
                        "GraphML) cannot store; change the tag before exporting"
                    )
    G = to_networkx(g)
    for key in ("inputs", "outputs"):
        G.graph[key] = ",".join(str(i) for i in G.graph[key])
    # GraphML gives an attribute one type, and XML turns "\r" into "\n": such tags are written
    # as typed JSON text ('bool:true', 'str:"a\\rb"') and listed, so reading restores each value.
    mixed = {
        on: sorted(n for n, t in g._tags[on].items() if _needs_typed_text(t))
        for on in ("neuron", "edge")
    }
    if mixed["neuron"] or mixed["edge"]:
        G.graph[_MIXED_KEY] = json.dumps(mixed)
        for _, data in G.nodes(data=True):
            for name in mixed["neuron"]:
                if name in data:
                    data[name] = _encode(data[name])
        for _, _, data in G.edges(data=True):
            for name in mixed["edge"]:
                if name in data:
                    data[name] = _encode(data[name])
    with atomic_path(path) as tmp:
        nx.write_graphml(G, tmp)


def read_graphml(path: str | os.PathLike, *, seed: int = 0) -> NeuronGraph:
    """Read a GraphML file into a :class:`NeuronGraph`.

    A file written by :func:`write_graphml` comes back equal (ids, attributes and tags; the
    edit log is not kept in GraphML). Other GraphML files follow the rules of
    :func:`graphnet.from_networkx`; ``seed`` draws weights for edges that carry none.

    Raises
    ------
    GraphFileError
        Naming the file, if it is missing or not GraphML.
    GraphError
        If the graph in it is not a DAG or breaks an invariant.

    Examples
    --------
    >>> import graphnet as gn, tempfile, os
    >>> g = gn.mlp([3, 2], density=0.5, seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.graphml")
    >>> gn.write_graphml(g, path)
    >>> gn.read_graphml(path).equals(g)
    True
    """
    import networkx as nx

    from .io_networkx import from_networkx

    path = Path(path)
    if not path.is_file():
        raise GraphFileError(f"{path}: no such file")
    try:
        G = nx.read_graphml(path)
    except Exception as err:  # the XML parser's and networkx's own errors, all unreadable files
        raise GraphFileError(
            f"{path}: not a readable GraphML file ({type(err).__name__}: {err})"
        ) from err
    if not G.is_directed():
        raise GraphError(
            f"{path}: the GraphML graph is undirected; graphnet needs a directed graph"
        )
    if "next_neuron_id" in G.graph:  # written by write_graphml: node keys are neuron ids
        try:
            G = nx.relabel_nodes(G, {n: int(n) for n in G.nodes})
        except ValueError as err:
            raise GraphFileError(
                f"{path}: a graphnet GraphML file with a non-integer node key"
            ) from err
    mixed = G.graph.pop(_MIXED_KEY, None)
    if mixed is not None:
        try:
            tables = json.loads(mixed)
            for _, data in G.nodes(data=True):
                for name in tables.get("neuron", []):
                    if name in data:
                        data[name] = _decode(data[name])
            for _, _, data in G.edges(data=True):
                for name in tables.get("edge", []):
                    if name in data:
                        data[name] = _decode(data[name])
        except (ValueError, TypeError, AttributeError) as err:
            raise GraphFileError(f"{path}: corrupt typed tag values ({err})") from err
    for key in ("inputs", "outputs"):
        given = G.graph.get(key)
        if isinstance(given, str):
            parts = [p for p in given.split(",") if p]
            try:
                G.graph[key] = [int(p) for p in parts] if "next_neuron_id" in G.graph else parts
            except ValueError as err:
                raise GraphFileError(
                    f"{path}: graph attribute {key!r} is not a list of ids: {given!r}"
                ) from err
    return from_networkx(G, seed=seed)
