"""``gn.evolve``: train a sparse seed network and grow it from analysis of its own state.

Each epoch: train (gradient norms earn credits on variance spikes) -> evaluate -> if growth is
allowed (after the bootstrap period, outside the stabilisation period, enough credits):
analyse -> every rule proposes edits within the phase's structure limit -> select (the
tournament) -> apply (a graph edit) -> ``gn.recompile`` (trained weights and optimizer state
carried) -> log the event -> snapshot. A resume point is written at the end of each epoch, so a
killed run continues where it stopped, to the same result as an uninterrupted run.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from analysis.flow import GradientMonitor
from compilers import compile as compile_graph
from compilers import recompile, sync
from graphnet.core.atomic import atomic_path
from graphnet.core.build import mlp
from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.io_hdf5 import save
from graphnet.train.classifier import accuracy, check_trainable, epoch_bar
from graphnet.train.data import Dataset, check_batch

from .analyzers import make_analyzers
from .checkpoint import load_checkpoint, save_checkpoint
from .config import EvolutionConfig, as_config, result_settings
from .economy import Economy, growth_gate
from .protocols import Context, parameter_count, seed_for
from .rules import make_rule
from .run_lock import run_lock
from .run_store import RunStore, clear_run
from .snapshots import SnapshotStore, should_snapshot
from .tournament import select
from .trainer import (
    EpochTrainer,
    data_on,
    evaluate,
    make_optimizer,
    resolve_batch_size,
    resolve_device,
)  # fmt: skip

__all__ = ["evolve", "Run", "seed_network", "load_data", "dense_parameters", "mlp_density"]


@dataclass
class Run:
    """The result of :func:`evolve`: the final graph and model, one metrics dict per epoch
    (``history``), the growth events with their reasons (``events``), the run directory
    (``dir``) and why it stopped."""

    graph: NeuronGraph
    model: Any
    optimizer: torch.optim.Optimizer
    config: EvolutionConfig
    dir: Path
    data: Dataset
    history: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    stopped: str = ""

    @property
    def snapshots(self) -> SnapshotStore:
        return SnapshotStore(self.dir / "snapshots", self.config.snapshots.full_every)

    def ensemble(self, method: str = "mean", last: int | None = None) -> dict:
        """Test accuracy of the snapshot ensemble (the ``last`` snapshots, default all)
        against the final model alone."""
        from .ensemble import evaluate_ensemble

        store = self.snapshots
        if last is not None and last < 1:
            raise GraphError(f"last must be at least 1 (or None for every snapshot), got {last}")
        infos = store.list()[-last:] if last else store.list()
        graphs = [store.load(i.index) for i in infos]
        out = evaluate_ensemble(graphs, self.data.x_test, self.data.y_test, method)
        out["final_acc"] = accuracy(self.model, self.data.x_test, self.data.y_test)
        return out

    def __repr__(self) -> str:
        last = self.history[-1] if self.history else {}
        return (
            f"Run(epochs={len(self.history)}, events={len(self.events)}, "
            f"test_acc={last.get('test_acc', float('nan')):.3f}, edges={self.graph.num_edges}, "
            f"stopped={self.stopped!r}, dir={str(self.dir)!r})"
        )


def load_data(
    config: EvolutionConfig, data: Dataset | None = None
) -> tuple[Dataset, tuple[torch.Tensor, torch.Tensor] | None]:
    """The data set a config names (or ``data``), and the validation rows held out of its
    training set (None without a validation share).

    >>> d, val = load_data(EvolutionConfig(data={"validation_fraction": 0.1}))
    >>> d.x_train.shape[0] + val[0].shape[0], d.x_test.shape[0]
    (1347, 450)
    """
    from graphnet.train.datasets import load_dataset

    c = config.data
    if data is not None:
        d = data
    else:
        d = load_dataset(
            c.name, path=c.path, seed=config.seed, test_fraction=c.test_fraction, samples=c.samples
        )
    share = config.data.validation_fraction
    if share <= 0:
        return d, None
    from sklearn.model_selection import train_test_split

    rows = np.arange(d.x_train.shape[0])
    tr, va = train_test_split(
        rows, test_size=share, random_state=seed_for(config.seed, "validation") % 2**32,
        stratify=d.y_train.numpy(),
    )  # fmt: skip
    tr, va = torch.from_numpy(np.sort(tr)), torch.from_numpy(np.sort(va))
    val = (d.x_train[va], d.y_train[va])
    d = Dataset(d.x_train[tr], d.y_train[tr], d.x_test, d.y_test, d.num_classes, d.preprocessing)
    return d, val


def seed_network(
    config: EvolutionConfig, num_inputs: int, num_classes: int, x: torch.Tensor | None = None
) -> NeuronGraph:
    """The seed graph: a sparse MLP at ``config.network.density`` whose weights are drawn by
    He (``N(0, 2 / fan_in)``) or Xavier (``N(0, 2 / (fan_in + fan_out))``) initialisation over
    each neuron's actual (sparse) fan-in and fan-out; with ``init="pca"`` the first level is
    then set from the principal components of ``x`` (the training inputs).

    >>> g = seed_network(EvolutionConfig(), 64, 10)
    >>> g.num_levels, 0 < g.num_edges < 64 * 128 + 128 * 64 + 64 * 10
    (4, True)
    """
    net = config.network
    g = mlp([num_inputs, *net.hidden, num_classes], density=net.density, seed=config.seed,
            activation=net.activation)  # fmt: skip
    src, dst, _ = g.edge_list()
    top = g.next_neuron_id
    fan_in = np.bincount(dst, minlength=top)[dst].astype(np.float64)
    if net.init == "he":
        std = np.sqrt(2.0 / fan_in)
    else:
        fan_out = np.bincount(src, minlength=top)[dst].astype(np.float64)
        std = np.sqrt(2.0 / (fan_in + np.maximum(fan_out, 1)))
    rng = np.random.default_rng(seed_for(config.seed, "init"))
    g.write_parameters(g.edge_attr("id"), rng.standard_normal(src.size) * std)
    if net.init == "pca":
        if x is None:
            raise GraphError("init='pca' needs the training inputs: seed_network(..., x=x_train)")
        from graphnet.train.data_init import pca_init

        pca_init(g, x)
    return g


def evolve(
    config: EvolutionConfig | dict | str | os.PathLike | None = None,
    *,
    dir: str | os.PathLike | None = None,
    resume: bool = True,
    rules: list | None = None,
    analyzers: list | None = None,
    trainer: Any = None,
    data: Dataset | None = None,
) -> Run:
    """Grow a network from a sparse seed as ``config`` says; return the :class:`Run`.

    Parameters
    ----------
    config : EvolutionConfig, dict or path, optional
        Every number of the run (default: the seeds' defaults on digits).
    dir : path, optional
        The run directory (metrics, events, snapshots, resume points, the final graph); a new
        temporary directory by default. A directory holding an unfinished run of the same
        config is resumed from its last resume point (``resume=False`` starts afresh).
    rules, analyzers, trainer : optional
        Replace the config's growth rules, the analyzers they need, or the trainer with any
        objects following :mod:`graphnet.evolution.protocols`.
    data : Dataset, optional
        Training and test data (default: the config's embedded data set).

    Examples
    --------
    >>> import graphnet as gn
    >>> run = gn.evolve({"stop": {"max_epochs": 3}, "progress": False})
    >>> len(run.history), run.graph.num_edges > 0
    (3, True)
    """
    config = as_config(config)
    device = resolve_device(config.training.device)  # checked before any file is written
    run_dir = Path(dir) if dir is not None else Path(tempfile.mkdtemp(prefix="graphnet-run-"))
    with run_lock(run_dir):  # one writer per run directory
        return _evolve_in(run_dir, config, device, resume, rules, analyzers, trainer, data)


def _evolve_in(run_dir: Path, config: EvolutionConfig, device, resume: bool, rules, analyzers,
               trainer, data) -> Run:  # fmt: skip
    store = RunStore(run_dir, sinks=_sinks(run_dir, config))
    status = store.read_status()
    point = load_checkpoint(run_dir) if resume else None
    if point is not None:
        if result_settings(store.read_config()) != result_settings(config.model_dump(mode="json")):
            raise GraphError(
                f"{run_dir} holds a run with another config; start afresh there (resume=False, "
                "graphnet grow --fresh) or use another directory"
            )
        if status and status.get("status") == "finished":
            raise GraphError(
                f"{run_dir} holds a finished run; open it with graphnet.load_run, or pass "
                "resume=False to start afresh"
            )
    elif any(run_dir.iterdir()) and (store.metrics() or (run_dir / "snapshots").exists()):
        store.close()
        clear_run(run_dir)
        store = RunStore(run_dir, sinks=_sinks(run_dir, config))

    data, validation = load_data(config, data)
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        check_batch(x, y, data.num_features, data.num_classes)
    data, validation = data_on(device, data, validation)
    rules = rules if rules is not None else [make_rule(r.name, **r.options) for r in config.rules]
    analyzers = analyzers if analyzers is not None else make_analyzers(rules)
    trainer = trainer or EpochTrainer()

    from .run_files import write_preprocessing

    write_preprocessing(run_dir, data.preprocessing)  # the input pipeline, kept with the model
    if point is None:
        g = seed_network(config, data.num_features, data.num_classes, data.x_train)
        check_trainable(g)
        model = compile_graph(g, device=device)
        optimizer = make_optimizer(model, config.training)
        store.write_config(config.model_dump(mode="json"))
        loop = {"epoch": 0, "step": 0, "last_growth": None, "best": None, "since_best": 0,
                "best_snapshot": None, "elapsed": 0.0, "history": [], "events": [],
                "economy": None, "grown": [], "seed_edges": g.num_edges}  # fmt: skip
    else:
        g, states, loop = point
        model = compile_graph(g, device=device)
        model.load_state_dict(states["model"])
        optimizer = make_optimizer(model, config.training)
        optimizer.load_state_dict(states["optimizer"])
        store.truncate_after(loop["epoch"] - 1)
        lost = store.restore(loop["history"], loop["events"])
        if any(lost):
            warnings.warn(
                f"{run_dir}: metrics.jsonl / events.jsonl lacked {lost[0]} epochs / {lost[1]} "
                "events of the resume point (removed or cut?); rewritten from it",
                stacklevel=2,
            )
        _drop_snapshots_after(run_dir / "snapshots", loop["epoch"] - 1)
    store.mark("running")
    snapshots = SnapshotStore(run_dir / "snapshots", config.snapshots.full_every)
    economy = Economy.start(config.economy)
    if loop["economy"]:
        economy = Economy(**loop["economy"])
    auto_batch = config.training.batch_size == "auto"
    loop.setdefault("batch_size", resolve_batch_size(config, g))  # "auto": fixed at the start
    config = config.model_copy(
        update={"training": config.training.model_copy(update={"batch_size": loop["batch_size"]})}
    )
    ctx = Context(g, model, optimizer, data, config, loop["epoch"], loop["step"])
    if point is None:
        _check_gradient_flow(run_dir, ctx)
    ctx.history = loop["history"]
    ctx.state["seed_edges"] = loop.get("seed_edges", g.num_edges)
    ctx.state.update(economy=economy, monitor=GradientMonitor(model, window=config.spikes.window))
    if validation is not None:
        ctx.state["validation"] = validation
    lr_hook = _lr_hook(config, ctx)
    events: list[dict] = loop["events"]
    if point is None and len(snapshots) == 0:
        snapshots.add(g, epoch=0, step=0, phase=config.phase_at(0).name, reason="seed network")

    start = time.perf_counter() - loop["elapsed"]
    stopped = f"epoch limit {config.stop.max_epochs}"
    if loop.get("stopped"):  # killed after its last resume point, before it was marked finished
        stopped = loop["stopped"]
    first = config.stop.max_epochs if loop.get("stopped") else loop["epoch"]
    bar = epoch_bar(range(first, config.stop.max_epochs), config.progress, "evolving")
    for epoch in bar:
        ctx.epoch = epoch
        g.step = ctx.step
        phase = config.phase_at(epoch)
        if lr_hook is not None:
            lr_hook.update(_lr_multipliers(config, ctx, loop["grown"]))
        t0 = time.perf_counter()
        fit = trainer.train(ctx)
        t1 = time.perf_counter()
        row = evaluate(ctx)
        t2 = time.perf_counter()
        why_not = growth_gate(config, epoch, loop["last_growth"], economy)
        if epoch + 1 == config.stop.max_epochs:
            why_not = "the last epoch: nothing would train what grows"
        event, no_extrema = None, False
        if why_not is None:
            event, no_extrema = _grow(ctx, rules, analyzers, trainer, phase, row, snapshots)
            if event is not None:
                ids = event.pop("ids")
                loop["grown"].append({"epoch": epoch, **ids})
                events.append(event)
                store.log_event(event)
                loop["last_growth"] = epoch
                if lr_hook is not None:
                    lr_hook.rebind(ctx.model, ctx.optimizer)
                if auto_batch:
                    auto_batch = not _warn_if_batch_outgrown(ctx.graph, loop["batch_size"])
            g = ctx.graph
        t3 = time.perf_counter()
        sel = row.get("val_acc", row["test_acc"])
        if config.snapshots.improvement is not None and should_snapshot(
            loop["best_snapshot"], sel, config.snapshots.improvement
        ):
            sync(g, ctx.model)
            snapshots.add(g, epoch=epoch, step=ctx.step, phase=phase.name,
                          reason=f"accuracy {sel:.3f}", metrics={"accuracy": sel})  # fmt: skip
            loop["best_snapshot"] = sel
        density = float(g.summary().density)  # over every rising pair, as g.summary() reports
        record = {
            "epoch": epoch, "step": ctx.step, "loss": fit["loss"], "train_acc": row["train_acc"],
            "test_acc": row["test_acc"], "edges": g.num_edges, "neurons": g.num_neurons,
            "parameters": parameter_count(g), "density": density, "phase": phase.name,
            "credits": economy.credits, "wall_time": time.perf_counter() - start,
            "extra": {"train_seconds": t1 - t0, "eval_seconds": t2 - t1,
                      "growth_seconds": t3 - t2, **({"val_acc": row["val_acc"]} if "val_acc" in row else {})},
        }  # fmt: skip
        ctx.history.append(record)
        store.log_metrics(record)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(
                acc=f"{row['test_acc']:.3f}", edges=g.num_edges, density=f"{density:.4f}"
            )
        done = _stop_reason(config, ctx, loop, sel, no_extrema)
        loop["stopped"] = done
        loop.update(epoch=epoch + 1, step=ctx.step, economy=economy.state_dict(),
                    elapsed=time.perf_counter() - start, history=ctx.history, events=events)  # fmt: skip
        if (
            done
            or (epoch + 1) % config.checkpoint_every == 0
            or epoch + 1 == config.stop.max_epochs
        ):
            sync(g, ctx.model)
            save_checkpoint(run_dir, epoch, g, ctx.model, ctx.optimizer, loop)
        if done:
            stopped = done
            break
    sync(g, ctx.model)
    save(g, run_dir / "final.h5")
    _summarise(run_dir, config, g, ctx, events, stopped, time.perf_counter() - start)
    store.mark("finished")
    store.close()
    return Run(g, ctx.model, ctx.optimizer, config, run_dir, data, ctx.history, events, stopped)


def dense_parameters(sizes: list[int]) -> int:
    """Parameters of the dense MLP with these level widths (weights and biases).

    >>> dense_parameters([64, 128, 64, 10])
    17226
    """
    return int(sum(a * b + b for a, b in zip(sizes, sizes[1:])))


def mlp_density(edges: int, sizes: list[int]) -> float:
    """``edges`` over the edge count of the dense MLP with these level widths (skip edges
    count as edges too; capped at 1).

    >>> mlp_density(101, [4, 10, 2])
    1.0
    >>> mlp_density(30, [4, 10, 2])
    0.5
    """
    return min(1.0, edges / max(1, sum(a * b for a, b in zip(sizes, sizes[1:]))))


def _summarise(run_dir: Path, config, g, ctx: Context, events, stopped: str, wall: float) -> None:
    from .records import RunSummary, write_summary

    last = ctx.history[-1] if ctx.history else {}
    vals = [h["extra"]["val_acc"] for h in ctx.history if "val_acc" in h.get("extra", {})]
    sizes = [len(g.inputs), *config.network.hidden, len(g.outputs)]
    write_summary(
        run_dir,
        RunSummary(
            method="grow", dataset=config.data.name, seed=config.seed,
            hidden=list(config.network.hidden),
            start_density=mlp_density(ctx.state.get("seed_edges", g.num_edges), sizes),
            density=mlp_density(g.num_edges, sizes), parameters=parameter_count(g),
            dense_parameters=dense_parameters(sizes), edges=g.num_edges, neurons=g.num_neurons,
            levels=g.num_levels, events=len(events), epochs=len(ctx.history),
            test_acc=last.get("test_acc", 0.0), val_acc=vals[-1] if vals else None,
            best_val_acc=max(vals) if vals else None, wall_time=wall, stopped=stopped, label=config.label,
        ),
    )  # fmt: skip


def _sinks(run_dir: Path, config: EvolutionConfig) -> list:
    from .sinks import default_sinks

    log = config.logging
    return default_sinks(
        run_dir, config.model_dump(mode="json"), wandb=log.wandb, tensorboard=log.tensorboard,
        project=log.project,
    )  # fmt: skip


def _check_gradient_flow(run_dir: Path, ctx: Context) -> None:
    """Gradient norms per level of the seed network (``gradient_flow.json``); a warning names
    vanishing or exploding levels before any time is spent training them."""
    import json
    import warnings

    from graphnet.train.checks import gradient_flow

    flow = gradient_flow(ctx.graph, ctx.model, ctx.analysis_batch())
    with atomic_path(run_dir / "gradient_flow.json") as tmp:
        tmp.write_text(json.dumps(flow, default=float, indent=2))
    for what in ("vanishing", "exploding"):
        if flow[what]:
            warnings.warn(
                f"gradient flow: levels {flow[what]} are {what} in the seed network", stacklevel=3
            )


def _drop_snapshots_after(directory: Path, epoch: int) -> None:
    """Remove snapshots a killed run wrote after its last resume point."""
    if not directory.is_dir():
        return
    store = SnapshotStore(directory)
    for info in store.list():
        if info.epoch > epoch:
            info.path.unlink(missing_ok=True)


def _warn_if_batch_outgrown(g: NeuronGraph, batch_size: int) -> bool:
    """Warn (and return True) when a step of the grown ``g`` at the batch size chosen for the
    seed network would need more than half the available memory. The batch size itself stays:
    changing it mid-run would change what the run computes (and what a resume replays)."""
    import warnings

    from graphnet.train.checks import estimate_training_bytes, memory_aware_batch_size

    fits = memory_aware_batch_size(g, max_batch=batch_size, min_batch=1, fraction=0.5)
    if fits >= batch_size:
        return False
    need = estimate_training_bytes(g, batch_size) / 2**20
    warnings.warn(
        f"the grown network ({g.num_neurons} neurons, {g.num_edges} edges) needs about "
        f"{need:,.0f} MiB per training step at batch size {batch_size}, chosen for the seed "
        f"network (batch_size: auto), more than half the memory available now; set "
        f"training.batch_size to {fits} or less if the run runs short of memory",
        stacklevel=3,
    )
    return True


def _grow(
    ctx: Context, rules, analyzers, trainer, phase, row: dict, snapshots
) -> tuple[dict | None, bool]:
    """One growth opportunity: analyse, propose, select, apply, recompile. Returns the event
    (None if nothing was proposed) and whether the network has no extrema left."""
    cfg = ctx.config
    g = ctx.graph
    sync(g, ctx.model)
    ctx.results = {a.name: a.analyze(ctx) for a in analyzers}
    ex = ctx.results.get("extrema")
    no_extrema = ex is not None and not ex.dead and not ex.saturated
    proposals = []
    for rule in rules:
        proposals.extend(rule.propose(ctx, phase.max_structures))
    proposals = [p for p in proposals if p.structures <= phase.max_structures]
    if cfg.stop.max_parameters is not None:
        room = cfg.stop.max_parameters - parameter_count(g)
        proposals = [p for p in proposals if p.cost <= room]
    winner, scores = select(ctx, proposals, trainer, cfg.tournament)
    if winner is None or not ctx.state["economy"].affordable():
        return None, no_extrema
    before = parameter_count(g)
    acc_before = row.get("val_acc", row["test_acc"])
    kept = g.copy()  # a rule's estimate can be wrong: the real edit is checked against the limits
    rep = winner.apply(g)
    added = rep.edges_added.size + rep.neurons_added.size
    over = cfg.stop.max_parameters is not None and parameter_count(g) > cfg.stop.max_parameters
    if over or added > phase.max_structures:
        ctx.graph = kept  # undone: the model was compiled from the kept graph
        return None, no_extrema
    ctx.state["economy"].spend()
    g.check()
    ctx.model, ctx.optimizer = recompile(g, ctx.model, ctx.optimizer)
    ctx.state["monitor"].rebind(ctx.model)
    after_row = evaluate(ctx)
    sync(g, ctx.model)
    if cfg.snapshots.on_growth:
        snapshots.add(g, epoch=ctx.epoch, step=ctx.step, phase=phase.name,
                      reason=f"growth: {winner.rule}",
                      metrics={"accuracy": after_row.get("val_acc", after_row["test_acc"])})  # fmt: skip
    best = next((s for s in scores if s.rule == winner.rule), None)
    event = {
        "epoch": ctx.epoch, "step": ctx.step, "rule": winner.rule, "reason": winner.reason,
        "phase": phase.name, "edges_added": int(rep.edges_added.size),
        "edges_removed": int(rep.edges_removed.size), "neurons_added": int(rep.neurons_added.size),
        "neurons_removed": int(rep.neurons_removed.size), "parameters_before": before,
        "parameters_after": parameter_count(g), "accuracy_before": acc_before,
        "accuracy_after": after_row.get("val_acc", after_row["test_acc"]),
        "score": None if best is None else best.score,
        "ids": {"edges_added": rep.edges_added.tolist(), "neurons_added": rep.neurons_added.tolist()},
        "details": {"candidates": [s.__dict__ for s in scores],
                    "extrema": None if ex is None else {"dead": len(ex.dead), "saturated": len(ex.saturated)},
                    "test_acc_before": row["test_acc"], "test_acc_after": after_row["test_acc"]},
    }  # fmt: skip
    return event, no_extrema


def _stop_reason(
    config: EvolutionConfig, ctx: Context, loop: dict, sel: float, no_extrema: bool
) -> str | None:
    s = config.stop
    if loop["best"] is None or sel > loop["best"]:
        loop["best"], loop["since_best"] = sel, 0
    else:
        loop["since_best"] += 1
    if s.target_accuracy is not None and sel >= s.target_accuracy:
        return f"target accuracy {s.target_accuracy} reached ({sel:.3f})"
    if s.max_steps is not None and ctx.step >= s.max_steps:
        return f"step budget {s.max_steps} spent"
    if s.patience is not None and loop["since_best"] >= s.patience:
        return f"no better accuracy for {s.patience} epochs"
    if s.when_no_extrema and no_extrema and loop["last_growth"] is not None:  # grown away
        return "no extrema left"
    return None


def _lr_hook(config: EvolutionConfig, ctx: Context):
    if config.training.lr_schedule == "none":
        return None
    from .learning_rates import apply_multipliers

    return apply_multipliers(ctx.model, ctx.optimizer, _lr_multipliers(config, ctx, []))


def _lr_multipliers(config: EvolutionConfig, ctx: Context, grown: list[dict]):
    from . import learning_rates as lr

    events = [
        {"epoch": e["epoch"], "edges_added": np.asarray(e["edges_added"], np.int64),
         "neurons_added": np.asarray(e["neurons_added"], np.int64)}
        for e in grown
    ]  # fmt: skip
    schedule = lr.schedule_by_name(config.training.lr_schedule, **config.training.lr_options)
    return schedule(
        lr.LRState(
            graph=ctx.graph, epoch=ctx.epoch, step=ctx.step, phase=config.phase_at(ctx.epoch).name,
            base_lr=config.training.lr, events=events, model=ctx.model,
        )
    )  # fmt: skip
