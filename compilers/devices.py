"""Devices and dtypes a compiled module may live on, checked before anything is allocated."""

from __future__ import annotations

import torch

from graphnet.core.errors import GraphError

__all__ = ["resolve_device", "check_float_dtype"]


def resolve_device(name: str | torch.device | None) -> torch.device:
    """The torch device ``name`` names, checked: known to torch and usable on this machine
    (None means the CPU).

    Raises
    ------
    GraphError
        For an unknown name, or a device (CUDA, MPS, ...) that is not available here.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("banana")
    Traceback (most recent call last):
    ...
    graphnet.core.errors.GraphError: unknown device 'banana'; use cpu, cuda or cuda:N
    """
    if name is None:
        return torch.device("cpu")
    if not isinstance(name, (str, torch.device)):
        raise GraphError(f"device must be a name such as 'cpu' or 'cuda:0', got {name!r}")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise GraphError(f"unknown device {str(name)!r}; use cpu, cuda or cuda:N") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GraphError(f"device {str(name)!r} asked for, but CUDA is not available here; use cpu")
    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise GraphError(f"device {str(name)!r} is not usable here ({first}); use cpu") from None
    return device


def check_float_dtype(dtype: object) -> torch.dtype:
    """``dtype`` if it is a floating-point torch dtype (weights and gradients need one).

    Raises
    ------
    GraphError
        For anything else (an integer or boolean dtype, a numpy dtype, a string).

    Examples
    --------
    >>> check_float_dtype(torch.float64)
    torch.float64
    >>> check_float_dtype(torch.int32)
    Traceback (most recent call last):
    ...
    graphnet.core.errors.GraphError: dtype must be a floating-point torch dtype such as torch.float32, got torch.int32
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point or dtype.is_complex:
        raise GraphError(
            f"dtype must be a floating-point torch dtype such as torch.float32, got {dtype!r}"
        )
    return dtype
