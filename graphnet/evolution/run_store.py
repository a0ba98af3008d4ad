"""A run store: the files of one evolution run, written so that a killed run loses nothing it
reported as logged.

Layout of a run directory::

    config.json     the run's configuration, a JSON object (written atomically)
    run.json        status "running" | "finished" | "failed", time, pid, last epoch (atomic)
    metrics.jsonl   one EpochMetrics per line, append-only, epochs strictly increasing
    events.jsonl    one GrowthEvent per line, append-only
    metrics.h5      the numeric EpochMetrics fields as HDF5 time series (derived, see below)

Crash safety: a record is one line written by a single ``write`` to a file opened in append
mode, then ``fsync``'d before ``log_metrics``/``log_event`` returns, so a logged record survives
SIGKILL and power loss. A write cut short leaves a last line without its newline ("torn"):
reading ignores it (a reader may also be watching a live run), and the next append cuts it off
first, so the file stays valid JSON Lines. Any other unreadable line is corruption and raises
:class:`GraphFileError` naming the file and the line.

HDF5 is not crash-safe (a kill mid-write can leave the file unreadable), so ``metrics.h5`` is a
derived copy and the JSONL is the truth: on open the store compares the two and, if the lengths
or values disagree or the file cannot be read, rebuilds ``metrics.h5`` from ``metrics.jsonl``
(atomically). ``phase`` and ``extra`` live in the JSONL only.

Resuming: reopen the directory, then call ``truncate_after(epoch)`` with the epoch of the
snapshot resumed from, so the epochs run again are not logged twice. One process writes a store
at a time.

Sinks (:mod:`graphnet.evolution.sinks`: W&B, TensorBoard, re-exported here) get every record
after it is on disk; they are optional, and a sink that fails warns once and is dropped, it never
stops the run.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from graphnet.core.atomic import atomic_path
from graphnet.core.atomic_hdf5 import atomic_hdf5
from graphnet.core.errors import GraphError, GraphFileError

from .records import EpochMetrics, GrowthEvent, read_jsonl
from .sinks import Sink, TensorBoardSink, WandbSink, default_sinks

__all__ = [
    "RunStore", "Sink", "WandbSink", "TensorBoardSink", "default_sinks", "STATUSES", "clear_run",
    "RUN_FILES",
]  # fmt: skip

STATUSES = ("running", "finished", "failed")
# The metrics.h5 datasets: every int or float field of EpochMetrics, in order.
_H5_FIELDS = {
    name: np.int64 if f.annotation is int else np.float64
    for name, f in EpochMetrics.model_fields.items()
    if f.annotation in (int, float)
}


class RunStore:
    """The append-only, crash-safe files of one run in ``directory`` (see the module docstring).

    Parameters
    ----------
    directory : str or os.PathLike
        The run directory; made (with its parents) if missing and ``create`` is true.
    create : bool, default True
        If false, a missing directory raises :class:`GraphFileError`.
    sinks : iterable of Sink, optional
        Also given every metrics row and event, e.g. from :func:`default_sinks`.

    Examples
    --------
    >>> import tempfile
    >>> row = dict(step=10, loss=0.5, train_acc=0.9, test_acc=0.8, edges=12, neurons=6,
    ...            parameters=18, density=0.5, phase="grow", wall_time=0.1)
    >>> with RunStore(tempfile.mkdtemp()) as store:
    ...     store.write_config({"seed": 0})
    ...     _ = store.log_metrics({"epoch": 0, **row})
    ...     _ = store.log_metrics({"epoch": 1, **row})
    ...     store.mark("finished")
    >>> reopened = RunStore(store.directory, create=False)
    >>> [m.epoch for m in reopened.metrics()], reopened.read_config(), reopened.last_epoch
    ([0, 1], {'seed': 0}, 1)
    >>> reopened.read_status()["status"]
    'finished'
    """

    def __init__(
        self, directory: str | os.PathLike, *, create: bool = True, sinks: Iterable[Sink] = ()
    ) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            if not create:
                raise GraphFileError(f"{self.directory}: no such run directory")
            self.directory.mkdir(parents=True)
        self._files: dict[Path, Any] = {}
        self._sinks = list(sinks)
        self._h5_live = True
        self._closed = False
        rows = self.metrics()
        self._last_epoch = rows[-1].epoch if rows else None
        self._sync_h5(rows)

    @property
    def last_epoch(self) -> int | None:
        """The epoch of the last metrics row, or None if there is none."""
        return self._last_epoch

    def __repr__(self) -> str:
        return f"RunStore({str(self.directory)!r}, last_epoch={self.last_epoch})"

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _path(self, name: str) -> Path:
        return self.directory / name

    def log_metrics(self, row: EpochMetrics | Mapping[str, Any]) -> EpochMetrics:
        """Validate ``row``, append it to ``metrics.jsonl`` (fsync'd) and ``metrics.h5``, and
        forward it to the sinks. Returns the validated record.

        Raises
        ------
        pydantic.ValidationError
            If a field is missing, unknown, out of range or not finite.
        GraphError
            If ``row.epoch`` is not after the last logged epoch (on resume, call
            :meth:`truncate_after` first), or the store is closed.
        """
        row = row if isinstance(row, EpochMetrics) else EpochMetrics.model_validate(row)
        if self.last_epoch is not None and row.epoch <= self.last_epoch:
            raise GraphError(
                f"{self._path('metrics.jsonl')}: epoch {row.epoch} is logged after epoch "
                f"{self.last_epoch}; epochs must increase (when resuming from epoch k, call "
                "truncate_after(k) first)"
            )
        self._append("metrics.jsonl", row)
        self._last_epoch = row.epoch
        if self._h5_live:
            try:
                _h5_append(self._path("metrics.h5"), row)
            except (OSError, KeyError, ValueError, RuntimeError) as err:
                self._h5_live = False
                warnings.warn(
                    f"{self._path('metrics.h5')}: append failed ({err}); it is rebuilt from "
                    "metrics.jsonl when the store is next opened",
                    RuntimeWarning,
                    stacklevel=2,
                )
        self._forward("log_metrics", row.model_dump())
        return row

    def log_event(self, event: GrowthEvent | Mapping[str, Any]) -> GrowthEvent:
        """Validate ``event``, append it to ``events.jsonl`` (fsync'd) and forward it to the
        sinks. Returns the validated record.

        Examples
        --------
        >>> import tempfile
        >>> store = RunStore(tempfile.mkdtemp())
        >>> _ = store.log_event(dict(epoch=0, step=5, rule="prune", reason="weak edges",
        ...     phase="prune", edges_added=0, edges_removed=7, neurons_added=0,
        ...     neurons_removed=0, parameters_before=50, parameters_after=43))
        >>> [(e.rule, e.edges_removed) for e in store.events()]
        [('prune', 7)]
        """
        event = event if isinstance(event, GrowthEvent) else GrowthEvent.model_validate(event)
        self._append("events.jsonl", event)
        self._forward("log_event", event.model_dump())
        return event

    def metrics(self) -> list[EpochMetrics]:
        """Every complete record of ``metrics.jsonl``, oldest first (see :meth:`events`)."""
        return read_jsonl(self._path("metrics.jsonl"), EpochMetrics)[0]

    def events(self) -> list[GrowthEvent]:
        """Every complete record of ``events.jsonl``, oldest first.

        A torn last line is ignored; a corrupt complete line raises :class:`GraphFileError`
        naming the file and line (see :func:`graphnet.evolution.records.read_jsonl`).
        """
        return read_jsonl(self._path("events.jsonl"), GrowthEvent)[0]

    def write_config(self, config: Mapping[str, Any] | BaseModel) -> None:
        """Write ``config`` (a JSON-serialisable mapping, or a pydantic model) to ``config.json``,
        atomically, replacing any earlier one.

        Raises
        ------
        GraphError
            If ``config`` is not JSON data with finite numbers.
        """
        if isinstance(config, BaseModel):
            config = config.model_dump(mode="json")
        try:
            text = json.dumps(dict(config), indent=2, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise GraphError(
                f"{self._path('config.json')}: config is not JSON data ({err})"
            ) from None
        _write_atomic(self._path("config.json"), text + "\n")

    def read_config(self) -> dict[str, Any]:
        """The dict last given to :meth:`write_config`; :class:`GraphFileError` if none was."""
        return _read_json(self._path("config.json"), "config")

    def mark(self, status: str) -> None:
        """Record the run's status (one of :data:`STATUSES`) in ``run.json``, atomically."""
        if status not in STATUSES:
            raise GraphError(f"status must be one of {STATUSES}, got {status!r}")
        info = {"status": status, "time": time.time(), "pid": os.getpid()}
        _write_atomic(self._path("run.json"), json.dumps({**info, "epoch": self.last_epoch}))

    def read_status(self) -> dict[str, Any] | None:
        """The contents of ``run.json`` (``status``, ``time``, ``pid``, ``epoch``), or None if
        the run was never marked."""
        if not self._path("run.json").exists():
            return None
        return _read_json(self._path("run.json"), "status")

    def truncate_after(self, epoch: int) -> int:
        """Drop the metrics rows and events of epochs after ``epoch``; return how many.

        Each file is rewritten atomically (a crash leaves the old or the new file), and a
        torn last line goes with it. ``metrics.h5`` is rebuilt to match.

        Examples
        --------
        >>> import tempfile
        >>> store = RunStore(tempfile.mkdtemp())
        >>> row = dict(step=0, loss=1.0, train_acc=0.5, test_acc=0.5, edges=1, neurons=2,
        ...            parameters=3, density=0.5, phase="grow", wall_time=0.0)
        >>> for k in range(5):
        ...     _ = store.log_metrics({**row, "epoch": k})
        >>> store.truncate_after(2), [m.epoch for m in store.metrics()], store.last_epoch
        (2, [0, 1, 2], 2)
        """
        self._close_files()
        dropped = 0
        for name, model in (("metrics.jsonl", EpochMetrics), ("events.jsonl", GrowthEvent)):
            records, torn = read_jsonl(self._path(name), model)
            keep = [r for r in records if r.epoch <= epoch]
            if len(keep) < len(records) or torn:
                lines = "".join(r.model_dump_json() + "\n" for r in keep)
                _write_atomic(self._path(name), lines)
            dropped += len(records) - len(keep)
        rows = self.metrics()
        self._last_epoch = rows[-1].epoch if rows else None
        self._sync_h5(rows)
        return dropped

    def restore(
        self, history: list[Mapping[str, Any]], events: list[Mapping[str, Any]]
    ) -> tuple[int, int]:
        """Make ``metrics.jsonl`` and ``events.jsonl`` hold exactly ``history`` and ``events``
        (a resume point's copies), rewriting a file only where it differs; return how many
        rows and events the files lacked (removed or cut files lose nothing on resume).

        Examples
        --------
        >>> import tempfile
        >>> store = RunStore(tempfile.mkdtemp())
        >>> row = dict(step=0, loss=1.0, train_acc=0.5, test_acc=0.5, edges=1, neurons=2,
        ...            parameters=3, density=0.5, phase="grow", wall_time=0.0)
        >>> store.restore([{**row, "epoch": 0}, {**row, "epoch": 1}], [])
        (2, 0)
        >>> [m.epoch for m in store.metrics()], store.restore([{**row, "epoch": 0}, {**row, "epoch": 1}], [])
        ([0, 1], (0, 0))
        """
        self._close_files()
        lacked = []
        for name, model, want in (
            ("metrics.jsonl", EpochMetrics, history),
            ("events.jsonl", GrowthEvent, events),
        ):
            records = [model.model_validate(r) for r in want]
            have, torn = read_jsonl(self._path(name), model)
            lacked.append(max(len(records) - len(have), 0))
            if have != records or torn:
                _write_atomic(
                    self._path(name), "".join(r.model_dump_json() + "\n" for r in records)
                )
        rows = self.metrics()
        self._last_epoch = rows[-1].epoch if rows else None
        self._sync_h5(rows)
        return lacked[0], lacked[1]

    def close(self) -> None:
        """Close the files and the sinks. Logging afterwards raises :class:`GraphError`."""
        self._close_files()
        for sink in list(self._sinks):
            self._call(sink, "close")
        self._sinks.clear()
        self._closed = True

    def _append(self, name: str, record: BaseModel) -> None:
        """Append ``record`` as one line: one write, then fsync."""
        if self._closed:
            raise GraphError(f"{self.directory}: the run store is closed")
        path = self._path(name)
        fh = self._files.get(path)
        if fh is None:
            _cut_torn_line(path)
            existed = path.exists()
            fh = self._files[path] = open(path, "ab", buffering=0)
            if not existed:
                _fsync_directory(self.directory)
        line = record.model_dump_json().encode() + b"\n"
        try:
            written = fh.write(line)
            if written != len(line):
                raise OSError(f"{path}: short write ({written} of {len(line)} bytes)")
            os.fsync(fh.fileno())
        except BaseException:
            self._files.pop(path).close()  # the next append cuts what was written
            raise

    def _close_files(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()

    def _forward(self, method: str, payload: dict[str, Any]) -> None:
        for sink in list(self._sinks):
            if not self._call(sink, method, payload):
                self._sinks.remove(sink)

    def _call(self, sink: Sink, method: str, *args: Any) -> bool:
        """Call ``sink.method(*args)``; on any failure warn and return False."""
        try:
            getattr(sink, method)(*args)
        except Exception as err:  # a sink may fail in any way; it must never stop the run
            warnings.warn(
                f"{self.directory}: sink {sink!r} failed in {method} ({type(err).__name__}: "
                f"{err}); it is dropped for the rest of the run",
                RuntimeWarning,
                stacklevel=4,
            )
            return False
        return True

    def _sync_h5(self, rows: list[EpochMetrics]) -> None:
        """Rebuild ``metrics.h5`` from ``rows`` unless it already holds exactly them."""
        path = self._path("metrics.h5")
        self._h5_live = True
        if _h5_matches(path, rows):
            return
        try:
            _h5_rebuild(path, rows)
        except OSError as err:
            self._h5_live = False
            warnings.warn(f"{path}: cannot rebuild ({err})", RuntimeWarning, stacklevel=3)


def _write_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GraphFileError(f"{path}: no {what} was written to this run") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise GraphFileError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise GraphFileError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def _cut_torn_line(path: Path) -> None:
    """Cut an incomplete last line (no newline) off ``path``, with a warning."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with open(path, "rb+") as fh:
        end = size
        while end > 0:
            start = max(0, end - (1 << 16))
            fh.seek(start)
            newline = fh.read(end - start).rfind(b"\n")
            if newline >= 0:
                end = start + newline + 1
                break
            end = start
        if end == size:
            return
        fh.truncate(end)
        os.fsync(fh.fileno())
    warnings.warn(
        f"{path}: cut an incomplete last line ({size - end} bytes) left by an interrupted write",
        RuntimeWarning,
        stacklevel=4,
    )


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _h5_matches(path: Path, rows: list[EpochMetrics]) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return all(
                name in f
                and f[name].shape == (len(rows),)
                and np.array_equal(f[name][()], np.array([getattr(r, name) for r in rows], dtype))
                for name, dtype in _H5_FIELDS.items()
            )
    except (OSError, KeyError, ValueError, RuntimeError):  # missing, torn or corrupt
        return False


def _h5_rebuild(path: Path, rows: list[EpochMetrics]) -> None:
    with atomic_hdf5(path) as f:
        f.attrs["source"] = "metrics.jsonl"
        for name, dtype in _H5_FIELDS.items():
            data = np.array([getattr(r, name) for r in rows], dtype)
            f.create_dataset(name, data=data, maxshape=(None,), chunks=(256,))


def _h5_append(path: Path, row: EpochMetrics) -> None:
    import h5py

    with h5py.File(path, "r+") as f:
        for name in _H5_FIELDS:
            ds = f[name]
            ds.resize((ds.shape[0] + 1,))
            ds[-1] = getattr(row, name)
        f.flush()


RUN_FILES = (
    "metrics.jsonl", "events.jsonl", "metrics.h5", "config.json", "run.json", "checkpoint.json",
    "final.h5", "summary.json", "preprocessing.json", "gradient_flow.json",
)  # fmt: skip
"""The files a run writes at the top of its directory (besides snapshots/ and checkpoints/)."""


def clear_run(directory: str | os.PathLike) -> None:
    """Remove a run's files from ``directory`` (its :data:`RUN_FILES`, snapshots and resume
    points) so that a new run can start there; anything else in it is left alone.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "metrics.jsonl").write_text(""); (d / "notes.txt").write_text("")
    0
    0
    >>> clear_run(d); sorted(p.name for p in d.iterdir())
    ['notes.txt']
    """
    directory = Path(directory)
    for name in RUN_FILES:
        (directory / name).unlink(missing_ok=True)
    for sub in ("snapshots", "checkpoints"):
        shutil.rmtree(directory / sub, ignore_errors=True)
