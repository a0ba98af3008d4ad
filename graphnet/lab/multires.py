"""Multi-resolution training: train on coarse images first, then on finer ones, each finer
network initialised from the coarser one so that it starts computing exactly what the coarser
network computed.

Images are flattened row-major (``digits``: 8x8 -> 64 columns); a coarse pixel is the mean of
a ``factor x factor`` square of fine pixels (:func:`downsample`). Splitting each weight from a
coarse input equally over its ``factor**2`` fine pixels (:func:`upsample_first_level`) makes
the fine network on fine images equal the coarse network on the downsampled images.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from compilers import compile as compile_graph
from compilers import sync
from graphnet.core.assemble import build_graph
from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.vocab import INPUT
from graphnet.evolution.config import EvolutionConfig, as_config
from graphnet.evolution.evolve import load_data, seed_network
from graphnet.evolution.protocols import Context
from graphnet.evolution.trainer import (
    EpochTrainer,
    data_on,
    evaluate,
    make_optimizer,
    resolve_device,
)  # fmt: skip
from graphnet.train.classifier import epoch_bar
from graphnet.train.data import Dataset

__all__ = ["downsample", "upsample_first_level", "multires_train"]


def _coarse_index(image_shape: Sequence[int], factor: int) -> np.ndarray:
    """Coarse column of each fine column (both row-major)."""
    h, w = (int(v) for v in image_shape)
    if not isinstance(factor, (int, np.integer)) or factor < 1:
        raise GraphError(f"factor must be a whole number >= 1, got {factor!r}")
    if h < 1 or w < 1 or h % factor or w % factor:
        raise GraphError(f"image shape ({h}, {w}) does not divide into {factor}x{factor} squares")
    rows, cols = np.divmod(np.arange(h * w), w)
    return (rows // factor) * (w // factor) + cols // factor


def downsample(x, image_shape: Sequence[int], factor: int):
    """Average-pool flattened images by ``factor`` in each direction.

    Parameters
    ----------
    x : torch.Tensor or numpy.ndarray
        ``(samples, height * width)`` images, flattened row-major.
    image_shape : (int, int)
        ``(height, width)``; both must be multiples of ``factor``.
    factor : int
        Side of the square of fine pixels averaged into one coarse pixel (1: unchanged).

    Returns
    -------
    torch.Tensor or numpy.ndarray
        ``(samples, (height // factor) * (width // factor))``, same kind and dtype as ``x``.

    Raises
    ------
    GraphError
        If ``x`` is not ``(samples, height * width)`` or the shape does not divide.

    Examples
    --------
    >>> x = torch.arange(16.0).reshape(1, 16)
    >>> downsample(x, (4, 4), 2)
    tensor([[ 2.5000,  4.5000, 10.5000, 12.5000]])
    """
    h, w = (int(v) for v in image_shape)
    _coarse_index((h, w), factor)  # validates
    if x.ndim != 2 or x.shape[1] != h * w:
        raise GraphError(f"downsample: images must be (samples, {h * w}), got {tuple(x.shape)}")
    n, f = x.shape[0], factor
    blocks = x.reshape(n, h // f, f, w // f, f)
    if isinstance(x, torch.Tensor):
        return blocks.mean(dim=(2, 4)).reshape(n, -1)
    return blocks.mean(axis=(2, 4)).reshape(n, -1).astype(x.dtype, copy=False)


def upsample_first_level(
    g_coarse: NeuronGraph, image_shape: Sequence[int], factor: int
) -> NeuronGraph:
    """A graph over the fine images that computes what ``g_coarse`` computes on
    ``downsample(x, image_shape, factor)``.

    Every edge leaving a coarse input (to any level, skip edges included) becomes
    ``factor**2`` edges, one from each fine pixel of that coarse pixel, each with the coarse
    weight divided by ``factor**2``. Everything above the inputs is copied: levels, roles,
    activations, biases, birth steps, learning-rate multipliers and weights.

    Parameters
    ----------
    g_coarse : NeuronGraph
        A network over ``(height // factor) * (width // factor)`` inputs, in row-major pixel
        order (``g_coarse.inputs[c]`` reads coarse pixel ``c``).
    image_shape : (int, int)
        ``(height, width)`` of the fine images.
    factor : int
        The downsampling factor the coarse inputs were made with.

    Returns
    -------
    NeuronGraph
        A new graph with an empty edit log. Ids are renumbered: the fine inputs are
        ``0 .. height * width - 1`` (pixel order); the non-input neurons follow in the order
        of their coarse ids (so ids of non-input neurons change); edge ids are new. Tags are
        not carried over. ``g_coarse`` is left unchanged.

    Raises
    ------
    GraphError
        If the shape does not divide or ``g_coarse`` does not have one input per coarse pixel.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([4, 3, 2], density=1.0, seed=0)
    >>> fine = upsample_first_level(g, (4, 4), 2)
    >>> fine, len(fine.inputs)
    (NeuronGraph(neurons=21, edges=54, levels=3), 16)
    >>> x = torch.randn(5, 16)
    >>> torch.allclose(gn.compile(fine)(x), gn.compile(g)(downsample(x, (4, 4), 2)), atol=1e-6)
    True
    """
    coarse_of = _coarse_index(image_shape, factor)
    n_coarse = int(coarse_of.max()) + 1
    if len(g_coarse.inputs) != n_coarse:
        raise GraphError(
            f"the coarse graph has {len(g_coarse.inputs)} inputs; {tuple(image_shape)} images "
            f"downsampled by {factor} have {n_coarse} pixels"
        )
    n_fine, f2 = coarse_of.size, factor * factor
    ids = g_coarse.neuron_ids
    role = g_coarse.neuron_attr("role", ids)
    rest = ids[role != INPUT]
    new_id = np.full(g_coarse.next_neuron_id, -1, np.int64)
    new_id[rest] = n_fine + np.arange(rest.size)
    col_of = np.full(g_coarse.next_neuron_id, -1, np.int64)
    col_of[g_coarse.inputs] = np.arange(n_coarse)
    src, dst, w = g_coarse.edge_list()
    born, lr = g_coarse.edge_attr("born"), g_coarse.edge_attr("lr")
    from_in = col_of[src] >= 0
    fine_pixels = np.argsort(coarse_of, kind="stable").reshape(n_coarse, f2)  # pixels of c
    split = np.flatnonzero(from_in)
    keep = np.flatnonzero(~from_in)
    new_src = np.concatenate([fine_pixels[col_of[src[split]]].ravel(), new_id[src[keep]]])
    new_dst = np.concatenate([np.repeat(new_id[dst[split]], f2), new_id[dst[keep]]])
    # w / f2 in float32, as the graph stores it: a power-of-two factor divides exactly
    w32 = np.asarray(w, np.float32)
    weight = np.concatenate([np.repeat(w32[split] / np.float32(f2), f2), w32[keep]])
    attr = lambda name: g_coarse.neuron_attr(name, rest)  # noqa: E731
    return build_graph(
        np.arange(n_fine + rest.size),
        new_src,
        new_dst,
        weight=weight,
        level=np.concatenate([np.zeros(n_fine, np.int64), attr("level")]),
        role=np.concatenate([np.full(n_fine, INPUT, np.int8), attr("role")]),
        activation=np.concatenate([np.zeros(n_fine, np.int8), attr("activation")]),
        bias=np.concatenate([np.zeros(n_fine, np.float32), attr("bias")]),
        born=np.concatenate([np.zeros(n_fine, np.int64), attr("born")]),
        edge_born=np.concatenate([np.repeat(born[split], f2), born[keep]]),
        lr=np.concatenate([np.repeat(lr[split], f2), lr[keep]]),
        inputs=np.arange(n_fine).tolist(),
        outputs=new_id[g_coarse.outputs].tolist(),
        step=g_coarse.step,
    )


def multires_train(
    config: EvolutionConfig | dict | str | os.PathLike | None = None,
    *,
    factors: Sequence[int] = (2, 1),
    epochs_per_scale: int | Sequence[int] | None = None,
    image_shape: Sequence[int] = (8, 8),
    data: Dataset | None = None,
) -> dict:
    """Train coarse to fine: at each factor in turn, on images downsampled by it.

    The first scale starts from the config's seed network (:func:`seed_network`) over the
    coarse pixels; each later scale starts from the previous trained network, upsampled with
    :func:`upsample_first_level`. Each scale is trained as :func:`graphnet.evolve` trains (same
    data, optimizer, batches and evaluation; :class:`EpochTrainer`) with a fresh optimizer,
    structure fixed. No run directory is written.

    Parameters
    ----------
    config : EvolutionConfig, dict, path or None
        The run's config; its data set must hold ``image_shape`` images (default ``digits``).
    factors : sequence of int, default (2, 1)
        Downsampling factors, strictly decreasing, each a multiple of the next.
    epochs_per_scale : int or sequence of int, optional
        Epochs at each scale (one value for all, or one per factor); default the config's
        ``stop.max_epochs`` at every scale.
    image_shape : (int, int), default (8, 8)
        ``(height, width)`` of the full-resolution images.
    data : Dataset, optional
        Full-resolution data to use instead of loading the config's data set.

    Returns
    -------
    dict
        ``{"graph", "model", "scales"}``: the final graph (synced) and model, and per scale
        (in order) ``{"factor", "features", "initial_test_acc", "history", "graph"}``, where
        ``initial_test_acc`` is measured before training at that scale and ``history`` holds
        one ``{"epoch", "loss", "train_acc", "test_acc"}`` row per epoch (``val_acc`` too with a
        validation share).

    Raises
    ------
    GraphError
        If the factors are not strictly decreasing multiples, the epochs do not match them, or
        the data's features are not ``height * width``.

    Examples
    --------
    >>> out = multires_train({"network": {"hidden": [16], "density": 0.5}, "progress": False},
    ...                      epochs_per_scale=1)
    >>> [(s["factor"], s["features"], len(s["history"])) for s in out["scales"]]
    [(2, 16, 1), (1, 64, 1)]
    """
    config = as_config(config)
    factors = [int(f) for f in factors]
    if (
        not factors
        or min(factors) < 1
        or any(a <= b or a % b for a, b in zip(factors, factors[1:]))
    ):
        raise GraphError(
            f"factors must be whole numbers >= 1, strictly decreasing, each a multiple of the "
            f"next, got {factors}"
        )
    if epochs_per_scale is None:
        epochs = [config.stop.max_epochs] * len(factors)
    elif isinstance(epochs_per_scale, (int, np.integer)):
        epochs = [int(epochs_per_scale)] * len(factors)
    else:
        epochs = [int(e) for e in epochs_per_scale]
    if len(epochs) != len(factors) or min(epochs) < 0:
        raise GraphError(f"epochs_per_scale {epochs} does not give a count >= 0 per factor")
    data, validation = load_data(config, data)
    device = resolve_device(config.training.device)
    h, w = (int(v) for v in image_shape)
    if data.num_features != h * w:
        raise GraphError(f"the data has {data.num_features} features, not {h}x{w} images")
    g, scales, trainer = None, [], EpochTrainer()
    shape = (h, w)
    for i, (factor, n_epochs) in enumerate(zip(factors, epochs)):
        if g is None:
            g = seed_network(config, (h // factor) * (w // factor), data.num_classes)
        else:
            step = factors[i - 1] // factor
            g = upsample_first_level(g, (h // factor, w // factor), step)
        held_out = None if validation is None else (
            downsample(validation[0], shape, factor), validation[1]
        )  # fmt: skip
        scaled, held_out = data_on(device, _downsampled(data, shape, factor), held_out)
        model = compile_graph(g, device=device)
        opt = make_optimizer(model, config.training)
        ctx = Context(g, model, opt, scaled, config, step=g.step)  # steps count on
        if held_out is not None:
            ctx.state["validation"] = held_out
        initial = evaluate(ctx)["test_acc"]
        history = []
        bar = epoch_bar(range(n_epochs), config.progress, f"scale 1/{factor}")
        for epoch in bar:
            ctx.epoch = epoch
            g.step = ctx.step
            fit = trainer.train(ctx)
            history.append({"epoch": epoch, "loss": fit["loss"], **evaluate(ctx)})
        sync(g, ctx.model)
        scales.append({
            "factor": factor, "features": len(g.inputs), "initial_test_acc": initial,
            "history": history, "graph": g,
        })  # fmt: skip
    return {"graph": g, "model": ctx.model, "scales": scales}


def _downsampled(data: Dataset, shape: tuple[int, int], factor: int) -> Dataset:
    if factor == 1:
        return data
    return Dataset(
        downsample(data.x_train, shape, factor), data.y_train,
        downsample(data.x_test, shape, factor), data.y_test,
        data.num_classes, {**data.preprocessing, "downsample": factor},
    )  # fmt: skip
