"""Parity with real ALFWorld: rebuild a real game's room as a household game and play both side
by side, comparing every observation, admissible list and win flag.

Needs alfworld + textworld and the ALFWorld game archives (../shared/data/alfworld beside
the repository, see tests/shared_data.py); skipped otherwise. Slow: TextWorld compiles each game's PDDL.
The household game only models one receptacle per location and one receptacle per object, so the
comparison stops before the agent reaches a receptacle sharing its location, and games with an
object listed in two receptacles are not used.
"""

from __future__ import annotations

import json
import random
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from sparkrl.envs.household.game import Game, Rules
from sparkrl.envs.household.world import World, kind_of, listing_key

from tests.shared_data import ALFWORLD_ARCHIVES

pytestmark = pytest.mark.slow

DATA = ALFWORLD_ARCHIVES / "valid_seen.tar.gz"
GAMES = 3
RANDOM_STEPS = 40


def _games(tmp_path: Path) -> list[Path]:
    if not DATA.exists():
        pytest.skip(f"no ALFWorld archive at {DATA}")
    with tarfile.open(DATA) as archive:
        members = sorted(
            (m for m in archive.getmembers() if m.name.endswith("game.tw-pddl")), key=lambda m: m.name
        )
        chosen = [members[i * len(members) // GAMES] for i in range(GAMES)]
        paths = []
        for member in chosen:
            # member.name is json_2.1.1/<split>/<task dir>/<trial>/game.tw-pddl; keep the last three.
            path = tmp_path.joinpath(*Path(member.name).parts[-3:])
            path.parent.mkdir(parents=True)
            path.write_bytes(archive.extractfile(member).read())
            paths.append(path)
    return paths


def _names(proposition) -> list[str]:
    return [argument.name.strip() for argument in proposition.arguments]


def _household_rules(facts, intro: str, task_dir: str) -> tuple[Rules, set[str]] | None:
    """Rules for the real game's room and the receptacles sharing a location, or None if the
    household game cannot model the room."""
    by_predicate: dict[str, list[list[str]]] = {}
    for fact in facts:
        by_predicate.setdefault(fact.name, []).append(_names(fact))
    in_receptacle = by_predicate.get("inreceptacle", [])
    if len({obj for obj, _ in in_receptacle}) != len(in_receptacle):
        return None
    location = {r: loc for r, loc in by_predicate["receptacleatlocation"]}
    per_location = Counter(location.values())
    receptacles = sorted(location, key=listing_key)
    objects = sorted(obj for obj, _ in in_receptacle)
    where = dict(in_receptacle)
    typed = by_predicate["receptacletype"] + by_predicate["objecttype"]
    kind = {name: t.removesuffix("type") for name, t in typed}
    can_contain = {(r.removesuffix("type"), o.removesuffix("type")) for r, o in by_predicate["cancontain"]}
    task_type, target, _, goal_kind, _ = task_dir.split("-")
    world = World(
        task_id=task_dir, task_type=task_type, room="real", goal=intro.split("Your task is to: ")[1].strip(),
        target_type=target.lower(), goal_receptacle_type=goal_kind.lower(), receptacles=tuple(receptacles),
        objects=tuple(objects), object_locations=tuple(receptacles.index(where[o]) for o in objects),
    )
    rules = Rules(world)
    # The real game's own facts replace the catalog's type-level ones.
    pickupable = {obj for (obj,) in by_predicate["pickupable"]}
    openable = {r for (r,) in by_predicate.get("openable", [])}
    rules.pickupable = tuple(obj in pickupable for obj in objects)
    rules.openable = tuple(r in openable for r in receptacles)
    rules.can_hold = lambda r, o: (kind[receptacles[r]], kind[objects[o]]) in can_contain
    shared = {r for r, loc in location.items() if per_location[loc] > 1}
    assert all(kind_of(r) == kind[r] for r in receptacles)
    return rules, shared


def _compare(real, game: Game, shared: set[str], actions, label: str) -> int:
    """Play ``actions`` (a list, or a callable choosing from the real admissible list) in both
    games from their current states; return how many steps were compared."""
    state = real.reset()
    assert game.rules.intro == state.feedback.strip(), label
    for step in range(len(actions) if isinstance(actions, list) else RANDOM_STEPS):
        assert game.admissible() == sorted(state.admissible_commands), (label, step)
        action = actions[step] if isinstance(actions, list) else actions(state.admissible_commands)
        if action.removeprefix("go to ") in shared:
            return step
        state, _, _ = real.step(action)
        assert game.step(action) == state.feedback.strip(), (label, step, action)
        assert game.won == bool(state.won), (label, step, action)
    return step + 1


def test_household_plays_exactly_like_alfworld(tmp_path):
    pytest.importorskip("alfworld")
    textworld = pytest.importorskip("textworld")
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler

    rng = random.Random(0)
    compared = 0
    for path in _games(tmp_path):
        infos = textworld.EnvInfos(won=True, admissible_commands=True, facts=True)
        real = textworld.start(str(path), request_infos=infos, wrappers=[AlfredDemangler()])
        state = real.reset()
        built = _household_rules(state.facts, state.feedback, path.parent.parent.name)
        if built is None:
            continue
        rules, shared = built
        walkthrough = json.loads(path.read_text())["walkthrough"]
        compared += _compare(real, Game(rules), shared, walkthrough, f"{path} walkthrough")

        def random_action(admissible: list[str]) -> str:
            options = [a for a in admissible if a.removeprefix("go to ") not in shared]
            return rng.choice(options + ["look", "inventory", "examine " + rules.receptacles[0], "dance"])

        compared += _compare(real, Game(rules), shared, random_action, f"{path} random")
        real.close()
    assert compared >= 40
