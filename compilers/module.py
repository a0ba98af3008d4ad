"""The compiled view of a graph: :class:`CompiledGraph`, an ``nn.Module``.

Parameters: ``values.<k>`` (the weights of block ``k``'s edges, CSR order) and ``bias.<k>``
(its neurons' biases, slot order). Buffers (saved in the state dict, moved by ``.to``): the
block indices and ``edge_ids.<k>`` / ``neuron_ids.<k>``, the edge map from every edge id to
its place in the module.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from graphnet.core.errors import GraphError

from .activations import NEEDS_PREACTIVATION
from .layout import BlockLayout, Layout
from .level_stack import BlockPlan, Workspace, run_levels

__all__ = ["CompiledGraph", "DENSE_THRESHOLD", "MODES"]

DENSE_THRESHOLD = 0.15
"""In ``auto`` mode a block at least this dense is computed dense, a sparser one as CSR.
Measured on this project's 2-core CPU (benchmarks/bench_blocks.py, benchmarks/RESULTS.md)."""

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
        values: list[torch.Tensor] | None = None,
        biases: list[torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.threshold = threshold
        self.num_inputs = layout.num_inputs
        self.num_outputs = layout.num_outputs
        self.num_slots = layout.num_slots
        self.log_mark = 0
        self.values = nn.ParameterList()
        self.bias = nn.ParameterList()
        self.kinds: list[str] = []
        self._meta: list[tuple[int, int, int, list, bool]] = []
        self._plans: list[BlockPlan] | None = None
        self._workspace = Workspace()
        self.register_buffer("slot_order", torch.from_numpy(layout.order.copy()), persistent=True)
        for k, b in enumerate(layout.blocks):
            v = (
                values[k]
                if values is not None
                else torch.as_tensor(b.weight, dtype=dtype, device=device)
            )
            c = (
                biases[k]
                if biases is not None
                else torch.as_tensor(b.bias, dtype=dtype, device=device)
            )
            self.values.append(v if isinstance(v, nn.Parameter) else nn.Parameter(v))
            self.bias.append(c if isinstance(c, nn.Parameter) else nn.Parameter(c))
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
        acts = []
        for code, sel in b.activations:
            acts.append((code, sel if isinstance(sel, slice) else as_t(sel)))
        needs_pre = any(code in NEEDS_PREACTIVATION for code, _ in b.activations)
        self._meta.append((b.start, b.end, b.lo, acts, needs_pre))

    def _plan(self) -> list[BlockPlan]:
        if self._plans is None:
            buf = dict(self.named_buffers())
            plans = []
            for k, (start, end, lo, acts, needs_pre) in enumerate(self._meta):
                kind = self.kinds[k]
                get = lambda name, k=k: buf.get(f"{name}_{k}")  # noqa: E731
                dev = self.values[k].device
                acts_dev = [(c, s if isinstance(s, slice) else s.to(dev)) for c, s in acts]
                plans.append(
                    BlockPlan(
                        start, end, lo, kind, get("flat"), get("crow"), get("col"), acts_dev,
                        needs_pre,
                    )
                )  # fmt: skip
            self._plans = plans
        return self._plans

    def _apply(self, fn, recurse=True):
        self._plans = None
        return super()._apply(fn, recurse)

    # ----------------------------------------------------------------- use
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.num_inputs:
            raise GraphError(
                f"the model takes (batch, {self.num_inputs}) inputs, got shape {tuple(x.shape)}"
            )
        values, biases = self.values._parameters, self.bias._parameters  # no per-item lookups
        params = [p for pair in zip(values.values(), biases.values()) for p in pair]
        dtype = params[0].dtype if params else x.dtype
        return run_levels(
            self._plan(), self.num_inputs, self.num_slots, x.to(dtype), params, self._workspace
        )

    @property
    def num_blocks(self) -> int:
        return len(self.kinds)

    def edge_ids(self, k: int) -> torch.Tensor:
        """Edge id of each value of block ``k`` (CSR order)."""
        return getattr(self, f"edge_ids_{k}")

    def neuron_ids(self, k: int) -> torch.Tensor:
        """Neuron id of each row (and bias) of block ``k``."""
        return getattr(self, f"neuron_ids_{k}")

    def edge_map(self) -> dict[str, np.ndarray]:
        """Where every edge lives: arrays ``edge_id``, ``block``, ``position`` (into
        ``values[block]``), ``row`` and ``col`` (within the block), sorted by edge id.

        Examples
        --------
        >>> import graphnet as gn
        >>> m = gn.compile(gn.mlp([2, 1], density=1.0, seed=0))
        >>> m.edge_map()["block"].tolist(), m.edge_map()["position"].tolist()
        ([0, 0], [0, 1])
        """
        parts = {"edge_id": [], "block": [], "position": [], "row": [], "col": []}
        for k in range(self.num_blocks):
            ids = self.edge_ids(k).cpu().numpy()
            crow = getattr(self, f"crow_{k}").cpu().numpy()
            parts["edge_id"].append(ids)
            parts["block"].append(np.full(ids.size, k, np.int64))
            parts["position"].append(np.arange(ids.size, dtype=np.int64))
            parts["row"].append(np.repeat(np.arange(crow.size - 1), np.diff(crow)))
            parts["col"].append(getattr(self, f"col_{k}").cpu().numpy())
        out = {k: np.concatenate(v) if v else np.empty(0, np.int64) for k, v in parts.items()}
        order = np.argsort(out["edge_id"], kind="stable")
        return {k: v[order] for k, v in out.items()}

    def extra_repr(self) -> str:
        nnz = sum(int(v.numel()) for v in self.values)
        kinds = {k: self.kinds.count(k) for k in dict.fromkeys(self.kinds)}
        return (
            f"inputs={self.num_inputs}, outputs={self.num_outputs}, neurons={self.num_slots}, "
            f"edges={nnz}, blocks={kinds}"
        )
