"""A seeded scripted policy for CounterEnv (tests/envs/toy_envs.py): no model needed."""

import random

from tests.scripted_response import Response


class CounterPolicy:
    """Picks ``inc`` with probability ``inc_rate`` (else ``dec``/``look``), and writes an
    ``<explore>`` block with probability ``explore_rate``."""

    def __init__(self, inc_rate=1.0, explore_rate=0.0, seed=0):
        self.rng = random.Random(seed)
        self.inc_rate, self.explore_rate = inc_rate, explore_rate

    def encode(self, messages):
        return [ord(c) % 251 for c in messages[-1]["content"]][:50]

    def sample(self, prompts, n=1, temperature=1.0, top_p=1.0, max_new_tokens=512):
        out = []
        for prompt in prompts:
            action = "inc" if self.rng.random() < self.inc_rate else self.rng.choice(["dec", "look"])
            mode = "explore" if self.rng.random() < self.explore_rate else "think"
            out.append(Response(list(prompt), [1, 2, 3], [-1.0] * 3,
                                f"<{mode}>r</{mode}><action>{action}</action>", 0.5))
        return out
