"""WebShop adapter: data loading, goals, the score, search and the pages, on a small in-test
catalogue in WebShop's own file formats; the real data (``shared/data/webshop``) when it is there."""

from __future__ import annotations

import collections
import random
from pathlib import Path

import pytest

from sparkrl.envs import UNKNOWN_ACTION_TEXT
from sparkrl.envs.webshop import (
    CATALOGS,
    HUMAN_INSTRUCTIONS,
    WebShopEnv,
    find_webshop_data,
    normalize_color,
    parse_products,
)
from sparkrl.envs.webshop_goals import human_goals, synthetic_goals

REAL_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "webshop"


def record(asin, name, price, category, query, path, options=None, description="", bullets=()):
    return {
        "asin": asin, "name": name, "pricing": price, "category": category, "query": query,
        "product_category": path, "full_description": description, "small_description": list(bullets),
        "customization_options": {k: [{"value": v} for v in values] for k, values in (options or {}).items()},
    }


TOOTHPASTE = "Beauty & Personal Care › Oral Care › Toothpaste"
SHIRTS = "Clothing, Shoes & Jewelry › Men › Clothing › Shirts"
RECORDS = [
    record("B0PASTE001", "Fluoride Free Natural Toothpaste with Charcoal", "$12.99", "beauty", "toothpaste",
           TOOTHPASTE, {"Size": ["4 Ounce", "8 Ounce"]}, "Whitening paste with activated charcoal.",
           ["No fluoride, vegan", "Fresh mint"]),
    record("B0PASTE002", "Kids Strawberry Toothpaste", "$5.49", "beauty", "toothpaste", TOOTHPASTE,
           {"Size": ["2.5 Ounce"]}, "Gentle paste for kids.", ["Strawberry flavour"]),
    record("B0PASTE001", "Duplicate ASIN is dropped", "$1.00", "beauty", "toothpaste", TOOTHPASTE),
    record("nan", "No ASIN is dropped", "$1.00", "beauty", "toothpaste", TOOTHPASTE),
    *[
        record(f"B0SHIRT{i:03d}", f"Men's Cotton Crew T-Shirt Model {i}", f"$9.00 to ${15 + i}.00", "fashion",
               "men t-shirt", SHIRTS, {"Color": ["Black/Grey", "Navy Blue"], "Size": ["Medium", "X-Large"]},
               "Soft cotton tee.", ["100% cotton"])
        for i in range(14)
    ],
    record("B0BRUSH001", "Ultrasonic Smart Electric Toothbrush Pro", "$985.00", "beauty", "electric toothbrush",
           "Beauty & Personal Care › Oral Care › Toothbrushes", None, "Sonic brush.", ["Five modes"]),
]
ATTRIBUTES = {  # the synthetic goals' instructions live here, as in items_ins_v2_1000.json
    "B0PASTE001": {"attributes": ["fluoride free", "natural ingredients"],
                   "instruction": "Find me fluoride free toothpaste", "instruction_attributes": ["fluoride free"]},
    "B0SHIRT000": {"attributes": ["cotton"]},  # no instruction: no synthetic goal
    "B0SHIRT003": {"attributes": ["machine wash", "cotton"],
                   "instruction": "Find me machine wash men's t-shirts with cotton",
                   "instruction_attributes": ["machine wash", "cotton"]},
    "B0BRUSH001": {"attributes": ["rechargeable"], "instruction": "Find me a rechargeable electric toothbrush",
                   "instruction_attributes": ["rechargeable"]},
}
INSTRUCTIONS = {
    "B0PASTE001": [
        {"instruction": "i want a fluoride free toothpaste in 8 ounce.", "instruction_attributes": ["fluoride free"],
         "instruction_options": ["8 ounce"]},
        {"instruction": "no attributes: skipped", "instruction_attributes": [], "instruction_options": []},
    ],
    "B0SHIRT003": [
        {"instruction": "men's machine wash cotton t-shirt in navy blue, x-large",
         "instruction_attributes": ["machine wash", "cotton"], "instruction_options": ["navy blue", "x-large"]},
    ],
}


# ---- without the optional dependencies --------------------------------------------------


def test_missing_data_names_the_files_and_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.delenv("WEBSHOP_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as error:
        WebShopEnv(data=tmp_path, catalog="small")  # synthetic goals: no human instructions needed
    message = str(error.value)
    assert all(name in message for name in CATALOGS["small"])
    assert f"missing: {', '.join(CATALOGS['small'])} not in {tmp_path}" in message
    assert "WEBSHOP_DATA" in message and "docs/webshop.md" in message
    for name in CATALOGS["small"]:
        (tmp_path / name).write_text("{}")
    assert find_webshop_data(tmp_path, "small") == tmp_path
    with pytest.raises(FileNotFoundError, match=f"missing: {HUMAN_INSTRUCTIONS} not in"):
        WebShopEnv(data=tmp_path, catalog="small", goals="human")
    with pytest.raises(ValueError, match="catalogue"):
        find_webshop_data(tmp_path, "huge")
    with pytest.raises(ValueError, match="goal set"):
        find_webshop_data(tmp_path, "small", goals="robot")


def test_products_are_cleaned_like_webshop_does():
    products = parse_products(RECORDS, ATTRIBUTES, [], random.Random(0))
    assert [p.asin for p in products][:3] == ["B0PASTE001", "B0PASTE002", "B0SHIRT000"]
    assert len(products) == 17
    paste, kids, shirt = products[0], products[1], products[2]
    assert (paste.price, paste.price_tag, paste.options) == (12.99, "$12.99", {"size": ["4 ounce", "8 ounce"]})
    assert kids.attributes == ["DUMMY_ATTR"]
    assert shirt.options["color"] == ["black | grey", "navy blue"]
    assert shirt.price_tag == "$9.0 to $15.0" and 9.0 <= shirt.price <= 15.0


def test_goals_get_a_price_bound_and_webshops_shuffle():
    products = parse_products(RECORDS, ATTRIBUTES, [], random.Random(1))
    goals = human_goals(products, INSTRUCTIONS, random.Random(1))
    assert len(goals) == 2
    again = human_goals(products, INSTRUCTIONS, random.Random(1))
    assert goals == again
    paste = next(g for g in goals if g.asin == "B0PASTE001")
    assert paste.instruction.startswith("i want a fluoride free toothpaste in 8 ounce, and price lower than ")
    assert paste.price_upper in (20.0, 30.0, 40.0) and paste.options == ("8 ounce",)


def test_synthetic_goals_take_every_option_combination():
    products = parse_products(RECORDS, ATTRIBUTES, [], random.Random(2))
    goals = synthetic_goals(products, ATTRIBUTES, random.Random(2))
    assert goals == synthetic_goals(products, ATTRIBUTES, random.Random(2))
    by_asin = collections.defaultdict(list)
    for goal in goals:
        by_asin[goal.asin].append(goal)
    assert {asin: len(g) for asin, g in by_asin.items()} == {"B0PASTE001": 2, "B0SHIRT003": 4, "B0BRUSH001": 1}
    shirts = by_asin["B0SHIRT003"]  # options in sorted name order: color, then size
    assert {g.options for g in shirts} == {
        ("black | grey", "medium"), ("black | grey", "x-large"), ("navy blue", "medium"), ("navy blue", "x-large")
    }
    (bound,) = {g.price_upper for g in shirts}  # one price bound per product
    assert bound in (20.0, 30.0) and all(g.attributes == ("machine wash", "cotton") for g in shirts)
    navy = next(g for g in shirts if g.options == ("navy blue", "x-large"))
    assert navy.instruction == (
        f"Find me machine wash men's t-shirts with cotton with color: navy blue, and size: x-large, "
        f"and price lower than {bound:.2f} dollars"
    )
    assert navy.name == "Men's Cotton Crew T-Shirt Model 3" and navy.query == "men t-shirt"
    assert {g.instruction.split(", and price")[0] for g in by_asin["B0PASTE001"]} == {
        "Find me fluoride free toothpaste with size: 4 ounce", "Find me fluoride free toothpaste with size: 8 ounce"
    }
    (brush,) = by_asin["B0BRUSH001"]  # no options: one goal; $985: fewer than two steps above, no bound
    assert (brush.instruction, brush.options, brush.price_upper) == (
        "Find me a rechargeable electric toothbrush", (), 1_000_000.0
    )
    broken = {"B0PASTE002": {"instruction": "Find me kids toothpaste", "instruction_attributes": []}}
    with pytest.raises(ValueError, match="B0PASTE002"):
        synthetic_goals(products, broken, random.Random(0))


def test_colors_compare_by_their_first_colour_word():
    assert normalize_color("black | grey") == "black"
    assert normalize_color("heather navy") == "heather"
    assert normalize_color("8 ounce") == "8 ounce"


# ---- with bm25s and rapidfuzz -------------------------------------------------------------


@pytest.fixture(scope="module")
def shop():
    """The default: synthetic goals from ``ATTRIBUTES``."""
    pytest.importorskip("bm25s")
    pytest.importorskip("rapidfuzz")
    from sparkrl.envs.webshop import Shop

    return Shop.from_records(RECORDS, ATTRIBUTES)


@pytest.fixture(scope="module")
def human_shop():
    pytest.importorskip("bm25s")
    pytest.importorskip("rapidfuzz")
    from sparkrl.envs.webshop import Shop

    return Shop.from_records(RECORDS, ATTRIBUTES, INSTRUCTIONS, goals="human")


def goal_task(env: WebShopEnv, asin: str, options: tuple[str, ...] | None = None):
    return next(
        t for t in env.tasks("L0")
        if (goal := env.shop.goals[int(t.task_id[5:])]).asin == asin and options in (None, goal.options)
    )


def test_goal_sets_default_to_synthetic(shop, human_shop):
    from sparkrl.envs.webshop import Shop

    assert shop.goal_mode == "synthetic" and len(shop.goals) == 7
    assert human_shop.goal_mode == "human" and len(human_shop.goals) == 2
    assert WebShopEnv(shop=shop).goal_mode == "synthetic"
    assert WebShopEnv(shop=human_shop).spawn().goal_mode == "human"
    assert len(WebShopEnv(shop=shop).tasks("L0")) == 7
    with pytest.raises(ValueError, match="given shop"):
        WebShopEnv(shop=human_shop, goals="synthetic")
    with pytest.raises(ValueError, match="human instructions"):
        Shop.from_records(RECORDS, ATTRIBUTES, goals="human")


@pytest.mark.parametrize("goal_set", ["synthetic", "human"])
def test_score_rewards_attributes_options_price_and_type(shop, human_shop, goal_set):
    from sparkrl.envs.webshop import score_purchase

    shop = {"synthetic": shop, "human": human_shop}[goal_set]
    goal = next(g for g in shop.goals if g.asin == "B0SHIRT003" and g.options == ("navy blue", "x-large"))
    shirt, paste = shop.products["B0SHIRT003"], shop.products["B0PASTE001"]
    perfect, parts = score_purchase(shirt, goal, {"color": "navy blue", "size": "x-large"})
    assert perfect == 1.0 and parts["r_type"] == 1.0
    wrong_size, _ = score_purchase(shirt, goal, {"color": "navy blue", "size": "medium"})
    assert wrong_size == pytest.approx(4 / 5)
    no_options, _ = score_purchase(shirt, goal, {})
    assert no_options == pytest.approx(3 / 5)
    other_shirt, parts = score_purchase(shop.products["B0SHIRT007"], goal, {"color": "navy blue", "size": "x-large"})
    assert parts["r_att"] == 0.5 and other_shirt < 1.0  # "cotton" is in its title, "machine wash" nowhere
    wrong_kind, parts = score_purchase(paste, goal, {"size": "x-large"})
    assert parts["r_type"] == 0.0 and wrong_kind == 0.0


def test_search_ranks_matching_products_first(shop):
    hits = shop.search("fluoride free toothpaste")
    assert hits[0] == "B0PASTE001" and set(hits) == {"B0PASTE001", "B0PASTE002"}
    assert len(shop.search("cotton t-shirt")) == 14
    assert shop.search("zzzz unknownword") == []


def test_a_full_purchase_wins(shop):
    env = WebShopEnv(shop=shop)
    observation = env.reset(goal_task(env, "B0PASTE001", ("8 ounce",)))
    assert observation.admissible_actions == ["search[<query>]"]
    assert observation.text == "WebShop search page."  # compact: the instruction is the goal only
    results = env.step("search[Fluoride free toothpaste]").observation
    assert "click[b0paste001]" in results.admissible_actions
    assert results.text.split("\n")[:2] == ["Page 1 of 1:", "b0paste001 $12 fluoride free natural"]
    item = env.step("click[B0PASTE001]").observation
    assert {"click[8 ounce]", "click[description]", "click[buy now]", "click[< prev]"} <= set(item.admissible_actions)
    assert item.text == "Item b0paste001: fluoride free natural toothpaste with charcoal\nPrice: $12.99\nsize: 2 choices"
    chosen = env.step("click[8 ounce]").observation
    assert "size: [8 ounce] of 2 choices" in chosen.text
    detail = env.step("click[description]").observation
    assert "activated charcoal" in detail.text
    env.step("click[< prev]")
    bought = env.step("click[Buy Now]")
    assert bought.won and bought.terminated and bought.reward == 1.0
    assert bought.info["score"] == 1.0 and "Your score" in bought.observation.text


def test_unknown_actions_and_paging(human_shop):
    env = WebShopEnv(shop=human_shop, max_steps=30)
    env.reset(goal_task(env, "B0SHIRT003"))
    for action in ("click[buy now]", "dance", "search[]"):
        result = env.step(action)
        assert result.observation.text == UNKNOWN_ACTION_TEXT and not result.done
    first = env.step("search[cotton t-shirt]").observation
    assert "click[next >]" in first.admissible_actions and "click[< prev]" not in first.admissible_actions
    assert env.step("search[again]").observation.text == UNKNOWN_ACTION_TEXT
    second = env.step("click[next >]").observation
    assert second.text.startswith("Page 2 of 2:\n")
    assert len([a for a in second.admissible_actions if a.startswith("click[b0")]) == 4
    back = env.step("click[< prev]").observation
    assert back.text == first.text
    assert env.step("click[back to search]").observation.admissible_actions == ["search[<query>]"]


def test_full_pages_are_webshops_text_mode(shop):
    env = WebShopEnv(shop=shop, pages="full")
    observation = env.reset(goal_task(env, "B0SHIRT003", ("navy blue", "x-large")))
    assert observation.text == f"WebShop [SEP] Instruction: [SEP] {observation.goal} [SEP] Search"
    first = env.step("search[cotton t-shirt]").observation
    assert "Page 1 (Total results: 14) [SEP] Next > [SEP] B0SHIRT" in first.text
    second = env.step("click[next >]").observation
    assert "Page 2 (Total results: 14) [SEP] < Prev [SEP] B0SHIRT" in second.text
    item = env.step(second.admissible_actions[-1]).observation
    assert "color: black | grey | navy blue [SEP] size: medium | x-large" in item.text
    assert env.spawn().pages == "full" and WebShopEnv(shop=shop).pages == "compact"
    with pytest.raises(ValueError, match="page style"):
        WebShopEnv(shop=shop, pages="html")


def test_buying_the_wrong_thing_scores_below_one(shop):
    env = WebShopEnv(shop=shop)
    env.reset(goal_task(env, "B0SHIRT003"))
    env.step("search[toothpaste]")
    env.step("click[b0paste002]")
    result = env.step("click[buy now]")
    assert result.terminated and not result.won and result.reward < 0.5


def test_forks_replay_and_the_checker_passes(shop):
    from sparkrl.envs.checker import check_env

    env = WebShopEnv(shop=shop)
    env.reset(goal_task(env, "B0SHIRT003"))
    env.step("search[navy cotton t-shirt]")
    fork = env.fork()
    assert fork.shop is env.shop and fork.step("click[next >]").observation == env.step("click[next >]").observation
    report = check_env(WebShopEnv(shop=shop), games=2, seed=0)
    assert report.ok, [str(f) for f in report.failures]
    assert report.games_per_split["L0"] == 2 and report.games_per_split["train"] == 0


@pytest.mark.skipif(
    not all((REAL_DATA / name).is_file() for name in CATALOGS["small"]), reason=f"no WebShop data in {REAL_DATA}"
)
def test_real_catalogue_passes_the_checker():
    pytest.importorskip("bm25s")
    pytest.importorskip("rapidfuzz")
    from sparkrl.envs.checker import check_env

    env = WebShopEnv(data=REAL_DATA)  # synthetic goals, WebShop's human_goals=False
    per_product = collections.Counter(goal.asin for goal in env.shop.goals)
    assert (len(env.shop.goals), len(per_product), max(per_product.values())) == (6910, 415, 558)
    assert sum(not env.shop.products[asin].options for asin in per_product) == 185  # one goal each
    assert [len(env.tasks(split)) for split in ("L0", "L1", "train", "L2")] == [500, 1000, 5410, 0]
    assert env.shop.index_source == "contents"  # documents_1k.jsonl is there
    report = check_env(env, games=2, seed=0)
    assert report.ok, [str(f) for f in report.failures]
    assert report.expert_wins == report.expert_games == 6
