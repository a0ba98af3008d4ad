"""A small, reproducible classifier training loop over a compiled graph."""

from __future__ import annotations

import numpy as np
import torch

from compilers import compile as compile_graph
from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.levels import descendants_mask

from .data import Dataset, check_batch

__all__ = ["check_trainable", "fit_classifier", "accuracy"]


def check_trainable(g: NeuronGraph) -> None:
    """Raise :class:`GraphError` unless every output can be reached from some input (an output
    fed by no path ignores the data and cannot learn).

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([3, 2], density=1.0, seed=0)
    >>> g.remove_edges([3, 4, 5])
    >>> check_trainable(g)
    Traceback (most recent call last):
    ...
    graphnet.core.errors.GraphError: output neuron 4 (output 1) has no path from any input; add edges into it before training
    """
    src, dst, _ = g.edge_list()
    reach = descendants_mask(src, dst, g.next_neuron_id, np.asarray(g.inputs, np.int64))
    cut = [(i, n) for i, n in enumerate(g.outputs) if not reach[n]]
    if cut:
        i, n = cut[0]
        more = f" (and {len(cut) - 1} more)" if len(cut) > 1 else ""
        raise GraphError(
            f"output neuron {n} (output {i}) has no path from any input{more}; add edges into "
            "it before training"
        )


@torch.no_grad()
def accuracy(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024
) -> float:
    """Fraction of rows whose arg-max output is the label."""
    hits = 0
    for i in range(0, x.shape[0], batch_size):
        hits += int((model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum())
    return hits / max(1, x.shape[0])


def fit_classifier(
    g: NeuronGraph,
    data: Dataset,
    *,
    epochs: int = 30,
    lr: float = 0.01,
    batch_size: int = 64,
    mode: str = "auto",
    seed: int = 0,
    model: torch.nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    progress: bool = True,
):
    """Train ``g`` (compiled, or ``model`` if given) on ``data`` with Adam and cross-entropy.

    Returns ``(model, optimizer, history)``; ``history`` holds one dict per epoch (``epoch``,
    ``loss``, ``train_acc``, ``test_acc``). Pass ``model`` and ``optimizer`` back in to go on
    training after a recompile.

    Raises
    ------
    GraphError
        If the data do not fit the graph (width, NaN, labels) or an output has no input path.
    """
    check_trainable(g)
    if len(g.outputs) != data.num_classes:
        raise GraphError(f"the graph has {len(g.outputs)} outputs for {data.num_classes} classes")
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        check_batch(x, y, len(g.inputs), data.num_classes)
    torch.manual_seed(seed)
    model = model if model is not None else compile_graph(g, mode)
    optimizer = optimizer if optimizer is not None else torch.optim.Adam(model.parameters(), lr=lr)
    lossf = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    history = []
    bar = epoch_bar(range(epochs), progress)
    for epoch in bar:
        model.train()
        order = torch.randperm(data.x_train.shape[0], generator=gen)
        total = 0.0
        for i in range(0, order.numel(), batch_size):
            idx = order[i : i + batch_size]
            optimizer.zero_grad()
            loss = lossf(model(data.x_train[idx]), data.y_train[idx])
            if not torch.isfinite(loss.detach()):
                raise GraphError(
                    f"the loss became {float(loss)} in epoch {epoch}; lower the learning rate ({lr})"
                )
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * idx.numel()
        model.eval()
        row = {
            "epoch": len(history),
            "loss": total / data.x_train.shape[0],
            "train_acc": accuracy(model, data.x_train, data.y_train),
            "test_acc": accuracy(model, data.x_test, data.y_test),
        }
        history.append(row)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{row['loss']:.3f}", test=f"{row['test_acc']:.3f}")
    return model, optimizer, history


def epoch_bar(it, on: bool, desc: str = "training"):
    """``it`` with a progress bar over epochs when ``on`` (quiet when not on a terminal), or
    ``it`` itself, untouched and without importing any bar, when not.

    >>> list(epoch_bar(range(3), on=False))
    [0, 1, 2]
    """
    if not on:
        return it
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is a dependency, but a missing bar must never stop training
        return it
    return tqdm(it, desc=desc, unit="epoch", disable=None, leave=False)
