"""Growable column storage: named numpy arrays of one length, with spare capacity at the end.

Appending is amortised O(1) per row; removal builds fresh arrays (so views handed out earlier
keep showing the old, consistent data instead of shifted rows).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["Columns"]


class Columns:
    """A table of equally long numpy columns with amortised appends.

    Examples
    --------
    >>> t = Columns({"a": np.int64, "b": np.float32})
    >>> t.append({"a": np.arange(3), "b": np.ones(3)})
    >>> t.view("a").tolist(), len(t)
    ([0, 1, 2], 3)
    """

    def __init__(self, dtypes: Mapping[str, type], capacity: int = 0) -> None:
        self._dtypes = {name: np.dtype(dt) for name, dt in dtypes.items()}
        self._data = {name: np.empty(capacity, dt) for name, dt in self._dtypes.items()}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._dtypes)

    def view(self, name: str) -> np.ndarray:
        """Read-only view of the live rows of one column (valid until the next edit)."""
        v = self._data[name][: self._size]
        v.flags.writeable = False
        return v

    def writable(self, name: str) -> np.ndarray:
        """Writable view of the live rows of one column; only graph internals call this."""
        return self._data[name][: self._size]

    def reserve(self, capacity: int) -> None:
        """Make room for ``capacity`` rows in total without reallocating later."""
        old = len(next(iter(self._data.values()))) if self._data else 0
        if capacity <= old:
            return
        for name, arr in self._data.items():
            new = np.empty(capacity, self._dtypes[name])
            new[: self._size] = arr[: self._size]
            self._data[name] = new

    def append(self, rows: Mapping[str, np.ndarray | float | int]) -> None:
        """Append rows given per column (arrays of one length, or scalars broadcast to it)."""
        n = max((np.size(v) for v in rows.values() if np.ndim(v) > 0), default=1)
        cap = len(next(iter(self._data.values())))
        if self._size + n > cap:
            self.reserve(max(self._size + n, int(cap * 1.5) + 16))
        for name in self._dtypes:
            self._data[name][self._size : self._size + n] = rows[name]
        self._size += n

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the rows where ``mask`` is true, in order, in freshly allocated arrays."""
        for name, arr in self._data.items():
            self._data[name] = arr[: self._size][mask]
        self._size = int(np.count_nonzero(mask))

    @classmethod
    def from_arrays(cls, dtypes: Mapping[str, type], arrays: Mapping[str, np.ndarray]) -> Columns:
        """Adopt whole arrays as columns (no copy when they already have the right dtype)."""
        out = cls(dtypes, 0)
        sizes = {np.size(a) for a in arrays.values()}
        if len(sizes) != 1:
            raise ValueError(
                f"columns differ in length: { {k: np.size(a) for k, a in arrays.items()} }"
            )
        out._data = {
            name: np.ascontiguousarray(arrays[name], dtype=out._dtypes[name])
            for name in out._dtypes
        }
        out._size = sizes.pop()
        return out

    def copy(self) -> Columns:
        out = Columns(self._dtypes, 0)
        out._data = {name: arr[: self._size].copy() for name, arr in self._data.items()}
        out._size = self._size
        return out
