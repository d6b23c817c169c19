"""Named training recipes: the architecture and settings of the shipped
models, as JSON (`NAME.json`: `description`, maybe `init_from`, and the
sections `model`, `discriminator`, `train`, `data`)."""

from __future__ import annotations

import json
from pathlib import Path

from tfgancomp.errors import ConfigError

DIRECTORY = Path(__file__).resolve().parent


def names() -> list[str]:
    return sorted(p.stem for p in DIRECTORY.glob("*.json"))


def load(name: str) -> dict:
    """A preset by name; ConfigError naming the others if there is none."""
    path = DIRECTORY / f"{name}.json"
    if not path.is_file():
        raise ConfigError(f"no preset named '{name}' (presets: "
                          f"{', '.join(names()) or 'none'})")
    return json.loads(path.read_text())
