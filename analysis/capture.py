"""Activation capture: streaming per-neuron statistics of a compiled model over data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from compilers.sync import require_current
from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.vocab import ACTIVATIONS

__all__ = ["ActivationStats", "capture", "BOUNDS", "INACTIVE"]

BOUNDS = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
INACTIVE = 1e-6
"""An activation at or below this passes (almost) nothing on: ReLU's 0, softplus's tail."""
"""Output ranges of the bounded activations (saturation is measured as a position in them)."""


@dataclass
class ActivationStats:
    """Per-neuron statistics over every sample seen, in slot order (``neuron_ids``).

    ``mean``/``std`` of the activation, ``frac_zero`` (exactly 0: an inactive ReLU),
    ``frac_inactive`` (passing nothing on: exactly 0, or at most ``1e-6`` for the smooth
    ReLU-likes leaky_relu, gelu, silu, elu, softplus),
    ``frac_low``/``frac_high`` (within ``margin`` of the bottom/top of a bounded activation's
    range; 0 for unbounded ones), ``max``, and the sample ``count``.
    """

    neuron_ids: np.ndarray
    level: np.ndarray
    activation: np.ndarray  # names
    count: int
    mean: np.ndarray
    std: np.ndarray
    frac_zero: np.ndarray
    frac_inactive: np.ndarray
    frac_low: np.ndarray
    frac_high: np.ndarray
    max: np.ndarray
    margin: float

    def by_level(self) -> dict[int, np.ndarray]:
        """Neuron ids per level."""
        return {int(lv): self.neuron_ids[self.level == lv] for lv in np.unique(self.level)}


def _batches(data, batch_size: int) -> Iterable[torch.Tensor]:
    if isinstance(data, (torch.Tensor, np.ndarray)):
        x = torch.as_tensor(data)
        for i in range(0, x.shape[0], batch_size):
            yield x[i : i + batch_size]
        return
    if (
        isinstance(data, (tuple, list))
        and len(data) == 2
        and all(isinstance(d, (torch.Tensor, np.ndarray)) for d in data)
        and np.ndim(data[0]) == 2
        and np.ndim(data[1]) <= 1
    ):  # an (inputs, labels) pair
        yield from _batches(data[0], batch_size)
        return
    for item in data:  # a DataLoader, or any iterable of x or (x, ...)
        yield item[0] if isinstance(item, (tuple, list)) else item


@torch.no_grad()
def capture(
    g: NeuronGraph, model, data, *, batch_size: int = 1024, margin: float = 0.05
) -> ActivationStats:
    """Run ``model`` (compiled from ``g``) over ``data`` and keep per-neuron statistics,
    streaming: memory does not grow with the data. ``data`` is a tensor of inputs, an
    ``(x, y)`` pair, or an iterable of batches (a DataLoader). Activations are read from the
    model's own activation buffer, level by level, with no loop per neuron.

    Raises
    ------
    GraphError
        If the model was not compiled from ``g``, a batch has the wrong width or a NaN.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> g = gn.mlp([4, 6, 2], density=1.0, seed=0)
    >>> s = capture(g, gn.compile(g), torch.randn(100, 4))
    >>> s.count, s.mean.shape
    (100, (12,))
    """
    require_current(g, model, "capture")
    if not 0 < margin < 0.5:
        raise GraphError(f"capture: margin must lie in (0, 0.5), got {margin}")
    order = model.slot_order.cpu().numpy()
    n_in = model.num_inputs
    acts = g.neuron_attr("activation", order)
    names = np.array([ACTIVATIONS[c] for c in acts])
    lo = np.array([BOUNDS.get(a, (np.nan, np.nan))[0] for a in names])
    hi = np.array([BOUNDS.get(a, (np.nan, np.nan))[1] for a in names])
    bounded = np.flatnonzero(np.isfinite(lo))
    dev = model.values.device
    lo_t = torch.as_tensor(
        lo[bounded] + margin * (hi[bounded] - lo[bounded]), device=dev, dtype=torch.float64
    )
    hi_t = torch.as_tensor(
        hi[bounded] - margin * (hi[bounded] - lo[bounded]), device=dev, dtype=torch.float64
    )
    b_idx = torch.as_tensor(bounded, device=dev)
    N = order.size
    smooth = np.isin(names, ["leaky_relu", "gelu", "silu", "elu", "softplus"])
    f64 = dict(dtype=torch.float64, device=dev)
    s1 = torch.zeros(N, **f64)  # sums of (h - shift) and of its square: shift-stabilised
    s2 = torch.zeros(N, **f64)
    zero = torch.zeros(N, **f64)
    inactive = torch.zeros(N, **f64)
    low = torch.zeros(N, **f64)
    high = torch.zeros(N, **f64)
    top = torch.full((N,), -np.inf, **f64)
    shift = None
    count = 0
    was_training = model.training
    model.eval()
    try:
        for xb in _batches(data, batch_size):
            xb = torch.as_tensor(xb).to(device=dev, dtype=model.values.dtype)
            if xb.dim() != 2 or xb.shape[1] != n_in:
                raise GraphError(f"capture: batches must be (batch, {n_in}), got {tuple(xb.shape)}")
            if not torch.isfinite(xb).all():
                raise GraphError("capture: a batch holds a NaN or infinite input")
            buf = model.activations(xb, copy=False)  # slots x batch: this batch's activations
            b = xb.shape[0]
            if shift is None:
                shift = torch.cat((xb[0], buf[n_in:, 0]))
            # inputs: columns of xb; the rest: rows of buf, a cache-sized chunk at a time so
            # that the four reductions read memory once
            d = xb - shift[:n_in]
            s1[:n_in] += d.sum(0).double()
            s2[:n_in] += torch.linalg.vector_norm(d, 2, dim=0).double() ** 2
            zero[:n_in] += b - torch.count_nonzero(xb, dim=0)
            top[:n_in] = torch.maximum(top[:n_in], xb.amax(0).double())
            step = max(64, (1 << 18) // max(b, 1))
            for a in range(n_in, N, step):
                z = min(N, a + step)
                c = buf[a:z]
                d = c - shift[a:z, None]
                s1[a:z] += d.sum(1).double()
                s2[a:z] += torch.linalg.vector_norm(d, 2, dim=1).double() ** 2
                zero[a:z] += b - torch.count_nonzero(c, dim=1)
                if smooth[a:z].any():  # only smooth ReLU-likes need "near zero" counted apart
                    inactive[a:z] += torch.count_nonzero(c <= INACTIVE, dim=1)
                top[a:z] = torch.maximum(top[a:z], c.amax(1).double())
            if bounded.size:
                hb = buf[b_idx].to(torch.float64)
                low[b_idx] += (hb <= lo_t[:, None]).sum(1)
                high[b_idx] += (hb >= hi_t[:, None]).sum(1)
            count += b
    finally:
        model.train(was_training)
    if count == 0:
        raise GraphError("capture: the data held no samples")
    mean = shift.double() + s1 / count
    var = (s2 / count - (s1 / count) ** 2).clamp(min=0)
    f = lambda t: t.cpu().numpy()  # noqa: E731
    return ActivationStats(
        neuron_ids=order,
        level=g.neuron_attr("level", order),
        activation=names,
        count=count,
        mean=f(mean),
        std=f(var.sqrt()),
        frac_zero=f(zero / count),
        # for every neuron but the smooth ReLU-likes, inactive means exactly zero
        frac_inactive=np.where(smooth, f(inactive / count), f(zero / count)),
        frac_low=f(low / count),
        frac_high=f(high / count),
        max=f(top),
        margin=margin,
    )
