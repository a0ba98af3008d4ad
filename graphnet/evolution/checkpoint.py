"""Resume points of an evolution run: the graph (HDF5, with its edit log), the model's and the
optimizer's state and the loop's state, written at the end of an epoch.

A checkpoint is a directory ``checkpoints/epoch_<n>`` whose files are each written atomically;
it becomes *the* resume point only when ``checkpoint.json`` (itself replaced atomically) names
it, after all its files are on disk. A run killed at any moment therefore finds either the
previous checkpoint or the new one, never a half-written one.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import torch

from graphnet.core.atomic import atomic_path
from graphnet.core.errors import GraphFileError
from graphnet.core.graph import NeuronGraph
from graphnet.core.io_hdf5 import load, save

__all__ = ["save_checkpoint", "load_checkpoint"]

_POINTER = "checkpoint.json"


def save_checkpoint(
    run_dir: Path, epoch: int, g: NeuronGraph, model, optimizer, loop: dict[str, Any]
) -> Path:
    """Write the resume point after ``epoch`` (``g`` must be synced with ``model``).

    Examples
    --------
    >>> import tempfile, torch, graphnet as gn
    >>> d = Path(tempfile.mkdtemp()); g = gn.mlp([3, 2], 1.0); m = gn.compile(g)
    >>> _ = save_checkpoint(d, 0, g, m, torch.optim.SGD(m.parameters(), 0.1), {"epoch": 1})
    >>> load_checkpoint(d)[2]
    {'epoch': 1}
    """
    where = Path(run_dir) / "checkpoints" / f"epoch_{epoch:05d}"
    where.mkdir(parents=True, exist_ok=True)
    save(g, where / "graph.h5")
    with atomic_path(where / "state.pt") as tmp:
        torch.save(
            {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "loop": loop}, tmp
        )
    with atomic_path(Path(run_dir) / _POINTER) as tmp:
        tmp.write_text(json.dumps({"epoch": epoch, "path": str(where.relative_to(run_dir))}))
    for old in (Path(run_dir) / "checkpoints").glob("epoch_*"):
        if old != where:
            shutil.rmtree(old, ignore_errors=True)
    return where


def _inside(run_dir: Path, named: object, pointer: Path) -> Path:
    """The resume point ``named`` if it is one of this run's (``checkpoints/epoch_<n>``)."""
    parts = Path(named).parts if isinstance(named, str) else ()
    if (
        len(parts) != 2
        or parts[0] != "checkpoints"
        or not re.fullmatch(r"epoch_\d+", parts[1])
        or not (run_dir / "checkpoints").resolve() == (run_dir / named).resolve().parent
    ):
        raise GraphFileError(
            f"{pointer}: names {named!r}, not a resume point of this run (checkpoints/epoch_<n>); "
            "a pointer into another run is not followed"
        )
    return run_dir / named


def load_checkpoint(run_dir: Path) -> tuple[NeuronGraph, dict, dict] | None:
    """``(graph, {"model": ..., "optimizer": ...}, loop_state)`` of the last resume point, or
    None if the run has none.

    Raises
    ------
    GraphFileError
        If the resume point names missing or unreadable files.
    """
    pointer = Path(run_dir) / _POINTER
    if not pointer.is_file():
        return None
    try:
        named = json.loads(pointer.read_text())["path"]
    except (ValueError, KeyError, TypeError) as err:
        raise GraphFileError(f"{pointer}: not a checkpoint pointer ({err})") from None
    where = _inside(Path(run_dir), named, pointer)
    g = load(where / "graph.h5")
    try:
        state = torch.load(where / "state.pt", weights_only=False)
    except Exception as err:
        raise GraphFileError(f"{where / 'state.pt'}: unreadable checkpoint state ({err})") from None
    return g, {"model": state["model"], "optimizer": state["optimizer"]}, state["loop"]
