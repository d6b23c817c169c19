"""The base of every configuration dataclass: validation helpers and a
JSON round trip that refuses unknown keys."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from tfgancomp.errors import ConfigError

# Field metadata: left out of to_dict() while at its default, so that
# fields added later do not change what older configs serialize to (model
# fingerprints hash the model config's JSON).
OMIT_IF_DEFAULT = {"omit_if_default": True}


class Config:
    """Mixin for frozen dataclasses; `KIND` names it in error messages."""

    KIND = "config"

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        for field in dataclasses.fields(self):
            if (field.metadata.get("omit_if_default")
                    and values[field.name] == field.default):
                del values[field.name]
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        if not isinstance(values, dict):
            raise ConfigError(f"{cls.KIND} config must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown {cls.KIND} config keys: {', '.join(unknown)}")
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(
                f"{cls.KIND} config is not valid JSON: {e}") from None
        return cls.from_dict(values)

    def check_integers(self, names, minimum: int = 1):
        """ConfigError unless each field is an int (not a bool) ≥ minimum."""
        for name in names:
            value = getattr(self, name)
            if (not isinstance(value, int) or isinstance(value, bool)
                    or value < minimum):
                what = ("a positive integer" if minimum == 1 else
                        f"an integer of at least {minimum}")
                raise ConfigError(f"{name} must be {what}, got {value!r}")

    def check_booleans(self, names):
        """ConfigError unless each field is true or false."""
        for name in names:
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be true or false, got "
                                  f"{value!r}")

    def check_choice(self, name: str, choices):
        """ConfigError unless the field is one of `choices`."""
        value = getattr(self, name)
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, "
                              f"got {value!r}")

    def check_numbers(self, names, positive: bool = True):
        """ConfigError unless each field is a finite number > 0 (≥ 0)."""
        for name in names:
            value = getattr(self, name)
            ok = (isinstance(value, (int, float))
                  and not isinstance(value, bool) and math.isfinite(value)
                  and (value > 0 if positive else value >= 0))
            if not ok:
                what = "positive" if positive else "zero or positive"
                raise ConfigError(f"{name} must be {what}, got {value!r}")
