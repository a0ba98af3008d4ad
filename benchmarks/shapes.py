"""Graph shapes the benchmarks share (not part of the package)."""

from __future__ import annotations

import numpy as np

import graphnet as gn


def deep_skip_dag(levels: int = 20, width: int = 50, fan_in: int = 15, seed: int = 0):
    """``levels`` x ``width`` neurons; each non-input neuron is fed by ~``fan_in`` random
    neurons of any lower level plus one of the level just below (a permutation, so every
    neuron of a level feeds at least one of the next). Level 0 are the inputs, the top level
    the outputs."""
    rng = np.random.default_rng(seed)
    src, dst = [], []
    for k in range(1, levels):
        perm = rng.permutation(width)
        for j in range(width):
            n = k * width + j
            lower = rng.choice(k * width, size=min(fan_in, k * width), replace=False)
            chosen = set(lower.tolist()) | {(k - 1) * width + int(perm[j])}
            src += sorted(chosen)
            dst += [n] * len(chosen)
    level = np.repeat(np.arange(levels), width)
    return gn.from_edges(
        np.array(src), np.array(dst), num_neurons=levels * width, level=level, seed=seed
    )
