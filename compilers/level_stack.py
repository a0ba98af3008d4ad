"""The forward and backward pass of a compiled graph, as one autograd Function.

All levels run inside one :class:`torch.autograd.Function`: the forward writes each level into
a preallocated activation buffer (batch x neurons) and the hand-written backward walks the
levels in reverse with one gradient buffer. Autograd therefore records a single node per call,
not a handful per level, which is what makes deep skip-connected graphs cheap.

A block multiplies the buffer columns ``[lo, start)`` by its weights:

* ``full``: every entry is an edge; the parameter vector is the row-major matrix itself.
* ``dense``: the parameter vector is scattered into a zero matrix (masked entries are not
  parameters at all, so no optimizer or weight decay can make them non-zero).
* ``sparse``: a CSR matrix over the parameter vector; the forward is ``torch.sparse.mm`` with
  the input transposed contiguously, the value gradient ``torch.sparse.sampled_addmm`` (only
  the entries that exist), the input gradient a product with the transposed CSR matrix.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from .activations import activation_grad, apply_activation_

__all__ = ["BlockPlan", "run_levels"]


@dataclass
class BlockPlan:
    """What the level stack needs of one block (tensors on the model's device)."""

    start: int
    end: int
    lo: int
    kind: str  # "full", "dense", "sparse" or "empty"
    flat: torch.Tensor | None  # dense: row * width + col of each value
    crow: torch.Tensor | None  # sparse: CSR of the block
    col: torch.Tensor | None
    crow_t: torch.Tensor | None  # sparse: CSR of the transposed block
    col_t: torch.Tensor | None
    perm_t: torch.Tensor | None  # values[perm_t] are the transposed block's values
    activations: list[tuple[int, slice | torch.Tensor]]
    needs_pre: bool

    @property
    def rows(self) -> int:
        return self.end - self.start

    @property
    def width(self) -> int:
        return self.start - self.lo


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)


def _dense_weight(p: BlockPlan, values: torch.Tensor) -> torch.Tensor:
    if p.kind == "full":
        return values.view(p.rows, p.width)
    w = values.new_zeros(p.rows * p.width)
    w[p.flat] = values
    return w.view(p.rows, p.width)


class _LevelStack(torch.autograd.Function):
    @staticmethod
    def forward(ctx, plans, num_inputs, num_slots, x, *params):
        batch = x.shape[0]
        buf = x.new_empty(batch, num_slots)
        buf[:, :num_inputs] = x
        pre = []
        for k, p in enumerate(plans):
            values, bias = params[2 * k], params[2 * k + 1]
            out = buf[:, p.start : p.end]
            cols = buf[:, p.lo : p.start]
            if p.kind == "empty":
                out.copy_(bias.expand(batch, -1))
            elif p.kind == "sparse":
                w = _csr(p.crow, p.col, values, (p.rows, p.width))
                torch.add(torch.sparse.mm(w, cols.t().contiguous()).t(), bias, out=out)
            else:
                torch.addmm(bias, cols, _dense_weight(p, values).t(), out=out)
            pre.append(out.clone() if p.needs_pre else None)
            for code, sel in p.activations:
                if isinstance(sel, slice):
                    apply_activation_(out[:, sel], code)
                else:
                    part = out[:, sel]
                    apply_activation_(part, code)
                    out[:, sel] = part
        ctx.plans, ctx.num_inputs = plans, num_inputs
        ctx.pre = pre
        ctx.save_for_backward(buf, *params)
        return buf[:, plans[-1].start :].clone() if plans else x[:, :0].clone()

    @staticmethod
    def backward(ctx, grad_out):
        buf, *params = ctx.saved_tensors
        plans, n_in = ctx.plans, ctx.num_inputs
        need = ctx.needs_input_grad
        grads: list[torch.Tensor | None] = [None] * len(params)
        gbuf = buf.new_zeros(buf.shape)
        top = plans[-1].start
        gbuf[:, top:] = grad_out
        for k in range(len(plans) - 1, -1, -1):
            p = plans[k]
            values = params[2 * k]
            out = buf[:, p.start : p.end]
            g = gbuf[:, p.start : p.end]
            if p.activations:
                g = g.clone()
                for code, sel in p.activations:
                    pre = ctx.pre[k][:, sel] if p.needs_pre else None
                    g[:, sel] = activation_grad(code, g[:, sel], out[:, sel], pre)
            if need[4 + 2 * k + 1]:
                grads[2 * k + 1] = g.sum(0)
            if p.kind == "empty":
                continue
            cols = buf[:, p.lo : p.start]
            # Input gradient only for columns that are not model inputs, unless x needs one.
            first = p.lo if need[3] else max(p.lo, n_in)
            if p.kind == "sparse":
                if need[4 + 2 * k]:
                    pattern = _csr(p.crow, p.col, values, (p.rows, p.width))
                    sampled = torch.sparse.sampled_addmm(
                        pattern, g.t().contiguous(), cols, beta=0.0
                    )
                    grads[2 * k] = sampled.values()
                if first < p.start:
                    wt = _csr(p.crow_t, p.col_t, values[p.perm_t], (p.width, p.rows))
                    gin = torch.sparse.mm(wt, g.t().contiguous()).t()
                    gbuf[:, first : p.start] += gin[:, first - p.lo :]
            else:
                w = _dense_weight(p, values)
                if need[4 + 2 * k]:
                    gw = g.t().mm(cols)
                    grads[2 * k] = gw.view(-1) if p.kind == "full" else gw.view(-1)[p.flat]
                if first < p.start:
                    gbuf[:, first : p.start].addmm_(g, w[:, first - p.lo :])
        gx = gbuf[:, :n_in] if need[3] else None
        return (None, None, None, gx, *grads)


def run_levels(
    plans: list[BlockPlan], num_inputs: int, num_slots: int, x: torch.Tensor, params
) -> torch.Tensor:
    """Evaluate the levels on ``x`` (batch x inputs); return the top level (batch x outputs)."""
    return _LevelStack.apply(plans, num_inputs, num_slots, x, *params)
