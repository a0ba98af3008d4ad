"""The optimal seed finder: the smallest, sparsest networks that still learn the task above
chance, found from many small sparse initialisations trained briefly.

Candidates are drawn over hidden widths and densities (seeded), each trained ``epochs`` epochs
with the run's trainer and scored on held-out rows. A candidate *learns* when its accuracy beats
chance (``1 / classes``) by ``margin``; the learners are ranked by parameters (fewest first),
ties by accuracy, and the best ``keep`` are returned (and their graphs saved when ``out`` is
given). Candidates train in parallel processes when ``processes > 1``.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from graphnet.core.atomic import atomic_path
from graphnet.core.errors import GraphError

__all__ = ["seed_search", "HIDDEN_CHOICES", "DENSITY_CHOICES"]

HIDDEN_CHOICES = ([], [8], [16], [32], [64], [16, 8], [32, 16], [64, 32])
DENSITY_CHOICES = (0.01, 0.02, 0.05, 0.1, 0.2)


def _candidate(args: tuple) -> dict:
    import torch

    from compilers import compile as compile_graph
    from graphnet.evolution.config import EvolutionConfig
    from graphnet.evolution.evolve import load_data, seed_network
    from graphnet.evolution.protocols import Context, parameter_count
    from graphnet.evolution.trainer import EpochTrainer, evaluate, make_optimizer

    index, dataset, hidden, density, epochs, seed, data_seed, single_thread = args
    if single_thread:
        torch.set_num_threads(1)
    # one split for every candidate (the search's seed); each candidate its own network seed
    base = EvolutionConfig(
        seed=data_seed, network={"hidden": hidden, "density": density},
        data={"name": dataset, "validation_fraction": 0.2}, progress=False,
    )  # fmt: skip
    data, val = load_data(base)
    cfg = base.model_copy(update={"seed": seed})
    g = seed_network(cfg, data.num_features, data.num_classes)
    model = compile_graph(g)
    ctx = Context(g, model, make_optimizer(model, cfg.training), data, cfg)
    ctx.state["validation"] = val
    trainer = EpochTrainer()
    for epoch in range(epochs):
        ctx.epoch = epoch
        trainer.train(ctx)
    row = evaluate(ctx)
    from compilers import sync

    sync(g, ctx.model)  # the saved seeds carry the weights their brief training reached
    return {
        "index": index, "hidden": hidden, "density": density, "seed": seed,
        "parameters": parameter_count(g), "edges": g.num_edges, "val_acc": row["val_acc"],
        "test_acc": row["test_acc"], "classes": data.num_classes, "graph": g,
    }  # fmt: skip


def seed_search(
    dataset: str = "digits",
    *,
    candidates: int = 24,
    epochs: int = 3,
    keep: int = 5,
    margin: float = 0.1,
    seed: int = 0,
    processes: int = 1,
    out: str | os.PathLike | None = None,
) -> list[dict]:
    """The best ``keep`` seeds (see the module docstring), best first; each a dict with
    ``hidden``, ``density``, ``seed``, ``parameters``, ``edges``, ``val_acc``, ``test_acc``.

    Examples
    --------
    >>> best = seed_search(candidates=3, epochs=1, keep=1, margin=0.0)
    >>> len(best) <= 1 and all(b["val_acc"] > 0.1 for b in best)
    True
    """
    if candidates < 1 or keep < 1 or epochs < 1:
        raise GraphError("seed_search: candidates, keep and epochs must be at least 1")
    rng = np.random.default_rng(seed)
    jobs = [
        (i, dataset, list(HIDDEN_CHOICES[rng.integers(len(HIDDEN_CHOICES))]),
         float(DENSITY_CHOICES[rng.integers(len(DENSITY_CHOICES))]), epochs, seed + i, seed,
         processes > 1)
        for i in range(candidates)
    ]  # fmt: skip
    if processes > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(processes, mp.get_context("spawn")) as pool:
            results = list(pool.map(_candidate, jobs))
    else:
        results = [_candidate(j) for j in jobs]
    learners = [r for r in results if r["val_acc"] > 1.0 / r["classes"] + margin]
    learners.sort(key=lambda r: (r["parameters"], -r["val_acc"], r["index"]))
    best = learners[:keep]
    if out is not None:
        from graphnet.core.io_hdf5 import save

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        for rank, r in enumerate(best):
            save(r["graph"], out / f"seed_{rank}.h5")
        table = [{k: v for k, v in r.items() if k != "graph"} for r in results]
        with atomic_path(out / "candidates.json") as tmp:
            tmp.write_text(
                json.dumps({"dataset": dataset, "margin": margin, "candidates": table}, indent=2)
            )
    return [{k: v for k, v in r.items() if k != "graph"} for r in best]
