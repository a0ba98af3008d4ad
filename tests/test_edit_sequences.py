"""Random edit sequences: every edit keeps the invariants or is refused without a trace, and
replaying the log onto the starting graph gives an equal graph."""

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import graphnet as gn

OPS = (
    "add_neuron",
    "add_edge",
    "add_edge_lift",
    "add_edges",
    "remove_edge",
    "remove_edges",
    "remove_neuron",
    "lift",
    "set_weight",
    "set_bias",
    "set_activation",
    "tag",
    "untag",
    "step",
)


def _pick(data, arr, label):
    arr = np.asarray(arr)
    return int(arr[data.draw(st.integers(0, len(arr) - 1), label=label)]) if len(arr) else 0


def _apply(g, op, data):
    ids = g.neuron_ids
    eids = g.edge_attr("id")
    w = data.draw(st.floats(-2, 2, allow_nan=False), label="w")
    if op == "add_neuron":
        g.add_neuron(
            level=data.draw(st.integers(0, g.num_levels), label="level"),
            role=data.draw(st.sampled_from(["hidden", "hidden", "output", "input"]), label="role"),
            activation=data.draw(st.sampled_from([None, "tanh", "sigmoid", "relu"]), label="act"),
            reason="grow",
        )
    elif op in ("add_edge", "add_edge_lift"):
        s, d = _pick(data, ids, "s"), _pick(data, ids, "d")
        level = g.neuron_attr("level", [s, d]) if len(ids) else [0, 0]
        if data.draw(st.booleans(), label="rising") and level[0] > level[1]:
            s, d = d, s
        g.add_edge(
            s,
            d,
            w,
            lift=op == "add_edge_lift",
            lr=data.draw(st.sampled_from([1.0, 0.5, 2.0]), label="lr"),
        )
    elif op == "add_edges":
        k = data.draw(st.integers(1, 4), label="k")
        g.add_edges(
            [_pick(data, ids, "s") for _ in range(k)],
            [_pick(data, ids, "d") for _ in range(k)],
            np.full(k, w),
            lift=data.draw(st.booleans(), label="lift"),
        )
    elif op == "remove_edge":
        src, dst, _ = g.edge_list()
        i = _pick(data, np.arange(len(src)), "e")
        g.remove_edge(
            int(src[i]) if len(src) else 0, int(dst[i]) if len(src) else 1, reason="prune"
        )
    elif op == "remove_edges":
        g.remove_edges(
            [_pick(data, eids, "e") for _ in range(data.draw(st.integers(1, 3), label="k"))]
        )
    elif op == "remove_neuron":
        g.remove_neuron(
            _pick(data, ids, "n"),
            cascade=data.draw(st.booleans(), label="cascade"),
            change_io=data.draw(st.booleans(), label="io"),
        )
    elif op == "lift":
        g.lift([_pick(data, ids, "n")], by=data.draw(st.integers(1, 2), label="by"))
    elif op == "set_weight":
        g.set_edge_attr("weight", [_pick(data, eids, "e")], [w])
    elif op == "set_bias":
        g.set_neuron_attr("bias", [_pick(data, ids, "n")], [w])
    elif op == "set_activation":
        g.set_neuron_attr(
            "activation", [_pick(data, ids, "n")], data.draw(st.sampled_from(["tanh", "gelu"]))
        )
    elif op == "tag":
        on = data.draw(st.sampled_from(["neuron", "edge"]), label="on")
        g.tag(
            on,
            "mark",
            [_pick(data, ids if on == "neuron" else eids, "t")],
            data.draw(st.one_of(st.booleans(), st.integers(-5, 5), st.text(max_size=3)), label="v"),
        )
    elif op == "untag":
        g.untag("neuron", "mark", [_pick(data, ids, "n")])
    elif op == "step":
        g.step += data.draw(st.integers(1, 100), label="dt")


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), density=st.sampled_from([0.3, 0.6, 1.0]), data=st.data())
def test_random_edits_keep_invariants_and_replay(seed, density, data):
    start = gn.mlp([3, 4, 2], density=density, seed=seed)
    g = start.copy()
    for _ in range(data.draw(st.integers(1, 25), label="length")):
        op = data.draw(st.sampled_from(OPS), label="op")
        before, n_log = g.copy(), len(g.log)
        try:
            _apply(g, op, data)
        except gn.GraphError:
            assert g.equals(before), f"refused {op} changed the graph"
            assert len(g.log) == n_log, f"refused {op} was logged"
            event(f"refused {op}")
            continue
        event(f"applied {op}")
        g.check()
    replayed = gn.replay(start, g.log.since(len(start.log)))
    replayed.check()
    assert replayed.equals(g)


def test_replay_refuses_a_log_from_another_start():
    a = gn.mlp([3, 4, 2], density=1.0, seed=0)
    edited = a.copy()
    edited.add_neuron(level=1)
    other = gn.mlp([3, 2, 2], density=1.0, seed=0)
    with pytest.raises(
        gn.GraphError, match="created ids .* the log does not start from this graph"
    ):
        gn.replay(other, edited.log)
