"""WebShop (Yao et al., 2022) as a sparkrl text env: catalogue, BM25 search, pages, score.

The agent reads a shopping instruction, searches a product catalogue, opens products, picks
options and buys one; the episode's score (0..1) rates the purchase against the instruction
and success is a score of exactly 1. See docs/webshop.md for the data files, the action
grammar, the pages and where this adapter deviates from the original site.

Needs the ``webshop`` extra (``bm25s`` for search, ``rapidfuzz`` for the score's fuzzy
matching) and the WebShop data files; ``Shop.from_records`` builds a shop from in-memory
records in the same format, which is how the tests run without the files. Goals are
WebShop's synthetic goals by default (its ``human_goals=False``) or its human goals
(``goals="human"``); they are made in ``sparkrl.envs.webshop_goals``.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from sparkrl.envs.base import UNKNOWN_ACTION_TEXT, Observation, Task, TextEnv
from sparkrl.envs.webshop_goals import GOAL_MODES, GOAL_SHUFFLE_SEED, Goal, GoalMode, make_goals

CATALOGS = {
    "small": ("items_shuffle_1000.json", "items_ins_v2_1000.json"),
    "all": ("items_shuffle.json", "items_ins_v2.json"),
}
"""catalogue -> (product file, attribute file); WebShop's ``setup.sh -d small|all``."""
HUMAN_INSTRUCTIONS = "items_human_ins.json"
"""Needed only for ``goals="human"``."""
REVIEWS = "reviews.json"
"""Optional: product reviews shown on the Reviews page."""
DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "webshop"
"""Where a checkout's neighbouring ``shared/data/webshop`` would be."""

SPLIT_RANGES = {"L0": (0, 500), "L1": (500, 1500), "train": (1500, None), "L2": (0, 0)}
"""Goal-index ranges over the shuffled goal list, WebShop's ``baseline_models/env.py`` splits:
test ``range(500)``, eval ``range(500, 1500)``, train ``range(1500, len(goals))``; no held-out
task types. (Upstream uses them with the full catalogue and lets every split use all goals
when a product limit such as 1,000 is set; here they hold for either catalogue.)"""
SEARCH_RESULTS, PAGE_SIZE = 50, 10
EXACT_MATCH_OPTIONS = frozenset({"size"})
COLORS = (
    "alabaster apricot aqua ash asphalt azure banana beige black blue blush bordeaux bronze brown "
    "burgundy camel camo caramel champagne charcoal cheetah chestnut chocolate christmas coffee "
    "cognac copper coral cranberry cream crystal dark denim eggplant elephant espresso fuchsia gold "
    "granite grape graphite grass gray green grey heather indigo ivory ivy khaki lavender lemon "
    "leopard light lilac lime magenta maroon mauve merlot midnight mint mocha multicolor mushroom "
    "mustard natural navy nude olive orange peach pewter pink plum purple rainbow red rose royal rust "
    "sand sapphire seashell silver skull slate steel stone stonewash sunflower tan taupe teal tiger "
    "turquoise violet walnut wheat white wine yellow"
).split()
"""WebShop's colour words: an option value is compared by the first one it contains."""
BUY, BACK_TO_SEARCH, PREV, NEXT = "buy now", "back to search", "< prev", "next >"
DETAILS = ("description", "features", "reviews")
_ACTION = re.compile(r"^\s*(search|click)\[(.+)\]\s*$", re.IGNORECASE | re.DOTALL)


def _require(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"WebShop needs {module!r}: pip install 'sparkrl[webshop]' (bm25s, rapidfuzz)"
        ) from error


@dataclass
class Product:
    asin: str
    title: str
    price: float
    price_tag: str
    category: str
    query: str
    product_category: str
    description: str
    bullet_points: list[str]
    options: dict[str, list[str]]
    attributes: list[str]
    rating: str = "N.A."
    reviews: list[str] = field(default_factory=list)


def _pricing(text: str | None) -> list[float]:
    prices = [float(p) for p in (re.sub(r"[^\d.]", "", s) for s in (text or "").split("$")[1:]) if p]
    return prices[:2] or [100.0]


def parse_products(
    records: list[dict[str, Any]],
    attributes: dict[str, Any],
    reviews: list[dict[str, Any]],
    rng: random.Random,
) -> list[Product]:
    """WebShop's product records -> ``Product``s, as its loader cleans them (first of a
    duplicated ASIN wins; a price range is charged one price drawn from ``rng``; an option
    given as ``None`` is dropped, one with an empty value list kept)."""
    review_by_asin = {r["asin"]: r for r in reviews}
    products, seen = [], set()
    for record in records:
        asin = record["asin"]
        if asin == "nan" or len(asin) > 10 or asin in seen:
            continue
        seen.add(asin)
        pricing = _pricing(record.get("pricing"))
        price = pricing[0] if len(pricing) == 1 else rng.uniform(*pricing)
        tag = " to ".join(f"${p}" for p in pricing)
        options = {
            name.lower(): [c["value"].strip().replace("/", " | ").lower() for c in contents]
            for name, contents in (record.get("customization_options") or {}).items()
            if contents is not None
        }
        bullets = record.get("small_description") or []
        review = review_by_asin.get(asin, {})
        products.append(Product(
            asin=asin, title=record["name"], price=price, price_tag=tag,
            category=record["category"], query=record["query"].lower().strip(),
            product_category=record["product_category"], description=record.get("full_description") or "",
            bullet_points=bullets if isinstance(bullets, list) else [bullets], options=options,
            attributes=attributes.get(asin, {}).get("attributes") or ["DUMMY_ATTR"],
            rating=str(review.get("average_rating", "N.A.")),
            reviews=[r.get("review") or r.get("body") or "" for r in review.get("reviews", [])],
        ))
    return products


# ---- the score ------------------------------------------------------------------------------


def fuzzy_match(a: str, b: str) -> bool:
    """WebShop's ``fuzz.token_set_ratio(a, b) > 85`` (thefuzz = rapidfuzz + default processing)."""
    fuzz, utils = _require("rapidfuzz.fuzz"), _require("rapidfuzz.utils")
    return round(fuzz.token_set_ratio(a, b, processor=utils.default_process)) > 85


def normalize_color(value: str) -> str:
    return next((color for color in COLORS if color in value), value)


def type_words(title: str) -> list[str]:
    """Content words of a title. WebShop keeps spaCy's nouns; this keeps every non-stopword."""
    stopwords = set(_require("bm25s.stopwords").STOPWORDS_EN)
    return [w for w in re.findall(r"[a-z0-9]+", title.lower()) if len(w) > 1 and w not in stopwords]


def type_reward(product: Product, goal: Goal) -> float:
    """1 for the right kind of product, less as query, category and title stop agreeing."""
    desired = type_words(goal.name)
    title_score = len(set(type_words(product.title)) & set(desired)) / len(desired) if desired else 0.2
    categories = lambda text: {part.strip() for part in text.split("›")}  # noqa: E731
    category_match = len(categories(product.product_category) & categories(goal.product_category)) >= 2
    if title_score == 0.0:
        return 0.0
    if title_score < 0.1:
        return 0.1
    return 1.0 if product.query == goal.query or category_match or title_score > 0.2 else 0.5


def _in_text(value: str, product: Product) -> bool:
    texts = (product.title, " ".join(product.bullet_points), product.description)
    return any(value in text.lower() for text in texts)


def score_purchase(product: Product, goal: Goal, options: dict[str, str]) -> tuple[float, dict[str, float]]:
    """WebShop's reward for buying ``product`` with ``options``: the share of goal attributes,
    goal options and the price bound that the purchase meets, times the type reward."""
    attribute_hits = sum(
        any(fuzzy_match(have, want) for have in product.attributes) or _in_text(want, product)
        for want in goal.attributes
    )
    wanted = [normalize_color(o) for o in goal.options]
    option_hits = 0
    for name, value in options.items():
        value = normalize_color(value)
        if name.lower() in EXACT_MATCH_OPTIONS:
            matched = value in wanted
        else:
            matched = any(fuzzy_match(want, value) for want in wanted)
        option_hits += matched or _in_text(value, product)
    price_ok = product.price <= goal.price_upper
    r_type = type_reward(product, goal)
    total = (attribute_hits + option_hits + price_ok) / (len(goal.attributes) + len(goal.options) + 1)
    parts = {"r_type": r_type, "r_att": attribute_hits / len(goal.attributes), "r_price": float(price_ok)}
    if goal.options:
        parts["r_option"] = option_hits / len(goal.options)
    return total * r_type, parts


# ---- the shop: catalogue, search, goals ----------------------------------------------------


class Shop:
    """Products, goals and a BM25 index (Lucene's variant, Anserini's k1=0.9, b=0.4) over each
    product's title, description, first bullet point and options, as WebShop indexes them."""

    def __init__(self, products: list[Product], goals: list[Goal], goal_mode: GoalMode = "synthetic") -> None:
        bm25s = _require("bm25s")
        self.products = {p.asin: p for p in products}
        self.goals = goals
        self.goal_mode = goal_mode
        self._asins = [p.asin for p in products]
        self._tokenizer = bm25s.tokenization.Tokenizer(stopwords="en", stemmer=None)
        documents = [
            " ".join([p.title, p.description, p.bullet_points[0] if p.bullet_points else "",
                      ", and ".join(f"{k}: {', '.join(v)}" for k, v in p.options.items())]).lower()
            for p in products
        ]
        self._index = bm25s.BM25(method="lucene", k1=0.9, b=0.4)
        tokens = self._tokenizer.tokenize(documents, return_as="ids", show_progress=False)
        self._index.index(tokens, show_progress=False)

    @classmethod
    def from_records(
        cls, records: list[dict[str, Any]], attributes: dict[str, Any],
        instructions: dict[str, list[dict[str, Any]]] | None = None, reviews: list[dict[str, Any]] = (),
        *, goals: GoalMode = "synthetic",
    ) -> Shop:
        """A shop from records in WebShop's file formats, with WebShop's synthetic goals (from
        ``attributes``) or, for ``goals="human"``, its human goals (from ``instructions``).
        Prices and price bounds are drawn from one seeded RNG, so the shop is deterministic."""
        rng = random.Random(GOAL_SHUFFLE_SEED)
        products = parse_products(records, attributes, list(reviews), rng)
        return cls(products, make_goals(products, goals, attributes, instructions, rng), goals)

    def search(self, query: str) -> list[str]:
        """ASINs of the best matches (up to 50), best first; nothing for a query with no known word."""
        tokens = self._tokenizer.tokenize(
            [query.lower()], update_vocab=False, return_as="ids", show_progress=False
        )
        k = min(SEARCH_RESULTS, len(self._asins))
        docs, scores = self._index.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [self._asins[d] for d, s in zip(docs[0], scores[0]) if s > 0]


def find_webshop_data(data: str | Path | None, catalog: str, goals: GoalMode = "synthetic") -> Path:
    """The folder holding the catalogue's files (and, for ``goals="human"``, the human
    instructions): ``data``, else ``$WEBSHOP_DATA``, else ``shared/data/webshop`` beside the
    checkout. Raises naming every missing file."""
    if catalog not in CATALOGS:
        raise ValueError(f"unknown WebShop catalogue {catalog!r}; expected one of {', '.join(CATALOGS)}")
    if goals not in GOAL_MODES:
        raise ValueError(f"unknown WebShop goal set {goals!r}; expected one of {', '.join(GOAL_MODES)}")
    folder = Path(data or os.environ.get("WEBSHOP_DATA") or DATA_DIR).expanduser()
    needed = [*CATALOGS[catalog], *([HUMAN_INSTRUCTIONS] if goals == "human" else [])]
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"WebShop data missing: {', '.join(missing)} not in {folder}. Put WebShop's data files "
            f"({', '.join(needed)}; optional {REVIEWS}) in one folder — the files of WebShop's "
            f"`setup.sh -d {catalog}` — and pass WebShopEnv(data='<folder>') or set WEBSHOP_DATA, "
            f"or place them in {DATA_DIR}. See docs/webshop.md."
        )
    return folder


@functools.lru_cache(maxsize=2)
def load_shop(folder: Path, catalog: str, goals: GoalMode = "synthetic") -> Shop:
    """Read the catalogue once per process (spawned envs and forks share it); the human
    instructions are read only for ``goals="human"``."""
    products_file, attributes_file = CATALOGS[catalog]
    read = lambda name: json.loads((folder / name).read_text())  # noqa: E731
    reviews = read(REVIEWS) if (folder / REVIEWS).is_file() else []
    instructions = read(HUMAN_INSTRUCTIONS) if goals == "human" else None
    return Shop.from_records(read(products_file), read(attributes_file), instructions, reviews, goals=goals)


# ---- the env: pages as a small state machine -----------------------------------------------


@dataclass
class _Page:
    kind: str = "search"  # search | results | item | detail | done
    query: str = ""
    number: int = 1
    results: list[str] = field(default_factory=list)
    asin: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    detail: str = ""


class WebShopEnv(TextEnv):
    """WebShop's text site. Task id ``goal-<index>`` into the shuffled goal list: WebShop's
    synthetic goals (``goals="synthetic"``, the default, WebShop's ``human_goals=False``) or
    its human goals (``goals="human"``, needs ``items_human_ins.json``). A given ``shop``
    brings its own goals (``goals``, if given, must name the same set).

    Actions: ``search[<query>]`` on the search page, ``click[<button>]`` for a listed button
    (case-insensitive); anything else answers ``"Nothing happens."``. ``click[buy now]`` ends
    the episode with reward = score (0..1) and ``won`` iff the score is 1.
    """

    name = "webshop"

    def __init__(
        self, data: str | Path | None = None, catalog: str = "small", max_steps: int = 15,
        shop: Shop | None = None, goals: GoalMode | None = None,
    ) -> None:
        super().__init__(max_steps=max_steps)
        if shop is not None and goals not in (None, shop.goal_mode):
            raise ValueError(f"goals={goals!r}, but the given shop has {shop.goal_mode!r} goals")
        self.catalog = catalog
        self.goal_mode: GoalMode = shop.goal_mode if shop is not None else goals or "synthetic"
        self.data = None if shop is not None else find_webshop_data(data, catalog, self.goal_mode)
        self.shop = shop if shop is not None else load_shop(self.data, catalog, self.goal_mode)
        self._goal: Goal | None = None
        self._page = _Page()

    def spawn(self) -> WebShopEnv:
        return WebShopEnv(catalog=self.catalog, max_steps=self.max_steps, shop=self.shop)

    def tasks(self, split: str) -> list[Task]:
        if split not in SPLIT_RANGES:
            raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLIT_RANGES)}")
        start, stop = SPLIT_RANGES[split]
        indices = range(len(self.shop.goals))[start:stop]
        return [Task(self.name, f"goal-{i}", split, self.shop.goals[i].category) for i in indices]

    def _reset(self, task: Task) -> Observation:
        index = int(task.task_id.removeprefix("goal-")) if task.task_id.startswith("goal-") else -1
        if not 0 <= index < len(self.shop.goals):
            raise ValueError(f"no WebShop goal {task.task_id!r} (this shop has {len(self.shop.goals)})")
        self._goal = self.shop.goals[index]
        self._page = _Page()
        return self._observe()

    def _step(self, action: str) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        match = _ACTION.match(action)
        verb, argument = (match[1].lower(), " ".join(match[2].lower().split())) if match else ("", "")
        page = self._page
        if verb == "search" and page.kind == "search" and argument:
            self._page = _Page("results", argument, 1, self.shop.search(argument))
        elif verb == "click" and argument in self._buttons():
            if argument == BUY:
                product = self.shop.products[page.asin]
                score, parts = score_purchase(product, self._goal, page.options)
                self._page = _Page("done", detail=f"{score:.4f}")
                return self._observe(), score, True, score == 1.0, {"score": score, **parts}
            self._page = self._click(page, argument)
        else:
            return self._observe(UNKNOWN_ACTION_TEXT), 0.0, False, False, {}
        return self._observe(), 0.0, False, False, {}

    def _click(self, page: _Page, button: str) -> _Page:
        if button == BACK_TO_SEARCH:
            return _Page()
        if button == NEXT:
            return _Page("results", page.query, page.number + 1, page.results)
        if button == PREV:
            if page.kind == "results":
                return _Page("results", page.query, page.number - 1, page.results)
            if page.kind == "item":
                return _Page("results", page.query, page.number, page.results)
            return _Page("item", page.query, page.number, page.results, page.asin, page.options)
        if page.kind == "results":
            return _Page("item", page.query, page.number, page.results, button.upper(), {})
        if button in DETAILS:
            return _Page("detail", page.query, page.number, page.results, page.asin, page.options, button)
        option = next(n for n, values in self.shop.products[page.asin].options.items() if button in values)
        options = {**page.options, option: button}
        return _Page("item", page.query, page.number, page.results, page.asin, options)

    def _shown(self) -> list[str]:
        page = self._page
        return page.results[(page.number - 1) * PAGE_SIZE: page.number * PAGE_SIZE]

    def _buttons(self) -> list[str]:
        page = self._page
        if page.kind == "results":
            more = [PREV] * (page.number > 1) + [NEXT] * (page.number * PAGE_SIZE < len(page.results))
            return [BACK_TO_SEARCH, *more, *(asin.lower() for asin in self._shown())]
        if page.kind == "item":
            values = [v for values in self.shop.products[page.asin].options.values() for v in values]
            return [BACK_TO_SEARCH, PREV, *dict.fromkeys(values), *DETAILS, BUY]
        return [BACK_TO_SEARCH, PREV] if page.kind == "detail" else []

    def _observe(self, text: str | None = None) -> Observation:
        page, goal = self._page, self._goal
        actions = ["search[<query>]"] if page.kind == "search" else [f"click[{b}]" for b in self._buttons()]
        if text is None:
            text = " [SEP] ".join(self._render())
        return Observation(text, actions, goal.instruction, {"page": page.kind})

    def _render(self) -> list[str]:
        page = self._page
        head = ["Instruction:", self._goal.instruction]
        if page.kind == "search":
            return ["WebShop", *head, "Search"]
        if page.kind == "done":
            return ["Thank you for shopping with us!", f"Your score (min 0.0, max 1.0): {page.detail}"]
        if page.kind == "results":
            shown = [self.shop.products[asin] for asin in self._shown()]
            listing = [f"{p.asin} [SEP] {p.title} [SEP] {p.price_tag}" for p in shown]
            return [*head, "Back to Search", f"Page {page.number} (Total results: {len(page.results)})",
                    *(["< Prev"] * (page.number > 1)), *(["Next >"] * (NEXT in self._buttons())),
                    *listing]
        product = self.shop.products[page.asin]
        if page.kind == "detail":
            body = {"description": [product.description], "features": product.bullet_points,
                    "reviews": product.reviews or ["No reviews yet."]}[page.detail]
            return [*head, "Back to Search", "< Prev", *body]
        choices = [
            f"{name}: " + " | ".join(f"[{v}]" if page.options.get(name) == v else v for v in values)
            for name, values in product.options.items()
        ]
        return [*head, "Back to Search", "< Prev", *choices, product.title, f"Price: {product.price_tag}",
                f"Rating: {product.rating}", "Description", "Features", "Reviews", "Buy Now"]
