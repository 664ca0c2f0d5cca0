"""Branch triggers: when does a trajectory fork?

- ``explore`` (Spark's default): the step's response contains a full ``<explore>…</explore>``
  pair — the agent's own key-state signal.
- ``fixed``: branch with a constant probability per step (the paper's random-branching ablation).
- ``entropy``: ARPO-style, branch with probability ``p0 + 0.5·(H_now − H_first)`` where H is the
  normalised entropy of the first 20 generated tokens' top-10 candidates and H_first is that of
  the trajectory's first step.
- ``none``: never branch; with M = N this is plain GRPO (N independent chains).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StepSignal:
    """What a trigger may look at after a step executed."""

    explore: bool
    head_entropy: float
    """Normalised entropy of the response's first tokens (see ``sparkrl.models``), in [0, 1]."""
    first_head_entropy: float
    """The same figure for the trajectory's first step (H_first)."""


class Trigger(Protocol):
    def fires(self, signal: StepSignal, rng: random.Random) -> bool:
        """Whether the trajectory that produced ``signal`` should fork now."""
        ...


@dataclass(frozen=True)
class ExploreTrigger:
    def fires(self, signal: StepSignal, rng: random.Random) -> bool:
        return signal.explore


@dataclass(frozen=True)
class FixedTrigger:
    probability: float = 0.3

    def fires(self, signal: StepSignal, rng: random.Random) -> bool:
        return rng.random() < self.probability


@dataclass(frozen=True)
class EntropyTrigger:
    base_probability: float = 0.3
    slope: float = 0.5

    def fires(self, signal: StepSignal, rng: random.Random) -> bool:
        rise = signal.head_entropy - signal.first_head_entropy
        probability = min(1.0, max(0.0, self.base_probability + self.slope * rise))
        return rng.random() < probability


@dataclass(frozen=True)
class NeverTrigger:
    def fires(self, signal: StepSignal, rng: random.Random) -> bool:
        return False


TRIGGERS = ("explore", "fixed", "entropy", "none")


def make_trigger(name: str, probability: float = 0.3) -> Trigger:
    """The trigger called ``name``; ``probability`` is ``fixed``'s rate and ``entropy``'s p0."""
    if name == "explore":
        return ExploreTrigger()
    if name == "fixed":
        return FixedTrigger(probability)
    if name == "entropy":
        return EntropyTrigger(base_probability=probability)
    if name == "none":
        return NeverTrigger()
    raise ValueError(f"unknown trigger {name!r}; choose one of {', '.join(TRIGGERS)}")
