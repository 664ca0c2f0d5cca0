"""ApiPolicy against a real loopback HTTP server playing a scripted model (tests/models/scripted_openai.py):
request shape, `</action>` re-appended, token accounting from `usage`, retries of malformed
replies, 429/500, dropped connections and timeouts, final failures scored as invalid replies,
fatal errors, the concurrency limit, and a whole household evaluation through faults."""

import socket

import pytest

from sparkrl.agent.parser import parse_response
from sparkrl.agent.prompt import History, build_messages
from sparkrl.config import ConfigError
from sparkrl.envs import make
from sparkrl.eval.evaluate import evaluate
from sparkrl.models.api_policy import (
    UNKNOWN_TOKEN,
    ApiConfig,
    ApiError,
    ApiPolicy,
    ChatPrompt,
    close_action,
)
from sparkrl.models.loading import ModelLoadError
from tests.models.scripted_openai import ScriptedServer, reply

FAST = {"backoff_s": 0.001, "max_backoff_s": 0.01}


def messages(action="open box 1", style="paper"):
    return build_messages("open the box.", "You see a box.", [action], History(5), style=style)


def policy_for(server, **settings):
    return ApiPolicy(ApiConfig(model="scripted", base_url=server.base_url, **{**FAST, **settings}))


def test_a_step_goes_out_as_chat_messages_and_comes_back_like_a_local_completion():
    with ScriptedServer() as server, policy_for(server, api_key="sk-test") as policy:
        prompt = policy.encode(messages())
        assert isinstance(prompt, ChatPrompt) and len(prompt) == 0 and tuple(prompt) == ()
        [completion] = policy.sample([prompt], temperature=0.4, max_new_tokens=96)
        body, headers = server.requests[0], server.headers[0]
    assert body["model"] == "scripted" and body["messages"] == messages()
    assert body["stop"] == ["</action>"] and body["temperature"] == 0.4 and body["max_tokens"] == 96
    assert "top_p" not in body  # 1.0 is every server's default
    assert headers["Authorization"] == "Bearer sk-test"
    # The server left the stop string out; it is re-appended, so the parse is the local one.
    assert completion.text == "<think>next: open box 1</think><action>open box 1</action>"
    parsed = parse_response(completion.text)
    assert parsed.valid and parsed.action == "open box 1"
    # Token figures are the server's usage: the ids are placeholders of that length.
    prompt_words = sum(len(m["content"].split()) for m in messages())
    assert completion.prompt_ids == [UNKNOWN_TOKEN] * prompt_words
    assert completion.response_ids == [UNKNOWN_TOKEN] * 10 and completion.logprobs == []
    stats = policy.stats
    assert (stats.completions, stats.requests, stats.retries, stats.failures) == (1, 1, 0, 0)
    assert (stats.prompt_tokens, stats.completion_tokens, stats.closed_actions) == (prompt_words, 10, 1)


def test_close_action_only_completes_a_reply_that_stopped_inside_its_action():
    assert close_action("<think>t</think><action>go to desk 1", "stop") == (
        "<think>t</think><action>go to desk 1</action>", True)
    assert close_action("<think>t</think><action>go</action>", "stop") == ("<think>t</think><action>go</action>", False)
    assert close_action("<think>t</think><action>go to", "length") == ("<think>t</think><action>go to", False)
    assert close_action("<think>t</think><action> ", "stop") == ("<think>t</think><action> ", False)
    assert close_action("<think>t</think>", "stop") == ("<think>t</think>", False)
    assert close_action("<think>t</think><action>go", None)[1]  # a server that gives no finish_reason


def test_transient_faults_are_retried_counted_and_then_answered():
    faults = [
        ("status", 429, 0),  # rate limited, Retry-After: 0
        ("status", 500),
        ("status", 503),
        ("raw", b"{not json"),
        ("reply", {"choices": []}),
        ("reply", reply(None)),  # content null
        ("drop",),  # connection closed without a reply
        ("slow", 2.0),  # slower than the 1 s timeout
    ]
    with ScriptedServer() as server, policy_for(server, concurrency=1, request_timeout_s=1.0) as policy:
        for fault in faults:
            server.queue(fault)
            [completion] = policy.sample([policy.encode(messages())])
            assert parse_response(completion.text).valid and not completion.failed
    stats = policy.stats
    assert (stats.completions, stats.requests, stats.retries, stats.failures) == (8, 16, 8, 0)
    assert dict(stats.errors) == {"http_429": 1, "http_500": 1, "http_503": 1, "malformed": 3,
                                  "connection": 1, "timeout": 1}
    assert stats.completion_tokens == 8 * 10  # only the answered attempts carry usage
    assert len(stats.recent_errors) == 8 and stats.recent_errors[-1].startswith("timeout: no reply within 1 s")


def test_a_request_that_keeps_failing_becomes_an_invalid_reply_and_the_batch_goes_on():
    with ScriptedServer() as server, policy_for(server, retries=2, concurrency=1) as policy:
        server.queue(("status", 500), ("status", 502), ("status", 500))
        failed, fine = policy.sample([policy.encode(messages("open box 1")), policy.encode(messages("open box 2"))])
        assert failed.failed and failed.text == "" and failed.response_ids == [] and "HTTP 500" in failed.error
        assert not parse_response(failed.text).valid
        assert parse_response(fine.text).action == "open box 2"
        server.queue(("status", 400))  # e.g. a prompt longer than the context: no retry helps
        [rejected] = policy.sample([policy.encode(messages())])
        assert rejected.failed
    stats = policy.stats
    assert (stats.completions, stats.requests, stats.retries, stats.failures) == (3, 5, 2, 2)
    assert dict(stats.errors) == {"http_500": 2, "http_502": 1, "http_400": 1}


def test_bad_key_url_or_model_stops_the_evaluation_with_one_clear_error():
    for status in (401, 404):
        with ScriptedServer() as server, policy_for(server) as policy:
            server.queue(("status", status))
            with pytest.raises(ApiError, match=f"HTTP {status} .*OPENAI_API_KEY") as raised:
                policy.sample([policy.encode(messages())])
            assert isinstance(raised.value, ModelLoadError)  # the CLI prints one line, exit 2
            assert policy.stats.requests == 1


def test_a_server_that_never_answered_is_an_error_one_that_went_away_is_a_failure():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with ApiPolicy(ApiConfig(model="m", base_url=f"http://127.0.0.1:{port}/v1", retries=1, **FAST)) as policy:
        with pytest.raises(ApiError, match="no server answers"):
            policy.sample([policy.encode(messages())])
    with ScriptedServer() as server:
        policy = policy_for(server, retries=1)
        assert not policy.sample([policy.encode(messages())])[0].failed
    [gone] = policy.sample([policy.encode(messages())])
    assert gone.failed and policy.stats.errors["refused"] == 2 and policy.stats.failures == 1
    policy.close()


def test_usage_missing_or_reply_truncated_is_counted():
    with ScriptedServer() as server, policy_for(server) as policy:
        server.queue(("reply", reply("<think>t</think><action>open box 1", usage=False)),
                     ("reply", reply("<think>a long thought", finish="length", completion_tokens=96)))
        replies = policy.sample([policy.encode(messages())] * 2, n=1)
    # the two requests go out in parallel, so either may get either scripted reply
    bare, cut = sorted(replies, key=lambda completion: completion.finish_reason == "length")
    assert bare.response_ids == [] and parse_response(bare.text).valid
    assert cut.finish_reason == "length" and not parse_response(cut.text).valid and len(cut.response_ids) == 96
    stats = policy.stats
    assert (stats.missing_usage, stats.truncated, stats.completion_tokens) == (1, 1, 96)


def test_one_batch_goes_out_in_parallel_up_to_the_limit_and_keeps_its_order():
    with ScriptedServer(delay=0.15) as server, policy_for(server, concurrency=3) as policy:
        prompts = [policy.encode(messages(f"open box {i}")) for i in range(7)]
        completions = policy.sample(prompts, n=2)
        assert 1 < server.max_in_flight <= 3
    assert [parse_response(c.text).action for c in completions] == [f"open box {i}" for i in range(7) for _ in "ab"]


def test_what_an_api_cannot_do_is_refused_plainly():
    policy = ApiPolicy(ApiConfig(model="m", base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(ValueError, match="constrained decoding"):
        policy.sample([policy.encode(messages())], actions=[["open box 1"]])
    with pytest.raises(TypeError, match="not token ids"):
        policy.sample([[1, 2, 3]])
    for bad, field in (({"concurrency": 0}, "concurrency"), ({"retries": -1}, "retries"),
                       ({"request_timeout_s": 0.0}, "request_timeout_s"),
                       ({"base_url": "127.0.0.1:8000"}, "base_url")):
        with pytest.raises(ConfigError, match=field):
            ApiConfig(**{"model": "m", **bad})
    environ = {"OPENAI_BASE_URL": "http://h:1/v1", "OPENAI_API_KEY": "sk-secret"}
    config = ApiConfig.from_spec("openai:gpt-x", environ=environ)
    assert (config.model, config.base_url, config.api_key) == ("gpt-x", "http://h:1/v1", "sk-secret")
    assert "sk-secret" not in repr(config) and config.describe()["api_key"] == "set"
    assert ApiConfig.from_spec("openai:m", "http://given/v1", environ={"OPENAI_BASE_URL": "http://env/v1"}).base_url \
        == "http://given/v1"
    with pytest.raises(ConfigError, match="names no model"):
        ApiConfig.from_spec("openai:", environ={})


def first_step_of_the_spraybottle_game(body):
    user = body["messages"][-1]["content"]
    return user.startswith("goal: put a spraybottle in drawer.") and "\n- " not in user


def test_a_household_evaluation_runs_through_faults_with_tokens_from_usage():
    games = 4
    agent = {"prompt_style": "compact", "constrain_actions": False}
    # The first step of one game never gets an answer (5 attempts: an invalid step); the other
    # games' first requests and retries meet a 429, a 500, a malformed body and a timeout, each
    # retried once (at most 4 in a row for one completion, within its 4 retries).
    with ScriptedServer(fail_when=first_step_of_the_spraybottle_game) as server, \
            policy_for(server, retries=4, concurrency=4, request_timeout_s=1.0) as policy:
        server.queue(("status", 429, 0), ("status", 500), ("raw", b"<html>"), ("slow", 2.0))
        with make("household-small", max_steps=30) as env:
            results, forests = evaluate(policy, env, lambda task: env.spawn(), ["L0"], games, agent=agent)
        temperatures = {request["temperature"] for request in server.requests}
    result = results["L0"]
    stats = policy.stats
    assert result.games == games and temperatures == {0.4}
    assert stats.failures == 1 and stats.retries == 4 + 4 and stats.requests == stats.completions + stats.retries
    assert dict(stats.errors) == {"http_500": 5 + 1, "http_429": 1, "malformed": 1, "timeout": 1}
    steps = round(result.steps_per_trajectory * games)
    assert stats.completions == steps and result.invalid_rate == pytest.approx(1 / steps)
    spraybottle = next(f for f in forests if "spraybottle" in f.nodes[f.root_ids[0]].observation)
    first = spraybottle.nodes[spraybottle.root_ids[0]]
    assert not first.valid and first.action == "" and first.response_text == ""
    assert sum(result.wins.values()) >= 1  # the scripted model wins some
    # Every completion is one step of one trajectory: tokens per trajectory sum to usage's total.
    assert result.tokens_per_trajectory * games == stats.completion_tokens > 0
    assert stats.closed_actions == stats.completions - stats.failures
