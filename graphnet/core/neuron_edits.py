"""Neuron edits of a :class:`~graphnet.core.graph.NeuronGraph`: add, remove, lift, set.

A mixin of the graph class; every method validates first, then edits, then logs.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import validate
from .errors import GraphError
from .keyindex import MAX_NEURON_ID
from .levels import MAX_LEVEL, plan_lift
from .schema import NEURON_DTYPES, as_ids, as_values, forget_tags
from .vocab import (
    ACTIVATIONS,
    HIDDEN,
    INPUT,
    OUTPUT,
    activation_code,
    default_activation,
    role_code,
)

if TYPE_CHECKING:
    from .columns import Columns

__all__ = ["NeuronEdits"]

_NEURON_SETTABLE = ("bias", "activation", "born")


class NeuronEdits:
    """Add, remove, lift and set neurons (mixed into ``NeuronGraph``)."""

    _neurons: Columns
    _edges: Columns
    _inputs: list[int]
    _outputs: list[int]
    step: int

    def add_neuron(
        self,
        level: int | None = None,
        role: str = "hidden",
        activation: str | None = None,
        bias: float = 0.0,
        *,
        reason: str = "",
    ) -> int:
        """Add one neuron and return its id. See :meth:`add_neurons` for the rules.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 3, 1], density=1.0, seed=0)
        >>> g.add_neuron(level=1, activation="tanh")
        6
        """
        return int(
            self.add_neurons(
                1, level=level, role=role, activation=activation, bias=bias, reason=reason
            )[0]
        )

    def add_neurons(
        self,
        count: int,
        *,
        level: Any = None,
        role: str = "hidden",
        activation: str | Sequence[str] | None = None,
        bias: Any = 0.0,
        reason: str = "",
    ) -> np.ndarray:
        """Add ``count`` neurons of one role; return their new ids.

        Inputs sit on level 0 (identity, bias 0) and are appended to ``g.inputs``. Outputs share
        the top level (``level=None`` picks it) and are appended to ``g.outputs``. Hidden
        neurons need a level between the inputs and the outputs; to make room above, lift the
        outputs first (``g.lift(g.outputs)``). ``activation=None`` gives the role's default.

        Raises
        ------
        GraphError
            For an unknown role or activation, a level the role may not take, or a NaN bias.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 3, 1], density=1.0, seed=0)
        >>> g.add_neurons(2, level=1).tolist()
        [6, 7]
        """
        if not isinstance(count, numbers.Integral) or count < 0:
            raise GraphError(f"count must be a non-negative integer, got {count!r}")
        rc = role_code(role)
        level = self._levels_for(rc, count, level)
        if activation is None or isinstance(activation, str):
            acts = np.full(count, activation_code(activation or default_activation(role)), np.int8)
        else:
            if len(activation) != count:
                raise GraphError(f"{len(activation)} activations given for {count} neurons")
            acts = np.array([activation_code(a) for a in activation], np.int8)
        bias = as_values(bias, count, np.float32, "bias")
        start = self.next_neuron_id
        validate.check_finite(lambda i: f"new neuron {start + i}", bias, "bias")
        if rc == INPUT and (np.any(acts != 0) or np.any(bias != 0)):
            raise GraphError(
                "input neurons take activation 'identity' and bias 0: they pass the input through"
            )
        if start + count - 1 > MAX_NEURON_ID:
            raise GraphError(f"neuron ids would pass the largest id {MAX_NEURON_ID}")
        ids = np.arange(start, start + count, dtype=np.int64)
        self._neurons.append(
            {
                "level": level,
                "role": rc,
                "activation": acts,
                "bias": bias,
                "born": self.step,
                "alive": True,
            }
        )
        (self._inputs if rc == INPUT else self._outputs if rc == OUTPUT else []).extend(
            ids.tolist()
        )
        self.log.append(
            "add_neurons",
            self.step,
            reason,
            ids=ids,
            level=level,
            role=role,
            activation=acts,
            bias=bias,
        )
        return ids

    def remove_neuron(
        self, n: int, *, cascade: bool = False, change_io: bool = False, reason: str = ""
    ) -> None:
        """Remove neuron ``n``. See :meth:`remove_neurons`.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 3, 1], density=1.0, seed=0)
        >>> g.remove_neuron(2, cascade=True); g.num_neurons, g.num_edges
        (5, 6)
        """
        self.remove_neurons([n], cascade=cascade, change_io=change_io, reason=reason)

    def remove_neurons(
        self, ids: Any, *, cascade: bool = False, change_io: bool = False, reason: str = ""
    ) -> None:
        """Remove neurons by id; their ids are retired, never reused.

        A neuron that still has edges is refused unless ``cascade=True`` (which removes them
        too). Removing an input or output changes the model's tensor sizes and is refused
        unless ``change_io=True``.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 3, 1], density=1.0, seed=0)
        >>> g.remove_neurons([0], cascade=True)
        Traceback (most recent call last):
        ...
        graphnet.core.errors.GraphError: neuron 0 is input 0 of 2: removing it changes the model's input size; pass change_io=True
        """
        ids = self._live_neurons(as_ids(ids, "neuron ids"), unique=True)
        role = self._neurons.view("role")[ids]
        if not change_io:
            for code, lst, what in (
                (INPUT, self._inputs, "input"),
                (OUTPUT, self._outputs, "output"),
            ):
                hit = np.flatnonzero(role == code)
                if hit.size:
                    n = int(ids[hit[0]])
                    raise GraphError(
                        f"neuron {n} is {what} {lst.index(n)} of {len(lst)}: removing it "
                        f"changes the model's {what} size; pass change_io=True"
                    )
        gone = np.zeros(self.next_neuron_id, bool)
        gone[ids] = True
        touch = gone[self._edges.view("src")] | gone[self._edges.view("dst")]
        if touch.any() and not cascade:
            src, dst = self._edges.view("src"), self._edges.view("dst")
            e = int(np.flatnonzero(touch)[0])
            n = int(src[e]) if gone[src[e]] else int(dst[e])
            cnt = int(np.count_nonzero((src == n) | (dst == n)))
            raise GraphError(
                f"neuron {n} still has {cnt} edges; pass cascade=True to remove them with it"
            )
        if touch.any():
            self._drop_edges(~touch)
        self._neurons.writable("alive")[ids] = False
        forget_tags(self._tags["neuron"], ids)
        self._inputs = [n for n in self._inputs if not gone[n]]
        self._outputs = [n for n in self._outputs if not gone[n]]
        self.log.append(
            "remove_neurons",
            self.step,
            reason,
            ids=ids,
            cascade=bool(cascade),
            change_io=bool(change_io),
        )

    def lift(self, neurons: Any, by: int = 1, *, reason: str = "") -> np.ndarray:
        """Raise ``neurons`` and all their descendants by ``by`` levels; return the ids that moved.

        Every edge still rises afterwards. If a lifted neuron reaches the outputs' level, all
        outputs move up so that they keep the top level to themselves. Growth uses this to make
        room for an edge or a neuron between two levels.

        Raises
        ------
        GraphError
            If an input would be lifted, or a neuron is unknown.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 2, 1], density=1.0, seed=0)
        >>> g.lift([2]).tolist()            # neuron 2 and the output 4 rise one level
        [2, 4]
        """
        neurons = self._live_neurons(as_ids(neurons, "neurons"))
        if not isinstance(by, numbers.Integral):
            raise GraphError(f"by must be an integer, got {by!r}")
        n = self._neurons
        e = self._edges
        new = plan_lift(
            n.view("level"),
            n.view("role"),
            n.view("alive"),
            e.view("src"),
            e.view("dst"),
            neurons,
            int(by),
        )
        moved = np.flatnonzero(new != n.view("level"))
        n.writable("level")[:] = new
        self.log.append("lift", self.step, reason, ids=moved, neurons=neurons, by=int(by))
        return moved

    def set_neuron_attr(self, name: str, ids: Any, values: Any, *, reason: str = "") -> None:
        """Set ``bias``, ``activation`` (names) or ``born`` of neurons.

        Examples
        --------
        >>> import graphnet as gn
        >>> g = gn.mlp([2, 2, 1], density=1.0, seed=0)
        >>> g.set_neuron_attr("activation", [2, 3], "tanh"); g.neuron(2)["activation"]
        'tanh'
        """
        if name not in _NEURON_SETTABLE:
            raise GraphError(
                f"neuron attribute {name!r} cannot be set; settable: {', '.join(_NEURON_SETTABLE)} "
                "(levels change through lift)"
            )
        ids = self._live_neurons(as_ids(ids, "neuron ids"))
        if name == "activation":
            vals = ([values] * ids.size) if isinstance(values, str) else list(values)
            if len(vals) != ids.size:
                raise GraphError(f"{len(vals)} activations given for {ids.size} neurons")
            arr = np.array([activation_code(v) for v in vals], np.int8)
        else:
            arr = as_values(values, ids.size, NEURON_DTYPES[name], name)
            validate.check_finite(
                lambda i: f"neuron {int(ids[i])}", arr, name, nonneg=name == "born"
            )
        bad = np.flatnonzero((self._neurons.view("role")[ids] == INPUT) & (arr != 0))
        if bad.size and name != "born":
            raise GraphError(
                f"input neuron {int(ids[bad[0]])} keeps activation 'identity' and bias 0"
            )
        self._neurons.writable(name)[ids] = arr
        self.log.append(
            "set_neuron_attr",
            self.step,
            reason,
            ids=ids,
            name=name,
            values=arr if name != "activation" else np.array([ACTIVATIONS[c] for c in arr]),
        )

    def _levels_for(self, rc: int, count: int, level: Any) -> np.ndarray:
        n = self._neurons
        alive, role, lv = n.view("alive"), n.view("role"), n.view("level")
        outs = alive & (role == OUTPUT)
        hid = alive & (role == HIDDEN)
        top = int(lv[outs].max()) if outs.any() else None
        hmax = int(lv[hid].max()) if hid.any() else 0
        if level is None:
            if rc == HIDDEN:
                raise GraphError("a hidden neuron needs a level (1 or more)")
            level = 0 if rc == INPUT else (top if top is not None else hmax + 1)
        level = as_values(level, count, np.int64, "level")
        if count and level.max() > MAX_LEVEL:
            raise GraphError(f"level {int(level.max())} is above the highest level {MAX_LEVEL}")
        if rc == INPUT and np.any(level != 0):
            raise GraphError(f"input neurons sit on level 0, got level {int(level[level != 0][0])}")
        if rc == HIDDEN and count:
            if level.min() < 1:
                raise GraphError(
                    f"hidden neurons sit on level 1 or above, got level {int(level.min())}"
                )
            if top is not None and level.max() >= top:
                raise GraphError(
                    f"a hidden neuron on level {int(level.max())} would not lie below the outputs "
                    f"(level {top}); lift the outputs first: g.lift(g.outputs)"
                )
        if rc == OUTPUT and count:
            if np.any(level != level[0]) or (top is not None and level[0] != top):
                raise GraphError(
                    f"outputs share the top level {top if top is not None else int(level[0])}; "
                    f"got level {int(level[level != (top if top is not None else level[0])][0])}"
                )
            if level[0] <= hmax:
                raise GraphError(
                    f"outputs must lie above every hidden neuron (highest on level {hmax}); got level {int(level[0])}"
                )
        return level
