"""What every command shares: one-line errors, model loading, output."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from tfgancomp.errors import TfgancompError
from tfgancomp.formats.files import STDIO, write_new_file

FILE_ERRORS = (TfgancompError, OSError, MemoryError)


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
    return resolve.for_header(container.model_name,
                              container.model_fingerprint)


def say(*parts):
    print(*parts, flush=True)


def note(notes):
    for text in notes:
        print(f"note: {text}", file=sys.stderr)


def read_bytes(path) -> bytes:
    """A file's bytes; `-`: standard input's."""
    if str(path) == STDIO:
        return sys.stdin.buffer.read()
    path = Path(path)
    if not path.is_file():
        raise TfgancompError(f"no such file: {path}")
    return path.read_bytes()


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)


def print_table(values: dict, as_json: bool):
    if as_json:
        say(json.dumps(values, indent=2))
        return
    width = max(map(len, values))
    for key, value in values.items():
        say(f"{key.replace('_', ' '):<{width}}  {_cell(value)}")


def print_rows(rows: list[dict], columns: list[str]):
    """One line per row, in aligned columns headed by their names."""
    cells = [[c.replace("_", " ") for c in columns]] + [
        [_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells)
              for i in range(len(columns))]
    for line in cells:
        say("  ".join(f"{v:<{w}}" for v, w in zip(line, widths)).rstrip())


def write_output(path: str, data: bytes, force: bool) -> None:
    """Writes a file as `write_new_file` does; `-`: standard output."""
    if path != STDIO:
        write_new_file(path, data, force=force)
        return
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def check_stdout(plan) -> None:
    """Refuses binary data for a terminal, before any work."""
    if any(target == STDIO for _, target in plan) and sys.stdout.isatty():
        raise TfgancompError("refusing to write binary data to a terminal: "
                             "redirect standard output, or use -o FILE")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return value


def add_max_pixels(parser):
    parser.add_argument(
        "--max_pixels", type=positive_int, metavar="N",
        help="refuse images of more than N pixels (width × height) before "
             "any work: for services decoding files from others")


def describe(error: BaseException) -> str:
    """One line for an error a file can cause."""
    if isinstance(error, OSError) and not isinstance(error, TfgancompError):
        return ((error.strerror or str(error)) +
                (f": {error.filename}" if error.filename else ""))
    if isinstance(error, MemoryError):
        return "out of memory (refuse large images with --max_pixels)"
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def with_name(path: str, error: BaseException) -> str:
    """`describe(error)`, naming `path` unless it already does."""
    text = describe(error)
    return text if str(path) in text else f"{path}: {text}"


def run_each(plan: list[tuple[str, str]], work, verb: str) -> None:
    """`work(input, output)` for each pair of `plan`, printing the line it
    returns: on stderr when an output is standard output, else on stdout.

    One pair: its error propagates (main prints it in one line). Several:
    a failure is one line on stderr and the others go on, a progress bar
    shows on a terminal, a summary ends; TfgancompError if any failed.
    """
    from tfgancomp.cli.progress import Progress
    stream = (sys.stderr if any(t == STDIO for _, t in plan)
              else sys.stdout)
    if len(plan) == 1:
        try:
            line = work(*plan[0])
        except MemoryError as e:
            raise TfgancompError(describe(e)) from None
        print(line, file=stream, flush=True)
        return
    progress = Progress(verb, terminal_only=True)
    start, failed = time.perf_counter(), 0
    progress(0, len(plan))
    for done, (source, target) in enumerate(plan, 1):
        try:
            progress.message(work(source, target), stream)
        except FILE_ERRORS as e:
            failed += 1
            progress.message(f"tfgancomp: error: {with_name(source, e)}",
                             sys.stderr)
        progress(done, len(plan))
    summary = (f"{verb}: {len(plan) - failed} of {len(plan)} files in "
               f"{time.perf_counter() - start:.1f} s")
    if failed:
        raise TfgancompError(f"{failed} of {len(plan)} files failed "
                             f"({summary})")
    print(summary, file=stream, flush=True)


class Models:
    """The models of one command, each loaded once: `--model` if given
    (resolved at once, so that a wrong name fails before any work), else
    the default model or the shipped model a file names."""

    def __init__(self, model):
        self.model = model
        self.loaded = {}
        if model is not None:
            from tfgancomp.deploy import resolve
            resolve.resolve(model)

    def get(self, container=None):
        key = (self.model if self.model is not None or container is None
               else ("header", container.model_name))
        if key not in self.loaded:
            self.loaded[key] = (load_model(self.model) if container is None
                                else model_for(container, self.model))
        return self.loaded[key]


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
