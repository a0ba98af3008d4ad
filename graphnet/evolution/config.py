"""``EvolutionConfig``: every number of an evolution run, validated, with the seeds' defaults.

A run is reproducible from its config alone (the seed included). Configs load from and save to
YAML or JSON; a wrong field is refused with a message that names it.

>>> cfg = EvolutionConfig()
>>> cfg.economy.credits_per_spike, cfg.economy.growth_cost, [p.name for p in cfg.phases]
(10.0, 100.0, ['coarse', 'medium', 'fine'])
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from graphnet.core.atomic import atomic_path
from graphnet.core.errors import GraphError, GraphFileError

from .records import explain

__all__ = [
    "EvolutionConfig",
    "NetworkConfig",
    "DataConfig",
    "TrainingConfig",
    "SpikeConfig",
    "EconomyConfig",
    "PhaseConfig",
    "RuleConfig",
    "TournamentConfig",
    "SnapshotConfig",
    "StopConfig",
    "LoggingConfig",
    "RULE_NAMES",
    "load_config",
    "as_config",
    "result_settings",
]

RULE_NAMES = (
    "extrema_routing",
    "vertical_cloning",
    "dead_highways",
    "extrema_patches",
    "bottleneck_level",
    "proportional",
    "set",
    "rigl",
    "residual",
    "gradient_edges",
    "plateau_level",
)
"""Growth rules :func:`graphnet.evolve` knows by name (see ``graphnet.evolution.rules``)."""


class _Model(BaseModel):
    # strict: no silent coercion (a YAML `true` is not the width 1, a quoted "0.5" not 0.5)
    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False, strict=True)


class NetworkConfig(_Model):
    """The seed network: an MLP over the data's features and classes at ``density``."""

    hidden: list[int] = Field(default=[128, 64], description="hidden level widths")
    density: float = Field(
        default=0.02, gt=0, le=1, description="seed density (the seeds used 0.0001-0.02)"
    )
    init: Literal["he", "xavier", "pca"] = Field(
        default="he",
        description="he / xavier over each neuron's actual fan-in; pca: the first level from "
        "the principal components of the training inputs (data-driven), the rest he",
    )
    activation: str = "relu"

    @field_validator("hidden")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(h < 1 for h in v):
            raise ValueError(f"every hidden width must be at least 1, got {v}")
        return v


class DataConfig(_Model):
    """The data set: embedded or generated ones, or files a user already has (``path``);
    nothing is ever downloaded."""

    name: Literal["digits", "mnist1d", "mnist", "fashion-mnist"] = "digits"
    path: str | None = Field(
        default=None, description="IDX directory or .npz (mnist, fashion-mnist)"
    )
    test_fraction: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="re-split train+test (default: the data set's own split)",
    )
    samples: int | None = Field(default=None, ge=10, description="a class-balanced training subset")
    validation_fraction: float = Field(
        default=0.0, ge=0, lt=1, description="share of the training set held out for selection"
    )


class TrainingConfig(_Model):
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(default=0.01, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    momentum: float = Field(default=0.9, ge=0, lt=1, description="SGD only")
    batch_size: int | Literal["auto"] = Field(
        default=64, description="rows per step; auto: the largest power of two that fits memory"
    )

    @field_validator("batch_size")
    @classmethod
    def _positive_batch(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError(f"batch_size must be at least 1 (or auto), got {v}")
        return v

    device: str = Field(default="cpu", description="cpu, cuda or cuda:N")
    lr_schedule: Literal[
        "none", "recommended", "cascade", "dual", "age", "components", "pretrained",
        "growth_aware", "warmup", "lars", "freezing", "event_decay", "sparsity", "sedimentary",
    ] = Field(
        default="none",
        description="per-edge and per-neuron learning-rate multipliers (learning_rates module)",
    )  # fmt: skip
    lr_options: dict[str, Any] = Field(default_factory=dict, description="the schedule's options")


class SpikeConfig(_Model):
    """Gradient-variance spike detection: a spike is a ``change`` (0.5: 50%) change of a level's
    gradient-norm variance between the halves of a ``window``-step window."""

    window: int = Field(default=10, ge=4)
    change: float = Field(default=0.5, gt=0)
    every: int = Field(default=1, ge=1, description="record gradient norms every this many steps")


class EconomyConfig(_Model):
    """The credit economy: spikes earn credits, growth spends them."""

    enabled: bool = True
    credits_per_spike: float = Field(default=10.0, ge=0)
    growth_cost: float = Field(default=100.0, ge=0)
    initial_credits: float = Field(default=0.0, ge=0)
    max_credits: float | None = Field(default=None, description="cap on saved credits")


class PhaseConfig(_Model):
    """A growth phase from ``start_epoch`` on: at most ``max_structures`` structures (new
    edges plus new neurons) per growth event."""

    name: str
    start_epoch: int = Field(ge=0)
    max_structures: int = Field(ge=1)


class RuleConfig(_Model):
    """One growth rule by name, with its options (passed to the rule's constructor)."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in RULE_NAMES:
            raise ValueError(f"unknown growth rule {v!r}; known: {', '.join(RULE_NAMES)}")
        return v


class TournamentConfig(_Model):
    """Candidates applied to copies, trained briefly, scored by d(metric)/d(parameters)."""

    enabled: bool = True
    train_steps: int = Field(default=10, ge=0)
    metric: Literal["accuracy", "information"] = Field(
        default="accuracy",
        description="validation accuracy, or information (nats) the outputs carry",
    )
    processes: int = Field(default=1, ge=1, description="candidate scoring in parallel processes")
    max_candidates: int = Field(default=3, ge=1)


class SnapshotConfig(_Model):
    on_growth: bool = True
    improvement: float | None = Field(
        default=0.02, description="snapshot when accuracy beats the best snapshot by this share"
    )
    full_every: int = Field(default=5, ge=1)


class LoggingConfig(_Model):
    """Where metrics and events go besides the run directory's own files."""

    wandb: bool | None = Field(
        default=None, description="W&B (offline) when installed; True insists, False never"
    )
    tensorboard: bool = False
    project: str = "graphnet"


class StopConfig(_Model):
    """When a run ends: the first criterion met."""

    max_epochs: int = Field(default=150, ge=1, description="the three phases need 100+")
    target_accuracy: float | None = Field(default=None, gt=0, le=1)
    max_parameters: int | None = Field(default=None, ge=1)
    max_steps: int | None = Field(default=None, ge=1)
    patience: int | None = Field(
        default=None, ge=1, description="epochs without a better validation accuracy"
    )
    when_no_extrema: bool = Field(
        default=True,
        description="stop once growth has left no dead or saturated neuron (checked at growth "
        "opportunities, after the first growth event)",
    )


def _default_phases() -> list[PhaseConfig]:
    return [
        PhaseConfig(name="coarse", start_epoch=0, max_structures=10),
        PhaseConfig(name="medium", start_epoch=50, max_structures=50),
        PhaseConfig(name="fine", start_epoch=100, max_structures=200),
    ]


def _default_rules() -> list[RuleConfig]:
    return [
        RuleConfig(name="extrema_routing"),
        RuleConfig(name="dead_highways"),
        RuleConfig(name="vertical_cloning"),
        RuleConfig(name="proportional"),
    ]


class EvolutionConfig(_Model):
    """Every number of a :func:`graphnet.evolve` run; the defaults are the seeds' values.

    Examples
    --------
    >>> cfg = EvolutionConfig(seed=3, stop={"max_epochs": 5})
    >>> cfg.stop.max_epochs, cfg.stabilisation_epochs, cfg.bootstrap_epochs
    (5, 10, 15)
    >>> EvolutionConfig(stop={"max_epoch": 5})
    Traceback (most recent call last):
    ...
    graphnet.core.errors.GraphError: invalid evolution config: stop.max_epoch: Extra inputs are not permitted
    """

    seed: int = 0
    label: str = Field(
        default="", description="a name for the run in reports (e.g. a sweep's grid label)"
    )
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    spikes: SpikeConfig = Field(default_factory=SpikeConfig)
    economy: EconomyConfig = Field(default_factory=EconomyConfig)
    phases: list[PhaseConfig] = Field(default_factory=_default_phases)
    rules: list[RuleConfig] = Field(default_factory=_default_rules)
    tournament: TournamentConfig = Field(default_factory=TournamentConfig)
    snapshots: SnapshotConfig = Field(default_factory=SnapshotConfig)
    stop: StopConfig = Field(default_factory=StopConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    stabilisation_epochs: int = Field(default=10, ge=0, description="no growth right after growth")
    bootstrap_epochs: int = Field(default=15, ge=0, description="no growth before this epoch")
    analysis_samples: int = Field(default=512, ge=16, description="samples the analyzers read")
    checkpoint_every: int = Field(default=5, ge=1, description="epochs between resume points")
    progress: bool = True

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise GraphError(f"invalid evolution config: {explain(err)}") from None

    @model_validator(mode="after")
    def _phases_ordered(self) -> EvolutionConfig:
        starts = [p.start_epoch for p in self.phases]
        if not starts or starts[0] != 0 or starts != sorted(set(starts)):
            raise ValueError(
                f"phases must start at epoch 0 and in increasing order, got starts {starts}"
            )
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError(f"a growth rule is listed twice: {names}")
        return self

    def phase_at(self, epoch: int) -> PhaseConfig:
        """The phase an epoch belongs to.

        >>> EvolutionConfig().phase_at(75).name
        'medium'
        """
        return [p for p in self.phases if p.start_epoch <= epoch][-1]

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> None:
        """Write the config as YAML (``.yaml``/``.yml``) or JSON (anything else), atomically.

        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "run.yaml"
        >>> EvolutionConfig(seed=7).save(p); load_config(p).seed
        7
        """
        path = Path(path)
        data = self.model_dump(mode="json")
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            text = yaml.safe_dump(data, sort_keys=False)
        else:
            text = json.dumps(data, indent=2)
        with atomic_path(path) as tmp:
            tmp.write_text(text)

    @classmethod
    def load(cls, path: str | os.PathLike) -> EvolutionConfig:
        """Read a config written by :meth:`save` (or by hand); see :func:`load_config`."""
        return load_config(path)


def _one_line(err: Exception) -> str:
    """A YAML or JSON parse error in one line: what went wrong, and where (1-based)."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None)
    if mark is not None and problem:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return " ".join(str(err).split())


def load_config(path: str | os.PathLike) -> EvolutionConfig:
    """Read an :class:`EvolutionConfig` from YAML or JSON.

    Raises
    ------
    GraphFileError
        If the file is missing or not YAML/JSON.
    GraphError
        If a field is wrong (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise GraphFileError(f"{path}: no such config file")
    text = path.read_text()
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as err:  # yaml.YAMLError / json.JSONDecodeError
        raise GraphFileError(f"{path}: not a valid config file ({_one_line(err)})") from None
    if not isinstance(data, dict):
        raise GraphFileError(
            f"{path}: a config must be a mapping of fields, got {type(data).__name__}"
        )
    try:
        return EvolutionConfig(**data)
    except GraphError as err:
        raise GraphError(f"{path}: {err}") from None


def as_config(config: Any) -> EvolutionConfig:
    """An :class:`EvolutionConfig` from what a user passes: None (the defaults), a config, a
    dict of fields or the path of a YAML/JSON file.

    Raises
    ------
    GraphError
        For anything else, or a field that is wrong (the message names it).

    Examples
    --------
    >>> as_config({"stop": {"max_epochs": 3}}).stop.max_epochs
    3
    """
    if config is None:
        return EvolutionConfig()
    if isinstance(config, EvolutionConfig):
        return config
    if isinstance(config, dict):
        return EvolutionConfig(**config)
    if isinstance(config, (str, os.PathLike)):
        return load_config(config)
    raise GraphError(
        f"evolve needs an EvolutionConfig, a dict or a config file, got {type(config).__name__}"
    )


def result_settings(cfg: dict) -> dict:
    """A config (as JSON-ready dict) without the settings that cannot change a run's result:
    progress bars, logging sinks, device, tournament processes, how often resume points are
    written. Two runs with equal result settings compute the same thing.

    Examples
    --------
    >>> a = EvolutionConfig().model_dump(mode="json")
    >>> b = EvolutionConfig(progress=False).model_dump(mode="json")
    >>> result_settings(a) == result_settings(b), a == b
    (True, False)
    """
    out = {k: v for k, v in cfg.items() if k not in ("progress", "logging", "checkpoint_every")}
    out["training"] = {k: v for k, v in cfg.get("training", {}).items() if k != "device"}
    out["tournament"] = {k: v for k, v in cfg.get("tournament", {}).items() if k != "processes"}
    return out
