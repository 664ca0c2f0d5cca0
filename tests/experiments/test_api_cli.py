"""`sparkrl eval --model openai:MODEL` end to end against a loopback server playing a scripted
model (tests/models/scripted_openai.py): the report is labelled as an API run, retries and
tokens from `usage` are in the JSON; user errors and a rejected key exit 2 with one line."""

import json
import os
import subprocess
import sys

from sparkrl.cli import main
from tests.models.scripted_openai import ScriptedServer


def test_eval_an_api_model_from_the_command_line(tmp_path):
    out = tmp_path / "out.json"
    with ScriptedServer() as server:
        server.queue(("status", 429, 0), ("raw", b"{not json"))
        env = {**os.environ, "OPENAI_API_KEY": "sk-test"}
        env.pop("OPENAI_BASE_URL", None)
        done = subprocess.run(
            [sys.executable, "-m", "sparkrl", "eval", "--model", "openai:scripted", "--base-url", server.base_url,
             "--env", "household-small", "--split", "L0", "--games", "2", "--json", str(out),
             "--retry-backoff", "0.01"],
            capture_output=True, text=True, timeout=300, env=env)
        authorizations = {headers.get("Authorization") for headers in server.headers}
    assert done.returncode == 0, done.stderr
    assert "openai:scripted (API)" in done.stdout and "API run: scripted at" in done.stdout
    assert "constrained decoding is off" in done.stdout
    document = json.loads(out.read_text())
    assert document["source"] == "api" and document["model"] == "openai:scripted"
    assert document["agent"]["constrain_actions"] is False and document["agent"]["prompt_style"] == "compact"
    api, result = document["api"], document["splits"]["L0"]
    assert api["model"] == "scripted" and api["base_url"] == server.base_url and api["api_key"] == "set"
    assert "sk-test" not in out.read_text() and authorizations == {"Bearer sk-test"}
    assert api["api_retries"] == 2 and api["api_failures"] == 0
    assert api["errors"] == {"http_429": 1, "malformed": 1}
    assert api["requests"] == api["completions"] + 2 == len(server.requests)
    assert result["games"] == 2 and result["invalid_rate"] == 0.0
    assert result["tokens_per_trajectory"] * 2 == api["completion_tokens"] > 0 and api["prompt_tokens"] > 0


def test_api_eval_errors_are_one_line(tmp_path, capsys):
    assert main(["eval", "--model", "openai:"]) == 2
    assert "names no model" in capsys.readouterr().err
    assert main(["eval", "--model", "tiny", "--base-url", "http://127.0.0.1:9/v1"]) == 2
    assert "--base-url applies to an API model only" in capsys.readouterr().err
    assert main(["eval", "--model", "openai:m", "--checkpoint", str(tmp_path)]) == 2
    assert "excludes --checkpoint" in capsys.readouterr().err
    assert main(["eval", "--model", "openai:m", "--run", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert main(["eval", "--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--concurrency", "0"]) == 2
    assert "concurrency" in capsys.readouterr().err
    with ScriptedServer() as server:
        server.queue(("status", 401))
        code = main(["eval", "--model", "openai:m", "--base-url", server.base_url, "--env", "household-small",
                     "--split", "L0", "--games", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HTTP 401" in err and "OPENAI_API_KEY" in err


def test_a_served_run_is_evaluated_with_the_run_settings(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("env: household-small\nrollout: {prompt_style: paper, max_steps: 5}\n"
                                     "eval: {splits: [L0], games: 1}\n")
    out = tmp_path / "served.json"
    with ScriptedServer() as server:
        assert main(["eval", "--model", "openai:spark", "--base-url", server.base_url, "--run", str(run),
                     "--json", str(out)]) == 0
        users = [request["messages"][-1]["content"] for request in server.requests]
    document = json.loads(out.read_text())
    assert document["source"] == "api" and document["env"] == "household-small"
    assert document["label"] == f"openai:spark (API, settings of {run})"
    assert document["agent"]["prompt_style"] == "paper" and document["request"]["max_steps"] == 5
    assert list(document["splits"]) == ["L0"] and document["splits"]["L0"]["games"] == 1
    assert users and all(user.startswith("Goal: ") for user in users) and len(users) <= 5
    capsys.readouterr()
