"""The WebShop expert (gold path, hidden target; and the no-hidden-information walk), the
compact pages' token budget, and the search index over ``documents_1k.jsonl``'s ``contents``:
on in-test shops, and on the real data in ``shared/data/webshop`` when it is there."""

from __future__ import annotations

import json

import pytest

from sparkrl.envs.webshop import CATALOGS, DOCUMENTS, WebShopEnv
from sparkrl.envs.webshop_expert import (
    WebShopExpert,
    named_option_count,
    price_bound,
    search_query,
    wanted_options,
)
from tests.envs.test_webshop import ATTRIBUTES, INSTRUCTIONS, REAL_DATA, RECORDS, goal_task, record

pytest.importorskip("bm25s")
pytest.importorskip("rapidfuzz")
from sparkrl.envs.webshop import Shop, index_text, load_shop  # noqa: E402

HAVE_REAL_DATA = all((REAL_DATA / name).is_file() for name in CATALOGS["small"])
needs_real_data = pytest.mark.skipif(not HAVE_REAL_DATA, reason=f"no WebShop data in {REAL_DATA}")

WIDGETS = "Tools & Home Improvement › Hardware › Widgets"


def widget_shop(decoys: int) -> Shop:
    """A target ("Plain Gadget Widget", sizes small and large) that the instruction's search
    ranks below ``decoys`` look-alikes (sizes small and large tall, so they do not fit)."""
    records = [
        record(f"B0DECOY{i:03d}", f"Blue Widget Deluxe Edition {i}", "$12.00", "garden", "widgets", WIDGETS,
               {"Size": ["Small", "Large Tall"]}, "Blue widget, deluxe.", ["Blue deluxe widget"])
        for i in range(decoys)
    ]
    records.append(record("B0TARGET01", "Plain Gadget Widget", "$10.00", "garden", "widgets", WIDGETS,
                          {"Size": ["Small", "Large"]}, "", ["Sturdy"]))
    attributes = {"B0TARGET01": {"attributes": ["blue"], "instruction": "Find me a blue deluxe widget",
                                 "instruction_attributes": ["blue"]}}
    return Shop.from_records(records, attributes)


def play(env: WebShopEnv, task, expert=None):
    """Play ``task`` with ``expert`` (default: the env's); the steps and the final result."""
    observation = env.reset(task)
    expert = expert or env.expert()
    steps, result = [], None
    while not env.done:
        step = expert.act(observation)
        steps.append(step)
        result = env.step(step.action)
        observation = result.observation
    return steps, result


@pytest.fixture(scope="module")
def shop():
    return Shop.from_records(RECORDS, ATTRIBUTES)


@pytest.fixture(scope="module")
def human_shop():
    return Shop.from_records(RECORDS, ATTRIBUTES, INSTRUCTIONS, goals="human")


# ---- reading the instruction ----------------------------------------------------------------


def test_the_instruction_names_the_options_and_the_price():
    text = "Find me a shirt with color: navy blue, and size: x-large, and price lower than 40.00 dollars"
    assert search_query(text) == "Find me a shirt with color: navy blue, and size: x-large"
    assert price_bound(text) == 40.0 and price_bound("Find me a shirt") == float("inf")
    assert named_option_count(text) == 2 and named_option_count("Find me a rechargeable toothbrush") == 0
    values = ["large", "x-large", "navy", "navy blue", "black | grey"]
    assert wanted_options(text, values) == ["x-large", "navy blue"]  # not the prefixes large / navy
    assert wanted_options("Find me a tee with color: black | grey", values) == ["black | grey"]
    # a human goal lists no "name: value": whole-word mentions, the longer of nested values
    assert wanted_options("i want a navy blue shirt in x-large", values) == ["x-large", "navy blue"]
    assert wanted_options("i want a shirt", values) == []


# ---- the expert on the in-test shops ----------------------------------------------------------


@pytest.mark.parametrize("goal_set", ["synthetic", "human"])
def test_the_expert_wins_every_fixture_goal_with_the_goals_options(shop, human_shop, goal_set):
    shop = {"synthetic": shop, "human": human_shop}[goal_set]
    env = WebShopEnv(shop=shop)
    for task in env.tasks("L0"):
        goal = shop.goals[int(task.task_id[5:])]
        steps, result = play(env, task)
        assert result.won and result.reward == 1.0, task.task_id
        clicked = [s.action[6:-1] for s in steps if s.action.startswith("click[")]
        product = shop.products[goal.asin]
        assert clicked[-1] == "buy now" and goal.asin.lower() in clicked
        assert sorted(c for c in clicked if any(c in v for v in product.options.values())) == sorted(goal.options)
        assert steps[0].is_search and steps[0].action == f"search[{search_query(goal.instruction)}]"
        assert not any(s.is_search for s in steps if not s.action.startswith(("search[", "click[next", "click[back")))


def test_the_expert_pages_to_the_target_then_searches_its_title():
    env = WebShopEnv(shop=widget_shop(12))
    task = goal_task(env, "B0TARGET01", ("large",))
    assert env.shop.search(search_query(env.shop.goals[0].instruction)).index("B0TARGET01") >= 10
    steps, result = play(env, task)
    assert result.won
    assert [(s.action, s.is_search) for s in steps[1:]] == [
        ("click[next >]", True), ("click[b0target01]", False), ("click[large]", False), ("click[buy now]", False)
    ]
    env = WebShopEnv(shop=widget_shop(25))  # past the expert's two pages: it searches the title
    steps, result = play(env, goal_task(env, "B0TARGET01", ("large",)))
    assert result.won
    assert [(s.action, s.is_search) for s in steps[1:5]] == [
        ("click[next >]", True), ("click[back to search]", True), ("search[Plain Gadget Widget]", True),
        ("click[b0target01]", False),
    ]


def test_without_the_target_it_skips_products_whose_options_do_not_fit():
    env = WebShopEnv(shop=widget_shop(12), max_steps=60)
    task = goal_task(env, "B0TARGET01", ("large",))
    steps, result = play(env, task, WebShopExpert(env.shop.goals[int(task.task_id[5:])].instruction))
    assert result.won  # twelve decoys opened and left (no "large"), the target on page 2 bought
    opened = [s.action for s in steps if s.action.startswith("click[b0")]
    assert sorted(opened[:-1]) == [f"click[b0decoy{i:03d}]" for i in range(12)]
    assert opened[-1] == "click[b0target01]"
    assert all(s.is_search for s in steps if s.action in ("click[< prev]", "click[next >]"))
    assert [s.is_search for s in steps[-2:]] == [False, False]  # click[large], buy now


def test_an_option_value_with_a_non_breaking_space_is_clickable():
    records = [record("B0NBSP0001", "Soft Cotton Tee", "$10.00", "fashion", "tee", "Clothing › Tees",
                      {"Color": ["Wine\u00a0Red", "Black"]}, "A tee.", ["Cotton"])]
    attributes = {"B0NBSP0001": {"attributes": ["cotton"], "instruction": "Find me a cotton tee",
                                 "instruction_attributes": ["cotton"]}}
    env = WebShopEnv(shop=Shop.from_records(records, attributes))
    task = goal_task(env, "B0NBSP0001", ("wine\u00a0red",))
    steps, result = play(env, task)
    assert "click[wine red]" in [s.action for s in steps] and result.won


def test_the_checker_passes_with_the_expert(shop):
    from sparkrl.envs.checker import check_env

    report = check_env(WebShopEnv(shop=shop), games=7, seed=0)
    assert report.ok, [str(f) for f in report.failures]
    assert report.expert_wins == report.expert_games == 7


# ---- the compact pages fit the tiny model's samples ------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    from sparkrl.models import load

    return load("tiny", threads=1)


def sample_lengths(policy, env: WebShopEnv, tasks) -> list[int]:
    """Tokens of every step sample of the expert's trajectories, as ``sparkrl sft`` encodes
    them: chat template (system + user prompt with a history window of 5), response, EOS."""
    from sparkrl.data.annotate import RuleAnnotator
    from sparkrl.data.golden import collect_golden

    collection = collect_golden(env, tasks)
    assert collection.won == len(tasks)
    end = [policy.tokenizer.eos_token_id]
    return [
        len(policy.encode(messages)) + len(policy.encode_text(response) + end)
        for trajectory in RuleAnnotator(seed=0).annotate_all(collection.trajectories)
        for messages, response in trajectory.chat_samples(5, "paper")
    ]


def test_compact_pages_keep_every_fixture_sample_within_2048_tokens(shop, tiny):
    widgets, fixture = WebShopEnv(shop=widget_shop(25)), WebShopEnv(shop=shop)
    lengths = sample_lengths(tiny, widgets, widgets.tasks("L0")) + sample_lengths(tiny, fixture, fixture.tasks("L0"))
    assert max(lengths) <= 2048
    full = WebShopEnv(shop=widget_shop(25), pages="full")  # WebShop's text mode: the same walk, longer
    assert max(sample_lengths(tiny, full, full.tasks("L0"))) > max(lengths)


# ---- the search index over documents_1k.jsonl's contents -------------------------------------


def test_the_index_is_over_the_documents_contents_when_they_are_there(tmp_path, shop):
    assert shop.index_source == "fields" and shop.search("zebra") == []
    mixed = Shop.from_records(RECORDS, ATTRIBUTES, contents={"B0PASTE002": "zebra striped toothpaste"})
    assert mixed.index_source == "mixed" and mixed.search("zebra") == ["B0PASTE002"]
    assert "B0PASTE001" in mixed.search("fluoride")  # the others keep their product-field text
    documents = [{"id": p.asin, "contents": index_text(p) + (" zebra" if p.asin == "B0BRUSH001" else "")}
                 for p in shop.products.values()]
    for folder in (tmp_path / "with", tmp_path / "without"):
        folder.mkdir()
        for name, content in zip(CATALOGS["small"], (RECORDS, ATTRIBUTES)):
            (folder / name).write_text(json.dumps(content))
    (tmp_path / "with" / DOCUMENTS["small"]).write_text("".join(json.dumps(d) + "\n" for d in documents))
    from_file = load_shop(tmp_path / "with", "small")
    assert from_file.index_source == "contents" and from_file.search("zebra") == ["B0BRUSH001"]
    assert load_shop(tmp_path / "without", "small").index_source == "fields"


# ---- the real catalogue ----------------------------------------------------------------------


@needs_real_data
def test_real_data_uses_the_contents_index_and_the_expert_wins_the_test_goals():
    env = WebShopEnv(data=REAL_DATA)
    assert env.shop.index_source == "contents"
    results = [play(env, task)[1] for task in env.tasks("L0")]
    assert sum(r.won for r in results) == 500  # docs/webshop.md: 500/500, mean score 1.0


@needs_real_data
def test_real_data_samples_fit_2048_tokens(tiny):
    env = WebShopEnv(data=REAL_DATA)
    assert max(sample_lengths(tiny, env, env.tasks("train")[:20])) <= 2048
