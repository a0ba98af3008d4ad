"""fit_distributed: two gloo processes train to the same weights as one process on the same
batches (two spawns in all: one run that matches, one worker that fails)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import graphnet as gn
from graphnet.train import digits, fit_classifier
from graphnet.train.classifier import accuracy
from graphnet.train.distributed import fit_distributed

EPOCHS, LR, BATCH, SEED = 4, 0.01, 64, 0


@pytest.fixture(scope="module")
def data():
    d = digits()
    # 1345 = 21 * 64 + 1 rows: the last global batch has one row, so rank 0's shard of it is
    # empty and rank 1's holds the row; the loss weighting must still give the batch mean.
    return dataclasses.replace(d, x_train=d.x_train[:1345], y_train=d.y_train[:1345])


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the workers, and quick on a small model
    yield
    torch.set_num_threads(threads)


def reference(g: gn.NeuronGraph, d) -> tuple[gn.NeuronGraph, list[dict]]:
    """One process, no DDP: the same permutation and batches, mean cross-entropy over each
    whole batch, Adam; history as fit_distributed's."""
    model = gn.compile(g)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(SEED)
    n, history = d.x_train.shape[0], []
    for epoch in range(EPOCHS):
        order, total = torch.randperm(n, generator=gen), 0.0
        for i in range(0, n, BATCH):
            idx = order[i : i + BATCH]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(d.x_train[idx]), d.y_train[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
        train_acc, test_acc = (
            accuracy(model, d.x_train, d.y_train),
            accuracy(model, d.x_test, d.y_test),
        )
        history.append(
            {"epoch": epoch, "loss": total / n, "train_acc": train_acc, "test_acc": test_acc}
        )
    out = g.copy()
    gn.sync(out, model)
    return out, history


def assert_same_history(got: list[dict], want: list[dict], n_train: int, n_test: int) -> None:
    assert [row["epoch"] for row in got] == [row["epoch"] for row in want]
    assert [row["loss"] for row in got] == pytest.approx([row["loss"] for row in want], rel=1e-5)
    for row, ref in zip(got, want):  # to one row: a near-tie of two outputs may flip
        assert row["train_acc"] == pytest.approx(ref["train_acc"], abs=1.5 / n_train)
        assert row["test_acc"] == pytest.approx(ref["test_acc"], abs=1.5 / n_test)


def test_two_processes_match_one(data, one_thread):
    g = gn.mlp([64, 32, 10], density=0.3, seed=0)
    before = g.edge_attr("weight").copy()
    trained, history = fit_distributed(
        g, data, world_size=2, epochs=EPOCHS, lr=LR, batch_size=BATCH, seed=SEED
    )
    assert np.array_equal(g.edge_attr("weight"), before)  # the caller's graph is left alone
    trained.check()
    ref, ref_history = reference(g, data)
    assert trained.edge_attr("id").tolist() == ref.edge_attr("id").tolist()
    w, w_ref = trained.edge_attr("weight"), ref.edge_attr("weight")
    assert np.abs(w_ref - before).max() > 0.1  # it trained
    np.testing.assert_allclose(w, w_ref, rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        trained.neuron_attr("bias"), ref.neuron_attr("bias"), rtol=0, atol=1e-5
    )
    n_train, n_test = data.x_train.shape[0], data.x_test.shape[0]
    assert_same_history(history, ref_history, n_train, n_test)
    assert history[-1]["loss"] < history[0]["loss"]
    # the reference is fit_classifier's loop, written out
    _, _, fc_history = fit_classifier(
        g, data, epochs=EPOCHS, lr=LR, batch_size=BATCH, seed=SEED, progress=False
    )
    assert_same_history(fc_history, ref_history, n_train, n_test)


def test_a_failing_worker_is_reported_not_hung(data):
    g = gn.mlp([64, 32, 10], density=0.3, seed=0)
    with pytest.raises(
        gn.GraphError,
        match=r"^distributed worker (\d) failed: GraphError: the loss became nan in epoch 0 on "
        r"rank \1; lower the learning rate \(1e\+30\)$",
    ):  # both ranks fail at the same step; the first to fail is reported
        fit_distributed(g, data, world_size=2, epochs=1, lr=1e30, optimizer="sgd")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"world_size": 0}, r"world_size must be at least 1, got 0"),
        ({"batch_size": 63}, r"batch_size must be a positive multiple of world_size \(2\), got 63"),
        ({"world_size": 3, "batch_size": 64}, r"multiple of world_size \(3\), got 64"),
        ({"optimizer": "lbfgs"}, r"unknown optimizer 'lbfgs'; expected one of adam, sgd"),
        ({"backend": "mpi"}, r"unknown backend 'mpi'; expected one of gloo, nccl"),
        ({"epochs": -1}, r"epochs must be >= 0, got -1"),
        ({"timeout": 0}, r"timeout must be positive, got 0"),
        ({"mode": "csr"}, r"unknown compile mode 'csr'"),
    ],
)
def test_bad_arguments_are_refused_before_spawning(data, kwargs, message):
    with pytest.raises(gn.GraphError, match=message):
        fit_distributed(gn.mlp([64, 8, 10], density=0.5, seed=0), data, **kwargs)


def test_data_and_graph_are_checked_before_spawning(data):
    with pytest.raises(gn.GraphError, match=r"10 outputs for 3 classes"):
        fit_distributed(
            gn.mlp([64, 10], density=0.5, seed=0), dataclasses.replace(data, num_classes=3)
        )
    bad = dataclasses.replace(data, x_test=data.x_test.clone())
    bad.x_test[2, 5] = float("nan")
    with pytest.raises(gn.GraphError, match=r"input row 2, feature 5 is nan"):
        fit_distributed(gn.mlp([64, 10], density=0.5, seed=0), bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a CPU-only machine")
def test_nccl_needs_one_gpu_per_process(data):
    with pytest.raises(
        gn.GraphError, match=r"nccl backend needs one GPU per process: 2 processes, 0"
    ):
        fit_distributed(gn.mlp([64, 10], density=0.5, seed=0), data, backend="nccl")
