"""Explore/think annotation of golden trajectories, and the chat samples they become.

The cold start (spark-method.md section 5) needs every golden step to carry a one-sentence
reason in one of the two modes: ``<explore>`` where the expert searches for something it does
not know yet, ``<think>`` otherwise. ``RuleAnnotator`` writes those reasons without an LLM,
from what the step actually shows (the goal, the observation's first clause, the things it
lists) and, for a search, the places the expert goes on to try (its own ranking of where the
item may be, which is what a teacher would list), choosing among several templates with a
seeded RNG so the policy does not learn one fixed string. The action sequence is never changed.

``style="short"`` (for tiny models) writes a few words instead of a sentence: the goal and
either the next action (``<think>``) or the candidate places (``<explore>``), so the reason
names exactly what the action must be grounded in and nothing a small model could confuse
with another task. Each mode's text opens with its own words (``on track:`` / ``unsure:``)
right after the tag: with a shared opening, a 2-layer model wrote the content the state called
for and closed it with the other mode's tag (16% invalid responses at T = 0.4).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sparkrl.agent.prompt import History, ReasoningMode, build_messages, format_response

ANNOTATION_STYLES: tuple[str, ...] = ("sentence", "short")
"""``sentence``: one templated sentence per step (the default); ``short``: a few words naming the
goal and the next action or the places to try."""
from sparkrl.data.golden import GoldenStep, GoldenTrajectory

Messages = list[dict[str, str]]

_SNIPPET_WORDS = 10
_MAX_CANDIDATES = 3
_SEEN_PATTERN = re.compile(r"you see (.+?)(?:\.(?:\s|$)|$)", re.IGNORECASE | re.DOTALL)
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


@dataclass(frozen=True)
class AnnotatedStep:
    """A golden action with the reasoning that precedes it in the response."""

    mode: ReasoningMode
    reasoning: str
    action: str

    @property
    def response(self) -> str:
        """The exact response text the policy is trained to produce for this step."""
        return format_response(self.mode, self.reasoning, self.action)


@dataclass(frozen=True)
class AnnotatedTrajectory:
    """A golden trajectory with one annotated step per golden step."""

    golden: GoldenTrajectory
    steps: tuple[AnnotatedStep, ...]

    def __post_init__(self) -> None:
        golden_actions = [step.action for step in self.golden.steps]
        if [step.action for step in self.steps] != golden_actions:
            raise ValueError(
                f"annotation of {self.golden.task_id!r} changes the golden action sequence"
            )

    def chat_samples(
        self, history_window: int | None = None, prompt_style: str = "paper"
    ) -> list[tuple[Messages, str]]:
        """One (prompt messages, response) pair per step, prompts carrying the history window
        in ``prompt_style`` (one of ``sparkrl.agent.prompt.PROMPT_STYLES``).

        The history replays (observation, action) pairs exactly as a rollout would, so SFT
        prompts match what the policy sees at rollout time.
        """
        history = History() if history_window is None else History(history_window)
        samples: list[tuple[Messages, str]] = []
        for golden, annotated in zip(self.golden.steps, self.steps):
            messages = build_messages(
                self.golden.goal, golden.observation, golden.admissible_actions, history,
                style=prompt_style,
            )
            samples.append((messages, annotated.response))
            history.append(golden.observation, golden.action)
        return samples


def _clean(text: str) -> str:
    """Whitespace collapsed and angle brackets dropped, so no snippet can forge a tag."""
    return " ".join(text.replace("<", " ").replace(">", " ").split())


def _words(text: str, limit: int) -> str:
    words = text.split()
    return " ".join(words[:limit]) + (" ..." if len(words) > limit else "")


def first_clause(observation: str) -> str:
    """The observation's first sentence, shortened, without its final punctuation."""
    text = _clean(observation)
    match = _SENTENCE_END.search(text)
    sentence = text[: match.start()] if match else text
    return _words(sentence.rstrip(".!?,;: "), _SNIPPET_WORDS) or "nothing new"


def seen_items(observation: str) -> list[str]:
    """Things the observation lists after "you see" (ALFWorld-style text); may be empty."""
    match = _SEEN_PATTERN.search(_clean(observation))
    if match is None:
        return []
    parts = re.split(r",\s*(?:and\s+)?|\s+and\s+", match.group(1))
    items = [part.strip(" .") for part in parts]
    return [item for item in items if item and item.lower() != "nothing"]


def _goal_phrase(goal: str) -> str:
    return _words(_clean(goal).rstrip(".!? ") or "the task", 14)


def _action_prefix(action: str) -> str:
    """The verb part shared by alternative actions of the same kind ("go to", "open")."""
    words = action.split()
    if len(words) >= 2 and words[1] in {"to", "on", "off", "into"}:
        return " ".join(words[:2])
    return words[0] if words else ""


def search_plan(steps: Sequence[GoldenStep], index: int) -> list[str]:
    """Targets of step ``index`` and of the expert's later searches of the same kind.

    The expert tries places in its own order of likelihood, so the places it searches next
    are the candidates a teacher would list; the chosen one comes first. At most three.
    """
    prefix = _action_prefix(steps[index].action)

    def target(action: str) -> str:
        return _clean(action[len(prefix) :]) or _clean(action)

    plan: list[str] = []
    for step in steps[index:]:
        if step.is_search and _action_prefix(step.action) == prefix and target(step.action) not in plan:
            plan.append(target(step.action))
    return plan[:_MAX_CANDIDATES]


def _join(items: Sequence[str], last: str = "or") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


_SEARCH_TEMPLATES = (
    "I have not found what '{goal}' needs yet; {options} could hold it, so I try {target} first.",
    "After '{clause}' the item I need is still missing; candidates are {options}, and I check {target}.",
    "Nothing so far settles '{goal}'; possible places are {options}, starting with {target}.",
    "The state is uncertain after '{clause}', so I list {options} and explore {target} now.",
    "I still have to locate what '{goal}' asks for; {options} are worth a look, and {target} comes next.",
)
_PROBE_TEMPLATES = (
    "After '{clause}' I still cannot tell what is there, so I {action} to find out.",
    "What I need for '{goal}' may be hidden here, so I {action} and look.",
    "'{clause}' leaves the contents unknown; I {action} to search it.",
    "I have not seen the item for '{goal}' yet, so I {action} to check this spot.",
)
_THINK_TEMPLATES = (
    "After '{clause}', the next step toward '{goal}' is to {action}.",
    "I see {seen}, which fits the plan for '{goal}', so I {action}.",
    "Things go as expected ('{clause}'), so I continue with {action}.",
    "To {goal}, I now {action}.",
    "Progress is on track after '{clause}'; next I {action}.",
)


_SHORT_GOAL_WORDS = 8


def _short_goal(goal: str) -> str:
    return _words(_clean(goal).rstrip(".!? ") or "the task", _SHORT_GOAL_WORDS).removesuffix(" ...")


class RuleAnnotator:
    """Rule-based reasons: ``<explore>`` exactly on the expert's search steps.

    ``seed`` fixes every choice; each trajectory draws from its own RNG keyed by the seed
    and its task id, so its annotation does not depend on what else is annotated. ``style`` is
    one of ``ANNOTATION_STYLES``.
    """

    def __init__(self, seed: int = 0, style: str = "sentence") -> None:
        if style not in ANNOTATION_STYLES:
            raise ValueError(f"unknown annotation style {style!r}; expected one of {ANNOTATION_STYLES}")
        self.seed = seed
        self.style = style

    def annotate(self, trajectory: GoldenTrajectory) -> AnnotatedTrajectory:
        """Annotate every step of ``trajectory``; the actions are copied unchanged."""
        rng = random.Random(f"{self.seed}:{trajectory.env}:{trajectory.task_id}")
        steps = tuple(
            self._annotate_step(trajectory.goal, trajectory.steps, index, rng)
            for index in range(len(trajectory.steps))
        )
        return AnnotatedTrajectory(trajectory, steps)

    def annotate_all(self, trajectories: Sequence[GoldenTrajectory]) -> list[AnnotatedTrajectory]:
        """Annotate each trajectory in order."""
        return [self.annotate(trajectory) for trajectory in trajectories]

    def _annotate_step(
        self, goal: str, steps: Sequence[GoldenStep], index: int, rng: random.Random
    ) -> AnnotatedStep:
        step = steps[index]
        if self.style == "short":
            return self._short_step(goal, steps, index)
        fields = {
            "goal": _goal_phrase(goal),
            "clause": first_clause(step.observation),
            "action": _clean(step.action),
        }
        if step.is_search:
            plan = search_plan(steps, index)
            fields["target"], fields["options"] = plan[0], _join(plan)
            # with no later search of the same kind, a list of candidates would be a list of one
            template = rng.choice(_SEARCH_TEMPLATES if len(plan) > 1 else _PROBE_TEMPLATES)
            mode: ReasoningMode = "explore"
        else:
            seen = seen_items(step.observation)
            fields["seen"] = _join(seen[:_MAX_CANDIDATES], last="and")
            templates = _THINK_TEMPLATES if seen else [t for t in _THINK_TEMPLATES if "{seen}" not in t]
            template = rng.choice(templates)
            mode = "think"
        return AnnotatedStep(mode, template.format(**fields), step.action)

    @staticmethod
    def _short_step(goal: str, steps: Sequence[GoldenStep], index: int) -> AnnotatedStep:
        step = steps[index]
        if step.is_search:
            plan = search_plan(steps, index)
            options = _join(plan) if len(plan) > 1 else _clean(step.action)
            return AnnotatedStep("explore", f"unsure: {_short_goal(goal)}; try {options}", step.action)
        return AnnotatedStep("think", f"on track: {_short_goal(goal)}; next {_clean(step.action)}", step.action)
