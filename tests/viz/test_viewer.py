import json
import re

import pytest

from sparkrl.cli import build_parser
from sparkrl.viz.viewer import choose_iterations, leaf_outcome, tree_statistics, write_viewer

from tests.viz.runs import HORIZON, INJECTED, branching_forest, invalid_forest, make_run, step

_BLOCK = re.compile(r'<script type="application/json" id="([\w-]+)">(.*?)</script>', re.S)


def embedded(page: str) -> dict:
    return {name: json.loads(body) for name, body in _BLOCK.findall(page)}


def test_leaf_outcomes():
    assert leaf_outcome(step(0, None, 1, done=True, won=True), HORIZON) == "won"
    assert leaf_outcome(step(0, None, 1, valid=False, done=True), HORIZON) == "invalid"
    assert leaf_outcome(step(0, None, HORIZON - 1, valid=False, done=True), HORIZON) == "truncated"
    assert leaf_outcome(step(0, None, HORIZON - 1, done=True), HORIZON) == "truncated"
    assert leaf_outcome(step(0, None, 1, done=False), None) == "truncated"
    assert leaf_outcome(step(0, None, 1, done=True), HORIZON) == "lost"
    assert leaf_outcome(step(0, None, HORIZON - 1, done=True), None) == "lost"


def test_tree_statistics():
    stats = tree_statistics(branching_forest("t"), HORIZON)
    assert stats["roots"] == 2 and stats["forks"] == 1 and stats["leaves"] == 3 and stats["branches"] == 1
    assert stats["depth"] == 4 and stats["steps"] == 8
    assert stats["explore_ratio"] == pytest.approx(1 / 8)
    assert stats["success"] == pytest.approx(1 / 3)
    assert stats["outcomes"] == {"won": 1, "lost": 1, "truncated": 1, "invalid": 0}
    assert stats["generated_tokens"] == 24
    invalid = tree_statistics(invalid_forest("t"), HORIZON)
    assert invalid["outcomes"]["invalid"] == 1 and invalid["invalid_ratio"] == 0.5 and invalid["forks"] == 0


def test_choose_iterations():
    assert choose_iterations([1, 2, 3], 2, 24) == [2]
    assert choose_iterations([1, 2, 3], None, 24) == [1, 2, 3]
    sampled = choose_iterations(list(range(1, 101)), None, 10)
    assert sampled[0] == 1 and sampled[-1] == 100 and len(sampled) == 10
    with pytest.raises(ValueError, match="iteration 7 not in the run"):
        choose_iterations([1, 2, 3], 7, 24)


def test_page_embeds_every_iteration_with_escaped_text(tmp_path):
    run = make_run(tmp_path / "run", iterations=3)
    page_path = write_viewer(run)
    assert page_path == run / "viewer.html"
    page = page_path.read_text(encoding="utf-8")
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    assert INJECTED not in page and "<script>window.injected" not in page
    blocks = embedded(page)
    index = blocks["run-index"]
    assert index["command"] == "sparkrl train --preset test" and index["horizon"] == HORIZON
    assert [it["iteration"] for it in index["iterations"]] == [1, 2, 3]
    last = blocks["iteration-3"]
    assert [task["task_id"] for task in last["tasks"]] == ["task-a-3", "task-b-3", "task-c-3"]
    nodes = {node["id"]: node for node in last["tasks"][0]["nodes"]}
    assert last["strings"][nodes[6]["observation"]] == INJECTED
    assert nodes[3]["outcome"] == "won" and nodes[5]["outcome"] == "truncated" and nodes[1]["outcome"] is None
    assert "prompt_ids" not in nodes[0]
    # Two tasks share the same texts: each is stored once.
    assert len(last["strings"]) == len(set(last["strings"]))


def test_one_iteration_to_a_chosen_file(tmp_path):
    run = make_run(tmp_path / "run", iterations=3)
    out = write_viewer(run, out=tmp_path / "pages" / "one.html", iteration=2)
    assert out == tmp_path / "pages" / "one.html"
    assert [name for name in embedded(out.read_text(encoding="utf-8"))] == ["run-index", "iteration-2"]


def test_bad_run_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no trees/ folder"):
        write_viewer(tmp_path)
    (tmp_path / "trees").mkdir()
    with pytest.raises(FileNotFoundError, match="no iter-N.jsonl"):
        write_viewer(tmp_path)
    (tmp_path / "trees" / "iter-000001.jsonl").write_text('{"task_id": "x"}\n')
    with pytest.raises(ValueError, match=r"iter-000001.jsonl, line 1: not a saved TaskForest"):
        write_viewer(tmp_path)


def test_view_command(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    args = build_parser().parse_args(["view", str(run), "--iteration", "1", "--out", str(tmp_path / "v.html")])
    assert args.handler(args) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "v.html")
    assert (tmp_path / "v.html").exists()
