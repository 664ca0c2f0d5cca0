"""Evaluation protocol and metrics."""
