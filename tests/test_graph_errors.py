"""Bad input gets a GraphError (a ValueError) whose message names the problem, and leaves the
graph untouched."""

import numpy as np
import pytest

import graphnet as gn


@pytest.fixture
def g():
    # inputs 0,1,2 (level 0); hidden 3,4,5,6 (level 1); outputs 7,8 (level 2)
    return gn.mlp([3, 4, 2], density=1.0, seed=0)


BAD_EDITS = [
    ("self-loop", lambda g: g.add_edge(3, 3), r"edge 3->3 is a self-loop on neuron 3"),
    (
        "edge to a lower level",
        lambda g: g.add_edge(7, 3),
        r"edge 7->3 starts at output neuron 7; outputs feed nothing",
    ),
    (
        "edge within a level",
        lambda g: g.add_edge(3, 4),
        r"edge 3->4 goes from level 1 to level 1; edges must rise",
    ),
    ("edge into an input", lambda g: g.add_edge(3, 0), r"edge 3->0 ends at input neuron 0"),
    ("unknown neuron", lambda g: g.add_edge(0, 99), r"edge 0->99: unknown neuron 99"),
    (
        "removed neuron",
        lambda g: g.add_edge(0, 5),
        r"edge 0->5: removed neuron 5",
        lambda g: g.remove_neuron(5, cascade=True),
    ),
    (
        "duplicate edge",
        lambda g: g.add_edge(0, 3),
        r"edge 0->3 already exists \(edge 0\); duplicate edges are refused",
    ),
    (
        "duplicate within a batch",
        lambda g: g.add_edges([0, 0], [7, 7]),
        r"edge 0->7 is given twice",
    ),
    (
        "NaN weight",
        lambda g: g.add_edge(0, 7, weight=float("nan")),
        r"edge 0->7 has weight nan; weight must be finite",
    ),
    (
        "infinite weight",
        lambda g: g.add_edges([0, 1], [7, 7], [0.1, np.inf]),
        r"edge 1->7 has weight inf",
    ),
    (
        "negative lr",
        lambda g: g.add_edge(0, 7, lr=-1.0),
        r"edge 0->7 has lr -1.0; lr must be finite and >= 0",
    ),
    ("NaN bias", lambda g: g.add_neuron(level=1, bias=float("nan")), r"new neuron 9 has bias nan"),
    ("NaN bias set", lambda g: g.set_neuron_attr("bias", [3], [np.nan]), r"neuron 3 has bias nan"),
    (
        "NaN weight set",
        lambda g: g.set_edge_attr("weight", [2], [np.nan]),
        r"edge 2 \(2->3\) has weight nan",
    ),
    (
        "cycle through lift",
        lambda g: g.add_edge(9, 3, lift=True),
        r"edge 9->3 would close a cycle: neuron 3 already reaches neuron 9",
        lambda g: (g.add_neuron(level=1), g.add_edge(3, 9, lift=True)),
    ),
    (
        "remove an input",
        lambda g: g.remove_neuron(1, cascade=True),
        r"neuron 1 is input 1 of 3: removing it changes the model's input size; pass change_io=True",
    ),
    ("remove an output", lambda g: g.remove_neuron(8, cascade=True), r"neuron 8 is output 1 of 2"),
    (
        "remove a connected neuron",
        lambda g: g.remove_neuron(4),
        r"neuron 4 still has 5 edges; pass cascade=True",
    ),
    ("remove a missing edge", lambda g: g.remove_edge(0, 7), r"there is no edge 0->7"),
    ("remove an edge twice", lambda g: g.remove_edges([1, 1]), r"edge 1 is given twice"),
    (
        "remove a removed edge",
        lambda g: g.remove_edges([1]),
        r"edge 1 was removed",
        lambda g: g.remove_edges([1]),
    ),
    ("unknown edge id", lambda g: g.set_edge_attr("weight", [1000], [0.0]), r"unknown edge 1000"),
    (
        "hidden on the output level",
        lambda g: g.add_neuron(level=2),
        r"a hidden neuron on level 2 would not lie below the outputs \(level 2\); lift the outputs first",
    ),
    (
        "hidden on level 0",
        lambda g: g.add_neuron(level=0),
        r"hidden neurons sit on level 1 or above, got level 0",
    ),
    (
        "output off the top level",
        lambda g: g.add_neuron(level=3, role="output"),
        r"outputs share the top level 2; got level 3",
    ),
    (
        "input above level 0",
        lambda g: g.add_neuron(level=1, role="input"),
        r"input neurons sit on level 0, got level 1",
    ),
    (
        "unknown role",
        lambda g: g.add_neuron(level=1, role="bias"),
        r"unknown role 'bias'; expected one of input, hidden, output",
    ),
    (
        "unknown activation",
        lambda g: g.add_neuron(level=1, activation="swishy"),
        r"unknown activation 'swishy'",
    ),
    (
        "input with an activation",
        lambda g: g.add_neuron(role="input", activation="relu"),
        r"input neurons take activation 'identity' and bias 0",
    ),
    ("lift an input", lambda g: g.lift([0]), r"input neuron 0 cannot be lifted"),
    ("shape mismatch", lambda g: g.add_edges([0, 1], [7]), r"src has 2 ids but dst has 1"),
    (
        "weights shape mismatch",
        lambda g: g.add_edges([0, 1], [7, 8], [0.1, 0.2, 0.3]),
        r"weight has shape \(3,\), expected \(2,\)",
    ),
    (
        "float ids",
        lambda g: g.add_edges([0.5], [7]),
        r"src must be a 1-d sequence of integer ids, got float64",
    ),
    (
        "level set directly",
        lambda g: g.set_neuron_attr("level", [3], [2]),
        r"neuron attribute 'level' cannot be set",
    ),
    (
        "non-scalar tag",
        lambda g: g.tag("neuron", "bad", [3], [[1, 2]]),
        r"tag 'bad' value \[1, 2\] is not a finite",
    ),
    (
        "NaN tag value",
        lambda g: g.tag("edge", "score", [0, 1], [0.5, float("nan")]),
        r"edge 1: tag 'score' value nan is not a finite",
    ),
    (
        "fractional level",
        lambda g: g.add_neuron(level=1.7),
        r"level must be whole numbers below 2\*\*53, got 1.7",
    ),
    (
        "lift beyond the highest level",
        lambda g: g.lift([3], by=2**31),
        r"lift needs 1 <= by <= 2147483647, got 2147483648",
    ),
    (
        "lift overflowing the level range",
        lambda g: g.lift([3], by=2**31 - 2),
        r"lifting by 2147483646 would take a neuron above level 2147483647",
    ),
    (
        "level above the highest",
        lambda g: g.add_neuron(level=2**40),
        r"level 1099511627776 is above the highest level 2147483647",
        lambda g: g.lift(g.outputs, by=2**31 - 10),
    ),
    (
        "negative step",
        lambda g: setattr(g, "step", -1),
        r"step must be a whole number in \[0, 2\*\*53\], got -1",
    ),
    ("fractional step", lambda g: setattr(g, "step", 2.5), r"step must be a whole number"),
    (
        "tag on nothing",
        lambda g: g.tag("layer", "x", [3]),
        r"tags go on 'neuron' or 'edge', got 'layer'",
    ),
]


@pytest.mark.parametrize("case", BAD_EDITS, ids=[c[0] for c in BAD_EDITS])
def test_bad_edit_is_refused_and_named(g, case):
    _, edit, message, *setup = case
    for step in setup:
        step(g)
    g.check()
    before = g.copy()
    with pytest.raises(gn.GraphError, match=message) as err:
        edit(g)
    assert isinstance(err.value, ValueError)
    g.check()
    assert g.equals(before) and len(g.log) == len(before.log)


def _corrupt(g, what):
    if what == "back edge":
        g._edges.writable("dst")[0] = 0
    elif what == "nan weight":
        g._edges.writable("weight")[3] = np.nan
    elif what == "duplicate":
        g._index = None
        g._edges.writable("src")[1] = 0
    elif what == "dead endpoint":
        g._neurons.writable("alive")[4] = False
    elif what == "output level":
        g._neurons.writable("level")[8] = 3
    elif what == "io list":
        g._inputs.append(3)
    elif what == "nan bias":
        g._neurons.writable("bias")[5] = np.inf
    elif what == "negative level":
        g._neurons.writable("level")[3] = -1
    elif what == "nan tag":
        g._tags["neuron"]["score"] = {3: float("nan")}


CORRUPTIONS = [
    ("back edge", r"edge 0 \(0->0\) is a self-loop on neuron 0|edge 0 \(0->0\)"),
    ("nan weight", r"edge 3 \(\d+->\d+\) has weight nan"),
    ("duplicate", r"edge 0 and edge 1 both join 0->3; duplicate edges are refused"),
    (
        "dead endpoint",
        r"edge \d+ \(\d+->4\): removed neuron 4|edge \d+ \(4->\d+\): removed neuron 4",
    ),
    ("output level", r"output neuron 7 is on level 2, the other outputs on 3"),
    ("io list", r"g.inputs disagrees with the neurons' roles"),
    ("nan bias", r"neuron 5 has bias inf"),
    ("negative level", r"neuron 3 is on level -1, outside \[0, 2147483647\]"),
    ("nan tag", r"neuron 3: tag 'score' value nan is not a finite"),
]


@pytest.mark.parametrize("what,message", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_check_names_the_broken_invariant(g, what, message):
    g.check()
    _corrupt(g, what)
    with pytest.raises(gn.GraphError, match=message):
        g.check()


def test_lookups_of_ids_beyond_the_key_range_find_nothing(g):
    # edge keys pack (dst, src) into one int64; ids past 2**31 must not alias real edges
    assert g.has_edge(0, 3)
    assert not g.has_edge(0 + (1 << 31), 3)
    assert not g.has_edge(0, 3 + (1 << 33))
    assert g.edge_ids([0, -1, 1 << 40], [3, 3, 3]).tolist() == [0, -1, -1]
    with pytest.raises(gn.GraphError, match=r"there is no edge 2147483648->3"):
        g.remove_edge(1 << 31, 3)
