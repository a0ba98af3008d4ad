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

import functools
from collections.abc import Callable

import torch
from torch.autograd.function import once_differentiable

from .level_stack import BlockPlan, Workspace, csr_tensor, transpose_into

__all__ = ["sparse_program"]


def _applies(plans: list[BlockPlan]) -> bool:
    if not plans:
        return False
    # (bias offsets follow slots, which the single bias-gradient sum relies on: CompiledGraph
    # asserts it for every plan list, for the interpreter too)
    return all(
        p.kind in ("sparse", "empty") and p.whole_activation is not None and not p.needs_pre
        for p in plans
    )


class _Views:
    """The views the generated code reads, kept between calls: rows of the activation and
    gradient buffers, each block's CSR matrix and bias column. Rebuilt when the buffer or the
    parameter storage changes (checked once per call, not once per block)."""

    def __init__(self, plans: list[BlockPlan], num_inputs: int) -> None:
        self.plans, self.num_inputs = plans, num_inputs
        self.buf = self.gbuf = self.key = None

    def set_buffer(self, buf: torch.Tensor) -> None:
        self.buf = buf
        self.inputs = buf[: self.num_inputs]
        self.top = buf[self.plans[-1].start :]
        for k, p in enumerate(self.plans):
            out, src = p.forward_views(buf)
            setattr(self, f"out{k}", out)
            setattr(self, f"src{k}", src)

    def set_gradient_buffer(self, gbuf: torch.Tensor) -> None:
        self.gbuf = gbuf
        self.gtop = gbuf[self.plans[-1].start :]
        self.gbias = gbuf[self.num_inputs :]
        for k, p in enumerate(self.plans):
            setattr(self, f"g{k}", p.gradient_view(gbuf))

    def set_parameters(self, key: tuple, values: torch.Tensor, bias: torch.Tensor) -> None:
        self.key = key
        for k, p in enumerate(self.plans):
            setattr(self, f"w{k}", p.csr_weight(values) if p.kind == "sparse" else None)
            setattr(self, f"b{k}", p.bias_column(bias))


def _forward_source(plans: list[BlockPlan], num_inputs: int) -> str:
    lines = [
        "def forward(ctx, ws, x, V, B, edge_lr):",
        "    buf = ws.forward_buffer((NUM_SLOTS, x.shape[0]), x, ctx)",
        "    ctx.edge_lr = edge_lr",
        "    if buf is not C.buf:",
        "        C.set_buffer(buf)",
        "    key = (V.data_ptr(), B.data_ptr(), V.dtype, V.device)",
        "    if key != C.key:",
        "        C.set_parameters(key, V, B)",
    ]
    if any(p.lo < num_inputs for p in plans):
        lines.append("    transpose_into(C.inputs, x)")
    for k, p in enumerate(plans):
        if p.kind == "empty":  # no edges: the level is its biases
            lines.append(f"    C.out{k}.copy_(C.b{k}.expand(-1, x.shape[0]))")
        else:
            lines.append(f"    torch.addmm(C.b{k}, C.w{k}, C.src{k}, out=C.out{k})")
        if p.whole_steps[0] is not None:
            lines.append(f"    ACT{k}(C.out{k})")
    lines.append("    ctx.save_for_backward(x, buf, V)")
    lines.append("    return C.top.t().clone(memory_format=CONTIGUOUS)")
    return "\n".join(lines) + "\n"


def _backward_source(plans: list[BlockPlan], num_inputs: int, low: int, consts: dict) -> str:
    """The backward when rows below ``low`` need no gradient (``num_inputs``: the model's
    inputs need none; 0: they do). Mirrors ``level_stack._backward`` step for step, with the
    bookkeeping of which gradient rows are set done here, once. Integers go into ``consts``
    (named ``I0, I1, ...``), so that structures of one shape share their source."""
    top = plans[-1].start

    def N(value: int) -> str:
        name = f"I{len(consts)}"
        consts[name] = int(value)
        return name

    lines = [
        "def backward(ctx, grad_out, gbuf, reuse):",
        "    x, buf, V = ctx.saved_tensors",
        "    if buf is not C.buf:  # another forward ran since: views of this call's buffer",
        "        C.set_buffer(buf)",
        "    if gbuf is not C.gbuf:",
        "        C.set_gradient_buffer(gbuf)",
        "    need = ctx.needs_input_grad",
        "    gV = torch.zeros_like(V) if need[2] else None  # zeros: sampled_addmm scales by beta",
        f"    gB = V.new_empty({N(plans[-1].b1)}) if need[3] else None",
        "    C.gtop.copy_(grad_out.t())",
    ]
    ready = top  # rows >= ready hold their gradient sums, the rows below are unset
    for k in range(len(plans) - 1, -1, -1):
        p = plans[k]
        if ready > p.start:
            lines.append(f"    gbuf[{N(p.start)}:{N(ready)}].zero_()")
            ready = p.start
        if p.whole_steps[1] is not None:
            lines.append(f"    ACTGRAD{k}(C.g{k}, C.out{k}, None)")
        if p.kind == "empty":
            continue
        lines.append("    if gV is not None:")
        lines.append(
            f"        into = csr_tensor(P{k}.crow, P{k}.col, gV[{N(p.v0)}:{N(p.v1)}], ({N(p.rows)}, {N(p.width)}))"
        )
        lines.append(
            f"        torch.sparse.sampled_addmm(into, C.g{k}, C.src{k}.t(), beta=0.0, out=into)"
        )
        first = max(p.lo, low)
        if first < p.start:
            lines.append(f"    wt = P{k}.transposed_weight(V, {N(first - p.lo)}, reuse)")
            rows = f"{N(first)}:{N(p.start)}"
            if ready >= p.start:
                lines.append(f"    gbuf[{rows}].addmm_(wt, C.g{k}, beta=0.0)")
            elif ready <= first:
                lines.append(f"    gbuf[{rows}].addmm_(wt, C.g{k})")
            else:  # rows first..ready unset, ready..start set
                cut = N(ready - first)
                lines.append(f"    part = torch.sparse.mm(wt, C.g{k})")
                lines.append(f"    gbuf[{N(first)}:{N(ready)}] = part[:{cut}]")
                lines.append(f"    gbuf[{N(ready)}:{N(p.start)}] += part[{cut}:]")
            ready = min(ready, first)
    lines.append("    if gB is not None:")
    lines.append("        torch.sum(C.gbias, 1, out=gB)")
    if low == 0:
        if ready > 0:
            lines.append(f"    gbuf[:{N(ready)}].zero_()")
        lines.append(f"    gx = gbuf[:{N(num_inputs)}].t().clone(memory_format=CONTIGUOUS)")
    else:
        lines.append("    gx = None")
    lines.append("    if gV is not None and ctx.edge_lr is not None:")
    lines.append("        gV.mul_(ctx.edge_lr)")
    lines.append("    return None, gx, gV, gB, None")
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=256)
def _compiled(source: str, name: str):
    return compile(source, f"<graphnet level program: {name}>", "exec")


def _compile_source(source: str, namespace: dict, name: str) -> Callable:
    """Run generated ``source`` in ``namespace`` and return its function ``name``; compiled
    code is cached by source text (growth keeps the shape of a structure for many steps)."""
    exec(_compiled(source, name), namespace)  # noqa: S102 - our own generated source
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
    if not _applies(plans):
        return None
    namespace: dict = {
        "torch": torch,
        "csr_tensor": csr_tensor,
        "transpose_into": transpose_into,
        "NUM_SLOTS": num_slots,
        "CONTIGUOUS": torch.contiguous_format,
        "C": _Views(plans, num_inputs),
    }
    for k, p in enumerate(plans):
        namespace[f"P{k}"] = p
        namespace[f"ACT{k}"], namespace[f"ACTGRAD{k}"] = p.whole_steps
    forward = _compile_source(_forward_source(plans, num_inputs), namespace, "forward")
    backwards = {}
    for low in (num_inputs, 0):
        consts: dict = {}
        source = _backward_source(plans, num_inputs, low, consts)
        backwards[low] = _compile_source(source, {**namespace, **consts}, "backward")

    class _Program(torch.autograd.Function):
        @staticmethod
        def forward(ctx, ws, x, values, bias, edge_lr):
            return forward(ctx, ws, x, values, bias, edge_lr)

        @staticmethod
        @once_differentiable
        def backward(ctx, grad_out):
            body = backwards[0 if ctx.needs_input_grad[1] else num_inputs]
            return ctx.ws.run_backward(ctx, body, grad_out, ctx.saved_tensors[1])

    def run(ws: Workspace, x, values, bias, edge_lr) -> torch.Tensor:
        return _Program.apply(ws, x, values, bias, edge_lr)

    return run
