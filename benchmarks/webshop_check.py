"""WebShop on the 1k catalogue: the expert, the search, and the size of a step sample.

    python benchmarks/webshop_check.py [--data DIR] [--test-goals 500] [--token-goals 100]
                                       [--sft-trajectories 20]

Measures, on WebShop's synthetic goals (needs the data, see docs/webshop.md):

- the expert (``WebShopEnv.expert()``, which knows the target's ASIN and title) on the test
  goals (L0): share scoring 1.0, mean score, steps, and how often it fell back to searching
  the title; next to it the same walk with no hidden information (``WebShopExpert(target=None)``:
  buy the first listed product whose price and options fit), within the 15-step horizon and
  with 200 steps;
- search quality X: the share of test goals whose product is in the BM25 top 10 when the
  instruction is the query, for the index over ``documents_1k.jsonl``'s ``contents`` and for
  the one rebuilt from the product fields (also top 1 and top 50);
- tokens per step sample on the tiny tokenizer (chat template, system + user prompt with the
  history window of 5, response and EOS, as ``sparkrl sft`` encodes them) over the expert's
  trajectories of the first ``--token-goals`` train goals: median, p95, max, and how many
  exceed 2,048, for the paper prompt (``sparkrl sft``'s default) with the compact pages (the
  default), the compact prompt, and the paper prompt with WebShop's full text pages;
- the samples ``sparkrl sft --env webshop --trajectories 20`` drops as longer than 2,048.

The LAST line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from sparkrl.data.annotate import RuleAnnotator
from sparkrl.data.golden import collect_golden
from sparkrl.envs.webshop import DOCUMENTS, Shop, WebShopEnv, index_text, read_documents
from sparkrl.envs.webshop_expert import WebShopExpert, search_query
from sparkrl.models import load
from sparkrl.train.sft import encode_samples

MAX_SAMPLE = 2048


def play_without_target(env: WebShopEnv, task) -> tuple[bool, float]:
    observation = env.reset(task)
    expert = WebShopExpert(observation.goal)
    result = None
    while not env.done:
        result = env.step(expert.act(observation).action)
        observation = result.observation
    return result.won, result.reward


def expert_figures(env: WebShopEnv, tasks) -> dict[str, float]:
    won, scores, steps, title_searches = 0, [], [], 0
    for task in tasks:
        observation = env.reset(task)
        expert, result, searches = env.expert(), None, 0
        while not env.done:
            action = expert.act(observation).action
            searches += action.startswith("search[")
            result = env.step(action)
            observation = result.observation
        won += result.won
        scores.append(result.reward)
        steps.append(env.num_steps)
        title_searches += searches > 1
    return {
        "expert_success": won / len(tasks), "expert_mean_score": statistics.fmean(scores),
        "expert_steps_median": statistics.median(steps), "expert_steps_max": max(steps),
        "expert_title_searches": title_searches,
    }


def baseline_figures(shop: Shop, tasks, max_steps: int) -> dict[str, float]:
    env = WebShopEnv(shop=shop, max_steps=max_steps)
    outcomes = [play_without_target(env, task) for task in tasks]
    return {f"no_hidden_success_{max_steps}": statistics.fmean(w for w, _ in outcomes),
            f"no_hidden_mean_score_{max_steps}": statistics.fmean(s for _, s in outcomes)}


def search_figures(shop: Shop, goals, label: str) -> dict[str, float]:
    ranks = []
    for goal in goals:
        hits = shop.search(goal.instruction)
        ranks.append(hits.index(goal.asin) if goal.asin in hits else len(hits) + 1)
    return {f"x_top10_{label}": sum(r < 10 for r in ranks) / len(goals),
            f"top1_{label}": sum(r < 1 for r in ranks) / len(goals),
            f"top50_{label}": sum(r < 50 for r in ranks) / len(goals)}


def percentile(values: list[int], share: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def token_figures(policy, env: WebShopEnv, tasks, prompt_style: str, annotation: str, label: str) -> dict:
    collection = collect_golden(env, tasks)
    annotated = RuleAnnotator(seed=0, style=annotation).annotate_all(collection.trajectories)
    end = [policy.tokenizer.eos_token_id]
    lengths = [
        len(policy.encode(messages)) + len(policy.encode_text(response) + end)
        for trajectory in annotated for messages, response in trajectory.chat_samples(5, prompt_style)
    ]
    return {f"tokens_{label}_samples": len(lengths), f"tokens_{label}_median": statistics.median(lengths),
            f"tokens_{label}_p95": percentile(lengths, 0.95), f"tokens_{label}_max": max(lengths),
            f"tokens_{label}_over_{MAX_SAMPLE}": sum(n > MAX_SAMPLE for n in lengths)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="WebShop data folder (default: lookup)")
    parser.add_argument("--test-goals", type=int, default=500, help="L0 goals the expert and search are measured on")
    parser.add_argument("--token-goals", type=int, default=100, help="train goals whose expert samples are counted")
    parser.add_argument("--sft-trajectories", type=int, default=20, help="as sparkrl sft --trajectories")
    args = parser.parse_args()

    started = time.perf_counter()
    env = WebShopEnv(data=args.data)
    shop = env.shop
    tests = env.tasks("L0")[: args.test_goals]
    goals = [shop.goals[int(task.task_id.removeprefix("goal-"))] for task in tests]
    figures: dict[str, float | int | str] = {"test_goals": len(tests), "index_source": shop.index_source}
    figures |= expert_figures(env, tests)
    figures |= baseline_figures(shop, tests, 15) | baseline_figures(shop, tests, 200)

    fields = Shop(list(shop.products.values()), shop.goals, shop.goal_mode)  # rebuilt from the product fields
    figures |= search_figures(shop, goals, "contents") | search_figures(fields, goals, "fields")
    if env.data is not None and (env.data / DOCUMENTS[env.catalog]).is_file():
        contents = read_documents(env.data / DOCUMENTS[env.catalog])
        figures["contents_equal_fields"] = sum(contents.get(a) == index_text(p) for a, p in shop.products.items())
    figures["x_top10_query_without_price"] = sum(
        goal.asin in shop.search(search_query(goal.instruction))[:10] for goal in goals
    ) / len(goals)

    policy = load("tiny")
    train = env.tasks("train")
    token_tasks = train[: args.token_goals]
    figures["token_goals"] = len(token_tasks)
    figures |= token_figures(policy, env, token_tasks, "paper", "sentence", "paper")
    figures |= token_figures(policy, env, token_tasks, "compact", "short", "compact_prompt")
    full = WebShopEnv(shop=shop, pages="full")
    figures |= token_figures(policy, full, token_tasks, "paper", "sentence", "full_pages")

    collection = collect_golden(env, train[: args.sft_trajectories])
    annotated = RuleAnnotator(seed=0).annotate_all(collection.trajectories)
    max_length = min(MAX_SAMPLE, policy.max_positions or MAX_SAMPLE)
    samples, dropped = encode_samples(policy, annotated, max_length, "paper", 5)
    figures |= {"sft_trajectories": args.sft_trajectories, "sft_expert_wins": collection.won,
                "sft_samples": len(samples), "sft_dropped_samples": dropped,
                "seconds": time.perf_counter() - started}

    print(f"webshop: {shop.index_source} index, {len(tests)} test goals, {len(token_tasks)} train goals for tokens")
    print(f"  expert           {figures['expert_success']:.1%} score 1.0, mean score {figures['expert_mean_score']:.4f}, "
          f"{figures['expert_title_searches']} title searches")
    print(f"  no hidden info   {figures['no_hidden_success_15']:.1%} within 15 steps, "
          f"{figures['no_hidden_success_200']:.1%} within 200")
    print(f"  search X         top-10 {figures['x_top10_contents']:.1%} (contents), {figures['x_top10_fields']:.1%} (fields)")
    for label in ("paper", "compact_prompt", "full_pages"):
        print(f"  tokens {label:<15} median {figures[f'tokens_{label}_median']}, p95 {figures[f'tokens_{label}_p95']}, "
              f"max {figures[f'tokens_{label}_max']}, over 2048: {figures[f'tokens_{label}_over_2048']}"
              f" of {figures[f'tokens_{label}_samples']}")
    print(f"  sft --trajectories {args.sft_trajectories}: {collection.won} won, {len(samples)} samples, {dropped} dropped")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
