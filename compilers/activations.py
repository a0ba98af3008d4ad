"""Activation functions of compiled levels, by the codes of :data:`graphnet.ACTIVATIONS`.

Each activation is applied in place on a slice of the activation buffer, and differentiated in
the level stack's hand-written backward: from the output where the derivative is a function of
it (identity, relu, leaky_relu, tanh, sigmoid), from the saved pre-activation otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from graphnet.core.vocab import ACTIVATIONS

__all__ = [
    "apply_activation_",
    "activation_grad",
    "inplace_steps",
    "IDENTITY",
    "NEEDS_PREACTIVATION",
    "LEAKY_SLOPE",
    "ACTIVATION_FUNCTIONS",
]

LEAKY_SLOPE = 0.01
"""Negative slope of ``leaky_relu`` (PyTorch's default)."""

_CODE = {name: i for i, name in enumerate(ACTIVATIONS)}

ACTIVATION_FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda t: t,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "gelu": F.gelu,
    "silu": F.silu,
    "elu": F.elu,
    "softplus": F.softplus,
    "leaky_relu": lambda t: F.leaky_relu(t, LEAKY_SLOPE),
}
"""Each activation of :data:`graphnet.ACTIVATIONS` as an out-of-place tensor function, by name
(for code that builds its own autograd graph: export, edge gradients)."""

_INPLACE: dict[int, Callable[[torch.Tensor], object]] = {
    _CODE["identity"]: lambda t: None,
    _CODE["relu"]: lambda t: t.relu_(),
    _CODE["tanh"]: lambda t: t.tanh_(),
    _CODE["sigmoid"]: lambda t: t.sigmoid_(),
    _CODE["leaky_relu"]: lambda t: F.leaky_relu_(t, LEAKY_SLOPE),
    _CODE["elu"]: lambda t: F.elu_(t),
    _CODE["silu"]: lambda t: F.silu(t, inplace=True),
    _CODE["gelu"]: lambda t: t.copy_(F.gelu(t)),
    _CODE["softplus"]: lambda t: t.copy_(F.softplus(t)),
}
_OUT_OF_PLACE: dict[int, Callable[[torch.Tensor], torch.Tensor]] = {
    _CODE["elu"]: F.elu,
    _CODE["silu"]: F.silu,
    _CODE["gelu"]: F.gelu,
    _CODE["softplus"]: F.softplus,
}
NEEDS_PREACTIVATION = frozenset(_OUT_OF_PLACE)
"""Codes whose derivative is computed from the pre-activation, which the forward then saves."""


def apply_activation_(t: torch.Tensor, code: int) -> None:
    """Apply activation ``code`` to ``t`` in place (``t`` may be a strided view).

    Examples
    --------
    >>> t = torch.tensor([-1.0, 2.0]); apply_activation_(t, 1); t.tolist()
    [0.0, 2.0]
    """
    _INPLACE[code](t)


def activation_grad(
    code: int, grad_out: torch.Tensor, out: torch.Tensor, pre: torch.Tensor | None
) -> torch.Tensor:
    """The gradient with respect to the pre-activation, given that of the output.

    ``out`` is the activation's output; ``pre`` its input, needed only for the codes in
    :data:`NEEDS_PREACTIVATION`.

    Examples
    --------
    >>> out = torch.tensor([0.0, 2.0])
    >>> activation_grad(1, torch.ones(2), out, None).tolist()
    [0.0, 1.0]
    """
    name = ACTIVATIONS[code]
    if name == "identity":
        return grad_out
    if name == "relu":
        return torch.ops.aten.threshold_backward(grad_out, out, 0)
    if name == "leaky_relu":
        return torch.where(out > 0, grad_out, grad_out * LEAKY_SLOPE)
    if name == "tanh":
        return grad_out * (1 - out * out)
    if name == "sigmoid":
        return grad_out * out * (1 - out)
    assert pre is not None, f"{name} needs its pre-activation"
    with torch.enable_grad():
        z = pre.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(_OUT_OF_PLACE[code](z), z, grad_out)
    return g


_RELU = _CODE["relu"]
IDENTITY = _CODE["identity"]
"""The code of the identity activation."""
_threshold_backward_ = torch.ops.aten.threshold_backward.grad_input


def inplace_steps(code: int) -> tuple[Callable | None, Callable | None]:
    """``(forward, backward)`` for a level whose neurons all have activation ``code``:
    ``forward(t)`` applies it in place, ``backward(g, out, pre)`` turns the output gradient
    ``g`` into the pre-activation gradient in place. ``None`` where there is nothing to do
    (identity), so that the level stack skips the call.

    Examples
    --------
    >>> fwd, bwd = inplace_steps(1)
    >>> t = torch.tensor([-1.0, 2.0]); g = torch.ones(2)
    >>> _ = fwd(t); _ = bwd(g, t, None); t.tolist(), g.tolist()
    ([0.0, 2.0], [0.0, 1.0])
    >>> inplace_steps(0)
    (None, None)
    """
    if code == IDENTITY:
        return None, None
    if code == _RELU:
        return torch.Tensor.relu_, lambda g, out, pre: _threshold_backward_(g, out, 0, grad_input=g)
    return _INPLACE[code], lambda g, out, pre: g.copy_(activation_grad(code, g, out, pre))
