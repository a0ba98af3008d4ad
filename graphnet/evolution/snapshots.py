"""Snapshots of an evolving graph: one HDF5 file each, full copies or deltas, written atomically.

A run takes a snapshot on every growth event and whenever the tracked accuracy improves by more
than 2% (:func:`should_snapshot`); each is tagged with its epoch, step, phase, reason and
metrics. Snapshot ``i`` is ``directory/snapshot_0000i.h5``:

* a **full** snapshot (when ``i % full_every == 0``) holds the whole graph, edit log included,
  laid out as :func:`graphnet.save` lays out a file (group ``/graph``);
* a **delta** snapshot holds what changed since snapshot ``i - 1``: the edit records appended
  since then (``/log``; a graph's log only grows) and the edges and neurons whose weight or bias
  differs after replaying those records (``/weights/{id,value}``, ``/biases/{id,value}``).
  The new values are stored, not differences, so reconstruction is bit-exact.

Loading snapshot ``i`` reads its full base and replays the deltas up to ``i``. Before a delta is
written it is replayed and compared with the graph; if the graph's log does not extend the
previous snapshot's (another graph was passed) or the replay does not give the graph, a full
snapshot is written instead and :attr:`SnapshotInfo.note` says why. One process writes to a
directory at a time; reopening it continues the numbering (to resume a run).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graphnet.core.atomic_hdf5 import atomic_hdf5
from graphnet.core.editlog import EditRecord, replay
from graphnet.core.errors import GraphError, GraphFileError
from graphnet.core.graph import NeuronGraph
from graphnet.core.io_hdf5 import read_graph, read_log, write_graph, write_log

__all__ = ["SnapshotStore", "SnapshotInfo", "should_snapshot", "SNAPSHOT_FORMAT"]

SNAPSHOT_FORMAT = "graphnet.Snapshot"
_VERSION = 1
_NAME = re.compile(r"snapshot_(\d{5,})\.h5")


def should_snapshot(previous_best: float | None, current: float, improvement: float = 0.02) -> bool:
    """Whether ``current`` beats ``previous_best`` by more than ``improvement``, relatively.

    The rule is ``current > previous_best + improvement * |previous_best|``: with the default,
    an accuracy must exceed the best snapshotted accuracy by more than 2% of it (0.50 -> 0.51,
    exactly 2%, does not qualify; 0.50 -> 0.52 does; equality is up to float rounding).
    Relative, so gains near the top must be real gains; higher must be better (an accuracy,
    not a loss). With no best yet (``None``) the answer is True.

    Raises
    ------
    GraphError
        If a value is not finite or ``improvement`` is negative.

    Examples
    --------
    >>> should_snapshot(None, 0.1), should_snapshot(0.50, 0.52), should_snapshot(0.50, 0.51)
    (True, True, False)
    >>> should_snapshot(0.50, 0.505, improvement=0.0)
    True
    """
    for name, v in (("current", current), ("previous_best", previous_best)):
        if v is not None and not np.isfinite(v):
            raise GraphError(f"should_snapshot: {name} must be finite, got {v}")
    if not np.isfinite(improvement) or improvement < 0:
        raise GraphError(f"should_snapshot: improvement must be finite and >= 0, got {improvement}")
    if previous_best is None:
        return True
    return bool(current > previous_best + improvement * abs(previous_best))


@dataclass(frozen=True)
class SnapshotInfo:
    """What a snapshot file says about itself (its metadata; the graph is read by ``load``).

    ``kind`` is ``"full"`` or ``"delta"``; ``base`` is the full snapshot a delta chains to (its
    own index for a full one); ``records``, ``weights_changed`` and ``biases_changed`` count
    what a delta holds; ``note`` says why a snapshot due as a delta was written full.

    Examples
    --------
    >>> import graphnet as gn, tempfile
    >>> store = SnapshotStore(tempfile.mkdtemp())
    >>> info = store.add(gn.mlp([3, 2], 1.0, seed=0), epoch=0, step=0, phase="coarse",
    ...                  reason="start")
    >>> info.index, info.kind, info.base, info.neurons, info.edges
    (0, 'full', 0, 5, 6)
    """

    index: int
    epoch: int
    step: int
    phase: str
    reason: str
    metrics: dict[str, float]
    kind: str
    base: int
    neurons: int
    edges: int
    log_length: int
    records: int = 0
    weights_changed: int = 0
    biases_changed: int = 0
    note: str = ""
    path: Path | None = field(default=None, compare=False)


@dataclass
class _Delta:
    records: list[EditRecord]
    edge_ids: np.ndarray
    weights: np.ndarray
    neuron_ids: np.ndarray
    biases: np.ndarray

    def counts(self) -> dict[str, int]:
        return {
            "records": len(self.records),
            "weights_changed": self.edge_ids.size,
            "biases_changed": self.neuron_ids.size,
        }


class SnapshotStore:
    """A directory of snapshots of one evolving graph.

    Parameters
    ----------
    directory : str or PathLike
        Where the files go (created if missing). Existing snapshots are kept and numbering
        continues after the highest one.
    full_every : int, default 5
        Snapshot ``i`` is a full copy when ``i % full_every == 0``, else a delta.

    Examples
    --------
    >>> import graphnet as gn, tempfile
    >>> store = SnapshotStore(tempfile.mkdtemp(), full_every=3)
    >>> g = gn.mlp([4, 6, 2], density=0.5, seed=0)
    >>> _ = store.add(g, epoch=0, step=0, phase="coarse", reason="start")
    >>> rep = gn.add_edges(g, [0], [10])
    >>> info = store.add(g, epoch=1, step=40, phase="coarse", reason="growth",
    ...                  metrics={"acc": 0.61})
    >>> info.kind, info.records, info.metrics
    ('delta', 1, {'acc': 0.61})
    >>> store.load(1).equals(g), [i.kind for i in SnapshotStore(store.directory).list()]
    (True, ['full', 'delta'])
    """

    def __init__(self, directory: str | os.PathLike, full_every: int = 5) -> None:
        self.full_every = _whole(full_every, "full_every", 1)
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        found = self._indices()
        self._next = found[-1] + 1 if found else 0
        self._last: NeuronGraph | None = None  # the graph of snapshot _next - 1, once read
        self._last_info: SnapshotInfo | None = None

    def path(self, i: int) -> Path:
        """The file of snapshot ``i`` (which may not exist)."""
        return self.directory / f"snapshot_{int(i):05d}.h5"

    def __len__(self) -> int:
        return len(self._indices())

    def __repr__(self) -> str:
        return f"SnapshotStore({str(self.directory)!r}, full_every={self.full_every}, snapshots={len(self)})"

    def list(self) -> list[SnapshotInfo]:
        """Metadata of every snapshot, by index (temporary files of a crashed write are skipped).

        Raises
        ------
        GraphFileError
            Naming the file, if a snapshot file is truncated or corrupt.

        Examples
        --------
        See :class:`SnapshotStore`.
        """
        return [self._info(i) for i in self._indices()]

    def add(
        self,
        g: NeuronGraph,
        *,
        epoch: int,
        step: int,
        phase: str,
        reason: str,
        metrics: dict[str, float] | None = None,
    ) -> SnapshotInfo:
        """Write the next snapshot of ``g`` (``g`` is left alone) and return its metadata.

        Raises
        ------
        GraphError
            If ``epoch`` or ``step`` is not a whole number >= 0, ``phase`` or ``reason`` is not
            text, or a metric is not a number.
        GraphFileError
            If the previous snapshot, needed for a delta, cannot be read back.

        Examples
        --------
        See :class:`SnapshotStore`.
        """

        epoch, step = _whole(epoch, "snapshot epoch"), _whole(step, "snapshot step")
        for name, v in (("phase", phase), ("reason", reason)):
            if not isinstance(v, str):
                raise GraphError(f"snapshot {name} must be text, got {v!r}")
        metrics = _numbers(metrics or {})
        i = self._next
        delta, note = None, ""
        if i % self.full_every and i > 0:
            prev, prev_info = self._previous()
            delta, note = _make_delta(prev, g, i - 1)
        info = SnapshotInfo(
            index=i,
            epoch=epoch,
            step=step,
            phase=phase,
            reason=reason,
            metrics=metrics,
            kind="full" if delta is None else "delta",
            base=i if delta is None else prev_info.base,
            neurons=g.num_neurons,
            edges=g.num_edges,
            log_length=len(g.log),
            note=note,
            path=self.path(i),
            **({} if delta is None else delta.counts()),
        )
        meta = {k: v for k, v in asdict(info).items() if k != "path"}
        with atomic_hdf5(info.path) as f:
            f.attrs.update({"format": SNAPSHOT_FORMAT, "version": _VERSION})
            f.attrs["info"] = json.dumps(meta)
            if delta is None:
                write_graph(f.create_group("graph"), g)
            else:
                f.attrs["graph_step"] = int(g.step)
                write_log(f.create_group("log"), delta.records)
                _pair(f, "weights", delta.edge_ids, delta.weights)
                _pair(f, "biases", delta.neuron_ids, delta.biases)
        self._last, self._last_info, self._next = g.copy(), info, i + 1
        return info

    def load(self, i: int) -> NeuronGraph:
        """Rebuild the graph of snapshot ``i``, exactly (attributes, ids, order, tags, log).

        Raises
        ------
        GraphFileError
            Naming the file, if snapshot ``i`` or one it chains to is missing or corrupt.

        Examples
        --------
        See :class:`SnapshotStore`.
        """
        info = self._info(i)
        g = self._read(info.base, info.base, None)
        for j in range(info.base + 1, info.index + 1):
            g = self._read(j, info.base, g)
        return g

    # ------------------------------------------------------------------ internals
    def _indices(self) -> list[int]:
        return sorted(
            int(m.group(1)) for p in self.directory.iterdir() if (m := _NAME.fullmatch(p.name))
        )

    def _previous(self) -> tuple[NeuronGraph, SnapshotInfo]:
        if self._last is None or self._last_info is None:  # reopened: read it back
            self._last, self._last_info = self.load(self._next - 1), self._info(self._next - 1)
        return self._last, self._last_info

    def _info(self, i: int) -> SnapshotInfo:
        path = self.path(i)
        with _open(path) as f:
            return _read_info(f, path, i)

    def _read(self, i: int, base: int, prev: NeuronGraph | None) -> NeuronGraph:
        """Snapshot ``i``: the full ``base`` (``prev`` None) or a delta on it applied to ``prev``."""
        path = self.path(i)
        with _open(path) as f:
            info = _read_info(f, path, i)
            if (info.kind, info.base) != ("full" if prev is None else "delta", base):
                raise GraphFileError(
                    f"{path}: corrupt: the chain to snapshot {base} expects "
                    f"{'a full copy' if prev is None else 'a delta'} here, found a {info.kind} on {info.base}"
                )
            if prev is None:
                g = read_graph(f["graph"], path)
            else:
                g = replay(prev, read_log(f["log"], path))
                g.write_parameters(*_read_pair(f, "weights", path), *_read_pair(f, "biases", path))
                g.step = int(f.attrs["graph_step"])
        got = (g.num_neurons, g.num_edges, len(g.log))
        if got != (info.neurons, info.edges, info.log_length):
            raise GraphFileError(
                f"{path}: corrupt: rebuilt graph has (neurons, edges, log records) {got}, the "
                f"metadata says {(info.neurons, info.edges, info.log_length)}"
            )
        return g


@contextlib.contextmanager
def _open(path: Path) -> Iterator[Any]:
    """Open a snapshot file for reading; any failure becomes a GraphFileError naming it."""
    import h5py

    if not path.is_file():
        raise GraphFileError(f"{path}: no such snapshot file")
    try:
        with h5py.File(path, "r") as f:
            yield f
    except GraphFileError:
        raise
    except GraphError as err:
        raise GraphFileError(f"{path}: corrupt snapshot: {err}") from err
    except (OSError, KeyError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise GraphFileError(
            f"{path}: unreadable or corrupt snapshot file ({type(err).__name__}: {err})"
        ) from err


def _read_info(f: Any, path: Path, i: int) -> SnapshotInfo:
    if f.attrs.get("format") != SNAPSHOT_FORMAT:
        raise GraphFileError(
            f"{path}: not a graphnet snapshot file (format {f.attrs.get('format')!r})"
        )
    if int(f.attrs.get("version", -1)) != _VERSION:
        raise GraphFileError(
            f"{path}: snapshot format version {f.attrs.get('version')}; this graphnet reads {_VERSION}"
        )
    meta = json.loads(f.attrs["info"])
    if not isinstance(meta, dict):
        raise GraphFileError(f"{path}: corrupt: snapshot metadata is not a table")
    info = SnapshotInfo(**meta, path=path)
    if info.index != i or info.kind not in ("full", "delta") or not 0 <= info.base <= i:
        raise GraphFileError(
            f"{path}: corrupt: metadata says index {info.index}, kind {info.kind!r}, base {info.base}"
        )
    return info


def _make_delta(prev: NeuronGraph, g: NeuronGraph, i: int) -> tuple[_Delta | None, str]:
    """The delta from ``prev`` (snapshot ``i``) to ``g``, verified by replaying it, or
    ``(None, why)`` when ``g`` is not ``prev`` plus logged edits and new weights."""
    n = len(prev.log)
    if len(g.log) < n or not all(_same_record(prev.log[k], g.log[k]) for k in range(n)):
        return None, f"full: the graph's edit log does not extend snapshot {i}'s"
    records = g.log.since(n)
    try:
        r = replay(prev, records)
    except GraphError as err:
        return None, f"full: the edits logged since snapshot {i} do not replay onto it ({err})"
    eids, nids = g.edge_attr("id"), g.neuron_ids
    if not (np.array_equal(r.edge_attr("id"), eids) and np.array_equal(r.neuron_ids, nids)):
        return None, f"full: replaying the log onto snapshot {i} gives other edge or neuron ids"
    w, b = _f32(g.edge_attr("weight")), _f32(g.neuron_attr("bias"))
    we = np.flatnonzero(_f32(r.edge_attr("weight")).view(np.uint32) != w.view(np.uint32))
    bn = np.flatnonzero(_f32(r.neuron_attr("bias")).view(np.uint32) != b.view(np.uint32))
    delta = _Delta(records, eids[we].copy(), w[we], nids[bn].copy(), b[bn])
    r.write_parameters(delta.edge_ids, delta.weights, delta.neuron_ids, delta.biases)
    r.step = g.step
    if not r.equals(g):
        return None, f"full: the graph differs from snapshot {i} beyond logged edits and weights"
    return delta, ""


def _f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _same_record(a: EditRecord, b: EditRecord) -> bool:
    if a is b:
        return True
    if (a.op, a.step, a.reason) != (b.op, b.step, b.reason) or set(a.data) != set(b.data):
        return False
    plain = lambda v: v.tolist() if isinstance(v, np.ndarray) else v
    return all(plain(a.data[k]) == plain(b.data[k]) for k in a.data)


def _whole(v: Any, what: str, low: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        raise GraphError(f"{what} must be a whole number >= {low}, got {v!r}")
    return int(v)


def _numbers(metrics: dict) -> dict[str, float]:
    if not isinstance(metrics, dict):
        raise GraphError(f"snapshot metrics must be a dict, got {type(metrics).__name__}")
    out = {}
    for k, v in metrics.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise GraphError(f"snapshot metric {k!r} must be a number, got {v!r}")
        out[str(k)] = float(v)
    return out


def _pair(f: Any, name: str, ids: np.ndarray, values: np.ndarray) -> None:
    group = f.create_group(name)
    for key, data in (("id", ids.astype(np.int64)), ("value", values)):
        if data.size:
            group.create_dataset(key, data=data, fletcher32=True, chunks=(data.size,))
        else:
            group.create_dataset(key, data=data)


def _read_pair(f: Any, name: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    ids, values = f[f"{name}/id"][()], f[f"{name}/value"][()]
    paired = ids.ndim == 1 and ids.shape == values.shape
    if not paired or ids.dtype.kind not in "iu" or values.dtype != np.float32:
        raise GraphFileError(f"{path}: corrupt: {name}/id and {name}/value do not pair up")
    return ids.astype(np.int64), values
