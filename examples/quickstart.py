"""graphnet quickstart: build a sparse MLP graph, edit it, round-trip it, print a summary.

    bash scripts/setup.sh && .venv/bin/python examples/quickstart.py

Until the compiler lands this shows the canonical model alone: every structural change is a
graph edit, checked and logged; every format is a lossless view of the same graph.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import graphnet as gn


def main(out_dir: Path) -> None:
    # 1. A sparse seed network for scikit-learn's 8x8 digits: 64 inputs, 10 classes, 2% density.
    g = gn.mlp([64, 128, 64, 10], density=0.02, seed=0)
    print("seed network:", repr(g))
    print(g.summary(), "\n")
    start = g.copy()

    # 2. Edits: a new hidden neuron, a zero-weight skip "highway" from the inputs to the
    #    outputs, an edge that needs room (lift=True raises its target), a pruned edge, a tag.
    n = g.add_neuron(level=2, activation="tanh", reason="widen level 2")
    g.add_edges(g.inputs[:4], [n] * 4, weight=0.0, reason="feed the new neuron")
    g.add_edges(g.inputs[:10], g.outputs, weight=0.0, reason="input->output highway")
    h = g.add_neuron(level=1, reason="a neuron that will need room")
    g.add_edge(n, h, weight=0.0, lift=True, reason="route level 2 into h")
    src, dst, w = g.edge_list()
    g.remove_edge(int(src[0]), int(dst[0]), reason="prune")
    g.tag("neuron", "patch", [n, h], reason="mark the new neurons")
    g.check()
    print(f"after {len(g.log)} logged edits:", repr(g))
    for rec in g.log:
        print("  ", rec)

    # 3. The log replays onto the starting graph exactly.
    assert gn.replay(start, g.log).equals(g)

    # 4. Lossless round trips: networkx, PyTorch Geometric, HDF5; GraphML for Gephi.
    assert gn.from_networkx(gn.to_networkx(g)).equals(g)
    data = gn.to_pyg(g)
    assert gn.from_pyg(data).equals(g)
    path = out_dir / "quickstart.h5"
    gn.save(g, path)
    loaded = gn.load(path)
    assert loaded.equals(g) and len(loaded.log) == len(g.log)
    gn.write_graphml(g, out_dir / "quickstart.graphml")
    print(
        f"\nround trips: networkx ok, PyG ok ({data.num_nodes} nodes, {data.num_edges} edges), "
        f"HDF5 ok ({path.stat().st_size / 1024:.1f} KiB at {path}), GraphML written"
    )
    print("\nfinal network:")
    print(g.summary())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="directory for the files (default: a temporary one)"
    )
    args = parser.parse_args()
    if args.out is None:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        main(args.out)
