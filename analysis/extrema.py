"""``analysis.extrema``: dead and saturated neurons, one definition per activation family."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph

from .capture import ActivationStats, capture

__all__ = ["Extrema", "extrema"]

_RELU_LIKE = {"relu", "leaky_relu", "gelu", "silu", "elu", "softplus"}


@dataclass
class Extrema:
    """Dead and saturated neuron ids (hidden and output neurons; inputs are data), and the
    statistics they were read from."""

    dead: set[int]
    saturated: set[int]
    stats: ActivationStats

    def __repr__(self) -> str:
        return f"Extrema(dead={len(self.dead)}, saturated={len(self.saturated)}, samples={self.stats.count})"


def extrema(
    g: NeuronGraph,
    model,
    data,
    *,
    margin: float = 0.05,
    saturated_fraction: float = 0.5,
    dead_fraction: float = 1.0,
    relu_high: float = 5.0,
    constant_std: float = 1e-6,
    batch_size: int = 1024,
) -> Extrema:
    """Find dead and saturated neurons from their activations over ``data`` (streamed).

    Definitions, per activation family:

    * ReLU-like (relu, leaky_relu, gelu, silu, elu, softplus): **dead** when it is inactive
      (output at most ``1e-6``) in at least ``dead_fraction`` of the samples (default: never
      active);
      **saturated** when its mean activation is above ``relu_high`` times the median mean
      activation of the other active ReLU-like neurons of its level (it dominates its level).
    * tanh and sigmoid: **saturated** when it sits within ``margin`` of the top or bottom of
      its range (the seeds' 0.95 / 0.05 of range) in at least ``saturated_fraction`` of the
      samples; **dead** when its output is constant (std below ``constant_std``) away from
      the bounds.
    * identity: **dead** when constant.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    >>> g.set_neuron_attr("bias", [3], [-100.0])   # never active
    >>> e = extrema(g, gn.compile(g), torch.randn(64, 3))
    >>> sorted(e.dead)
    [3]
    """
    for name, v in (("saturated_fraction", saturated_fraction), ("dead_fraction", dead_fraction)):
        if not 0 < v <= 1:
            raise GraphError(f"extrema: {name} must lie in (0, 1], got {v}")
    if not relu_high > 1:
        raise GraphError(f"extrema: relu_high must be above 1, got {relu_high}")
    s = capture(g, model, data, batch_size=batch_size, margin=margin)
    ids, names = s.neuron_ids, s.activation
    not_input = np.ones(ids.size, bool)
    not_input[: model.num_inputs] = False
    relu = np.isin(names, list(_RELU_LIKE)) & not_input
    bounded = np.isin(names, ["tanh", "sigmoid"]) & not_input
    ident = (names == "identity") & not_input
    # inactive: exactly zero for relu; for the smooth ones, not above zero is read from the mean
    inactive = s.frac_inactive
    sat_bounded = bounded & (
        (s.frac_high >= saturated_fraction) | (s.frac_low >= saturated_fraction)
    )
    constant = s.std < constant_std
    # a bounded neuron pinned at a bound is saturated, not dead; constant elsewhere it is dead
    dead = (relu & (inactive >= dead_fraction)) | ((bounded & ~sat_bounded | ident) & constant)
    level_mean = np.zeros(ids.size)  # the level's typical value: median over the other active
    for lv in np.unique(s.level):
        sel = np.flatnonzero((s.level == lv) & relu)
        act = sel[~dead[sel] & (s.mean[sel] > 0)]
        if act.size > 50:  # large levels: one neuron does not move the median
            level_mean[sel] = np.median(s.mean[act])
        else:
            for i in sel:
                others = s.mean[act[act != i]]
                level_mean[i] = np.median(others) if others.size else 0.0
    sat_relu = relu & ~dead & (level_mean > 0) & (s.mean > relu_high * level_mean)
    sat_bounded = bounded & (
        (s.frac_high >= saturated_fraction) | (s.frac_low >= saturated_fraction)
    )
    return Extrema(set(ids[dead].tolist()), set(ids[sat_relu | sat_bounded].tolist()), s)
