"""Fixed-structure baselines, trained exactly as :func:`graphnet.evolve` trains (same data,
initialisation, optimizer, batches, evaluation and run-directory files), so that a grown network
and a baseline differ in their structure alone.

========  ==================================================================================
method    structure
========  ==================================================================================
dense     the full MLP of the config's widths
random    a fixed random sparse MLP at ``density``
set       ``density``, rewired every ``every`` epochs at random (SET), cosine-decaying fraction
rigl      ``density``, rewired every ``every`` epochs by gradient (RigL), same schedule
========  ==================================================================================
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import torch

from compilers import compile as compile_graph
from compilers import recompile, sync
from graphnet.core.errors import GraphError
from graphnet.core.io_hdf5 import save
from graphnet.evolution.config import EvolutionConfig, as_config
from graphnet.evolution.evolve import (
    dense_parameters,
    load_data,
    mlp_density,
    seed_network,
)
from graphnet.evolution.protocols import Context, parameter_count
from graphnet.evolution.records import RunSummary, write_summary
from graphnet.evolution.run_store import RunStore, clear_run
from graphnet.evolution.trainer import (
    EpochTrainer,
    data_on,
    evaluate,
    make_optimizer,
    resolve_batch_size,
    resolve_device,
)  # fmt: skip
from graphnet.growth.rewire import cosine_fraction, edge_gradients, rewire
from graphnet.train.classifier import epoch_bar
from graphnet.train.data import Dataset

__all__ = ["BASELINES", "train_baseline"]

BASELINES = ("dense", "random", "set", "rigl")


def train_baseline(
    method: str,
    config: EvolutionConfig | dict | None = None,
    *,
    density: float | None = None,
    dir: str | os.PathLike | None = None,
    every: int = 5,
    fraction: float = 0.3,
    data: Dataset | None = None,
    label: str = "",
    overwrite: bool = False,
) -> dict:
    """Train a fixed-structure baseline as the config says; write a run directory.

    ``density`` (default: the config's seed density) is the share of the dense MLP's edges;
    ``dense`` ignores it. A directory holding a finished run is refused unless ``overwrite``.
    Returns ``{"graph", "model", "history", "dir", "summary"}``.

    Examples
    --------
    >>> out = train_baseline("random", {"network": {"hidden": [16]}, "stop": {"max_epochs": 2},
    ...                      "progress": False}, density=0.2)
    >>> out["summary"].method, len(out["history"])
    ('random', 2)
    """
    if method not in BASELINES:
        raise GraphError(f"unknown baseline {method!r}; known: {', '.join(BASELINES)}")
    config = as_config(config)
    device = resolve_device(config.training.device)  # checked before any file is touched
    density = 1.0 if method == "dense" else (density or config.network.density)
    if not 0 < density <= 1:
        raise GraphError(f"density must lie in (0, 1], got {density}")
    config = config.model_copy(
        update={"network": config.network.model_copy(update={"density": density})}
    )
    run_dir = Path(dir) if dir is not None else Path(tempfile.mkdtemp(prefix=f"graphnet-{method}-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    if (run_dir / "summary.json").is_file() and not overwrite:
        raise GraphError(
            f"{run_dir} holds a finished run; pass overwrite=True or another directory"
        )
    clear_run(run_dir)  # a baseline starts afresh (it is short; no resume points)
    data, validation = load_data(config, data)
    data, validation = data_on(device, data, validation)
    from graphnet.evolution.run_files import write_preprocessing

    write_preprocessing(run_dir, data.preprocessing)
    g = seed_network(config, data.num_features, data.num_classes, data.x_train)
    seed_edges = g.num_edges
    model = compile_graph(g, device=device)
    bs = resolve_batch_size(config, g)
    config = config.model_copy(
        update={"training": config.training.model_copy(update={"batch_size": bs})}
    )
    opt = make_optimizer(model, config.training)
    ctx = Context(g, model, opt, data, config)
    if validation is not None:
        ctx.state["validation"] = validation
    trainer = EpochTrainer()
    store = RunStore(run_dir)
    store.write_config(
        {"baseline": method, "every": every, "fraction": fraction, **config.model_dump(mode="json")}
    )
    store.mark("running")
    start = time.perf_counter()
    history: list[dict] = []
    bar = epoch_bar(range(config.stop.max_epochs), config.progress, method)
    for epoch in bar:
        ctx.epoch = epoch
        g.step = ctx.step
        fit = trainer.train(ctx)
        row = evaluate(ctx)
        if (
            method in ("set", "rigl")
            and (epoch + 1) % every == 0
            and epoch + 1 < config.stop.max_epochs
        ):
            sync(g, ctx.model)
            frac = cosine_fraction(epoch, config.stop.max_epochs, fraction)
            kwargs = {"seed": ctx.seed(method)}
            if method == "rigl":
                x, y = ctx.analysis_batch()
                kwargs["grads"] = edge_gradients(g, ctx.model, (x, y), torch.nn.CrossEntropyLoss())
            rewire(g, method, frac, **kwargs)
            ctx.model, ctx.optimizer = recompile(g, ctx.model, ctx.optimizer)
        record = {
            "epoch": epoch, "step": ctx.step, "loss": fit["loss"], "train_acc": row["train_acc"],
            "test_acc": row["test_acc"], "edges": g.num_edges, "neurons": g.num_neurons,
            "parameters": parameter_count(g), "density": float(g.summary().density),
            "phase": method, "wall_time": time.perf_counter() - start,
            "extra": {k: v for k, v in row.items() if k == "val_acc"},
        }  # fmt: skip
        history.append(record)
        store.log_metrics(record)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(acc=f"{row['test_acc']:.3f}", edges=g.num_edges)
    sync(g, ctx.model)
    save(g, run_dir / "final.h5")
    sizes = [data.num_features, *config.network.hidden, data.num_classes]
    vals = [h["extra"]["val_acc"] for h in history if "val_acc" in h["extra"]]
    summary = RunSummary(
        method=method, dataset=config.data.name, seed=config.seed, hidden=list(config.network.hidden),
        start_density=mlp_density(seed_edges, sizes), density=mlp_density(g.num_edges, sizes),
        parameters=parameter_count(g), dense_parameters=dense_parameters(sizes),
        edges=g.num_edges, neurons=g.num_neurons, levels=g.num_levels, events=0,
        epochs=len(history), test_acc=history[-1]["test_acc"] if history else 0.0,
        val_acc=vals[-1] if vals else None, best_val_acc=max(vals) if vals else None,
        wall_time=time.perf_counter() - start, stopped=f"epoch limit {config.stop.max_epochs}",
        label=label,
    )  # fmt: skip
    write_summary(run_dir, summary)
    store.mark("finished")
    store.close()
    return {"graph": g, "model": ctx.model, "history": history, "dir": run_dir, "summary": summary}
