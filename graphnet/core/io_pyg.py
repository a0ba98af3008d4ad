"""Convert between :class:`NeuronGraph` and PyTorch Geometric ``Data``, losslessly.

``to_pyg`` lays the live neurons out in ascending id order (position ``i`` is neuron
``neuron_id[i]``) and sets:

==================  ==========  ===========================================================
attribute           shape       meaning
==================  ==========  ===========================================================
``edge_index``      [2, E]      source and destination positions, int64
``edge_attr``       [E, 1]      weight, float32
``edge_id``         [E]         stable edge ids, int64
``edge_born``       [E]         step each edge was made, int64
``edge_lr``         [E]         learning-rate multipliers, float32
``x``               [N, 4]      node features: level, bias, is_input, is_output (float32)
``neuron_id``       [N]         stable neuron ids, int64
``level``, ``role``, ``activation``, ``bias``, ``born``: [N] typed per-neuron attributes
``input_index``     [I]         positions of the inputs, in tensor order
``output_index``    [O]         positions of the outputs, in tensor order
``graphnet_meta``   dict        next ids, step, tags, and the role / activation vocabularies
==================  ==========  ===========================================================

``from_pyg`` reads all of these back, and takes any other ``Data`` with an ``edge_index`` by
the rules of :func:`graphnet.from_edges` (``edge_weight`` or a one-column ``edge_attr`` is the
weight).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import GraphError
from .vocab import ACTIVATIONS, INPUT, OUTPUT, ROLES

if TYPE_CHECKING:
    from torch_geometric.data import Data

    from .graph import NeuronGraph

__all__ = ["to_pyg", "from_pyg"]


def to_pyg(g: NeuronGraph) -> Data:
    """A PyTorch Geometric ``Data`` holding ``g`` (a copy of its arrays).

    Examples
    --------
    >>> import graphnet as gn
    >>> data = gn.to_pyg(gn.mlp([3, 2], density=1.0, seed=0))
    >>> tuple(data.edge_index.shape), tuple(data.edge_attr.shape), tuple(data.x.shape)
    ((2, 6), (6, 1), (5, 4))
    """
    import torch
    from torch_geometric.data import Data

    ids = g.neuron_ids
    col = g._neurons.view
    src, dst, weight = g.edge_list()
    dense = ids.size == g.next_neuron_id
    if dense:
        edge_index = torch.from_numpy(np.stack((src, dst)))
    else:
        pos = np.full(g.next_neuron_id, -1, np.int64)
        pos[ids] = np.arange(ids.size)
        edge_index = torch.from_numpy(np.stack((pos[src], pos[dst])))
        pos_of = pos
    role = col("role")[ids]
    level = col("level")[ids]
    bias = col("bias")[ids]
    x = np.stack((level.astype(np.float32), bias, role == INPUT, role == OUTPUT), axis=1).astype(
        np.float32
    )
    io = (
        (lambda lst: np.asarray(lst, np.int64))
        if dense
        else (lambda lst: pos_of[np.asarray(lst, np.int64)])
    )
    meta = {
        "next_neuron_id": g.next_neuron_id,
        "next_edge_id": g.next_edge_id,
        "step": int(g.step),
        "roles": list(ROLES),
        "activations": list(ACTIVATIONS),
        "tags": {on: {k: dict(t) for k, t in tabs.items()} for on, tabs in g._tags.items()},
    }
    return Data(
        x=torch.from_numpy(x),
        edge_index=edge_index,
        edge_attr=torch.from_numpy(weight.reshape(-1, 1).copy()),
        edge_id=torch.from_numpy(g._edges.view("id").copy()),
        edge_born=torch.from_numpy(g._edges.view("born").copy()),
        edge_lr=torch.from_numpy(g._edges.view("lr").copy()),
        neuron_id=torch.from_numpy(ids.copy()),
        level=torch.from_numpy(level.copy()),
        role=torch.from_numpy(role.astype(np.int64)),
        activation=torch.from_numpy(col("activation")[ids].astype(np.int64)),
        bias=torch.from_numpy(bias.copy()),
        born=torch.from_numpy(col("born")[ids].copy()),
        input_index=torch.from_numpy(io(g.inputs)),
        output_index=torch.from_numpy(io(g.outputs)),
        graphnet_meta=meta,
        num_nodes=int(ids.size),
    )


def _np(data: Any, key: str) -> np.ndarray | None:
    val = getattr(data, key, None) if key in data else None
    if val is None:
        return None
    return val.detach().cpu().numpy() if hasattr(val, "detach") else np.asarray(val)


def from_pyg(data: Data, *, seed: int = 0) -> NeuronGraph:
    """Build a :class:`NeuronGraph` from a PyTorch Geometric ``Data``.

    A ``Data`` made by :func:`to_pyg` comes back equal, ids and all. Any other ``Data`` needs
    an ``edge_index``; nodes become neurons ``0..num_nodes-1`` and roles, levels and missing
    weights follow :func:`graphnet.from_edges` (``seed`` draws the weights).

    Raises
    ------
    GraphError
        If ``edge_index`` is missing or not ``[2, E]``, the weight has the wrong shape, or the
        graph breaks an invariant (the message names the neuron or edge).

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> from torch_geometric.data import Data
    >>> g = gn.from_pyg(Data(edge_index=torch.tensor([[0, 1], [2, 2]]), num_nodes=3))
    >>> g.inputs, g.outputs
    ([0, 1], [2])
    """
    from .assemble import build_graph

    ei = _np(data, "edge_index")
    if ei is None or ei.ndim != 2 or ei.shape[0] != 2:
        raise GraphError(
            f"from_pyg needs edge_index of shape [2, E], got {None if ei is None else ei.shape}"
        )
    if ei.dtype.kind not in "iu":
        if ei.size:
            raise GraphError(f"from_pyg needs an integer edge_index, got dtype {ei.dtype}")
        ei = ei.astype(np.int64)
    n = data.num_nodes if data.num_nodes is not None else (int(ei.max()) + 1 if ei.size else 0)
    ids = _np(data, "neuron_id")
    ids = np.arange(n, dtype=np.int64) if ids is None else ids.astype(np.int64)
    if ids.size != n:
        raise GraphError(f"neuron_id has {ids.size} entries for {n} nodes")
    if ei.size and (ei.min() < 0 or ei.max() >= n):
        raise GraphError(
            f"edge_index refers to node {int(ei.max() if ei.max() >= n else ei.min())}, "
            f"outside 0..{n - 1}"
        )
    weight = _np(data, "edge_weight")
    if weight is None:
        weight = _np(data, "edge_attr")
    if weight is not None:
        if weight.ndim == 2 and weight.shape[1] == 1:
            weight = weight[:, 0]
        if weight.shape != (ei.shape[1],):
            raise GraphError(
                f"edge weight has shape {weight.shape}; expected [{ei.shape[1]}] or "
                f"[{ei.shape[1]}, 1] (pass a one-column edge_attr or edge_weight)"
            )
    meta = data.graphnet_meta if "graphnet_meta" in data else {}
    if meta and (
        meta.get("roles") != list(ROLES)
        or meta.get("activations") != list(ACTIVATIONS)[: len(meta.get("activations", []))]
    ):
        raise GraphError("graphnet_meta was written with other role or activation codes")
    io = {}
    for key in ("input_index", "output_index"):
        pos = _np(data, key)
        if pos is not None:
            if pos.ndim != 1 or (pos.size and pos.dtype.kind not in "iu"):
                raise GraphError(f"{key} must be a 1-d integer tensor, got {pos.dtype} {pos.shape}")
            bad = np.flatnonzero((pos < 0) | (pos >= n))
            if bad.size:
                raise GraphError(f"{key} refers to node {int(pos[bad[0]])}, outside 0..{n - 1}")
        io[key] = None if pos is None else ids[pos.astype(np.int64)].tolist()
    tags = meta.get("tags")
    return build_graph(
        ids,
        ids[ei[0]],
        ids[ei[1]],
        weight=weight,
        level=_np(data, "level"),
        role=_np(data, "role"),
        activation=_np(data, "activation"),
        bias=_np(data, "bias"),
        born=_np(data, "born"),
        edge_id=_np(data, "edge_id"),
        edge_born=_np(data, "edge_born"),
        lr=_np(data, "edge_lr"),
        inputs=io["input_index"],
        outputs=io["output_index"],
        tags=tags,
        next_edge=meta.get("next_edge_id"),
        next_neuron=meta.get("next_neuron_id"),
        step=int(meta.get("step", 0)),
        seed=seed,
    )
