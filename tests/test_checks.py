"""Pre-flight checks: gradient flow per level and the memory-aware batch size."""

import numpy as np
import pytest
import torch

import graphnet as gn
from graphnet.core.errors import GraphError
from graphnet.evolution.config import TrainingConfig
from graphnet.evolution.trainer import make_optimizer
from graphnet.train.checks import estimate_training_bytes, gradient_flow, memory_aware_batch_size


def _batch(inputs: int, classes: int, n: int = 32, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, inputs, generator=gen), torch.randint(0, classes, (n,), generator=gen)


def _scale_level(g, level: int, factor: float) -> None:
    src, dst, w = g.edge_list()
    into = g.neuron_attr("level", dst) == level
    new = np.where(into, w * factor, w)
    g.write_parameters(g.edge_attr("id"), new)


def test_gradient_flow_matches_autograd_on_the_torch_twin():
    g = gn.mlp([5, 7, 6, 3], density=1.0, seed=1)
    model, twin = gn.compile(g), gn.to_torch(g)
    x, y = _batch(5, 3)
    flow = gradient_flow(g, model, (x, y))
    torch.nn.CrossEntropyLoss()(twin(x), y).backward()
    linears = [m for m in twin if isinstance(m, torch.nn.Linear)]
    for level, lin in zip((1, 2, 3), linears):
        w, b = float(lin.weight.grad.norm()), float(lin.bias.grad.norm())
        assert flow["weight_norms"][level] == pytest.approx(w, rel=1e-5)
        assert flow["bias_norms"][level] == pytest.approx(b, rel=1e-5)
        assert flow["norms"][level] == pytest.approx((w * w + b * b) ** 0.5, rel=1e-5)
    top = max(flow["norms"].values())
    assert flow["ratios"] == pytest.approx({lv: v / top for lv, v in flow["norms"].items()})
    assert flow["vanishing"] == [] and flow["exploding"] == []


def test_gradient_flow_leaves_grads_graph_and_model_alone():
    g = gn.mlp([4, 6, 2], density=0.5, seed=0)
    model = gn.compile(g)
    before, values = g.copy(), model.values.detach().clone()
    gradient_flow(g, model, _batch(4, 2))
    assert model.values.grad is None and model.bias.grad is None
    assert g.equals(before) and torch.equal(model.values.detach(), values)


def test_a_tiny_level_is_flagged_vanishing_below_it():
    g = gn.mlp([6, 8, 8, 4], density=1.0, seed=0)
    _scale_level(g, 3, 1e-6)  # the output level's weights: the gradient below shrinks 1e6-fold
    flow = gradient_flow(g, gn.compile(g), _batch(6, 4))
    assert flow["vanishing"] == [1, 2]
    assert flow["ratios"][3] == 1.0 and flow["exploding"] == []


def test_a_huge_level_is_flagged_exploding():
    g = gn.mlp([6, 8, 8, 4], density=1.0, seed=0)
    _scale_level(g, 1, 1e5)
    flow = gradient_flow(g, gn.compile(g), _batch(6, 4))
    assert 3 in flow["exploding"]


def test_gradient_flow_custom_loss_and_errors():
    g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    model = gn.compile(g)
    x = torch.randn(8, 3)
    flow = gradient_flow(g, model, (x, torch.zeros(8, 2)), torch.nn.MSELoss())
    assert sorted(flow["norms"]) == [1, 2]
    with pytest.raises(GraphError, match="thresholds"):
        gradient_flow(g, model, (x, torch.zeros(8, dtype=torch.long)), vanish=0)
    gn.growth.clone_neuron(g, 3)  # an edit after compiling
    with pytest.raises(GraphError, match="recompile"):
        gradient_flow(g, model, (x, torch.zeros(8, dtype=torch.long)))


def test_estimate_formula_uses_slots_and_parameters():
    g = gn.mlp([64, 32, 10], density=0.3, seed=0)
    model = gn.compile(g)
    params = model.values.numel() + model.bias.numel()
    for b in (0, 1, 64):
        assert estimate_training_bytes(g, b) == 4 * (3 * model.num_slots * b + 4 * params)
    with pytest.raises(GraphError, match="batch_size"):
        estimate_training_bytes(g, -1)


def test_estimate_within_factor_two_of_the_tensors_a_step_holds():
    g = gn.mlp([64, 256, 128, 10], density=0.5, seed=0)
    model = gn.compile(g)
    opt = make_optimizer(model, TrainingConfig())
    batch = 512
    x, y = _batch(64, 10, n=batch)
    opt.zero_grad()
    torch.nn.CrossEntropyLoss()(model(x), y).backward()
    opt.step()
    ws = model._workspace
    held = [ws.buf, ws.gbuf, model.values, model.bias, model.values.grad, model.bias.grad]
    held += [t for s in opt.state.values() for t in s.values() if t.dim() > 0]
    measured = sum(t.numel() * t.element_size() for t in held)
    estimate = estimate_training_bytes(g, batch)
    assert ws.buf.shape == (model.num_slots, batch)
    assert measured <= estimate <= 2 * measured


def test_batch_size_monotone_bounded_and_smaller_for_bigger_graphs():
    small = gn.mlp([64, 32, 10], density=1.0, seed=0)
    big = gn.mlp([64, 512, 512, 10], density=1.0, seed=0)
    budgets = [2**k for k in range(16, 34)]
    sizes = [memory_aware_batch_size(small, available_bytes=a) for a in budgets]
    assert sizes == sorted(sizes) and sizes[0] == 8 and sizes[-1] == 4096
    for a in budgets:
        b_small = memory_aware_batch_size(small, available_bytes=a)
        b_big = memory_aware_batch_size(big, available_bytes=a)
        assert b_big <= b_small
        assert b_small & (b_small - 1) == 0  # a power of two
        if b_small > 8:
            assert estimate_training_bytes(small, b_small) <= 0.25 * a
            assert b_small == 4096 or estimate_training_bytes(small, 2 * b_small) > 0.25 * a
    assert memory_aware_batch_size(small, available_bytes=2**40, max_batch=100) == 64
    assert memory_aware_batch_size(big, available_bytes=0, min_batch=16) == 16
    assert memory_aware_batch_size(small, available_bytes=2**30, fraction=1.0) == 4096
    assert 8 <= memory_aware_batch_size(small) <= 4096  # reads the machine's memory


@pytest.mark.parametrize(
    "kwargs",
    [{"fraction": 0.0}, {"fraction": 1.5}, {"min_batch": 0}, {"min_batch": 64, "max_batch": 8}],
)
def test_batch_size_rejects_bad_bounds(kwargs):
    with pytest.raises(GraphError):
        memory_aware_batch_size(gn.mlp([4, 2], density=1.0), available_bytes=2**20, **kwargs)
