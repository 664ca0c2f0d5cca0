"""Where the ALFWorld game files live, how to unpack them, and which games form each split.

Layout (the official ALFWorld release): ``<root>/<split dir>/<task dir>/<trial>/game.tw-pddl``
with split dirs ``train``, ``valid_seen``, ``valid_unseen``; the task dir starts with the task
type (``pick_cool_then_place_in_recep-Bread-None-CounterTop-10``). A task id is the game's
path relative to the root without the file name, so it alone determines the game.

Splits (spark-method.md section 6; one model is trained and every split is evaluated on it):

- ``train``: train-dir games of the four *seen* types (pick, examine-in-light, clean, heat);
- ``L0``: valid_seen games of the seen types (seen types and scenes);
- ``L1``: valid_unseen games of the seen types (seen types, unseen scenes);
- ``L2``: valid_unseen games of the two *held-out* types, cool and pick-two — the paper's 38
  games. The 49 valid_seen games of those types are in no split, so L2 measures type transfer
  alone and no held-out-type game shares a scene with training.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from pathlib import Path

GAME_FILE = "game.tw-pddl"
RELEASE_DIR = "json_2.1.1"
SPLIT_DIRS = ("train", "valid_seen", "valid_unseen")

SEEN_TYPES = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
)
HELD_OUT_TYPES = ("pick_cool_then_place_in_recep", "pick_two_obj_and_place")
TASK_TYPES = SEEN_TYPES + HELD_OUT_TYPES

SPLIT_RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "train": ("train", SEEN_TYPES),
    "L0": ("valid_seen", SEEN_TYPES),
    "L1": ("valid_unseen", SEEN_TYPES),
    "L2": ("valid_unseen", HELD_OUT_TYPES),
}
"""split -> (the split dir its games come from, the task types it keeps)."""

ARCHIVE_DIR = Path(__file__).resolve().parents[4] / "shared" / "data" / "alfworld"
"""Where a checkout's neighbouring ``shared/data/alfworld/*.tar.gz`` archives would be."""


def cache_dir() -> Path:
    """sparkrl's cache: ``$SPARKRL_CACHE``, else ``~/.cache/sparkrl``."""
    return Path(os.environ.get("SPARKRL_CACHE") or Path.home() / ".cache" / "sparkrl")


def task_type_of(task_dir: str) -> str:
    """The ALFWorld task type: the prefix of the task directory's name."""
    task_type = task_dir.split("-", 1)[0]
    if task_type not in TASK_TYPES:
        raise ValueError(f"{task_dir!r} does not start with an ALFWorld task type")
    return task_type


def _games_root(path: Path) -> Path | None:
    """``path`` itself or its ``json_2.1.1`` child, whichever holds split directories."""
    for candidate in (path / RELEASE_DIR, path):
        if any((candidate / split).is_dir() for split in SPLIT_DIRS):
            return candidate
    return None


def prepare_alfworld_data(src: str | Path, dest: str | Path) -> Path:
    """Unpack ``src/{train,valid_seen,valid_unseen}.tar.gz`` into ``dest`` once; return the root.

    Each archive holds ``json_2.1.1/<split>/...``. A split already unpacked is left alone; each
    one is unpacked in a scratch directory and moved into place whole, so an interrupted run
    never leaves a half-filled split behind.
    """
    src, root = Path(src), Path(dest) / RELEASE_DIR
    archives = [(split, src / f"{split}.tar.gz") for split in SPLIT_DIRS]
    if not any(archive.is_file() for _, archive in archives):
        names = ", ".join(f"{split}.tar.gz" for split in SPLIT_DIRS)
        raise FileNotFoundError(f"no ALFWorld archives ({names}) in {src}")
    root.mkdir(parents=True, exist_ok=True)
    for split, archive in archives:
        if not archive.is_file() or (root / split).is_dir():
            continue
        with tempfile.TemporaryDirectory(dir=root) as scratch, tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(scratch, filter="data")
            else:  # Python < 3.10.12 has no extraction filters; the archives are our own.
                tar.extractall(scratch)
            unpacked = Path(scratch) / RELEASE_DIR / split
            if not unpacked.is_dir():
                raise ValueError(f"{archive} does not hold {RELEASE_DIR}/{split}/")
            try:
                unpacked.rename(root / split)
            except OSError:
                if not (root / split).is_dir():  # else another process unpacked it first
                    raise
    return root


def find_alfworld_data(data: str | Path | None = None) -> Path:
    """The directory holding the split dirs, looked up in this order:

    1. ``data`` (the folder with the split dirs, or its parent holding ``json_2.1.1``);
    2. ``$ALFWORLD_DATA`` (same rule; it is what ``alfworld-download`` fills) when it holds
       games — importing ``alfworld`` sets it to an empty ``~/.cache/alfworld`` by itself;
    3. sparkrl's cache ``<cache>/alfworld``, unpacking the archives of a neighbouring
       ``shared/data/alfworld`` there first if the cache is empty.
    """
    if data is not None:
        root = _games_root(Path(data).expanduser())
        if root is None:
            raise FileNotFoundError(
                f"no ALFWorld games under data={data}: expected {'/'.join(SPLIT_DIRS)} folders "
                f"there or in its {RELEASE_DIR}/ child"
            )
        return root
    from_env = os.environ.get("ALFWORLD_DATA")
    cached = cache_dir() / "alfworld"
    for candidate in ([Path(from_env).expanduser()] if from_env else []) + [cached]:
        root = _games_root(candidate)
        if root is not None:
            return root
    if any((ARCHIVE_DIR / f"{split}.tar.gz").is_file() for split in SPLIT_DIRS):
        return prepare_alfworld_data(ARCHIVE_DIR, cached)
    raise FileNotFoundError(
        "ALFWorld game files not found. Give one of: AlfWorldEnv(data='<dir>'); the environment "
        f"variable ALFWORLD_DATA=<dir> (now {from_env or 'unset'}; `alfworld-download` fills it); "
        f"games unpacked in {cached}; or the archives train/valid_seen/valid_unseen.tar.gz in "
        f"{ARCHIVE_DIR} (prepare_alfworld_data(src, dest) unpacks archives from anywhere)."
    )


def list_games(root: Path, split: str) -> list[tuple[str, str]]:
    """``(task_id, task_type)`` of every game in ``split``, sorted; reads directory names only."""
    if split not in SPLIT_RULES:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLIT_RULES)}")
    split_dir, task_types = SPLIT_RULES[split]
    if not (root / split_dir).is_dir():
        raise FileNotFoundError(f"split {split!r} needs the {split_dir}/ games, missing from {root}")
    games = []
    for game_file in (root / split_dir).glob(f"*/*/{GAME_FILE}"):
        task_dir = game_file.parent.parent.name
        task_type = task_type_of(task_dir)
        if task_type in task_types:
            games.append((game_file.parent.relative_to(root).as_posix(), task_type))
    return sorted(games)


def game_file(root: Path, task_id: str) -> Path:
    """The game file of ``task_id``; refuses ids that leave ``root``."""
    path = (root / task_id / GAME_FILE).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        raise FileNotFoundError(f"no ALFWorld game {task_id!r} under {root}")
    return path
