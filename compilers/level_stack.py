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

Plans keep what does not change between calls: 32-bit CSR indices, each block's CSR matrix over
the parameter storage (optimizers update it in place), views of the reused buffers, the
transposed structure and a buffer for its values. Structures whose blocks are all CSR run as
generated straight-line code instead (:mod:`compilers.level_program`), with the same operations.
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass

import torch
from torch.autograd.function import once_differentiable

from .activations import IDENTITY, activation_grad, apply_activation_, inplace_steps

__all__ = ["BlockPlan", "Workspace", "csr_tensor", "run_levels", "transpose_into"]


@dataclass
class BlockPlan:
    """What the level stack needs of one block (tensors on the model's device)."""

    start: int
    end: int
    lo: int
    kind: str  # "full", "dense", "sparse" or "empty"
    flat: torch.Tensor | None  # dense: row * width + col of each value
    crow: torch.Tensor | None  # sparse: CSR of the block (32-bit when it fits: the CSR
    col: torch.Tensor | None  # kernels convert 64-bit indices on every call otherwise)
    activations: list[tuple[int, slice | torch.Tensor]]
    needs_pre: bool
    v0: int  # this block's values are values[v0:v1], its biases bias[b0:b1]
    v1: int
    b0: int
    b1: int
    _transposed: dict | None = None  # skip -> [crow_t, col_t, perm_t, kept values or None]
    _weight: tuple | None = None
    _bias: tuple | None = None
    _views: tuple | None = None
    _gviews: tuple | None = None

    def __post_init__(self) -> None:
        # The activation code when one activation covers the whole level (the common case).
        # A level with no activation entries is all identity.
        acts = self.activations
        whole = len(acts) == 1 and acts[0][1] == slice(0, self.rows)
        code = acts[0][0] if whole else (IDENTITY if not acts else None)
        self.whole_activation: int | None = code
        # ... as in-place steps (None: identity, nothing to do)
        self.whole_steps = inplace_steps(code) if code is not None else (None, None)

    @property
    def rows(self) -> int:
        return self.end - self.start

    @property
    def width(self) -> int:
        return self.start - self.lo

    def csr_weight(self, all_values: torch.Tensor) -> torch.Tensor:
        """The block's CSR matrix over its slice of ``all_values``, kept while that storage
        is the same (optimizers update it in place, which the matrix then sees)."""
        key = (all_values.data_ptr(), all_values.dtype, all_values.device)
        if self._weight is None or self._weight[0] != key:
            values = all_values.detach()[self.v0 : self.v1]  # no autograd view of the parameter
            self._weight = (key, csr_tensor(self.crow, self.col, values, (self.rows, self.width)))
        return self._weight[1]

    def forward_views(self, buf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(out, src)``: this block's rows of the activation buffer and its source rows,
        kept while the buffer is the same tensor (the workspace reuses it call after call)."""
        kept = self._views
        if kept is None or kept[0] is not buf:
            kept = self._views = (buf, buf[self.start : self.end], buf[self.lo : self.start])
        return kept[1], kept[2]

    def gradient_view(self, gbuf: torch.Tensor) -> torch.Tensor:
        """This block's rows of the gradient buffer, kept like :meth:`forward_views`."""
        kept = self._gviews
        if kept is None or kept[0] is not gbuf:
            kept = self._gviews = (gbuf, gbuf[self.start : self.end])
        return kept[1]

    def bias_column(self, all_bias: torch.Tensor) -> torch.Tensor:
        """This block's biases as a column (rows x 1) view of ``all_bias``, kept like
        :meth:`csr_weight`."""
        key = (all_bias.data_ptr(), all_bias.dtype, all_bias.device)
        if self._bias is None or self._bias[0] != key:
            self._bias = (key, all_bias.detach()[self.b0 : self.b1, None])
        return self._bias[1]

    def transposed(self, skip: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(crow_t, col_t, perm_t)``: the CSR structure of the transposed block without its
        first ``skip`` rows (source columns whose gradient nobody needs); its values are
        ``values[perm_t]``. Built on first use (only input gradients need it)."""
        if self._transposed is None:
            self._transposed = {}
        # one entry per skip: calls with and without input gradients alternate between two
        if skip not in self._transposed:
            col = self.col.long()
            counts = self.crow[1:] - self.crow[:-1]
            rows = torch.repeat_interleave(torch.arange(self.rows, device=col.device), counts)
            perm = torch.argsort(col, stable=True)  # CSR is row-sorted: gives (col, row)
            crow_t = torch.zeros(self.width + 1, dtype=torch.int64, device=col.device)
            crow_t[1:] = torch.cumsum(torch.bincount(col, minlength=self.width), 0)
            first = int(crow_t[skip])
            idx = self.col.dtype
            crow_t = (crow_t[skip:] - first).to(idx)
            self._transposed[skip] = [crow_t, rows[perm][first:].to(idx), perm[first:], None]
        crow_t, col_t, perm_t, _ = self._transposed[skip]
        return crow_t, col_t, perm_t

    def transposed_weight(self, all_values: torch.Tensor, skip: int, reuse: bool) -> torch.Tensor:
        """The CSR matrix of the transposed block (see :meth:`transposed`) over the current
        values. With ``reuse`` its values live in a buffer kept by the plan and refilled on
        each call (only one backward at a time may use it)."""
        crow_t, col_t, perm_t = self.transposed(skip)
        shape = (self.start - self.lo - skip, self.rows)
        kept = self._transposed[skip][3]
        if not reuse:
            return csr_tensor(crow_t, col_t, all_values[self.v0 : self.v1][perm_t], shape)
        if kept is None or kept[1].dtype != all_values.dtype:
            where = perm_t + self.v0  # positions in the flat value vector
            vals = all_values.new_empty(where.numel())
            kept = (where, vals, csr_tensor(crow_t, col_t, vals, shape))
            self._transposed[skip][3] = kept
        torch.index_select(all_values, 0, kept[0], out=kept[1])
        return kept[2]


# torch warns once per process that CSR support is in beta; graphnet relies on the CSR
# kernels it tests (mm, addmm, sampled_addmm), so that one message is silenced.
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")


def csr_tensor(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size) -> torch.Tensor:
    """A CSR matrix over ``values`` (shared, not copied) with indices the compiler built, so
    not checked again.

    Examples
    --------
    >>> m = csr_tensor(torch.tensor([0, 1, 2]), torch.tensor([1, 0]), torch.ones(2), (2, 2))
    >>> m.to_dense().tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)


def _dense_weight(p: BlockPlan, values: torch.Tensor) -> torch.Tensor:
    if p.kind == "full":
        return values.view(p.rows, p.width)
    w = values.new_zeros(p.rows * p.width)
    w[p.flat] = values
    return w.view(p.rows, p.width)


def _sources(p: BlockPlan, n_in: int, x: torch.Tensor, buf: torch.Tensor):
    """A dense block's input as (part read from ``x`` as batch x cols, or None; part read
    from the buffer as rows x batch, or None). Dense blocks read model inputs from ``x``
    directly (a transposed operand costs BLAS nothing); sparse ones read the transposed copy
    in the buffer, which CSR kernels need contiguous."""
    if p.lo >= n_in:
        return None, buf[p.lo : p.start]
    from_x = x[:, p.lo : min(n_in, p.start)]
    return from_x, (buf[n_in : p.start] if p.start > n_in else None)


def transpose_into(dst: torch.Tensor, x: torch.Tensor) -> None:
    """``dst[:] = x.t()``, in blocks of batch rows that stay in cache (a fair bit faster than
    one strided copy of a batch that does not).

    Examples
    --------
    >>> x = torch.arange(6.0).view(3, 2); dst = torch.empty(2, 3); transpose_into(dst, x)
    >>> torch.equal(dst, x.t())
    True
    """
    step = 128
    if x.shape[0] <= step:
        dst.copy_(x.t())
        return
    for i in range(0, x.shape[0], step):
        dst[:, i : i + step].copy_(x[i : i + step].t())


class Workspace:
    """Activation and gradient buffers kept between calls of one module.

    Fresh multi-megabyte buffers cost page faults on every call; reusing them is safe once
    nothing can read the old contents: the forward buffer is reused when the autograd node
    that saved it is gone or has run its backward (a backward that runs again after the
    buffer was reused is caught by autograd's version counter, never silently wrong), the
    gradient buffer when no backward is running.
    """

    def __init__(self) -> None:
        self.buf: torch.Tensor | None = None
        self.owner: weakref.ref | None = None
        self.gbuf: torch.Tensor | None = None
        self.gbuf_busy = False

    def forward_buffer(self, shape, like: torch.Tensor, ctx) -> torch.Tensor:
        """A ``shape`` buffer like ``like`` for the forward of autograd node ``ctx``, which
        becomes its owner (and finds the workspace as ``ctx.ws`` in its backward)."""
        previous, self.owner = self.owner, weakref.ref(ctx)
        ctx.ws = self
        b = self.buf
        owner = previous() if previous is not None else None
        free = owner is None or getattr(owner, "backward_done", False)
        if (
            b is not None
            and free
            and b.is_inference() == torch.is_inference_mode_enabled()
            and b.shape == shape
            and b.dtype == like.dtype
            and b.device == like.device
        ):
            return b
        b = like.new_empty(shape)
        self.buf = b
        return b

    def gradient_buffer(self, like: torch.Tensor) -> torch.Tensor:
        b = self.gbuf
        if (
            not self.gbuf_busy
            and b is not None
            and b.shape == like.shape
            and b.dtype == like.dtype
            and b.device == like.device
        ):
            return b
        b = torch.empty_like(like)
        if not self.gbuf_busy:
            self.gbuf = b
        return b

    def run_backward(self, ctx, body, grad_out: torch.Tensor, like: torch.Tensor):
        """``body(ctx, grad_out, gbuf, reuse)`` with a gradient buffer shaped like the forward
        buffer ``like``; ``reuse`` tells whether this backward may use the kept buffers (no
        other backward is running). Afterwards, even on an error, the gradient buffer is free
        again and ``ctx``'s forward buffer may be reused."""
        reuse = not self.gbuf_busy
        gbuf = self.gradient_buffer(like)
        self.gbuf_busy = True
        try:
            return body(ctx, grad_out, gbuf, reuse)
        finally:
            self.gbuf_busy = not reuse
            ctx.backward_done = True


class _LevelStack(torch.autograd.Function):
    # The buffer is neuron-major (slots x batch): a block's input columns [lo, start) are then
    # contiguous rows, which is what makes CSR products and sampled gradients fast.
    @staticmethod
    def forward(ctx, plans, ws, num_inputs, num_slots, x, all_values, all_bias, edge_lr):
        batch = x.shape[0]
        buf = ws.forward_buffer((num_slots, batch), x, ctx)
        if any(p.kind == "sparse" and p.lo < num_inputs for p in plans):
            transpose_into(buf[:num_inputs], x)
        pre = []
        for p in plans:
            bias = p.bias_column(all_bias)
            out, src = p.forward_views(buf)
            if p.kind == "sparse":
                torch.addmm(bias, p.csr_weight(all_values), src, out=out)  # one op, no fill
            elif p.kind == "empty":
                out.copy_(bias.expand(-1, batch))
            else:
                w = _dense_weight(p, all_values[p.v0 : p.v1])
                from_x, from_buf = _sources(p, num_inputs, x, buf)
                if from_x is None:
                    torch.addmm(bias, w, from_buf, out=out)
                else:
                    a = from_x.shape[1]
                    torch.addmm(bias, w[:, :a], from_x.t(), out=out)
                    if from_buf is not None:
                        out.addmm_(w[:, a:], from_buf)
            pre.append(out.clone() if p.needs_pre else None)
            if p.whole_activation is not None:
                if p.whole_steps[0] is not None:
                    p.whole_steps[0](out)
                continue
            for code, sel in p.activations:
                if isinstance(sel, slice):
                    apply_activation_(out[sel], code)
                else:
                    part = out[sel]
                    apply_activation_(part, code)
                    out[sel] = part
        ctx.plans, ctx.num_inputs, ctx.edge_lr = plans, num_inputs, edge_lr
        ctx.pre = pre
        ctx.save_for_backward(x, buf, all_values)
        top = plans[-1].start if plans else num_inputs
        # Always a copy: buf is reused by the next call (a "contiguous" view would alias it).
        return buf[top:].t().clone(memory_format=torch.contiguous_format)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        return ctx.ws.run_backward(ctx, _backward, grad_out, ctx.saved_tensors[1])


def _backward(ctx, grad_out: torch.Tensor, gbuf: torch.Tensor, reuse: bool) -> tuple:
    """The level stack's backward (see :class:`_LevelStack`) into the gradient buffer ``gbuf``."""
    x, buf, all_values = ctx.saved_tensors
    plans, n_in = ctx.plans, ctx.num_inputs
    need = ctx.needs_input_grad
    need_w, need_b = need[5], need[6]
    gvalues = torch.empty_like(all_values) if need_w else None
    gbias = all_values.new_empty(plans[-1].b1) if need_b else None  # == slots - n_in
    top = plans[-1].start
    gbuf[top:].copy_(grad_out.t())
    gx = torch.zeros_like(x) if need[4] else None
    low = 0 if need[4] else n_in  # rows below ``low`` (the inputs) need no gradient
    ready = top  # rows >= ready hold their gradient sums; the rows below are unset

    def deposit(first: int, stop: int, mat: torch.Tensor, g: torch.Tensor) -> None:
        # Add ``mat @ g`` (rows first..stop of the gradient) into gbuf: written in place
        # when those rows are unset or all set, through a temporary when they are mixed.
        nonlocal ready
        target = gbuf[first:stop]
        if ready >= stop:
            target.addmm_(mat, g, beta=0.0)  # beta 0: the old contents are ignored, NaN too
        elif ready <= first:
            target.addmm_(mat, g)
        else:
            part = torch.sparse.mm(mat, g) if mat.layout != torch.strided else mat.mm(g)
            target[: ready - first] = part[: ready - first]
            target[ready - first :] += part[ready - first :]
        ready = min(ready, first)

    for k in range(len(plans) - 1, -1, -1):
        p = plans[k]
        if ready > p.start:  # rows of this level that no higher level feeds
            gbuf[p.start : ready].zero_()
            ready = p.start
        out, src = p.forward_views(buf)
        g = p.gradient_view(gbuf)
        # The level's gradient becomes that of its pre-activations, in place: gbuf then
        # holds every level's bias gradient (summed over the batch once, at the end).
        if p.whole_activation is not None:
            if p.whole_steps[1] is not None:
                p.whole_steps[1](g, out, ctx.pre[k])
        else:
            for code, sel in p.activations:
                pre = ctx.pre[k][sel] if p.needs_pre else None
                g[sel] = activation_grad(code, g[sel], out[sel], pre)
        if p.kind == "empty":
            continue
        first = max(p.lo, low)  # the lowest source row that needs a gradient
        gw_out = gvalues[p.v0 : p.v1] if need_w else None
        if p.kind == "sparse":
            if need_w:  # written straight into this block's slice of the gradient
                into = csr_tensor(p.crow, p.col, gw_out, (p.rows, p.width))
                torch.sparse.sampled_addmm(p.csr_weight(all_values), g, src.t(), beta=0.0, out=into)
            if first < p.start:
                wt = p.transposed_weight(all_values, first - p.lo, reuse)
                deposit(first, p.start, wt, g)
            continue
        w = _dense_weight(p, all_values[p.v0 : p.v1])
        from_x, from_buf = _sources(p, n_in, x, buf)
        a = 0 if from_x is None else from_x.shape[1]
        if need_w:
            if p.kind == "full" and (from_x is None or from_buf is None):
                other = from_buf.t() if from_x is None else from_x
                torch.mm(g, other, out=gw_out.view(p.rows, p.width))
            else:
                if from_x is None:
                    gw = g.mm(from_buf.t())
                elif from_buf is None:
                    gw = g.mm(from_x)
                else:
                    gw = torch.cat((g.mm(from_x), g.mm(from_buf.t())), dim=1)
                if p.kind == "full":
                    gw_out.copy_(gw.view(-1))
                else:
                    torch.index_select(gw.view(-1), 0, p.flat, out=gw_out)
        if gx is not None and from_x is not None:
            gx[:, p.lo : p.lo + a] += g.t().mm(w[:, :a])
        if from_buf is not None and p.start > max(first, p.lo + a):
            lo_buf = p.lo + a  # == n_in when the block also reads inputs
            deposit(lo_buf, p.start, w[:, lo_buf - p.lo :].t(), g)
    if gbias is not None:
        torch.sum(gbuf[n_in:], 1, out=gbias)  # slots n_in.. are the biases, in order
    if gx is not None:
        if ready > 0:
            gbuf[:ready].zero_()
        gx += gbuf[:n_in].t()
    if gvalues is not None and ctx.edge_lr is not None:
        gvalues.mul_(ctx.edge_lr)  # per-edge learning-rate multipliers
    return (None, None, None, None, gx, gvalues, gbias, None)


def run_levels(
    plans: list[BlockPlan],
    num_inputs: int,
    num_slots: int,
    x: torch.Tensor,
    values: torch.Tensor,
    bias: torch.Tensor,
    workspace: Workspace | None = None,
    edge_lr: torch.Tensor | None = None,
) -> torch.Tensor:
    """Evaluate the levels on ``x`` (batch x inputs); return the top level (batch x outputs).
    ``values`` and ``bias`` are the flat parameters the plans' offsets index; ``edge_lr``
    (optional, one per value) scales the values' gradients."""
    ws = workspace if workspace is not None else Workspace()
    return _LevelStack.apply(plans, ws, num_inputs, num_slots, x, values, bias, edge_lr)
