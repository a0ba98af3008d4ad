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
    return (
        (np.asarray(dst, np.int64) << 31 | np.asarray(src, np.int64))
        if len(src)
        else np.empty(0, np.int64)
    )


class KeyIndex:
    """Sorted edge keys with the storage position of each.

    Examples
    --------
    >>> idx = KeyIndex.build(edge_keys(np.array([1, 0]), np.array([2, 2])))
    >>> idx.lookup(edge_keys(np.array([0, 1, 0]), np.array([2, 2, 1]))).tolist()
    [1, 0, -1]
    """

    def __init__(self, keys: np.ndarray, pos: np.ndarray) -> None:
        self.keys = keys
        self.pos = pos

    @classmethod
    def build(cls, keys: np.ndarray) -> KeyIndex:
        """Sort ``keys`` (positions are their indices); duplicates are kept for the caller to see."""
        if keys.size < 2 or bool(np.all(keys[1:] > keys[:-1])):
            return cls(keys.copy(), np.arange(keys.size, dtype=np.int64))
        order = np.argsort(keys, kind="stable")
        return cls(keys[order], order.astype(np.int64, copy=False))

    def first_duplicate(self) -> int | None:
        """Index into ``keys`` of the first key that occurs twice, or None."""
        same = np.flatnonzero(self.keys[1:] == self.keys[:-1])
        return int(same[0]) if same.size else None

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Storage position of each key, -1 where absent."""
        at = np.searchsorted(self.keys, keys)
        at_c = np.minimum(at, max(self.keys.size - 1, 0))
        hit = (
            (at < self.keys.size) & (self.keys[at_c] == keys)
            if self.keys.size
            else np.zeros(len(keys), bool)
        )
        return np.where(hit, self.pos[at_c] if self.keys.size else -1, -1)

    def insert(self, keys: np.ndarray, pos: np.ndarray) -> None:
        """Add new (absent) keys with their storage positions."""
        order = np.argsort(keys, kind="stable")
        keys, pos = keys[order], pos[order]
        at = np.searchsorted(self.keys, keys)
        self.keys = np.insert(self.keys, at, keys)
        self.pos = np.insert(self.pos, at, pos)

    def keep_rows(self, keep: np.ndarray) -> None:
        """Follow a compaction of storage that keeps the rows where ``keep`` is true."""
        alive = keep[self.pos]
        new_pos = np.cumsum(keep, dtype=np.int64) - 1
        self.keys = self.keys[alive]
        self.pos = new_pos[self.pos[alive]]

    def copy(self) -> KeyIndex:
        return KeyIndex(self.keys.copy(), self.pos.copy())
