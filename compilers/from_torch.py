"""``gn.from_torch``: PyTorch MLPs (and residual MLPs traced with torch.fx) to a NeuronGraph.

Every value flowing through the model is a vector of neurons. ``Linear`` makes new neurons fed
by the vector's neurons (one edge per non-masked weight); an activation sets the activation of
the neurons that a ``Linear`` (or an addition) just made, or, when those neurons are already
used elsewhere or already activated, makes a pass-through level (weight 1, bias 0) that carries
it; an addition of two vectors adds weight-1 edges from one into the other's fresh neurons —
a residual connection becomes skip edges. ``Flatten``, ``Identity`` and ``Dropout`` (as in
eval mode) change nothing. The result computes exactly what the module computes.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from graphnet.core.assemble import from_edges
from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph

__all__ = ["from_torch", "SUPPORTED_LAYERS"]

_ACT_MODULES: dict[type, str] = {
    nn.ReLU: "relu",
    nn.Tanh: "tanh",
    nn.Sigmoid: "sigmoid",
    nn.GELU: "gelu",
    nn.SiLU: "silu",
    nn.ELU: "elu",
    nn.Softplus: "softplus",
    nn.LeakyReLU: "leaky_relu",
}
_ACT_FUNCTIONS = {
    torch.relu: "relu",
    F.relu: "relu",
    torch.tanh: "tanh",
    F.tanh: "tanh",
    torch.sigmoid: "sigmoid",
    F.sigmoid: "sigmoid",
    F.gelu: "gelu",
    F.silu: "silu",
    F.elu: "elu",
    F.softplus: "softplus",
    F.leaky_relu: "leaky_relu",
}
_ACT_METHODS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid"}
_PASS_MODULES = (nn.Identity, nn.Flatten, nn.Dropout)
SUPPORTED_LAYERS = (
    "Linear (and masked linears: a `mask` buffer, or torch.nn.utils.prune's weight_mask), "
    + ", ".join(sorted({t.__name__ for t in _ACT_MODULES}))
    + ", Identity, Flatten, Dropout, Sequential, and residual additions (torch.fx)"
)


@dataclass
class _Builder:
    """Neurons, edges and attributes collected while walking the module."""

    num: int = 0
    src: list[np.ndarray] = field(default_factory=list)
    dst: list[np.ndarray] = field(default_factory=list)
    w: list[np.ndarray] = field(default_factory=list)
    bias: list[np.ndarray] = field(default_factory=list)
    act: dict[int, str] = field(default_factory=dict)
    level: list[np.ndarray] = field(default_factory=list)
    may_repeat: bool = False  # an addition may have doubled an edge: merge before building

    def neurons(self, n: int, level: int, bias: np.ndarray | None = None) -> np.ndarray:
        ids = np.arange(self.num, self.num + n, dtype=np.int64)
        self.num += n
        self.level.append(np.full(n, level, np.int64))
        self.bias.append(np.zeros(n, np.float64) if bias is None else bias.astype(np.float64))
        return ids

    def edges(self, s: np.ndarray, d: np.ndarray, w: np.ndarray) -> None:
        self.src.append(s)
        self.dst.append(d)
        self.w.append(w)


@dataclass
class _Vec:
    """A value of the model: its neurons, and whether they are fresh (identity activation,
    made by this conversion and not read by anything yet), so an activation or an addition
    may still change them."""

    ids: np.ndarray
    fresh: bool
    level: int


def _linear_weight(layer: nn.Module, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The effective weight of a linear layer and its mask (None when it has none)."""
    weight = layer.weight.detach().to(torch.float64).cpu().numpy()
    mask = None
    for attr in ("weight_mask", "mask"):
        m = getattr(layer, attr, None)
        if isinstance(m, torch.Tensor):
            if m.shape != weight.shape:
                raise GraphError(
                    f"layer {name!r}: {attr} has shape {tuple(m.shape)}, weight {weight.shape}"
                )
            mask = m.detach().cpu().numpy() != 0
            break
    if not np.isfinite(weight).all():
        r, c = np.argwhere(~np.isfinite(weight))[0]
        raise GraphError(
            f"layer {name!r}: weight[{r}, {c}] is {weight[r, c]}; weights must be finite"
        )
    return weight, mask


def _linear(b: _Builder, v: _Vec, layer: nn.Module, name: str) -> _Vec:
    weight, mask = _linear_weight(layer, name)
    out_f, in_f = weight.shape
    if in_f != v.ids.size:
        raise GraphError(f"layer {name!r} takes {in_f} features but receives {v.ids.size}")
    bias = getattr(layer, "bias", None)
    bias = None if bias is None else bias.detach().to(torch.float64).cpu().numpy()
    if bias is not None and not np.isfinite(bias).all():
        raise GraphError(f"layer {name!r}: a bias is not finite")
    out = b.neurons(out_f, v.level + 1, bias)
    if mask is None:
        b.edges(np.tile(v.ids, out_f), np.repeat(out, in_f), weight.ravel())
    else:
        r, c = np.nonzero(mask)
        b.edges(v.ids[c], out[r], weight[r, c])
    return _Vec(out, True, v.level + 1)


def _pass_through(b: _Builder, v: _Vec, act: str) -> _Vec:
    out = b.neurons(v.ids.size, v.level + 1)
    b.edges(v.ids, out, np.ones(v.ids.size))
    if act != "identity":
        b.act.update(dict.fromkeys(out.tolist(), act))
    return _Vec(out, act == "identity", v.level + 1)


def _activate(b: _Builder, v: _Vec, act: str, sole_user: bool) -> _Vec:
    if v.fresh and sole_user:
        b.act.update(dict.fromkeys(v.ids.tolist(), act))
        return _Vec(v.ids, False, v.level)
    return _pass_through(b, v, act)


def _activation_of(layer: nn.Module, name: str) -> str | None:
    for cls, act in _ACT_MODULES.items():
        if type(layer) is cls:
            _check_activation_args(layer, name)
            return act
    return None


def _check_activation_args(layer: nn.Module, name: str) -> None:
    odd = (
        (isinstance(layer, nn.LeakyReLU) and layer.negative_slope != 0.01)
        or (isinstance(layer, nn.ELU) and layer.alpha != 1.0)
        or (isinstance(layer, nn.Softplus) and (layer.beta != 1.0 or layer.threshold != 20.0))
        or (isinstance(layer, nn.GELU) and layer.approximate != "none")
    )
    if odd:
        raise GraphError(f"layer {name!r} ({layer!r}): only the default parameters are supported")


def _unsupported(name: str, layer: object) -> GraphError:
    kind = type(layer).__name__ if isinstance(layer, nn.Module) else repr(layer)
    return GraphError(f"layer {name!r} ({kind}) cannot be converted; supported: {SUPPORTED_LAYERS}")


def _sequential(b: _Builder, v: _Vec, seq: nn.Sequential, prefix: str) -> _Vec:
    for child_name, layer in seq._modules.items():  # every entry, a module used twice included
        name = f"{prefix}{child_name}"
        if isinstance(layer, nn.Linear) or _is_masked_linear(layer):
            v = _linear(b, v, layer, name)
        elif isinstance(layer, nn.Sequential):
            v = _sequential(b, v, layer, name + ".")
        elif isinstance(layer, _PASS_MODULES):
            continue
        elif (act := _activation_of(layer, name)) is not None:
            v = _activate(b, v, act, sole_user=True)
        else:
            raise _unsupported(name, layer)
    return v


def _is_masked_linear(layer: nn.Module) -> bool:
    return (
        isinstance(getattr(layer, "weight", None), torch.Tensor)
        and layer.weight.dim() == 2
        and isinstance(getattr(layer, "mask", None), torch.Tensor)
        and hasattr(layer, "in_features")
    )


def _traced(b: _Builder, x: _Vec, module: nn.Module) -> _Vec:
    import torch.fx as fx

    class _Tracer(fx.Tracer):
        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
            return (
                isinstance(m, nn.Linear)
                or _is_masked_linear(m)
                or super().is_leaf_module(m, qualname)
            )

    try:
        graph = _Tracer().trace(module)
    except Exception as err:  # tracing runs user code; any failure means "not convertible"
        raise GraphError(
            f"{type(module).__name__} is not an nn.Sequential and torch.fx cannot trace it "
            f"({type(err).__name__}: {err}); supported: {SUPPORTED_LAYERS}"
        ) from err
    modules = dict(module.named_modules())
    env: dict[str, _Vec] = {}
    result: _Vec | None = None
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise GraphError(
            f"{type(module).__name__}.forward takes {len(placeholders)} inputs; one is supported"
        )
    for node in graph.nodes:
        sole = lambda n: len(n.users) == 1  # noqa: E731
        if node.op == "placeholder":
            env[node.name] = x
        elif node.op == "call_module":
            layer = modules[node.target]
            arg = env[node.args[0].name]
            if isinstance(layer, nn.Linear) or _is_masked_linear(layer):
                env[node.name] = _linear(b, arg, layer, node.target)
            elif isinstance(layer, nn.Sequential):
                env[node.name] = _sequential(
                    b, _passed(arg, node.args[0]), layer, node.target + "."
                )
            elif isinstance(layer, _PASS_MODULES):
                env[node.name] = _passed(arg, node.args[0])
            elif (act := _activation_of(layer, node.target)) is not None:
                if getattr(layer, "inplace", False) and not sole(node.args[0]):
                    raise GraphError(
                        f"layer {node.target!r} changes its input in place while that input is "
                        "used elsewhere; use inplace=False"
                    )
                env[node.name] = _activate(b, arg, act, sole(node.args[0]))
            else:
                raise _unsupported(node.target, layer)
        elif node.op in ("call_function", "call_method"):
            fn = node.target
            act = _ACT_FUNCTIONS.get(fn) if node.op == "call_function" else _ACT_METHODS.get(fn)
            if act is not None and len(node.args) == 1 and not node.kwargs:
                env[node.name] = _activate(b, env[node.args[0].name], act, sole(node.args[0]))
            elif fn in (operator.add, torch.add, "add") and len(node.args) == 2 and not node.kwargs:
                a, c = node.args
                if not (isinstance(a, fx.Node) and isinstance(c, fx.Node)):
                    raise GraphError(
                        f"{node.name!r} adds a constant ({a!r} + {c!r}); only sums of two "
                        "layer outputs (residual connections) are supported"
                    )
                env[node.name] = _add(b, env[a.name], env[c.name], sole(a), sole(c), node.name)
            elif fn in (torch.flatten, "flatten", "contiguous"):
                env[node.name] = _passed(env[node.args[0].name], node.args[0])
            else:
                raise _unsupported(node.name, fn)
        elif node.op == "output":
            out = node.args[0]
            if not isinstance(out, fx.Node):
                raise GraphError("the model must return one tensor")
            result = env[out.name]
            if len(out.users) > 1:
                result = _Vec(result.ids, False, result.level)
        else:
            raise _unsupported(node.name, node.target)
    assert result is not None
    return result


def _passed(v: _Vec, source) -> _Vec:
    """A value passed through unchanged (Dropout, Identity, flatten): still fresh only if
    nothing else reads the source, or an activation on it would reach the other readers."""
    return _Vec(v.ids, v.fresh and len(source.users) == 1, v.level)


def _add(b: _Builder, a: _Vec, c: _Vec, a_sole: bool, c_sole: bool, name: str) -> _Vec:
    if a.ids.size != c.ids.size:
        raise GraphError(f"addition {name!r} of {a.ids.size} and {c.ids.size} features")
    b.may_repeat = True
    if a.fresh and a_sole and a.level > c.level:
        b.edges(c.ids, a.ids, np.ones(a.ids.size))  # c flows into a's fresh neurons
        return a
    if c.fresh and c_sole and c.level > a.level:
        b.edges(a.ids, c.ids, np.ones(c.ids.size))
        return c
    out = b.neurons(a.ids.size, max(a.level, c.level) + 1)
    b.edges(np.concatenate((a.ids, c.ids)), np.concatenate((out, out)), np.ones(2 * out.size))
    return _Vec(out, True, max(a.level, c.level) + 1)


def from_torch(module: nn.Module, *, in_features: int | None = None) -> NeuronGraph:
    """Convert a PyTorch MLP into a :class:`NeuronGraph` that computes exactly the same.

    Takes ``nn.Linear``; ``nn.Sequential`` of Linear, ReLU, Tanh, Sigmoid, GELU, SiLU, ELU,
    Softplus, LeakyReLU, Identity, Flatten and Dropout (converted as in eval mode); masked
    linear layers (a ``mask`` buffer, or ``torch.nn.utils.prune``'s ``weight_mask``), whose
    masked weights become missing edges; and other modules that torch.fx can trace, whose
    residual additions become skip edges. The graph takes the flattened input,
    ``(batch, in_features)``; weights and biases are copied (float32 in the graph).

    Raises
    ------
    GraphError
        Naming the layer, for anything else (Conv2d, BatchNorm, attention, ...), or for
        non-finite weights.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> seq = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> g = gn.from_torch(seq)
    >>> g.num_edges, g.inputs[:2], len(g.outputs)
    (48, [0, 1], 2)
    >>> x = torch.randn(3, 4)
    >>> torch.allclose(gn.compile(g)(x), seq(x), atol=1e-6)
    True
    """
    if not isinstance(module, nn.Module):
        raise GraphError(f"from_torch needs an nn.Module, got {type(module).__name__}")
    n_in = in_features if in_features is not None else _first_in_features(module)
    b = _Builder()
    x = _Vec(b.neurons(n_in, 0), False, 0)
    if isinstance(module, nn.Linear) or _is_masked_linear(module):
        out = _linear(b, x, module, type(module).__name__)
    elif isinstance(module, nn.Sequential):
        out = _sequential(b, x, module, "")
    else:
        out = _traced(b, x, module)
    if not out.fresh or np.isin(out.ids, x.ids).any():
        # Outputs feed nothing and are not inputs: give them their own neurons.
        act = "identity"
        out = _pass_through(b, _Vec(out.ids, False, out.level), act)
    src = np.concatenate(b.src) if b.src else np.empty(0, np.int64)
    dst = np.concatenate(b.dst) if b.dst else np.empty(0, np.int64)
    w = np.concatenate(b.w) if b.w else np.empty(0)
    if b.may_repeat and src.size:
        src, dst, w = _merge_repeats(src, dst, w, b.num)
    acts = np.array(["identity"] * b.num, dtype=object)
    if b.act:
        keys = np.fromiter(b.act.keys(), np.int64, len(b.act))
        acts[keys] = list(b.act.values())
    level = np.concatenate(b.level)
    hidden_top = level[level < level[out.ids[0]]].max(initial=0) if b.num else 0
    above = np.setdiff1d(np.flatnonzero(level >= level[out.ids[0]]), out.ids)
    if above.size:  # a branch deeper than the outputs: outputs take the top level alone
        hidden_top = int(level[above].max())
    level[out.ids] = max(int(level[out.ids[0]]), int(hidden_top) + 1)
    role = np.ones(b.num, np.int8)
    role[x.ids] = 0
    role[out.ids] = 2
    return from_edges(
        src,
        dst,
        w.astype(np.float32),
        num_neurons=b.num,
        level=level,
        role=role,
        activation=acts,
        bias=np.concatenate(b.bias),
        inputs=x.ids,
        outputs=out.ids,
    )


def _merge_repeats(src, dst, w, num):
    """One edge per (src, dst), weights summed (``W h + h`` is one edge of weight ``W + 1``)."""
    key = dst * num + src
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.concatenate(([True], key[1:] != key[:-1]))
    starts = np.flatnonzero(first)
    return src[order][starts], dst[order][starts], np.add.reduceat(w[order], starts)


def _first_in_features(module: nn.Module) -> int:
    for name, m in module.named_modules():
        if isinstance(m, nn.Linear) or _is_masked_linear(m):
            return int(m.in_features)
        if name and not isinstance(m, (nn.Sequential, *_PASS_MODULES, *_ACT_MODULES)):
            if len(list(m.children())) == 0:
                raise _unsupported(name, m)
    raise GraphError(
        f"{type(module).__name__} has no Linear layer to take the input width from; pass in_features="
    )
