"""ScienceWorld env speed: JVM start, steps/s (one env; two envs on a pool of two JVMs),
replay-fork cost by depth, and resident memory per JVM.

    python benchmarks/scienceworld_speed.py [--steps 60] [--repeats 3]

Needs ``scienceworld`` and Java. Steps are random admissible actions (seeded) that neither
focus nor reset the task, so episodes run to the depth asked. A fork is free (lazy); its cost
is paid on its first step: nothing extra when the JVM still holds the parent's state
("affinity hit"), else a reload and a replay of the parent's history ("replay"). The last line
printed is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from sparkrl.envs.base import Observation, Task
from sparkrl.envs.pool import EnvPool
from sparkrl.envs.scienceworld import BackendPool, JvmBackend, ScienceWorldEnv

FORK_DEPTHS = (0, 5, 10, 20, 30)
TASKS = (Task("scienceworld", "boil/0", "L0", "boil"),
         Task("scienceworld", "chemistry-mix/0", "L0", "chemistry-mix"))
SKIPPED_PREFIXES = ("focus on", "reset task")


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def pick(rng: random.Random, actions: list[str]) -> str:
    """A random admissible action that keeps the episode going."""
    return rng.choice([a for a in actions if not a.startswith(SKIPPED_PREFIXES)])


def walk(env: ScienceWorldEnv, task: Task, depth: int, seed: int) -> Observation:
    """Reset ``env`` on ``task``, take ``depth`` random steps; the last observation."""
    rng = random.Random(seed)
    observation = env.reset(task)
    for _ in range(depth):
        observation = env.step(pick(rng, observation.admissible_actions)).observation
    return observation


def resident_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=60, help="steps timed per env")
    parser.add_argument("--repeats", type=int, default=3, help="forks timed per depth")
    args = parser.parse_args()

    starts = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        backend = JvmBackend(heap_mb=512, java_path="java")
        starts.append(time.perf_counter() - started)
        backend.close()

    with BackendPool(max_backends=1) as one:
        env = ScienceWorldEnv(max_steps=1000, pool=one)
        first_reset = timed(lambda: env.reset(TASKS[0]))
        single_s = timed(lambda: walk(env, TASKS[0], args.steps, seed=0))
        single = args.steps / single_s

        fork_hit, fork_replay, fork_call = {}, {}, {}
        for depth in FORK_DEPTHS:
            hits, replays, calls = [], [], []
            for repeat in range(args.repeats):
                observation = walk(env, TASKS[0], depth, seed=100 + repeat)
                action = pick(random.Random(repeat), observation.admissible_actions)
                started = time.perf_counter()
                child = env.fork()
                calls.append(time.perf_counter() - started)
                hits.append(timed(lambda c=child: c.step(action)))
                # The only JVM now holds the child's state: the sibling must reload and replay.
                sibling = env.fork()
                replays.append(timed(lambda s=sibling: s.step(action)))
            fork_call[depth] = statistics.median(calls)
            fork_hit[depth] = statistics.median(hits)
            fork_replay[depth] = statistics.median(replays)
            print(f"fork at depth {depth:2d}: call {fork_call[depth] * 1e6:.0f}us, first step "
                  f"{fork_hit[depth]:.3f}s on an affinity hit, {fork_replay[depth]:.3f}s with replay")

    with BackendPool(max_backends=2) as two, EnvPool(max_workers=2) as threads:
        envs = [ScienceWorldEnv(max_steps=1000, pool=two) for _ in TASKS]
        resets = threads.reset(list(zip(envs, TASKS)), raise_errors=True)
        observations = [call.get() for call in resets]
        rngs = [random.Random(seed) for seed in range(len(envs))]
        started = time.perf_counter()
        for _ in range(args.steps):
            pairs = [(env, pick(rng, obs.admissible_actions))
                     for env, rng, obs in zip(envs, rngs, observations)]
            calls = threads.step(pairs, raise_errors=True)
            observations = [call.get().observation for call in calls]
        pooled = len(envs) * args.steps / (time.perf_counter() - started)
        memory = [round(resident_mb(pid)) for pid in two.pids]

    result = {
        "jvm_start_s": round(statistics.median(starts), 3),
        "first_reset_with_jvm_start_s": round(first_reset, 3),
        "steps_per_s_single": round(single, 2),
        "steps_per_s_pool2": round(pooled, 2),
        "pool2_speedup": round(pooled / single, 2),
        "fork_call_us": {d: round(s * 1e6, 1) for d, s in fork_call.items()},
        "fork_first_step_hit_s": {d: round(s, 4) for d, s in fork_hit.items()},
        "fork_first_step_replay_s": {d: round(s, 4) for d, s in fork_replay.items()},
        "jvm_resident_mb": memory,
    }
    print(f"JVM start {result['jvm_start_s']}s; {result['steps_per_s_single']} steps/s single, "
          f"{result['steps_per_s_pool2']} steps/s with two envs on two JVMs; RSS {memory} MB")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
