"""One writer per run directory: an advisory lock held while a run writes there.

The lock is ``flock`` on ``<run>/.graphnet.lock``: the kernel releases it when its holder
exits, however it exits (``kill -9`` included), so a lock is never left stale. The file
holds the holder's pid for the message a second writer gets; it is not a run file and
:func:`graphnet.evolution.run_store.clear_run` leaves it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from graphnet.core.errors import GraphFileError

__all__ = ["run_lock", "LOCK_NAME"]

LOCK_NAME = ".graphnet.lock"


@contextlib.contextmanager
def run_lock(directory: str | os.PathLike) -> Iterator[Path]:
    """Hold the write lock of run ``directory`` (made if missing) while the block runs.

    Raises
    ------
    GraphFileError
        If another process holds it: naming the directory and that process.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> with run_lock(d):
    ...     with run_lock(d):
    ...         pass
    Traceback (most recent call last):
    ...
    graphnet.core.errors.GraphFileError: ... is being written by another process (pid ...); wait for it ...
    """
    import fcntl

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise GraphFileError(
                f"{directory} is being written by another process (pid {holder}); wait for it "
                "to finish, or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock
