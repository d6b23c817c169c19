"""What every command shares: one-line errors, model loading, output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tfgancomp.errors import TfgancompError


class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import absl.logging
    absl.logging.set_verbosity(absl.logging.ERROR)
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")


def load_model(model):
    """A model as `deploy.resolve` finds it (None: the default), resolved
    before TensorFlow's import so that a wrong name fails fast."""
    from tfgancomp.deploy import resolve
    source = resolve.resolve(model)
    quiet_tensorflow()
    return resolve.load(source)


def model_for(container, model):
    """--model if given, else the shipped model a file's header names."""
    if model is not None:
        return load_model(model)
    quiet_tensorflow()
    from tfgancomp.deploy import resolve
    return resolve.for_header(container.model_name)


def say(*parts):
    print(*parts, flush=True)


def note(notes):
    for text in notes:
        print(f"note: {text}", file=sys.stderr)


def read_bytes(path) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise TfgancompError(f"no such file: {path}")
    return path.read_bytes()


def print_table(values: dict, as_json: bool):
    if as_json:
        say(json.dumps(values, indent=2))
        return
    width = max(map(len, values))
    for key, value in values.items():
        if isinstance(value, float):
            value = f"{value:.4f}"
        say(f"{key.replace('_', ' '):<{width}}  {value}")


def check_output(path) -> Path:
    path = Path(path)
    if path.parent.is_dir() and not os.access(path.parent, os.W_OK):
        raise TfgancompError(f"cannot write to directory {path.parent}")
    return path


def codecs_here(names: str) -> tuple[list, dict]:
    """The classical codecs named that run here, and why the others do
    not; the reasons are printed as notes."""
    from tfgancomp.evaluation import classical
    codecs, missing = [], {}
    for codec in classical.resolve(names):
        reason = classical.unavailable_reason(codec.name)
        if reason:
            missing[codec.name] = reason
        else:
            codecs.append(codec)
    return codecs, missing


def note_missing(missing: dict):
    note(f"{name} skipped: {reason}" for name, reason in missing.items())


def add_force(parser, what="the output file"):
    parser.add_argument("--force", action="store_true",
                        help=f"overwrite {what} if it exists")
