"""Column dtypes of a neuron graph and the coercion of user arguments to arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import GraphError

__all__ = [
    "NEURON_DTYPES",
    "EDGE_DTYPES",
    "TagValue",
    "MAX_INT_VALUE",
    "as_ids",
    "as_int",
    "as_numbers",
    "as_real",
    "as_values",
    "forget_tags",
]

NEURON_DTYPES = {
    "level": np.int64,
    "role": np.int8,
    "activation": np.int8,
    "bias": np.float32,
    "born": np.int64,
    "alive": np.bool_,
}
EDGE_DTYPES = {
    "id": np.int64,
    "src": np.int64,
    "dst": np.int64,
    "weight": np.float32,
    "born": np.int64,
    "lr": np.float32,
}
TagValue = bool | int | float | str
MAX_INT_VALUE = 1 << 53
"""Integer attributes (levels, steps) are refused beyond this: it is exact in float64."""


def as_ids(x: Any, what: str) -> np.ndarray:
    """A 1-d int64 array of ids, or a GraphError naming ``what`` (floats, strings and
    booleans are refused, never truncated or parsed).

    Examples
    --------
    >>> as_ids(3, "neuron").tolist()
    [3]
    """
    arr = np.atleast_1d(np.asarray(x))
    if arr.size == 0:
        return np.empty(0, np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise GraphError(
            f"{what} must be a 1-d sequence of integer ids, got {arr.dtype} of shape "
            f"{arr.shape} (first: {arr.ravel()[0]!r})"
        )
    return arr.astype(np.int64, copy=False)


def as_numbers(x: Any, what: str) -> np.ndarray:
    """``x`` as float64 if it holds integers or floats only: a string (``"0.5"``), a boolean,
    None or a mixed list is refused, never coerced.

    Examples
    --------
    >>> as_numbers([1, 0.5], "weight").tolist()
    [1.0, 0.5]
    >>> as_numbers("0.5", "weight")
    Traceback (most recent call last):
    ...
    graphnet.core.errors.GraphError: weight must be numbers, got '0.5'
    """
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError):
        raw = None
    if raw is None or raw.dtype.kind not in "iuf":
        shown = repr(x) if len(repr(x)) <= 40 else f"{type(x).__name__} {repr(x)[:40]}..."
        raise GraphError(f"{what} must be numbers, got {shown}")
    return raw.astype(np.float64, copy=False)


def as_int(x: Any, what: str, lo: int | None = None) -> int:
    """``x`` as a Python int if it is an integer (not a bool, a float or a string) of at
    least ``lo``, else a GraphError naming ``what``.

    Examples
    --------
    >>> as_int(np.int64(3), "seed", lo=0)
    3
    >>> as_int(2.5, "size")
    Traceback (most recent call last):
    ...
    graphnet.core.errors.GraphError: size must be an integer, got 2.5
    """
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
        raise GraphError(f"{what} must be an integer, got {x!r}")
    if lo is not None and x < lo:
        raise GraphError(f"{what} must be {lo} or more, got {int(x)}")
    return int(x)


def as_real(x: Any, what: str) -> float:
    """``x`` as a float if it is a real number (an int or a float, not a bool or a string),
    else a GraphError naming ``what``.

    Examples
    --------
    >>> as_real(1, "density")
    1.0
    """
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise GraphError(f"{what} must be a number, got {x!r}")
    return float(x)


def as_values(x: Any, n: int, dtype: type, what: str) -> np.ndarray:
    """``n`` values of ``dtype`` (a scalar is broadcast), or a GraphError naming ``what``.

    Examples
    --------
    >>> as_values(0.5, 2, np.float32, "weight").tolist()
    [0.5, 0.5]
    """
    arr = as_numbers(x, what)
    if dtype is np.int64:
        whole = np.isfinite(arr) & (arr == np.round(arr)) & (np.abs(arr) <= MAX_INT_VALUE)
        if not whole.all():
            bad = arr.reshape(-1)[np.flatnonzero(~whole.reshape(-1))[0]]
            raise GraphError(f"{what} must be whole numbers below 2**53, got {bad}")
        if arr.ndim == 0:
            arr = np.full(n, arr)
        if arr.shape != (n,):
            raise GraphError(f"{what} has shape {arr.shape}, expected ({n},)")
        return arr.astype(np.int64)
    if arr.ndim == 0:
        arr = np.full(n, arr)
    if arr.shape != (n,):
        raise GraphError(f"{what} has shape {arr.shape}, expected ({n},)")
    with np.errstate(over="ignore"):
        return arr.astype(dtype)


def forget_tags(tables: dict[str, dict[int, TagValue]], ids: np.ndarray) -> None:
    """Remove ``ids`` from every tag table, and drop the tables left empty.

    Examples
    --------
    >>> tables = {"patch": {1: True}, "clone_of": {1: 0, 2: 0}}
    >>> forget_tags(tables, np.array([1]))
    >>> tables
    {'clone_of': {2: 0}}
    """
    if not tables or ids.size == 0:
        return
    gone = ids.tolist()
    for name in list(tables):
        table = tables[name]
        for i in gone:
            table.pop(i, None)
        if not table:
            del tables[name]


def first_repeat(ids: np.ndarray) -> int | None:
    """The smallest id that occurs more than once in ``ids``, or None.

    Examples
    --------
    >>> first_repeat(np.array([4, 1, 4, 1]))
    1
    """
    if ids.size < 2:
        return None
    s = np.sort(ids)
    twice = np.flatnonzero(s[1:] == s[:-1])
    return int(s[twice[0]]) if twice.size else None


def find_sorted(haystack: np.ndarray, needles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``needles`` in the ascending array ``haystack`` and a mask of those found.

    Examples
    --------
    >>> pos, found = find_sorted(np.array([2, 5, 9]), np.array([5, 6, 9]))
    >>> pos.tolist(), found.tolist()
    ([1, 2, 2], [True, False, True])
    """
    if haystack.size == 0:
        return np.zeros(needles.size, np.int64), np.zeros(needles.size, bool)
    pos = np.minimum(np.searchsorted(haystack, needles), haystack.size - 1)
    return pos, haystack[pos] == needles
