"""The knobs a model offers clients: quality (at compress) and realism (at
decompress), each in [0, 1] with the API's default (see `api.knobs`)."""

from __future__ import annotations

from tfgancomp import api
from tfgancomp.errors import ConfigError

COMPRESS, DECOMPRESS = "quality", "realism"
DEFAULTS = {COMPRESS: api.DEFAULT_QUALITY, DECOMPRESS: api.DEFAULT_REALISM}


def knobs(model) -> dict[str, dict]:
    """The knobs `model` has, by name, each {"min", "max", "default"}."""
    return {name: {"min": 0.0, "max": 1.0, "default": DEFAULTS[name]}
            for name, present in api.knobs(model).items() if present}


def _arguments(model, name: str, value) -> dict:
    if value is None:
        return {}
    if name not in knobs(model):
        raise ConfigError(f"model '{model.model_name}' has no {name} knob")
    if not 0 <= value <= 1:
        raise ConfigError(f"{name} must be from 0 to 1, got {value:g}")
    return {name: value}


def compress_arguments(model, quality: float | None) -> dict:
    """Keyword arguments of `api.compress` for a requested quality."""
    return _arguments(model, COMPRESS, quality)


def decompress_arguments(model, realism: float | None) -> dict:
    """Keyword arguments of `api.decompress*` for a requested realism."""
    return _arguments(model, DECOMPRESS, realism)
