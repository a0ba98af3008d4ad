"""Random sparse multilayer perceptrons, sampled in bulk with no Python loop per edge."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .assemble import assemble, init_weights
from .errors import GraphError
from .graph import NeuronGraph
from .keyindex import MAX_NEURON_ID
from .schema import as_int, as_real
from .vocab import HIDDEN, INPUT, OUTPUT, activation_code

__all__ = ["mlp"]

_CHUNK_EDGES = 1 << 20


def _distinct_sorted(rng: np.random.Generator, m: int, c: int) -> np.ndarray:
    """``c`` distinct integers drawn uniformly from ``[0, m)``, sorted."""
    if c <= 0:
        return np.empty(0, np.int64)
    if 2 * c > m:
        drop = _distinct_sorted(rng, m, m - c)
        keep = np.ones(m, bool)
        keep[drop] = False
        return np.flatnonzero(keep)
    got = np.empty(0, np.int64)
    while got.size < c:
        # top up with enough fresh draws to expect c distinct values, sort only the new ones,
        # then merge: a stable sort of two sorted runs is a linear merge (timsort)
        draw = rng.integers(0, m, size=int((c - got.size) * m / (m - got.size)) + 16)
        draw.sort()
        got = np.concatenate((got, draw))
        got.sort(kind="stable")
        got = got[np.concatenate(([True], got[1:] != got[:-1]))]
    if got.size > c:  # a uniform subset of a uniform random set is uniform
        got = np.delete(got, rng.choice(got.size, size=got.size - c, replace=False))
    return got


def _sample_block(rng, n_in: int, n_out: int, k: int, out_src, out_dst) -> None:
    """Write ``k`` distinct edges of an ``n_in x n_out`` block into ``out_src``/``out_dst``
    (local indices), sorted by destination then source; every destination gets one edge."""
    guaranteed = rng.integers(0, n_in, size=n_out)
    extra = k - n_out
    free_per_row = n_in - 1
    if extra == 0 or free_per_row == 0:
        out_dst[:] = np.arange(n_out)
        out_src[:] = guaranteed
        return
    per_row = extra / n_out + 1.0
    rows = max(1, int(_CHUNK_EDGES // per_row))
    starts = np.arange(0, n_out, rows)
    sizes = np.minimum(rows, n_out - starts)
    counts = rng.multivariate_hypergeometric(
        sizes.astype(np.int64) * free_per_row, extra, method="marginals"
    )
    at = 0
    for r0, nr, c in zip(starts.tolist(), sizes.tolist(), counts.tolist()):
        local = _distinct_sorted(rng, nr * free_per_row, c)
        row = local // free_per_row
        col = local - row * free_per_row
        g_rows = guaranteed[r0 : r0 + nr]
        col += col >= g_rows[row]
        keys = np.concatenate((row * n_in + col, np.arange(nr) * n_in + g_rows))
        keys.sort(kind="stable")  # two sorted runs: a linear merge
        n = keys.size
        d = keys // n_in
        out_src[at : at + n] = keys - d * n_in
        out_dst[at : at + n] = d + r0
        at += n


def mlp(
    sizes: Sequence[int],
    density: float | Sequence[float] = 1.0,
    seed: int = 0,
    activation: str = "relu",
    *,
    output_activation: str = "identity",
) -> NeuronGraph:
    """A random sparse multilayer perceptron: level ``i`` holds ``sizes[i]`` neurons.

    Sampling, per pair of consecutive levels with ``n_in`` sources and ``n_out`` destinations:
    the block gets ``k = max(n_out, round(density * n_in * n_out))`` edges. Each destination
    first draws one source uniformly (so every hidden and output neuron has an input at any
    density > 0); the other ``k - n_out`` edges are drawn uniformly without replacement from
    the remaining positions. Weights are uniform on ``[-1/sqrt(f), 1/sqrt(f)]`` with ``f`` the
    neuron's actual fan-in; biases are 0. Ids go level by level; edges come sorted by
    destination, then source. The same ``seed`` gives the same graph.

    Parameters
    ----------
    sizes : sequence of int
        Neurons per level, inputs first, outputs last (at least two levels).
    density : float or sequence of float, default 1.0
        Fraction of possible edges per level pair, in (0, 1]; one value, or one per pair.
    seed : int, default 0
        Seed of the random generator.
    activation : str, default "relu"
        Activation of the hidden neurons; outputs get ``output_activation`` (logits).

    Returns
    -------
    NeuronGraph
        A checked graph with an empty edit log.

    Raises
    ------
    GraphError
        For fewer than two levels, an empty level, a density outside (0, 1], or an unknown
        activation.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([784, 256, 10], density=0.01, seed=0)
    >>> g.num_edges, g.num_levels
    (2033, 3)
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence | np.ndarray):
        raise GraphError(f"mlp sizes must be a sequence of level widths, got {sizes!r}")
    sizes = [as_int(s, "mlp: every level width") for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise GraphError(f"mlp needs at least two levels of at least one neuron, got sizes {sizes}")
    dens = (
        [as_real(density, "density")] * (len(sizes) - 1)
        if np.ndim(density) == 0
        else [as_real(d, "density") for d in density]
    )
    if len(dens) != len(sizes) - 1:
        raise GraphError(f"{len(dens)} densities given for {len(sizes) - 1} level pairs")
    for d in dens:
        if not 0.0 < d <= 1.0:  # NaN fails this too
            raise GraphError(f"density must lie in (0, 1], got {d}")
    hid, out = activation_code(activation), activation_code(output_activation)
    total = sum(sizes)
    if total - 1 > MAX_NEURON_ID:
        raise GraphError(f"{total} neurons exceed the largest id {MAX_NEURON_ID}")
    rng = np.random.default_rng(as_int(seed, "seed", lo=0))
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    ks = [
        min(n_in * n_out, max(n_out, round(d * n_in * n_out)))
        for n_in, n_out, d in zip(sizes[:-1], sizes[1:], dens)
    ]
    src = np.empty(sum(ks), np.int64)
    dst = np.empty(sum(ks), np.int64)
    weight = np.empty(sum(ks), np.float32)
    at = 0
    for i, k in enumerate(ks):
        s, d = src[at : at + k], dst[at : at + k]
        _sample_block(rng, sizes[i], sizes[i + 1], k, s, d)
        weight[at : at + k] = init_weights(d, sizes[i + 1], rng)
        s += offsets[i]
        d += offsets[i + 1]
        at += k
    level = np.repeat(np.arange(len(sizes)), sizes)
    role = np.full(total, HIDDEN, np.int8)
    role[: sizes[0]] = INPUT
    role[offsets[-2] :] = OUTPUT
    act = np.full(total, hid, np.int8)
    act[: sizes[0]] = 0
    act[offsets[-2] :] = out
    g = assemble(
        neurons={
            "level": level,
            "role": role,
            "activation": act,
            "bias": np.zeros(total, np.float32),
            "born": np.zeros(total, np.int64),
            "alive": np.ones(total, bool),
        },
        edges={
            "id": np.arange(src.size, dtype=np.int64),
            "src": src,
            "dst": dst,
            "weight": weight,
            "born": np.zeros(src.size, np.int64),
            "lr": np.ones(src.size, np.float32),
        },
        inputs=list(range(sizes[0])),
        outputs=list(range(int(offsets[-2]), total)),
    )
    return g
