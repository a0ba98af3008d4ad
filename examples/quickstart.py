"""graphnet quickstart: train a sparse network on digits, grow it by graph edits, keep learning.

    bash scripts/setup.sh && .venv/bin/python examples/quickstart.py

1. a sparse seed network (10% of the connections of a 64-128-64-10 MLP) as a NeuronGraph;
2. compiled to PyTorch and trained on scikit-learn's digits (embedded: nothing is downloaded);
3. grown by graph edits — a zero-weight input->output highway and a new hidden neuron — and
   recompiled with the trained weights and the Adam state carried, then trained on;
4. the edits replayed from the log, and lossless round trips through networkx, PyG and HDF5.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import graphnet as gn
from graphnet.train import digits, fit_classifier


def main(out_dir: Path, epochs: int = 20, progress: bool = True) -> float:
    data = digits(seed=0)
    g = gn.mlp([64, 128, 64, 10], density=0.1, seed=0)
    print("seed network:", repr(g), f"(density {g.summary().density:.3f})")

    model, opt, hist = fit_classifier(g, data, epochs=epochs, lr=0.01, progress=progress)
    print(f"trained {epochs} epochs: test accuracy {hist[-1]['test_acc']:.3f}")

    # Growth is a graph edit: write the trained weights back, edit, recompile.
    gn.sync(g, model)
    start = g.copy()
    src = g.inputs[::4]  # every 4th pixel straight to an output: a zero-weight highway
    g.add_edges(src, [g.outputs[i % 10] for i in range(len(src))], weight=0.0, reason="highway")
    n = g.add_neuron(level=2, activation="tanh", reason="widen level 2")
    g.add_edges(g.inputs[:8], [n] * 8, weight=0.0, reason="feed the new neuron")
    g.add_edges([n] * 10, g.outputs, weight=0.0, reason="the new neuron feeds the outputs")
    g.check()
    model, opt = gn.recompile(g, model, opt)
    print(f"grown by {len(g.log) - len(start.log)} logged edits:", repr(g))
    for rec in g.log.since(len(start.log)):
        print("  ", rec)
    acc_after_edit = gn.train.accuracy(model, data.x_test, data.y_test)
    print(f"test accuracy right after the edits (function preserved): {acc_after_edit:.3f}")
    model, opt, hist2 = fit_classifier(
        g, data, epochs=epochs // 2, model=model, optimizer=opt, progress=progress
    )
    final = hist2[-1]["test_acc"]
    print(f"trained {epochs // 2} more epochs: test accuracy {final:.3f}")

    # The log replays the edits; every format is a lossless view of the same graph.
    gn.sync(g, model)
    edited = gn.replay(start, g.log.since(len(start.log)))
    assert edited.num_edges == g.num_edges and edited.neuron_ids.tolist() == g.neuron_ids.tolist()
    assert gn.from_networkx(gn.to_networkx(g)).equals(g)
    assert gn.from_pyg(gn.to_pyg(g)).equals(g)
    path = out_dir / "quickstart.h5"
    gn.save(g, path)
    assert gn.load(path).equals(g)
    gn.write_graphml(g, out_dir / "quickstart.graphml")
    print(
        f"round trips: networkx, PyG, HDF5 ({path.stat().st_size / 1024:.0f} KiB) ok; GraphML written"
    )
    print("\nfinal network:")
    print(g.summary())
    return final


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="directory for the files (default: a temporary one)"
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args()
    if args.out is None:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp), args.epochs, not args.no_progress)
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        main(args.out, args.epochs, not args.no_progress)
