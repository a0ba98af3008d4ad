"""Plots draw what they are given and land in files (written atomically)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import analysis  # noqa: E402
import graphnet as gn  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _png(path):
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    assert img.std() > 0  # not a blank canvas
    return img


def test_persistence_diagram_and_barcode(tmp_path):
    g = gn.mlp([4, 4, 3], density=1.0, seed=0)
    d = analysis.persistence_diagram(g)
    ax = analysis.plot_persistence(d, path=tmp_path / "diagram.png")
    n_points = sum(len(c.get_offsets()) for c in ax.collections)
    assert n_points == sum(len(v) for v in d.values())
    _png(tmp_path / "diagram.png")
    ax = analysis.plot_persistence(d, kind="barcode", path=tmp_path / "barcode.png")
    assert len([ln for ln in ax.lines if len(ln.get_xdata()) == 2]) >= sum(
        len(v) for v in d.values()
    )
    _png(tmp_path / "barcode.png")
    with pytest.raises(gn.GraphError, match="kind is 'diagram' or 'barcode'"):
        analysis.plot_persistence(d, kind="pie")


def test_degrees_activations_and_information(tmp_path):
    g = gn.mlp([6, 5, 3], density=0.6, seed=1)
    g.set_neuron_attr("bias", [6], [-50.0])  # a dead neuron to mark
    model = gn.compile(g)
    x = torch.randn(40, 6)
    ax = analysis.plot_degrees(g, path=tmp_path / "degrees.png")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["level 1", "level 2"]
    _png(tmp_path / "degrees.png")
    acts = analysis.level_activations(g, model, x)
    order = model.slot_order.numpy()
    ids = {lv: order[g.neuron_attr("level", order) == lv] for lv in acts}
    ext = analysis.extrema(g, model, x)
    ax = analysis.plot_activations(acts, ids, ext, path=tmp_path / "acts.png")
    assert ax.images[0].get_array().shape == (g.num_neurons, 40)
    assert any(ln.get_color() == "black" for ln in ax.lines)  # the dead neuron is marked
    _png(tmp_path / "acts.png")
    flow = analysis.information_flow(g, model, x, torch.randint(0, 3, (40,)))
    ax = analysis.plot_information(flow, path=tmp_path / "info.png")
    assert len(ax.patches) == 2 * len(flow["per_level"])
    _png(tmp_path / "info.png")
