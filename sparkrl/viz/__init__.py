"""Visualisation of runs: the trajectory-tree viewer (``sparkrl view``)."""
