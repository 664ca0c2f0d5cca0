"""Name → environment registry. Built-in envs are registered lazily so that importing
sparkrl never imports an optional backend (a JVM bridge, TextWorld) the user lacks.

A user's own env plugs in two ways (docs/custom-env.md): ``register("name", factory)`` from
their code, or, with no code change anywhere, a name of the form ``"package.module:Factory"``
or ``"path/to/file.py:Factory"`` wherever an env name is taken (``--env`` of every command,
``env:`` in a YAML, Ray env workers): it is imported on first use and registered under that
name."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
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


def _import_path(spec: str) -> Any:
    """The object ``spec`` (``"module:attr"`` or ``"file.py:attr"``) names."""
    location, _, attr = spec.rpartition(":")
    if location.endswith(".py"):
        path = Path(location).expanduser().resolve()
        if not path.is_file():
            raise UnknownEnvError(f"env {spec!r}: no file {path}")
        module_name = f"sparkrl_user_env_{abs(hash(str(path)))}"
        module = sys.modules.get(module_name)
        if module is None:
            loader_spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(loader_spec)  # type: ignore[arg-type]
            sys.modules[module_name] = module
            loader_spec.loader.exec_module(module)  # type: ignore[union-attr]
    else:
        try:
            module = importlib.import_module(location)
        except ModuleNotFoundError as error:
            raise UnknownEnvError(f"env {spec!r}: cannot import {location!r} ({error})") from None
    if not hasattr(module, attr):
        raise UnknownEnvError(f"env {spec!r}: {location} has no {attr!r}")
    return getattr(module, attr)


def env_label(name: str) -> str:
    """``name`` made safe for a folder name (an import-path env spec holds ``/`` and ``:``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def is_import_path(name: str) -> bool:
    """Whether ``name`` is a ``module:Factory`` / ``file.py:Factory`` env spec."""
    location, colon, attr = name.rpartition(":")
    return bool(colon and location and attr.isidentifier())


def _resolve(name: str) -> EnvFactory:
    if name not in _REGISTRY and is_import_path(name):
        register(name, _import_path(name))
    if name not in _REGISTRY:
        raise UnknownEnvError(f"unknown env {name!r}; registered: {', '.join(available())} "
                              "(or give your own as package.module:Factory or path/to/file.py:Factory)")
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
