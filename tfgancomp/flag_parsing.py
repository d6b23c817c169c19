"""absl flag parsing for the scripts in train/ and export/: a bad flag ends
the program with one line on stderr, not absl's usage dump."""

from __future__ import annotations

import os
import sys
from typing import Callable

from absl import flags


def one_line_parser(argv0: str | None = None) -> Callable:
    """A `flags_parser` for `absl.app.run`."""
    def parse(argv):
        name = argv0 or os.path.basename(argv[0])
        try:
            return flags.FLAGS(argv)
        except flags.Error as e:
            sys.exit(f"{name}: error: {e} (see --helpfull)")
    return parse
