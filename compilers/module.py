"""The compiled view of a graph: :class:`CompiledGraph`, an ``nn.Module``.

Two parameters hold everything that trains: ``values`` (every edge's weight: block 0's edges in
CSR order, then block 1's, ...) and ``bias`` (every non-input neuron's bias, in slot order).
Two tensors instead of two per level keep the optimizer step, ``zero_grad`` and autograd's
bookkeeping as cheap as for the smallest network. ``block_values(k)`` / ``block_bias(k)`` are
views of one block's part. Buffers (saved in the state dict, moved by ``.to``): the block
indices and ``edge_ids_<k>`` / ``neuron_ids_<k>``, the edge map from every edge id to its place.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from graphnet.core.errors import GraphError

from .activations import NEEDS_PREACTIVATION
from .dead_ends import LivePart, live_part
from .layout import BlockLayout, Layout
from .level_program import sparse_program
from .level_stack import BlockPlan, Workspace, run_levels

__all__ = ["CompiledGraph", "DENSE_THRESHOLD", "MODES"]

DENSE_THRESHOLD = 0.25
"""In ``auto`` mode a block at least this dense is computed dense, a sparser one as CSR.
Measured on this project's 2-core CPU (benchmarks/bench_compile.py, benchmarks/RESULTS.md)."""

MODES = ("auto", "dense", "sparse")


def _kind(block: BlockLayout, mode: str, threshold: float) -> str:
    if block.nnz == 0:
        return "empty"
    if block.nnz == block.rows * block.width and mode != "sparse":
        return "full"
    if mode == "dense" or (mode == "auto" and block.density >= threshold):
        return "dense"
    return "sparse"


class CompiledGraph(nn.Module):
    """A neuron graph as a module: ``(batch, len(g.inputs)) -> (batch, len(g.outputs))``.

    Made by :func:`compilers.compile`; see there.
    """

    def __init__(
        self,
        layout: Layout,
        mode: str = "auto",
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        threshold: float = DENSE_THRESHOLD,
        values: torch.Tensor | None = None,
        bias: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.threshold = threshold
        self.num_inputs = layout.num_inputs
        self.num_outputs = layout.num_outputs
        self.num_slots = layout.num_slots
        self.log_mark = 0
        blocks = layout.blocks
        self.value_offsets = np.cumsum([0] + [b.nnz for b in blocks]).tolist()
        self.bias_offsets = np.cumsum([0] + [b.rows for b in blocks]).tolist()
        if values is None:
            w = np.concatenate([b.weight for b in blocks]) if blocks else np.empty(0)
            values = torch.as_tensor(w, dtype=dtype, device=device)
        if bias is None:
            c = np.concatenate([b.bias for b in blocks]) if blocks else np.empty(0)
            bias = torch.as_tensor(c, dtype=dtype, device=device)
        if values.numel() != self.value_offsets[-1] or bias.numel() != self.bias_offsets[-1]:
            raise GraphError("internal error: parameter sizes disagree with the layout")
        self.values = values if isinstance(values, nn.Parameter) else nn.Parameter(values)
        self.bias = bias if isinstance(bias, nn.Parameter) else nn.Parameter(bias)
        self.block_levels = [b.level for b in blocks]  # the graph level each block computes
        self.kinds: list[str] = []
        self._meta: list[tuple[int, int, int, list, bool]] = []
        self._plans: list[BlockPlan] | None = None
        self._program = None  # generated code for all-sparse structures (level_program)
        self._workspace = Workspace()
        self._live: LivePart | None = None  # the part the outputs depend on (dead_ends)
        self._live_run = None
        self._live_workspace = Workspace()
        self._live_lr: torch.Tensor | None = None
        self.register_buffer("slot_order", torch.from_numpy(layout.order.copy()))
        lr = np.concatenate([b.lr for b in blocks]) if blocks else np.empty(0, np.float32)
        # Per-edge learning-rate multipliers scale the edges' gradients (only kept when used).
        self.register_buffer(
            "edge_lr",
            torch.as_tensor(lr, dtype=values.dtype, device=values.device)
            if np.any(lr != 1)
            else None,
        )
        for k, b in enumerate(blocks):
            self._add_block_buffers(k, b, device)

    # ----------------------------------------------------------------- structure
    def _add_block_buffers(self, k: int, b: BlockLayout, device) -> None:
        kind = _kind(b, self.mode, self.threshold)
        self.kinds.append(kind)
        as_t = lambda a: torch.tensor(np.asarray(a), device=device)  # a copy: never alias the graph  # noqa: E731
        self.register_buffer(f"edge_ids_{k}", as_t(b.edge_ids))
        self.register_buffer(f"neuron_ids_{k}", as_t(b.neuron_ids))
        self.register_buffer(f"crow_{k}", as_t(b.crow))
        self.register_buffer(f"col_{k}", as_t(b.col))
        if kind == "dense":
            self.register_buffer(f"flat_{k}", as_t(b.row_of_values() * b.width + b.col))
        acts = [(code, s if isinstance(s, slice) else as_t(s)) for code, s in b.activations]
        needs_pre = any(code in NEEDS_PREACTIVATION for code, _ in b.activations)
        self._meta.append((b.start, b.end, b.lo, acts, needs_pre))

    def _plan(self) -> list[BlockPlan]:
        if self._plans is None:
            buf = dict(self.named_buffers())
            dev = self.values.device
            plans = []
            for k, (start, end, lo, acts, needs_pre) in enumerate(self._meta):
                # the level stack sums every bias gradient in one pass over slots n_in..
                assert self.bias_offsets[k] == start - self.num_inputs, "blocks out of order"
                get = lambda name, k=k: buf.get(f"{name}_{k}")  # noqa: E731
                acts_dev = [(c, s if isinstance(s, slice) else s.to(dev)) for c, s in acts]
                crow, col = get("crow"), get("col")
                if self.kinds[k] == "sparse" and crow[-1] < 2**31:
                    crow, col = crow.int(), col.int()  # what the CSR kernels take
                plans.append(
                    BlockPlan(
                        start, end, lo, self.kinds[k], get("flat"), crow, col,
                        acts_dev, needs_pre, self.value_offsets[k], self.value_offsets[k + 1],
                        self.bias_offsets[k], self.bias_offsets[k + 1],
                    )
                )  # fmt: skip
            self._plans = plans
            self._program = sparse_program(plans, self.num_inputs, self.num_slots)
            self._set_live_part(plans)
        return self._plans

    def _set_live_part(self, plans: list[BlockPlan]) -> None:
        with torch.inference_mode(False):  # its index tensors are saved for backward later
            live = live_part(plans, self.num_inputs, self.num_slots, self.num_outputs)
            lr = None if live is None or self.edge_lr is None else self.edge_lr[live.values]
        self._live, self._live_lr = live, lr
        if live is None:
            return
        program = sparse_program(live.plans, live.num_inputs, live.num_slots)
        if program is None:
            n_in, n_slots, compact = live.num_inputs, live.num_slots, live.plans
            program = lambda ws, x, v, b, lr: run_levels(compact, n_in, n_slots, x, v, b, ws, lr)  # noqa: E731
        self._live_run = program

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """As ``nn.Module.load_state_dict``, after checking that the state belongs to a model of
        the same graph structure (same edges in the same places); otherwise a GraphError."""
        for name, buf in self.named_buffers():
            if name in state_dict:
                other = state_dict[name]
                if other.shape != buf.shape or not torch.equal(other.to(buf.device), buf):
                    raise GraphError(
                        f"this state dict belongs to a model of another graph ({name} differs); "
                        "compile the graph it was saved from, or recompile"
                    )
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def __getstate__(self) -> dict:
        # Plans and workspaces are caches (one holds a weak reference): rebuilt after a copy.
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        state = dict(state)
        state["_plans"] = None
        state["_program"] = None
        state["_workspace"] = None
        state["_live"] = state["_live_run"] = state["_live_lr"] = None
        state["_live_workspace"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._workspace = Workspace()
        self._live_workspace = Workspace()
        self._live = self._live_run = self._live_lr = None  # also for models pickled before

    def _apply(self, fn, recurse=True):
        self._plans = None
        self._program = None
        self._live = self._live_run = self._live_lr = None
        return super()._apply(fn, recurse)

    # ----------------------------------------------------------------- use
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The outputs for ``x`` (batch x inputs). Only the neurons with a path to an output
        are computed when the others are worth leaving out (:mod:`compilers.dead_ends`); the
        outputs and every gradient are those of the whole network, with zero gradients for
        the edges and biases of neurons no output depends on (even where a NaN or infinite
        value reaches only those neurons, which the whole network would turn into NaN)."""
        x = self._check_input(x)
        live = self._live
        if live is not None:
            if live.inputs is not None:  # gathered as rows of x.t(): what the buffer holds
                x = x.t().index_select(0, live.inputs).t()
            values = self.values.index_select(0, live.values)
            bias = self.bias.index_select(0, live.bias)
            return self._live_run(self._live_workspace, x, values, bias, self._live_lr)
        return self._run_all(x)

    def activations(self, x: torch.Tensor, *, copy: bool = True) -> torch.Tensor:
        """Every neuron's activation for ``x``: ``(num_slots, batch)``, rows in slot order
        (``slot_order``), neurons that no output depends on included; computed without
        gradients. With ``copy=False`` the result is the model's reused buffer, valid until its
        next call.

        Examples
        --------
        >>> import torch, graphnet as gn
        >>> g = gn.mlp([3, 4, 2], density=1.0, seed=0)
        >>> m = gn.compile(g)
        >>> h = m.activations(torch.ones(5, 3))
        >>> h.shape, torch.allclose(h[-2:].t(), m(torch.ones(5, 3)))
        (torch.Size([9, 5]), True)
        """
        x = self._check_input(x)
        with torch.no_grad():
            self._run_all(x)
            buf = self._workspace.buf
            buf[: self.num_inputs] = x.t()  # dense blocks read x itself, not these rows
        return buf.clone() if copy else buf

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise GraphError(
                f"the model takes a torch.Tensor of shape (batch, {self.num_inputs}), got "
                f"{type(x).__module__}.{type(x).__name__} (convert it: torch.as_tensor(x))"
            )
        if x.dim() != 2 or x.shape[1] != self.num_inputs:
            raise GraphError(
                f"the model takes (batch, {self.num_inputs}) inputs, got shape {tuple(x.shape)}"
            )
        self._plan()
        return x.to(self.values.dtype) if x.dtype != self.values.dtype else x

    def _run_all(self, x: torch.Tensor) -> torch.Tensor:
        """The whole network (every neuron) on ``x``, in the model's reused buffer."""
        values = self.values
        plans = self._plan()
        if self._program is not None:
            return self._program(self._workspace, x, values, self.bias, self.edge_lr)
        return run_levels(
            plans,
            self.num_inputs,
            self.num_slots,
            x,
            values,
            self.bias,
            self._workspace,
            self.edge_lr,
        )

    @property
    def num_blocks(self) -> int:
        return len(self.kinds)

    def block_values(self, k: int) -> torch.Tensor:
        """The weights of block ``k`` (a view of ``values``, CSR order)."""
        return self.values[self.value_offsets[k] : self.value_offsets[k + 1]]

    def block_bias(self, k: int) -> torch.Tensor:
        """The biases of block ``k``'s neurons (a view of ``bias``)."""
        return self.bias[self.bias_offsets[k] : self.bias_offsets[k + 1]]

    def edge_ids(self, k: int | None = None) -> torch.Tensor:
        """Edge id of each value of block ``k`` (CSR order), or of all of ``values``."""
        if k is None:
            return (
                torch.cat([self.edge_ids(j) for j in range(self.num_blocks)])
                if self.num_blocks
                else torch.empty(0, dtype=torch.int64)
            )
        return getattr(self, f"edge_ids_{k}")

    def neuron_ids(self, k: int | None = None) -> torch.Tensor:
        """Neuron id of each row (and bias) of block ``k``, or of all of ``bias``."""
        if k is None:
            return (
                torch.cat([self.neuron_ids(j) for j in range(self.num_blocks)])
                if self.num_blocks
                else torch.empty(0, dtype=torch.int64)
            )
        return getattr(self, f"neuron_ids_{k}")

    def edge_map(self) -> dict[str, np.ndarray]:
        """Where every edge lives: arrays ``edge_id``, ``index`` (into ``values``), ``block``,
        ``position`` (into ``block_values(block)``), ``row`` and ``col`` (within the block),
        sorted by edge id.

        Examples
        --------
        >>> import graphnet as gn
        >>> m = gn.compile(gn.mlp([2, 1], density=1.0, seed=0))
        >>> m.edge_map()["block"].tolist(), m.edge_map()["position"].tolist()
        ([0, 0], [0, 1])
        """
        parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("edge_id", "block", "position", "row", "col")
        }
        for k in range(self.num_blocks):
            ids = self.edge_ids(k).cpu().numpy()
            crow = getattr(self, f"crow_{k}").cpu().numpy()
            parts["edge_id"].append(ids)
            parts["block"].append(np.full(ids.size, k, np.int64))
            parts["position"].append(np.arange(ids.size, dtype=np.int64))
            parts["row"].append(np.repeat(np.arange(crow.size - 1), np.diff(crow)))
            parts["col"].append(getattr(self, f"col_{k}").cpu().numpy())
        out = {k: np.concatenate(v) if v else np.empty(0, np.int64) for k, v in parts.items()}
        out["index"] = np.arange(out["edge_id"].size, dtype=np.int64)
        order = np.argsort(out["edge_id"], kind="stable")
        return {k: v[order] for k, v in out.items()}

    def edge_endpoints(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(edge_ids, src, dst)`` of every value (neuron ids, in ``values`` order): the
        structure this module computes, read from its own buffers.

        Examples
        --------
        >>> import graphnet as gn
        >>> eids, src, dst = gn.compile(gn.mlp([2, 1], density=1.0, seed=0)).edge_endpoints()
        >>> eids.tolist(), src.tolist(), dst.tolist()
        ([0, 1], [0, 1], [2, 2])
        """
        order = self.slot_order.cpu().numpy()
        ids, src, dst = [], [], []
        for k, (_start, _end, lo, _acts, _pre) in enumerate(self._meta):
            crow = getattr(self, f"crow_{k}").cpu().numpy()
            rows = self.neuron_ids(k).cpu().numpy()
            ids.append(self.edge_ids(k).cpu().numpy())
            src.append(order[lo + getattr(self, f"col_{k}").cpu().numpy()])
            dst.append(np.repeat(rows, np.diff(crow)))
        cat = lambda xs: np.concatenate(xs).astype(np.int64) if xs else np.empty(0, np.int64)  # noqa: E731
        return cat(ids), cat(src), cat(dst)

    def extra_repr(self) -> str:
        kinds = {k: self.kinds.count(k) for k in dict.fromkeys(self.kinds)}
        return (
            f"inputs={self.num_inputs}, outputs={self.num_outputs}, neurons={self.num_slots}, "
            f"edges={self.values.numel()}, blocks={kinds}"
        )
