"""Hypothesis strategies for graphnet tests.

``neuron_graphs()`` draws small, valid :class:`graphnet.NeuronGraph` objects built only through
public edits, so that every graph also carries a realistic edit log:

* inputs, hidden neurons on several levels and outputs, added in random order and batches,
  with random activations and biases;
* edges between rising levels with random finite float32 weights and lr multipliers, some
  added with ``lift=True`` (which may lift neurons);
* removals of edges, hidden neurons (so neuron and edge ids have gaps) and, now and then, an
  output (``change_io=True``);
* attribute edits (``set_edge_attr`` for lr, weight and born, ``set_neuron_attr``);
* tags on neurons and edges with bool, int and str values, some removed again;
* a changing ``g.step`` so that ``born`` values and log steps vary.

Import it from test files as ``from strategies import neuron_graphs`` (pytest puts ``tests/``
on ``sys.path``).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import graphnet as gn

__all__ = ["neuron_graphs", "tag_values", "finite_f32", "awkward_text", "MAX_NEURONS"]

MAX_NEURONS = 30

finite_f32 = st.floats(allow_nan=False, allow_infinity=False, width=32)
"""Any finite float32 (zero, subnormals and extremes included)."""

small_f32 = st.floats(-4.0, 4.0, allow_nan=False, width=32)
lr_values = st.one_of(st.just(0.0), st.floats(0.0, 1e6, allow_nan=False, width=32))
# Strings that file formats trip over: NUL, control characters, a lone surrogate, markup.
awkward_text = st.sampled_from(["\x00", "a\x00b", "\x01", "\ud800", "<&>\"'", "é\u2028"])
texts = st.one_of(st.text(max_size=10), awkward_text)
reasons = st.one_of(st.just(""), st.sampled_from(["grow", "prune", "widen", "split"]), texts)
tag_values = st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1), texts)
"""Tag values: bool, int (int64 range) and str (awkward ones included)."""
# Names of the node and edge attributes that to_networkx writes: a tag of that name cannot go
# through networkx (to_networkx refuses it, see test_io_errors.py), so graphs here avoid them.
RESERVED_TAG_NAMES = ("level", "role", "activation", "bias", "born", "weight", "id", "lr")
tag_names = st.one_of(
    st.sampled_from(["frozen", "patch", "group", "origin", "name"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).filter(
        lambda s: s not in RESERVED_TAG_NAMES
    ),
)


def _subset(draw, items, max_size=None):
    """A random sub-list of ``items`` (order kept)."""
    items = list(items)
    if not items:
        return []
    mask = draw(st.lists(st.booleans(), min_size=len(items), max_size=len(items)))
    out = [x for x, keep in zip(items, mask) if keep]
    return out[:max_size] if max_size is not None else out


def _candidates(g: gn.NeuronGraph) -> list[tuple[int, int]]:
    """Pairs (u, v) that may get a new edge without lifting: rising, not into an input, not
    out of an output, not already there."""
    ids = g.neuron_ids
    if ids.size == 0:
        return []
    level = g.neuron_attr("level", ids)
    role = g.neuron_attr("role", ids)
    i, j = np.meshgrid(np.arange(ids.size), np.arange(ids.size), indexing="ij")
    i, j = i.ravel(), j.ravel()
    ok = (role[i] != 2) & (role[j] != 0) & (level[i] < level[j])
    u, v = ids[i[ok]], ids[j[ok]]
    if u.size:
        fresh = g.edge_ids(u, v) < 0
        u, v = u[fresh], v[fresh]
    return list(zip(u.tolist(), v.tolist()))


def _add_some_edges(draw, g: gn.NeuronGraph, max_edges: int) -> None:
    cand = _candidates(g)
    if not cand:
        return
    picked = draw(st.permutations(_subset(draw, cand, max_size=max_edges)))
    if not picked:
        return
    src, dst = zip(*picked)
    weight = draw(st.lists(finite_f32 | small_f32, min_size=len(picked), max_size=len(picked)))
    lr = draw(
        st.one_of(
            st.just(1.0), lr_values, st.lists(lr_values, min_size=len(picked), max_size=len(picked))
        )
    )
    g.add_edges(list(src), list(dst), weight, lr=lr, reason=draw(reasons))


def _tag_some(draw, g: gn.NeuronGraph) -> None:
    for on in ("neuron", "edge"):
        ids = g.neuron_ids.tolist() if on == "neuron" else g.edge_attr("id").tolist()
        for _ in range(draw(st.integers(0, 2))):
            chosen = _subset(draw, ids)
            if not chosen:
                continue
            name = draw(tag_names)
            if draw(st.booleans()):
                value = draw(tag_values)
            else:
                value = draw(st.lists(tag_values, min_size=len(chosen), max_size=len(chosen)))
            g.tag(on, name, chosen, value, reason=draw(reasons))


@st.composite
def neuron_graphs(draw, max_neurons: int = MAX_NEURONS) -> gn.NeuronGraph:
    """A random valid NeuronGraph of at most ``max_neurons`` neurons, made by public edits."""
    g = gn.NeuronGraph()
    g.step = draw(st.integers(0, 5))
    n_levels = draw(st.integers(0, 3))  # hidden levels 1..n_levels
    top = n_levels + 1
    budget = max_neurons
    n_in = draw(st.integers(0, min(4, budget)))
    budget -= n_in
    n_out = draw(st.integers(0, min(3, budget)))
    budget -= n_out
    n_hidden = draw(st.integers(0, min(4 * n_levels, budget - 4))) if n_levels and budget > 4 else 0
    budget -= n_hidden

    batches: list[tuple[str, int]] = []
    if n_in:
        split = draw(st.integers(0, n_in))
        batches += [("input", k) for k in (split, n_in - split) if k]
    if n_out:
        batches.append(("output", n_out))
    while n_hidden:
        k = draw(st.integers(1, n_hidden))
        batches.append(("hidden", k))
        n_hidden -= k
    batches = draw(st.permutations(batches))
    for at, (role, k) in enumerate(batches):
        reason = draw(reasons)
        if role == "input":
            g.add_neurons(k, role="input", reason=reason)
            continue
        acts = draw(
            st.one_of(
                st.none(),
                st.sampled_from(gn.ACTIVATIONS),
                st.lists(st.sampled_from(gn.ACTIVATIONS), min_size=k, max_size=k),
            )
        )
        bias = draw(
            st.one_of(st.just(0.0), st.lists(finite_f32 | small_f32, min_size=k, max_size=k))
        )
        if role == "output":
            # level=None puts the outputs just above the highest hidden neuron: only when no
            # hidden neuron comes later (it might need a level above that).
            later_hidden = any(r == "hidden" for r, _ in batches[at + 1 :])
            level = top if later_hidden else draw(st.sampled_from([None, top]))
            g.add_neurons(k, role="output", level=level, activation=acts, bias=bias, reason=reason)
        else:
            level = draw(st.lists(st.integers(1, n_levels), min_size=k, max_size=k))
            g.add_neurons(k, role="hidden", level=level, activation=acts, bias=bias, reason=reason)

    g.step = draw(st.integers(g.step, g.step + 100))
    _add_some_edges(draw, g, max_edges=40)
    _tag_some(draw, g)

    # Skip edges that may need a lift; refused ones (cycles, inputs, outputs) change nothing.
    ids = g.neuron_ids.tolist()
    if len(ids) >= 2:
        for _ in range(draw(st.integers(0, 3))):
            u, v = draw(st.sampled_from(ids)), draw(st.sampled_from(ids))
            try:
                g.add_edge(u, v, weight=draw(small_f32), lift=True, reason=draw(reasons))
            except gn.GraphError:
                pass
    hidden = [n for n in ids if g.neuron(n)["role"] == "hidden"]
    if hidden and draw(st.booleans()):
        g.lift(draw(st.sampled_from(hidden)), by=draw(st.integers(1, 2)), reason=draw(reasons))

    # Removals: edges, hidden neurons (cascading), now and then an output.
    g.step = draw(st.integers(g.step, g.step + 100))
    gone = _subset(draw, g.edge_attr("id").tolist())
    if gone:
        g.remove_edges(gone, reason=draw(reasons))
    hidden = [n for n in g.neuron_ids.tolist() if g.neuron(n)["role"] == "hidden"]
    gone = _subset(draw, hidden)
    if gone:
        g.remove_neurons(gone, cascade=True, reason=draw(reasons))
    if g.outputs and draw(st.integers(0, 4)) == 0:
        g.remove_neuron(
            draw(st.sampled_from(g.outputs)), cascade=True, change_io=True, reason=draw(reasons)
        )

    # More neurons and edges after the removals, so gaps sit between live ids.
    g.step = draw(st.integers(g.step, g.step + 100))
    levels_free = g.num_levels - 1 if g.outputs else max(g.num_levels, 2)
    room = max_neurons - g.next_neuron_id
    if room > 0 and levels_free > 1 and draw(st.booleans()):
        k = draw(st.integers(1, min(3, room)))
        g.add_neurons(
            k,
            role="hidden",
            level=draw(st.integers(1, levels_free - 1)),
            activation=draw(st.sampled_from(gn.ACTIVATIONS)),
            reason=draw(reasons),
        )
    _add_some_edges(draw, g, max_edges=10)

    # Attribute edits.
    eids = g.edge_attr("id").tolist()
    chosen = _subset(draw, eids)
    if chosen:
        g.set_edge_attr(
            "lr",
            chosen,
            draw(st.lists(lr_values, min_size=len(chosen), max_size=len(chosen))),
            reason=draw(reasons),
        )
    chosen = _subset(draw, eids)
    if chosen:
        g.set_edge_attr("weight", chosen, draw(finite_f32), reason=draw(reasons))
    chosen = _subset(draw, eids)
    if chosen:
        g.set_edge_attr("born", chosen, draw(st.integers(0, 10**6)), reason=draw(reasons))
    inner = [n for n in g.neuron_ids.tolist() if g.neuron(n)["role"] != "input"]
    chosen = _subset(draw, inner)
    if chosen:
        g.set_neuron_attr(
            "bias",
            chosen,
            draw(st.lists(finite_f32, min_size=len(chosen), max_size=len(chosen))),
            reason=draw(reasons),
        )
    chosen = _subset(draw, inner)
    if chosen:
        g.set_neuron_attr(
            "activation", chosen, draw(st.sampled_from(gn.ACTIVATIONS)), reason=draw(reasons)
        )
    chosen = _subset(draw, g.neuron_ids.tolist())
    if chosen:
        g.set_neuron_attr("born", chosen, draw(st.integers(0, 10**6)), reason=draw(reasons))

    # Tags after the removals, and an untag.
    _tag_some(draw, g)
    for on in ("neuron", "edge"):
        names = g.tag_names(on)
        if names and draw(st.booleans()):
            name = draw(st.sampled_from(names))
            g.untag(on, name, _subset(draw, sorted(g.tags(on, name))), reason=draw(reasons))

    g.step = draw(st.integers(g.step, g.step + 100))
    g.check()
    assert g.num_neurons <= max_neurons
    return g
