"""examples/analysis.ipynb runs from top to bottom (small settings) and shows its plots."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_analysis_notebook_executes(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="the notebook test needs the dev extra")
    nbclient = pytest.importorskip("nbclient", reason="the notebook test needs the dev extra")
    nb = nbformat.read(ROOT / "examples" / "analysis.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4  # activations, information, degrees, persistence
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "test accuracy" in text and "Betti numbers" in text
