"""The ``graphnet`` command.

graphnet grow                 grow a network from a sparse seed (defaults: digits, preset grow)
graphnet train --method M     a fixed-structure baseline: dense, random, set, rigl (--ddp N)
graphnet analyze RUN          analysis and plots of a finished run
graphnet report RUN...        a Markdown (and HTML) report: mean ± std over seeds, plots
graphnet export RUN           the final network as ONNX, GraphML or a PyG Data file
graphnet sweep                data sets x methods x seeds, important runs first, resumable
graphnet seed-search          the smallest sparse seeds that still learn
graphnet multires             train coarse to fine: downsampled images first (digits 4x4 -> 8x8)
graphnet info FILE            summary of a saved graph (also: check FILE, graphml FILE OUT)

Every command prints one line starting with ``graphnet:`` and exits 1 on a bad file or value;
``graphnet --debug COMMAND ...`` shows the whole traceback instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _widths(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected widths like 256,128, got {text!r}") from None


def _budget(text: str) -> tuple[str, float]:
    """``("count", n)`` for a whole number of parameters, ``("share", f)`` for ``N%``."""
    share = text.strip().endswith("%")
    try:
        value = float(text.strip()[:-1] if share else text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(
            f"expected a parameter count or a share like 20%, got {text!r}"
        )
    if share:
        if not 0 < value <= 100:
            raise argparse.ArgumentTypeError(f"a budget share lies in (0%, 100%], got {text!r}")
        return "share", value / 100.0
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(
            f"a budget count is a whole number of parameters, 1 or more; got {text!r}"
        )
    return "count", value


def _density(text: str) -> float:
    """A density: a finite number in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a density in (0, 1], got {text!r}")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"a density lies in (0, 1], got {text!r}")
    return value


def _positive_int(text: str) -> int:
    """A whole number, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {text!r}")
    return value


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default=None, choices=["digits", "mnist1d", "mnist", "fashion-mnist"],
                   help="data set (default digits, embedded; mnist needs --data-path)")  # fmt: skip
    p.add_argument(
        "--data-path", default=None, help="IDX directory or .npz for mnist / fashion-mnist"
    )
    p.add_argument("--hidden", type=_widths, default=None, help="hidden widths, e.g. 256,128")
    p.add_argument("--epochs", type=_positive_int, default=None, help="epoch limit")
    p.add_argument("--seed", type=int, default=None, help="default 0 (or the --config file's)")
    p.add_argument(
        "--device", default=None, help="cpu (default, or the --config file's), cuda or cuda:N"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="run directory (default runs/<what>-<dataset>-s<seed>)",
    )
    p.add_argument(
        "--config", type=Path, default=None, help="a YAML/JSON EvolutionConfig to start from"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="graphnet", description="Neural networks that grow their own structure."
    )
    p.add_argument(
        "--debug", action="store_true", help="on an error, show the traceback, not one line"
    )
    sub = p.add_subparsers(dest="command", required=True)

    grow = sub.add_parser("grow", help="grow a network from a sparse seed", description=(
        "Grow a sparse seed network on a data set until it holds the parameter budget, train on, "
        "and write the run directory with a report. Defaults: digits, preset 'grow' (a seed below "
        "1% of the dense MLP's edges, grown where the loss gradient points to 20% of its parameters)."))  # fmt: skip
    _data_args(grow)
    grow.add_argument("--preset", default="grow", help="grow (default), seeds, cliff, indefinite")
    grow.add_argument(
        "--density",
        type=_density,
        default=None,
        help="seed density (share of the dense MLP's edges)",
    )
    grow.add_argument(
        "--rules",
        default=None,
        help="comma-separated growth rules, e.g. gradient_edges,dead_highways",
    )
    grow.add_argument(
        "--budget",
        type=_budget,
        default=None,
        help="parameter budget: a count or a share like 20%%",
    )
    grow.add_argument(
        "--fresh", action="store_true", help="start afresh in an existing run directory"
    )
    grow.add_argument("--no-report", action="store_true", help="skip the report")

    train = sub.add_parser("train", help="train a fixed-structure baseline")
    _data_args(train)
    train.add_argument("--method", required=True, choices=["dense", "random", "set", "rigl"])
    train.add_argument(
        "--density",
        type=_density,
        default=None,
        help="share of the dense MLP's edges (not for dense)",
    )
    train.add_argument(
        "--ddp",
        type=_positive_int,
        default=None,
        metavar="N",
        help="train on N processes (torch.distributed)",
    )

    an = sub.add_parser("analyze", help="analysis and plots of a finished run")
    an.add_argument("run", type=Path)
    an.add_argument("--out", type=Path, default=None, help="default RUN/analysis")

    rep = sub.add_parser("report", help="a report over runs: mean ± std tables and plots")
    rep.add_argument(
        "runs", type=Path, nargs="+", help="run directories (or directories holding them)"
    )
    rep.add_argument("--out", type=Path, default=Path("report"))
    rep.add_argument("--html", action="store_true", help="also write report.html")
    rep.add_argument("--title", default="graphnet report")

    ex = sub.add_parser("export", help="export a run's final network")
    ex.add_argument("run", type=Path)
    ex.add_argument("--onnx", type=Path, default=None)
    ex.add_argument("--graphml", type=Path, default=None)
    ex.add_argument("--pyg", type=Path, default=None, help="a torch.save'd torch_geometric Data")

    sw = sub.add_parser("sweep", help="data sets x methods x seeds, resumable")
    sw.add_argument("--preset", default="grow")
    sw.add_argument("--datasets", default="digits", help="comma-separated")
    sw.add_argument(
        "--methods",
        default="grow,dense,random,set,rigl,seed",
        help="comma-separated; seed: the fixed seed network, never grown",
    )
    sw.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,3")
    sw.add_argument("--epochs", type=int, default=None)
    sw.add_argument("--data-path", default=None)
    sw.add_argument("--out", type=Path, default=Path("runs/sweep"))
    sw.add_argument("--processes", type=int, default=1, help="local process pool size")
    sw.add_argument("--ray", action="store_true", help="run the jobs on Ray")
    sw.add_argument(
        "--grid",
        type=Path,
        default=None,
        help="YAML/JSON: label -> config overrides, each grown per seed",
    )
    sw.add_argument(
        "--ladder",
        action="store_true",
        help="a sparsity ladder (100%%, 10%%, 1%%, 0.5%%, 0.1%%), fixed and grown",
    )
    sw.add_argument("--no-report", action="store_true")

    ss = sub.add_parser("seed-search", help="the smallest sparse seeds that learn above chance")
    ss.add_argument("--dataset", default="digits", choices=["digits", "mnist1d"])
    ss.add_argument("--candidates", type=int, default=24)
    ss.add_argument("--epochs", type=int, default=3)
    ss.add_argument("--keep", type=int, default=5)
    ss.add_argument(
        "--margin", type=float, default=0.1, help="accuracy above chance a seed must reach"
    )
    ss.add_argument("--seed", type=int, default=0)
    ss.add_argument("--processes", type=int, default=1)
    ss.add_argument("--out", type=Path, default=None)

    mr = sub.add_parser(
        "multires",
        help="train coarse to fine: downsampled images first, then full resolution",
        description=(
            "Train on images downsampled by the first factor, then on finer ones, each network "
            "initialised from the coarser one (it starts computing exactly what that one "
            "computed); prints the test accuracy at every scale and writes multires.json and "
            "final.h5. Image data sets only: digits (8x8), mnist and fashion-mnist (28x28). "
            "--epochs counts per scale (default 30, or the --config file's epoch limit)."
        ),
    )
    _data_args(mr)
    mr.add_argument("--factors", type=_widths, default=[2, 1],
                    help="downsampling factors, coarse to fine, ending in 1 (default 2,1)")  # fmt: skip
    mr.add_argument("--density", type=_density, default=None,
                    help="seed density (default 0.1, or the --config file's)")  # fmt: skip

    info = sub.add_parser("info", help="print a summary of a saved graph")
    info.add_argument("file", help="an HDF5 graph written by graphnet.save")
    chk = sub.add_parser("check", help="verify every invariant of a saved graph")
    chk.add_argument("file")
    gml = sub.add_parser("graphml", help="export a saved graph to GraphML")
    gml.add_argument("file")
    gml.add_argument("out", help="the .graphml file to write")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Examples
    --------
    >>> main(["info", "no/such.h5"])
    1
    """
    args = _parser().parse_args(argv)
    from graphnet.core.errors import GraphError

    try:
        return _COMMANDS[args.command](args)
    except BrokenPipeError:  # the reader went away (graphnet info f.h5 | head): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the final flush does not fail again
        return 0
    except (GraphError, OSError, ValueError) as err:  # bad input: one line, no traceback
        if args.debug:
            raise
        print(f"graphnet: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("graphnet: interrupted (a grow run resumes when started again)", file=sys.stderr)
        return 130


def _overrides(args) -> dict:
    # only what the user said: a --config file's values stand unless a flag overrides them
    over: dict = {}
    if args.no_progress:
        over["progress"] = False
    if args.device is not None:
        over["training"] = {"device": args.device}
    if args.seed is not None:
        over["seed"] = args.seed
    if args.dataset is not None:
        over["data"] = {"name": args.dataset}
    if args.data_path:
        over.setdefault("data", {})["path"] = args.data_path
    if args.hidden is not None:
        over["network"] = {"hidden": args.hidden}
    if getattr(args, "density", None) is not None and args.command == "grow":
        over.setdefault("network", {})["density"] = args.density
    if args.epochs is not None:
        over["stop"] = {"max_epochs": args.epochs}
    if getattr(args, "rules", None):
        over["rules"] = [{"name": r.strip()} for r in args.rules.split(",") if r.strip()]
    return over


def _config(args, preset: str):
    from graphnet.evolution.config import EvolutionConfig, load_config
    from graphnet.lab.presets import merge, preset_config

    over = _overrides(args)
    budget = getattr(args, "budget", None)
    if budget is not None and budget[0] == "count":
        over = merge(over, {"stop": {"max_parameters": int(budget[1])}})
    if args.config is not None:  # the file replaces the preset; flags the user gave still win
        cfg = EvolutionConfig(**merge(load_config(args.config).model_dump(mode="json"), over))
    else:
        cfg = preset_config(
            preset, dataset=over.get("data", {}).get("name", "digits"), overrides=over
        )
    if budget is not None and budget[0] == "share":
        from graphnet.lab.presets import parameter_budget
        from graphnet.train.datasets import dataset_info

        info = dataset_info(cfg.data.name)
        n = parameter_budget(budget[1], info["features"], cfg.network.hidden, info["classes"])
        cfg = cfg.model_copy(update={"stop": cfg.stop.model_copy(update={"max_parameters": n})})
    # what the run really uses, for messages and default directory names
    args.dataset, args.seed = cfg.data.name, cfg.seed
    return cfg


def _grow(args) -> int:
    from graphnet.evolution.evolve import evolve
    from graphnet.evolution.records import read_summary
    from graphnet.lab.report import report

    cfg = _config(args, args.preset)
    out = args.out or _free_run_dir(Path("runs") / f"grow-{args.dataset}-s{args.seed}")
    title = f"graphnet grow: {args.dataset}, seed {args.seed}"
    if (out / "summary.json").is_file() and not args.fresh:
        if not args.no_report and not (out / "report" / "report.md").is_file():
            # finished, but killed while writing its report: write the report only
            path = report([out], out / "report", title=title)
            print(f"graphnet grow: {out} holds a finished run without its report; wrote {path}")
            return 0
        raise FileExistsError(
            f"{out} holds a finished run; pass --fresh to redo it or --out elsewhere"
        )
    print(f"graphnet grow: {args.dataset}, preset {args.preset}, seed {args.seed} -> {out}")
    t0 = time.perf_counter()
    run = evolve(cfg, dir=out, resume=not args.fresh)
    s = read_summary(out)
    rules: dict[str, int] = {}
    for e in run.events:
        rules[e["rule"]] = rules.get(e["rule"], 0) + 1
    print(f"finished in {time.perf_counter() - t0:.1f} s ({s.stopped})")
    print(f"  test accuracy   {s.test_acc:.4f}")
    print(f"  density         {s.start_density:.4f} -> {s.density:.4f} of the dense MLP's edges")
    print(
        f"  parameters      {s.parameters:,} ({s.parameter_share:.1%} of the dense MLP's {s.dense_parameters:,})"
    )
    print(
        f"  growth events   {s.events}"
        + (f" ({', '.join(f'{k} x{v}' for k, v in rules.items())})" if rules else "")
    )
    print(f"  network         {run.graph!r}")
    if not args.no_report:
        path = report([out], out / "report", title=title)
        print(f"  report          {path}")
    return 0


def _free_run_dir(base: Path, finished: str = "summary.json") -> Path:
    """``base``, or ``base-2``, ``base-3``, ... : the first that holds no finished run (no
    ``finished`` file; an unfinished one is resumed)."""
    k, out = 1, base
    while (out / finished).is_file():
        k += 1
        out = base.with_name(f"{base.name}-{k}")
    return out


def _train(args) -> int:
    from graphnet.lab.baselines import train_baseline

    cfg = _config(args, "grow")
    out = args.out or _free_run_dir(Path("runs") / f"{args.method}-{args.dataset}-s{args.seed}")
    if args.ddp is not None:
        return _train_ddp(args, cfg, out)
    density = args.density
    if density is None and args.method != "dense":
        from graphnet.lab.sweep import budget_density

        density = budget_density(cfg)  # the grown runs' parameter budget, for these widths
    print(f"graphnet train: {args.method} on {args.dataset}, seed {args.seed} -> {out}")
    res = train_baseline(args.method, cfg, density=density, dir=out)
    s = res["summary"]
    print(
        f"  test accuracy {s.test_acc:.4f}, parameters {s.parameters:,} ({s.parameter_share:.1%} of dense), {s.wall_time:.1f} s"
    )
    return 0


def _train_ddp(args, cfg, out: Path) -> int:
    import graphnet as gn
    from graphnet.evolution.evolve import load_data, seed_network
    from graphnet.train.distributed import fit_distributed

    if args.method not in ("dense", "random"):
        raise ValueError("--ddp trains a fixed structure: use --method dense or random")
    density = args.density if args.density is not None else cfg.network.density
    if args.method == "dense":
        density = 1.0
    cfg = cfg.model_copy(update={"network": cfg.network.model_copy(update={"density": density})})
    data, _ = load_data(cfg)
    g = seed_network(cfg, data.num_features, data.num_classes)
    print(f"graphnet train --ddp {args.ddp}: {args.method} on {args.dataset} -> {out}")
    g, history = fit_distributed(g, data, world_size=args.ddp, epochs=cfg.stop.max_epochs,
                                 lr=cfg.training.lr, batch_size=cfg.training.batch_size, seed=cfg.seed)  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    gn.save(g, out / "final.h5")
    (out / "history.json").write_text(json.dumps(history, indent=2))
    print(
        f"  test accuracy {history[-1]['test_acc']:.4f} after {len(history)} epochs; wrote {out / 'final.h5'}"
    )
    return 0


def _analyze(args) -> int:
    from graphnet.lab.run_analysis import analyze_run

    out = args.out or args.run / "analysis"
    analyze_run(args.run, out)
    print(f"wrote {out / 'analysis.md'} and its plots")
    return 0


def _report(args) -> int:
    from graphnet.lab.report import report

    runs = []
    for d in args.runs:
        found = sorted(p.parent for p in d.rglob("summary.json")) if d.is_dir() else []
        if not found:
            raise FileNotFoundError(f"{d}: no finished graphnet run (summary.json) in it")
        runs.extend(found)
    runs = list(dict.fromkeys(p.resolve() for p in runs))  # a run named twice counts once
    path = report(runs, args.out, title=args.title, html=args.html)
    print(f"wrote {path} ({len(runs)} runs)")
    return 0


def _export(args) -> int:
    import graphnet as gn

    g = gn.load(args.run / "final.h5") if args.run.is_dir() else gn.load(args.run)
    if not (args.onnx or args.graphml or args.pyg):
        raise ValueError("say what to export: --onnx FILE, --graphml FILE and/or --pyg FILE")
    if args.onnx:
        from compilers.export import export_onnx

        export_onnx(gn.compile(g), args.onnx)
        print(f"wrote {args.onnx}")
    if args.graphml:
        gn.write_graphml(g, args.graphml)
        print(f"wrote {args.graphml}")
    if args.pyg:
        import torch

        torch.save(gn.to_pyg(g), args.pyg)
        print(f"wrote {args.pyg}")
    return 0


def _sweep(args) -> int:
    from graphnet.lab.report import report
    from graphnet.lab.sweep import LADDER, parse_seeds, plan_sweep, run_sweep

    over = {"stop": {"max_epochs": args.epochs}} if args.epochs else None
    jobs = plan_sweep(args.out, preset=args.preset, datasets=args.datasets.split(","),
                      methods=args.methods.split(","), seeds=parse_seeds(args.seeds),
                      overrides=over, data_path=args.data_path,
                      ladder=list(LADDER) if args.ladder else None, grid=_read_grid(args.grid))  # fmt: skip
    done = sum(j.finished for j in jobs)
    print(f"graphnet sweep: {len(jobs)} runs ({done} already finished) -> {args.out}")
    run_sweep(jobs, processes=args.processes, ray=args.ray)
    if not args.no_report:
        path = report(
            [Path(j.dir) for j in jobs],
            args.out / "report",
            title=f"graphnet sweep: {args.preset}",
            html=True,
        )
        print(f"wrote {path}")
    return 0


def _read_grid(path: Path | None) -> dict | None:
    if path is None:
        return None
    import yaml

    try:
        grid = yaml.safe_load(path.read_text())  # YAML is a superset of JSON
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not YAML/JSON ({str(err).splitlines()[0]})") from None
    if not isinstance(grid, dict):
        raise ValueError(f"{path}: a grid maps labels to config overrides")
    return grid


def _seed_search(args) -> int:
    from graphnet.lab.seed_search import seed_search

    best = seed_search(args.dataset, candidates=args.candidates, epochs=args.epochs, keep=args.keep,
                       margin=args.margin, seed=args.seed, processes=args.processes, out=args.out)  # fmt: skip
    if not best:
        print(
            "graphnet: no candidate learned above chance; raise --epochs or --candidates",
            file=sys.stderr,
        )
        return 1
    print(f"{'rank':>4} {'hidden':>10} {'density':>8} {'params':>7} {'val acc':>8}")
    for i, b in enumerate(best):
        print(
            f"{i:>4} {str(b['hidden']):>10} {b['density']:>8.3f} {b['parameters']:>7} {b['val_acc']:>8.3f}"
        )
    return 0


IMAGE_SHAPES = {"digits": (8, 8), "mnist": (28, 28), "fashion-mnist": (28, 28)}


def _multires(args) -> int:
    from graphnet.core.atomic import atomic_path
    from graphnet.core.errors import GraphError
    from graphnet.core.io_hdf5 import save
    from graphnet.lab.multires import multires_train
    from graphnet.lab.presets import merge

    cfg = _config(args, "seeds")
    # the structure stays fixed while training, so the default seed is denser than grow's;
    # a --config file's network stands, and --hidden / --density win over both
    network = {} if args.config is not None else {"hidden": [128, 64], "density": 0.1}
    network = merge(network, _overrides(args).get("network", {}))
    if args.density is not None:
        network["density"] = args.density
    cfg = cfg.model_copy(update={"network": cfg.network.model_copy(update=network)})
    shape = IMAGE_SHAPES.get(cfg.data.name)
    if shape is None:
        raise GraphError(
            f"multires needs images; {cfg.data.name} is not one (use {', '.join(IMAGE_SHAPES)})"
        )
    factors = list(args.factors)
    if not factors or factors[-1] != 1:
        raise GraphError(f"--factors must end in 1 (the full resolution), got {factors}")
    if args.epochs is None and args.config is None:
        cfg = cfg.model_copy(update={"stop": cfg.stop.model_copy(update={"max_epochs": 30})})
    epochs = cfg.stop.max_epochs
    out = args.out or _free_run_dir(
        Path("runs") / f"multires-{cfg.data.name}-s{cfg.seed}", "multires.json"
    )
    print(
        f"graphnet multires: {cfg.data.name}, factors {factors}, {epochs} epochs per scale -> {out}"
    )
    result = multires_train(cfg, factors=factors, image_shape=shape)
    print(f"{'factor':>6} {'inputs':>7} {'edges':>7} {'test acc at start':>18} {'at end':>7}")
    scales = []
    for s in result["scales"]:
        final = s["history"][-1]["test_acc"] if s["history"] else s["initial_test_acc"]
        print(f"{s['factor']:>6} {s['features']:>7} {s['graph'].num_edges:>7} "
              f"{s['initial_test_acc']:>18.4f} {final:>7.4f}")  # fmt: skip
        scales.append({k: s[k] for k in ("factor", "features", "initial_test_acc", "history")})
    out.mkdir(parents=True, exist_ok=True)
    save(result["graph"], out / "final.h5")
    summary = {"config": cfg.model_dump(mode="json"), "factors": factors, "scales": scales}
    with atomic_path(out / "multires.json") as tmp:  # not summary.json: that names grown runs
        tmp.write_text(json.dumps(summary, indent=1))
    print(f"  wrote {out / 'multires.json'} and {out / 'final.h5'}")
    return 0


def _graph_file(args) -> int:
    import graphnet as gn
    from graphnet.core.errors import GraphError

    g = gn.load(args.file)
    if args.command == "info":
        print(f"{args.file}: {g!r}")
        print(g.summary())
        print(
            f"edit log: {len(g.log)} records; next ids: neuron {g.next_neuron_id}, edge {g.next_edge_id}"
        )
    elif args.command == "check":
        print(f"{args.file}: ok ({g!r})")  # load() already ran g.check()
    else:
        out = Path(args.out)
        if out.exists() and out.resolve() == Path(args.file).resolve():
            raise GraphError(f"{args.out} is the input file; write the GraphML elsewhere")
        gn.write_graphml(g, out)
        print(f"wrote {out}")
    return 0


_COMMANDS = {
    "grow": _grow, "train": _train, "analyze": _analyze, "report": _report, "export": _export,
    "sweep": _sweep, "seed-search": _seed_search, "multires": _multires, "info": _graph_file,
    "check": _graph_file, "graphml": _graph_file,
}  # fmt: skip

if __name__ == "__main__":
    sys.exit(main())
