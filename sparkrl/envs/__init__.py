"""Text environments: the contract, the registry and the conformance checker."""

from sparkrl.envs.base import (
    SPLITS,
    UNKNOWN_ACTION_TEXT,
    EnvError,
    Expert,
    ExpertStep,
    Observation,
    StepResult,
    Task,
    TextEnv,
    replay_fork,
)
from sparkrl.envs.registry import available, make, register

__all__ = [
    "SPLITS",
    "UNKNOWN_ACTION_TEXT",
    "EnvError",
    "Expert",
    "ExpertStep",
    "Observation",
    "StepResult",
    "Task",
    "TextEnv",
    "available",
    "make",
    "register",
    "replay_fork",
]
