"""Assertions shared by the I/O tests: two graphs (or logs) are the same in every detail."""

from __future__ import annotations

import numpy as np

import graphnet as gn
from graphnet.core.describe import first_difference


def typed(table: dict) -> dict:
    """Tag table with the type of each value, so True and 1 (equal in Python) differ."""
    return {k: (type(v).__name__, v) for k, v in table.items()}


def assert_same_graph(g: gn.NeuronGraph, h: gn.NeuronGraph) -> None:
    assert h.equals(g), first_difference(g, h)
    h.check()
    assert h.neuron_ids.tolist() == g.neuron_ids.tolist()
    assert h.edge_attr("id").tolist() == g.edge_attr("id").tolist()
    assert h.inputs == g.inputs
    assert h.outputs == g.outputs
    assert (h.next_neuron_id, h.next_edge_id) == (g.next_neuron_id, g.next_edge_id)
    assert h.step == g.step
    for on in ("neuron", "edge"):
        assert h.tag_names(on) == g.tag_names(on)
        for name in g.tag_names(on):
            assert typed(h.tags(on, name)) == typed(g.tags(on, name)), (on, name)


def assert_same_log(log: gn.EditLog, got: gn.EditLog) -> None:
    assert len(got) == len(log)
    for i, (a, b) in enumerate(zip(log, got)):
        assert (b.op, b.step, b.reason) == (a.op, a.step, a.reason), i
        assert b.ids.dtype == np.int64
        assert b.ids.tolist() == a.ids.tolist(), (i, a.op)
        assert set(b.data) == set(a.data), (i, a.op)
        for key, val in a.data.items():
            other = b.data[key]
            if isinstance(val, np.ndarray) and val.dtype.kind != "U":
                assert isinstance(other, np.ndarray) and other.dtype == val.dtype, (i, a.op, key)
                assert np.array_equal(other, val), (i, a.op, key)
            else:
                norm = val.tolist() if isinstance(val, np.ndarray) else val
                back = other.tolist() if isinstance(other, np.ndarray) else other
                assert back == norm, (i, a.op, key)
