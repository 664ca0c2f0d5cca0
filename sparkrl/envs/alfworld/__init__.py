"""ALFWorld (the TextWorld version) as a sparkrl env; needs the ``alfworld`` extra and game files."""

from sparkrl.envs.alfworld.data import (
    HELD_OUT_TYPES,
    SEEN_TYPES,
    SPLIT_RULES,
    TASK_TYPES,
    find_alfworld_data,
    prepare_alfworld_data,
)
from sparkrl.envs.alfworld.env import AlfWorldEnv
from sparkrl.envs.alfworld.expert import WalkthroughExpert

__all__ = [
    "HELD_OUT_TYPES",
    "SEEN_TYPES",
    "SPLIT_RULES",
    "TASK_TYPES",
    "AlfWorldEnv",
    "WalkthroughExpert",
    "find_alfworld_data",
    "prepare_alfworld_data",
]
