"""Training helpers: embedded digits, batch checks that name the problem, a loop that learns."""

from __future__ import annotations

import pytest
import torch

import graphnet as gn
from graphnet.train import check_batch, check_trainable, digits, fit_classifier


def test_digits_are_embedded_split_and_standardised():
    d = digits(seed=1)
    assert d.x_train.shape == (1347, 64) and d.x_test.shape == (450, 64)
    assert set(d.y_test.tolist()) == set(range(10))
    assert torch.allclose(d.x_train.mean(0), torch.zeros(64), atol=1e-4)
    # pixels constant in training (the corners) are left unscaled, not divided by ~0
    assert d.x_test.abs().max() < 50
    raw = torch.zeros(1, 64)
    assert torch.allclose(
        d.transform(raw)[0],
        -torch.tensor(d.preprocessing["mean"]) / torch.tensor(d.preprocessing["std"]),
    )


@pytest.mark.parametrize(
    "x, y, message",
    [
        (torch.zeros(4, 5), None, r"inputs must have shape \(batch, 4\), got \(4, 5\)"),
        (torch.tensor([[0.0, 1.0, float("inf"), 0.0]]), None, r"input row 0, feature 2 is inf"),
        (torch.zeros(2, 4), torch.tensor([0, 12]), r"labels must lie in 0..9, got 0..12"),
        (torch.zeros(2, 4), torch.tensor([0]), r"labels must have shape \(2,\)"),
    ],
)
def test_check_batch_names_the_problem(x, y, message):
    with pytest.raises(gn.GraphError, match=message):
        check_batch(x, y, 4, 10)


def test_no_path_to_an_output_is_refused():
    g = gn.mlp([4, 3, 2], density=1.0, seed=0)
    g.remove_edges(
        [e for e, d in zip(g.edge_attr("id").tolist(), g.edge_list()[1].tolist()) if d == 8]
    )
    with pytest.raises(
        gn.GraphError, match=r"output neuron 8 \(output 1\) has no path from any input"
    ):
        check_trainable(g)


def test_fit_classifier_learns_digits_and_refuses_nan_data():
    d = digits()
    g = gn.mlp([64, 32, 10], density=0.3, seed=0)
    model, opt, hist = fit_classifier(g, d, epochs=8, progress=False)
    assert hist[0]["loss"] > hist[-1]["loss"]
    assert hist[-1]["test_acc"] > 0.85  # chance is 0.1
    d.x_train[3, 7] = float("nan")
    with pytest.raises(gn.GraphError, match=r"input row 3, feature 7 is nan"):
        fit_classifier(g, d, epochs=1, progress=False)
    with pytest.raises(gn.GraphError, match=r"10 outputs for 3 classes"):
        d.num_classes = 3
        fit_classifier(g, d, epochs=1, progress=False)
