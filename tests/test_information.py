"""Mutual information estimators against the closed form for correlated Gaussians."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import graphnet as gn
from analysis import mutual_information


def gaussians(rho: float, n: int = 5000, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    return x, rho * x + np.sqrt(1 - rho**2) * rng.standard_normal(n)


def truth(rho: float) -> float:
    return -0.5 * np.log(1 - rho**2)


@pytest.mark.parametrize("method", ["ksg", "binned"])
def test_strong_correlation_within_ten_percent(method):
    est = mutual_information(*gaussians(0.8), method)
    assert abs(est - truth(0.8)) <= 0.10 * truth(0.8)


@pytest.mark.parametrize("method", ["ksg", "binned"])
def test_weak_correlation_within_0_025_nats(method):
    est = mutual_information(*gaussians(0.3), method)
    assert abs(est - truth(0.3)) <= 0.025
    # and the estimator is not biased: the mean of five independent estimates is closer still
    mean = np.mean([mutual_information(*gaussians(0.3, seed=s), method) for s in range(1, 6)])
    assert abs(mean - truth(0.3)) <= 0.015


def test_independent_samples_give_about_zero_and_inputs_may_be_tensors():
    rng = np.random.default_rng(3)
    x, y = torch.tensor(rng.standard_normal(3000)), torch.tensor(rng.standard_normal(3000))
    assert abs(mutual_information(x, y)) < 0.02
    assert abs(mutual_information(x, y, "binned")) < 0.02


def test_multivariate_ksg_matches_the_closed_form():
    # x in 2-d, y depends on the first coordinate only: I = -1/2 log(1 - rho^2)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4000, 2))
    y = 0.7 * x[:, 0] + np.sqrt(1 - 0.49) * rng.standard_normal(4000)
    assert abs(mutual_information(x, y) - truth(0.7)) <= 0.05


@pytest.mark.parametrize(
    "args, message",
    [
        ((np.zeros(10), np.zeros(9)), "x has 10 samples, y has 9"),
        ((np.array([0.0, np.nan, 1.0]), np.zeros(3)), r"x\[1, 0\] is nan"),
        ((np.zeros((5, 2)), np.zeros(5), "binned"), "takes 1-d x and y"),
        ((np.zeros(5), np.zeros(5), "mine"), "unknown method 'mine'"),
    ],
)
def test_bad_input_is_named(args, message):
    with pytest.raises(gn.GraphError, match=message):
        mutual_information(*args)
