"""Carry an optimizer across a recompilation: per-element state follows its edge or neuron.

The optimizer object itself is kept (its hyper-parameters, its param groups and any learning
rate scheduler attached to it stay valid); only the compiled model's parameters in it are
swapped for the new ones, and their state is rebuilt:

* a parameter the new model reuses keeps its state untouched;
* a new parameter gets every per-element state tensor (Adam's ``exp_avg``/``exp_avg_sq``,
  SGD's ``momentum_buffer``, ...) gathered from the old parameters for surviving elements and
  zero for new ones; per-parameter scalars (Adam's ``step``) take the largest old value, as
  if the new elements had been there from the start with zero state.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from graphnet.core.errors import GraphError

__all__ = ["Origin", "carry_optimizer", "fresh_element_state"]


@dataclass
class Origin:
    """Where a new parameter's elements come from.

    ``reused`` is the old parameter the new model keeps as is; otherwise ``source`` holds, for
    each element, its index into the concatenation of ``olds`` (-1 for a new element).
    """

    reused: torch.nn.Parameter | None
    olds: list[torch.nn.Parameter]
    source: torch.Tensor | None


def fresh_element_state(optimizer: torch.optim.Optimizer, group: dict) -> dict:
    """The per-element state this optimizer gives a brand-new parameter: the state of a
    one-element zero parameter after one step with a zero gradient (Adam's moments are 0,
    Rprop's step size is its learning rate, Adagrad's sum its initial accumulator)."""
    p = torch.zeros(1, requires_grad=True)
    p.grad = torch.zeros(1)
    hyper = {k: v for k, v in group.items() if k != "params"}
    try:
        probe = type(optimizer)([{**hyper, "params": [p]}])
        probe.step()
    except Exception:  # an optimizer that cannot be probed this way: new elements start at 0
        return {}
    return {
        k: float(v.reshape(-1)[0])
        for k, v in probe.state[p].items()
        if torch.is_tensor(v) and v.dim() > 0 and v.numel() == 1
    }


def _gather(
    states, key, source: torch.Tensor, like: torch.Tensor, fill: float = 0.0
) -> torch.Tensor:
    flat = (
        states[0][key].reshape(-1)
        if len(states) == 1
        else torch.cat([st[key].reshape(-1) for st in states])
    )
    if flat.numel() == 0:
        return torch.full_like(like, fill)
    out = flat[source.clamp(min=0)].to(like.dtype)  # one gather, then the few new elements
    new = torch.nonzero(source < 0).reshape(-1)
    if new.numel():
        out[new] = fill
    return out


def _new_state(param: torch.nn.Parameter, origin: Origin, state: dict, fresh: dict) -> dict:
    states = [state.get(p, {}) for p in origin.olds]
    if not any(states):
        return {}
    if not all(states):  # some old parameter never stepped: treat its state as zero
        template = next(s for s in states if s)
        states = [
            s if s else {k: torch.zeros_like(p) if torch.is_tensor(v) and v.shape == p.shape else v
                         for k, v in template.items()}
            for s, p in zip(states, origin.olds)
        ]  # fmt: skip
    out = {}
    for key, val in states[0].items():
        per_element = torch.is_tensor(val) and val.dim() > 0 and val.shape == origin.olds[0].shape
        if per_element:
            if origin.source is None:
                raise GraphError("internal error: a new parameter without an element source")
            fill = fresh.get(key, 0.0)
            out[key] = _gather(states, key, origin.source, param.detach(), fill)
        elif torch.is_tensor(val) and val.dim() == 0:
            out[key] = max((s[key] for s in states), key=lambda t: float(t)).clone()
        elif isinstance(val, (int, float)):
            out[key] = max(s[key] for s in states)
        elif val is None:
            out[key] = None
        else:
            raise GraphError(
                f"cannot carry optimizer state {key!r} ({type(val).__name__}"
                f"{' of shape ' + str(tuple(val.shape)) if torch.is_tensor(val) else ''}) "
                "across a recompilation"
            )
    return out


def carry_optimizer(
    optimizer: torch.optim.Optimizer,
    old_params: list[torch.nn.Parameter],
    new_params: list[torch.nn.Parameter],
    origins: list[Origin],
    group_of: list[int | None],
) -> torch.optim.Optimizer:
    """Swap ``old_params`` for ``new_params`` inside ``optimizer`` and carry their state.

    ``group_of[i]`` names the param group of new parameter ``i`` (None: the group that held
    its first old parameter, else group 0).
    """
    old_ids = {id(p) for p in old_params}
    where = {}
    for gi, group in enumerate(optimizer.param_groups):
        for p in group["params"]:
            where[id(p)] = gi
    missing = [p for p in old_params if id(p) not in where]
    if len(missing) == len(old_params) and old_params:
        raise GraphError("the optimizer holds none of the model's parameters")
    state = optimizer.state
    new_state = {p: s for p, s in state.items() if id(p) not in old_ids}
    groups: list[list[torch.nn.Parameter]] = [
        [p for p in g["params"] if id(p) not in old_ids] for g in optimizer.param_groups
    ]
    for p, origin, gi in zip(new_params, origins, group_of):
        src = origin.reused if origin.reused is not None else (origin.olds or [None])[0]
        if gi is None:
            if src is not None and id(src) not in where:
                continue  # its counterpart was kept out of the optimizer: so is it
            gi = where.get(id(src), 0) if src is not None else 0
        groups[gi].append(p)
        if origin.reused is not None:
            if origin.reused in state:
                new_state[p] = state[origin.reused]
        else:
            st = _new_state(
                p, origin, state, fresh_element_state(optimizer, optimizer.param_groups[gi])
            )
            if st:
                new_state[p] = st
    for group, params in zip(optimizer.param_groups, groups):
        group["params"] = params
    optimizer.state.clear()
    optimizer.state.update(new_state)
    return optimizer
