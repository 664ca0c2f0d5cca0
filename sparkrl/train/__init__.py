"""Training: the cold-start SFT (``sparkrl.train.sft``), the RL loop (``sparkrl.train.rl``),
checkpoints and run logs. Submodules are imported directly so that reading a config does not
pull in torch."""
