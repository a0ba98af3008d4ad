"""graphnet.lab.report and graphnet.lab.run_analysis on small real runs and a faked baseline."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch

import analysis
import graphnet as gn
from graphnet.core.errors import GraphError, GraphFileError
from graphnet.evolution.config import EvolutionConfig
from graphnet.evolution.evolve import load_data
from graphnet.evolution.records import read_summary
from graphnet.lab.report import report
from graphnet.lab.run_analysis import analyze_run

SMALL = {
    "stop": {"max_epochs": 5},
    "network": {"hidden": [16, 8], "density": 0.2},
    "bootstrap_epochs": 1,
    "stabilisation_epochs": 1,
    "analysis_samples": 64,
    "progress": False,
}
PNGS = ("accuracy_vs_parameters.png", "accuracy_over_epochs.png", "growth_events.png")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("runs")
    grown = [root / f"grow{seed}" for seed in (0, 1, 2)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # networks this small train faster on one thread than on several
    try:
        for seed, run_dir in enumerate(grown):
            gn.evolve({**SMALL, "seed": seed}, dir=run_dir)
    finally:
        torch.set_num_threads(threads)
    dense = root / "dense0"  # a faked baseline: the layout of a run, another method
    shutil.copytree(grown[0], dense)
    summary = json.loads((dense / "summary.json").read_text())
    dense_params = summary["dense_parameters"]
    summary.update(method="dense", parameters=dense_params, events=0, test_acc=0.5)
    (dense / "summary.json").write_text(json.dumps(summary))
    return {"grow": grown, "dense": [dense]}


@pytest.fixture(scope="module")
def made(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    return report(runs["grow"] + runs["dense"], out, title="small runs", html=True)


def _row(text: str, method: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.startswith(f"| {method} |"))
    return [c.strip() for c in line.strip("|").split(" | ")]


def _expected(dirs: list[Path]) -> list[str]:
    """The table cells computed here, from the summaries, with numpy."""
    s = [read_summary(d) for d in dirs]
    columns = [
        ([100 * x.test_acc for x in s], ".2f"),
        ([x.parameters for x in s], ",.0f"),
        ([100 * x.parameters / x.dense_parameters for x in s], ".2f"),
        ([x.edges for x in s], ",.0f"),
        ([x.events for x in s], ".1f"),
        ([x.wall_time for x in s], ".2f"),
    ]
    cells = []
    for values, fmt in columns:
        v = np.array(values, dtype=np.float64)
        std = f"{np.std(v, ddof=1):{fmt}}" if v.size > 1 else "—"
        cells.append(f"{np.mean(v):{fmt}} ± {std}")
    return [f"{len(s)} ({', '.join(str(x.seed) for x in s)})", *cells]


def test_table_is_mean_and_std_over_seeds(runs, made):
    text = made.read_text()
    assert made.name == "report.md" and text.startswith("# small runs")
    assert "## Data set: digits" in text
    grow, dense = _row(text, "grow"), _row(text, "dense")
    assert grow[0] == "grow" and grow[2:] == _expected(runs["grow"])
    assert dense[2:] == _expected(runs["dense"])
    assert dense[3] == "50.00 ± —" and dense[5] == "100.00 ± —"  # one run: no std


def test_plots_are_valid_pngs(made):
    for name in PNGS:
        path = made.parent / name
        assert path.stat().st_size > 0 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = matplotlib.image.imread(path)
        assert image.ndim == 3 and min(image.shape[:2]) > 100
        assert f"]({name})" in made.read_text()


def test_run_list_names_every_directory(runs, made):
    text = made.read_text()
    listed = text.split("## Runs", 1)[1]
    for d in runs["grow"] + runs["dense"]:
        assert f"`{d.resolve()}`" in listed


def test_html_holds_the_same_table(runs, made):
    page = (made.parent / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<title>small runs</title>" in page
    assert "<table>" in page and "<th>test accuracy (%)</th>" in page
    for cell in _expected(runs["grow"]):
        assert f"<td>{cell}</td>" in page
    for name in PNGS:
        assert f'src="{name}"' in page
    assert f"<code>{runs['dense'][0].resolve()}</code>" in page


def test_report_without_grown_runs_and_duplicates(runs, tmp_path):
    dense = runs["dense"][0]
    path = report([dense, dense], tmp_path / "out")
    text = path.read_text()
    assert _row(text, "dense")[2] == "1 (0)"  # a directory given twice counts once
    assert not (tmp_path / "out" / "growth_events.png").exists()
    assert "No grown runs" in text and not (tmp_path / "out" / "report.html").exists()


def test_report_errors(runs, tmp_path):
    with pytest.raises(GraphError, match="no run directories"):
        report([], tmp_path / "out")
    empty = tmp_path / "not_a_run"
    empty.mkdir()
    with pytest.raises(GraphFileError, match="not_a_run: no summary.json") as err:
        report([runs["grow"][0], empty], tmp_path / "out")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()  # nothing written for bad input


@pytest.fixture(scope="module")
def analysed(runs) -> tuple[Path, dict]:
    run_dir = runs["grow"][1]
    digest = hashlib.sha256((run_dir / "final.h5").read_bytes()).hexdigest()
    result = analyze_run(run_dir, samples=64)
    assert hashlib.sha256((run_dir / "final.h5").read_bytes()).hexdigest() == digest
    return run_dir, result


def test_analysis_matches_the_analysis_functions(analysed):
    run_dir, r = analysed
    g = gn.load(run_dir / "final.h5")
    config = EvolutionConfig(**json.loads((run_dir / "config.json").read_text()))
    data, _ = load_data(config)
    assert len(r["test_rows"]) == r["samples"] == 64
    x = data.x_test[np.array(r["test_rows"])]
    e = analysis.extrema(g, gn.compile(g), x)
    levels = np.unique(g.neuron_attr("level", g.neuron_ids)).tolist()
    assert r["levels"] == levels == list(range(g.num_levels))
    for kind, found in (("dead", e.dead), ("saturated", e.saturated)):
        lv = g.neuron_attr("level", np.array(sorted(found), dtype=np.int64)).tolist()
        assert r["extrema"][kind] == {str(v): lv.count(v) for v in levels}
        assert r["extrema"][f"{kind}_ids"] == sorted(found)
    flow = r["information_flow"]
    assert sorted(map(int, flow["per_level"])) == levels == sorted(map(int, flow["mean_per_level"]))
    assert list(flow["between_levels"]) == [f"{a}->{a + 1}" for a in levels[:-1]]
    degrees = r["degree_by_level"]
    assert sum(d["neurons"] for d in degrees.values()) == g.num_neurons
    assert sum(d["in_mean"] * d["neurons"] for d in degrees.values()) == pytest.approx(g.num_edges)
    assert [int(o) for o in r["io_path_lengths"]] == list(g.outputs)
    np_direct = analysis.neural_persistence(g)
    assert r["neural_persistence"]["pairs"] == {
        f"{a}->{b}": v for (a, b), v in np_direct["pairs"].items()
    }
    assert r["betti_numbers"] == analysis.betti_numbers(g) and r["betti_note"] == ""
    assert r["test_acc"] == pytest.approx(read_summary(run_dir).test_acc, abs=1e-9)
    assert r["graph"] == {"neurons": g.num_neurons, "edges": g.num_edges, "levels": g.num_levels}


def test_analysis_files(analysed):
    run_dir, r = analysed
    out = run_dir / "analysis"
    assert json.loads((out / "analysis.json").read_text()) == r
    text = (out / "analysis.md").read_text()
    assert text.startswith(f"# Analysis of `{run_dir}`") and "## Per level" in text
    assert len(r["plots"]) == 4
    for name in r["plots"]:
        assert matplotlib.image.imread(out / name).ndim == 3
        assert f"]({name})" in text


def test_analysis_fallbacks_and_errors(runs, monkeypatch, tmp_path):
    run_dir = tmp_path / "baseline"
    shutil.copytree(runs["dense"][0], run_dir)
    (run_dir / "config.json").write_text(json.dumps({"method": "dense", "epochs": 5}))
    real = analysis.betti_numbers
    monkeypatch.setattr(analysis, "betti_numbers", lambda g: real(g, max_simplices=10))
    r = analyze_run(run_dir, tmp_path / "out", samples=32)  # digits split with the run's seed
    # the baseline's final.h5 is seed 0's: the digits split of seed 0 gives its accuracy back
    assert r["test_acc"] == pytest.approx(read_summary(runs["grow"][0]).test_acc, abs=1e-9)
    assert r["betti_numbers"] is None and "max_simplices=10" in r["betti_note"]
    assert "Betti numbers not computed" in (tmp_path / "out" / "analysis.md").read_text()
    with pytest.raises(GraphError, match="samples must be"):
        analyze_run(run_dir, samples=8)
    (run_dir / "final.h5").unlink()
    with pytest.raises(GraphFileError, match="final.h5: no final graph"):
        analyze_run(run_dir)
    with pytest.raises(GraphFileError, match="no summary.json"):
        analyze_run(tmp_path)
