"""The graphnet command: grow, train, analyze, report, export, sweep, seed-search — each run
in-process through ``main`` with small settings, outputs checked against the files written;
bad arguments and missing files give one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import graphnet as gn
from graphnet.cli import main
from graphnet.evolution.records import read_summary

SMALL = ["--hidden", "32,16", "--epochs", "4", "--no-progress"]


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "grow"
    assert main(["grow", *SMALL, "--density", "0.05", "--budget", "40%", "--out", str(out)]) == 0
    return out


def test_grow_writes_a_run_with_summary_and_report(grown, capsys):
    s = read_summary(grown)
    assert s.method == "grow" and s.dataset == "digits" and s.hidden == [32, 16]
    assert s.epochs == 4 and abs(s.start_density - 0.05) < 0.005  # measured on the seed graph
    budget = int(0.4 * (64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10))
    assert s.parameters <= budget
    g = gn.load(grown / "final.h5")
    assert s.edges == g.num_edges
    lines = (grown / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [0, 1, 2, 3]
    assert (grown / "report" / "report.md").is_file()
    assert (grown / "report" / "accuracy_vs_parameters.png").stat().st_size > 1000
    # a finished run is not silently redone
    assert main(["grow", *SMALL, "--out", str(grown)]) == 1
    assert "holds a finished run" in capsys.readouterr().err


def test_train_baselines(tmp_path):
    for method in ("dense", "random"):
        out = tmp_path / method
        args = ["train", "--method", method, *SMALL, "--out", str(out)]
        if method == "random":
            args += ["--density", "0.1"]
        assert main(args) == 0
        s = read_summary(out)
        assert s.method == method and s.events == 0
        full = 64 * 32 + 32 * 16 + 16 * 10
        assert s.edges == (full if method == "dense" else gn.load(out / "final.h5").num_edges)
        if method == "random":
            assert abs(s.density - 0.1) < 0.02


def test_analyze_report_export(grown, tmp_path):
    assert main(["analyze", str(grown), "--out", str(tmp_path / "an")]) == 0
    result = json.loads((tmp_path / "an" / "analysis.json").read_text())
    assert result  # keys checked in tests/test_report.py
    assert main(["report", str(grown), "--out", str(tmp_path / "rep"), "--html"]) == 0
    assert "<table" in (tmp_path / "rep" / "report.html").read_text()
    gml, pyg = tmp_path / "g.graphml", tmp_path / "g.pt"
    assert main(["export", str(grown), "--graphml", str(gml), "--pyg", str(pyg)]) == 0
    g = gn.load(grown / "final.h5")
    assert gn.read_graphml(gml).equals(g)
    assert gn.from_pyg(torch.load(pyg, weights_only=False)).equals(g)
    pytest.importorskip("onnxruntime")
    onnx_path = tmp_path / "g.onnx"
    assert main(["export", str(grown), "--onnx", str(onnx_path)]) == 0
    import onnxruntime as ort

    x = torch.randn(5, 64)
    sess = ort.InferenceSession(str(onnx_path))
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    assert np.allclose(got, gn.compile(g)(x).detach().numpy(), atol=1e-5)


def test_sweep_runs_by_priority_and_resumes(tmp_path, capsys):
    args = [
        "sweep",
        "--methods",
        "grow,random",
        "--seeds",
        "0-1",
        "--epochs",
        "2",
        "--out",
        str(tmp_path),
        "--no-report",
    ]
    assert main(args) == 0
    dirs = sorted(p.parent for p in tmp_path.rglob("summary.json"))
    assert len(dirs) == 4
    stamps = {d: (d / "summary.json").stat().st_mtime_ns for d in dirs}
    # the random baselines got the grown runs' parameter budget
    from graphnet.lab.presets import preset_config

    cfg = preset_config("grow", dataset="digits")
    for d in dirs:
        s = read_summary(d)
        if s.method == "random":
            assert abs(s.parameters - cfg.stop.max_parameters) / cfg.stop.max_parameters < 0.05
    capsys.readouterr()
    assert main(args) == 0  # everything finished: nothing is redone
    assert "4 already finished" in capsys.readouterr().out
    assert {d: (d / "summary.json").stat().st_mtime_ns for d in dirs} == stamps


def test_sweep_plan_order():
    from graphnet.lab.sweep import plan_sweep

    jobs = plan_sweep(
        "/tmp/x", datasets=["digits", "mnist1d"], methods=["grow", "dense", "set"], seeds=[0, 1]
    )
    keys = [(j.seed, j.method, j.dataset) for j in jobs]
    assert keys[:2] == [(0, "grow", "digits"), (0, "grow", "mnist1d")]
    assert all(k[0] == 0 for k in keys[:6]) and all(k[0] == 1 for k in keys[6:])


def test_seed_search_keeps_the_smallest_learners(tmp_path, capsys):
    from graphnet.lab.seed_search import seed_search

    best = seed_search(candidates=4, epochs=2, keep=2, margin=0.05, out=tmp_path)
    table = json.loads((tmp_path / "candidates.json").read_text())["candidates"]
    learners = sorted(
        (c for c in table if c["val_acc"] > 0.1 + 0.05),
        key=lambda c: (c["parameters"], -c["val_acc"]),
    )
    assert [b["index"] for b in best] == [c["index"] for c in learners[:2]]
    for i, b in enumerate(best):
        assert gn.load(tmp_path / f"seed_{i}.h5").num_edges == b["edges"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["grow", "--dataset", "mnist", "--epochs", "1"], "nothing is downloaded"),
        (["analyze", "/no/such/run"], "graphnet: "),
        (["report", "/no/such/dir"], "no finished graphnet run"),
        (["export", "/no/such/run", "--onnx", "x.onnx"], "graphnet: "),
        (["sweep", "--methods", "grow,magic", "--out", "/tmp/never"], "unknown method 'magic'"),
        (["grow", "--rules", "grow_more", "--epochs", "1"], "unknown growth rule 'grow_more'"),
        (["multires", "--dataset", "mnist1d", "--epochs", "1"], "multires needs images"),
        (["multires", "--factors", "3,1", "--epochs", "1", "--out", "/tmp/never"], "graphnet: "),
        (
            ["multires", "--factors", "2,0,1", "--epochs", "1", "--out", "/tmp/never"],
            "whole numbers >= 1",
        ),
        (["multires", "--factors", "4,2", "--epochs", "1", "--out", "/tmp/never"], "must end in 1"),
        (
            ["multires", "--device", "bogus", "--epochs", "1", "--out", "/tmp/never"],
            "unknown device",
        ),
        (
            [
                "train",
                "--method",
                "dense",
                "--device",
                "bogus",
                "--epochs",
                "1",
                "--out",
                "/tmp/never",
            ],
            "unknown device",
        ),
    ],
)
def test_bad_arguments_give_one_line_errors(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_help_of_every_command():
    for cmd in ("grow", "train", "analyze", "report", "export", "sweep", "seed-search", "multires"):
        out = subprocess.run(
            [sys.executable, "-m", "graphnet.cli", cmd, "--help"], capture_output=True, text=True
        )
        assert out.returncode == 0 and "usage: graphnet" in out.stdout, cmd
    bad = subprocess.run(
        [sys.executable, "-m", "graphnet.cli", "grow", "--epochs", "many"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "expected a whole number" in bad.stderr


def test_sparsity_ladder_plan():
    from graphnet.lab.sweep import LADDER, plan_sweep

    jobs = plan_sweep("/tmp/x", seeds=[0, 1], ladder=list(LADDER))
    fixed = sorted(j.density for j in jobs if j.label.startswith("seed") and j.seed == 0)
    assert fixed == sorted(LADDER)
    grown = [j for j in jobs if j.method == "grow"]
    assert len(grown) == 2 * (len(LADDER) - 1)  # nothing to grow at 100%
    assert {j.config["network"]["density"] for j in grown} == set(LADDER) - {1.0}
    assert len({j.dir for j in jobs}) == len(jobs)
    assert all(j.config["label"] == j.label for j in grown)  # grown summaries carry the rung


def test_train_ddp_on_two_processes_matches_one(tmp_path):
    from graphnet.evolution.evolve import load_data, seed_network
    from graphnet.lab.presets import preset_config
    from graphnet.train.classifier import fit_classifier

    out = tmp_path / "ddp"
    argv = ["train", "--method", "random", "--density", "0.1", "--hidden", "16", "--epochs", "2"]
    assert main([*argv, "--ddp", "2", "--out", str(out), "--no-progress"]) == 0
    g2 = gn.load(out / "final.h5")
    # the same training on one process: same seed network, same batches, same optimizer
    cfg = preset_config(
        "grow", overrides={"network": {"hidden": [16], "density": 0.1}, "stop": {"max_epochs": 2}}
    )
    data, _ = load_data(cfg)
    g1 = seed_network(cfg, data.num_features, data.num_classes)
    model, _, _ = fit_classifier(
        g1, data, epochs=2, lr=cfg.training.lr, batch_size=cfg.training.batch_size, progress=False
    )
    gn.sync(g1, model)
    assert np.allclose(g1.edge_list()[2], g2.edge_list()[2], atol=1e-5)


def test_sweep_grid_file(tmp_path, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text("narrow:\n  network: {hidden: [16]}\nwide:\n  network: {hidden: [48]}\n")
    out = tmp_path / "s"
    assert (
        main(
            [
                "sweep",
                "--grid",
                str(grid),
                "--seeds",
                "0",
                "--epochs",
                "2",
                "--out",
                str(out),
                "--no-report",
            ]
        )
        == 0
    )
    got = {
        read_summary(p.parent).label: read_summary(p.parent).hidden
        for p in out.rglob("summary.json")
    }
    assert got == {"narrow": [16], "wide": [48]}
    grid.write_text("- not a mapping\n")
    assert main(["sweep", "--grid", str(grid), "--out", str(out)]) == 1
    assert "maps labels" in capsys.readouterr().err


def test_review_fixes_config_file_stale_sweep_and_train_guard(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    gn.EvolutionConfig(
        seed=7, network={"hidden": [16], "density": 0.2}, stop={"max_epochs": 2}
    ).save(cfg)
    out = tmp_path / "g"
    assert (
        main(["grow", "--config", str(cfg), "--out", str(out), "--no-progress", "--no-report"]) == 0
    )
    s = read_summary(out)
    assert s.seed == 7 and s.hidden == [16]  # the file's values stand
    cfgd = json.loads((out / "config.json").read_text())
    assert cfgd["stop"]["max_parameters"] is None  # no preset budget sneaks in
    # train into a finished run's directory: refused, nothing deleted
    assert (
        main(["train", "--method", "dense", "--hidden", "16", "--epochs", "1", "--out", str(out)])
        == 1
    )
    assert "holds a finished run" in capsys.readouterr().err and (out / "final.h5").is_file()
    # a sweep over runs of another config is an error, not a silent reuse
    base = [
        "sweep",
        "--methods",
        "random",
        "--seeds",
        "0",
        "--out",
        str(tmp_path / "s"),
        "--no-report",
    ]
    assert main([*base, "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main([*base, "--epochs", "2"]) == 1
    assert "another config" in capsys.readouterr().err
    grid = tmp_path / "grid.yaml"
    grid.write_text("wide: 5\n")
    assert main(["sweep", "--grid", str(grid), "--out", str(tmp_path / "x")]) == 1
    assert "must map to config overrides" in capsys.readouterr().err


def test_seed_search_saves_trained_weights(tmp_path):
    from graphnet.lab.seed_search import seed_search
    from graphnet.train.classifier import accuracy
    from graphnet.train.datasets import load_dataset

    best = seed_search(candidates=2, epochs=2, keep=1, margin=0.0, out=tmp_path)
    g = gn.load(tmp_path / "seed_0.h5")
    d = load_dataset("digits")
    assert accuracy(gn.compile(g), d.x_test, d.y_test) == pytest.approx(best[0]["test_acc"])


def test_multires_trains_coarse_to_fine_and_writes_its_results(tmp_path, capsys):
    out = tmp_path / "mr"
    assert (
        main(["multires", "--epochs", "2", "--hidden", "32", "--out", str(out), "--no-progress"])
        == 0
    )
    printed = capsys.readouterr().out
    summary = json.loads((out / "multires.json").read_text())
    coarse, fine = summary["scales"]
    assert (coarse["factor"], coarse["features"], fine["factor"], fine["features"]) == (
        2,
        16,
        1,
        64,
    )
    # the fine network starts as the coarse one, exactly: same test accuracy at the switch
    assert fine["initial_test_acc"] == pytest.approx(coarse["history"][-1]["test_acc"], abs=1e-9)
    assert len(coarse["history"]) == len(fine["history"]) == 2
    assert summary["config"]["network"]["hidden"] == [32]
    g = gn.load(out / "final.h5")
    assert len(g.inputs) == 64 and len(g.outputs) == 10
    assert f"{fine['history'][-1]['test_acc']:.4f}" in printed
    assert summary["config"]["stop"]["max_epochs"] == 2  # what ran, per scale
    assert not (out / "summary.json").exists()  # that name is for grown runs (report reads it)


def test_multires_takes_the_config_files_network_and_epochs(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(
        json.dumps({"network": {"hidden": [24], "density": 0.3}, "stop": {"max_epochs": 1}})
    )
    out = tmp_path / "mr"
    assert main(["multires", "--config", str(cfg), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "multires.json").read_text())
    assert summary["config"]["network"]["hidden"] == [24]
    assert summary["config"]["network"]["density"] == 0.3
    assert [len(s["history"]) for s in summary["scales"]] == [1, 1]


def test_debug_shows_the_error_itself():
    with pytest.raises(gn.GraphError, match="multires needs images"):
        main(["--debug", "multires", "--dataset", "mnist1d", "--epochs", "1"])
