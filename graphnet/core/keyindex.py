"""A sorted index from (source, destination) to the storage position of an edge.

Edges are stored in id order; this index answers "is there an edge u->v, and where?" in
O(log E) and finds duplicates. It is built lazily (one sort, or none when the edges already
come sorted, as :func:`graphnet.mlp` makes them) and kept up to date by the graph's edits.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KeyIndex", "edge_keys", "MAX_NEURON_ID"]

MAX_NEURON_ID = (1 << 31) - 1


def edge_keys(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """One int64 key per edge, ordered by destination then source.

    Examples
    --------
    >>> edge_keys(np.array([0, 1]), np.array([2, 2])).tolist()
    [4294967296, 4294967297]
    """
    keys = np.left_shift(np.asarray(dst), 31, dtype=np.int64)
    keys |= np.asarray(src, np.int64)
    return keys


class KeyIndex:
    """Sorted edge keys with the storage position of each.

    ``pos`` is None while the positions are the identity (edges stored in key order, as
    :func:`graphnet.mlp` makes them): that saves 8 bytes per edge on large graphs.

    Examples
    --------
    >>> idx = KeyIndex.build(edge_keys(np.array([1, 0]), np.array([2, 2])))
    >>> idx.lookup(edge_keys(np.array([0, 1, 0]), np.array([2, 2, 1]))).tolist()
    [1, 0, -1]
    """

    def __init__(self, keys: np.ndarray, pos: np.ndarray | None) -> None:
        self.keys = keys
        self.pos = pos

    @classmethod
    def build(cls, keys: np.ndarray) -> KeyIndex:
        """Index ``keys`` (their positions are their indices; the array is adopted, not
        copied). Duplicates are kept for the caller to find with :meth:`first_duplicate`."""
        if keys.size < 2 or bool(np.all(keys[1:] > keys[:-1])):
            return cls(keys, None)
        order = np.argsort(keys, kind="stable")
        return cls(keys[order], order.astype(np.int64, copy=False))

    def positions(self, at: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Storage positions of the sorted entries ``at``."""
        if self.pos is None:
            return np.arange(self.keys.size, dtype=np.int64)[at]
        return self.pos[at]

    def first_duplicate(self) -> int | None:
        """Index into ``keys`` of the first key that occurs twice, or None."""
        same = np.flatnonzero(self.keys[1:] == self.keys[:-1])
        return int(same[0]) if same.size else None

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Storage position of each key, -1 where absent."""
        if self.keys.size == 0:
            return np.full(len(keys), -1, np.int64)
        at = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
        return np.where(self.keys[at] == keys, self.positions(at), -1)

    def insert(self, keys: np.ndarray, pos: np.ndarray) -> None:
        """Add new (absent) keys with their storage positions."""
        order = np.argsort(keys, kind="stable")
        keys, pos = keys[order], pos[order]
        at = np.searchsorted(self.keys, keys)
        old = self.positions()
        self.keys = np.insert(self.keys, at, keys)
        self.pos = np.insert(old, at, pos)

    def keep_rows(self, keep: np.ndarray) -> None:
        """Follow a compaction of storage that keeps the rows where ``keep`` is true."""
        if self.pos is None:  # identity stays identity: compaction keeps the order
            self.keys = self.keys[keep]
            return
        alive = keep[self.pos]
        new_pos = np.cumsum(keep, dtype=np.int64) - 1
        self.keys = self.keys[alive]
        self.pos = new_pos[self.pos[alive]]

    def copy(self) -> KeyIndex:
        return KeyIndex(self.keys.copy(), None if self.pos is None else self.pos.copy())
