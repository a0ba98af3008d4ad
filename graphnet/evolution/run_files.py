"""A finished run, loaded back: the final graph compiled, its summary, and the input pipeline it
was trained with (``preprocessing.json``), so that raw inputs given to it later go through
exactly the same standardisation.

>>> import graphnet as gn, numpy as np
>>> run = gn.evolve({"stop": {"max_epochs": 2}, "progress": False})
>>> loaded = load_run(run.dir)
>>> from sklearn.datasets import load_digits
>>> raw = load_digits().data[:5]
>>> loaded.predict(raw).shape
torch.Size([5])
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from graphnet.core.atomic import atomic_path
from graphnet.core.errors import GraphFileError
from graphnet.core.graph import NeuronGraph
from graphnet.core.io_hdf5 import load

__all__ = ["LoadedRun", "load_run", "write_preprocessing"]


def write_preprocessing(run_dir: str | os.PathLike, preprocessing: dict) -> None:
    """Store a data set's preprocessing (JSON) in a run directory, atomically."""
    with atomic_path(Path(run_dir) / "preprocessing.json") as tmp:
        tmp.write_text(json.dumps(preprocessing))


@dataclass
class LoadedRun:
    """The final network of a run and what it needs to see raw inputs as it was trained."""

    dir: Path
    graph: NeuronGraph
    model: Any
    preprocessing: dict
    summary: Any

    def transform(self, raw: Any) -> torch.Tensor:
        """Raw inputs (rows of features, as the data set gives them) -> the model's inputs."""
        from graphnet.train.datasets import preprocess

        return preprocess(np.asarray(raw), self.preprocessing)

    @torch.no_grad()
    def predict(self, raw: Any) -> torch.Tensor:
        """Predicted classes of raw inputs.

        Raises
        ------
        GraphError
            Naming the row and feature, if an input is NaN or infinite (training refuses
            those; a prediction from them would be a guess), or the rows have the wrong width.
        """
        from graphnet.train.data import check_batch

        x = self.transform(raw)
        check_batch(x, None, self.model.num_inputs)
        return self.model(x).argmax(1)


def load_run(run_dir: str | os.PathLike) -> LoadedRun:
    """Load a finished run directory (``final.h5``, ``summary.json``, ``preprocessing.json``).

    Raises
    ------
    GraphFileError
        Naming the run directory and the missing or unreadable file.
    """
    from compilers import compile as compile_graph

    from .records import read_summary

    run_dir = Path(run_dir)
    for name in ("final.h5", "preprocessing.json"):
        if not (run_dir / name).is_file():
            raise GraphFileError(f"{run_dir}: no {name} (not a finished graphnet run)")
    g = load(run_dir / "final.h5")
    try:
        prep = json.loads((run_dir / "preprocessing.json").read_text())
    except ValueError as err:
        raise GraphFileError(f"{run_dir / 'preprocessing.json'}: not JSON ({err})") from None
    model = compile_graph(g).eval()
    return LoadedRun(run_dir, g, model, prep, read_summary(run_dir))
