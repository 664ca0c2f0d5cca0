"""Household game semantics and wording, on hand-built rooms (expected strings are ALFWorld 0.4.2's,
taken from playing the real valid_seen games with textworld)."""

from __future__ import annotations

import random

import pytest

from sparkrl.envs.base import UNKNOWN_ACTION_TEXT
from sparkrl.envs.household import HouseholdEnv
from sparkrl.envs.household.env import solvable_rules
from sparkrl.envs.household.game import HELP_TEXT, Game, Rules, format_list, normalize_command
from sparkrl.envs.household.world import World

RECEPTACLES = ("cabinet 2", "cabinet 1", "countertop 2", "countertop 1", "fridge 1", "microwave 1",
               "sidetable 1", "sinkbasin 1")


def make_game(task_type="pick_heat_then_place_in_recep", goal="put a hot apple in countertop.",
              target="apple", goal_kind="countertop", objects=None) -> Game:
    placement = objects or {
        "apple 1": "fridge 1", "apple 2": "cabinet 1", "bread 1": "countertop 1",
        "desklamp 1": "sidetable 1", "houseplant 1": "countertop 1", "mug 1": "cabinet 2",
    }
    names = tuple(placement)
    world = World(
        task_id="hand-built", task_type=task_type, room="kitchen", goal=goal, target_type=target,
        goal_receptacle_type=goal_kind, receptacles=RECEPTACLES, objects=names,
        object_locations=tuple(RECEPTACLES.index(placement[name]) for name in names),
    )
    return Game(Rules(world))


def play(game: Game, script: list[tuple[str, str]]) -> None:
    for command, expected in script:
        assert game.step(command) == expected, command


def test_intro_lists_receptacles_like_alfworld():
    assert make_game().rules.intro == (
        "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room. Looking quickly "
        "around you, you see a cabinet 2, a cabinet 1, a countertop 2, a countertop 1, a fridge 1, "
        "a microwave 1, a sidetable 1, and a sinkbasin 1.\n\nYour task is to: put a hot apple in countertop."
    )


def test_list_wording():
    assert format_list([]) == "nothing"
    assert format_list(["apple 1"]) == "a apple 1"
    assert format_list(["apple 1", "egg 2"]) == "a apple 1, and a egg 2"
    assert format_list(["a 1", "b 1", "c 1"]) == "a a 1, a b 1, and a c 1"


def test_every_verb_with_alfworld_feedback():
    game = make_game()
    play(game, [
        ("look", "You are in the middle of a room. Looking quickly around you, you see nothing."),
        ("inventory", "You are not carrying anything."),
        ("help", HELP_TEXT),
        ("go to fridge 1", "You arrive at fridge 1. The fridge 1 is closed."),
        ("take apple 1 from fridge 1", UNKNOWN_ACTION_TEXT),
        ("open fridge 1", "You open the fridge 1. The fridge 1 is open. In it, you see a apple 1."),
        ("examine fridge 1", "The fridge 1 is open. In it, you see a apple 1."),
        ("examine apple 1", UNKNOWN_ACTION_TEXT),
        ("take apple 1 from fridge 1", "You pick up the apple 1 from the fridge 1."),
        ("examine apple 1", "There's nothing special about apple 1."),
        ("inventory", "You are carrying: a apple 1."),
        ("cool apple 1 with fridge 1", "You cool the apple 1 using the fridge 1."),
        ("examine apple 1", "This is a cold apple 1."),
        ("close fridge 1", "You close the fridge 1."),
        ("examine fridge 1", "The fridge 1 is closed."),
        ("go to sinkbasin 1", "You arrive at sinkbasin 1. On the sinkbasin 1, you see nothing."),
        ("clean apple 1 with sinkbasin 1", "You clean the apple 1 using the sinkbasin 1."),
        ("examine apple 1", "This is a cool and clean apple 1."),
        ("go to microwave 1", "You arrive at microwave 1. The microwave 1 is closed."),
        ("heat apple 1 with microwave 1", "You heat the apple 1 using the microwave 1."),
        ("examine apple 1", "This is a hot and clean apple 1."),
        ("look", "You are facing the microwave 1. Next to it, you see nothing."),
        ("go to sidetable 1", "You arrive at sidetable 1. On the sidetable 1, you see a desklamp 1."),
        ("use desklamp 1", "You turn on the desklamp 1."),
        ("use desklamp 1", "You turn on the desklamp 1."),
        ("go to countertop 1",
         "You arrive at countertop 1. On the countertop 1, you see a bread 1, and a houseplant 1."),
        ("move apple 1 to countertop 1", "You move the apple 1 to the countertop 1."),
    ])
    assert game.won


def test_inapplicable_and_unknown_commands_change_nothing():
    game = make_game()
    before = (game.location, game.held, list(game.object_locations), list(game.opened))
    for command in ("xyzzy", "", "   ", "go to", "go to moon 1", "open fridge 1", "take apple 1 from fridge 1",
                    "move apple 1 to countertop 1", "heat apple 1 with microwave 1", "use desklamp 1",
                    "examine fridge 1", "take the apple", "go to fridge 1 please", "slice apple 1 with knife 1"):
        assert game.step(command) == UNKNOWN_ACTION_TEXT, command
    assert (game.location, game.held, list(game.object_locations), list(game.opened)) == before
    play(game, [("go to countertop 1", "You arrive at countertop 1. On the countertop 1, you see a bread 1, "
                 "and a houseplant 1."),
                ("go to countertop 1", UNKNOWN_ACTION_TEXT),
                ("take houseplant 1 from countertop 1", UNKNOWN_ACTION_TEXT),
                ("take bread 1 from countertop 2", UNKNOWN_ACTION_TEXT),
                ("take bread 1 from countertop 1", "You pick up the bread 1 from the countertop 1."),
                ("take apple 2 from countertop 1", UNKNOWN_ACTION_TEXT),
                ("clean bread 1 with countertop 1", UNKNOWN_ACTION_TEXT)])


def test_appliances_only_treat_what_they_can():
    game = make_game()
    play(game, [("go to countertop 1",
                 "You arrive at countertop 1. On the countertop 1, you see a bread 1, and a houseplant 1."),
                ("take bread 1 from countertop 1", "You pick up the bread 1 from the countertop 1."),
                ("go to sinkbasin 1", "You arrive at sinkbasin 1. On the sinkbasin 1, you see nothing."),
                ("clean bread 1 with sinkbasin 1", UNKNOWN_ACTION_TEXT),
                ("go to microwave 1", "You arrive at microwave 1. The microwave 1 is closed."),
                ("cool bread 1 with microwave 1", UNKNOWN_ACTION_TEXT),
                ("heat bread 1 with microwave 1", "You heat the bread 1 using the microwave 1."),
                ("move bread 1 to microwave 1", UNKNOWN_ACTION_TEXT)])


@pytest.mark.parametrize("command", [
    "put apple 1 in countertop 1", "put apple 1 on countertop 1", "put apple 1 in/on countertop 1",
    "put apple 1 into countertop 1", "  MOVE   Apple 1 TO countertop 1. ", "Move apple 1 to countertop 1",
])
def test_put_synonyms_and_normalisation(command):
    game = make_game(task_type="pick_and_place_simple", goal="put a apple in countertop.")
    game.step("go to fridge 1")
    game.step("open fridge 1")
    game.step("take apple 1 from fridge 1")
    game.step("go to countertop 1")
    assert "move apple 1 to countertop 1" in game.admissible()
    assert not any(action.startswith("put ") for action in game.admissible())
    assert game.step(command) == "You move the apple 1 to the countertop 1."
    assert game.won


def test_normalize_command():
    assert normalize_command("  Go   TO  Cabinet 1 .") == "go to cabinet 1"
    assert normalize_command("look.") == "look"


def test_admissible_actions_are_alfworlds_and_sorted():
    game = make_game()
    start = game.admissible()
    assert start == sorted(start)
    assert start == sorted([f"go to {name}" for name in RECEPTACLES] + ["help", "inventory", "look"])
    game.step("go to fridge 1")
    assert "go to fridge 1" not in game.admissible()
    assert {"examine fridge 1", "open fridge 1"} <= set(game.admissible())
    game.step("open fridge 1")
    assert {"close fridge 1", "take apple 1 from fridge 1"} <= set(game.admissible())
    game.step("take apple 1 from fridge 1")
    held = set(game.admissible())
    assert {"examine apple 1", "cool apple 1 with fridge 1", "move apple 1 to fridge 1"} <= held
    assert not any(action.startswith("take ") for action in held)
    game.step("go to sidetable 1")
    assert "use desklamp 1" in game.admissible()


def test_every_admissible_action_does_something_and_nothing_else_does():
    """In random states of generated games, each admissible command gets real feedback; a few
    near-miss commands (wrong receptacle, object not here) answer Nothing happens."""
    rng = random.Random(3)
    env = HouseholdEnv()
    for task in env.tasks("train", limit=12) + env.tasks("L2", limit=6):
        game = Game(solvable_rules(task.task_id))
        for _ in range(25):
            admissible = game.admissible()
            for action in admissible:
                assert game.copy().step(action) != UNKNOWN_ACTION_TEXT, (task.task_id, action)
            for obj in game.rules.objects[:5]:
                for receptacle in game.rules.receptacles[:5]:
                    for action in (f"take {obj} from {receptacle}", f"move {obj} to {receptacle}"):
                        if action not in admissible:
                            assert game.copy().step(action) == UNKNOWN_ACTION_TEXT, (task.task_id, action)
            game.step(rng.choice(admissible))


def test_pick_two_needs_both_in_the_same_receptacle():
    game = make_game(task_type="pick_two_obj_and_place", goal="put two apple in countertop.")
    for source in ("fridge 1", "cabinet 1"):
        game.step(f"go to {source}")
        game.step(f"open {source}")
    play(game, [("take apple 2 from cabinet 1", "You pick up the apple 2 from the cabinet 1."),
                ("go to countertop 2", "You arrive at countertop 2. On the countertop 2, you see nothing."),
                ("move apple 2 to countertop 2", "You move the apple 2 to the countertop 2.")])
    game.step("go to fridge 1")
    game.step("take apple 1 from fridge 1")
    game.step("go to countertop 1")
    game.step("move apple 1 to countertop 1")
    assert not game.won
    game.step("take apple 1 from countertop 1")
    game.step("go to countertop 2")
    game.step("move apple 1 to countertop 2")
    assert game.won


def test_look_at_needs_the_object_in_hand_under_a_lit_lamp():
    game = make_game(task_type="look_at_obj_in_light", goal="look at mug under the desklamp.",
                     target="mug", goal_kind="desklamp",
                     objects={"mug 1": "sidetable 1", "desklamp 1": "sidetable 1", "apple 1": "countertop 1"})
    game.step("go to sidetable 1")
    game.step("use desklamp 1")
    assert not game.won
    game.step("take mug 1 from sidetable 1")
    assert game.won


def test_a_placed_but_untreated_object_does_not_win():
    game = make_game()
    game.step("go to fridge 1")
    game.step("open fridge 1")
    game.step("take apple 1 from fridge 1")
    game.step("go to countertop 1")
    game.step("move apple 1 to countertop 1")
    assert not game.won


def test_copy_is_independent():
    game = make_game()
    game.step("go to fridge 1")
    clone = game.copy()
    clone.step("open fridge 1")
    clone.step("take apple 1 from fridge 1")
    assert game.held == -1 and not game.opened[RECEPTACLES.index("fridge 1")]
    assert game.step("take apple 1 from fridge 1") == UNKNOWN_ACTION_TEXT
