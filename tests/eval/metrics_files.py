"""Hand-made run folders (metrics.jsonl, summary.json) for the curve, compare and plot tests."""

import json
from pathlib import Path


def iteration(number, success, trajectories=8, tokens=100, explore=0.25):
    return {"kind": "iteration", "iteration": number, "success": success, "return": 10 * success,
            "explore_ratio": explore, "trajectories": trajectories, "generated_tokens": tokens}


def evaluation(number, tag, **success_by_split):
    return {"kind": "eval", "iteration": number, "tag": tag,
            "results": {split: {"success": value, "games": 10} for split, value in success_by_split.items()}}


def write_run(run_dir, successes, final, trajectories=8, tokens=100, finished=True):
    """A run whose iteration i (1-based) has training success ``successes[i-1]``, and whose
    evaluation after RL is ``final`` (split -> success)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    records = [evaluation(0, "before", **{split: 0.0 for split in final})]
    records += [iteration(i + 1, s, trajectories, tokens) for i, s in enumerate(successes)]
    if finished:
        records.append(evaluation(len(successes), "after", **final))
        (run_dir / "summary.json").write_text(json.dumps({"after": final}))
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run_dir
