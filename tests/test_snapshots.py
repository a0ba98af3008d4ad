"""Snapshots (full and delta HDF5 files) load back exactly; snapshot ensembles match numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from graph_asserts import assert_same_graph, assert_same_log

import graphnet as gn
from graphnet.evolution.ensemble import evaluate_ensemble, snapshot_ensemble
from graphnet.evolution.snapshots import SnapshotStore, should_snapshot


def train(g: gn.NeuronGraph, seed: int, k: int = 10) -> None:
    """Simulate training: new values for ``k`` weights and ``k`` non-input biases (unlogged)."""
    rng = np.random.default_rng(seed)
    eids = rng.choice(g.edge_attr("id"), size=min(k, g.num_edges), replace=False)
    trainable = g.neuron_ids[g.neuron_attr("role") != 0]
    nids = rng.choice(trainable, size=min(k, trainable.size), replace=False)
    g.write_parameters(eids, rng.normal(size=eids.size), nids, rng.normal(size=nids.size))


def assert_exact(h: gn.NeuronGraph, g: gn.NeuronGraph) -> None:
    assert_same_graph(g, h)
    for a, b in zip(g.edge_list(), h.edge_list()):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert np.array_equal(
        g.neuron_attr("bias").view(np.uint32), h.neuron_attr("bias").view(np.uint32)
    )
    assert_same_log(g.log, h.log)
    x = torch.randn(16, len(g.inputs), generator=torch.Generator().manual_seed(0))
    assert torch.equal(gn.compile(h)(x), gn.compile(g)(x))


def evolve(store: SnapshotStore) -> list[gn.NeuronGraph]:
    """Grow, prune and train a graph, snapshotting after each event; return the copies taken."""
    g = gn.mlp([8, 12, 6, 3], density=0.5, seed=0)
    events = [
        lambda: None,
        lambda: (gn.add_edges(g, [0, 1], [20, 27]), train(g, 1)),
        lambda: (gn.clone_neuron(g, 9, noise=0.1, seed=2), train(g, 2)),
        lambda: gn.add_patch(g, [0, 1], [21, 22], size=2, seed=3),
        lambda: (gn.prune(g, fraction=0.2), train(g, 4)),
        lambda: train(g, 5),  # weights only: a delta with no records
        lambda: (g.tag("neuron", "frozen", [8]), gn.clone_neuron(g, 10, vertical=True)),
        lambda: (setattr(g, "step", 700), gn.add_edges(g, [2], [26], 0.25), train(g, 7)),
    ]
    copies = []
    for i, event in enumerate(events):
        event()
        info = store.add(
            g, epoch=i, step=100 * i, phase="coarse", reason="growth", metrics={"acc": i / 10}
        )
        assert (info.index, info.kind) == (i, "full" if i % 3 == 0 else "delta")
        assert (info.neurons, info.edges, info.log_length) == (
            g.num_neurons,
            g.num_edges,
            len(g.log),
        )
        copies.append(g.copy())
    return copies


def test_every_snapshot_loads_back_exactly(tmp_path):
    store = SnapshotStore(tmp_path, full_every=3)
    copies = evolve(store)
    assert len({len(c.log) for c in copies}) > 4  # the edits were logged
    for i, c in enumerate(copies):
        assert_exact(store.load(i), c)
    infos = SnapshotStore(tmp_path).list()
    assert [i.base for i in infos] == [0, 0, 0, 3, 3, 3, 6, 6]
    assert [i.records for i in infos][5] == 0 and infos[5].weights_changed == 10
    assert infos[4].metrics == {"acc": 0.4} and infos[4].epoch == 4 and infos[4].step == 400
    assert all(i.phase == "coarse" and i.reason == "growth" and not i.note for i in infos)


def test_reopened_store_loads_and_continues(tmp_path):
    copies = evolve(SnapshotStore(tmp_path, full_every=3))
    store = SnapshotStore(tmp_path, full_every=3)
    for i in (7, 0, 4):
        assert_exact(store.load(i), copies[i])
    g = store.load(7)  # resume the run from the last snapshot
    gn.add_edges(g, [3], [25])
    train(g, 8)
    info = store.add(g, epoch=8, step=800, phase="fine", reason="improvement")
    assert (info.index, info.kind, info.base, info.records) == (8, "delta", 6, 1)
    assert_exact(SnapshotStore(tmp_path).load(8), g)
    assert len(store) == 9


def test_other_graph_gets_a_full_snapshot(tmp_path):
    store = SnapshotStore(tmp_path, full_every=5)
    g = gn.mlp([8, 12, 6, 3], density=0.5, seed=0)
    first = store.add(g, epoch=0, step=0, phase="coarse", reason="start")
    other = gn.mlp([8, 12, 6, 3], density=0.5, seed=1)  # same ids, other edges
    gn.add_edges(other, [1], [21])
    info = store.add(other, epoch=1, step=1, phase="coarse", reason="growth")
    assert (info.kind, info.base) == ("full", 1) and "differs from snapshot 0" in info.note
    gn.add_edges(g, [0], [20])
    info = store.add(g, epoch=2, step=2, phase="coarse", reason="growth")
    assert (info.kind, info.base) == ("full", 2) and "edit log does not extend" in info.note
    gn.add_edges(g, [1], [21])
    info = store.add(g, epoch=3, step=3, phase="coarse", reason="growth")
    assert (info.kind, info.base, info.note) == ("delta", 2, "")
    assert_exact(store.load(3), g)
    assert_exact(store.load(1), other)
    assert first.note == "" and store.load(0).equals(gn.mlp([8, 12, 6, 3], density=0.5, seed=0))


def test_delta_files_are_smaller(tmp_path):
    store = SnapshotStore(tmp_path, full_every=10)
    g = gn.mlp([64, 128, 64, 10], density=0.1, seed=0)
    full = store.add(g, epoch=0, step=0, phase="coarse", reason="start")
    gn.add_edges(g, [0, 1, 2], [200, 201, 202])
    train(g, 1, k=5)
    delta = store.add(g, epoch=1, step=1, phase="coarse", reason="growth")
    assert delta.kind == "delta" and delta.weights_changed == 5
    assert delta.path.stat().st_size * 3 < full.path.stat().st_size
    assert_exact(store.load(1), g)


def test_crash_leftovers_and_corrupt_files(tmp_path):
    evolve(SnapshotStore(tmp_path, full_every=3))
    (tmp_path / ".snapshot_00008.h5.x1y2.tmp").write_bytes(b"half a snapshot")
    store = SnapshotStore(tmp_path, full_every=3)
    assert [i.index for i in store.list()] == list(range(8))
    bad = store.path(4)
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    with pytest.raises(gn.GraphFileError, match="snapshot_00004.h5"):
        store.list()
    with pytest.raises(gn.GraphFileError, match="snapshot_00004.h5"):
        store.load(5)  # a delta chained through the broken file
    store.load(3)  # snapshots before it are fine
    with pytest.raises(gn.GraphFileError, match="snapshot_00009.h5: no such"):
        store.load(9)


def test_bad_arguments(tmp_path):
    with pytest.raises(gn.GraphError, match="full_every"):
        SnapshotStore(tmp_path, full_every=0)
    store = SnapshotStore(tmp_path)
    g = gn.mlp([3, 2], 1.0, seed=0)
    with pytest.raises(gn.GraphError, match="metric 'acc'"):
        store.add(g, epoch=0, step=0, phase="coarse", reason="x", metrics={"acc": "high"})
    with pytest.raises(gn.GraphError, match="epoch"):
        store.add(g, epoch=-1, step=0, phase="coarse", reason="x")
    assert len(store) == 0


def test_should_snapshot():
    assert should_snapshot(None, 0.0)
    assert should_snapshot(0.5, 0.52) and not should_snapshot(0.5, 0.51)
    assert should_snapshot(0.9, 0.92) and not should_snapshot(0.9, 0.918)
    assert should_snapshot(0.5, 0.52, improvement=0.05) is False
    with pytest.raises(gn.GraphError, match="improvement"):
        should_snapshot(0.5, 0.6, improvement=-0.1)


# ------------------------------------------------------------------ ensembles
def numpy_logits(g: gn.NeuronGraph, x: np.ndarray) -> np.ndarray:
    """The graph's outputs computed neuron by neuron in float64, independently of compilers."""
    acts = {"identity": lambda v: v, "relu": lambda v: np.maximum(v, 0.0)}
    src, dst, w = (a.astype(np.float64) if a.dtype.kind == "f" else a for a in g.edge_list())
    value = np.zeros((x.shape[0], g.next_neuron_id))
    value[:, g.inputs] = x
    ids = g.neuron_ids
    levels = g.neuron_attr("level")
    for n in ids[np.argsort(levels, kind="stable")]:
        if n in g.inputs:
            continue
        into = dst == n
        pre = value[:, src[into]] @ w[into] + float(g.neuron_attr("bias", [n])[0])
        value[:, n] = acts[gn.ACTIVATIONS[int(g.neuron_attr("activation", [n])[0])]](pre)
    return value[:, g.outputs]


@pytest.fixture
def members():
    gs = [gn.mlp([6, 10, 4], density=0.7, seed=s) for s in range(3)]
    for s, g in enumerate(gs):
        train(g, 10 + s, k=8)
    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    return gs, x


def test_ensemble_matches_numpy(members):
    gs, x = members
    ref = [numpy_logits(g, x.astype(np.float64)) for g in gs]
    mean = snapshot_ensemble(gs, x, method="mean")
    np.testing.assert_allclose(mean.numpy(), np.mean(ref, axis=0), rtol=1e-5, atol=1e-5)
    votes = np.stack([r.argmax(1) for r in ref])
    want = np.array([np.bincount(col, minlength=4).argmax() for col in votes.T])
    assert snapshot_ensemble(gs, x, method="vote").tolist() == want.tolist()
    assert len(set(votes.ravel().tolist())) > 1  # the members do not all say the same thing
    y = np.random.default_rng(1).integers(0, 4, size=40)
    res = evaluate_ensemble(gs, x, y, "vote")
    assert res["member_accs"] == pytest.approx([float(np.mean(v == y)) for v in votes])
    assert res["single_acc"] == res["member_accs"][-1]
    assert res["ensemble_acc"] == pytest.approx(float(np.mean(want == y)))
    res = evaluate_ensemble([gn.compile(g) for g in gs], x, y, "mean")
    assert res["ensemble_acc"] == pytest.approx(float(np.mean(np.mean(ref, 0).argmax(1) == y)))


class Constant(torch.nn.Module):
    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x.shape[0], -1)


def test_vote_ties_go_to_the_lowest_class():
    x = torch.zeros(2, 3)
    two, one = Constant([0.0, 0.0, 1.0]), Constant([0.0, 1.0, 0.0])
    assert snapshot_ensemble([two, one], x, method="vote").tolist() == [1, 1]
    assert snapshot_ensemble([two, one, two], x, method="vote").tolist() == [2, 2]


def test_mismatched_members_raise(members):
    gs, x = members
    with pytest.raises(gn.GraphError, match="member 2 .* 5 inputs"):
        snapshot_ensemble([*gs[:2], gn.mlp([5, 10, 4], 0.7, seed=0)], x)
    with pytest.raises(gn.GraphError, match="member 1 .* 3 outputs, member 0 gives 4"):
        snapshot_ensemble([gs[0], gn.mlp([6, 10, 3], 0.7, seed=0)], x)
    with pytest.raises(gn.GraphError, match="unknown ensemble method"):
        snapshot_ensemble(gs, x, method="median")
    with pytest.raises(gn.GraphError, match="at least one member"):
        snapshot_ensemble([], x)
    with pytest.raises(gn.GraphError, match="outside the 4 classes"):
        evaluate_ensemble(gs, x, np.full(40, 4), "mean")
