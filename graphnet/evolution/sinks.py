"""Optional mirrors of a run's records: Weights & Biases and TensorBoard.

A :class:`~graphnet.evolution.run_store.RunStore` writes its own files first and then forwards
each metrics row and growth event, as a plain dict, to its sinks. Neither ``wandb`` nor
``tensorboard`` is a dependency: each is imported when its sink is made, W&B runs offline unless
told otherwise (it never needs the network), and :func:`default_sinks` returns only what works.
A sink is anything with ``log_metrics``, ``log_event`` and ``close`` (:class:`Sink`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Sink", "WandbSink", "TensorBoardSink", "default_sinks"]

_EVENT_NUMBERS = ("edges_added", "edges_removed", "neurons_added", "neurons_removed")


class Sink(Protocol):
    """Where a run store forwards each record (a plain dict) besides its own files."""

    def log_metrics(self, row: dict[str, Any]) -> None: ...
    def log_event(self, event: dict[str, Any]) -> None: ...
    def close(self) -> None: ...


def _numbers(record: Mapping[str, Any]) -> dict[str, float]:
    """The numeric fields of ``record``, with ``extra`` flattened to ``extra/<name>``."""
    out = {k: v for k, v in record.items() if isinstance(v, (int, float)) and k != "extra"}
    out.update({f"extra/{k}": v for k, v in record.get("extra", {}).items()})
    return out


class WandbSink:
    """Log metrics rows and growth events to a Weights & Biases run (offline by default).

    Parameters
    ----------
    project, run_name : str
        The W&B project and run name.
    config : mapping
        The run's configuration, shown by W&B.
    mode : {"offline", "online", "disabled"}, default "offline"
        ``"offline"`` writes to ``directory`` only; ``wandb sync`` can upload it later.
    directory : str or os.PathLike, optional
        Where W&B writes (it makes a ``wandb/`` folder inside); give one inside the run dir.

    Raises
    ------
    ImportError
        If ``wandb`` is not installed.

    Examples
    --------
    >>> WandbSink("graphnet", "run-0", {}, directory="/tmp")  # doctest: +SKIP
    WandbSink(project='graphnet', run_name='run-0', mode='offline')
    """

    def __init__(
        self,
        project: str,
        run_name: str,
        config: Mapping[str, Any],
        mode: str = "offline",
        *,
        directory: str | os.PathLike | None = None,
    ) -> None:
        import wandb

        if directory is not None:
            Path(directory).mkdir(parents=True, exist_ok=True)
        self.project, self.run_name, self.mode = project, run_name, mode
        self._run = wandb.init(
            project=project,
            name=run_name,
            config=dict(config),
            mode=mode,
            dir=None if directory is None else str(directory),
        )

    def __repr__(self) -> str:
        return (
            f"WandbSink(project={self.project!r}, run_name={self.run_name!r}, mode={self.mode!r})"
        )

    def log_metrics(self, row: dict[str, Any]) -> None:
        """Log the numeric fields of ``row`` (``step`` among them, to plot against)."""
        self._run.log(_numbers(row))

    def log_event(self, event: dict[str, Any]) -> None:
        """Log an event's counts and step under ``growth/``."""
        self._run.log(
            {f"growth/{k}": event[k] for k in (*_EVENT_NUMBERS, "epoch")} | {"step": event["step"]}
        )

    def close(self) -> None:
        """Finish the W&B run."""
        self._run.finish()


class TensorBoardSink:
    """Write metrics rows and growth events as TensorBoard scalars and text.

    Raises
    ------
    ImportError
        If ``torch.utils.tensorboard`` cannot be imported (it needs the ``tensorboard`` package).

    Examples
    --------
    >>> TensorBoardSink("/tmp/run/tensorboard")  # doctest: +SKIP
    TensorBoardSink('/tmp/run/tensorboard')
    """

    def __init__(self, logdir: str | os.PathLike) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.logdir = str(logdir)
        self._writer = SummaryWriter(log_dir=self.logdir)

    def __repr__(self) -> str:
        return f"TensorBoardSink({self.logdir!r})"

    def log_metrics(self, row: dict[str, Any]) -> None:
        """Add each numeric field of ``row`` as scalar ``metrics/<name>`` at ``row["step"]``."""
        for name, value in _numbers(row).items():
            self._writer.add_scalar(f"metrics/{name}", value, global_step=row["step"])
        self._writer.flush()

    def log_event(self, event: dict[str, Any]) -> None:
        """Add an event's counts as ``growth/<name>`` scalars and a line of text."""
        step = event["step"]
        for name in _EVENT_NUMBERS:
            self._writer.add_scalar(f"growth/{name}", event[name], global_step=step)
        self._writer.add_text(
            "growth/events", f"epoch {event['epoch']}: {event['rule']} ({event['reason']})", step
        )

    def close(self) -> None:
        """Flush and close the event file."""
        self._writer.close()


def default_sinks(
    directory: str | os.PathLike,
    config: Mapping[str, Any],
    wandb: bool | None = None,
    tensorboard: bool = False,
    *,
    project: str = "graphnet",
) -> list[Sink]:
    """The sinks that can run here, writing inside the run ``directory``.

    Parameters
    ----------
    directory : str or os.PathLike
        The run directory; W&B writes under ``directory/wandb``, TensorBoard under
        ``directory/tensorboard``. The W&B run is named after the directory.
    config : mapping
        The run's configuration, given to W&B.
    wandb : bool or None, default None
        None: a :class:`WandbSink` (offline) if ``wandb`` is installed. True: the same, with a
        warning if it is not. False: none.
    tensorboard : bool, default False
        True: a :class:`TensorBoardSink`, or a warning if ``tensorboard`` is not installed.
    project : str, default "graphnet"
        The W&B project.

    Returns
    -------
    list
        The sinks made. A sink that cannot start is left out with a warning; nothing is required.

    Examples
    --------
    >>> import tempfile, warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     sinks = default_sinks(tempfile.mkdtemp(), {}, wandb=False, tensorboard=True)
    >>> all(hasattr(s, "log_metrics") for s in sinks)
    True
    """
    directory = Path(directory)
    sinks: list[Sink] = []
    if wandb is not False:
        start = lambda: WandbSink(project, directory.name, config, directory=directory / "wandb")
        sinks += _start("wandb", start, explicit=bool(wandb))
    if tensorboard:
        sinks += _start("tensorboard", lambda: TensorBoardSink(directory / "tensorboard"), True)
    return sinks


def _start(name: str, factory: Callable[[], Sink], explicit: bool) -> list[Sink]:
    """``[factory()]``, or ``[]`` with a warning (none for a missing, unrequested package)."""
    try:
        return [factory()]
    except ImportError as err:
        if explicit:
            warnings.warn(f"{name} is not installed ({err}); not logging to it", stacklevel=3)
    except Exception as err:  # a sink's own start-up may fail in any way; the run goes on
        warnings.warn(f"{name} sink failed to start ({type(err).__name__}: {err})", stacklevel=3)
    return []
