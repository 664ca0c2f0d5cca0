"""The built-in ``household`` environment: procedurally generated, ALFWorld-like rooms and tasks."""

from sparkrl.envs.household.catalog import ROOM_SIZES
from sparkrl.envs.household.env import EXPERT_STEP_BUDGET, HouseholdEnv, expert_solves, small_household, solvable_rules
from sparkrl.envs.household.expert import HouseholdExpert, parse_goal
from sparkrl.envs.household.world import TaskKey, World, generate_world

__all__ = [
    "EXPERT_STEP_BUDGET",
    "HouseholdEnv",
    "HouseholdExpert",
    "ROOM_SIZES",
    "TaskKey",
    "World",
    "expert_solves",
    "generate_world",
    "parse_goal",
    "small_household",
    "solvable_rules",
]
