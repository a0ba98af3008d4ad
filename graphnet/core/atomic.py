"""Atomic file writes: write a temporary file beside the target, flush, fsync, rename.

A reader sees either the old file or the complete new one, never a half-written file, even if
the process dies mid-write. A process killed mid-write (``kill -9``) leaves its temporary file;
the temporary's name holds the writer's process id and host, and the next write of the same
file removes those whose writer on this host is gone. The file gets the permissions of the file it replaces, or for a new
file the ones ``open()`` would give it (0o666 less the umask), not the private 0o600 of a
temporary file.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"{path}: directory {directory} does not exist")
    _remove_stale_temporaries(directory, path.name)
    prefix = f".{path.name}.{os.getpid()}@{_HOST}."
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=directory)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, _mode_for(path))
        yield tmp
        with open(tmp, "rb+") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


_HOST = socket.gethostname().replace("/", "_")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove_stale_temporaries(directory: Path, name: str) -> None:
    """Remove the temporaries of ``name`` left by writers on this host that are gone."""
    head = f".{name}."
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        if not (entry.startswith(head) and entry.endswith(".tmp")):
            continue
        writer = entry[len(head) : -len(".tmp")].rsplit(".", 1)[0]  # "<pid>@<host>"
        pid, _, host = writer.partition("@")
        if host == _HOST and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(directory / entry)


def _mode_for(path: Path) -> int:
    """Permission bits for the file written to ``path``."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
