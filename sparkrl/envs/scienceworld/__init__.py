"""ScienceWorld (``pip install scienceworld==1.2.3``, Java >= 11) as a sparkrl env.

- **Games.** Task id ``"<task name>/<variation>"``, e.g. ``"boil/3"``; ``Task.task_type`` is the
  ScienceWorld task name. Simplifications default to ``"easy"`` (teleport, open doors and
  containers, self-watering pots, no electrical actions except in electrical tasks).
- **Splits** (``catalog``): L2 holds out one task type per ScienceWorld topic, the ten types
  that carry a skill to something new — ``change-the-state-of-matter-of``,
  ``measure-melting-point-unknown-substance``, ``test-conductivity-of-unknown-substances``,
  ``find-plant``, ``grow-plant``, ``chemistry-mix-paint-tertiary-color``,
  ``lifespan-longest-lived-then-shortest-lived``, ``identify-life-stages-2``,
  ``inclined-plane-friction-unnamed-surfaces``, ``mendelian-genetics-unknown-plant`` (the
  RLVMR/Spark L2 set: their test variations are Spark's 549 L2 games). train/L0 split the
  simulator's train variations of the other 20 types (every 5th to L0); L1 is their test
  variations, L2 the held-out types' test variations.
- **Rewards** (``env``): 1.0 on the winning step (completed with score 100), else 0; raw score
  in ``info["score"]``; the game's own failure terminates without a win.
- **Admissible actions** (``actions``): the valid actions filtered to ~100-450 (two-object
  combinations only on a held object, circuit connections from wire terminals).
- **Backends** (``backend``): logical envs share a bounded pool of JVMs (default 2, ~0.5 GB
  each) with affinity and exact reset-and-replay; forks are lazy; a killed JVM is restarted
  and the episode replayed.
- **Expert** (``expert``): the simulator's gold path with search steps marked; gold paths run
  up to 179 steps (longer than K = 30 on many types), so golden data is played with
  ``sparkrl.data.golden.EXPERT_HORIZON`` steps.
- **Prompts**: the ``compact`` prompt style shows the long admissible lists grouped by verb
  (``focus on|look at: *`` over the visible ``objects:``), rebuilt exactly by
  ``sparkrl.agent.compact.parse_compact_user_message``; ``Observation.admissible_actions``
  stays the full list. A step sample fits 2,048 SmolLM2 tokens and 4,096 tiny-tokenizer tokens
  on every gold-path step of the 30 types (``docs/scienceworld.md``).
"""

from sparkrl.envs.scienceworld.actions import admissible_actions
from sparkrl.envs.scienceworld.backend import BackendPool, Game, JvmBackend, PoolStats
from sparkrl.envs.scienceworld.catalog import (
    HELD_OUT_TYPES,
    L0_STRIDE,
    SEEN_TYPES,
    TASK_TYPES,
    parse_task_id,
    task_id,
    variation_table,
)
from sparkrl.envs.scienceworld.env import SIMPLIFICATIONS, ScienceWorldEnv, default_pool
from sparkrl.envs.scienceworld.expert import GoldExpert, destination_of, target_of

__all__ = [
    "HELD_OUT_TYPES",
    "L0_STRIDE",
    "SEEN_TYPES",
    "SIMPLIFICATIONS",
    "TASK_TYPES",
    "BackendPool",
    "Game",
    "GoldExpert",
    "JvmBackend",
    "PoolStats",
    "ScienceWorldEnv",
    "admissible_actions",
    "default_pool",
    "destination_of",
    "parse_task_id",
    "target_of",
    "task_id",
    "variation_table",
]
