"""The evaluation protocol and its metrics, below training: what `sparkrl.train` calls
(evaluate, pass@k, test-time branching, statistics, learning curves)."""
