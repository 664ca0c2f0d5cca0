from sparkrl.rollout.tree import TaskForest, load_forests, save_forests

from tests.rollout.forests import small_forest


def test_leaves_paths_and_rows_with_multiplicity():
    forest = small_forest()
    assert forest.leaves() == [1, 2, 4]
    assert [n.node_id for n in forest.path(4)] == [0, 3, 4]
    rows = {row.node_id: row for row in forest.step_rows()}
    assert rows[0].leaf_ids == (2, 4) and rows[0].multiplicity == 2
    assert all(rows[n].multiplicity == 1 for n in (1, 2, 3, 4))
    assert sum(r.multiplicity for r in rows.values()) == sum(len(forest.path(l)) for l in forest.leaves())


def test_padding_copies_count_in_rows_but_not_as_real_leaves():
    forest = small_forest()
    forest.padded_leaf_ids.append(2)
    assert forest.leaves() == [1, 2, 4]
    rows = {row.node_id: row for row in forest.step_rows()}
    assert rows[2].leaf_ids == (2, 2) and rows[0].multiplicity == 3
    assert forest.stats()["padded"] == 1


def test_stats():
    stats = small_forest().stats()
    assert stats["leaves"] == 3 and stats["branches"] == 1 and stats["forks"] == 1
    assert stats["trajectory_steps"] == 1 + 2 + 3
    assert abs(stats["success"] - 1 / 3) < 1e-9
    assert stats["invalid_steps"] == 1 and stats["generated_tokens"] == 10


def test_json_round_trip(tmp_path):
    forest = small_forest()
    save_forests([forest, forest], tmp_path / "f.jsonl")
    loaded = load_forests(tmp_path / "f.jsonl")
    assert len(loaded) == 2 and isinstance(loaded[0], TaskForest)
    assert loaded[0].to_dict() == forest.to_dict()
    assert [r.leaf_ids for r in loaded[0].step_rows()] == [r.leaf_ids for r in forest.step_rows()]
