"""Checks to run before a long experiment: does the gradient reach every level, and which
batch size fits in memory. Both read the graph and the model; neither edits them.
"""

from __future__ import annotations

import os

import torch

from compilers.sync import require_current
from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph

__all__ = ["gradient_flow", "estimate_training_bytes", "memory_aware_batch_size"]

FLOAT_BYTES = 4  # float32


def gradient_flow(
    g: NeuronGraph,
    model,
    batch: tuple[torch.Tensor, torch.Tensor],
    loss_fn=None,
    *,
    vanish: float = 1e-3,
    explode: float = 1e3,
) -> dict:
    """Per-level gradient norms of one forward and backward pass, with vanishing and exploding
    levels flagged.

    The gradient of the loss on ``batch`` is taken with respect to ``model.values`` and
    ``model.bias`` by :func:`torch.autograd.grad`, so ``.grad`` and the optimizer are left
    untouched. A level's norm is that of the gradient of its incoming weights and its biases
    together (the block slices ``values[v0:v1]`` and ``bias[b0:b1]``, as
    :meth:`analysis.GradientMonitor.record` takes them); the two parts are also returned apart.

    Parameters
    ----------
    g : NeuronGraph
        The network ``model`` was compiled from (and still computes).
    model : CompiledGraph
        The compiled network.
    batch : (torch.Tensor, torch.Tensor)
        Inputs ``(samples, len(g.inputs))`` and targets for ``loss_fn``.
    loss_fn : callable, optional
        ``loss_fn(outputs, targets) -> scalar``; default cross-entropy (targets: class indices).
    vanish : float, default 1e-3
        A level whose norm is below ``vanish`` times the largest level norm is vanishing.
    explode : float, default 1e3
        A level whose norm exceeds ``explode`` is exploding. (A ratio to the largest norm is at
        most 1, so this threshold is absolute, in units of the loss per parameter.)

    Returns
    -------
    dict
        ``{"norms": {level: float}, "weight_norms": {level: float}, "bias_norms": {level:
        float}, "ratios": {level: norm / largest norm}, "vanishing": [levels], "exploding":
        [levels], "loss": float}``; levels ascending. All ratios are 0 if every norm is.

    Raises
    ------
    GraphError
        If the model no longer matches the graph, the loss is not finite, or a threshold is
        not positive.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([4, 8, 8, 3], density=1.0, seed=0)
    >>> x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    >>> flow = gradient_flow(g, gn.compile(g), (x, y))
    >>> sorted(flow["norms"]), flow["ratios"][max(flow["ratios"], key=flow["ratios"].get)]
    ([1, 2, 3], 1.0)
    >>> flow["vanishing"], flow["exploding"]
    ([], [])
    """
    if not (vanish > 0 and explode > 0):
        raise GraphError(f"gradient_flow: thresholds must be positive, got {vanish}, {explode}")
    require_current(g, model, "gradient_flow")
    x, y = batch
    x = torch.as_tensor(x).to(device=model.values.device, dtype=model.values.dtype)
    y = torch.as_tensor(y).to(model.values.device)
    loss_fn = loss_fn or torch.nn.CrossEntropyLoss()
    loss = loss_fn(model(x), y)
    if loss.dim() != 0 or not torch.isfinite(loss.detach()):
        raise GraphError(f"gradient_flow: the loss must be a finite scalar, got {loss.detach()}")
    gv, gb = torch.autograd.grad(loss, [model.values, model.bias], allow_unused=True)
    wsq: dict[int, float] = {}
    bsq: dict[int, float] = {}
    for k, lv in enumerate(int(v) for v in model.block_levels):
        v0, v1 = model.value_offsets[k], model.value_offsets[k + 1]
        b0, b1 = model.bias_offsets[k], model.bias_offsets[k + 1]
        w2 = 0.0 if gv is None else float(gv[v0:v1].double().pow(2).sum())
        b2 = 0.0 if gb is None else float(gb[b0:b1].double().pow(2).sum())
        wsq[lv] = wsq.get(lv, 0.0) + w2  # a level split over blocks adds up
        bsq[lv] = bsq.get(lv, 0.0) + b2
    levels = sorted(wsq)
    norms = {lv: (wsq[lv] + bsq[lv]) ** 0.5 for lv in levels}
    top = max(norms.values(), default=0.0)
    ratios = {lv: (norms[lv] / top if top > 0 else 0.0) for lv in levels}
    return {
        "norms": norms,
        "weight_norms": {lv: wsq[lv] ** 0.5 for lv in levels},
        "bias_norms": {lv: bsq[lv] ** 0.5 for lv in levels},
        "ratios": ratios,
        "vanishing": [lv for lv in levels if ratios[lv] < vanish],
        "exploding": [lv for lv in levels if norms[lv] > explode],
        "loss": float(loss.detach()),
    }


def estimate_training_bytes(g: NeuronGraph, batch_size: int) -> int:
    """Estimated memory of one training step of ``gn.compile(g)`` with Adam, in bytes.

    ``4 * (3 * S * batch_size + 4 * P)`` with ``S`` the model's activation slots (one per live
    neuron, ``model.num_slots``) and ``P`` its parameters (edges plus non-input neurons):
    per sample, float32 slots for the forward activation buffer, as many for the backward
    gradient buffer and as many for pre-activations (an upper bound: only activations other
    than ReLU-like ones keep them); once, the parameters, their gradients and Adam's two
    moment estimates. Not counted: the input batch, logits and loss temporaries (a few floats
    per sample and output), and the batch-independent scratch matrices of blocks computed
    dense (``rows x width`` floats).

    Parameters
    ----------
    g : NeuronGraph
        The network.
    batch_size : int
        Samples per step, ``>= 0``.

    Returns
    -------
    int
        Bytes.

    Raises
    ------
    GraphError
        If ``batch_size`` is negative.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([4, 3, 2], density=1.0, seed=0)  # 9 slots, 18 + 5 parameters
    >>> estimate_training_bytes(g, 10), 4 * (3 * 9 * 10 + 4 * 23)
    (1448, 1448)
    """
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 0:
        raise GraphError(f"batch_size must be a whole number >= 0, got {batch_size!r}")
    slots = g.num_neurons
    params = g.num_edges + g.num_neurons - len(g.inputs)
    return FLOAT_BYTES * (3 * slots * int(batch_size) + 4 * params)


def memory_aware_batch_size(
    g: NeuronGraph,
    *,
    available_bytes: int | None = None,
    fraction: float = 0.25,
    max_batch: int = 4096,
    min_batch: int = 8,
) -> int:
    """The largest power-of-two batch size whose training step fits in a share of memory.

    Parameters
    ----------
    g : NeuronGraph
        The network.
    available_bytes : int, optional
        Memory to plan with; default the system's available memory (``MemAvailable`` of
        ``/proc/meminfo``, else ``os.sysconf`` available pages times the page size).
    fraction : float, default 0.25
        Share of ``available_bytes`` a step may use, in ``(0, 1]``.
    max_batch, min_batch : int, default 4096 and 8
        Bounds of the answer. If not even ``min_batch`` fits, ``min_batch`` is returned.

    Returns
    -------
    int
        The largest power of two ``b`` in ``[min_batch, max_batch]`` with
        ``estimate_training_bytes(g, b) <= fraction * available_bytes``, else ``min_batch``.

    Raises
    ------
    GraphError
        If a bound or ``fraction`` is out of range, or available memory cannot be read.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([64, 128, 10], density=1.0, seed=0)
    >>> memory_aware_batch_size(g, available_bytes=2**30)
    4096
    >>> memory_aware_batch_size(g, available_bytes=2**20)
    32
    """
    if not 0 < fraction <= 1:
        raise GraphError(f"fraction must lie in (0, 1], got {fraction}")
    if not 1 <= min_batch <= max_batch:
        raise GraphError(f"need 1 <= min_batch <= max_batch, got {min_batch} and {max_batch}")
    avail = _available_bytes() if available_bytes is None else int(available_bytes)
    if avail < 0:
        raise GraphError(f"available_bytes must be >= 0, got {available_bytes}")
    budget = fraction * avail
    best = min_batch
    b = 1
    while b <= max_batch:
        if b >= min_batch and estimate_training_bytes(g, b) <= budget:
            best = b
        b *= 2
    return best


def _available_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        raise GraphError("cannot read the available memory; pass available_bytes") from None
