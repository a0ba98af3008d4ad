"""Data-driven initialisation: the first level's weights from the principal components of the
inputs.

Only the edges from input neurons to level-1 neurons are written (existing edges only: the
sparsity pattern is kept), with the biases of the level-1 neurons; skip edges from the inputs
to higher levels and every other parameter stay as they are. Writes are training state
(:meth:`NeuronGraph.write_parameters`), not logged edits.
"""

from __future__ import annotations

import numpy as np

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph

__all__ = ["pca_init", "principal_components"]

_RANK_TOL = 1e-6  # singular values below this share of the largest count as zero


def principal_components(x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Principal components of the rows of ``x`` by numpy SVD, sign fixed.

    Parameters
    ----------
    x : array-like or torch.Tensor
        ``(samples, features)``, at least two rows.

    Returns
    -------
    tuple of numpy.ndarray
        ``(components, variances, mean)``: ``components`` is ``(rank, features)`` with unit
        rows in order of decreasing variance (each row's largest-magnitude entry positive);
        ``variances`` the variance of the data along each; ``mean`` the column means.
        Components whose singular value is below ``1e-6`` of the largest are dropped.

    Raises
    ------
    GraphError
        If ``x`` is not 2-d with at least two rows, or not finite.

    Examples
    --------
    >>> comps, var, mean = principal_components([[0.0, 0.0], [2.0, 2.0], [1.0, 1.0]])
    >>> np.round(comps, 3).tolist(), np.round(var, 3).tolist()
    ([[0.707, 0.707]], [1.333])
    """
    x = _as_array(x)
    if x.ndim != 2 or x.shape[0] < 2:
        raise GraphError(f"principal components need (samples >= 2, features) rows, got {x.shape}")
    if not np.isfinite(x).all():
        raise GraphError("principal components: the inputs hold a NaN or infinite value")
    mean = x.mean(0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    keep = s > _RANK_TOL * (s[0] if s.size else 0.0)
    vt, s = vt[keep], s[keep]
    flip = np.sign(vt[np.arange(vt.shape[0]), np.argmax(np.abs(vt), axis=1)])
    return vt * flip[:, None], s**2 / x.shape[0], mean


def pca_init(g: NeuronGraph, x, *, scale: float | None = None) -> None:
    """Set the weights into level 1 from the principal components of the inputs ``x``.

    The ``j``-th level-1 neuron (ascending id) takes component ``j mod k``, with ``k`` the
    smallest of the number of inputs, of level-1 neurons and the rank of ``x``, restricted to
    the inputs it has edges from. Its weight vector is then scaled so that its pre-activation
    has standard deviation ``sqrt(2)`` over ``x`` (the He norm: ``sqrt(2)`` per unit standard
    deviation of the projected input), or to norm ``scale`` when given, and its bias is set so
    that the pre-activation has mean 0 over ``x`` (ReLUs start half active). A neuron whose
    edges see no variance along its component takes the next component that gives some; if
    none does, its weights are kept and only its bias is set.

    Parameters
    ----------
    g : NeuronGraph
        The network; edited in place (weights and biases only, not logged).
    x : array-like or torch.Tensor
        ``(samples, len(g.inputs))`` inputs, columns in ``g.inputs`` order (the model's input).
    scale : float, optional
        The norm of each level-1 neuron's incoming weight vector instead of the He scaling.

    Returns
    -------
    None

    Raises
    ------
    GraphError
        If ``x`` has the wrong shape, fewer than two rows or a non-finite value, if it has no
        variance, if ``scale`` is not positive, or if no input edge reaches level 1.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([3, 2, 1], density=1.0, seed=0)
    >>> x = np.random.default_rng(0).standard_normal((100, 3)) * [3.0, 1.0, 0.1]
    >>> pca_init(g, x)
    >>> src, dst, w = g.edge_list()
    >>> h = x @ w[dst == 3].reshape(3) + g.neuron_attr("bias", [3])
    >>> round(float(h.mean()), 6) + 0.0, round(float(h.std()), 4), len(g.log)
    (0.0, 1.4142, 0)
    """
    if scale is not None and not scale > 0:
        raise GraphError(f"pca_init: scale must be positive, got {scale}")
    x = _as_array(x)
    if x.ndim != 2 or x.shape[1] != len(g.inputs):
        raise GraphError(f"pca_init: inputs must be (samples, {len(g.inputs)}), got {x.shape}")
    comps, _, mean = principal_components(x)
    if comps.shape[0] == 0:
        raise GraphError("pca_init: the inputs have no variance; nothing to take components of")
    src, dst, _ = g.edge_list()
    col_of = np.full(g.next_neuron_id, -1, np.int64)
    col_of[g.inputs] = np.arange(len(g.inputs))
    level = np.zeros(g.next_neuron_id, np.int64)
    level[g.neuron_ids] = g.neuron_attr("level")
    sel = np.flatnonzero((col_of[src] >= 0) & (level[dst] == 1))
    if sel.size == 0:
        raise GraphError("pca_init: no edge runs from an input to a level-1 neuron")
    first = np.flatnonzero(level[g.neuron_ids] == 1)
    neurons = g.neuron_ids[first]
    row_of = np.full(g.next_neuron_id, -1, np.int64)
    row_of[neurons] = np.arange(neurons.size)
    rows, cols = row_of[dst[sel]], col_of[src[sel]]
    mask = np.zeros((neurons.size, x.shape[1]))
    mask[rows, cols] = 1.0
    k = min(x.shape[1], neurons.size, comps.shape[0])
    cov = np.cov(x, rowvar=False, bias=True).reshape(x.shape[1], x.shape[1])
    weights = np.zeros_like(mask)
    todo = np.ones(neurons.size, bool)
    for shift in range(k):  # a neuron blind to its component tries the next one
        idx = np.flatnonzero(todo)
        w = comps[(idx + shift) % k] * mask[idx]
        var = np.einsum("ij,jk,ik->i", w, cov, w)
        ok = var > _RANK_TOL**2 * comps.shape[1]
        norm = np.linalg.norm(w[ok], axis=1)
        factor = scale / norm if scale is not None else np.sqrt(2.0 / var[ok])
        weights[idx[ok]] = w[ok] * factor[:, None]
        todo[idx[ok]] = False
        if not todo.any():
            break
    _, _, old = g.edge_list()
    new = np.where(todo[rows], old[sel], weights[rows, cols])
    dense = np.zeros_like(weights)
    dense[rows, cols] = new
    g.write_parameters(g.edge_attr("id")[sel], new, neurons, -(dense @ mean))


def _as_array(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise GraphError("pca_init: the inputs must be numbers") from None
