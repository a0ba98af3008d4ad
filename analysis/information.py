"""Mutual information between samples, in nats: the KSG k-nearest-neighbour estimator and a
bias-corrected binned estimator."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma

from graphnet.core.errors import GraphError

__all__ = ["mutual_information"]


def _as_samples(a, name: str) -> np.ndarray:
    try:
        arr = np.asarray(a.detach().cpu() if hasattr(a, "detach") else a, dtype=np.float64)
    except (TypeError, ValueError):
        raise GraphError(f"mutual_information: {name} must hold numbers") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise GraphError(
            f"mutual_information: {name} must be (samples,) or (samples, dims), got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        r, c = np.argwhere(~np.isfinite(arr))[0]
        raise GraphError(
            f"mutual_information: {name}[{r}, {c}] is {arr[r, c]}; samples must be finite"
        )
    return arr


def mutual_information(
    x, y, method: str = "ksg", *, k: int = 3, bins: int | None = None, seed: int = 0
) -> float:
    """Estimate the mutual information I(x; y) in nats from paired samples.

    Parameters
    ----------
    x, y : array-like, (n,) or (n, d)
        Paired samples (numpy arrays or tensors).
    method : {"ksg", "binned"}
        ``"ksg"``: Kraskov, Stögbauer and Grassberger's estimator (their algorithm 1, max-norm,
        ``k`` neighbours; a tiny seeded jitter breaks ties between repeated values).
        ``"binned"``: equal-frequency bins per dimension (``bins``, default ``sqrt(n / 5)``),
        plug-in entropies with the Miller-Madow correction; 1-d ``x`` and ``y`` only.

    Returns
    -------
    float
        The estimate (it can be slightly negative when the true value is near 0).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(2000); y = 0.8 * x + 0.6 * rng.standard_normal(2000)
    >>> round(mutual_information(x, y), 1), round(float(-0.5 * np.log(1 - 0.8**2)), 1)
    (0.5, 0.5)
    """
    xs, ys = _as_samples(x, "x"), _as_samples(y, "y")
    n = xs.shape[0]
    if ys.shape[0] != n:
        raise GraphError(f"mutual_information: x has {n} samples, y has {ys.shape[0]}")
    if n < 2:
        raise GraphError(f"mutual_information: needs at least 2 samples, got {n}")
    if method == "ksg":
        if not isinstance(k, (int, np.integer)) or not 1 <= k < n:
            raise GraphError(
                f"mutual_information: k must be a whole number in 1..{n - 1}, got {k!r}"
            )
        rng = np.random.default_rng(seed)
        scale = lambda a: (a - a.mean(0)) / (a.std(0) + 1e-12)  # noqa: E731
        xs = scale(xs) + 1e-10 * rng.standard_normal(xs.shape)
        ys = scale(ys) + 1e-10 * rng.standard_normal(ys.shape)
        joint = np.hstack((xs, ys))
        dist, _ = cKDTree(joint).query(joint, k=k + 1, p=np.inf)
        eps = np.nextafter(dist[:, -1], 0)  # strictly closer than the k-th joint neighbour
        nx = cKDTree(xs).query_ball_point(xs, eps, p=np.inf, return_length=True) - 1
        ny = cKDTree(ys).query_ball_point(ys, eps, p=np.inf, return_length=True) - 1
        return float(digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1)))
    if method == "binned":
        if xs.shape[1] != 1 or ys.shape[1] != 1:
            raise GraphError("mutual_information: method='binned' takes 1-d x and y; use 'ksg'")
        try:
            b = int(bins) if bins is not None else max(2, int(np.sqrt(n / 5)))
        except (TypeError, ValueError):
            raise GraphError(
                f"mutual_information: bins must be a whole number, got {bins!r}"
            ) from None
        if b < 2:
            raise GraphError(f"mutual_information: bins must be >= 2, got {bins!r}")
        qx = _quantile_codes(xs[:, 0], b)
        qy = _quantile_codes(ys[:, 0], b)
        joint = np.bincount(qx * b + qy, minlength=b * b).astype(np.float64)
        px, py = np.bincount(qx, minlength=b), np.bincount(qy, minlength=b)
        h = lambda c: _entropy_mm(c, n)  # noqa: E731
        return float(h(px) + h(py) - h(joint))
    raise GraphError(f"mutual_information: unknown method {method!r}; use 'ksg' or 'binned'")


def _quantile_codes(v: np.ndarray, b: int) -> np.ndarray:
    """Equal-frequency bin of each value (ties share a bin)."""
    edges = np.quantile(v, np.linspace(0, 1, b + 1)[1:-1])
    return np.searchsorted(edges, v, side="right")


def _entropy_mm(counts: np.ndarray, n: int) -> float:
    """Plug-in entropy with the Miller-Madow bias correction (occupied bins - 1) / 2n."""
    c = counts[counts > 0].astype(np.float64)
    p = c / n
    return float(-(p * np.log(p)).sum() + (c.size - 1) / (2 * n))
