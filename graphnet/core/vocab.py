"""The closed vocabularies of a neuron graph: roles and activation names, with stable codes.

Codes are stored in arrays and files; they never change meaning. New names are only appended.
"""

from __future__ import annotations

from .errors import GraphError

__all__ = ["ROLES", "ACTIVATIONS", "role_code", "activation_code", "default_activation"]

ROLES: tuple[str, ...] = ("input", "hidden", "output")
INPUT, HIDDEN, OUTPUT = 0, 1, 2

ACTIVATIONS: tuple[str, ...] = (
    "identity",
    "relu",
    "tanh",
    "sigmoid",
    "gelu",
    "leaky_relu",
    "elu",
    "softplus",
    "silu",
)


def role_code(role: str) -> int:
    """Return the stable integer code of a role name.

    Examples
    --------
    >>> role_code("hidden")
    1
    """
    try:
        return ROLES.index(role)
    except ValueError:
        raise GraphError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}") from None


def activation_code(name: str) -> int:
    """Return the stable integer code of an activation name.

    Examples
    --------
    >>> activation_code("relu")
    1
    """
    try:
        return ACTIVATIONS.index(name)
    except ValueError:
        raise GraphError(
            f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}"
        ) from None


def default_activation(role: str) -> str:
    """Return the activation a neuron of ``role`` gets when none is given.

    Hidden neurons default to ``relu``; inputs and outputs (logits) to ``identity``.

    Examples
    --------
    >>> default_activation("output")
    'identity'
    """
    return "relu" if role == "hidden" else "identity"
