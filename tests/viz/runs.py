"""A saved run folder with hand-built forests, shared by the viewer tests."""

from pathlib import Path

from sparkrl.rollout.tree import StepNode, TaskForest, save_forests

HORIZON = 4
INJECTED = '<script>window.injected = 1</script><img src="x" onerror="window.injected = 2">'


def step(node_id, parent_id, depth, *, mode="think", action="look", valid=True, done=False, won=False,
         observation=None):
    return StepNode(
        node_id=node_id, parent_id=parent_id, depth=depth, prompt_ids=[1, 2], response_ids=[3, 4, 5],
        logprobs=[-0.1, -0.2, -0.3], observation=observation or f"observation of node {node_id}",
        response_text=f"<{mode}>reason {node_id}</{mode}><action>{action}</action>", action=action if valid else None,
        mode=mode if valid else "none", valid=valid, explore=mode == "explore" and valid, reward=10.0 * won,
        done=done, won=won, branched=mode == "explore" and not done,
        info={"head_entropy": 0.5, "next_observation": f"after node {node_id}"},
    )


def branching_forest(task_id: str) -> TaskForest:
    """Two roots. Root 0 explores at step 2 and forks: 2 → 3 wins, 4 → 5 is cut by the horizon.
    Root 6 ends lost at step 2 (6 → 7); node 6's observation carries markup that must stay text and
    node 7's action a control character."""
    forest = TaskForest(task_id, "pick", "train")
    forest.add(step(0, None, 0, action="go to desk 1"))
    forest.add(step(1, 0, 1, mode="explore", action="open drawer 1"))
    forest.add(step(2, 1, 2, action="take key 1 from drawer 1"))
    forest.add(step(3, 2, 3, action="move key 1 to desk 1", done=True, won=True))
    forest.add(step(4, 1, 2, action="go to shelf 1"))
    forest.add(step(5, 4, 3, action="examine shelf 1", done=True))
    forest.add(step(6, None, 0, action="go to bed 1", observation=INJECTED))
    forest.add(step(7, 6, 1, action="inventory\x07", done=True))
    return forest


def invalid_forest(task_id: str) -> TaskForest:
    """One root whose second step breaks the format and ends the episode."""
    forest = TaskForest(task_id, "clean", "L1")
    forest.add(step(0, None, 0, mode="explore", action="go to sinkbasin 1"))
    forest.add(step(1, 0, 1, valid=False, done=True))
    return forest


def make_run(root: Path, iterations: int = 2) -> Path:
    """A run folder as `sparkrl train` lays it out: config.yaml and trees/iter-NNNNNN.jsonl."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(f"# sparkrl train --preset test\nrollout:\n  max_steps: {HORIZON}\n")
    (root / "trees").mkdir()
    for iteration in range(1, iterations + 1):
        forests = [branching_forest(f"task-a-{iteration}"), invalid_forest(f"task-b-{iteration}"),
                   branching_forest(f"task-c-{iteration}")]
        save_forests(forests, root / "trees" / f"iter-{iteration:06d}.jsonl")
    return root
