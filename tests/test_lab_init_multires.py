"""Data-driven initialisation (PCA of the inputs) and coarse-to-fine multi-resolution training."""

import numpy as np
import pytest
import torch

import graphnet as gn
from graphnet.core.errors import GraphError
from graphnet.evolution.config import EvolutionConfig
from graphnet.evolution.evolve import load_data, seed_network
from graphnet.evolution.protocols import Context
from graphnet.evolution.trainer import EpochTrainer, evaluate, make_optimizer
from graphnet.lab.multires import downsample, multires_train, upsample_first_level
from graphnet.train.data_init import pca_init, principal_components


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # networks this small train faster on one thread than on several
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    data, _ = load_data(EvolutionConfig())
    return data


def _first_level(g):
    """Dense ``(level-1 neurons, inputs)`` weights, neurons ascending, with the mask."""
    src, dst, w = g.edge_list()
    ids = g.neuron_ids
    first = ids[g.neuron_attr("level", ids) == 1]
    col = {n: i for i, n in enumerate(g.inputs)}
    row = {n: i for i, n in enumerate(first.tolist())}
    mat, mask = np.zeros((first.size, len(g.inputs))), np.zeros((first.size, len(g.inputs)), bool)
    for s, d, wt in zip(src.tolist(), dst.tolist(), w.tolist()):
        if s in col and d in row:
            mat[row[d], col[s]], mask[row[d], col[s]] = wt, True
    return first, mat, mask


def _pcs(x):
    xc = x - x.mean(0)
    return np.linalg.svd(xc, full_matrices=False)[2]


# ----------------------------------------------------------------------------- pca_init
def test_dense_neurons_take_the_top_components(digits):
    x = digits.x_train.numpy().astype(np.float64)
    g = gn.mlp([64, 16, 10], density=1.0, seed=0)
    pca_init(g, digits.x_train)
    first, w, _ = _first_level(g)
    vt = _pcs(x)
    for j in range(16):
        cos = w[j] @ vt[j] / np.linalg.norm(w[j])
        assert abs(cos) == pytest.approx(1.0, abs=1e-5)
    pre = x @ w.T + g.neuron_attr("bias", first)
    assert np.abs(pre.mean(0)).max() < 1e-4  # ReLUs start half active
    assert pre.std(0) == pytest.approx(np.full(16, 2**0.5), rel=1e-4)  # the He norm
    assert len(g.log) == 0
    g.check()


def test_components_wrap_around_when_the_level_is_wider_than_the_inputs():
    x = np.random.default_rng(0).standard_normal((200, 4)) * [4.0, 3.0, 2.0, 1.0]
    g = gn.mlp([4, 10, 2], density=1.0, seed=0)
    pca_init(g, x)
    _, w, _ = _first_level(g)
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    assert np.allclose(unit[0], unit[4], atol=1e-6) and np.allclose(unit[1], unit[9], atol=1e-6)
    assert abs(unit[0] @ unit[1]) < 1e-5


def test_sparse_pattern_kept_and_only_the_first_level_written(digits):
    x = digits.x_train.numpy().astype(np.float64)
    g = gn.mlp([64, 24, 12, 10], density=0.3, seed=3)
    before = g.copy()
    pca_init(g, digits.x_train)
    src, dst, w = g.edge_list()
    src0, dst0, w0 = before.edge_list()
    assert np.array_equal(src, src0) and np.array_equal(dst, dst0)
    into_first = g.neuron_attr("level", dst) == 1
    assert np.array_equal(w[~into_first], w0[~into_first])
    assert not np.allclose(w[into_first], w0[into_first])
    upper = g.neuron_ids[g.neuron_attr("level") > 1]
    assert np.array_equal(g.neuron_attr("bias", upper), before.neuron_attr("bias", upper))
    first, mat, mask = _first_level(g)
    vt = _pcs(x)
    for j in range(first.size):  # component j restricted to neuron j's edges, if it sees it
        part = vt[j] * mask[j]
        if np.linalg.norm(part) > 1e-3:
            cos = mat[j] @ part / np.linalg.norm(mat[j]) / np.linalg.norm(part)
            assert abs(cos) == pytest.approx(1.0, abs=1e-4)
    pre = x @ mat.T + g.neuron_attr("bias", first)
    assert np.abs(pre.mean(0)).max() < 1e-4
    assert len(g.log) == 0
    g.check()


def test_scale_sets_the_weight_norm_and_errors(digits):
    g = gn.mlp([64, 8, 10], density=0.5, seed=0)
    pca_init(g, digits.x_train.numpy(), scale=0.5)
    _, w, _ = _first_level(g)
    assert np.linalg.norm(w, axis=1) == pytest.approx(np.full(8, 0.5), rel=1e-5)
    with pytest.raises(GraphError, match="inputs must be"):
        pca_init(g, np.zeros((10, 3)))
    with pytest.raises(GraphError, match="no variance"):
        pca_init(g, np.ones((10, 64)))
    with pytest.raises(GraphError, match="scale"):
        pca_init(g, digits.x_train, scale=0.0)
    with pytest.raises(GraphError, match="NaN"):
        pca_init(g, np.full((10, 64), np.nan))


def test_first_level_spans_the_most_input_variance(digits):
    """Eckart-Young: no 8 directions keep more variance than the top 8 components."""
    x = digits.x_train.numpy().astype(np.float64)
    x = x - x.mean(0)
    kept = {}
    for init in ("default", "pca"):
        g = gn.mlp([64, 8, 10], density=1.0, seed=0)
        if init == "pca":
            pca_init(g, x)
        q, _ = np.linalg.qr(_first_level(g)[1].T)
        kept[init] = np.linalg.norm(x @ q) ** 2 / np.linalg.norm(x) ** 2
    comps, var, _ = principal_components(x)
    assert kept["pca"] == pytest.approx(var[:8].sum() / var.sum(), rel=1e-6)
    assert kept["pca"] > kept["default"] + 0.1


def test_pca_init_trains_at_least_as_well_as_the_default(digits):
    """Same network, seeds and batches; mean test accuracy over seeds after 3 epochs (seeded,
    so deterministic: measured 0.933 from PCA against 0.928 by default on 4 seeds)."""
    acc = {"default": [], "pca": []}
    for seed in range(4):
        cfg = EvolutionConfig(seed=seed, network={"hidden": [16], "density": 1.0})
        for init in acc:
            g = seed_network(cfg, digits.num_features, digits.num_classes)
            if init == "pca":
                pca_init(g, digits.x_train)
            model = gn.compile(g)
            ctx = Context(g, model, make_optimizer(model, cfg.training), digits, cfg)
            for epoch in range(3):
                ctx.epoch = epoch
                EpochTrainer().train(ctx)
            acc[init].append(evaluate(ctx)["test_acc"])
    assert np.mean(acc["pca"]) >= np.mean(acc["default"]) - 0.01


# ----------------------------------------------------------------------------- multires
def test_downsample_averages_squares():
    x = np.arange(2 * 64, dtype=np.float32).reshape(2, 64)
    out = downsample(x, (8, 8), 2)
    assert out.shape == (2, 16) and out.dtype == np.float32
    assert out[0, 0] == np.mean([0, 1, 8, 9]) and out[1, 5] == 64 + np.mean([18, 19, 26, 27])
    assert torch.equal(downsample(torch.from_numpy(x), (8, 8), 2), torch.from_numpy(out))
    assert downsample(x, (8, 8), 4).shape == (2, 4)
    assert np.array_equal(downsample(x, (8, 8), 1), x)
    with pytest.raises(GraphError, match="does not divide"):
        downsample(x, (8, 8), 3)
    with pytest.raises(GraphError, match="images must be"):
        downsample(x, (4, 4), 2)


@pytest.mark.parametrize("factor", [2, 4])
def test_upsampled_graph_computes_the_coarse_graph_on_downsampled_inputs(factor):
    side = 8 // factor
    g = gn.mlp([side * side, 12, 8, 10], density=0.5, seed=factor)
    second = int(g.neuron_ids[g.neuron_attr("level") == 2][0])
    gn.growth.add_edges(g, [g.inputs[0], g.inputs[1]], [g.outputs[0], second], [0.7, -0.3])
    b = g.neuron_ids[g.neuron_attr("level") > 0]
    g.write_parameters([], [], b, np.linspace(-0.5, 0.5, b.size))
    before = g.copy()
    fine = upsample_first_level(g, (8, 8), factor)
    fine.check()
    assert g.equals(before) and len(fine.inputs) == 64 and fine.inputs == list(range(64))
    from_in = np.isin(g.edge_list()[0], g.inputs)
    assert fine.num_edges == (~from_in).sum() + factor**2 * from_in.sum()
    assert fine.num_levels == g.num_levels and len(fine.outputs) == 10
    x = torch.randn(50, 64, generator=torch.Generator().manual_seed(0))
    coarse_out = gn.compile(g)(downsample(x, (8, 8), factor))
    fine_out = gn.compile(fine)(x)
    assert torch.allclose(fine_out, coarse_out, atol=1e-5)
    assert torch.allclose(gn.interpret(fine, x).float(), coarse_out, atol=1e-5)


def test_upsample_errors():
    g = gn.mlp([16, 4, 2], density=1.0, seed=0)
    with pytest.raises(GraphError, match="16 inputs"):
        upsample_first_level(g, (8, 8), 4)
    with pytest.raises(GraphError, match="factor"):
        upsample_first_level(g, (8, 8), 0)


def test_multires_fine_starts_where_coarse_ended_and_trains_on(digits):
    cfg = {"network": {"hidden": [32], "density": 0.5}, "progress": False}
    out = multires_train(cfg, factors=(2, 1), epochs_per_scale=(2, 1), data=digits)
    coarse, fine = out["scales"]
    assert (coarse["factor"], coarse["features"], fine["factor"], fine["features"]) == (
        2,
        16,
        1,
        64,
    )
    assert len(coarse["history"]) == 2 and len(fine["history"]) == 1
    assert fine["initial_test_acc"] == coarse["history"][-1]["test_acc"]
    start = upsample_first_level(coarse["graph"], (8, 8), 2)
    x_test = digits.x_test
    before = gn.compile(coarse["graph"])(downsample(x_test, (8, 8), 2)).argmax(1)
    after = gn.compile(start)(x_test).argmax(1)
    assert torch.equal(before, after)  # same predictions right after upsampling
    row = fine["history"][0]
    assert np.isfinite(row["loss"]) and row["test_acc"] > 0.8
    assert out["graph"] is fine["graph"] and out["graph"].num_edges == start.num_edges
    assert not np.array_equal(out["graph"].edge_list()[2], start.edge_list()[2])  # trained on
    assert out["graph"].step > 0


def test_multires_argument_errors(digits):
    with pytest.raises(GraphError, match="decreasing"):
        multires_train({}, factors=(1, 2), data=digits)
    with pytest.raises(GraphError, match="decreasing"):
        multires_train({}, factors=(4, 3), data=digits)
    with pytest.raises(GraphError, match="epochs_per_scale"):
        multires_train({}, factors=(2, 1), epochs_per_scale=(1,), data=digits)
    with pytest.raises(GraphError, match="not 4x4 images"):
        multires_train({}, image_shape=(4, 4), data=digits)
