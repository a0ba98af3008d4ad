"""MNIST-1D, generated offline by the published procedure (nothing is downloaded).

MNIST-1D [1]_ draws each example from one of ten hand-made 1-D templates of 12 points, one per
digit. Each template is padded with zeros, stretched to 72 points, scaled, translated circularly,
given correlated background noise where it is zero and i.i.d. noise everywhere, sheared, and
resampled to 40 points. The whole set is shuffled, centred and scaled to unit standard deviation
with one scalar mean and one scalar std, then split into the first 80 % (train) and the rest
(test). The defaults in :data:`PUBLISHED` are those of ``get_dataset_args`` in the ``mnist1d``
package (greydanus/mnist1d, ``mnist1d/data.py``); the steps follow its ``transform``
(``mnist1d/transform.py``). Random draws are taken from ``numpy.random.RandomState(seed)`` in the
same order as the package takes them from the global numpy generator after ``np.random.seed``, so
the same seed gives the same data set. The package itself is not needed.

References
----------
.. [1] S. Greydanus, "Scaling down deep learning", arXiv:2011.14439, 2020.
"""

from __future__ import annotations

import numpy as np

from graphnet.core.errors import GraphError

__all__ = ["PUBLISHED", "templates", "make_mnist1d"]

#: The published parameters (``mnist1d.data.get_dataset_args``); the download URL is left out.
PUBLISHED: dict = {
    "num_samples": 5000,
    "train_split": 0.8,
    "template_len": 12,
    "padding": [36, 60],
    "scale_coeff": 0.4,
    "max_translation": 48,
    "corr_noise_scale": 0.25,
    "iid_noise_scale": 2e-2,
    "shear_scale": 0.75,
    "shuffle_seq": False,
    "final_seq_length": 40,
    "seed": 42,
}

# The ten digit templates of the paper (``mnist1d.data.get_templates``), before normalisation.
_DIGIT_POINTS = (
    (5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5),
    (5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5),
    (5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5),
    (5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5),
    (5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5),
    (5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5),
    (5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5),
    (5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5),
    (5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5),
    (5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5),
)
_EPS = 1e-8  # added to the template so that its zeros are not mistaken for padding
_CORR_SIGMA = 2.0  # width of the Gaussian smoothing of the correlated noise, in samples


def templates() -> np.ndarray:
    """The ten digit templates: each row standardised, shifted to start at 0, divided by 6.

    Returns
    -------
    numpy.ndarray
        Shape ``(10, 12)``, float64; row ``k`` is the template of digit ``k``.

    Examples
    --------
    >>> t = templates()
    >>> t.shape, float(abs(t[:, 0]).max())
    ((10, 12), 0.0)
    """
    x = np.array(_DIGIT_POINTS, dtype=np.float64)
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    return (x - x[:, :1]) / 6.0


def _resample(x: np.ndarray, n: int) -> np.ndarray:
    """Linear interpolation of each row of ``x`` onto ``n`` evenly spaced points."""
    grid, target = np.linspace(0.0, 1.0, x.shape[1]), np.linspace(0.0, 1.0, n)
    return np.stack([np.interp(target, grid, row) for row in x])


def _draw(rng: np.random.RandomState, n: int, length: int, max_translation: int) -> tuple:
    """Every random draw of ``n`` examples, per example in the package's order: padding,
    scale, translation, correlated noise, i.i.d. noise, shear."""
    u = np.empty((n, 3))
    shift = np.empty(n, dtype=np.int64)
    corr, iid = np.empty((n, length)), np.empty((n, length))
    for i in range(n):
        u[i, 0], u[i, 1] = rng.rand(), rng.rand()
        shift[i] = rng.randint(max_translation)
        corr[i], iid[i] = rng.randn(length), rng.randn(length)
        u[i, 2] = rng.rand()
    return u[:, 0], u[:, 1], shift, corr, iid, u[:, 2]


def _distort(t: np.ndarray, rng: np.random.RandomState, p: dict) -> np.ndarray:
    """One distorted example per row of ``t``: pad, stretch, scale, translate, noise, shear,
    resample. Returns shape ``(len(t), final_seq_length)``."""
    from scipy.ndimage import gaussian_filter1d

    low, high = p["padding"]
    n, width = t.shape
    length = width + high
    u_pad, u_scale, shift, corr, iid, u_shear = _draw(rng, n, length, p["max_translation"])
    n_pad = low + (u_pad * (high - low + 1)).astype(np.int64)
    target = np.linspace(0.0, 1.0, length)
    grids = {m: np.linspace(0.0, 1.0, width + m) for m in np.unique(n_pad).tolist()}
    x = np.empty((n, length))
    for i, m in enumerate(n_pad.tolist()):  # pad with zeros, stretch to `length` points
        x[i] = np.interp(target, grids[m], np.concatenate([t[i] + _EPS, np.zeros(m)]))
    x *= 1.0 + p["scale_coeff"] * (u_scale[:, None] - 0.5)
    x = x[np.arange(n)[:, None], (np.arange(length) - shift[:, None]) % length]  # circular
    background = gaussian_filter1d(p["corr_noise_scale"] * corr, _CORR_SIGMA, axis=1)
    x = np.where(x != 0, x, background) + p["iid_noise_scale"] * iid
    x -= p["shear_scale"] * (u_shear[:, None] - 0.5) * np.linspace(-0.5, 0.5, length)
    return _resample(x, p["final_seq_length"])


def make_mnist1d(
    *,
    num_samples: int = 5000,
    train_split: float = 0.8,
    seed: int = 42,
    padding: tuple[int, int] = (36, 60),
    scale_coeff: float = 0.4,
    max_translation: int = 48,
    corr_noise_scale: float = 0.25,
    iid_noise_scale: float = 2e-2,
    shear_scale: float = 0.75,
    final_seq_length: int = 40,
    shuffle_seq: bool = False,
) -> dict[str, np.ndarray]:
    """Generate MNIST-1D; the defaults reproduce the published data set.

    Parameters
    ----------
    num_samples : int, default 5000
        Examples to draw; ``num_samples // 10`` per class, so the classes are exactly balanced.
    train_split : float, default 0.8
        Fraction of the shuffled examples that form the training set (the first ones).
    seed : int, default 42
        Seed of the ``numpy.random.RandomState`` that takes every random draw.
    padding : (int, int), default (36, 60)
        Least and most zeros appended to a template before it is stretched to
        ``12 + padding[1]`` points.
    scale_coeff : float, default 0.4
        Amplitude scaled by a uniform factor in ``1 ± scale_coeff / 2``.
    max_translation : int, default 48
        Circular shift drawn uniformly from ``0 .. max_translation - 1``.
    corr_noise_scale : float, default 0.25
        Std of the noise (smoothed by a Gaussian of width 2) that fills the padding.
    iid_noise_scale : float, default 0.02
        Std of the independent noise added to every point.
    shear_scale : float, default 0.75
        A linear ramp of slope uniform in ``± shear_scale / 2`` is subtracted.
    final_seq_length : int, default 40
        Points per example after the final resampling.
    shuffle_seq : bool, default False
        Apply one random permutation to the positions of every example.

    Returns
    -------
    dict
        ``x`` ``(n_train, final_seq_length)`` and ``x_test``, float64, scaled together to mean 0
        and std 1 (one scalar each); ``y`` and ``y_test``, int64 labels ``0..9``.

    Raises
    ------
    GraphError
        If ``num_samples < 10``, ``train_split`` is outside ``(0, 1)``, the padding is not
        ``0 <= low <= high``, ``max_translation < 1`` or ``final_seq_length < 2``.

    Examples
    --------
    >>> d = make_mnist1d()
    >>> d["x"].shape, d["x_test"].shape, d["y"].dtype
    ((4000, 40), (1000, 40), dtype('int64'))
    >>> np.bincount(np.concatenate([d["y"], d["y_test"]])).tolist()
    [500, 500, 500, 500, 500, 500, 500, 500, 500, 500]
    """
    low, high = (int(v) for v in padding)
    if num_samples < 10:
        raise GraphError(f"num_samples must be at least 10 (one per class), got {num_samples}")
    if not 0.0 < train_split < 1.0:
        raise GraphError(f"train_split must lie in (0, 1), got {train_split}")
    if not 0 <= low <= high:
        raise GraphError(f"padding must satisfy 0 <= low <= high, got {tuple(padding)}")
    if max_translation < 1 or final_seq_length < 2:
        raise GraphError(
            f"max_translation must be >= 1 and final_seq_length >= 2, "
            f"got {max_translation} and {final_seq_length}"
        )
    p = {
        "template_len": len(_DIGIT_POINTS[0]),
        "padding": (low, high),
        "scale_coeff": scale_coeff,
        "max_translation": int(max_translation),
        "corr_noise_scale": corr_noise_scale,
        "iid_noise_scale": iid_noise_scale,
        "shear_scale": shear_scale,
        "final_seq_length": int(final_seq_length),
    }
    rng = np.random.RandomState(seed)
    t = templates()
    per_class = num_samples // len(t)
    ys = np.repeat(np.arange(len(t), dtype=np.int64), per_class)  # class by class, as published
    xs = _distort(t[ys], rng, p)
    order = rng.permutation(len(ys))
    xs, ys = xs[order], ys[order]
    if shuffle_seq:
        xs = xs[:, rng.permutation(p["final_seq_length"])]
    xs = (xs - xs.mean()) / xs.std()
    cut = int(len(ys) * train_split)
    return {"x": xs[:cut], "y": ys[:cut], "x_test": xs[cut:], "y_test": ys[cut:]}
