"""Save and load neuron graphs as HDF5 files (through h5py), losslessly and atomically.

Format ``graphnet.NeuronGraph`` version 1, one file per graph::

    /                      attrs: format, version, next_edge_id, step, roles, activations (JSON)
    /neurons/{id,level,role,activation,bias,born}     live neurons, ascending id
    /edges/{id,src,dst,weight,born,lr}                edges, ascending id
    /io/{inputs,outputs}                              tensor order
    /tags                  attr "json": {"neuron": {name: [[id, value], ...]}, "edge": {...}}
    /log/NNNNNN            one group per edit record: attrs op, step, reason, and its data
                           (a reason HDF5 cannot hold as a string, with a NUL or a lone
                           surrogate, is stored JSON-escaped as attr reason_json instead)

:func:`write_graph` / :func:`read_graph` (and :func:`write_log` / :func:`read_log` for edit
records alone) put the same layout in a group of a larger file.

Every dataset carries a Fletcher-32 checksum, so flipped bytes are caught on load. Loading
reads arrays and JSON only: it never unpickles or executes anything from the file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .atomic_hdf5 import atomic_hdf5
from .editlog import KNOWN_OPS, EditLog, EditRecord
from .errors import GraphError, GraphFileError
from .keyindex import MAX_NEURON_ID
from .vocab import ACTIVATIONS, ROLES

if TYPE_CHECKING:
    from .graph import NeuronGraph

__all__ = [
    "save",
    "load",
    "write_graph",
    "read_graph",
    "write_log",
    "read_log",
    "FORMAT",
    "FORMAT_VERSION",
]

FORMAT = "graphnet.NeuronGraph"
FORMAT_VERSION = 1
_NEURON_COLS = ("level", "role", "activation", "bias", "born")
_EDGE_COLS = ("id", "src", "dst", "weight", "born", "lr")


def _dataset(group, name: str, data: np.ndarray) -> None:
    data = np.ascontiguousarray(data)
    if data.size:
        group.create_dataset(name, data=data, fletcher32=True, chunks=(min(data.size, 1 << 20),))
    else:
        group.create_dataset(name, data=data)


def save(g: NeuronGraph, path: str | os.PathLike) -> None:
    """Write ``g`` (state and edit log) to an HDF5 file, atomically.

    Examples
    --------
    >>> import graphnet as gn, tempfile, os
    >>> g = gn.mlp([4, 3, 2], density=0.5, seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.h5")
    >>> gn.save(g, path)
    >>> gn.load(path).equals(g)
    True
    """
    with atomic_hdf5(path) as f:
        write_graph(f, g)


def write_graph(group: Any, g: NeuronGraph) -> None:
    """Write ``g`` (state and edit log) into an open, empty h5py group, laid out as :func:`save`
    lays out a whole file (for files that hold a graph beside other data).

    Examples
    --------
    >>> import graphnet as gn, h5py, tempfile, os
    >>> g = gn.mlp([4, 3, 2], density=0.5, seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "two.h5")
    >>> with h5py.File(path, "w") as f:
    ...     write_graph(f.create_group("a"), g)
    >>> with h5py.File(path, "r") as f:
    ...     read_graph(f["a"], path).equals(g)
    True
    """
    ids = g.neuron_ids
    group.attrs.update(
        {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "next_edge_id": g.next_edge_id,
            "next_neuron_id": g.next_neuron_id,
            "step": int(g.step),
            "roles": json.dumps(ROLES),
            "activations": json.dumps(ACTIVATIONS),
        }
    )
    neurons = group.create_group("neurons")
    _dataset(neurons, "id", ids)
    for name in _NEURON_COLS:
        _dataset(neurons, name, g._neurons.view(name)[ids])
    edges = group.create_group("edges")
    for name in _EDGE_COLS:
        _dataset(edges, name, g._edges.view(name))
    io = group.create_group("io")
    _dataset(io, "inputs", np.asarray(g.inputs, np.int64))
    _dataset(io, "outputs", np.asarray(g.outputs, np.int64))
    tags = {
        on: {k: [[i, v] for i, v in t.items()] for k, t in g._tags[on].items()} for on in g._tags
    }
    group.create_group("tags").attrs["json"] = json.dumps(tags)
    _save_log(group.create_group("log"), g.log)


def read_graph(group: Any, path: str | os.PathLike) -> NeuronGraph:
    """Read a graph written by :func:`write_graph` from an open h5py group; the result is
    checked before it is returned.

    Raises
    ------
    GraphFileError
        Naming ``path`` (the file that holds ``group``), if the graph in it is corrupt.

    Examples
    --------
    See :func:`write_graph`.
    """
    path = Path(path)
    with _file_errors(path):
        return _read(group, path)


def write_log(group: Any, records: Iterable[EditRecord]) -> None:
    """Write edit records into an open, empty h5py group, laid out as a file's ``/log``.

    Examples
    --------
    >>> import graphnet as gn, h5py, tempfile, os
    >>> g = gn.mlp([3, 2], density=1.0, seed=0)
    >>> g.remove_edges([0], reason="pruned")
    >>> path = os.path.join(tempfile.mkdtemp(), "log.h5")
    >>> with h5py.File(path, "w") as f:
    ...     write_log(f.create_group("log"), g.log)
    >>> with h5py.File(path, "r") as f:
    ...     [(r.op, r.reason, r.ids.tolist()) for r in read_log(f["log"], path)]
    [('remove_edges', 'pruned', [0])]
    """
    _save_log(group, records if isinstance(records, EditLog) else EditLog(records))


def read_log(group: Any, path: str | os.PathLike) -> EditLog:
    """Read edit records written by :func:`write_log` (or a graph's ``log`` group).

    Raises
    ------
    GraphFileError
        Naming ``path`` (the file that holds ``group``), if a record is corrupt.

    Examples
    --------
    See :func:`write_log`.
    """
    path = Path(path)
    with _file_errors(path):
        return _read_log(group, path)


def _save_log(group, log: EditLog) -> None:
    group.attrs["count"] = len(log)
    for i, rec in enumerate(log):
        r = group.create_group(f"{i:08d}")
        r.attrs.update({"op": rec.op, "step": rec.step})
        if _plain_text(rec.reason):
            r.attrs["reason"] = rec.reason
        else:
            r.attrs["reason_json"] = json.dumps(rec.reason)
        scalars = {}
        for key, val in rec.data.items():
            if isinstance(val, np.ndarray) and val.dtype.kind != "U":
                _dataset(r, key, val)
            else:
                scalars[key] = val.tolist() if isinstance(val, np.ndarray) else val
        r.attrs["scalars"] = json.dumps(scalars)


def _plain_text(text: str) -> bool:
    """Whether HDF5 can store ``text`` as a (NUL-terminated UTF-8) string attribute."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def load(path: str | os.PathLike) -> NeuronGraph:
    """Read a graph written by :func:`save`; the result is checked before it is returned.

    Raises
    ------
    GraphFileError
        Naming the file, if it is missing, not HDF5, truncated, corrupt (checksum mismatch,
        missing or inconsistent arrays, a broken invariant), or of another format version.

    Examples
    --------
    >>> import graphnet as gn
    >>> gn.load("no/such/file.h5")
    Traceback (most recent call last):
    ...
    graphnet.core.errors.GraphFileError: no/such/file.h5: no such file
    """
    import h5py

    path = Path(path)
    if path.is_dir():
        hint = " (a run directory: its graph is final.h5)" if (path / "final.h5").is_file() else ""
        raise GraphFileError(f"{path}: a directory, not a graph file{hint}")
    if not path.is_file():
        raise GraphFileError(f"{path}: no such file")
    with _file_errors(path), h5py.File(path, "r") as f:
        return _read(f, path)


@contextlib.contextmanager
def _file_errors(path: Path) -> Iterator[None]:
    """Turn any failure to read the graph in ``path`` into a GraphFileError naming it."""
    try:
        yield
    except GraphFileError:
        raise
    except GraphError as err:
        raise GraphFileError(f"{path}: corrupt graph file: {err}") from err
    except MemoryError as err:
        raise GraphFileError(f"{path}: the graph in this file does not fit in memory") from err
    except (OSError, KeyError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise GraphFileError(
            f"{path}: unreadable or corrupt graph file ({type(err).__name__}: {err})"
        ) from err


def _read(f: Any, path: Path) -> NeuronGraph:
    from .assemble import assemble

    fmt = f.attrs.get("format")
    if fmt != FORMAT:
        raise GraphFileError(f"{path}: not a graphnet graph file (format attribute {fmt!r})")
    version = int(f.attrs.get("version", -1))
    if version != FORMAT_VERSION:
        newer = " (written by a newer graphnet)" if version > FORMAT_VERSION else ""
        raise GraphFileError(
            f"{path}: format version {version}{newer}; this graphnet reads version {FORMAT_VERSION}"
        )
    roles, acts = json.loads(f.attrs["roles"]), json.loads(f.attrs["activations"])
    common = min(len(acts), len(ACTIVATIONS))
    if roles != list(ROLES) or acts[:common] != list(ACTIVATIONS[:common]):
        raise GraphFileError(f"{path}: role or activation codes differ from this graphnet's")
    from .graph import EDGE_DTYPES, NEURON_DTYPES

    ids = _array(f, "neurons/id", np.int64, path)
    cols = {name: _array(f, f"neurons/{name}", NEURON_DTYPES[name], path) for name in _NEURON_COLS}
    edges = {name: _array(f, f"edges/{name}", EDGE_DTYPES[name], path) for name in _EDGE_COLS}
    for group, arrays, n in (("neurons", cols, ids.size), ("edges", edges, edges["id"].size)):
        for name, arr in arrays.items():
            if arr.ndim != 1 or arr.size != n:
                raise GraphFileError(
                    f"{path}: corrupt: {group}/{name} has shape {arr.shape}, expected ({n},)"
                )
    size = _whole(f.attrs["next_neuron_id"], "next_neuron_id", path)
    if size > MAX_NEURON_ID + 1:
        raise GraphFileError(f"{path}: corrupt: next_neuron_id {size} exceeds {MAX_NEURON_ID + 1}")
    if ids.size and (ids.min() < 0 or ids.max() >= size):
        raise GraphFileError(f"{path}: corrupt: neuron ids outside [0, {size})")
    dense = {}
    for name in _NEURON_COLS:
        arr = np.zeros(size, NEURON_DTYPES[name])
        arr[ids] = cols[name]
        dense[name] = arr
    dense["role"][np.setdiff1d(np.arange(size), ids)] = 1
    alive = np.zeros(size, bool)
    alive[ids] = True
    dense["alive"] = alive
    g = assemble(
        dense,
        edges,
        _array(f, "io/inputs", np.int64, path).tolist(),
        _array(f, "io/outputs", np.int64, path).tolist(),
        tags=_read_tags(f["tags"].attrs["json"], path),
        next_edge=_whole(f.attrs["next_edge_id"], "next_edge_id", path),
        step=_whole(f.attrs["step"], "step", path),
    )
    g.log = _read_log(f["log"], path)
    return g


def _array(f: Any, key: str, dtype: type, path: Path) -> np.ndarray:
    """A 1-d dataset whose stored type matches the column's kind (no silent float->int cast)."""
    ds = f[key]
    if not hasattr(ds, "dtype") or ds.ndim != 1:
        raise GraphFileError(f"{path}: corrupt: {key} is not a 1-d array")
    want = "iu" if np.dtype(dtype).kind in "iu" else "fiu"
    if ds.dtype.kind not in want:
        raise GraphFileError(f"{path}: corrupt: {key} holds {ds.dtype}, expected {np.dtype(dtype)}")
    arr = ds[()]
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise GraphFileError(f"{path}: corrupt: {key} holds values beyond int64")
    return arr


def _whole(value: Any, what: str, path: Path) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise GraphFileError(f"{path}: corrupt: {what} is {value!r}, not a whole number")
    if value < 0:
        raise GraphFileError(f"{path}: corrupt: {what} is negative ({value})")
    return int(value)


def _read_tags(text: str, path: Path) -> dict:
    raw = json.loads(text)
    if not isinstance(raw, dict) or not set(raw) <= {"neuron", "edge"}:
        raise GraphFileError(
            f"{path}: corrupt: tags are not a {{'neuron': ..., 'edge': ...}} table"
        )
    tags: dict = {}
    for on in ("neuron", "edge"):
        tables = raw.get(on, {})
        if not isinstance(tables, dict):
            raise GraphFileError(f"{path}: corrupt: {on} tags are not a table")
        tags[on] = {}
        for name, pairs in tables.items():
            if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], int) for p in pairs
            ):
                raise GraphFileError(
                    f"{path}: corrupt: {on} tag {name!r} is not a list of [id, value]"
                )
            tags[on][name] = {int(i): v for i, v in pairs}
    return tags


def _read_log(group, path: Path) -> EditLog:
    import h5py

    records = []
    for i in range(_whole(group.attrs["count"], "log count", path)):
        r = group[f"{i:08d}"]
        if not isinstance(r, h5py.Group):
            raise GraphFileError(f"{path}: corrupt: edit record {i} is not a group")
        op = str(r.attrs["op"])
        if op not in KNOWN_OPS:
            raise GraphFileError(f"{path}: corrupt: edit record {i} has unknown operation {op!r}")
        data: dict[str, Any] = {}
        for k in r.keys():
            if not isinstance(r[k], h5py.Dataset):
                raise GraphFileError(
                    f"{path}: corrupt: edit record {i} field {k!r} is not an array"
                )
            data[k] = r[k][()]
        scalars = json.loads(r.attrs["scalars"])
        if not isinstance(scalars, dict):
            raise GraphFileError(f"{path}: corrupt: edit record {i} scalars are not a table")
        for k, v in scalars.items():
            data[k] = np.asarray(v) if isinstance(v, list) and k in ("values",) else v
        if "reason_json" in r.attrs:
            reason = json.loads(r.attrs["reason_json"])
        else:
            reason = str(r.attrs["reason"])
        if not isinstance(reason, str):
            raise GraphFileError(f"{path}: corrupt: edit record {i} reason is not text")
        step = _whole(r.attrs["step"], f"edit record {i} step", path)
        records.append(EditRecord(op, step, reason, data))
    return EditLog(records)
