"""NeuronGraph reading, editing and bookkeeping, checked against networkx and by hand."""

import networkx as nx
import numpy as np
import pytest

import graphnet as gn


def test_build_by_hand_and_read_back():
    g = gn.NeuronGraph()
    assert repr(g) == "NeuronGraph(neurons=0, edges=0, levels=0)"
    g.check()
    x0, x1 = g.add_neuron(role="input"), g.add_neuron(role="input")
    h = g.add_neuron(level=1, activation="tanh", bias=0.5)
    y = g.add_neuron(role="output")
    assert g.neuron(y)["level"] == 2
    e = g.add_edges([x0, x1, h], [h, h, y], [0.1, 0.2, 0.3])
    assert e.tolist() == [0, 1, 2]
    g.check()
    assert g.neuron(h) == {
        "id": 2,
        "level": 1,
        "role": "hidden",
        "activation": "tanh",
        "bias": 0.5,
        "born": 0,
    }
    src, dst, w = g.edge_list()
    assert src.tolist() == [0, 1, 2] and dst.tolist() == [2, 2, 3]
    assert np.allclose(w, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="read-only"):
        w[0] = 5.0
    assert g.has_edge(0, 2) and not g.has_edge(2, 0)
    assert repr(g) == "NeuronGraph(neurons=4, edges=3, levels=3)"


def test_ids_are_never_reused():
    g = gn.mlp([2, 3, 1], density=1.0, seed=0)
    g.remove_neuron(3, cascade=True)
    g.remove_edges([g.edge_attr("id")[-1]])
    last_edge = g.next_edge_id
    assert g.add_neuron(level=1) == 6
    assert g.add_edge(0, 6) == last_edge
    assert 3 not in g.neuron_ids.tolist()
    with pytest.raises(gn.GraphError, match="neuron 3 was removed"):
        g.neuron(3)


def test_born_and_log_follow_the_step():
    g = gn.mlp([2, 2, 1], density=1.0, seed=0)
    g.step = 40
    n = g.add_neuron(level=1, reason="grow at 40")
    e = g.add_edge(0, n, 0.5, reason="wire")
    assert g.neuron(n)["born"] == 40 and g.edge_attr("born")[-1] == 40
    assert [(r.op, r.step, r.reason, r.ids.tolist()) for r in g.log] == [
        ("add_neurons", 40, "grow at 40", [n]),
        ("add_edges", 40, "wire", [e]),
    ]


def test_summary_counts_match_a_direct_count():
    g = gn.mlp([6, 5, 4, 3], density=0.5, seed=2)
    g.add_edges([0, 1], [15, 16], [0.0, 0.0])  # skip edges from inputs to outputs
    s = g.summary()
    G = gn.to_networkx(g)
    level = nx.get_node_attributes(G, "level")
    pairs = {}
    for u, v in G.edges:
        pairs[(level[u], level[v])] = pairs.get((level[u], level[v]), 0) + 1
    assert s.edges_per_pair == pairs
    assert s.neurons_per_level == {0: 6, 1: 5, 2: 4, 3: 3}
    assert s.density_per_pair[(0, 3)] == pytest.approx(2 / 18)
    assert "0 -> 3" in str(g) and str(g).startswith("NeuronGraph: 18 neurons (6 inputs, 3 outputs)")


def test_copy_is_independent():
    g = gn.mlp([3, 3, 2], density=1.0, seed=0)
    h = g.copy()
    h.set_edge_attr("weight", [0], [9.0])
    h.tag("neuron", "patch", [3])
    h.add_neuron(level=1)
    assert g.edge_list()[2][0] != 9.0 and g.tag_names("neuron") == [] and g.num_neurons == 8
    assert not g.equals(h) and len(g.log) == 0


def test_removing_neurons_drops_their_edges_and_tags():
    g = gn.mlp([3, 3, 2], density=1.0, seed=0)
    g.tag("neuron", "patch", [3, 4])
    g.tag("edge", "frozen", g.edge_ids([0, 1], [3, 4]))
    g.remove_neurons([3], cascade=True)
    assert g.tags("neuron", "patch") == {4: True}
    assert list(g.tags("edge", "frozen")) == g.edge_ids([1], [4]).tolist()
    assert not np.isin(3, g.edge_list()[0]) and not np.isin(3, g.edge_list()[1])
    g.check()
    g.remove_neurons([0], cascade=True, change_io=True)
    assert g.inputs == [1, 2]


def _random_dag_graph(seed):
    rng = np.random.default_rng(seed)
    g = gn.mlp([4, 6, 6, 3], density=0.5, seed=seed)
    src = rng.integers(0, 4, 5)
    dst = rng.integers(10, 16, 5)  # input -> level-2 skip edges
    keep = g.edge_ids(src, dst) < 0
    pairs = {(int(s), int(d)) for s, d in zip(src[keep], dst[keep])}
    if pairs:
        s, d = map(list, zip(*sorted(pairs)))
        g.add_edges(s, d)
    return g


@pytest.mark.parametrize("seed", range(8))
def test_lift_moves_exactly_the_descendants(seed):
    g = _random_dag_graph(seed)
    G = gn.to_networkx(g)
    n = 4 + seed % 6  # a level-1 neuron
    before = g.neuron_attr("level").copy()
    moved = set(g.lift([n]).tolist())
    after = g.neuron_attr("level")
    want = {n} | nx.descendants(G, n)
    hidden_moved = want - set(g.outputs)
    assert hidden_moved <= moved
    assert all(after[i] == before[i] + 1 for i in hidden_moved)
    untouched = set(g.neuron_ids.tolist()) - want - set(g.outputs)
    assert all(after[i] == before[i] for i in untouched)
    outs = after[g.outputs]
    assert len(set(outs.tolist())) == 1 and outs[0] > max(
        after[list(set(g.neuron_ids.tolist()) - set(g.outputs))]
    )
    g.check()


def test_add_edge_with_lift_makes_room_and_logs_it():
    g = gn.mlp([2, 3, 3, 1], density=1.0, seed=0)  # levels: 0:{0,1} 1:{2,3,4} 2:{5,6,7} 3:{8}
    with pytest.raises(gn.GraphError, match="edge 5->6 goes from level 2 to level 2"):
        g.add_edge(5, 6)
    e = g.add_edge(5, 6, weight=0.0, lift=True, reason="route")
    assert g.neuron(6)["level"] == 3 and g.neuron(8)["level"] == 4 and g.neuron(5)["level"] == 2
    assert [r.op for r in g.log] == ["lift", "add_edges"] and g.log[0].reason == "route"
    assert g.edge_attr("id")[-1] == e
    g.check()
