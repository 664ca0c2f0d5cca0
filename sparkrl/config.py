"""Typed, validated configuration dataclasses.

Every config field is declared with ``option(default, help, ...)``: a one-line help and, where
it applies, its allowed range or choices. ``validate`` (called from each config's
``__post_init__``) rejects wrong types and impossible values naming the field and the allowed
range; ``from_dict`` additionally rejects unknown keys, so a typo in a YAML file fails before
any compute instead of being silently ignored.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is unknown, mistyped or out of range."""


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[Any, ...] | None = None,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field with a help line and an optional range ``[low, high]`` or choices."""
    metadata = {"help": help, "low": low, "high": high, "choices": choices}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _type_ok(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        item = args[0] if args else Any
        return isinstance(value, (list, tuple)) and all(_type_ok(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if dataclasses.is_dataclass(annotation):
        return isinstance(value, annotation)
    return isinstance(value, annotation)


def _range_text(meta: Mapping[str, Any]) -> str:
    if meta.get("choices"):
        return "one of " + ", ".join(map(str, meta["choices"]))
    low, high = meta.get("low"), meta.get("high")
    return f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"


def _type_text(annotation: Any) -> str:
    if isinstance(annotation, type):
        return "a mapping of " + annotation.__name__ + " keys" if dataclasses.is_dataclass(annotation) \
            else annotation.__name__
    return str(annotation).replace("typing.", "")


def validate(config: Any, prefix: str = "") -> None:
    """Check every field's type and range; raise ``ConfigError`` naming the first bad field and
    what it allows. NaN and infinities are rejected in every numeric field."""
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        name = f"{prefix}{field.name}"
        value = getattr(config, field.name)
        annotation = hints[field.name]
        meta = field.metadata
        allowed = f" in {_range_text(meta)}" if meta.get("low") is not None or meta.get("high") is not None else ""
        if not _type_ok(value, annotation):
            raise ConfigError(f"{name}: expected {_type_text(annotation)}{allowed}, got {value!r}")
        if meta.get("choices") and value not in meta["choices"]:
            raise ConfigError(f"{name}: {value!r} is not allowed; choose {_range_text(meta)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{name}: {value!r} is not a finite number; allowed range {_range_text(meta)}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            low, high = meta.get("low"), meta.get("high")
            if (low is not None and value < low) or (high is not None and value > high):
                raise ConfigError(f"{name}: {value!r} is out of range {_range_text(meta)}")


def non_negative_int(text: str) -> int:
    """argparse type for counts: an integer >= 0 (``--games -1`` is refused, not "all")."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _field_default(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None if field.default is dataclasses.MISSING else field.default


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` laid over it, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            value = _merged(merged[key], value)
        merged[key] = value
    return merged


def from_dict(cls: type[T], data: Mapping[str, Any] | None, prefix: str = "") -> T:
    """Build ``cls`` from a (nested) mapping, rejecting unknown keys and bad values.

    A nested section overrides only the keys it names: the rest keep the parent field's own
    default (``rollout: {temperature: 0.6}`` keeps the default rollout's other settings, which
    may differ from ``RolloutConfig``'s class defaults)."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    known = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known), key=str)
    if unknown:
        raise ConfigError(
            f"{prefix}{unknown[0]}: unknown key; known keys of {prefix or cls.__name__}: "
            + ", ".join(sorted(known))
        )
    kwargs = {}
    for name, value in data.items():
        annotation = hints[name]
        if dataclasses.is_dataclass(annotation):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{prefix}{name}: expected a mapping of {annotation.__name__} keys")
            default = _field_default(known[name])
            if dataclasses.is_dataclass(default):
                value = _merged(to_dict(default), value)
            value = from_dict(annotation, value, prefix=f"{prefix}{name}.")
        elif typing.get_origin(annotation) is tuple and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except ConfigError as error:
        raise ConfigError(f"{prefix}{error}" if prefix and not str(error).startswith(prefix) else str(error)) from None


def to_dict(config: Any) -> dict[str, Any]:
    """The config as plain data (tuples as lists), ready for YAML or JSON."""
    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return {k: plain(v) for k, v in dataclasses.asdict(config).items()}


def load_yaml(cls: type[T], path: str | Path) -> T:
    """Read a YAML file into ``cls`` (see ``from_dict``)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError(f"{path}: the top level must be a mapping of config keys")
    return from_dict(cls, data)


def describe(cls: type) -> list[tuple[str, str, str]]:
    """(field, default, help) rows, for documentation and ``--help`` output."""
    rows = []
    for field in dataclasses.fields(cls):
        default = field.default if field.default is not dataclasses.MISSING else "…"
        rows.append((field.name, repr(default), field.metadata.get("help", "")))
    return rows
