"""The records of an evolution run: one :class:`EpochMetrics` per epoch, one :class:`GrowthEvent`
per structural edit, and how they are read back from JSON Lines.

Both schemas forbid unknown fields (a misspelt field is a validation error, not a silently
dropped value) and non-finite numbers (a NaN loss is refused where it is logged, not found later
in a plot). Records are frozen. Numbers may be numpy scalars; they are stored as plain ints and
floats.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from graphnet.core.errors import GraphFileError

__all__ = [
    "EpochMetrics",
    "GrowthEvent",
    "RunSummary",
    "read_jsonl",
    "write_summary",
    "read_summary",
]

_Unit = Annotated[float, Field(ge=0.0, le=1.0)]
_Count = Annotated[int, Field(ge=0)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class EpochMetrics(_Record):
    """What one epoch of a run measured; one line of ``metrics.jsonl``.

    ``wall_time`` counts seconds since the run started; ``extra`` holds further named numbers.

    Examples
    --------
    >>> row = EpochMetrics(epoch=0, step=100, loss=0.7, train_acc=0.8, test_acc=0.75,
    ...                    edges=120, neurons=30, parameters=150, density=0.4, phase="grow",
    ...                    wall_time=1.5)
    >>> row.credits, row.extra
    (0.0, {})
    >>> EpochMetrics(**{**row.model_dump(), "loss": float("nan")})
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for EpochMetrics
    loss
      Input should be a finite number ...
    """

    epoch: _Count
    step: _Count
    loss: float
    train_acc: _Unit
    test_acc: _Unit
    edges: _Count
    neurons: _Count
    parameters: _Count
    density: _Unit
    phase: str
    credits: float = 0.0
    wall_time: float = Field(ge=0.0)
    extra: dict[str, float] = {}


class GrowthEvent(_Record):
    """One structural edit of a run (what rule fired, why, and what it changed); one line of
    ``events.jsonl``. ``details`` holds any JSON-serialisable data of the rule.

    Examples
    --------
    >>> e = GrowthEvent(epoch=3, step=300, rule="add_level", reason="plateau", phase="grow",
    ...                 edges_added=40, edges_removed=0, neurons_added=8, neurons_removed=0,
    ...                 parameters_before=150, parameters_after=198, accuracy_before=0.81)
    >>> e.parameters_after - e.parameters_before
    48
    >>> GrowthEvent(**{**e.model_dump(), "edge_added": 1})
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for GrowthEvent
    edge_added
      Extra inputs are not permitted ...
    """

    epoch: _Count
    step: _Count
    rule: str = Field(min_length=1)
    reason: str
    phase: str
    edges_added: _Count
    edges_removed: _Count
    neurons_added: _Count
    neurons_removed: _Count
    parameters_before: _Count
    parameters_after: _Count
    accuracy_before: _Unit | None = None
    accuracy_after: _Unit | None = None
    score: float | None = None
    details: dict[str, Any] = {}

    @field_validator("details")
    @classmethod
    def _json_details(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise ValueError(f"details must be JSON data with finite numbers ({err})") from None
        return value


class RunSummary(_Record):
    """What a finished run reached, one per run directory (``summary.json``): the record a
    report compares across methods and seeds.

    ``method`` is ``"grow"`` for :func:`graphnet.evolve`, or the baseline's name (``dense``,
    ``random``, ``set``, ``rigl``); ``dense_parameters`` counts the dense MLP of the same
    widths, so ``parameters / dense_parameters`` is the share a run uses.

    Examples
    --------
    >>> s = RunSummary(method="grow", dataset="digits", seed=0, hidden=[128, 64], start_density=0.02,
    ...     density=0.05, parameters=900, dense_parameters=17226, edges=700, neurons=266,
    ...     levels=4, events=5, epochs=150, test_acc=0.9, wall_time=7.0)
    >>> round(s.parameter_share, 3)
    0.052
    """

    method: str = Field(min_length=1)
    dataset: str
    seed: int
    hidden: list[int]
    start_density: _Unit
    density: _Unit
    parameters: _Count
    dense_parameters: _Count
    edges: _Count
    neurons: _Count
    levels: _Count
    events: _Count
    epochs: _Count
    test_acc: _Unit
    val_acc: _Unit | None = None
    best_val_acc: _Unit | None = None
    wall_time: float = Field(ge=0.0)
    stopped: str = ""
    label: str = ""

    @property
    def parameter_share(self) -> float:
        return self.parameters / max(1, self.dense_parameters)


def write_summary(directory: str | Path, summary: RunSummary) -> None:
    """Write ``summary.json`` into a run directory, atomically."""
    from graphnet.core.atomic import atomic_path

    with atomic_path(Path(directory) / "summary.json") as tmp:
        tmp.write_text(summary.model_dump_json(indent=2))


def read_summary(directory: str | Path) -> RunSummary:
    """Read a run directory's ``summary.json``.

    Raises
    ------
    GraphFileError
        If it is missing (the run did not finish) or not a valid summary.
    """
    path = Path(directory) / "summary.json"
    if not path.is_file():
        raise GraphFileError(f"{directory}: no summary.json (not a finished graphnet run)")
    try:
        return RunSummary.model_validate_json(path.read_text())
    except ValidationError as err:
        raise GraphFileError(f"{path}: not a valid run summary ({explain(err)})") from None


_R = TypeVar("_R", bound=BaseModel)


def explain(err: ValidationError) -> str:
    """One line per broken field of a validation error (``field.path: message``), without
    pydantic's links or its "Value error, " prefix; records and configs share it.

    Examples
    --------
    >>> try:
    ...     GrowthEvent.model_validate_json('{"epoch": -1')
    ... except ValidationError as err:
    ...     print(explain(err))
    invalid JSON: EOF while parsing an object at line 1 column 12
    """
    parts = []
    for e in err.errors(include_url=False):
        where = ".".join(str(p) for p in e["loc"])
        what = e["msg"].removeprefix("Value error, ").replace("Invalid JSON", "invalid JSON")
        if e["type"] in ("int_type", "float_type", "string_type", "bool_type", "list_type"):
            what += f", got {e['input']!r}"  # the strict types: name what was given
        parts.append(f"{where}: {what}" if where else what)
    return "; ".join(parts)


def read_jsonl(path: str | Path, model: type[_R]) -> tuple[list[_R], int]:
    """Read the records of a JSON Lines file written one fsync'd line at a time.

    A record counts once its line ends with a newline, the last byte of its single write. A final
    line without one was cut short (the writer was killed mid-write, or is writing now): it is
    not returned, and its length is. Blank lines are skipped.

    Returns
    -------
    (records, torn)
        The records in file order, and the byte length of an incomplete last line (0 if none).
        A missing file reads as ``([], 0)``.

    Raises
    ------
    GraphFileError
        If a complete line is not valid JSON or not a valid ``model``; names file and line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.jsonl"
    >>> _ = path.write_text('{"x": 1}\\n{"x": 2}\\n{"x": ')
    >>> class X(BaseModel):
    ...     x: int
    >>> read_jsonl(path, X)
    ([X(x=1), X(x=2)], 6)
    >>> _ = path.write_text('{"x": 1}\\n{"y": 2}\\n{"x": 3}\\n')
    >>> read_jsonl(path, X)
    Traceback (most recent call last):
    ...
    graphnet.core.errors.GraphFileError: .../m.jsonl: line 2 is not a valid X record (x: Field required)
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    lines = data.split(b"\n")
    torn = len(lines.pop())
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(model.model_validate_json(line))
        except ValidationError as err:
            raise GraphFileError(
                f"{path}: line {number} is not a valid {model.__name__} record ({explain(err)})"
            ) from None
    return records, torn
