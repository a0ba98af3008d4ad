"""Atomic HDF5 writes that fail with one error, never a crash.

HDF5 handles a failed write (a full disk, a file-size limit) badly: h5py reports it while
closing and the interpreter can then die with a segmentation fault. So the file is built in
memory (HDF5's ``core`` driver, no backing store) and its finished image is written with
plain, checked writes through :func:`graphnet.core.atomic.atomic_path`: a full disk is an
``OSError`` turned into a :class:`GraphFileError` naming the file, and the old file, if any,
is left as it was. The cost is memory: the file's size once more while it is written.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .atomic import atomic_path
from .errors import GraphFileError

__all__ = ["atomic_hdf5"]

_CHUNK = 1 << 24


@contextlib.contextmanager
def atomic_hdf5(path: str | os.PathLike) -> Iterator[Any]:
    """Yield an empty, writable ``h5py.File`` held in memory; on success its image replaces
    ``path`` atomically.

    Raises
    ------
    GraphFileError
        Naming ``path``, if it cannot be written (no space left, no permission, ...).

    Examples
    --------
    >>> import tempfile, pathlib, h5py
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.h5"
    >>> with atomic_hdf5(target) as f:
    ...     f.attrs["x"] = 3
    >>> with h5py.File(target, "r") as f:
    ...     int(f.attrs["x"])
    3
    """
    import h5py

    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():  # before building anything
        raise FileNotFoundError(f"{path}: directory {directory} does not exist")
    # the name is only a label for an in-memory file: nothing is written under it
    f = h5py.File(f"{uuid.uuid4().hex}.h5", "w", driver="core", backing_store=False)
    try:
        yield f
        f.flush()
        image = f.id.get_file_image()
    finally:
        f.close()
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as out:
            view = memoryview(image)
            for at in range(0, len(view), _CHUNK):
                out.write(view[at : at + _CHUNK])
    except OSError as err:
        reason = err.strerror or str(err)
        raise GraphFileError(f"{path}: cannot write the file ({reason})") from None
