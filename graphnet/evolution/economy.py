"""The growth economy: gradient-variance spikes earn credits, growth spends them, and a
growth event is allowed only after the bootstrap period and a stabilisation period."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Economy", "growth_gate"]


@dataclass
class Economy:
    """Credits earned per spike and spent per growth event (``config``: an
    :class:`EconomyConfig`).

    >>> from graphnet.evolution.config import EconomyConfig
    >>> e = Economy.start(EconomyConfig())
    >>> for _ in range(10): e.earn(True)
    >>> e.credits, e.affordable(), e.spend(), e.credits
    (100.0, True, True, 0.0)
    """

    credits: float
    credits_per_spike: float
    growth_cost: float
    max_credits: float | None = None
    enabled: bool = True
    spikes: int = 0
    windows: int = 0

    @classmethod
    def start(cls, config) -> Economy:
        return cls(
            credits=float(config.initial_credits),
            credits_per_spike=float(config.credits_per_spike),
            growth_cost=float(config.growth_cost),
            max_credits=config.max_credits,
            enabled=config.enabled,
        )

    def earn(self, spiked: bool) -> None:
        """Close one gradient window; a window with a spike earns ``credits_per_spike``."""
        self.windows += 1
        if spiked:
            self.spikes += 1
            self.credits += self.credits_per_spike
            if self.max_credits is not None:
                self.credits = min(self.credits, float(self.max_credits))

    def affordable(self) -> bool:
        return not self.enabled or self.credits >= self.growth_cost

    def spend(self) -> bool:
        """Pay for one growth event; False (nothing spent) if the credits do not suffice."""
        if not self.affordable():
            return False
        if self.enabled:
            self.credits -= self.growth_cost
        return True

    def state_dict(self) -> dict:
        return asdict(self)


def growth_gate(config, epoch: int, last_growth: int | None, economy: Economy) -> str | None:
    """Why growth may not happen after ``epoch`` (None: it may).

    >>> from graphnet.evolution.config import EvolutionConfig
    >>> cfg = EvolutionConfig()
    >>> e = Economy.start(cfg.economy); e.credits = 100.0
    >>> growth_gate(cfg, 3, None, e), growth_gate(cfg, 20, 15, e), growth_gate(cfg, 30, 15, e)
    ('bootstrap until epoch 15', 'stabilising until epoch 25', None)
    """
    if epoch < config.bootstrap_epochs:
        return f"bootstrap until epoch {config.bootstrap_epochs}"
    if last_growth is not None and epoch < last_growth + config.stabilisation_epochs:
        return f"stabilising until epoch {last_growth + config.stabilisation_epochs}"
    if not economy.affordable():
        return f"{economy.credits:g} of {economy.growth_cost:g} credits"
    return None
