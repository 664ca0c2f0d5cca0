"""WebShop's goals: the instruction an episode starts from, and what its purchase is scored on.

Two goal sets, as in WebShop (``web_agent_site/engine/goal.py``, picked by ``human_goals``):

- ``"synthetic"`` (WebShop's ``human_goals=False``, this package's default): for every
  product whose entry in the attribute file (``items_ins_v2*.json``) has an ``instruction``,
  one goal per combination of the product's option values (``get_synthetic_goals``);
- ``"human"``: one goal per crowd-written instruction in ``items_human_ins.json`` that names
  at least one attribute (``get_human_goals``).

Either list is then shuffled with seed 233, as WebShop's ``SimServer`` does, so a goal index
means the same product and options as in WebShop. WebShop draws prices and price bounds from
the unseeded global RNG; here they come from the ``rng`` passed in, so they are reproducible.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from sparkrl.envs.webshop import Product

GoalMode = Literal["synthetic", "human"]
GOAL_MODES: tuple[str, ...] = get_args(GoalMode)
"""``WebShopEnv(goals=...)``: WebShop's synthetic goals (the default) or its human goals."""
GOAL_SHUFFLE_SEED = 233
"""WebShop's ``random.seed(233); random.shuffle(goals)`` after making either goal list."""
PRICE_STEPS = [10.0 * i for i in range(1, 100)]
"""WebShop's ``PRICE_RANGE``: the candidate price bounds, $10 to $990."""
NO_PRICE_BOUND = 1_000_000.0


@dataclass(frozen=True)
class Goal:
    """One WebShop goal. ``options`` are the wanted option values (for a synthetic goal, one
    per option of the product, in sorted option-name order); ``name`` is the product's title."""

    asin: str
    instruction: str
    attributes: tuple[str, ...]
    options: tuple[str, ...]
    price_upper: float
    query: str
    category: str
    product_category: str
    name: str


def price_bound(price: float, rng: random.Random) -> tuple[float, str]:
    """WebShop's price bound for a product costing ``price``: the larger of two distinct draws
    from the (up to) four ``PRICE_STEPS`` above the price, and the instruction suffix that
    states it; no bound and no suffix when fewer than two steps lie above the price."""
    steps = [p for p in PRICE_STEPS if p > price][:4]
    if len(steps) < 2:
        return NO_PRICE_BOUND, ""
    upper = sorted(rng.sample(steps, 2))[1]
    return upper, f", and price lower than {upper:.2f} dollars"


def _goal(product: Product, instruction: str, attributes: list[str], options: tuple[str, ...],
          upper: float) -> Goal:
    return Goal(
        asin=product.asin, instruction=instruction, attributes=tuple(attributes), options=options,
        price_upper=upper, query=product.query, category=product.category,
        product_category=product.product_category, name=product.title,
    )


def shuffle_goals(goals: list[Goal]) -> list[Goal]:
    """``goals`` in WebShop's order: shuffled in place with seed 233 (a fixed permutation of
    the list's length, whatever it holds), and returned."""
    random.Random(GOAL_SHUFFLE_SEED).shuffle(goals)
    return goals


def human_goals(
    products: list[Product], instructions: dict[str, list[dict[str, Any]]], rng: random.Random
) -> list[Goal]:
    """WebShop's human goals in its order: one per instruction with attributes, each with its
    own price bound drawn from ``rng`` (the instruction loses its full stops at either end),
    then shuffled with seed 233."""
    goals = []
    for product in products:
        for instruction in instructions.get(product.asin, []):
            if not instruction["instruction_attributes"]:
                continue
            upper, price_text = price_bound(product.price, rng)
            options = instruction["instruction_options"]
            values = tuple(options.values() if isinstance(options, dict) else options)
            text = instruction["instruction"].strip(".") + price_text
            goals.append(_goal(product, text, instruction["instruction_attributes"], values, upper))
    return shuffle_goals(goals)


def synthetic_goals(
    products: list[Product], attributes: dict[str, Any], rng: random.Random
) -> list[Goal]:
    """WebShop's synthetic goals in its order, from the attribute file's ``instruction`` and
    ``instruction_attributes`` entries (products without an instruction make none).

    A product makes one goal per combination of its option values, options taken in sorted
    name order (an option-less product makes one goal, an option with no values none); all
    its goals share one price bound drawn from ``rng``. The text is ``"{instruction} with
    {name}: {value}, and {name}: {value}{price suffix}"`` (no ``with`` part without options).
    The list is then shuffled with seed 233.
    """
    goals = []
    for product in products:
        entry = attributes.get(product.asin) or {}
        instruction = entry.get("instruction")
        if instruction is None:
            continue
        wanted = entry.get("instruction_attributes") or []
        if not wanted:  # WebShop asserts this
            raise ValueError(f"WebShop product {product.asin}: an instruction without instruction_attributes")
        upper, price_text = price_bound(product.price, rng)
        names = sorted(product.options)
        for values in itertools.product(*(product.options[name] for name in names)):
            chosen = ", and ".join(f"{name}: {value}" for name, value in zip(names, values))
            text = f"{instruction}{' with ' + chosen if chosen else ''}{price_text}"
            goals.append(_goal(product, text, wanted, values, upper))
    return shuffle_goals(goals)


def make_goals(
    products: list[Product], mode: GoalMode, attributes: dict[str, Any],
    instructions: dict[str, list[dict[str, Any]]] | None, rng: random.Random,
) -> list[Goal]:
    """The goal list of ``mode``; ``instructions`` (``items_human_ins.json``) only for ``"human"``."""
    if mode == "synthetic":
        return synthetic_goals(products, attributes, rng)
    if mode == "human":
        if instructions is None:
            raise ValueError("human WebShop goals need the human instructions (items_human_ins.json)")
        return human_goals(products, instructions, rng)
    raise ValueError(f"unknown WebShop goal set {mode!r}; expected one of {', '.join(GOAL_MODES)}")
