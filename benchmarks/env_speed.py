"""Speed of the built-in ``household`` env on one core.

Prints env steps per second under random admissible actions, reset cost (cold: generation and the
solvability check; warm: cached), and fork cost (native snapshot vs base-class replay fork, at
mid-episode depth). The LAST line is one JSON object with the figures.

    python benchmarks/env_speed.py [--episodes 300] [--forks 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import time

from sparkrl.envs.base import replay_fork
from sparkrl.envs.household import HouseholdEnv
from sparkrl.envs.household.env import solvable_rules


def measure_steps(env: HouseholdEnv, episodes: int, rng: random.Random) -> dict[str, float]:
    """Play ``episodes`` games with random admissible actions; time resets and steps apart."""
    tasks = env.tasks("train", limit=episodes)
    solvable_rules.cache_clear()
    cold_start = time.perf_counter()
    for task in tasks:
        env.reset(task)
    cold_reset_s = time.perf_counter() - cold_start

    steps, step_s, warm_reset_s = 0, 0.0, 0.0
    for task in tasks:
        start = time.perf_counter()
        observation = env.reset(task)
        warm_reset_s += time.perf_counter() - start
        start = time.perf_counter()
        while not env.done:
            observation = env.step(rng.choice(observation.admissible_actions)).observation
            steps += 1
        step_s += time.perf_counter() - start
    return {
        "episodes": len(tasks),
        "steps": steps,
        "steps_per_s": steps / step_s,
        "steps_per_s_with_resets": steps / (step_s + warm_reset_s),
        "reset_ms_cold": 1000 * cold_reset_s / len(tasks),
        "reset_ms_warm": 1000 * warm_reset_s / len(tasks),
    }


def measure_forks(env: HouseholdEnv, forks: int, depth: int, rng: random.Random) -> dict[str, float]:
    """Mean time of a native fork and of a replay fork, both taken ``depth`` steps into a game."""
    task = env.tasks("train", limit=1)[0]
    observation = env.reset(task)
    while env.num_steps < depth:
        observation = env.step(rng.choice(observation.admissible_actions)).observation
    if env.done:
        raise RuntimeError("the benchmark game ended before the fork depth; pick another seed")
    start = time.perf_counter()
    for _ in range(forks):
        env.fork()
    native_s = (time.perf_counter() - start) / forks
    start = time.perf_counter()
    for _ in range(forks):
        replay_fork(env)
    replay_s = (time.perf_counter() - start) / forks
    return {
        "fork_depth": depth,
        "native_fork_us": 1e6 * native_s,
        "replay_fork_us": 1e6 * replay_s,
        "replay_over_native": replay_s / native_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--forks", type=int, default=2000)
    parser.add_argument("--depth", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    env = HouseholdEnv()
    figures = measure_steps(env, args.episodes, rng)
    figures.update(measure_forks(env, args.forks, args.depth, rng))
    print(f"household: {figures['steps']} random steps over {figures['episodes']} games")
    print(f"  steps/s            {figures['steps_per_s']:,.0f} "
          f"({figures['steps_per_s_with_resets']:,.0f} counting warm resets)")
    print(f"  reset              {figures['reset_ms_cold']:.2f} ms cold, "
          f"{figures['reset_ms_warm']:.3f} ms warm")
    print(f"  fork at depth {args.depth:<4} native {figures['native_fork_us']:.1f} us, "
          f"replay {figures['replay_fork_us']:.1f} us ({figures['replay_over_native']:.0f}x)")
    print(json.dumps({name: round(value, 3) for name, value in figures.items()}))


if __name__ == "__main__":
    main()
