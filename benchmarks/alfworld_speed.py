"""ALFWorld env speed: steps/s, game load (cold / cached), fork-by-replay cost by depth.

    python benchmarks/alfworld_speed.py [--data DIR] [--games 4] [--repeats 3]

Compares sparkrl's ``AlfWorldEnv`` (memoised PDDL translation and grammar parses, pooled
engines) with plain TextWorld doing the same replay fork (load + reset + replay). Needs the
``alfworld`` extra and the game files (see ``sparkrl.envs.alfworld.find_alfworld_data``).
The last line printed is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable

import textworld
from alfworld.agents.environment.alfred_tw_env import AlfredDemangler

from sparkrl.envs.alfworld import AlfWorldEnv
from sparkrl.envs.alfworld.data import game_file
from sparkrl.envs.alfworld.engine import GameEngine
from sparkrl.envs.base import Task

FORK_DEPTHS = (0, 5, 10, 20, 30)


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def random_walk(env: AlfWorldEnv, task: Task, depth: int, seed: int) -> list[str]:
    """Reset ``env`` on ``task`` and take ``depth`` random admissible actions that do not win."""
    rng = random.Random(seed)
    observation = env.reset(task)
    while env.num_steps < depth:
        result = env.step(rng.choice(observation.admissible_actions))
        if result.done:
            observation = env.reset(task)
            continue
        observation = result.observation
    return list(env.actions)


def plain_textworld_fork(path: str, actions: list[str]) -> None:
    """What a replay fork costs without sparkrl's memos and pool."""
    infos = textworld.EnvInfos(won=True, admissible_commands=True, extras=["walkthrough"])
    game = textworld.start(path, infos, wrappers=[AlfredDemangler()])
    game.reset()
    for action in actions:
        game.step(action)


def new_engine_game(path: str) -> None:
    """A new engine (its own planner library) loading and starting a game seen before."""
    engine = GameEngine()
    engine.load(path)
    engine.reset()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="ALFWorld games folder (default: lookup)")
    parser.add_argument("--games", type=int, default=4, help="games timed for load and steps")
    parser.add_argument("--repeats", type=int, default=3, help="forks timed per depth")
    args = parser.parse_args()

    env = AlfWorldEnv(data=args.data, max_steps=max(FORK_DEPTHS) + 10)
    tasks = env.tasks("L1")[:: max(1, len(env.tasks("L1")) // args.games)][: args.games]

    cold = [timed(lambda t=task: AlfWorldEnv(data=env.data).reset(t)) for task in tasks]
    cached = [timed(lambda t=task: AlfWorldEnv(data=env.data).reset(t)) for task in tasks]
    same_env = [timed(lambda t=task: env.reset(t)) for task in tasks]

    steps, seconds = 0, 0.0
    for index, task in enumerate(tasks):
        seconds += timed(lambda t=task, i=index: random_walk(env, t, max(FORK_DEPTHS), seed=i))
        steps += max(FORK_DEPTHS)
    steps_per_s = steps / seconds

    task = tasks[0]
    path = str(game_file(env.data, task.task_id))
    # A fork whose env finds no idle engine in the pool pays for a new one on top.
    new_engine = [timed(lambda: new_engine_game(path)) for _ in range(args.repeats)]
    fork_pooled, fork_plain = {}, {}
    for depth in FORK_DEPTHS:
        actions = random_walk(env, task, depth, seed=depth)
        pooled = [timed(lambda: env.fork().close()) for _ in range(args.repeats)]
        plain = [timed(lambda: plain_textworld_fork(path, actions)) for _ in range(args.repeats)]
        fork_pooled[depth] = statistics.median(pooled)
        fork_plain[depth] = statistics.median(plain)
        print(
            f"fork at depth {depth:2d}: sparkrl {fork_pooled[depth]:.3f}s, "
            f"plain TextWorld {fork_plain[depth]:.3f}s"
        )

    result = {
        "games": len(tasks),
        "load_cold_s": round(statistics.median(cold), 4),
        "load_cached_s": round(statistics.median(cached), 4),
        "reset_same_env_s": round(statistics.median(same_env), 4),
        "new_engine_load_s": round(statistics.median(new_engine), 4),
        "steps_per_s": round(steps_per_s, 2),
        "fork_s": {d: round(s, 4) for d, s in fork_pooled.items()},
        "fork_s_plain_textworld": {d: round(s, 4) for d, s in fork_plain.items()},
    }
    print(
        f"load: cold {result['load_cold_s']}s, cached {result['load_cached_s']}s, "
        f"reset {result['reset_same_env_s']}s, new engine {result['new_engine_load_s']}s; "
        f"{result['steps_per_s']} steps/s"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
