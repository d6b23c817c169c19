"""absl flags of the scripts in train/ and export/: one-line errors, the
configs built from the flags by field name, and named presets.

Every field of the four training configs has a flag of its name (the
discriminator's carry `disc_`, see `FLAG_PREFIXES`); `configs` fails on a
field without one. A preset (`tfgancomp/presets/NAME.json`) sets the flags
not given on the command line.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Callable

from absl import flags

from tfgancomp import presets

SECTIONS = ("model", "discriminator", "train", "data")
# Flags whose name is not the field's own, by config section.
FLAG_NAMES = {"discriminator": {"base_filters": "disc_filters",
                                "num_scales": "disc_scales"}}
FLAG_PREFIXES = {"discriminator": "disc_"}


def one_line_parser(argv0: str | None = None) -> Callable:
    """A `flags_parser` for `absl.app.run`: a bad flag ends the program
    with one line on stderr, not absl's usage dump."""
    def parse(argv):
        name = argv0 or os.path.basename(argv[0])
        try:
            return flags.FLAGS(argv)
        except flags.Error as e:
            sys.exit(f"{name}: error: {e} (see --helpfull)")
    return parse


def flag_name(section: str, field: str) -> str:
    return FLAG_NAMES.get(section, {}).get(
        field, FLAG_PREFIXES.get(section, "") + field)


def config_from_flags(section: str, cls, values=flags.FLAGS):
    """The config dataclass `cls` of `section` from the flags' values."""
    kwargs = {}
    for field in dataclasses.fields(cls):
        value = values[flag_name(section, field.name)].value
        kwargs[field.name] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


def apply_preset(name: str, values=flags.FLAGS) -> dict:
    """Sets every flag of preset `name` not given on the command line;
    returns the preset."""
    preset = presets.load(name)
    for section in SECTIONS:
        for field, value in preset.get(section, {}).items():
            flag = values[flag_name(section, field)]
            if not flag.present:
                flag.value = value
    if "init_from" in preset and not values["init_from"].present:
        values["init_from"].value = preset["init_from"]
    return preset
