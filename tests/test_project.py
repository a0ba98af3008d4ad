"""Project-level checks: import directions, lazy re-exports, the command line, the main job."""

import subprocess
import sys
from pathlib import Path

import pytest

import graphnet as gn

ROOT = Path(__file__).resolve().parents[1]
IMPORT_CHECK = ROOT.parent / "shared" / "tools" / "import_cycles.py"


@pytest.mark.skipif(
    not IMPORT_CHECK.exists(), reason="../shared/tools/import_cycles.py is not beside this clone"
)
def test_import_floors_and_no_cycles():
    out = subprocess.run(
        [sys.executable, str(IMPORT_CHECK), str(ROOT)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout == ""


def test_import_floors_check_catches_a_violation(tmp_path):
    if not IMPORT_CHECK.exists():
        pytest.skip("../shared/tools/import_cycles.py is not beside this clone")
    (tmp_path / "graphnet" / "core").mkdir(parents=True)
    (tmp_path / "compilers").mkdir()
    (tmp_path / "graphnet" / "__init__.py").write_text("")
    (tmp_path / "graphnet" / "core" / "__init__.py").write_text("import compilers\n")
    (tmp_path / "compilers" / "__init__.py").write_text("import graphnet.core\n")
    out = subprocess.run(
        [sys.executable, str(IMPORT_CHECK), str(tmp_path)], capture_output=True, text=True
    )
    assert out.returncode == 1 and "higher floor" in out.stdout


@pytest.mark.parametrize("first", ["compilers", "analysis", "graphnet.core", "graphnet"])
def test_any_package_imports_first(first):
    code = f"import {first}; import graphnet as gn; gn.mlp([2, 1], density=1.0).check(); print(gn.compilers.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "compilers"


def test_public_api_names():
    for name in (
        "NeuronGraph",
        "GraphError",
        "mlp",
        "from_networkx",
        "to_networkx",
        "from_pyg",
        "to_pyg",
        "save",
        "load",
        "draw",
        "replay",
        "from_edges",
        "write_graphml",
    ):
        assert hasattr(gn, name), name
    assert issubclass(gn.GraphError, ValueError)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        gn.nonexistent  # noqa: B018


def test_cli_info_check_and_errors(tmp_path):
    path = tmp_path / "net.h5"
    gn.save(gn.mlp([4, 3, 2], density=0.5, seed=0), path)
    run = lambda *a: subprocess.run(
        [sys.executable, "-m", "graphnet.cli", *a], capture_output=True, text=True
    )  # noqa: E731
    info = run("info", str(path))
    assert info.returncode == 0 and "NeuronGraph(neurons=9, edges=9, levels=3)" in info.stdout
    assert "0 -> 1" in info.stdout
    assert run("check", str(path)).returncode == 0
    assert run("graphml", str(path), str(tmp_path / "x.graphml")).returncode == 0
    assert (tmp_path / "x.graphml").stat().st_size > 0
    bad = tmp_path / "bad.h5"
    bad.write_text("not a graph")
    out = run("info", str(bad))
    assert (
        out.returncode == 1
        and out.stderr.startswith(f"graphnet: {bad}:")
        and "Traceback" not in out.stderr
    )


def test_quickstart_runs_and_round_trips(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "quickstart.py"),
            "--out",
            str(tmp_path),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "round trips: networkx, PyG, HDF5" in out.stdout
    accuracy = [
        float(line.rsplit(" ", 1)[1]) for line in out.stdout.splitlines() if "test accuracy" in line
    ]
    assert len(accuracy) == 3 and min(accuracy) > 0.85  # digits: chance is 0.1
    assert accuracy[1] == accuracy[0]  # the zero-weight edits change no prediction
    assert gn.load(tmp_path / "quickstart.h5").num_neurons == 267


def test_draw_small_and_refuse_large():
    ax = gn.draw(gn.mlp([3, 2], density=1.0, seed=0))
    assert len(ax.collections) >= 2  # nodes and edges were drawn
    with pytest.raises(gn.GraphError, match=r"has 1100 neurons, more than max_neurons=1000"):
        gn.draw(gn.mlp([1000, 100], density=0.001), max_neurons=1000)
