"""What the policy sees at each step, and the response format it must answer in.

A step's prompt is two chat messages: a system message that fixes the response format and
explains the two reasoning modes (spark-method.md section 2), and a user message with the goal,
the last K (observation, action) pairs, the current observation and the admissible actions.
Past reasoning is never replayed: each step is an independent training sample whose prompt
already holds the history window, so the window must stay short and the wording compact (a tiny
model with a ~2k-token context is trained on these prompts).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sparkrl.agent.compact import COMPACT_SYSTEM_PROMPT, build_compact_user_message

THINK_TAG = "think"
EXPLORE_TAG = "explore"
ACTION_TAG = "action"
REASONING_TAGS: tuple[str, ...] = (THINK_TAG, EXPLORE_TAG)
ALL_TAGS: tuple[str, ...] = (THINK_TAG, EXPLORE_TAG, ACTION_TAG)
_TAG_STRINGS = tuple(f"<{slash}{name}>" for name in ALL_TAGS for slash in ("", "/"))

HISTORY_WINDOW = 5
"""Number of past (observation, action) pairs shown in a prompt (spark-method.md section 1)."""

ReasoningMode = Literal["think", "explore"]

PROMPT_STYLES: tuple[str, ...] = ("paper", "compact")
"""``paper``: the paper-faithful wording below (the default, for real LMs); ``compact``: the same
information in far fewer tokens for small models (``sparkrl.agent.compact``)."""

SYSTEM_PROMPT = (
    "You are an agent in a text world. Reply with one reasoning block, then one action block:\n"
    f"<{THINK_TAG}>...</{THINK_TAG}> for a routine step where things go as expected: "
    "track your progress toward the goal and say what comes next.\n"
    f"<{EXPLORE_TAG}>...</{EXPLORE_TAG}> when the state is uncertain (a surprising result, "
    "or something you need but have not found): list the places, items or actions worth trying.\n"
    f"Then <{ACTION_TAG}>...</{ACTION_TAG}> with exactly one of the admissible actions, "
    "copied verbatim. Write nothing outside these two blocks."
)


@dataclass(frozen=True)
class HistoryStep:
    """One past step: the observation the agent acted on and the action it sent."""

    step: int
    """1-based position of the step in the episode."""
    observation: str
    action: str


class History:
    """The sliding window of the last ``window`` steps of one trajectory.

    Rollout code keeps one per trajectory and calls ``copy()`` when the trajectory forks; the
    copy costs O(window) because the stored steps are immutable and shared.
    """

    def __init__(self, window: int = HISTORY_WINDOW) -> None:
        if window < 0:
            raise ValueError(f"history window must be >= 0, got {window}")
        self._steps: deque[HistoryStep] = deque(maxlen=window)
        self._num_steps = 0

    @property
    def window(self) -> int:
        """How many past steps a prompt shows."""
        return self._steps.maxlen or 0

    @property
    def num_steps(self) -> int:
        """Steps taken in the episode so far, including those that left the window."""
        return self._num_steps

    def append(self, observation: str, action: str) -> None:
        """Record a finished step: the observation acted on and the action sent to the env."""
        self._num_steps += 1
        self._steps.append(HistoryStep(self._num_steps, observation, action))

    def recent(self) -> tuple[HistoryStep, ...]:
        """The steps in the window, oldest first."""
        return tuple(self._steps)

    def copy(self) -> History:
        """An independent history at the same point (for a forked trajectory)."""
        clone = History(self.window)
        clone._steps.extend(self._steps)
        clone._num_steps = self._num_steps
        return clone

    def __len__(self) -> int:
        return len(self._steps)


def build_user_message(
    goal: str,
    observation: str,
    admissible_actions: Sequence[str],
    history: History | None = None,
) -> str:
    """The user turn: goal, history window, current observation and admissible actions."""
    lines = [f"Goal: {goal.strip()}"]
    past = history.recent() if history is not None else ()
    taken = history.num_steps if history is not None else 0
    if past:
        lines.append(f"Steps taken: {taken}. The last {len(past)}:")
        for entry in past:
            lines.append(f"[{entry.step}] {entry.observation.strip()}")
            lines.append(f"> {entry.action.strip()}")
    lines.append(f"Step {taken + 1}. Current observation:")
    lines.append(observation.strip())
    if admissible_actions:
        lines.append("Admissible actions:")
        lines.extend(action.strip() for action in admissible_actions)
    else:
        lines.append("Admissible actions: not listed; write one command.")
    return "\n".join(lines)


def build_messages(
    goal: str,
    observation: str,
    admissible_actions: Sequence[str],
    history: History | None = None,
    style: str = "paper",
) -> list[dict[str, str]]:
    """The chat messages for one step, ready for a tokenizer's chat template.

    ``history`` holds the steps already taken (``None`` or empty at the first step); ``style``
    is one of ``PROMPT_STYLES``. Templates without a system role need the system message merged
    into the user turn by the caller.
    """
    if style == "paper":
        system, user = SYSTEM_PROMPT, build_user_message(goal, observation, admissible_actions, history)
    elif style == "compact":
        past = [(s.observation, s.action) for s in history.recent()] if history is not None else []
        taken = history.num_steps if history is not None else 0
        system, user = COMPACT_SYSTEM_PROMPT, build_compact_user_message(
            goal, observation, admissible_actions, past, taken)
    else:
        raise ValueError(f"unknown prompt style {style!r}; expected one of {PROMPT_STYLES}")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def format_response(mode: ReasoningMode, reasoning: str, action: str) -> str:
    """Render a response exactly in the format ``parse_response`` accepts as valid.

    The reasoning is stripped and the action's whitespace collapsed, which is what the parser
    returns, so ``parse_response(format_response(m, r, a))`` gives back ``m``, the stripped
    ``r`` and the collapsed ``a``. Raises ``ValueError`` for an unknown mode, for blank
    reasoning or action, and for text that contains a format tag (it would not parse).
    """
    if mode not in REASONING_TAGS:
        raise ValueError(f"mode must be one of {REASONING_TAGS}, got {mode!r}")
    reasoning = reasoning.strip()
    action = " ".join(action.split())
    for label, value in (("reasoning", reasoning), ("action", action)):
        if not value:
            raise ValueError(f"{label} must not be blank")
        tag = next((t for t in _TAG_STRINGS if t in value), None)
        if tag is not None:
            raise ValueError(f"{label} must not contain the tag {tag}: {value[:60]!r}")
    return f"<{mode}>{reasoning}</{mode}>\n<{ACTION_TAG}>{action}</{ACTION_TAG}>"
