"""Image data sets in the files users already have: MNIST-style IDX files (optionally gzipped)
or an ``.npz``. Reads only; nothing is downloaded, and a missing or corrupt file is a
:class:`GraphFileError` naming it.

IDX format (http://yann.lecun.com/exdb/mnist/): a big-endian magic number ``0x000008NN`` (``08``:
unsigned bytes, ``NN``: number of dimensions), one big-endian uint32 per dimension, then the bytes
in row-major order.
"""

from __future__ import annotations

import gzip
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from graphnet.core.errors import GraphFileError

__all__ = ["read_idx", "read_image_set"]

_IDX_FILES = {  # split -> (standard file name, IDX magic number)
    "x_train": ("train-images-idx3-ubyte", 0x00000803),
    "y_train": ("train-labels-idx1-ubyte", 0x00000801),
    "x_test": ("t10k-images-idx3-ubyte", 0x00000803),
    "y_test": ("t10k-labels-idx1-ubyte", 0x00000801),
}
_NPZ_KEYS = (  # keras / numpy style, then the train_images style of other mirrors
    ("x_train", "y_train", "x_test", "y_test"),
    ("train_images", "train_labels", "test_images", "test_labels"),
)


def read_idx(path: str | Path, magic: int | None = None) -> np.ndarray:
    """Read one IDX file of unsigned bytes (the MNIST format), gzipped if it ends in ``.gz``.

    Parameters
    ----------
    path : str or Path
        The file.
    magic : int, optional
        Expected magic number: ``0x00000803`` for images, ``0x00000801`` for labels. Any
        unsigned-byte IDX file (``0x000008NN``) is accepted when omitted.

    Returns
    -------
    numpy.ndarray
        uint8 array of the shape the header gives, e.g. ``(n, 28, 28)`` for images.

    Raises
    ------
    GraphFileError
        Naming the file: unreadable, a bad magic number, or a payload whose length disagrees
        with the header.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     f = Path(tmp, "labels")
    ...     _ = f.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    ...     read_idx(f, 0x00000801).tolist()
    [7, 2, 1]
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise GraphFileError(f"{path}: file not found; nothing is downloaded") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise GraphFileError(f"{path}: cannot read the file ({exc})") from None
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    ok = found == magic if magic is not None else found is not None and found >> 8 == 0x08
    if not ok:
        want = f"0x{magic:08x}" if magic is not None else "0x000008NN"
        got = "a file shorter than 4 bytes" if found is None else f"0x{found:08x}"
        raise GraphFileError(f"{path}: bad IDX magic number, expected {want}, got {got}")
    ndim = found & 0xFF
    header = 4 + 4 * ndim
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if len(data) < header or len(data) - header != math.prod(dims):
        raise GraphFileError(
            f"{path}: IDX payload has {max(len(data) - header, 0)} bytes, "
            f"the header's shape {tuple(dims)} needs {math.prod(dims)}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _find_idx(root: Path, stem: str, subdirs: tuple[str, ...]) -> Path:
    dirs = [root, *(root / d for d in subdirs)]
    stems = [stem, stem.replace("-idx", ".idx")]  # some mirrors write train-images.idx3-ubyte
    for d in dirs:
        for s in stems:
            for candidate in (d / s, d / f"{s}.gz"):
                if candidate.is_file():
                    return candidate
    raise GraphFileError(f"{root}: {stem} (or {stem}.gz) not found; nothing is downloaded")


def read_image_set(
    path: str | Path, *, classes: int = 10, subdirs: tuple[str, ...] = ("raw",)
) -> tuple[tuple[np.ndarray, ...], dict]:
    """Read an MNIST-style image set: four IDX files in a directory, or one ``.npz``.

    Parameters
    ----------
    path : str or Path
        A directory holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each may end in ``.gz``, and
        ``-idx`` may be written ``.idx``), or an ``.npz`` with ``x_train``, ``y_train``,
        ``x_test``, ``y_test`` (keras' ``mnist.npz``) or ``train_images``, ``train_labels``,
        ``test_images``, ``test_labels``.
    classes : int, default 10
        Labels must lie in ``0..classes-1``.
    subdirs : tuple of str, default ("raw",)
        Subdirectories of ``path`` also searched for the IDX files.

    Returns
    -------
    (x_train, y_train, x_test, y_test), dict
        Images flattened to ``(n, pixels)`` in their stored dtype, labels 1-D; the dict describes
        the source (``kind``, ``format``, ``path``, ``pixel_range``: 255 for integer pixels or
        values above 1, else 1; ``image_shape``).

    Raises
    ------
    GraphFileError
        Naming the file: absent, unreadable, corrupt, images and labels of different counts,
        train and test images of different sizes, or labels out of range.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     f = Path(tmp, "tiny.npz")
    ...     x = np.zeros((2, 3, 3), np.uint8)
    ...     np.savez(f, x_train=x, y_train=[0, 1], x_test=x, y_test=[1, 0])
    ...     (x_tr, y_tr, x_te, y_te), source = read_image_set(f)
    >>> x_tr.shape, source["format"], source["pixel_range"]
    ((2, 9), 'npz', 255.0)
    """
    path = Path(path)
    if path.is_dir():
        files = {k: _find_idx(path, stem, subdirs) for k, (stem, _) in _IDX_FILES.items()}
        arrays = {k: read_idx(f, _IDX_FILES[k][1]) for k, f in files.items()}
        source = {"kind": "file", "format": "idx", "path": str(path.resolve())}
        source["files"] = {k: f.name for k, f in files.items()}
        described = files
    elif path.is_file() and path.suffix == ".npz":
        arrays = _read_npz(path)
        source = {"kind": "file", "format": "npz", "path": str(path.resolve())}
        described = dict.fromkeys(arrays, path)
    elif path.exists():
        raise GraphFileError(f"{path}: expected a directory of IDX files or an .npz file")
    else:
        raise GraphFileError(f"{path}: not found; nothing is downloaded")
    for split in ("train", "test"):
        xs, ys = arrays[f"x_{split}"], arrays[f"y_{split}"].ravel()
        if len(xs) == 0:
            raise GraphFileError(f"{described[f'x_{split}']}: no {split} images (an empty set)")
        if len(xs) != len(ys):
            raise GraphFileError(
                f"{described[f'x_{split}']}: {len(xs)} {split} images but "
                f"{described[f'y_{split}'].name} has {len(ys)} labels"
            )
    x_tr, x_te = (arrays[k].reshape(len(arrays[k]), -1) for k in ("x_train", "x_test"))
    if x_tr.shape[1] != x_te.shape[1]:
        raise GraphFileError(
            f"{described['x_test']}: test images have {x_te.shape[1]} pixels, "
            f"training images {x_tr.shape[1]}"
        )
    for k in ("x_train", "x_test"):
        x = arrays[k]
        if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
            raise GraphFileError(f"{described[k]}: {k} must hold numbers, got dtype {x.dtype}")
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            raise GraphFileError(f"{described[k]}: {k} holds a NaN or infinite pixel")
    for k in ("y_train", "y_test"):
        arrays[k] = y = _integer_labels(arrays[k], described[k], k)
        if y.size and (y.min() < 0 or y.max() >= classes):
            raise GraphFileError(
                f"{described[k]}: labels must lie in 0..{classes - 1}, got {y.min()}..{y.max()}"
            )
    integer = np.issubdtype(x_tr.dtype, np.integer)
    pixel_range = 255.0 if integer or (x_tr.size and x_tr.max() > 1.0) else 1.0
    source["pixel_range"] = pixel_range
    source["image_shape"] = list(arrays["x_train"].shape[1:])
    return (x_tr, arrays["y_train"].ravel(), x_te, arrays["y_test"].ravel()), source


def _integer_labels(y: np.ndarray, where: Path, name: str) -> np.ndarray:
    """``y`` as int64 class labels; float labels are accepted only when every one is a whole
    number (``3.0``), never truncated (``0.5`` is not class 0)."""
    if np.issubdtype(y.dtype, np.integer):
        return y.astype(np.int64, copy=False)
    if not np.issubdtype(y.dtype, np.floating):
        raise GraphFileError(f"{where}: {name} must hold integer class labels, got dtype {y.dtype}")
    flat = y.ravel()
    bad = np.flatnonzero(~np.isfinite(flat) | (flat != np.round(flat)))
    if bad.size:
        i = int(bad[0])
        raise GraphFileError(
            f"{where}: {name}[{i}] is {flat[i]}, not a class number; labels must be whole numbers"
        )
    return y.astype(np.int64)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            found = set(z.files)
            for keys in _NPZ_KEYS:
                if found.issuperset(keys):
                    return {std: z[k] for std, k in zip(_NPZ_KEYS[0], keys)}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise GraphFileError(f"{path}: cannot read the .npz file ({exc})") from None
    raise GraphFileError(
        f"{path}: the .npz needs arrays {', '.join(_NPZ_KEYS[0])} "
        f"(or {', '.join(_NPZ_KEYS[1])}); found {', '.join(sorted(found)) or 'none'}"
    )
