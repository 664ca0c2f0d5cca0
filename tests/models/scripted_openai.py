"""A real loopback OpenAI-compatible chat server playing a scripted model, for API-policy tests.

``ScriptedServer`` is an ``http.server.ThreadingHTTPServer`` on 127.0.0.1 (a free port) in a
daemon thread. Each ``POST /v1/chat/completions`` is answered by the next queued fault, if any
(``queue(...)``), else by ``play``: a household heuristic that reads the admissible actions
from the prompt (compact or paper style) and answers ``<think>..</think><action>A`` with the
stop string left out, as OpenAI and vLLM do. It prefers treating (clean/heat/cool) or placing
the goal object, then using a lamp (look-in-light goals), then taking the object, then opening,
then going somewhere not in the shown history: it wins about 60% of household-small L0 games.
"""

from __future__ import annotations

import json
import re
import threading
import time
import zlib
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sparkrl.agent.compact import parse_compact_user_message

GOAL = re.compile(r"^(?:goal|Goal): (.*)$", re.MULTILINE)


def admissible_actions(user: str) -> list[str]:
    """The admissible actions listed in a compact or paper user message."""
    if user.startswith("goal: "):
        return list(parse_compact_user_message(user).admissible_actions)
    lines = user.split("\n")
    if "Admissible actions:" not in lines:
        return []
    return [line for line in lines[lines.index("Admissible actions:") + 1:] if line.strip()]


def history_actions(user: str) -> list[str]:
    return [line[2:] for line in user.split("\n") if line.startswith("> ")]


def choose(user: str) -> str:
    """A household heuristic over the prompt's admissible actions (deterministic per prompt)."""
    actions = admissible_actions(user)
    if not actions:
        return "look"
    goal = (GOAL.search(user).group(1) if GOAL.search(user) else "").lower()
    words = [w for w in re.findall(r"[a-z]+", goal) if w not in {"put", "a", "an", "in", "on", "some", "and",
                                                                 "the", "two", "it", "look", "at", "under",
                                                                 "clean", "hot", "cool", "find", "examine",
                                                                 "with", "cold"}]
    obj = words[0] if words else ""
    place = words[-1] if len(words) > 1 else ""
    done = history_actions(user)

    def having(prefix: str, *names: str) -> list[str]:
        return [a for a in actions if a.startswith(prefix) and all(n in a for n in names)]

    treat = [a for verb in ("clean", "heat", "cool") for a in having(verb, obj) if a not in done]
    lamp = having("use") if "lamp" in goal else []
    for candidates in (treat, having("move", obj, place), having("put", obj, place), lamp, having("take", obj)):
        if candidates:
            return candidates[0]
    fresh_open = [a for a in having("open") if a not in done]
    if fresh_open:
        return fresh_open[0]
    moves = [a for a in having("go to") if a not in done] or having("go to") or actions
    return moves[zlib.crc32(user.encode()) % len(moves)]


def reply(content: str, finish: str = "stop", prompt_tokens: int = 50, completion_tokens: int = 12,
          usage: bool = True) -> dict:
    body = {"id": "chatcmpl-scripted", "object": "chat.completion", "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": finish}]}
    if usage:
        body["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                         "total_tokens": prompt_tokens + completion_tokens}
    return body


def play(request: dict) -> dict:
    """The scripted model's answer: a valid step without the ``</action>`` stop string."""
    user = request["messages"][-1]["content"]
    action = choose(user)
    prompt_tokens = sum(len(m["content"].split()) for m in request["messages"])
    return reply(f"<think>next: {action}</think><action>{action}", prompt_tokens=prompt_tokens,
                 completion_tokens=7 + len(action.split()))


class ScriptedServer:
    """See the module docstring. Faults are ``("status", code)``, ``("status", code, retry_after)``,
    ``("raw", bytes)`` (a malformed body with status 200), ``("slow", seconds)`` (sleep, then play),
    ``("reply", dict)`` (that JSON body), ``("drop",)`` (close the connection without a reply).
    ``fail_when(body)``, when given and true, answers HTTP 500 whatever is queued (a request that
    never succeeds), without taking a queued fault."""

    def __init__(self, delay: float = 0.0, fail_when=None) -> None:
        self.delay = delay
        self.fail_when = fail_when
        self.faults: deque = deque()
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    if server.fail_when is not None and server.fail_when(body):
                        fault = ("status", 500)
                    else:
                        fault = server.faults.popleft() if server.faults else None
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer(body, fault)
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def _answer(self, body, fault):
                if self.path != "/v1/chat/completions":
                    return self._send(404, b'{"error": "not found"}')
                if server.delay:
                    time.sleep(server.delay)
                kind = fault[0] if fault else "play"
                if kind == "status":
                    extra = {"Retry-After": str(fault[2])} if len(fault) > 2 else {}
                    return self._send(fault[1], b'{"error": {"message": "scripted fault"}}', extra)
                if kind == "raw":
                    return self._send(200, fault[1])
                if kind == "drop":
                    self.close_connection = True
                    return
                if kind == "slow":
                    time.sleep(fault[1])
                answer = fault[1] if kind == "reply" else play(body)
                try:
                    self._send(200, json.dumps(answer).encode())
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            def _send(self, status, data, extra=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def queue(self, *faults) -> None:
        with self.lock:
            self.faults.extend(faults)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
