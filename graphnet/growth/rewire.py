"""``gn.rewire`` (SET and RigL at constant edge count) and ``gn.edge_gradients``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.vocab import INPUT, OUTPUT

from .common import finite32
from .prune import smallest_k
from .report import GrowthReport

__all__ = ["rewire", "edge_gradients", "cosine_fraction"]


def cosine_fraction(step: int, total: int, initial: float = 0.3) -> float:
    """The drop fraction of a cosine schedule: ``initial`` at step 0, 0 at ``total``.

    Examples
    --------
    >>> cosine_fraction(0, 100), cosine_fraction(50, 100), cosine_fraction(100, 100)
    (0.3, 0.15, 0.0)
    """
    if total <= 0:
        raise GraphError(f"cosine_fraction: total must be positive, got {total}")
    t = min(max(step, 0), total) / total
    return round(initial / 2 * (1 + math.cos(math.pi * t)), 12)


def _legal_random_pairs(
    g: NeuronGraph, k: int, rng: np.random.Generator, exclude: set
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``k`` distinct absent legal pairs (rising, not out of an output, not into an
    input), drawn uniformly by rejection sampling in vectorised batches."""
    ids = g.neuron_ids
    role = g.neuron_attr("role", ids)
    level = g._neurons.view("level")
    srcs, dsts = ids[role != OUTPUT], ids[role != INPUT]
    got_s: list[np.ndarray] = []
    got_d: list[np.ndarray] = []
    seen: set = set(exclude)
    need = k
    for _ in range(64):
        if need <= 0 or not srcs.size or not dsts.size:
            break
        m = max(4 * need, 64)
        s = srcs[rng.integers(0, srcs.size, m)]
        d = dsts[rng.integers(0, dsts.size, m)]
        ok = level[s] < level[d]
        s, d = s[ok], d[ok]
        if s.size:
            fresh = g.edge_ids(s, d) < 0
            s, d = s[fresh], d[fresh]
        for a, b in zip(s.tolist(), d.tolist()):
            if (a, b) not in seen:
                seen.add((a, b))
                got_s.append(a)
                got_d.append(b)
                need -= 1
                if need == 0:
                    break
    return np.asarray(got_s, np.int64), np.asarray(got_d, np.int64)


def rewire(
    g: NeuronGraph,
    method: str = "set",
    fraction: float = 0.3,
    grads: dict | None = None,
    *,
    seed: int = 0,
    weight: float = 0.0,
    reason: str = "",
) -> GrowthReport:
    """Drop the ``fraction`` of edges with the smallest magnitude and grow as many new ones, so
    the edge count stays the same: at random among absent legal pairs (``"set"``), or where
    the loss gradient of absent edges is largest (``"rigl"``, ``grads`` from
    :func:`edge_gradients`). New edges start at ``weight``. A shortfall (too few candidates)
    is reported in ``report.skipped``. Sync trained weights first (``gn.sync``).

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([8, 8, 4], density=0.3, seed=0)
    >>> n = g.num_edges
    >>> rep = gn.rewire(g, "set", 0.25, seed=1)
    >>> g.num_edges == n, rep.edges_added.size == rep.edges_removed.size
    (True, True)
    """
    if method not in ("set", "rigl"):
        raise GraphError(f"rewire: unknown method {method!r}; use 'set' or 'rigl'")
    if not 0.0 <= fraction <= 1.0:
        raise GraphError(f"rewire: fraction must lie in [0, 1], got {fraction}")
    if method == "rigl" and grads is None:
        raise GraphError(
            "rewire: method='rigl' needs grads=gn.edge_gradients(g, model, batch, loss_fn)"
        )
    if method == "rigl":
        missing = [key for key in ("src", "dst", "grad") if key not in grads]
        if missing:
            raise GraphError(
                f"rewire: grads lacks {', '.join(missing)}; pass gn.edge_gradients(...)"
            )
    weight = float(finite32([weight], "rewire: the new edges' weight")[0])
    k = int(round(fraction * g.num_edges))
    why = reason or f"rewire ({method}) {fraction:g}"
    if k == 0:
        return GrowthReport("rewire")
    w = np.abs(g.edge_attr("weight"))
    drop = smallest_k(w, k)
    src, dst, _ = g.edge_list()
    dropped = set(zip(src[drop].tolist(), dst[drop].tolist()))
    removed = g.edge_attr("id")[drop].copy()
    if method == "set":
        s, d = _legal_random_pairs(g, k, np.random.default_rng(seed), dropped)
    else:
        s, d = _top_gradient_pairs(g, grads, k, dropped)
    g.remove_edges(removed, reason=why)
    added = g.add_edges(s, d, weight, reason=why) if s.size else np.empty(0, np.int64)
    skipped = [("grow", int(k - s.size), "too few candidate edges")] if s.size < k else []
    return GrowthReport("rewire", edges_added=added, edges_removed=removed, skipped=skipped)


def _top_gradient_pairs(g, grads: dict, k: int, exclude: set) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` absent pairs with the largest ``|grad|`` (pairs that exist now or were just
    dropped are skipped)."""
    s, d, gr = (np.asarray(grads[key]) for key in ("src", "dst", "grad"))
    order = np.argsort(-np.abs(gr), kind="stable")
    s, d = s[order].astype(np.int64), d[order].astype(np.int64)
    # gradients may be stale (computed before other edits): keep only pairs still legal now
    alive = g._neurons.view("alive")
    inside = (s >= 0) & (s < alive.size) & (d >= 0) & (d < alive.size)
    s, d = s[inside], d[inside]
    level, role = g._neurons.view("level"), g._neurons.view("role")
    legal = alive[s] & alive[d] & (level[s] < level[d]) & (role[s] != OUTPUT) & (role[d] != INPUT)
    s, d = s[legal], d[legal]
    ok = g.edge_ids(s, d) < 0 if s.size else np.zeros(0, bool)
    if exclude:
        ok &= np.array([(a, b) not in exclude for a, b in zip(s.tolist(), d.tolist())], bool)
    return s[ok][:k], d[ok][:k]


def edge_gradients(
    g: NeuronGraph,
    model: Any,
    batch: tuple[torch.Tensor, torch.Tensor],
    loss_fn: Any,
    top_k: int | None = None,
    chunk: int = 1 << 22,
) -> dict[str, np.ndarray]:
    """Loss gradients of absent edges, for RigL: one forward and backward pass.

    For a missing edge ``s -> t`` (weight 0) the gradient is ``sum_b dL/dz_t[b] * h_s[b]``:
    the forward keeps each level's input activations ``h``, the backward each level's
    pre-activation gradients ``dL/dz``, and the outer products are taken block by block (in
    row chunks of at most ``chunk`` entries), over every legal source below the level — never
    a dense matrix of the whole network. Per level the ``top_k`` largest ``|gradient|`` of
    absent edges are kept (default: as many as the level has edges).

    Returns ``{"src", "dst", "grad"}`` arrays sorted by ``|grad|``, largest first.
    """
    from compilers.activations import ACTIVATION_FUNCTIONS
    from compilers.level_stack import csr_tensor
    from compilers.sync import require_current
    from graphnet.core.vocab import ACTIVATIONS
    from graphnet.train.data import check_batch

    x, y = batch
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != model.num_inputs:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise GraphError(
            f"edge_gradients: the model takes (batch, {model.num_inputs}) tensor inputs, got {shape}"
        )
    try:
        check_batch(x, None, model.num_inputs)  # a NaN would rank every candidate at NaN
    except GraphError as err:
        raise GraphError(f"edge_gradients: {err}") from None
    require_current(g, model, "edge_gradients")
    plans = model._plan()
    values, bias = model.values.detach(), model.bias.detach()
    order = model.slot_order.cpu().numpy()
    h = [x.detach().to(values.dtype).t()]
    zs = []
    for p in plans:
        src = torch.cat(h, 0) if len(h) > 1 else h[0]
        w = csr_tensor(p.crow, p.col, values[p.v0 : p.v1], (p.rows, p.width))
        z = (torch.sparse.mm(w, src[p.lo : p.start]) + bias[p.b0 : p.b1, None]).requires_grad_(True)
        zs.append(z)
        out = z
        if p.activations:
            out = z.clone()
            for code, sel in p.activations:
                idx = torch.arange(p.rows)[sel] if isinstance(sel, slice) else sel
                out = out.index_copy(
                    0, idx, ACTIVATION_FUNCTIONS[ACTIVATIONS[code]](z.index_select(0, idx))
                )
        h.append(out)
    loss = loss_fn(h[-1].t(), y)
    if not torch.isfinite(loss.detach()):
        raise GraphError(
            f"edge_gradients: the loss is {float(loss)} (are the model's weights finite?); "
            "no gradient to rank"
        )
    grads_z = torch.autograd.grad(loss, zs)
    H = torch.cat(h, 0).detach()
    parts_s, parts_d, parts_g = [], [], []
    for p, gz in zip(plans, grads_z):
        width = p.start  # every slot below the level is a legal source
        keep = top_k if top_k is not None else max(p.v1 - p.v0, 1)
        crow, col = p.crow.cpu().numpy(), p.col.cpu().numpy()
        existing = np.repeat(np.arange(p.rows), np.diff(crow)) * width + col + p.lo
        best_g = np.empty(0)
        best_i = np.empty(0, np.int64)
        step = max(1, chunk // max(width, 1))
        for r0 in range(0, p.rows, step):
            r1 = min(p.rows, r0 + step)
            flat = (gz[r0:r1] @ H[:width].t()).cpu().numpy().ravel()  # rows chunk x sources
            mask = np.ones(flat.size, bool)
            mine = existing[(existing >= r0 * width) & (existing < r1 * width)] - r0 * width
            mask[mine] = False
            cand_g = np.concatenate((best_g, flat[mask]))
            cand_i = np.concatenate((best_i, np.flatnonzero(mask) + r0 * width))
            if cand_g.size > keep:
                top = np.argpartition(-np.abs(cand_g), keep - 1)[:keep]
                cand_g, cand_i = cand_g[top], cand_i[top]
            best_g, best_i = cand_g, cand_i
        if best_i.size:
            parts_s.append(order[best_i % width])
            parts_d.append(order[p.start + best_i // width])
            parts_g.append(best_g)
    if not parts_g:
        return {"src": np.empty(0, np.int64), "dst": np.empty(0, np.int64), "grad": np.empty(0)}
    s, d, gr = np.concatenate(parts_s), np.concatenate(parts_d), np.concatenate(parts_g)
    o = np.argsort(-np.abs(gr), kind="stable")
    return {"src": s[o], "dst": d[o], "grad": gr[o]}
