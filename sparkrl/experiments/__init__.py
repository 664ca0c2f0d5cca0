"""What drives training and evaluation from above: equal-budget comparisons, their reports, and
the `sparkrl eval` / `sparkrl compare` commands (the protocol itself is `sparkrl.eval`)."""
