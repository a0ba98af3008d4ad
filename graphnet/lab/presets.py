"""Named experiment settings: partial :class:`graphnet.EvolutionConfig` dicts merged over the
defaults (the seeds' numbers), each stating what it is for.

``grow`` is what ``graphnet grow`` runs when no config is given: a seed below 1% of the dense
MLP's connections, grown where the loss gradient points until the network holds a fifth of the
dense MLP's parameters, trained on to the epoch limit.

>>> sorted(PRESETS)
['cliff', 'grow', 'indefinite', 'seeds']
>>> preset_config("grow", dataset="digits").network.hidden
[256, 128]
"""

from __future__ import annotations

import copy
from typing import Any

from graphnet.core.errors import GraphError
from graphnet.evolution.config import EvolutionConfig
from graphnet.evolution.evolve import dense_parameters

__all__ = ["PRESETS", "preset_config", "merge", "parameter_budget"]

_FAST_GROWTH: dict[str, Any] = {
    "bootstrap_epochs": 2,
    "stabilisation_epochs": 2,
    "economy": {"growth_cost": 10},
    "phases": [{"name": "coarse", "start_epoch": 0, "max_structures": 2000}],
    "tournament": {"enabled": False},
}

PRESETS: dict[str, dict[str, Any]] = {
    "grow": {
        "network": {"hidden": [256, 128], "density": 0.005},
        "stop": {"max_epochs": 60},
        "rules": [{"name": "gradient_edges", "options": {"ratio": 0.5}}],
        "budget_share": 0.2,
        **_FAST_GROWTH,
    },
    "seeds": {},  # the seeds' own numbers: EvolutionConfig's defaults
    "cliff": {
        # below the density where a fixed sparse network's accuracy collapses
        "network": {"hidden": [256, 128], "density": 0.001},
        "stop": {"max_epochs": 60},
        "rules": [{"name": "gradient_edges", "options": {"ratio": 0.5}}],
        "budget_share": 0.2,
        **_FAST_GROWTH,
    },
    "indefinite": {
        # grow until validation plateaus, inserting levels at bottlenecks
        "network": {"hidden": [128], "density": 0.01},
        "data": {"validation_fraction": 0.15},
        "stop": {"max_epochs": 120, "patience": 30, "when_no_extrema": False},
        "rules": [
            {"name": "bottleneck_level"},
            {"name": "plateau_level", "options": {"patience": 8}},
            {"name": "gradient_edges", "options": {"ratio": 0.3}},
        ],
        "budget_share": 0.5,
        **_FAST_GROWTH,  # no tournament: a bottleneck, when there is one, goes first
    },
}
"""The presets; ``budget_share`` (a share of the dense MLP's parameters) becomes
``stop.max_parameters`` once the data set's widths are known."""


def merge(base: dict, override: dict) -> dict:
    """Merge nested dicts: ``override`` wins, dicts merge key by key, lists are replaced.

    >>> merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}})
    {'a': {'b': 1, 'c': 3}}
    """
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = (
            merge(out[k], v)
            if isinstance(v, dict) and isinstance(out.get(k), dict)
            else copy.deepcopy(v)
        )
    return out


def parameter_budget(share: float, features: int, hidden: list[int], classes: int) -> int:
    """``share`` of the dense MLP's parameters.

    >>> parameter_budget(0.2, 64, [256, 128], 10)
    10165
    """
    return int(share * dense_parameters([features, *hidden, classes]))


def preset_config(
    name: str, *, dataset: str = "digits", overrides: dict | None = None
) -> EvolutionConfig:
    """The :class:`EvolutionConfig` of preset ``name`` on ``dataset``, with ``overrides``
    (nested dicts) applied last."""
    if name not in PRESETS:
        raise GraphError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    raw = merge(PRESETS[name], {"data": {"name": dataset}})
    raw = merge(raw, overrides or {})
    share = raw.pop("budget_share", None)
    if share is not None and not (raw.get("stop") or {}).get("max_parameters"):
        from graphnet.train.datasets import dataset_info

        info = dataset_info(raw["data"]["name"])
        hidden = raw.get("network", {}).get("hidden", EvolutionConfig().network.hidden)
        budget = parameter_budget(share, info["features"], hidden, info["classes"])
        raw = merge(raw, {"stop": {"max_parameters": budget}})
    return EvolutionConfig(**raw)
