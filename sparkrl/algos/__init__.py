"""Advantage estimators and policy losses, as pure functions."""
