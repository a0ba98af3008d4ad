"""Learning-rate multipliers: who is who on a grown graph, the multipliers each of the seeds'
strategies sets (against values worked out by hand), composition, and the optimizer hook
(a per-element learning rate for SGD, Adam, AdamW, RMSprop that follows edge ids)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call

import graphnet as gn
from graphnet.evolution.learning_rates import (
    LARS,
    SCHEDULES,
    AgeDecay,
    ComponentRates,
    Constant,
    DepthCascade,
    DualRates,
    EventDecay,
    GrowthAware,
    LRState,
    Multipliers,
    Only,
    PretrainedPlusNew,
    Product,
    ProgressiveFreezing,
    Sedimentary,
    SparsityAware,
    WarmUp,
    apply_multipliers,
    component_of,
    recommended,
    schedule_by_name,
)

# The grown graph of ``grown()``: mlp [4, 6, 5, 3] (levels 0-3, neurons 0-17, edges 0-68:
# 0-23 into level 1, 24-53 into level 2, 54-68 into level 3), then at step 10:
PATCH_N, PATCH_E = [18, 19], list(range(69, 77))  # patch on level 2: 69-72 in, 73-76 out (L3)
CLONE_N, CLONE_E = [20], list(range(77, 86))  # clone of 10 (level 2): 77-82 in, 83-85 out
HIGHWAY_E = list(range(86, 98))  # inputs -> outputs (into level 3)
EXTRA_E = 98  # 4 -> 17 (into level 3)
D1, D2 = 0.1 ** (1 / 3), 0.1 ** (2 / 3)  # the depth cascade on levels 2 and 3


def grown(tag: bool = False) -> gn.NeuronGraph:
    g = gn.mlp([4, 6, 5, 3], density=1.0, seed=0)
    g.step = 10
    assert gn.add_patch(g, [4, 5], [15, 16], size=2).edges_added.tolist() == PATCH_E
    assert gn.clone_neuron(g, 10).edges_added.tolist() == CLONE_E
    assert gn.add_highway(g, "inputs->outputs").edges_added.tolist() == HIGHWAY_E
    assert gn.add_edges(g, [4], [17]).edges_added.tolist() == [EXTRA_E]
    assert g.neuron_attr("level", [18, 19, 20]).tolist() == [2, 2, 2] and g.num_levels == 4
    if tag:  # as the evolution system would
        g.tag("edge", "component", HIGHWAY_E, "highway")
        g.tag("edge", "component", [EXTRA_E], "route")
    return g


EVENTS = [
    {"epoch": 2, "edges_added": PATCH_E + CLONE_E, "neurons_added": PATCH_N + CLONE_N},
    {"epoch": 4, "edges_added": HIGHWAY_E + [EXTRA_E], "neurons_added": []},
]


def at(m: Multipliers, edges=(), neurons=()) -> list[float]:
    """Multipliers of the given edge ids, then of the given neuron ids."""
    return [*m.edge_of(list(edges), fill=np.nan), *m.neuron_of(list(neurons), fill=np.nan)]


def approx(edges, neurons=()):
    return pytest.approx([*edges, *neurons])


# ---------------------------------------------------------------- who is who
def test_component_of_untagged_and_tagged():
    g = grown()
    c = component_of(g)
    names = dict(zip(g.edge_attr("id").tolist(), c.names("edge").tolist()))
    assert {names[e] for e in range(69)} == {"scaffold"}
    assert {names[e] for e in PATCH_E} == {"patch"}
    assert {names[e] for e in CLONE_E} == {"clone"}
    assert {names[e] for e in HIGHWAY_E + [EXTRA_E]} == {"new"}  # highways need their tag
    assert c.names("neuron").tolist() == ["scaffold"] * 18 + ["patch", "patch", "clone"]
    c = component_of(grown(tag=True))
    assert c.names("edge")[HIGHWAY_E].tolist() == ["highway"] * 12
    assert c.names("edge")[EXTRA_E] == "route"
    assert c.mask("edge", "new")[EXTRA_E] and not c.mask("edge", "new")[HIGHWAY_E].any()
    # everything born by step 10 is scaffold unless tagged
    c = component_of(grown(tag=True), scaffold_step=10)
    assert set(c.names("edge")[CLONE_E]) == {"clone"} and c.names("edge")[0] == "scaffold"


def test_component_tag_wins_and_unknown_values_are_new():
    g = grown()
    g.tag("edge", "component", [0], "residual")
    g.tag("neuron", "component", [18], "level")
    c = component_of(g)
    assert c.names("edge")[0] == "residual" and c.names("neuron")[18] == "level"
    g.tag("edge", "component", [1], "magic")  # a user's own rule: new structure
    assert component_of(g).names("edge")[1] == "new"


def test_schedules_leave_the_graph_alone():
    g = grown(tag=True)
    before, log = g.copy(), len(g.log)
    for name in SCHEDULES:
        if name != "lars":
            schedule_by_name(name)(LRState(g, epoch=5, events=EVENTS))
    assert g.equals(before) and len(g.log) == log


# ---------------------------------------------------------------- the twelve strategies
def test_1_depth_cascade():
    m = DepthCascade()(LRState(grown()))
    assert at(m, [0, 24, 54, 69, 73, 86, EXTRA_E], [0, 4, 10, 15, 18]) == approx(
        [1, D1, D2, D1, D2, D2, D2], [1, 1, D1, D2, D1]
    )


def test_2_dual_rates():
    g = grown()
    m = DualRates()(LRState(g, base_lr=1e-3))
    assert at(m, [0, 69, 73, 77, 90], [0, 10, 18, 20]) == approx(
        [0.1, 0.5, 0.5, 1, 1], [1, 0.1, 0.5, 1]
    )
    m = DualRates()(LRState(g, base_lr=5e-4))
    assert at(m, [0, 69]) == approx([0.2, 1.0], [])


@pytest.mark.parametrize(
    "unit, every, expect",  # scaffold, patch (event 1), highway (event 2)
    [
        ("epoch", 1, [0.5**5, 0.5**3, 0.5**1]),  # epoch 5: ages 5, 3, 1
        ("epoch", 2, [0.5**2, 0.5**1, 1.0]),
        ("event", 1, [0.5**2, 0.5**1, 1.0]),  # growth events since: 2, 1, 0
        ("step", 10, [0.5**3, 0.5**2, 0.5**2]),  # step 30: born 0 and 10
    ],
)
def test_3_age_decay(unit, every, expect):
    s = LRState(grown(), epoch=5, events=EVENTS, step=30)
    m = AgeDecay(0.5, every=every, unit=unit)(s)
    assert at(m, [0, 69, 86]) == pytest.approx(expect)


def test_4_component_rates():
    g = grown(tag=True)
    g.tag("edge", "component", [86], "level")
    s = LRState(g, base_lr=1e-3)
    m = ComponentRates()(s)  # scaffold 1e-4, patch 5e-4, residual and level 1e-3, others base
    assert at(m, [0, 69, 77, 86, 87], [10, 18]) == approx([0.1, 0.5, 1, 1, 1], [0.1, 0.5])
    m = ComponentRates({"scaffold": 1e-4, "new": 2e-3})(s)  # anything grown takes "new"
    assert at(m, [0, 69, 77, 87, EXTRA_E]) == pytest.approx([0.1, 2, 2, 2, 2])
    m = ComponentRates({"patch": 1e-3}, default=5e-4)(s)
    assert at(m, [0, 69, 77]) == pytest.approx([0.5, 1, 0.5])
    with pytest.raises(gn.GraphError, match="unknown kind 'neck'"):
        ComponentRates({"neck": 1e-3})


def test_5_pretrained_plus_new():
    s = LRState(grown(tag=True), base_lr=1e-3)
    m = PretrainedPlusNew()(s)
    assert at(m, [0, 69, 77, 86, EXTRA_E], [10, 18, 20]) == approx(
        [0.01, 0.5, 1, 1, 1], [0.01, 0.5, 1]
    )
    m = PretrainedPlusNew(adapters=("patch", "clone"))(s)
    assert at(m, [77], [20]) == approx([0.5], [0.5])


def test_6_growth_aware():
    g = grown()
    m = GrowthAware()(LRState(g, epoch=5, events=EVENTS, base_lr=1e-3))
    assert at(m, [0, 69, 86], [10, 18]) == approx([0.25, 0.5, 1], [0.25, 0.5])
    m = GrowthAware(fresh=1e-3)(LRState(g, epoch=5, events=EVENTS, base_lr=2e-3))
    assert at(m, [0, 69, 86]) == pytest.approx([0.25, 0.25, 0.5])
    m = GrowthAware()(LRState(g, epoch=3, events=EVENTS))  # event 2 is still to come
    assert at(m, [0, 69, 86]) == pytest.approx([0.5, 1, 0.5])


@pytest.mark.parametrize(
    "epoch, expect",  # scaffold, event 1 (epoch 2), event 2 (epoch 4)
    [(4, [1, 0.4, 0.2]), (6, [1, 0.8, 0.4]), (9, [1, 1, 1])],
)
def test_7_warm_up(epoch, expect):
    m = WarmUp(5)(LRState(grown(), epoch=epoch, events=EVENTS))
    assert at(m, [0, 69, 86]) == pytest.approx(expect)
    assert m.neuron_of([18])[0] == pytest.approx(expect[1])


def test_8_lars():
    g = grown()
    model = gn.compile(g)
    levels = g.neuron_attr("level", g.edge_attr("dst"))
    level_of_value = levels[np.searchsorted(g.edge_attr("id"), model.edge_ids().numpy())]
    scale = torch.tensor([0.0, 2.0, 4.0, 0.5])[torch.from_numpy(level_of_value.astype(np.int64))]
    model.values.grad = scale * model.values.detach()  # |grad| / |w| = 2, 4, 0.5 per level
    m = LARS(eps=0.0)(LRState(g, model=model))
    assert at(m, [0, 24, 69, 54, 86], [0, 4, 10, 15]) == approx(
        [0.5, 0.25, 0.25, 2, 2], [1, 0.5, 0.25, 2]
    )
    with torch.no_grad():  # a level with all weights zero keeps its rate
        model.values[torch.from_numpy(level_of_value == 1)] = 0.0
    assert at(LARS()(LRState(g, model=model)), [0]) == [1.0]
    with pytest.raises(gn.GraphError, match="LARS needs the compiled model"):
        LARS()(LRState(g))
    model.values.grad = None
    with pytest.raises(gn.GraphError, match="LARS needs gradients"):
        LARS()(LRState(g, model=model))
    model.values.grad = torch.ones_like(model.values)
    g.add_edge(0, 14)
    with pytest.raises(gn.GraphError, match="recompile first"):
        LARS()(LRState(g, model=model))


def test_9_progressive_freezing():
    g = grown()
    ids = ([0, 24, 54, 69, 86], [4, 10, 15])  # levels 1, 2, 3, 2, 3 and 1, 2, 3
    m = ProgressiveFreezing()
    assert at(m(LRState(g, phase="coarse")), *ids) == [1.0] * 8
    assert at(m(LRState(g, phase="medium", base_lr=1e-3)), *ids) == approx(
        [0.01, 0.01, 0.1, 0.01, 0.1], [0.01, 0.01, 0.1]
    )
    assert at(m(LRState(g, phase="fine", base_lr=1e-3)), *ids) == approx(
        [0, 0, 0.1, 0, 0.1], [0, 0, 0.1]
    )
    assert at(ProgressiveFreezing(phases=("a", "b", "c"))(LRState(g, phase="c")), [0]) == [0]
    with pytest.raises(gn.GraphError, match="unknown phase 'warmup'"):
        m(LRState(g, phase="warmup"))


def test_10_event_decay():
    # event 1 grew levels 2 and 3 (its neurons on 2, its edges into 2 and 3); event 2 level 3
    m = EventDecay()(LRState(grown(), epoch=5, events=EVENTS))
    assert at(m, [0, 24, 54, 69, 73, 86], [0, 4, 18, 15]) == approx(
        [0.7 * 0.5, 0.9 * 0.7, 0.9 * 0.9, 0.7, 0.9, 1.0],  # 69, 73: only event 2 decays them
        [1.0, 0.7 * 0.5, 0.7, 0.9 * 0.9],
    )


def test_11_sparsity_aware():
    g = gn.mlp([10, 10, 10], density=1.0, seed=0)  # blocks (0, 1) and (1, 2): 100 edges each
    g.remove_edges(list(range(5, 100)))  # block (0, 1): 5 / 100 edges
    e = g.add_edge(0, 20)  # block (0, 2): 1 / 100 edges
    m = SparsityAware()(LRState(g))
    assert at(m, [0, 4, 100, 199, e], [0, 10, 20]) == approx([1, 1, 0.5, 0.5, 2], [1, 1, 1])


def test_12_sedimentary():
    g = grown(tag=True)
    m = Sedimentary()(LRState(g, epoch=5, events=EVENTS, base_lr=1e-3))
    # scaffold 1e-5, patches 5e-4, clone (event 1) 1e-4, highway and route (event 2) 1e-3
    assert at(m, [0, 69, 77, 86, EXTRA_E], [10, 18, 20]) == approx(
        [0.01, 0.5, 0.1, 1, 1], [0.01, 0.5, 0.1]
    )
    assert at(Sedimentary(active_events=2)(LRState(g, epoch=5, events=EVENTS)), [77]) == [1.0]
    m = Sedimentary()(LRState(g, epoch=3, events=EVENTS))  # event 2 still to come
    assert at(m, [77, 86]) == pytest.approx([1, 0.1])


def test_recommended_combination():
    g = grown()
    m = recommended()(LRState(g, epoch=5, events=EVENTS))
    # scaffold: depth x 0.1 ** (5 // 20); patch (event 1): 0.5 x warm-up 3/5; clone: 3/5;
    # highway (event 2): 1/5
    assert at(m, [0, 24, 54, 69, 77, 86], [10, 18, 20]) == approx(
        [1, D1, D2, 0.3, 0.6, 0.2], [D1, 0.3, 0.6]
    )
    m = recommended()(LRState(g, epoch=45, events=EVENTS))
    assert at(m, [0, 54, 69, 77, 86]) == pytest.approx([0.01, D2 * 0.01, 0.5, 1, 1])


# ---------------------------------------------------------------- composition and state
def test_product_and_only_compose():
    s = LRState(grown(tag=True), epoch=4, events=EVENTS)
    a, b = DualRates(), WarmUp()
    p = (a * b)(s)
    assert isinstance(a * b, Product)
    np.testing.assert_allclose(p.edge, a(s).edge * b(s).edge)
    np.testing.assert_allclose(p.neuron, a(s).neuron * b(s).neuron)
    assert set(Product()(s).edge) == {1.0}
    m = Only("clone", Constant(0.0))(s)
    assert at(m, [0, 76, 77, 85, 86], [19, 20]) == [1, 1, 0, 0, 1, 1, 0]
    m = Only("new", Constant(0.5))(s)  # "new" includes the evolution system's route edges
    assert at(m, [0, 86, EXTRA_E]) == [1, 1, 0.5]


def test_lr_state_checks_its_input():
    g = grown()
    assert LRState(g).step == 10
    assert LRState(g, epoch=3, events=EVENTS).added("edge")[0][[69, 86]].tolist() == [2, -1]
    with pytest.raises(gn.GraphError, match="event 0 needs an 'epoch'"):
        LRState(g, events=[{"edges_added": [1]}])
    with pytest.raises(gn.GraphError, match="a count is not enough"):
        LRState(g, events=[{"epoch": 1, "edges_added": 8}])
    with pytest.raises(gn.GraphError, match="base_lr must be a finite number > 0"):
        LRState(g, base_lr=0.0)
    with pytest.raises(gn.GraphError, match="WarmUp: epochs must be a finite number > 0"):
        WarmUp(0)
    with pytest.raises(gn.GraphError, match="unknown learning-rate schedule 'fast'"):
        schedule_by_name("fast")


def test_multipliers_container():
    m = Multipliers([5, 2], [0.5, 0.0], [1], [2.0])
    assert m.edge_ids.tolist() == [2, 5] and m.edge.tolist() == [0.0, 0.5]
    assert m.edge_of([5, 9]).tolist() == [0.5, 1.0]
    with pytest.raises(gn.GraphError, match="multiplier of edge 2 is -1.0"):
        Multipliers([2], [-1.0], [], [])
    with pytest.raises(gn.GraphError, match="edge 2 is given two multipliers"):
        Multipliers([2, 2], [1.0, 1.0], [], [])
    with pytest.raises(gn.GraphError, match="cover different edges"):
        m * Multipliers([2], [1.0], [1], [1.0])


# ---------------------------------------------------------------- the optimizer hook
OPTIMIZERS = {
    "sgd": (torch.optim.SGD, {"lr": 0.05}),
    "sgd_momentum_wd": (
        torch.optim.SGD,
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    ),
    "adam": (torch.optim.Adam, {"lr": 0.01}),
    "adamw": (torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 0.01, "momentum": 0.5}),
}
EDGE_M, NEURON_M = [0.0, 0.1, 0.5, 1.0, 2.0], [0.25, 1.0, 0.0]


def _pattern(g: gn.NeuronGraph) -> Multipliers:
    eids, nids = g.edge_attr("id"), g.neuron_ids
    return Multipliers(
        eids, np.take(EDGE_M, eids % 5), nids, np.take(NEURON_M, nids % 3).astype(float)
    )


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_hook_is_a_per_element_learning_rate(name):
    cls, kw = OPTIMIZERS[name]
    g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    model = gn.compile(g)
    mult = _pattern(g)
    # reference: one scalar parameter per element, in its own group with lr * multiplier
    m_v = mult.edge_of(model.edge_ids().numpy())
    m_b = mult.neuron_of(model.neuron_ids().numpy())
    ref_v = [torch.nn.Parameter(x.reshape(1).clone()) for x in model.values.detach()]
    ref_b = [torch.nn.Parameter(x.reshape(1).clone()) for x in model.bias.detach()]
    groups = [{"params": [p], "lr": kw["lr"] * m} for p, m in zip(ref_v + ref_b, [*m_v, *m_b])]
    ref_opt = cls(groups, **{k: v for k, v in kw.items() if k != "lr"})
    opt = cls(model.parameters(), **kw)
    hook = apply_multipliers(model, opt, mult)
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(0))
    for _ in range(4):
        opt.zero_grad()
        ref_opt.zero_grad()
        (model(x) ** 2).mean().backward()
        ref = functional_call(model, {"values": torch.cat(ref_v), "bias": torch.cat(ref_b)}, (x,))
        (ref**2).mean().backward()
        opt.step()
        ref_opt.step()
    torch.testing.assert_close(model.values.detach(), torch.cat(ref_v).detach())
    torch.testing.assert_close(model.bias.detach(), torch.cat(ref_b).detach())
    frozen = torch.from_numpy(m_v == 0)
    assert frozen.any() and hook.active


def test_multiplier_zero_freezes_exactly_and_ones_cost_nothing():
    g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    model, plain = gn.compile(g), gn.compile(g)
    opt = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.5)
    plain_opt = torch.optim.AdamW(plain.parameters(), lr=0.05, weight_decay=0.5)
    hook = apply_multipliers(model, opt, Multipliers.ones(g))
    assert not hook.active
    x = torch.randn(8, 3)
    for m, o in ((model, opt), (plain, plain_opt)):
        (m(x) ** 2).mean().backward()
        o.step()
    assert torch.equal(model.values, plain.values)  # all ones: the plain step, bit for bit
    eids = g.edge_attr("id")
    hook.update(Multipliers(eids, (eids % 2).astype(float), [], []))
    start = model.values.detach().clone()
    for _ in range(3):
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()
    even = torch.from_numpy(model.edge_ids().numpy() % 2 == 0)
    assert torch.equal(model.values.detach()[even], start[even])  # frozen despite decay
    assert (model.values.detach()[~even] != start[~even]).all()
    hook.remove()
    opt.step()
    assert not torch.equal(model.values.detach()[even], start[even])


def test_rebind_after_recompile_follows_edge_ids():
    g = gn.mlp([4, 6, 5, 3], density=1.0, seed=0, activation="tanh")  # no dead units
    model = gn.compile(g)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    eids, nids = g.edge_attr("id"), g.neuron_ids
    hook = apply_multipliers(
        model, opt, Multipliers(eids, (eids % 2).astype(float), nids, (nids % 2).astype(float))
    )
    x = torch.randn(8, 4)
    (model(x) ** 2).mean().backward()
    opt.step()
    g.step = 10
    gn.add_patch(g, [4, 5], [15, 16], size=2)
    new, opt = gn.recompile(g, model, opt)
    old_e, new_e = model.edge_ids().numpy(), new.edge_ids().numpy()
    assert not np.array_equal(new_e[: old_e.size], old_e)  # edges moved within values
    opt.zero_grad()
    (new(x) ** 2).mean().backward()
    with pytest.raises(gn.GraphError, match="call hook.rebind"):
        opt.step()
    hook.rebind(new, opt)
    before_v, before_b = new.values.detach().clone(), new.bias.detach().clone()
    opt.step()
    moved_v = (new.values.detach() != before_v).numpy()
    moved_b = (new.bias.detach() != before_b).numpy()
    known = np.isin(new_e, eids)
    assert not moved_v[known & (new_e % 2 == 0)].any()  # frozen by id, wherever they went
    assert moved_v[known & (new_e % 2 == 1)].all()
    assert moved_v[~known].any()  # the patch's edges train at the optimizer's rate
    new_n = new.neuron_ids().numpy()
    assert not moved_b[np.isin(new_n, nids) & (new_n % 2 == 0)].any()


def test_apply_multipliers_refuses_what_it_cannot_drive():
    g = gn.mlp([2, 1], density=1.0, seed=0)
    model = gn.compile(g)
    with pytest.raises(gn.GraphError, match="module made by gn.compile"):
        apply_multipliers(torch.nn.Linear(2, 1), torch.optim.SGD([model.values], lr=1), None)
    other = torch.nn.Parameter(torch.zeros(1))
    with pytest.raises(gn.GraphError, match="holds neither model.values nor model.bias"):
        apply_multipliers(model, torch.optim.SGD([other], lr=1.0), Multipliers.ones(g))
