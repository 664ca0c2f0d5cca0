"""The WebShop expert: the gold path to the goal's product, with the goal's options.

It plays what a WebShop demonstration does: search with the instruction, click the product in
the results (``next >`` to the next page when it is not on this one), click each option value
the instruction names, ``buy now``. It reads the page kind from the admissible actions, the
option values from the item page's buttons, the query and the wanted values from the goal
instruction, and it uses **two pieces of hidden information**, which ``WebShopEnv.expert()``
gives it:

- the target product's ASIN, to tell which listed product to open. Nothing the agent sees
  picks it out reliably: a synthetic goal's score needs the product's type to match, judged
  on its Amazon search ``query`` (which no page shows) or its category or title words, so a
  look-alike with the same options and price often scores below 1. The best rule found that
  uses no hidden information (``target=None`` here: open the listed products in order and buy
  the first whose price and options fit the instruction) wins 83.4% of the 500 test goals
  within the 15-step horizon and 90.6% given 200 steps (docs/webshop.md), short of 95%; and
  ``sparkrl check-env`` needs the expert to win every game;
- the product's title (cut to ``TITLE_QUERY_CHARS``), searched when the target is not on the
  first ``MAX_PAGES`` result pages of the instruction's search (458 of the 6,910 synthetic
  goals, 6.6%; the cut title puts the product first for every one of them).

``is_search`` marks the steps that look for the product: the searches, ``next >``, ``back to
search`` (and, without a target, opening a listed product to check it and going back); opening
the target once it is listed, the option clicks and ``buy now`` are not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sparkrl.envs.base import ExpertStep, Observation
from sparkrl.envs.webshop_pages import BACK_TO_SEARCH, BUY, DETAILS, NEXT, PREV, clip

SEARCH_ACTION = "search[<query>]"
FIXED_BUTTONS = frozenset({BUY, BACK_TO_SEARCH, PREV, NEXT, *DETAILS})
MAX_PAGES = 2
"""Result pages the expert looks through before it searches the title (a search lists 50
products, 10 a page). With two, the history window of five past observations holds at most
three result pages, which keeps a step sample within 2,048 tokens on the tiny tokenizer."""
TITLE_QUERY_CHARS = 60
"""The fallback search is the title cut to this many characters (enough to put the product first)."""
HONEST_MAX_PAGES = 5
"""Without a target, the expert checks products on up to this many result pages (all 50)."""
_PRICE_CLAUSE = re.compile(r",? and price lower than ([\d.]+) dollars\s*$", re.IGNORECASE)
_NAMED_OPTION = re.compile(r"(?:^| with |, and )([a-z][a-z ]*): ")
_ITEM_PRICE = re.compile(r"Price: \$([\d.]+)")


def normalize(text: str) -> str:
    """Lower case, whitespace (non-breaking spaces too) collapsed: how the env compares buttons."""
    return " ".join(text.lower().split())


def search_query(instruction: str) -> str:
    """The instruction without its price clause (BM25 cannot use a price; the rest is the query)."""
    text = " ".join(instruction.split())
    return _PRICE_CLAUSE.sub("", text) or text


def price_bound(instruction: str) -> float:
    """The instruction's ``price lower than P dollars``; infinity without one."""
    match = _PRICE_CLAUSE.search(" ".join(instruction.split()))
    return float(match[1]) if match else float("inf")


def clicks(actions: Sequence[str]) -> list[str]:
    """The button names of the ``click[...]`` actions."""
    return [a[6:-1] for a in actions if a.startswith("click[") and a.endswith("]")]


def wanted_options(instruction: str, values: Sequence[str]) -> list[str]:
    """The option values (of ``values``, the item page's buttons) that ``instruction`` asks for.

    A synthetic goal names each option as ``"<name>: <value>"`` (``", and "`` between them); a
    value is wanted when it appears that way. A human goal has no such list; then a value is
    wanted when its words appear in the instruction, and a value contained in another wanted
    one is dropped (``large`` inside ``x-large``).
    """
    text = normalize(search_query(instruction))
    named = [v for v in values if re.search(rf": {re.escape(v)}(?:, and |$)", text)]
    if named:
        return named
    loose = [v for v in values if re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", text)]
    return [v for v in loose if not any(v != other and v in other for other in loose)]


def named_option_count(instruction: str) -> int:
    """How many ``"<name>: <value>"`` options a synthetic instruction names."""
    return len(_NAMED_OPTION.findall(normalize(search_query(instruction))))


class WebShopExpert:
    """A stateful expert for one episode; feed it every observation, starting with the reset's.

    ``target`` is the goal product's ASIN and ``title`` its name (the hidden information the
    module docstring names); ``instruction`` is the goal text the agent sees. With ``target``
    ``None`` it uses no hidden information: it opens the listed products in order and buys
    the first whose price and options fit the instruction (the baseline docs/webshop.md
    measures).
    """

    def __init__(
        self, instruction: str, target: str | None = None, title: str = "", max_pages: int | None = None,
    ) -> None:
        self.instruction = instruction
        self.target = target.lower() if target else None
        self.title = title
        default = MAX_PAGES if self.target else HONEST_MAX_PAGES
        self.max_pages = default if max_pages is None else max_pages
        self.searches = 0
        self.page = 0
        self.chosen: set[str] = set()
        self.checked: set[str] = set()
        self.opened: str | None = None
        self.settle = False
        """Without a target, every listed product was checked and none fit: buy the first."""

    def act(self, observation: Observation) -> ExpertStep:
        """The next action for the page ``observation`` shows."""
        actions = observation.admissible_actions
        if SEARCH_ACTION in actions:
            self.searches += 1
            self.page = 1
            first = self.searches == 1 or not self.title
            query = search_query(self.instruction) if first else clip(self.title, TITLE_QUERY_CHARS)
            return ExpertStep(f"search[{query}]", True)
        buttons = clicks(actions)
        if BUY in buttons:
            return self._item(buttons, observation.text)
        return self._results(buttons) if self.target else self._browse(buttons)

    def _results(self, buttons: list[str]) -> ExpertStep:
        if self.target in buttons:
            self.chosen.clear()
            return ExpertStep(f"click[{self.target}]", False)
        if NEXT in buttons and self.page < self.max_pages:
            self.page += 1
            return ExpertStep(f"click[{NEXT}]", True)
        if BACK_TO_SEARCH in buttons:
            return ExpertStep(f"click[{BACK_TO_SEARCH}]", True)
        return ExpertStep(f"click[{PREV}]", True)

    def _browse(self, buttons: list[str]) -> ExpertStep:
        """Results without a target: open the next unchecked product, else the next page; when
        every product it may look at was checked and none fit, buy the first one listed here."""
        listed = [b for b in buttons if b not in FIXED_BUTTONS]
        unchecked = [b for b in listed if b not in self.checked]
        if unchecked and not self.settle:
            self.opened = unchecked[0]
            self.chosen.clear()
            return ExpertStep(f"click[{unchecked[0]}]", True)
        if NEXT in buttons and self.page < self.max_pages and not self.settle:
            self.page += 1
            return ExpertStep(f"click[{NEXT}]", True)
        if not listed:
            return ExpertStep(f"click[{BACK_TO_SEARCH}]", True)
        self.settle = True
        self.opened = listed[0]
        self.chosen.clear()
        return ExpertStep(f"click[{listed[0]}]", False)

    def _fits(self, values: list[str], wanted: list[str], text: str) -> bool:
        price = _ITEM_PRICE.search(text)
        cheap = price is None or float(price[1]) < price_bound(self.instruction)
        named = named_option_count(self.instruction)
        return cheap and len(wanted) == named and (named > 0 or not values)

    def _item(self, buttons: list[str], text: str) -> ExpertStep:
        values = [b for b in buttons if b not in FIXED_BUTTONS]
        wanted = wanted_options(self.instruction, values)
        if self.target is None and not self.settle and self.opened not in self.checked:
            self.checked.add(self.opened)
            if not self._fits(values, wanted, text):
                return ExpertStep(f"click[{PREV}]", True)
        for value in wanted:
            if value not in self.chosen:
                self.chosen.add(value)
                return ExpertStep(f"click[{value}]", False)
        return ExpertStep(f"click[{BUY}]", False)
