"""Snapshot ensembles: the members' outputs combined, against the single final model.

Members are :class:`~graphnet.NeuronGraph` objects (compiled here with :func:`graphnet.compile`)
or compiled models (any ``torch.nn.Module`` mapping ``(batch, inputs)`` to ``(batch, classes)``,
run as given, under ``torch.no_grad()``). Every member must take the same number of inputs and
give the same number of outputs. Outputs are treated as class logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from compilers import compile as compile_graph
from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph

__all__ = ["snapshot_ensemble", "evaluate_ensemble", "ENSEMBLE_METHODS"]

ENSEMBLE_METHODS = ("mean", "vote")


def snapshot_ensemble(
    graphs_or_models: Sequence[NeuronGraph | torch.nn.Module],
    x: Any,
    y: Any = None,
    method: str = "mean",
) -> torch.Tensor:
    """Combine the members' outputs on ``x``.

    Parameters
    ----------
    graphs_or_models : sequence of NeuronGraph or torch.nn.Module
        The members, e.g. the graphs of a run's snapshots.
    x : array-like or torch.Tensor
        ``(batch, inputs)``; a numpy array is converted to float32.
    y : array-like, optional
        Class labels; only checked (one per row of ``x``, each a valid output index).
    method : {"mean", "vote"}
        ``"mean"``: the mean of the members' logits, ``(batch, classes)`` float. ``"vote"``:
        each member votes for its arg-max class; the class with most votes, ``(batch,)``
        int64, ties going to the lowest class index.

    Returns
    -------
    torch.Tensor
        Mean logits or voted classes.

    Raises
    ------
    GraphError
        If there are no members, ``method`` is unknown, a member's input or output count
        differs from the first member's (naming the member), or ``y`` does not fit.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> gs = [gn.mlp([4, 6, 3], density=0.8, seed=s) for s in range(3)]
    >>> x = torch.randn(5, 4)
    >>> snapshot_ensemble(gs, x).shape, snapshot_ensemble(gs, x, method="vote").shape
    (torch.Size([5, 3]), torch.Size([5]))
    """
    return _combine(_outputs(graphs_or_models, x, y, method), method)


def evaluate_ensemble(
    graphs: Sequence[NeuronGraph | torch.nn.Module], x: Any, y: Any, method: str = "mean"
) -> dict[str, Any]:
    """Accuracy of the ensemble, of the single final model (the last member), and of each member.

    Returns
    -------
    dict
        ``{"ensemble_acc": float, "single_acc": float, "member_accs": list[float]}``.

    Raises
    ------
    GraphError
        As :func:`snapshot_ensemble`.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> gs = [gn.mlp([4, 6, 3], density=0.8, seed=s) for s in range(3)]
    >>> res = evaluate_ensemble(gs, torch.randn(20, 4), torch.randint(0, 3, (20,)), "vote")
    >>> sorted(res), len(res["member_accs"]), res["single_acc"] == res["member_accs"][-1]
    (['ensemble_acc', 'member_accs', 'single_acc'], 3, True)
    """
    if y is None:
        raise GraphError("evaluate_ensemble: labels y are required")
    outs = _outputs(graphs, x, y, method)
    labels = torch.as_tensor(np.asarray(y), dtype=torch.int64)
    pred = _combine(outs, method)
    pred = pred.argmax(1) if method == "mean" else pred
    member_accs = [_acc(o.argmax(1), labels) for o in outs]
    return {
        "ensemble_acc": _acc(pred, labels),
        "single_acc": member_accs[-1],
        "member_accs": member_accs,
    }


def _combine(outs: list[torch.Tensor], method: str) -> torch.Tensor:
    if method == "mean":
        return torch.stack(outs).mean(0)
    votes = torch.stack([o.argmax(1) for o in outs])  # (members, batch)
    counts = torch.nn.functional.one_hot(votes, outs[0].shape[1]).sum(0)
    return counts.argmax(1)  # the first maximum: ties go to the lowest class


def _acc(pred: torch.Tensor, labels: torch.Tensor) -> float:
    return float((pred == labels).double().mean()) if labels.numel() else 0.0


def _outputs(members: Sequence, x: Any, y: Any, method: str) -> list[torch.Tensor]:
    """Each member's outputs on ``x``, after checking members, method and labels."""
    if method not in ENSEMBLE_METHODS:
        raise GraphError(
            f"unknown ensemble method {method!r}; expected one of {', '.join(ENSEMBLE_METHODS)}"
        )
    members = list(members)
    if not members:
        raise GraphError("an ensemble needs at least one member")
    x = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, np.float32))
    if x.ndim != 2:
        raise GraphError(f"x must be (batch, inputs), got shape {tuple(x.shape)}")
    outs = []
    with torch.no_grad():
        for k, m in enumerate(members):
            n_in = len(m.inputs) if isinstance(m, NeuronGraph) else getattr(m, "num_inputs", None)
            if n_in is not None and n_in != x.shape[1]:
                raise GraphError(
                    f"ensemble member {k} ({m!r}) takes {n_in} inputs, x has {x.shape[1]} columns"
                )
            out = (compile_graph(m) if isinstance(m, NeuronGraph) else m)(x)
            if out.ndim != 2 or out.shape[0] != x.shape[0]:
                raise GraphError(
                    f"ensemble member {k} ({m!r}) gave outputs of shape {tuple(out.shape)}"
                )
            if outs and out.shape[1] != outs[0].shape[1]:
                raise GraphError(
                    f"ensemble member {k} ({m!r}) gives {out.shape[1]} outputs, member 0 gives "
                    f"{outs[0].shape[1]}"
                )
            outs.append(out)
    if y is not None:
        labels = np.asarray(y)
        if labels.shape != (x.shape[0],) or labels.dtype.kind not in "iu":
            raise GraphError(
                f"y must hold {x.shape[0]} integer labels, got shape {labels.shape} ({labels.dtype})"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= outs[0].shape[1]):
            raise GraphError(
                f"y holds labels in [{labels.min()}, {labels.max()}], outside the {outs[0].shape[1]} classes"
            )
    return outs
