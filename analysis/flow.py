"""Information flow through the levels and gradient statistics per level."""

from __future__ import annotations

import weakref
from collections import deque

import numpy as np
import torch

from compilers.sync import require_current
from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph

from .information import mutual_information

__all__ = ["level_activations", "information_flow", "GradientMonitor"]


@torch.no_grad()
def level_activations(g: NeuronGraph, model, x: torch.Tensor) -> dict[int, np.ndarray]:
    """The activations of every level on ``x``: ``{level: (samples, neurons)}``, neurons in
    slot order (``model.slot_order``).

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    >>> {k: v.shape for k, v in level_activations(g, gn.compile(g), torch.randn(5, 3)).items()}
    {0: (5, 3), 1: (5, 4), 2: (5, 2)}
    """
    x = torch.as_tensor(x).to(device=model.values.device, dtype=model.values.dtype)
    if x.dim() != 2 or x.shape[1] != model.num_inputs:
        raise GraphError(
            f"level_activations: inputs must be (batch, {model.num_inputs}), got {tuple(x.shape)}"
        )
    require_current(g, model, "level_activations")
    buf = model.activations(x)
    order = model.slot_order.cpu().numpy()
    level = g.neuron_attr("level", order)
    h = buf.t().cpu().numpy().astype(np.float64)
    return {int(lv): h[:, level == lv] for lv in np.unique(level)}


def information_flow(
    g: NeuronGraph,
    model,
    x: torch.Tensor,
    labels,
    *,
    method: str = "binned",
    drop: float = 0.5,
    components: int = 2,
) -> dict:
    """How much each level says about the labels, and where that drops.

    Per level, the mutual information (nats) between each neuron's activation and the labels
    is estimated (:func:`analysis.mutual_information`); ``per_level[k]`` is the largest over
    the level's neurons (what its most informative neuron carries) and ``mean_per_level[k]``
    the mean. A **bottleneck** is a non-input level whose best neuron carries less than
    ``drop`` times what the level below carried.

    Between consecutive levels, ``between_levels[(j, k)]`` is the KSG estimate of the
    information between their ``components`` leading principal components (a stated proxy for
    the information between the whole levels, which no estimator reaches in high dimension).

    Returns
    -------
    dict
        ``{"per_level": {k: nats}, "mean_per_level": {k: nats}, "between_levels":
        {(j, k): nats}, "bottlenecks": [levels]}``.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> g = gn.mlp([4, 6, 3], density=1.0, seed=0)
    >>> x = torch.randn(300, 4); y = (x[:, 0] > 0).long()
    >>> f = information_flow(g, gn.compile(g), x, y)
    >>> f["per_level"][0] > 0.3, sorted(f["between_levels"])
    (True, [(0, 1), (1, 2)])
    """
    y = labels.detach().cpu() if hasattr(labels, "detach") else labels
    try:
        y = np.asarray(y, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise GraphError("information_flow: labels must be numbers (class indices)") from None
    if y.size != x.shape[0]:
        raise GraphError(f"information_flow: {x.shape[0]} inputs but {y.size} labels")
    acts = level_activations(g, model, x)
    best, mean = {}, {}
    for lv, h in acts.items():
        vals = []
        for j in range(h.shape[1]):
            col = h[:, j]
            vals.append(0.0 if np.ptp(col) == 0 else max(0.0, mutual_information(col, y, method)))
        best[lv] = float(max(vals)) if vals else 0.0
        mean[lv] = float(np.mean(vals)) if vals else 0.0
    levels = sorted(best)
    bottlenecks = [b for a, b in zip(levels, levels[1:]) if best[b] < drop * best[a]]
    between = {(a, b): _between(acts[a], acts[b], components) for a, b in zip(levels, levels[1:])}
    return {
        "per_level": best,
        "mean_per_level": mean,
        "between_levels": between,
        "bottlenecks": bottlenecks,
    }


def _principal(h: np.ndarray, k: int) -> np.ndarray | None:
    h = h - h.mean(0)
    if h.shape[1] == 0 or not np.any(h):
        return None
    u, sv, _ = np.linalg.svd(h, full_matrices=False)
    return u[:, :k] * sv[:k]


def _between(a: np.ndarray, b: np.ndarray, k: int) -> float:
    pa, pb = _principal(a, k), _principal(b, k)
    if pa is None or pb is None:
        return 0.0
    return max(0.0, mutual_information(pa, pb, "ksg"))


class GradientMonitor:
    """Per-level gradient norms of a compiled model, step by step, and their variance over a
    sliding window (the signal a growth economy spends credits on).

    Call :meth:`record` after each ``backward()``.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> g = gn.mlp([3, 4, 2], density=1.0, seed=0); m = gn.compile(g)
    >>> mon = GradientMonitor(m, window=3)
    >>> for _ in range(3):
    ...     m.zero_grad(); m(torch.randn(8, 3)).sum().backward(); _ = mon.record()
    >>> sorted(mon.variance())
    [1, 2]
    """

    def __init__(self, model, window: int = 10) -> None:
        if not isinstance(window, int) or window < 2:
            raise GraphError(f"GradientMonitor: window must be a whole number >= 2, got {window!r}")
        self.window = window
        self.history: deque = deque(maxlen=window)
        self.rebind(model)

    def rebind(self, model) -> None:
        """Follow a new model (after ``gn.recompile``); the window starts afresh."""
        self.model = model
        self.levels = [int(lv) for lv in model.block_levels]
        self.history.clear()
        self._last = None

    def record(self) -> dict[int, float]:
        """The gradient norm of each level's incoming weights and biases right now."""
        gv, gb = self.model.values.grad, self.model.bias.grad
        if gv is None and gb is None:
            raise GraphError("GradientMonitor.record: no gradients; call backward() first")
        # the same gradient tensors, unchanged since the last record? (weak references: a
        # new tensor from zero_grad(set_to_none=True) is never taken for the old one)
        last = self._last
        if last is not None and all(
            (t is None and ref is None) or (ref is not None and ref() is t and t._version == v)
            for t, (ref, v) in zip((gv, gb), last)
        ):
            raise GraphError(
                "GradientMonitor.record: no new gradients since the last record (after "
                "gn.recompile, call monitor.rebind(new_model))"
            )
        self._last = tuple(
            (weakref.ref(t), t._version) if t is not None else (None, None) for t in (gv, gb)
        )
        norms = {}
        for k, lv in enumerate(self.levels):
            p = self.model._plan()[k]
            total = 0.0
            if gv is not None:
                total += float(gv[p.v0 : p.v1].double().pow(2).sum())
            if gb is not None:
                total += float(gb[p.b0 : p.b1].double().pow(2).sum())
            norms[lv] = total**0.5
        self.history.append(norms)
        return norms

    def variance(self) -> dict[int, float]:
        """Variance of each level's gradient norm over the recorded window."""
        if len(self.history) < 2:
            return {}
        return {lv: float(np.var([h[lv] for h in self.history])) for lv in self.levels}

    def spikes(self, change: float = 0.5) -> list[int]:
        """Levels whose gradient-norm variance over the second half of the window differs from
        the first half by more than ``change`` (0.5: a 50% change)."""
        if len(self.history) < 4:
            return []
        half = len(self.history) // 2
        out = []
        for lv in self.levels:
            seq = [h[lv] for h in self.history]
            a, b = np.var(seq[:half]), np.var(seq[half:])
            if (a == 0 and b > 0) or (a > 0 and abs(b - a) / a > change):
                out.append(lv)
        return out
