"""Teacher annotation against a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sparkrl.data.golden import GoldenStep, GoldenTrajectory
from sparkrl.data.teacher import (
    API_KEY_VAR,
    BASE_URL_VAR,
    MODEL_VAR,
    TeacherAnnotator,
    TeacherConfig,
    TeacherError,
    chat_completion,
)

# (request body, request number) -> (HTTP status, response body)
Behaviour = Callable[[dict, int], tuple[int, str]]


def _completion(content: str) -> str:
    return json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]})


def _expert_action(body: dict) -> str:
    return re.search(r"Expert action: (.*)", body["messages"][-1]["content"]).group(1).strip()


def _is_search(body: dict) -> bool:
    return "a search for something" in body["messages"][-1]["content"]


def correct_teacher(body: dict, number: int) -> tuple[int, str]:
    mode = "explore" if _is_search(body) else "think"
    action = _expert_action(body)
    return 200, _completion(f"<{mode}>Reason {number} for {action}.</{mode}>\n<action>{action}</action>")


def sometimes_wrong_teacher(body: dict, number: int) -> tuple[int, str]:
    if number % 2 == 0:
        return 200, _completion("<think>I would rather look around.</think><action>look</action>")
    return correct_teacher(body, number)


def always_wrong_teacher(body: dict, number: int) -> tuple[int, str]:
    return 200, _completion("<think>Inventory first.</think><action>inventory</action>")


def broken_teacher(body: dict, number: int) -> tuple[int, str]:
    return (500, "internal error") if number % 2 == 0 else (200, "{not json")


def malformed_teacher(body: dict, number: int) -> tuple[int, str]:
    return 200, _completion(f"Sure! The action is {_expert_action(body)}.")


@contextmanager
def teacher_server(behaviour: Behaviour) -> Iterator[tuple[str, list[dict]]]:
    """Serve ``behaviour`` at http://127.0.0.1:<port>/v1; yields the base URL and the requests."""
    received: list[dict] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body["authorization"] = self.headers.get("Authorization")
            with lock:
                number = len(received)
                received.append(body)
            status, text = (
                behaviour(body, number) if self.path == "/v1/chat/completions" else (404, "no route")
            )
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _trajectory(task_id: str) -> GoldenTrajectory:
    steps = (
        GoldenStep(
            "You are in a room. You see a drawer 1 and a shelf 2.",
            ("go to drawer 1", "go to shelf 2"),
            "go to shelf 2",
            True,
        ),
        GoldenStep(
            "On the shelf 2, you see a key 1.",
            ("take key 1 from shelf 2", "look"),
            "take key 1 from shelf 2",
            False,
        ),
    )
    return GoldenTrajectory("toy", task_id, "train", "fetch", "fetch the key", True, steps)


def _config(base_url: str, **overrides: object) -> TeacherConfig:
    return TeacherConfig.from_env(
        {BASE_URL_VAR: base_url, MODEL_VAR: "teacher-test", API_KEY_VAR: "sk-test"},
        retry_delay_s=0.0,
        timeout_s=5.0,
        **overrides,
    )


def test_correct_teacher_annotates_every_step_with_golden_actions() -> None:
    with teacher_server(correct_teacher) as (url, received):
        kept, stats = TeacherAnnotator(_config(url)).annotate_all([_trajectory("a"), _trajectory("b")])
    assert stats.annotated == 2 and stats.dropped == 0 and stats.retries == 0
    assert stats.requests == len(received) == 4
    for annotated in kept:
        assert [s.action for s in annotated.steps] == [s.action for s in annotated.golden.steps]
        assert [s.mode for s in annotated.steps] == ["explore", "think"]
        assert all(s.reasoning.startswith("Reason") for s in annotated.steps)
    first = received[0]
    assert first["model"] == "teacher-test" and first["authorization"] == "Bearer sk-test"
    assert "Goal: fetch the key" in first["messages"][-1]["content"]
    # the second step's prompt carries the first step in its history window
    assert "> go to shelf 2" in received[1]["messages"][-1]["content"]


def test_wrong_actions_are_retried_and_counted() -> None:
    with teacher_server(sometimes_wrong_teacher) as (url, _):
        kept, stats = TeacherAnnotator(_config(url, max_retries=2)).annotate_all([_trajectory("a")])
    assert len(kept) == 1 and stats.dropped == 0
    assert stats.action_mismatches == stats.retries == 2
    assert kept[0].steps[1].action == "take key 1 from shelf 2"


@pytest.mark.parametrize(
    ("behaviour", "counter"),
    [
        (always_wrong_teacher, "action_mismatches"),
        (broken_teacher, "request_errors"),
        (malformed_teacher, "invalid_responses"),
    ],
)
def test_a_step_that_keeps_failing_drops_the_trajectory(behaviour: Behaviour, counter: str) -> None:
    with teacher_server(behaviour) as (url, received):
        kept, stats = TeacherAnnotator(_config(url, max_retries=2)).annotate_all(
            [_trajectory("a"), _trajectory("b")]
        )
    assert kept == [] and stats.dropped == 2 and stats.dropped_task_ids == ["a", "b"]
    # the first step fails three times per trajectory, and the rest is never asked
    assert stats.requests == len(received) == 6 and stats.retries == 4
    assert getattr(stats, counter) == 6
    assert "2 dropped" in stats.summary()


def test_chat_completion_reports_dead_endpoint_and_missing_config() -> None:
    with teacher_server(correct_teacher) as (url, _):
        pass  # the server is shut down: nothing listens on that port any more
    with pytest.raises(TeacherError):
        chat_completion(_config(url), [{"role": "user", "content": "hi"}])
    with pytest.raises(ValueError, match=MODEL_VAR):
        TeacherConfig.from_env({BASE_URL_VAR: url})


def test_sft_data_from_the_teacher_on_household_games(monkeypatch: pytest.MonkeyPatch) -> None:
    from sparkrl.train.sft import SFTConfig, annotated_trajectories

    with teacher_server(correct_teacher) as (url, received):
        monkeypatch.setenv(BASE_URL_VAR, url)
        monkeypatch.setenv(MODEL_VAR, "teacher-test")
        monkeypatch.delenv(API_KEY_VAR, raising=False)
        annotated = annotated_trajectories(SFTConfig(annotator="teacher", trajectories=2))
    assert len(annotated) == 2
    for trajectory in annotated:
        assert [s.action for s in trajectory.steps] == [s.action for s in trajectory.golden.steps]
        assert [s.mode for s in trajectory.steps] == [
            "explore" if s.is_search else "think" for s in trajectory.golden.steps
        ]
    assert received[0]["authorization"] is None
