"""WebShop's pages as text: the compact layout (the default) and WebShop's own text mode.

``"full"`` is WebShop's text observation: every page part joined with ``" [SEP] "``, the
instruction on every page, whole titles, every option value and whole detail texts. A sample
of it (prompt with a history window of five such pages, and a response) is far past the 2,048
tokens the tiny model trains on: its tokenizer spends about ten tokens on an ASIN and eighty on
a median title.

``"compact"`` shows what a step needs in far fewer tokens:

- the instruction only in the goal (``Observation.goal``), not again on every page;
- results: one line per product, ``<asin> <price> <title cut to TITLE_CHARS characters>``
  in lower case (the ASIN exactly as its ``click[...]`` action spells it; the price in whole
  dollars, see ``dollars``), after a ``Page n of m:`` header;
- item: ``Item <asin>: <title cut to ITEM_TITLE_CHARS>``, the price tag, then one line per option with its
  number of values and the chosen one in brackets (``color: [navy] of 10 choices``); the
  values themselves are the admissible ``click[...]`` actions, in option order, so the
  page does not list them twice (an item page is in the history once per option clicked).
  The rating is left out while it is ``N.A.`` (all of the 1k catalogue);
- description / features / reviews: the text cut to ``DETAIL_WORDS`` words.

Both layouts show the same buttons (the env's admissible actions do not depend on the layout).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sparkrl.envs.webshop import Product

BUY, BACK_TO_SEARCH, PREV, NEXT = "buy now", "back to search", "< prev", "next >"
DETAILS = ("description", "features", "reviews")
PAGE_SIZE = 10
"""Products per results page, as on WebShop."""
PAGE_STYLES: tuple[str, ...] = ("compact", "full")
"""``WebShopEnv(pages=...)``: the compact layout (default) or WebShop's full text mode."""
TITLE_CHARS = 24
"""A result's title is cut at the last word boundary within this many characters."""
ITEM_TITLE_CHARS = 48
DETAIL_WORDS = 40
LINE = "\n"
"""Compact page parts are one per line (one token on the tiny tokenizer; ``" [SEP] "`` is seven)."""


@dataclass
class Page:
    """Where the agent is: the page kind and what it shows."""

    kind: str = "search"  # search | results | item | detail | done
    query: str = ""
    number: int = 1
    results: list[str] = field(default_factory=list)
    asin: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    detail: str = ""


def clip(text: str, chars: int) -> str:
    """``text`` with whitespace collapsed, cut at the last word boundary within ``chars``."""
    text = " ".join(text.split())
    if len(text) <= chars:
        return text
    cut = text[: chars + 1].rsplit(" ", 1)[0]
    return cut if cut and len(cut) <= chars else text[:chars]


def clip_words(text: str, words: int) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")


def dollars(product: Product) -> str:
    """The price tag in whole dollars, rounded down: ``$9-30`` for ``$9.38 to $30.32``. A goal's
    price bound is a whole number of dollars, so the rounded price is below it exactly when
    the price is (every digit costs a token on the tiny tokenizer)."""
    try:
        return "$" + "-".join(str(math.floor(float(p.strip()[1:]))) for p in product.price_tag.split(" to "))
    except ValueError:
        return product.price_tag


def detail_lines(product: Product, detail: str) -> list[str]:
    return {"description": [product.description], "features": product.bullet_points,
            "reviews": product.reviews or ["No reviews yet."]}[detail]


def render_full(page: Page, products: dict[str, Product], instruction: str, shown: list[str],
                has_prev: bool, has_next: bool) -> str:
    """WebShop's text mode: page parts joined with ``" [SEP] "``, the instruction on every page."""
    head = ["Instruction:", instruction]
    if page.kind == "search":
        parts = ["WebShop", *head, "Search"]
    elif page.kind == "done":
        parts = ["Thank you for shopping with us!", f"Your score (min 0.0, max 1.0): {page.detail}"]
    elif page.kind == "results":
        listing = [f"{p.asin} [SEP] {p.title} [SEP] {p.price_tag}" for p in (products[a] for a in shown)]
        parts = [*head, "Back to Search", f"Page {page.number} (Total results: {len(page.results)})",
                 *(["< Prev"] * has_prev), *(["Next >"] * has_next), *listing]
    else:
        product = products[page.asin]
        if page.kind == "detail":
            parts = [*head, "Back to Search", "< Prev", *detail_lines(product, page.detail)]
        else:
            choices = [
                f"{name}: " + " | ".join(f"[{v}]" if page.options.get(name) == v else v for v in values)
                for name, values in product.options.items()
            ]
            parts = [*head, "Back to Search", "< Prev", *choices, product.title, f"Price: {product.price_tag}",
                     f"Rating: {product.rating}", "Description", "Features", "Reviews", "Buy Now"]
    return " [SEP] ".join(parts)


def _option_line(name: str, values: list[str], chosen: str | None) -> str:
    count = f"{len(values)} choice{'s' * (len(values) != 1)}"
    return f"{name}: [{' '.join(chosen.split())}] of {count}" if chosen is not None else f"{name}: {count}"


def render_compact(page: Page, products: dict[str, Product], shown: list[str], page_count: int) -> str:
    """The compact layout (module docstring); the instruction is left to ``Observation.goal``."""
    if page.kind == "search":
        lines = ["WebShop search page."]
    elif page.kind == "done":
        lines = [f"Thank you for shopping with us! Your score (min 0.0, max 1.0): {page.detail}"]
    elif page.kind == "results":
        lines = [f"Page {page.number} of {page_count}:" if shown else "No products match the search."]
        for product in (products[a] for a in shown):
            lines.append(f"{product.asin.lower()} {dollars(product)} {clip(product.title, TITLE_CHARS).lower()}")
    else:
        product = products[page.asin]
        if page.kind == "detail":
            text = "; ".join(" ".join(line.split()) for line in detail_lines(product, page.detail))
            lines = [f"{page.detail.capitalize()} of {product.asin.lower()}: {clip_words(text, DETAIL_WORDS)}"]
        else:
            lines = [f"Item {product.asin.lower()}: {clip(product.title, ITEM_TITLE_CHARS).lower()}",
                     f"Price: {product.price_tag}" + (f", rating: {product.rating}" if product.rating != "N.A." else "")]
            lines += [_option_line(n, v, page.options.get(n)) for n, v in product.options.items()]
    return LINE.join(lines)
