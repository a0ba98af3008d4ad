"""What a growth operator did: :class:`GrowthReport`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["GrowthReport"]

_EMPTY = np.empty(0, np.int64)


@dataclass
class GrowthReport:
    """Ids a growth operator added, removed or moved, and anything it could not do.

    Examples
    --------
    >>> GrowthReport("add_edges", edges_added=np.array([4, 5]))
    GrowthReport(add_edges: +2 edges)
    """

    op: str
    neurons_added: np.ndarray = field(default_factory=lambda: _EMPTY)
    edges_added: np.ndarray = field(default_factory=lambda: _EMPTY)
    neurons_removed: np.ndarray = field(default_factory=lambda: _EMPTY)
    edges_removed: np.ndarray = field(default_factory=lambda: _EMPTY)
    lifted: np.ndarray = field(default_factory=lambda: _EMPTY)
    skipped: list = field(default_factory=list)

    def __repr__(self) -> str:
        parts = [
            f"{sign}{arr.size} {what}"
            for sign, arr, what in (
                ("+", self.neurons_added, "neurons"),
                ("+", self.edges_added, "edges"),
                ("-", self.neurons_removed, "neurons"),
                ("-", self.edges_removed, "edges"),
                ("^", self.lifted, "lifted"),
            )
            if arr.size
        ]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return f"GrowthReport({self.op}: {', '.join(parts) or 'no change'})"
