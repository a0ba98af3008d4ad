"""Every examples/*.ipynb runs from top to bottom (small settings) and shows what it should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))

# Per notebook: the least number of plots, and texts its printed output must contain (the
# notebooks assert their own claims; these check that the cells that print them ran).
EXPECTED = {
    # analysis: activations, information, degrees and persistence plots
    "analysis": (4, ("test accuracy", "Betti numbers")),
    "edit_architecture": (1, ("right after", "equals the grown graph")),
    "torch_round_trip": (0, ("largest difference", "to_torch refused", "skip edges")),
    "growth": (1, ("accuracy before -> after", "pixel -> class shortcuts")),
}


def test_the_example_notebooks_are_found():
    assert set(EXPECTED) <= {p.stem for p in NOTEBOOKS}  # a new notebook needs no entry


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path):
    nbformat = pytest.importorskip("nbformat", reason="the notebook test needs the dev extra")
    nbclient = pytest.importorskip("nbclient", reason="the notebook test needs the dev extra")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    min_images, texts = EXPECTED.get(path.stem, (0, ()))
    assert len(images) >= min_images
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    for expected in texts:
        assert expected in text
