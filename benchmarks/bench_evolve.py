"""Where the time of an evolution run goes (issue 7): training, evaluation, and analysis +
growth (analysers, rule proposals, tournament, edit, recompile, growth snapshot), against the
whole wall time of a default ``gn.evolve`` run on digits.

Run by hand from the repository root (not a test)::

    .venv/bin/python benchmarks/bench_evolve.py [--epochs N] [--repeats R] [--json out.json]

Target: analysis + growth <= 20% of the wall time of a default run. Everything else (metrics
files, snapshots on improvement, resume points) is reported as "files".
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import graphnet as gn


def one_run(epochs: int | None, seed: int) -> dict:
    cfg = {"seed": seed, "progress": False}
    if epochs:
        cfg["stop"] = {"max_epochs": epochs}
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        run = gn.evolve(cfg, dir=d)
        wall = time.perf_counter() - t0
        ens = run.ensemble("mean", last=5)
        vote = run.ensemble("vote", last=5)
        snapshots = len(run.snapshots.list())
    h = run.history
    train = sum(r["extra"]["train_seconds"] for r in h)
    ev = sum(r["extra"]["eval_seconds"] for r in h)
    growth = sum(r["extra"]["growth_seconds"] for r in h)
    return {
        "seed": seed,
        "epochs": len(h),
        "events": len(run.events),
        "wall_s": wall,
        "train_s": train,
        "eval_s": ev,
        "growth_s": growth,
        "files_and_setup_s": wall - train - ev - growth,
        "growth_share": growth / wall,
        "final_test_acc": h[-1]["test_acc"],
        "edges": run.graph.num_edges,
        "stopped": run.stopped,
        "ensemble_mean_acc": ens["ensemble_acc"],
        "ensemble_vote_acc": vote["ensemble_acc"],
        "snapshots": snapshots,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=None, help="default: the config's epoch limit")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    gn.evolve({"stop": {"max_epochs": 1}, "progress": False})  # warm imports and caches
    rows = [one_run(args.epochs, seed) for seed in range(args.repeats)]
    for r in rows:
        print(
            f"seed {r['seed']}: {r['epochs']} epochs, {r['events']} growth events, wall "
            f"{r['wall_s']:.2f} s = train {r['train_s']:.2f} + eval {r['eval_s']:.2f} + analysis"
            f"/growth {r['growth_s']:.2f} ({r['growth_share']:.1%}) + files/setup "
            f"{r['files_and_setup_s']:.2f}; test acc {r['final_test_acc']:.3f}, {r['edges']} edges; ensemble of the last 5 of "
            f"{r['snapshots']} snapshots: mean {r['ensemble_mean_acc']:.3f}, vote {r['ensemble_vote_acc']:.3f}"
        )
    share = statistics.median(r["growth_share"] for r in rows)
    print(f"median analysis + growth share: {share:.1%} (target <= 20%)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
