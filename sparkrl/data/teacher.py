"""Teacher-LLM annotation of golden trajectories through any OpenAI-compatible chat endpoint.

The teacher sees each golden step as the policy will (goal, history window, observation,
admissible actions), is told the expert's action, and writes the one-sentence reason in
``<think>`` or ``<explore>`` followed by that action. The paper's constraint holds strictly
(spark-method.md section 5): the action sequence stays the golden one. A response that is
malformed, fails to arrive, or names another action is retried; when a step still fails
after the retries, the whole trajectory is dropped. Every outcome is counted in
``TeacherStats``.

Configuration comes from ``SPARKRL_TEACHER_BASE_URL`` (for example
``https://api.openai.com/v1`` or a local server's ``http://127.0.0.1:8000/v1``),
``SPARKRL_TEACHER_MODEL`` and ``SPARKRL_TEACHER_API_KEY`` (optional for local servers).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from sparkrl.agent.parser import parse_response
from sparkrl.agent.prompt import ACTION_TAG, EXPLORE_TAG, THINK_TAG, History, build_user_message
from sparkrl.data.annotate import AnnotatedStep, AnnotatedTrajectory
from sparkrl.data.golden import GoldenTrajectory

BASE_URL_VAR = "SPARKRL_TEACHER_BASE_URL"
MODEL_VAR = "SPARKRL_TEACHER_MODEL"
API_KEY_VAR = "SPARKRL_TEACHER_API_KEY"

TEACHER_SYSTEM_PROMPT = (
    "You annotate an expert's moves in a text game so that a student learns why each move "
    "is made. You are shown what the player sees and the expert's next action. Write ONE "
    "sentence explaining that action, inside exactly one block:\n"
    f"<{EXPLORE_TAG}>...</{EXPLORE_TAG}> if the action searches for something not found yet "
    "(name the places, items or actions worth trying);\n"
    f"<{THINK_TAG}>...</{THINK_TAG}> if it is a routine step toward the goal.\n"
    f"Then repeat the expert's action verbatim in <{ACTION_TAG}>...</{ACTION_TAG}>. "
    "Write nothing else."
)


class TeacherError(RuntimeError):
    """The endpoint did not return a usable chat completion."""


@dataclass(frozen=True)
class TeacherConfig:
    """Where the teacher lives and how hard to insist on a correct answer."""

    base_url: str
    """OpenAI-compatible API root, up to and including ``/v1``."""
    model: str
    """Model name sent in each request."""
    api_key: str | None = None
    """Bearer token; ``None`` sends no Authorization header."""
    max_retries: int = 3
    """Extra attempts for a step after a failed one, before the trajectory is dropped."""
    temperature: float = 0.7
    """Sampling temperature; above 0 so a retry can produce a different answer."""
    max_tokens: int = 160
    """Cap on the teacher's answer length."""
    timeout_s: float = 60.0
    """Per-request timeout in seconds."""
    retry_delay_s: float = 1.0
    """Pause before a retry (rate-limited endpoints)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> TeacherConfig:
        """Read URL, model and key from the ``SPARKRL_TEACHER_*`` variables.

        Raises ``ValueError`` naming the missing variable when URL or model is unset.
        """
        environ = os.environ if environ is None else environ
        missing = [name for name in (BASE_URL_VAR, MODEL_VAR) if not environ.get(name)]
        if missing:
            raise ValueError(f"teacher annotation needs the environment variable(s) {', '.join(missing)}")
        config = cls(environ[BASE_URL_VAR], environ[MODEL_VAR], environ.get(API_KEY_VAR) or None)
        return replace(config, **overrides) if overrides else config


@dataclass
class TeacherStats:
    """What happened while annotating; attempts = requests, failures are per attempt."""

    trajectories: int = 0
    annotated: int = 0
    dropped: int = 0
    dropped_task_ids: list[str] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    action_mismatches: int = 0
    invalid_responses: int = 0
    request_errors: int = 0

    def summary(self) -> str:
        """One line with every counter."""
        return (
            f"{self.annotated}/{self.trajectories} trajectories annotated, {self.dropped} dropped; "
            f"{self.requests} requests, {self.retries} retries ({self.action_mismatches} wrong "
            f"actions, {self.invalid_responses} malformed, {self.request_errors} request errors)"
        )


def chat_completion(config: TeacherConfig, messages: Sequence[Mapping[str, str]]) -> str:
    """POST one chat completion and return the first choice's text; raises ``TeacherError``."""
    body = {
        "model": config.model,
        "messages": list(messages),
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
    }
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    request = urllib.request.Request(
        config.base_url.rstrip("/") + "/chat/completions",
        data=json.dumps(body).encode("utf-8"),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=config.timeout_s) as response:
            payload = json.loads(response.read().decode("utf-8"))
        content = payload["choices"][0]["message"]["content"]
    except urllib.error.HTTPError as error:
        raise TeacherError(f"HTTP {error.code} from {request.full_url}") from error
    except (urllib.error.URLError, OSError) as error:
        raise TeacherError(f"request to {request.full_url} failed: {error}") from error
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise TeacherError(f"unusable completion payload: {error!r}") from error
    if not isinstance(content, str):
        raise TeacherError(f"completion content is {type(content).__name__}, not text")
    return content


class TeacherAnnotator:
    """Annotates trajectories step by step with a teacher LLM, keeping the golden actions."""

    def __init__(self, config: TeacherConfig) -> None:
        self.config = config
        self.stats = TeacherStats()

    def annotate(self, trajectory: GoldenTrajectory) -> AnnotatedTrajectory | None:
        """The annotated trajectory, or ``None`` (counted as dropped) if a step kept failing."""
        self.stats.trajectories += 1
        history = History()
        steps: list[AnnotatedStep] = []
        for golden in trajectory.steps:
            user = build_user_message(
                trajectory.goal, golden.observation, golden.admissible_actions, history
            )
            hint = "a search for something not found yet" if golden.is_search else "a routine step"
            prompt = f"{user}\n\nExpert action: {golden.action}\n(The expert marks this as {hint}.)"
            step = self._annotate_step(prompt, golden.action)
            if step is None:
                self.stats.dropped += 1
                self.stats.dropped_task_ids.append(trajectory.task_id)
                return None
            steps.append(step)
            history.append(golden.observation, golden.action)
        self.stats.annotated += 1
        return AnnotatedTrajectory(trajectory, tuple(steps))

    def annotate_all(
        self, trajectories: Sequence[GoldenTrajectory]
    ) -> tuple[list[AnnotatedTrajectory], TeacherStats]:
        """Annotate each trajectory; returns the kept ones and the running stats."""
        kept = [annotated for t in trajectories if (annotated := self.annotate(t)) is not None]
        return kept, self.stats

    def _annotate_step(self, prompt: str, golden_action: str) -> AnnotatedStep | None:
        messages = [
            {"role": "system", "content": TEACHER_SYSTEM_PROMPT},
            {"role": "user", "content": prompt},
        ]
        expected = " ".join(golden_action.split())
        for attempt in range(1 + self.config.max_retries):
            if attempt:
                self.stats.retries += 1
                time.sleep(self.config.retry_delay_s)
            self.stats.requests += 1
            try:
                text = chat_completion(self.config, messages)
            except TeacherError:
                self.stats.request_errors += 1
                continue
            parsed = parse_response(text)
            if not parsed.valid or parsed.mode == "none":
                self.stats.invalid_responses += 1
            elif parsed.action != expected:
                self.stats.action_mismatches += 1
            else:
                return AnnotatedStep(parsed.mode, parsed.reasoning, golden_action)
        return None
