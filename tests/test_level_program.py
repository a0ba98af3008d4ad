"""The generated straight-line level stack (compilers.level_program) runs exactly the
operations of the interpreter (compilers.level_stack): same outputs and gradients, bit for
bit, on random all-sparse graphs; right gradients by gradcheck; used exactly where it applies."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from compile_strategies import compiler_graphs, inputs_for
from hypothesis import assume, given, settings

import graphnet as gn
from compilers.activations import NEEDS_PREACTIVATION
from compilers.level_program import sparse_program
from compilers.level_stack import Workspace, run_levels

# activations the program runs (the others need pre-activations: the interpreter runs them)
PROGRAM_ACTIVATIONS = tuple(a for i, a in enumerate(gn.ACTIVATIONS) if i not in NEEDS_PREACTIVATION)


def _both(g: gn.NeuronGraph, dtype=torch.float32):
    model = gn.compile(g, "sparse", dtype=dtype)
    plans = model._plan()
    program = sparse_program(plans, model.num_inputs, model.num_slots)
    return model, plans, program


def _run_interpreter(model, plans, x, values, bias):
    return run_levels(plans, model.num_inputs, model.num_slots, x, values, bias, Workspace())


def _run_program(model, program, x, values, bias):
    return program(Workspace(), x, values, bias, model.edge_lr)


@settings(max_examples=120, deadline=None)
@given(compiler_graphs(one_activation_per_level=True, activations=PROGRAM_ACTIVATIONS))
def test_program_equals_the_interpreter_bit_for_bit(g):
    model, plans, program = _both(g)
    assume(program is not None)
    x0 = inputs_for(g, batch=6)
    results = []
    for run in (
        lambda x, v, b: _run_interpreter(model, plans, x, v, b),
        lambda x, v, b: _run_program(model, program, x, v, b),
    ):
        x = x0.clone().requires_grad_(True)
        v = model.values.detach().clone().requires_grad_(True)
        b = model.bias.detach().clone().requires_grad_(True)
        out = run(x, v, b)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append((out.detach(), x.grad, v.grad, b.grad))
    for a, b in zip(*results):
        assert torch.equal(a, b)
    want = gn.interpret(g, x0)
    assert torch.allclose(results[1][0].double(), want, atol=1e-5, rtol=1e-5)


@settings(max_examples=25, deadline=None)
@given(
    compiler_graphs(
        max_hidden_levels=3,
        max_width=3,
        one_activation_per_level=True,
        activations=PROGRAM_ACTIVATIONS,
    )
)
def test_program_gradients_pass_gradcheck(g):
    rng = np.random.default_rng(0)  # keep relu pre-activations off the kink at 0
    ids = [n for n in g.neuron_ids.tolist() if n not in g.inputs]
    g.set_neuron_attr("bias", ids, rng.uniform(0.1, 0.9, len(ids)) * rng.choice([-1, 1], len(ids)))
    model, _, program = _both(g, torch.float64)
    assume(program is not None)
    x = inputs_for(g, batch=3).double().requires_grad_(True)
    ws = Workspace()

    def f(x, values, bias):
        return program(ws, x, values, bias, None)

    assert torch.autograd.gradcheck(f, (x, model.values, model.bias), eps=1e-6, atol=1e-5)


def test_compiled_modules_use_the_program_exactly_where_it_applies():
    relu_mlp = gn.mlp([6, 9, 4], density=0.3, seed=0)
    mixed = gn.mlp([6, 9, 4], density=0.3, seed=0)
    hidden = [n for n in mixed.neuron_ids.tolist() if mixed.neuron_attr("level", [n])[0] == 1]
    mixed.set_neuron_attr("activation", hidden[:2], ["tanh", "tanh"])
    gelu = gn.mlp([6, 9, 4], density=0.3, seed=0, activation="gelu")  # needs pre-activations
    cases = [(relu_mlp, "sparse", True), (relu_mlp, "dense", False), (mixed, "sparse", False)]
    cases.append((gelu, "sparse", False))
    for g, mode, expected in cases:
        model = gn.compile(g, mode)
        model._plan()
        assert (model._program is not None) is expected, (mode, expected)
        x = inputs_for(g)
        assert torch.allclose(model(x).double(), gn.interpret(g, x), atol=1e-5)


def test_program_scales_gradients_by_edge_learning_rates():
    g = gn.mlp([5, 7, 3], density=0.4, seed=2)
    ids = g.edge_attr("id")
    g.set_edge_attr("lr", ids[:3].tolist(), [0.0, 0.5, 2.0])
    model = gn.compile(g, "sparse")
    plain = gn.compile(gn.mlp([5, 7, 3], density=0.4, seed=2), "sparse")
    model._plan()
    assert model._program is not None and model.edge_lr is not None
    x = inputs_for(g)
    for m in (model, plain):
        m(x).pow(2).sum().backward()
    assert torch.allclose(model.values.grad, plain.values.grad * model.edge_lr, atol=1e-6)


@pytest.mark.parametrize("batches", [[5, 5], [5, 2, 5]])
def test_program_survives_batch_size_changes_and_pickling(batches, tmp_path):
    g = gn.mlp([6, 8, 3], density=0.4, seed=1)
    model = gn.compile(g, "sparse")
    for b in batches:
        x = inputs_for(g, batch=b, seed=b)
        assert torch.allclose(model(x).double(), gn.interpret(g, x), atol=1e-5)
    torch.save(model, tmp_path / "m.pt")
    back = torch.load(tmp_path / "m.pt", weights_only=False)
    x = inputs_for(g, batch=4)
    assert torch.equal(back(x), model(x))
    assert back._program is not None
