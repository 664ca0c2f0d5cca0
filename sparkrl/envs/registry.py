"""Name → environment registry. Built-in envs are registered lazily so that importing
sparkrl never imports an optional backend (a JVM bridge, TextWorld) the user lacks."""

from __future__ import annotations

import importlib
from typing import Any, Callable

from sparkrl.envs.base import TextEnv

EnvFactory = Callable[..., TextEnv]

_REGISTRY: dict[str, EnvFactory | str] = {
    "household": "sparkrl.envs.household:HouseholdEnv",
    "household-small": "sparkrl.envs.household:small_household",
    "scienceworld": "sparkrl.envs.scienceworld:ScienceWorldEnv",
    "alfworld": "sparkrl.envs.alfworld:AlfWorldEnv",
    "webshop": "sparkrl.envs.webshop:WebShopEnv",
}


def register(name: str, factory: EnvFactory | str, *, overwrite: bool = False) -> None:
    """Register ``factory`` (a callable, or a ``"module:attr"`` path imported on first use)."""
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"env {name!r} is already registered")
    _REGISTRY[name] = factory


class UnknownEnvError(KeyError):
    """``make``/``spec`` of a name nobody registered; the message lists the registered ones."""

    def __str__(self) -> str:  # KeyError's own str() quotes its message
        return str(self.args[0])


def available() -> list[str]:
    """Registered env names, sorted."""
    return sorted(_REGISTRY)


def _resolve(name: str) -> EnvFactory:
    if name not in _REGISTRY:
        raise UnknownEnvError(f"unknown env {name!r}; registered: {', '.join(available())}")
    factory = _REGISTRY[name]
    if isinstance(factory, str):
        module_name, _, attr = factory.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ImportError(
                f"env {name!r} needs an optional dependency that is not installed: {error}"
            ) from error
        factory = getattr(module, attr)
        _REGISTRY[name] = factory
    return factory


def make(name: str, **kwargs: Any) -> TextEnv:
    """Build the env registered as ``name`` with constructor ``kwargs``."""
    return _resolve(name)(**kwargs)
