"""Hand-built forests shared by the rollout and algos tests."""

from sparkrl.rollout.tree import StepNode, TaskForest


def node(node_id, parent_id, observation="o0", *, valid=True, explore=False, done=False, won=False,
         depth=0, response=(5, 6)):
    return StepNode(
        node_id=node_id, parent_id=parent_id, depth=depth, prompt_ids=[1, 2, 3],
        response_ids=list(response), logprobs=[-0.5] * len(response), observation=observation,
        response_text="<think>x</think><action>look</action>", action="look",
        mode="explore" if explore else "think", valid=valid, explore=explore, done=done, won=won,
        branched=explore and not done,
    )


def small_forest() -> TaskForest:
    """Two roots. Root 0 explores and branches into 2 (wins) and 3 → 4 (loses); root 1 is an
    invalid step that ends lost. Leaves: 1, 2, 4."""
    forest = TaskForest("t0", "pick", "train")
    forest.add(node(0, None, "o0", explore=True))
    forest.add(node(1, None, "o0", valid=False, done=True))
    forest.add(node(2, 0, "o1", done=True, won=True, depth=1))
    forest.add(node(3, 0, "o1", depth=1))
    forest.add(node(4, 3, "o2", done=True, depth=2))
    return forest
