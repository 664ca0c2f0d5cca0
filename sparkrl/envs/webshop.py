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
from sparkrl.envs.webshop_expert import WebShopExpert, normalize
from sparkrl.envs.webshop_goals import GOAL_MODES, GOAL_SHUFFLE_SEED, Goal, GoalMode, make_goals
from sparkrl.envs.webshop_pages import (
    BACK_TO_SEARCH, BUY, DETAILS, NEXT, PAGE_SIZE, PAGE_STYLES, PREV, Page, render_compact, render_full,
)

CATALOGS = {
    "small": ("items_shuffle_1000.json", "items_ins_v2_1000.json"),
    "all": ("items_shuffle.json", "items_ins_v2.json"),
}
"""catalogue -> (product file, attribute file); WebShop's ``setup.sh -d small|all``."""
HUMAN_INSTRUCTIONS = "items_human_ins.json"
"""Needed only for ``goals="human"``."""
REVIEWS = "reviews.json"
"""Optional: product reviews shown on the Reviews page."""
DOCUMENTS = {"small": "documents_1k.jsonl", "all": "documents.jsonl"}
"""Optional: WebShop's search-index input (``{"id": asin, "contents": text}`` per line); when it
is there the BM25 index is built over exactly its ``contents``."""
DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "webshop"
"""Where a checkout's neighbouring ``shared/data/webshop`` would be."""

SPLIT_RANGES = {"L0": (0, 500), "L1": (500, 1500), "train": (1500, None), "L2": (0, 0)}
"""Goal-index ranges over the shuffled goal list, WebShop's ``baseline_models/env.py`` splits:
test ``range(500)``, eval ``range(500, 1500)``, train ``range(1500, len(goals))``; no held-out
task types. (Upstream uses them with the full catalogue and lets every split use all goals
when a product limit such as 1,000 is set; here they hold for either catalogue.)"""
SEARCH_RESULTS = 50
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


def index_text(product: Product) -> str:
    """WebShop's search-index text of a product (its ``convert_product_file_format.py``): title,
    description, first bullet point and options, lower-cased."""
    options = ", and ".join(f"{k}: {', '.join(v)}" for k, v in product.options.items())
    first_bullet = product.bullet_points[0] if product.bullet_points else ""
    return " ".join([product.title, product.description, first_bullet, options]).lower()


def read_documents(path: Path) -> dict[str, str]:
    """ASIN -> ``contents`` of a WebShop ``documents*.jsonl`` search-index input."""
    with path.open(encoding="utf-8") as stream:
        return {doc["id"]: doc["contents"] for doc in map(json.loads, stream) if doc.get("id")}


class Shop:
    """Products, goals and a BM25 index (Lucene's variant, Anserini's k1=0.9, b=0.4).

    The index is over exactly WebShop's index input when it is given (``contents``: ASIN ->
    text, read from ``documents_1k.jsonl``), else over ``index_text`` of each product (title,
    description, first bullet point and options, as WebShop builds that input; on the 1k
    catalogue the two are identical). ``index_source`` says which: ``"contents"`` (every
    product's text from the file), ``"fields"`` (none) or ``"mixed"``."""

    def __init__(
        self, products: list[Product], goals: list[Goal], goal_mode: GoalMode = "synthetic",
        contents: dict[str, str] | None = None,
    ) -> None:
        bm25s = _require("bm25s")
        self.products = {p.asin: p for p in products}
        self.goals = goals
        self.goal_mode = goal_mode
        self._asins = [p.asin for p in products]
        self._tokenizer = bm25s.tokenization.Tokenizer(stopwords="en", stemmer=None)
        contents = contents or {}
        documents = [contents[p.asin] if p.asin in contents else index_text(p) for p in products]
        from_file = sum(p.asin in contents for p in products)
        self.index_source = "fields" if not from_file else "contents" if from_file == len(products) else "mixed"
        self._index = bm25s.BM25(method="lucene", k1=0.9, b=0.4)
        tokens = self._tokenizer.tokenize(documents, return_as="ids", show_progress=False)
        self._index.index(tokens, show_progress=False)

    @classmethod
    def from_records(
        cls, records: list[dict[str, Any]], attributes: dict[str, Any],
        instructions: dict[str, list[dict[str, Any]]] | None = None, reviews: list[dict[str, Any]] = (),
        *, goals: GoalMode = "synthetic", contents: dict[str, str] | None = None,
    ) -> Shop:
        """A shop from records in WebShop's file formats, with WebShop's synthetic goals (from
        ``attributes``) or, for ``goals="human"``, its human goals (from ``instructions``);
        ``contents`` (ASIN -> index text) replaces the rebuilt search text where given.
        Prices and price bounds are drawn from one seeded RNG, so the shop is deterministic."""
        rng = random.Random(GOAL_SHUFFLE_SEED)
        products = parse_products(records, attributes, list(reviews), rng)
        return cls(products, make_goals(products, goals, attributes, instructions, rng), goals, contents)

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
    instructions are read only for ``goals="human"``, the search-index input (``DOCUMENTS``)
    when it is there."""
    products_file, attributes_file = CATALOGS[catalog]
    read = lambda name: json.loads((folder / name).read_text())  # noqa: E731
    reviews = read(REVIEWS) if (folder / REVIEWS).is_file() else []
    instructions = read(HUMAN_INSTRUCTIONS) if goals == "human" else None
    documents = folder / DOCUMENTS[catalog]
    contents = read_documents(documents) if documents.is_file() else None
    return Shop.from_records(
        read(products_file), read(attributes_file), instructions, reviews, goals=goals, contents=contents
    )


# ---- the env: pages as a small state machine -----------------------------------------------


class WebShopEnv(TextEnv):
    """WebShop's text site. Task id ``goal-<index>`` into the shuffled goal list: WebShop's
    synthetic goals (``goals="synthetic"``, the default, WebShop's ``human_goals=False``) or
    its human goals (``goals="human"``, needs ``items_human_ins.json``). A given ``shop``
    brings its own goals (``goals``, if given, must name the same set).

    Actions: ``search[<query>]`` on the search page, ``click[<button>]`` for a listed button
    (case and whitespace insensitive); anything else answers ``"Nothing happens."``.
    ``click[buy now]`` ends the episode with reward = score (0..1) and ``won`` iff the score
    is 1. ``pages`` picks the text layout (``sparkrl.envs.webshop_pages``): ``"compact"`` (the
    default, sized for the tiny model's 2,048-token samples) or ``"full"`` (WebShop's text
    mode). ``expert()`` plays the gold path (``sparkrl.envs.webshop_expert``).
    """

    name = "webshop"

    def __init__(
        self, data: str | Path | None = None, catalog: str = "small", max_steps: int = 15,
        shop: Shop | None = None, goals: GoalMode | None = None, pages: str = "compact",
    ) -> None:
        super().__init__(max_steps=max_steps)
        if shop is not None and goals not in (None, shop.goal_mode):
            raise ValueError(f"goals={goals!r}, but the given shop has {shop.goal_mode!r} goals")
        if pages not in PAGE_STYLES:
            raise ValueError(f"unknown WebShop page style {pages!r}; expected one of {', '.join(PAGE_STYLES)}")
        self.pages = pages
        self.catalog = catalog
        self.goal_mode: GoalMode = shop.goal_mode if shop is not None else goals or "synthetic"
        self.data = None if shop is not None else find_webshop_data(data, catalog, self.goal_mode)
        self.shop = shop if shop is not None else load_shop(self.data, catalog, self.goal_mode)
        self._goal: Goal | None = None
        self._page = Page()

    def spawn(self) -> WebShopEnv:
        return WebShopEnv(catalog=self.catalog, max_steps=self.max_steps, shop=self.shop, pages=self.pages)

    def expert(self) -> WebShopExpert:
        """The gold-path expert for the current goal (``sparkrl.envs.webshop_expert``): it reads
        the pages and the instruction, and is told the target's ASIN and title."""
        if self._goal is None:
            raise RuntimeError("expert() called before reset()")
        return WebShopExpert(self._goal.instruction, self._goal.asin, self._goal.name)

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
        self._page = Page()
        return self._observe()

    def _step(self, action: str) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        match = _ACTION.match(action)
        verb, argument = (match[1].lower(), " ".join(match[2].lower().split())) if match else ("", "")
        page = self._page
        if verb == "search" and page.kind == "search" and argument:
            self._page = Page("results", argument, 1, self.shop.search(argument))
        elif verb == "click" and argument in self._buttons():
            if argument == BUY:
                product = self.shop.products[page.asin]
                score, parts = score_purchase(product, self._goal, page.options)
                self._page = Page("done", detail=f"{score:.4f}")
                return self._observe(), score, True, score == 1.0, {"score": score, **parts}
            self._page = self._click(page, argument)
        else:
            return self._observe(UNKNOWN_ACTION_TEXT), 0.0, False, False, {}
        return self._observe(), 0.0, False, False, {}

    def _click(self, page: Page, button: str) -> Page:
        if button == BACK_TO_SEARCH:
            return Page()
        if button == NEXT:
            return Page("results", page.query, page.number + 1, page.results)
        if button == PREV:
            if page.kind == "results":
                return Page("results", page.query, page.number - 1, page.results)
            if page.kind == "item":
                return Page("results", page.query, page.number, page.results)
            return Page("item", page.query, page.number, page.results, page.asin, page.options)
        if page.kind == "results":
            asin = next(a for a in self._shown() if a.lower() == button)
            return Page("item", page.query, page.number, page.results, asin, {})
        if button in DETAILS:
            return Page("detail", page.query, page.number, page.results, page.asin, page.options, button)
        option, value = next(
            (name, value) for name, values in self.shop.products[page.asin].options.items()
            for value in values if normalize(value) == button
        )
        options = {**page.options, option: value}
        return Page("item", page.query, page.number, page.results, page.asin, options)

    def _shown(self) -> list[str]:
        page = self._page
        return page.results[(page.number - 1) * PAGE_SIZE: page.number * PAGE_SIZE]

    def _page_count(self) -> int:
        return max(1, -(-len(self._page.results) // PAGE_SIZE))

    def _buttons(self) -> list[str]:
        """The page's buttons as their ``click[...]`` names: lower case, whitespace collapsed
        (an option value with a non-breaking space is clicked with a plain one)."""
        page = self._page
        if page.kind == "results":
            more = [PREV] * (page.number > 1) + [NEXT] * (page.number < self._page_count())
            return [BACK_TO_SEARCH, *more, *(asin.lower() for asin in self._shown())]
        if page.kind == "item":
            values = [normalize(v) for values in self.shop.products[page.asin].options.values() for v in values]
            return [BACK_TO_SEARCH, PREV, *dict.fromkeys(values), *DETAILS, BUY]
        return [BACK_TO_SEARCH, PREV] if page.kind == "detail" else []

    def _observe(self, text: str | None = None) -> Observation:
        page, goal = self._page, self._goal
        actions = ["search[<query>]"] if page.kind == "search" else [f"click[{b}]" for b in self._buttons()]
        if text is None:
            text = self._render()
        return Observation(text, actions, goal.instruction, {"page": page.kind})

    def _render(self) -> str:
        page, products = self._page, self.shop.products
        if self.pages == "compact":
            return render_compact(page, products, self._shown(), self._page_count())
        has_next = page.kind == "results" and page.number < self._page_count()
        return render_full(page, products, self._goal.instruction, self._shown(), page.number > 1, has_next)


def full_webshop(**kwargs: Any) -> WebShopEnv:
    """``WebShopEnv(pages="full")``, WebShop's own text mode (for models with a large context):
    ``--env sparkrl.envs.webshop:full_webshop`` wherever an env name is taken."""
    return WebShopEnv(pages="full", **kwargs)
