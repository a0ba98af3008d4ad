"""Sweeps: a grid of (data set x method x seed) jobs over one preset, each job a run
directory; the important jobs first, on a local process pool (or Ray), resumable.

A job's priority orders the queue: seed 0 of every method before seed 1, grown runs before
baselines (the comparison needs them first), then the data sets in the order given. A job whose
directory holds ``summary.json`` is finished and skipped, so an interrupted sweep started again
redoes nothing; a grown run that was cut short resumes from its last resume point.

The baselines get the grown runs' parameter budget: ``random``, ``set`` and ``rigl`` run at the
density whose edges plus biases equal the preset's ``stop.max_parameters``.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphnet.core.errors import GraphError

from .baselines import BASELINES
from .presets import preset_config

__all__ = [
    "Job",
    "plan_sweep",
    "run_job",
    "run_sweep",
    "METHODS",
    "LADDER",
    "parse_seeds",
    "budget_density",
]

METHODS = ("grow", *BASELINES, "seed")
"""``seed`` is the fixed seed network itself (a ``random`` baseline at the seed's density,
labelled ``seed``): what growth starts from, trained as long, never grown."""


@dataclass(order=True)
class Job:
    """One run of a sweep; jobs sort by ``priority`` (smaller first)."""

    priority: tuple
    method: str = field(compare=False)
    dataset: str = field(compare=False)
    seed: int = field(compare=False)
    config: dict = field(compare=False)
    dir: str = field(compare=False)
    density: float | None = field(compare=False, default=None)
    label: str = field(compare=False, default="")

    @property
    def finished(self) -> bool:
        return (Path(self.dir) / "summary.json").is_file()


def plan_sweep(
    out: str | os.PathLike,
    *,
    preset: str = "grow",
    datasets: list[str] = ("digits",),
    methods: list[str] = METHODS,
    seeds: list[int] = (0, 1, 2, 3, 4),
    overrides: dict | None = None,
    data_path: str | None = None,
    ladder: list[float] | None = None,
    grid: dict[str, dict] | None = None,
) -> list[Job]:
    """The jobs of a sweep, sorted by priority (see the module docstring).

    With ``ladder`` (seed densities, e.g. ``LADDER``) the sweep is a sparsity ladder instead:
    at each density the fixed seed network (``seed``) and the network grown from it
    (``grow``, not at density 1), labelled with the density. With ``grid`` (label -> config
    overrides, e.g. read from a YAML file) every labelled config is grown, for every seed.

    >>> jobs = plan_sweep("/tmp/s", methods=["grow", "dense"], seeds=[0, 1])
    >>> [(j.method, j.seed) for j in jobs]
    [('grow', 0), ('dense', 0), ('grow', 1), ('dense', 1)]
    """
    if ladder is not None:
        return _ladder(out, preset, datasets, seeds, overrides, data_path, ladder)
    if grid is not None:
        return _grid(out, preset, datasets, seeds, overrides, data_path, grid)
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise GraphError(f"unknown method {bad[0]!r}; known: {', '.join(METHODS)}")
    jobs = []
    for di, ds in enumerate(datasets):
        extra = {"data": {"path": data_path}} if data_path else {}
        cfg = preset_config(preset, dataset=ds, overrides={**(overrides or {}), **extra})
        for seed in seeds:
            for mi, method in enumerate(methods):
                c = cfg.model_copy(update={"seed": seed, "progress": False})
                density, label, kind = None, "", method
                if method == "seed":
                    density, label, kind = cfg.network.density, "seed", "random"
                elif method in ("random", "set", "rigl"):
                    if cfg.stop.max_parameters is None:
                        raise GraphError(
                            f"preset {preset!r} has no parameter budget; baselines need one"
                        )
                    density = budget_density(cfg)
                jobs.append(
                    Job(
                        (seed, mi, di), kind, ds, seed, c.model_dump(mode="json"),
                        str(Path(out) / ds / method / f"seed{seed}"), density, label,
                    )
                )  # fmt: skip
    return sorted(jobs)


LADDER = (1.0, 0.1, 0.01, 0.005, 0.001)
"""The seeds' sparsity ladder: 100%, 10%, 1%, 0.5%, 0.1% of the dense MLP's edges."""


def budget_density(cfg) -> float:
    """The density whose edges plus biases equal ``cfg.stop.max_parameters`` (the grown
    runs' budget) for the config's widths and data set.

    >>> from graphnet.lab.presets import preset_config
    >>> round(budget_density(preset_config("grow")), 4)
    0.1937
    """
    from graphnet.train.datasets import dataset_info

    if cfg.stop.max_parameters is None:
        raise GraphError("no parameter budget (stop.max_parameters) to match; give --density")
    info = dataset_info(cfg.data.name)
    sizes = [info["features"], *cfg.network.hidden, info["classes"]]
    dense_edges = sum(a * b for a, b in zip(sizes, sizes[1:]))
    biases = sum(cfg.network.hidden) + info["classes"]
    return min(1.0, max(1e-6, (cfg.stop.max_parameters - biases) / dense_edges))


def _ladder(out, preset, datasets, seeds, overrides, data_path, densities) -> list[Job]:
    jobs = []
    for di, ds in enumerate(datasets):
        for seed in seeds:
            for li, d in enumerate(densities):
                for mi, method in enumerate(("seed", "grow")):
                    if method == "grow" and d >= 1.0:
                        continue
                    extra = {"network": {"density": d}, "seed": seed, "progress": False,
                             "label": f"{method} {d:g}"}  # fmt: skip
                    if data_path:
                        extra["data"] = {"path": data_path}
                    cfg = preset_config(
                        preset, dataset=ds, overrides={**(overrides or {}), **extra}
                    )
                    kind = "random" if method == "seed" else "grow"
                    jobs.append(
                        Job(
                            (seed, li, mi, di), kind, ds, seed, cfg.model_dump(mode="json"),
                            str(Path(out) / ds / f"ladder-{method}-{d:g}" / f"seed{seed}"),
                            d if method == "seed" else None, f"{method} {d:g}",
                        )
                    )  # fmt: skip
    return sorted(jobs)


def _grid(out, preset, datasets, seeds, overrides, data_path, grid) -> list[Job]:
    from .presets import merge

    if not isinstance(grid, dict) or not grid:
        raise GraphError(
            "a grid maps labels to config overrides, e.g. {wide: {network: {hidden: [512]}}}"
        )
    bad = [k for k, v in grid.items() if v is not None and not isinstance(v, dict)]
    if bad:
        raise GraphError(
            f"grid entry {bad[0]!r} must map to config overrides (a mapping), got {grid[bad[0]]!r}"
        )
    jobs = []
    for di, ds in enumerate(datasets):
        for seed in seeds:
            for gi, (label, over) in enumerate(grid.items()):
                extra = {
                    "seed": seed,
                    "progress": False,
                    "label": str(label),
                    **({"data": {"path": data_path}} if data_path else {}),
                }
                cfg = preset_config(
                    preset, dataset=ds, overrides=merge(merge(overrides or {}, over or {}), extra)
                )
                jobs.append(
                    Job((seed, gi, di), "grow", ds, seed, cfg.model_dump(mode="json"),
                        str(Path(out) / ds / f"grid-{label}" / f"seed{seed}"), None, str(label))
                )  # fmt: skip
    return sorted(jobs)


def run_job(job: Job) -> dict:
    """Run one job (in this process) and return its summary as a dict."""
    import torch

    from graphnet.evolution.evolve import evolve
    from graphnet.evolution.records import read_summary

    from .baselines import train_baseline

    if job.finished:
        return read_summary(job.dir).model_dump()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if job.method == "grow":
        evolve(job.config, dir=job.dir)
    else:
        train_baseline(job.method, job.config, density=job.density, dir=job.dir, label=job.label)
    return read_summary(job.dir).model_dump()


def _run_job_single_thread(job: Job) -> dict:
    import torch

    torch.set_num_threads(1)
    return run_job(job)


def run_sweep(
    jobs: list[Job], *, processes: int = 1, ray: bool = False, progress: bool = True
) -> list[dict]:
    """Run the unfinished jobs in priority order; return every job's summary (finished ones
    read back). ``processes > 1`` runs them in a local process pool (one thread each);
    ``ray=True`` hands them to Ray (``ray.init()`` must find or start a cluster)."""
    from tqdm.auto import tqdm

    _refuse_other_configs(jobs)
    todo = [j for j in sorted(jobs) if not j.finished]
    bar = tqdm(total=len(todo), desc="sweep", unit="run", disable=None if progress else True)
    if ray:
        try:
            import ray as ray_mod
        except ImportError:
            raise GraphError("--ray needs the ray package (pip install ray)") from None
        if not ray_mod.is_initialized():
            ray_mod.init()
        remote = ray_mod.remote(_run_job_single_thread)
        refs = [remote.remote(j) for j in todo]
        for _ in ray_mod.get(refs):
            bar.update()
    elif processes > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(processes, mp.get_context("spawn")) as pool:
            for _ in pool.map(_run_job_single_thread, todo):
                bar.update()
    else:
        for j in todo:
            run_job(j)
            bar.update()
    bar.close()
    return [run_job(j) for j in sorted(jobs)]  # all finished now: read back


def _refuse_other_configs(jobs: list[Job]) -> None:
    """A job directory that already holds a run of another config (finished, or a grown run
    that would resume) is an error before anything runs: never silently reused."""
    import json

    from graphnet.evolution.config import result_settings

    for j in jobs:
        path = Path(j.dir) / "config.json"
        if not path.is_file() or not (j.finished or j.method == "grow"):
            continue
        stored, wanted = json.loads(path.read_text()), json.loads(json.dumps(j.config))
        for key in ("baseline", "every", "fraction"):
            stored.pop(key, None)
        if j.method != "grow":  # a baseline stores the density it ran at and its batch size
            density = 1.0 if j.method == "dense" else j.density
            if abs(stored["network"].pop("density") - density) > 1e-9:
                stored["network"]["density"] = None  # differs
            wanted["network"].pop("density")
            for c in (stored, wanted):
                c["training"].pop("batch_size")
        if result_settings(stored) != result_settings(wanted):
            raise GraphError(
                f"{j.dir} holds a run of another config; use another --out (or remove it)"
            )


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` or ``"0,2,7"`` -> a list of seeds.

    >>> parse_seeds("0-2"), parse_seeds("3,5")
    ([0, 1, 2], [3, 5])
    """
    out: list[Any] = []
    try:
        for part in text.split(","):
            if "-" in part:
                a, b = part.split("-")
                out.extend(range(int(a), int(b) + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise GraphError(f"seeds must look like 0-4 or 0,2,7, got {text!r}") from None
    if not out:
        raise GraphError(f"no seeds in {text!r} (a range runs upwards: 0-4)")
    return out
