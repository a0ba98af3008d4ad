"""The compiled module keeps CSR matrices and buffers between calls: whatever happens to its
parameters (updated in place, replaced, loaded, converted) and in whatever order forwards and
backwards run, its outputs and gradients stay those of a module built afresh."""

from __future__ import annotations

import copy

import pytest
import torch

import graphnet as gn


def _graph() -> gn.NeuronGraph:
    # sparse blocks at every level, skip edges, inputs feeding two levels; every neuron
    # reaches an output and every input is read, so the whole network runs (no dead ends
    # left out: see test_dead_ends.py for that path)
    g = gn.mlp([6, 9, 7, 3], density=0.3, seed=4)
    out, first = int(g.outputs[1]), int(g.neuron_ids[6])
    for n in g.neuron_ids.tolist():
        role = g.neuron(n)["role"]
        if role == "hidden" and not g.has_edge(n, out):
            g.add_edge(n, out, weight=0.3)
        if role == "input" and not g.has_edge(n, first):
            g.add_edge(n, first, weight=0.2)
    if not g.has_edge(int(g.inputs[0]), out):
        g.add_edge(int(g.inputs[0]), out, weight=0.7)
    return g


def _fresh_like(model: gn.CompiledGraph, g: gn.NeuronGraph) -> gn.CompiledGraph:
    """A module compiled afresh from ``g`` carrying ``model``'s current parameters."""
    other = gn.compile(g, "sparse", dtype=model.values.dtype)
    with torch.no_grad():
        other.values.copy_(model.values)
        other.bias.copy_(model.bias)
    return other


def test_every_block_is_sparse_with_32_bit_indices():
    model = gn.compile(_graph(), "sparse")
    plans = model._plan()
    assert {p.kind for p in plans} == {"sparse"}
    assert all(p.crow.dtype == torch.int32 and p.col.dtype == torch.int32 for p in plans)
    # the saved structure keeps its 64-bit indices (state dicts stay comparable)
    assert model.crow_0.dtype == torch.int64


@pytest.mark.parametrize("change", ["in_place", "replaced_storage", "load_state_dict", "to_double"])
def test_parameter_changes_reach_the_cached_matrices(change):
    g = _graph()
    model = gn.compile(g, "sparse")
    x = torch.randn(5, len(g.inputs))
    before = model(x).detach()
    torch.manual_seed(1)
    new_values = torch.randn_like(model.values)
    if change == "in_place":
        with torch.no_grad():
            model.values.copy_(new_values)
    elif change == "replaced_storage":
        model.values.data = new_values.clone()
    elif change == "load_state_dict":
        state = copy.deepcopy(model.state_dict())
        state["values"] = new_values.clone()
        model.load_state_dict(state)
    else:
        model = model.double()
        x = x.double()
        new_values = model.values.detach().clone()
    got = model(x)
    want = _fresh_like(model, g)(x)
    assert torch.allclose(got, want, atol=1e-6)
    if change != "to_double":
        assert not torch.allclose(got, before, atol=1e-3)  # the change did reach the output


def test_interleaved_forwards_and_backwards_give_each_call_its_own_gradients():
    g = _graph()
    model = gn.compile(g, "sparse")
    x1, x2 = torch.randn(4, len(g.inputs)), torch.randn(3, len(g.inputs))

    def grads(*xs):
        model.zero_grad(set_to_none=True)
        for x in xs:
            (model(x) ** 2).sum().backward()
        return model.values.grad.clone(), model.bias.grad.clone()

    separate = [grads(x1), grads(x2)]
    # two forwards alive at once (the second cannot reuse the first one's buffer), their
    # backwards in reverse order, then again after an optimizer-like in-place update
    model.zero_grad(set_to_none=True)
    y1, y2 = model(x1), model(x2)
    (y2**2).sum().backward()
    (y1**2).sum().backward()
    for got, a, b in zip((model.values.grad, model.bias.grad), *separate):
        assert torch.allclose(got, a + b, atol=1e-5)
    with torch.no_grad():
        model.values.mul_(0.5)
    want = _fresh_like(model, g)
    want.zero_grad(set_to_none=True)
    (want(x1) ** 2).sum().backward()
    assert torch.allclose(grads(x1)[0], want.values.grad, atol=1e-5)


def test_a_backward_after_the_weights_changed_is_refused():
    # The cached matrix shares the parameter's storage: autograd's version counter must still
    # catch a backward through weights that changed since the forward.
    model = gn.compile(_graph(), "sparse")
    y = model(torch.randn(2, model.num_inputs)).sum()
    with torch.no_grad():
        model.values.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("mode", ["sparse", "dense"])
def test_a_failed_backward_leaves_the_workspace_free(monkeypatch, mode):
    # "sparse" runs the generated program (compilers.level_program), "dense" the interpreter
    g = _graph()
    model = gn.compile(g, mode)
    model._plan()
    assert (model._program is not None) == (mode == "sparse")
    x = torch.randn(3, model.num_inputs)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    with monkeypatch.context() as m:
        m.setattr(torch.sparse, "sampled_addmm", broken)
        m.setattr(torch.Tensor, "mm", broken)
        with pytest.raises(RuntimeError, match="boom"):
            model(x).sum().backward()
    assert model._workspace.gbuf_busy is False
    model.zero_grad(set_to_none=True)
    model(x).sum().backward()  # and the next backward is right
    want = gn.compile(g, "dense")
    with torch.no_grad():
        want.values.copy_(model.values)
        want.bias.copy_(model.bias)
    want(x).sum().backward()
    assert torch.allclose(model.values.grad, want.values.grad, atol=1e-6)


@pytest.mark.parametrize("mode", ["sparse", "dense"])
def test_training_after_an_inference_mode_forward_of_the_same_batch_size(mode):
    # the workspace must not hand an inference-mode buffer to a grad-mode call
    g = gn.mlp([6, 9, 7, 3], density=0.3, seed=4)
    model = gn.compile(g, mode)
    x = torch.randn(5, 6)
    with torch.inference_mode():
        want = model(x)
    got = model(x)
    got.sum().backward()
    assert torch.allclose(got, want)
    assert model.values.grad is not None


@pytest.mark.parametrize("mode", ["sparse", "dense"])
def test_torch_compile_training_loop_survives_a_retrace(mode):
    # The views kept between calls must not be autograd views of the parameters: dynamo
    # refuses views made in no-grad mode whose base an optimizer step has since changed.
    import warnings

    g = gn.mlp([6, 9, 7, 3], density=0.3, seed=4)
    model = gn.compile(g, mode)
    compiled = torch.compile(model, backend="eager")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for requires_grad in (False, True):  # the change of requires_grad makes dynamo retrace
            x = torch.randn(4, 6, requires_grad=requires_grad)
            opt.zero_grad()
            compiled(x).sum().backward()
            opt.step()
        x = torch.randn(4, 6)
        assert torch.allclose(compiled(x), model(x))
