"""Straight-line code for the level stack of a graph whose blocks are all CSR.

:class:`compilers.level_stack._LevelStack` interprets a list of block plans on every call:
it dispatches on each block's kind and activations and tracks which gradient rows are set.
For the common case of sparse growing networks — every block sparse, one activation per level —
all of those decisions depend on the structure alone. :func:`sparse_program` takes them once,
writes the resulting sequence of tensor operations as Python source (as ``torch.fx`` does for
its graphs), and compiles it into an autograd Function. The operations are exactly those of the
interpreter, so the two agree bit for bit; the saving is the per-call Python (about a tenth of
a training step of a 1%-dense MLP).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import torch
from torch.autograd.function import once_differentiable

from .level_stack import BlockPlan, Workspace, _csr, _transpose_into

__all__ = ["sparse_program"]


def _applies(plans: list[BlockPlan], num_inputs: int) -> bool:
    if not plans:
        return False
    for p in plans:
        if p.kind not in ("sparse", "empty") or p.whole_activation is None or p.needs_pre:
            return False
        if p.b0 != p.start - num_inputs:
            return False
    return True


def _forward_source(plans: list[BlockPlan], num_inputs: int) -> str:
    lines = [
        "def forward(ctx, ws, x, V, B, edge_lr):",
        "    buf = ws.forward_buffer((NUM_SLOTS, x.shape[0]), x)",
        "    ws.owner = weakref.ref(ctx)",
        "    ctx.ws, ctx.edge_lr = ws, edge_lr",
    ]
    if any(p.lo < num_inputs for p in plans):
        lines.append(f"    _transpose_into(buf[:{num_inputs}], x)")
    for k, p in enumerate(plans):
        lines.append(f"    out, src = P{k}.forward_views(buf)")
        if p.kind == "empty":  # no edges: the level is its biases
            lines.append(f"    out.copy_(P{k}.bias_column(B).expand(-1, x.shape[0]))")
        else:
            lines.append(f"    torch.addmm(P{k}.bias_column(B), P{k}.csr_weight(V), src, out=out)")
        if p.whole_steps[0] is not None:
            lines.append(f"    ACT{k}(out)")
    lines.append("    ctx.save_for_backward(x, buf, V)")
    lines.append(f"    return buf[{plans[-1].start}:].t().clone(memory_format=CONTIGUOUS)")
    return "\n".join(lines) + "\n"


def _backward_source(plans: list[BlockPlan], num_inputs: int, low: int) -> str:
    """The backward when rows below ``low`` need no gradient (``num_inputs``: the model's
    inputs need none; 0: they do). Mirrors ``level_stack._backward`` step for step, with the
    bookkeeping of which gradient rows are set done here, once."""
    top = plans[-1].start
    lines = [
        "def backward(ctx, grad_out, gbuf, reuse):",
        "    x, buf, V = ctx.saved_tensors",
        "    need = ctx.needs_input_grad",
        "    gV = torch.empty_like(V) if need[2] else None",
        f"    gB = V.new_empty({plans[-1].b1}) if need[3] else None",
        f"    gbuf[{top}:].copy_(grad_out.t())",
    ]
    ready = top  # rows >= ready hold their gradient sums, the rows below are unset
    for k in range(len(plans) - 1, -1, -1):
        p = plans[k]
        if ready > p.start:
            lines.append(f"    gbuf[{p.start}:{ready}].zero_()")
            ready = p.start
        lines.append(f"    out, src = P{k}.forward_views(buf)")
        lines.append(f"    g = P{k}.gradient_view(gbuf)")
        if p.whole_steps[1] is not None:
            lines.append(f"    ACTGRAD{k}(g, out, None)")
        if p.kind == "empty":
            continue
        lines.append("    if gV is not None:")
        lines.append(
            f"        into = _csr(P{k}.crow, P{k}.col, gV[{p.v0}:{p.v1}], ({p.rows}, {p.width}))"
        )
        lines.append(
            f"        torch.sparse.sampled_addmm(P{k}.csr_weight(V), g, src.t(), beta=0.0, out=into)"
        )
        first = max(p.lo, low)
        if first < p.start:
            lines.append(f"    wt = P{k}.transposed_weight(V, {first - p.lo}, reuse)")
            if ready >= p.start:
                lines.append(f"    gbuf[{first}:{p.start}].addmm_(wt, g, beta=0.0)")
            elif ready <= first:
                lines.append(f"    gbuf[{first}:{p.start}].addmm_(wt, g)")
            else:  # rows first..ready unset, ready..start set
                cut = ready - first
                lines.append("    part = torch.sparse.mm(wt, g)")
                lines.append(f"    gbuf[{first}:{ready}] = part[:{cut}]")
                lines.append(f"    gbuf[{ready}:{p.start}] += part[{cut}:]")
            ready = min(ready, first)
    lines.append("    if gB is not None:")
    lines.append(f"        torch.sum(gbuf[{num_inputs}:], 1, out=gB)")
    if low == 0:
        if ready > 0:
            lines.append(f"    gbuf[:{ready}].zero_()")
        lines.append(f"    gx = gbuf[:{num_inputs}].t().clone(memory_format=CONTIGUOUS)")
    else:
        lines.append("    gx = None")
    lines.append("    if gV is not None and ctx.edge_lr is not None:")
    lines.append("        gV.mul_(ctx.edge_lr)")
    lines.append("    return None, gx, gV, gB, None")
    return "\n".join(lines) + "\n"


def _compile_source(source: str, namespace: dict, name: str) -> Callable:
    code = compile(source, f"<graphnet level program: {name}>", "exec")
    exec(code, namespace)  # noqa: S102 - our own generated source, built from integers
    return namespace[name]


def sparse_program(
    plans: list[BlockPlan], num_inputs: int, num_slots: int
) -> Callable[..., torch.Tensor] | None:
    """``run(ws, x, values, bias, edge_lr)``: the level stack of ``plans`` as generated
    straight-line code, or None when some block is neither CSR nor empty, or a level mixes
    activations or needs its pre-activations (the interpreter in :mod:`compilers.level_stack`
    then runs it).

    Examples
    --------
    >>> import graphnet as gn
    >>> m = gn.compile(gn.mlp([4, 6, 2], density=0.5, seed=0), "sparse")
    >>> run = sparse_program(m._plan(), m.num_inputs, m.num_slots)
    >>> x = torch.randn(3, 4)
    >>> torch.equal(run(Workspace(), x, m.values, m.bias, None), m(x))
    True
    """
    if not _applies(plans, num_inputs):
        return None
    namespace: dict = {
        "torch": torch,
        "weakref": weakref,
        "_csr": _csr,
        "_transpose_into": _transpose_into,
        "NUM_SLOTS": num_slots,
        "CONTIGUOUS": torch.contiguous_format,
    }
    for k, p in enumerate(plans):
        namespace[f"P{k}"] = p
        namespace[f"ACT{k}"], namespace[f"ACTGRAD{k}"] = p.whole_steps
    forward = _compile_source(_forward_source(plans, num_inputs), namespace, "forward")
    backwards = {
        low: _compile_source(_backward_source(plans, num_inputs, low), dict(namespace), "backward")
        for low in (num_inputs, 0)
    }

    class _Program(torch.autograd.Function):
        @staticmethod
        def forward(ctx, ws, x, values, bias, edge_lr):
            return forward(ctx, ws, x, values, bias, edge_lr)

        @staticmethod
        @once_differentiable
        def backward(ctx, grad_out):
            ws = ctx.ws
            reuse = not ws.gbuf_busy  # as in level_stack: buffers are shared between calls
            gbuf = ws.gradient_buffer(ctx.saved_tensors[1])
            ws.gbuf_busy = True
            try:
                low = 0 if ctx.needs_input_grad[1] else num_inputs
                return backwards[low](ctx, grad_out, gbuf, reuse)
            finally:
                ws.gbuf_busy = not reuse
                ctx.backward_done = True

    def run(ws: Workspace, x, values, bias, edge_lr) -> torch.Tensor:
        return _Program.apply(ws, x, values, bias, edge_lr)

    return run
