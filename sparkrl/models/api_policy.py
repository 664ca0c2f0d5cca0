"""``ApiPolicy``: a model behind an OpenAI-compatible chat endpoint, as a rollout policy.

Any server that answers ``POST {base_url}/chat/completions`` works: a hosted API, a vLLM or
llama.cpp server, or a sparkrl checkpoint served by one of them (``sparkrl export`` writes a
folder they load). ``sparkrl eval --model openai:MODEL`` evaluates it with the same prompts,
the same parser and the same protocol as a local model (``docs/api-models.md``).

How it fits a rollout that speaks token ids (``sparkrl.rollout.spark.SamplingPolicy``):

- ``encode(messages)`` returns a ``ChatPrompt``: an *empty* token list (the server tokenizes;
  sparkrl never sees the ids) that carries the chat messages; ``sample`` sends those messages.
  The rollout runs unchanged; its ``prefill_tokens`` count is 0 for API prompts.
- Each completion's ``prompt_ids`` / ``response_ids`` are placeholder lists of
  ``UNKNOWN_TOKEN`` whose lengths are the response's ``usage.prompt_tokens`` /
  ``usage.completion_tokens``, so every token figure of a rollout or an evaluation
  (tokens per trajectory, ``RolloutStats``) is the server's own count. The ids are not real
  and there are no log-probs: trajectories of an API policy cannot be trained on.
- Constrained decoding (token masks over the admissible actions) needs the model's logits, so
  it is impossible here: ``sample(actions=...)`` raises; ``sparkrl eval`` turns
  ``constrain_actions`` off for API models and says so.

Requests: ``stop=["</action>"]``; a reply that finished on a stop (``finish_reason`` "stop")
inside a non-empty, unclosed ``<action>`` block gets ``</action>`` re-appended, because the
OpenAI API, vLLM and llama.cpp leave the stop string out of the text (a local ``Policy``
keeps it). A truncated reply (``finish_reason`` "length") is left as it is, and is invalid.

Faults: all requests of one ``sample`` call (one lock-step of the rollout) go out in parallel,
at most ``concurrency`` at a time. A timeout, a connection error, HTTP 408/409/425/429/5xx or
a malformed payload is retried up to ``retries`` times with exponential backoff (``backoff_s``
doubling, capped at ``max_backoff_s``, with jitter; a ``Retry-After`` header is honoured up to
the cap). Other HTTP 4xx (a prompt too long for the context, say) fail that completion at
once. A completion that finally fails becomes an empty reply, which the parser judges invalid
and the rollout penalises like any invalid output; it is counted in ``ApiStats``. Two faults
stop the evaluation instead, because no later request can succeed: HTTP 401/403/404 (key,
permission, URL or model name), and a server that refuses connections before it has ever
answered (``ApiError``, a ``ModelLoadError``: the CLI prints one line and exits 2).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sparkrl.agent.prompt import ACTION_TAG
from sparkrl.config import ConfigError, option, validate
from sparkrl.models.loading import ModelLoadError

API_PREFIX = "openai:"
"""``--model openai:MODEL`` names a model behind an OpenAI-compatible endpoint."""
BASE_URL_VAR = "OPENAI_BASE_URL"
API_KEY_VAR = "OPENAI_API_KEY"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
"""Used when neither ``--base-url`` nor ``$OPENAI_BASE_URL`` is set (as the ``openai`` client does)."""
UNKNOWN_TOKEN = -1
"""The placeholder id filling ``prompt_ids`` / ``response_ids`` (only their lengths are real)."""
ACTION_OPEN, ACTION_END = f"<{ACTION_TAG}>", f"</{ACTION_TAG}>"
RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
"""Besides every 5xx: HTTP statuses worth another attempt."""
FATAL_STATUS = frozenset({401, 403, 404})
"""HTTP statuses no retry or later request can fix: the evaluation stops."""
RECENT_ERRORS = 20
"""How many error lines ``ApiStats.recent_errors`` keeps."""


def is_api_spec(spec: str | None) -> bool:
    """Whether a model spec names an API model (``openai:MODEL``)."""
    return bool(spec) and spec.startswith(API_PREFIX)


def api_model_name(spec: str) -> str:
    """``MODEL`` of ``openai:MODEL``; ``ConfigError`` when it is empty."""
    name = spec[len(API_PREFIX):].strip() if is_api_spec(spec) else ""
    if not name:
        raise ConfigError(f"--model: {spec!r} names no model; write openai:MODEL, e.g. openai:gpt-4o-mini")
    return name


class ApiError(ModelLoadError):
    """The endpoint cannot serve this evaluation at all (bad key, URL or model; server down)."""


@dataclass(frozen=True)
class ApiConfig:
    """Where the model lives and how hard to insist on an answer."""

    model: str = option("", "model name sent in every request")
    base_url: str = option(DEFAULT_BASE_URL, "OpenAI-compatible API root, up to and including /v1")
    api_key: str | None = field(default=None, repr=False, metadata={"help": "bearer token (None: no header)"})
    concurrency: int = option(4, "requests in flight at once", low=1)
    request_timeout_s: float = option(60.0, "per-request timeout in seconds (connect, and each read)", low=0.001)
    retries: int = option(3, "extra attempts of a failed request", low=0)
    backoff_s: float = option(0.5, "pause before the first retry; doubles at each further one", low=0.0)
    max_backoff_s: float = option(30.0, "cap on one pause (also on a Retry-After header)", low=0.0)

    def __post_init__(self) -> None:
        validate(self)
        if not self.model.strip():
            raise ConfigError("model: an API model needs a name (openai:MODEL)")
        parsed = urllib.parse.urlparse(self.base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(f"base_url: {self.base_url!r} is not an http(s) URL, e.g. http://127.0.0.1:8000/v1")

    @classmethod
    def from_spec(cls, spec: str, base_url: str | None = None, environ: Mapping[str, str] | None = None,
                  **settings: Any) -> ApiConfig:
        """The config of ``openai:MODEL``: URL from ``base_url``, else ``$OPENAI_BASE_URL``, else
        ``DEFAULT_BASE_URL``; key from ``$OPENAI_API_KEY`` (optional for local servers)."""
        environ = os.environ if environ is None else environ
        url = base_url or environ.get(BASE_URL_VAR) or DEFAULT_BASE_URL
        return cls(model=api_model_name(spec), base_url=url, api_key=environ.get(API_KEY_VAR) or None, **settings)

    def describe(self) -> dict[str, Any]:
        """The settings as plain data, without the key."""
        return {"model": self.model, "base_url": self.base_url, "concurrency": self.concurrency,
                "request_timeout_s": self.request_timeout_s, "retries": self.retries,
                "backoff_s": self.backoff_s, "max_backoff_s": self.max_backoff_s,
                "api_key": "set" if self.api_key else "none"}


@dataclass
class ApiStats:
    """What the endpoint was asked and what it cost, over every ``sample`` call."""

    completions: int = 0
    """Completions returned to the rollout (one per prompt and sample), failed ones included."""
    requests: int = 0
    """HTTP attempts: completions plus retries."""
    retries: int = 0
    failures: int = 0
    """Completions that still failed after every retry: returned as empty, invalid replies."""
    errors: Counter = field(default_factory=Counter)
    """Failed attempts by kind: ``http_429``, ``http_500``…, ``timeout``, ``connection``, ``malformed``."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    """Summed from each successful response's ``usage``."""
    missing_usage: int = 0
    """Successful responses without a usable ``usage`` (their tokens count as 0)."""
    closed_actions: int = 0
    """Replies that stopped at ``</action>`` without it in the text, so it was re-appended."""
    truncated: int = 0
    """Replies cut at ``max_tokens`` (``finish_reason`` "length")."""
    seconds: float = 0.0
    """Wall time inside ``sample``."""
    recent_errors: list[str] = field(default_factory=list)
    """The last ``RECENT_ERRORS`` failed attempts, one line each."""

    def to_json(self) -> dict[str, Any]:
        """The counters as the evaluation report's ``api`` block writes them."""
        return {"completions": self.completions, "requests": self.requests, "api_retries": self.retries,
                "api_failures": self.failures, "errors": dict(sorted(self.errors.items())),
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "missing_usage": self.missing_usage, "closed_actions": self.closed_actions,
                "truncated": self.truncated, "seconds": round(self.seconds, 3),
                "recent_errors": list(self.recent_errors)}

    def summary(self) -> str:
        """One line with the main counters."""
        errors = ", ".join(f"{kind} {count}" for kind, count in sorted(self.errors.items())) or "none"
        return (f"{self.completions} completions in {self.requests} requests: {self.retries} retries, "
                f"{self.failures} failed (scored invalid); errors: {errors}; tokens from usage: "
                f"{self.prompt_tokens} prompt + {self.completion_tokens} completion"
                + (f" ({self.missing_usage} replies without usage)" if self.missing_usage else ""))


class ChatPrompt(list):
    """What ``ApiPolicy.encode`` returns: an empty token list carrying the chat messages."""

    __slots__ = ("messages",)

    def __init__(self, messages: Sequence[Mapping[str, str]]) -> None:
        super().__init__()
        self.messages: tuple[dict[str, str], ...] = tuple(dict(m) for m in messages)


@dataclass
class ApiCompletion:
    """One reply, shaped like ``sparkrl.models.Completion`` (the fields a rollout reads)."""

    prompt_ids: list[int]
    response_ids: list[int]
    logprobs: list[float]
    text: str
    finish_reason: str
    head_entropy: float = 0.0
    """Unknown over an API: 0 (the entropy trigger cannot be used)."""
    failed: bool = False
    """The request failed after every retry; ``text`` is empty."""
    error: str | None = None


class _Attempt(Exception):
    """One failed attempt: its kind, whether to retry, an optional server-given delay."""

    def __init__(self, kind: str, message: str, retry: bool = True, delay: float | None = None) -> None:
        super().__init__(message)
        self.kind, self.retry, self.delay = kind, retry, delay


def close_action(text: str, finish_reason: str | None) -> tuple[str, bool]:
    """``text`` with ``</action>`` re-appended when the reply stopped inside a non-empty, unclosed
    action block (the server dropped the stop string); and whether it was appended."""
    if finish_reason not in (None, "stop"):
        return text, False
    opened = text.rfind(ACTION_OPEN)
    if opened < 0 or ACTION_END in text[opened:] or not text[opened + len(ACTION_OPEN):].strip():
        return text, False
    return text + ACTION_END, True


class ApiPolicy:
    """A ``SamplingPolicy`` whose model answers over HTTP (see the module docstring)."""

    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        self.name = f"{API_PREFIX}{config.model}"
        self.stats = ApiStats()
        self._url = config.base_url.rstrip("/") + "/chat/completions"
        self._lock = threading.Lock()
        self._abort = threading.Event()
        self._answered = False
        self._rng = random.Random()
        self._executor: ThreadPoolExecutor | None = None
        host = urllib.parse.urlparse(config.base_url).hostname or ""
        # Loopback servers are reached directly, whatever proxy the environment names.
        handlers = [urllib.request.ProxyHandler({})] if _is_loopback(host) else []
        self._opener = urllib.request.build_opener(*handlers)

    def encode(self, messages: Sequence[Mapping[str, str]]) -> ChatPrompt:
        """The messages as a prompt for ``sample`` (no token ids: the server tokenizes)."""
        return ChatPrompt(messages)

    def sample(
        self,
        prompts: Sequence[ChatPrompt | Sequence[Mapping[str, str]]],
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 512,
        stop: str | Sequence[str] | None = ACTION_END,
        actions: Sequence[Sequence[str] | None] | None = None,
    ) -> list[ApiCompletion]:
        """``n`` completions per prompt, prompt-major (``result[i * n + s]``), as ``Policy.sample``.

        A prompt is a ``ChatPrompt`` (from ``encode``) or a list of chat messages. Never raises
        for a fault of one request (see the module docstring); raises ``ApiError`` when the
        endpoint cannot serve at all and ``ValueError`` for ``actions`` (constrained decoding).
        """
        if actions is not None and any(actions):
            raise ValueError("constrained decoding needs the model's logits; an API policy decodes freely "
                             "(set rollout.constrain_actions to false)")
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        messages = [self._messages(prompt) for prompt in prompts]
        stops = [] if stop is None else [stop] if isinstance(stop, str) else list(stop)
        body = {"model": self.config.model, "temperature": temperature, "max_tokens": max_new_tokens}
        if top_p < 1.0:
            body["top_p"] = top_p
        if stops:
            body["stop"] = stops
        jobs = [{**body, "messages": list(chat)} for chat in messages for _ in range(n)]
        started = time.perf_counter()
        try:
            if len(jobs) <= 1 or self.config.concurrency == 1:
                return [self._complete(job) for job in jobs]
            futures = [self._pool().submit(self._complete, job) for job in jobs]
            try:
                return [future.result() for future in futures]
            except BaseException:
                self._abort.set()
                for future in futures:
                    future.cancel()
                raise
        finally:
            with self._lock:
                self.stats.seconds += time.perf_counter() - started

    def close(self) -> None:
        """Stop the request threads."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> ApiPolicy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="sparkrl-api")
        return self._executor

    @staticmethod
    def _messages(prompt: Any) -> tuple[dict[str, str], ...]:
        if isinstance(prompt, ChatPrompt):
            return prompt.messages
        if len(prompt) > 0 and all(isinstance(m, Mapping) for m in prompt):
            return tuple(dict(m) for m in prompt)
        raise TypeError("an API policy needs chat messages (a ChatPrompt from encode(), or a list of "
                        "{'role', 'content'} dicts), not token ids")

    def _complete(self, body: dict[str, Any]) -> ApiCompletion:
        """One completion with its retries; a final failure gives an empty, failed completion."""
        attempts = 1 + self.config.retries
        last: _Attempt | None = None
        for attempt in range(attempts):
            if self._abort.is_set():
                break
            if attempt:
                with self._lock:
                    self.stats.retries += 1
                time.sleep(self._delay(attempt, last))
            with self._lock:
                self.stats.requests += 1
            try:
                completion = self._request(body)
            except _Attempt as failure:
                last = failure
                with self._lock:
                    self.stats.errors[failure.kind] += 1
                    self.stats.recent_errors.append(f"{failure.kind}: {failure}")
                    del self.stats.recent_errors[:-RECENT_ERRORS]
                    never_answered = not self._answered
                if failure.kind.startswith("http_") and int(failure.kind[5:]) in FATAL_STATUS:
                    raise ApiError(f"{self.name}: {failure} — check the model name, --base-url "
                                   f"(now {self.config.base_url}) and ${API_KEY_VAR}") from None
                if not failure.retry:
                    break
                if failure.kind == "refused" and never_answered and attempt == attempts - 1:
                    raise ApiError(f"{self.name}: no server answers at {self.config.base_url} ({failure}) "
                                   f"after {attempts} attempts; is it running?") from None
                continue
            with self._lock:
                self._answered = True
                self.stats.completions += 1
            return completion
        with self._lock:
            self.stats.completions += 1
            self.stats.failures += 1
        return ApiCompletion([], [], [], "", "error", failed=True, error=str(last) if last else "aborted")

    def _delay(self, attempt: int, last: _Attempt | None) -> float:
        """Pause before retry ``attempt`` (1-based): exponential with jitter, or the server's
        Retry-After, capped at ``max_backoff_s``."""
        if last is not None and last.delay is not None:
            return min(last.delay, self.config.max_backoff_s)
        base = self.config.backoff_s * 2 ** (attempt - 1)
        with self._lock:
            jitter = self._rng.uniform(0.75, 1.25)
        return min(base * jitter, self.config.max_backoff_s)

    def _request(self, body: dict[str, Any]) -> ApiCompletion:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        request = urllib.request.Request(self._url, data=json.dumps(body).encode("utf-8"), headers=headers,
                                         method="POST")
        try:
            with self._opener.open(request, timeout=self.config.request_timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            detail = _error_detail(error)
            status = error.code
            retry = status in RETRYABLE_STATUS or status >= 500
            raise _Attempt(f"http_{status}", f"HTTP {status} from {self._url}{detail}", retry,
                           _retry_after(error.headers.get("Retry-After")) if retry else None) from None
        except (TimeoutError, socket.timeout) as error:
            raise _Attempt("timeout", f"no reply within {self.config.request_timeout_s:g} s ({error})") from None
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise _Attempt("timeout", f"no reply within {self.config.request_timeout_s:g} s") from None
            kind = "refused" if isinstance(reason, ConnectionRefusedError) else "connection"
            raise _Attempt(kind, f"request to {self._url} failed: {reason}") from None
        except (http.client.HTTPException, OSError) as error:
            raise _Attempt("connection", f"request to {self._url} failed: {error!r}") from None
        return self._completion(raw)

    def _completion(self, raw: bytes) -> ApiCompletion:
        try:
            payload = json.loads(raw.decode("utf-8"))
            choice = payload["choices"][0]
            text = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise _Attempt("malformed", f"unusable completion payload ({error!r}): {raw[:80]!r}") from None
        if not isinstance(text, str):
            raise _Attempt("malformed", f"completion content is {type(text).__name__}, not text")
        finish = choice.get("finish_reason")
        finish = finish if isinstance(finish, str) else None
        text, closed = close_action(text, finish)
        usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
        prompt_tokens, completion_tokens = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
        with self._lock:
            self.stats.closed_actions += closed
            self.stats.truncated += finish == "length"
            if prompt_tokens is None or completion_tokens is None:
                self.stats.missing_usage += 1
            self.stats.prompt_tokens += prompt_tokens or 0
            self.stats.completion_tokens += completion_tokens or 0
        return ApiCompletion([UNKNOWN_TOKEN] * (prompt_tokens or 0), [UNKNOWN_TOKEN] * (completion_tokens or 0),
                             [], text, finish or "stop")


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _retry_after(value: str | None) -> float | None:
    """Seconds of a ``Retry-After: <seconds>`` header (an HTTP date is ignored)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error_detail(error: urllib.error.HTTPError) -> str:
    try:
        text = error.read(300).decode("utf-8", "replace").strip()
    except Exception:  # noqa: BLE001 - the status alone is enough
        return ""
    return f": {' '.join(text.split())[:200]}" if text else ""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
