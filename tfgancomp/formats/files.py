"""Writing output files: never a partial file, never a silent overwrite."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from tfgancomp.errors import ModelError, TfgancompError


def check_writable(path: Path, force: bool) -> None:
    """Raises unless `path` may be written: early, before slow work."""
    if path.is_dir():
        raise TfgancompError(f"{path} is a directory")
    if not force and path.exists():
        raise _exists(path)
    if not path.parent.is_dir():
        raise TfgancompError(f"output directory {path.parent} does not exist")


def _exists(path: Path) -> TfgancompError:
    return TfgancompError(
        f"{path} already exists (use --force to overwrite, or -o)")


def write_new_file(path: str | os.PathLike, data: bytes,
                   force: bool = False) -> Path:
    """Writes `data` to `path` atomically.

    Without `force`, an existing file is left untouched and an error raised,
    even if it appears while writing: the data goes to a temporary file that
    is hard-linked into place, which fails if the name is taken.
    """
    path = Path(path)
    check_writable(path, force)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(temp, 0o666 & ~_umask())
        if force:
            os.replace(temp, path)
        else:
            try:
                os.link(temp, path)
            except FileExistsError:
                raise _exists(path) from None
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_description(path: Path, format_tag: str, version: int,
                     missing: str) -> dict:
    """A JSON object tagged {"format": format_tag, "version": version}.

    ModelError with `missing` if the file does not exist, or naming what
    is wrong with it.
    """
    try:
        description = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(missing) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"cannot read {path}: {e}") from None
    if (not isinstance(description, dict)
            or description.get("format") != format_tag):
        raise ModelError(f"{path} is not a {format_tag} description")
    if description.get("version") != version:
        raise ModelError(
            f"{path} has {format_tag} format version "
            f"{description.get('version')!r}; this tfgancomp reads "
            f"version {version}")
    return description


STDIO = "-"  # as an input: standard input; as an output: standard output


def plan_outputs(inputs: list[str], output: str | None,
                 suffix: str) -> list[tuple[str, str]]:
    """(input, output) for each input of a command.

    Without `output`, each file goes beside its input with `suffix`, and
    standard input goes to standard output. An existing directory
    receives every output under its input's name; one input may also
    name its output file, or `-` for standard output. Raises before any
    work if two inputs would write the same file.
    """
    if not inputs:
        raise TfgancompError("no input files")
    if STDIO in inputs and len(inputs) > 1:
        raise TfgancompError("standard input (-) can only be the only input")
    directory = (Path(output) if output not in (None, STDIO)
                 and Path(output).is_dir() else None)
    if len(inputs) > 1 and output is not None and directory is None:
        raise TfgancompError(
            f"with {len(inputs)} inputs, -o must be an existing directory"
            + (", not standard output" if output == STDIO else
               f" ({output} is not)"))
    if directory is not None and inputs == [STDIO]:
        raise TfgancompError("name the output file of standard input, "
                             "not a directory")
    plan, seen = [], {}
    for source in inputs:
        if directory is not None:
            target = str(directory / Path(source).with_suffix(suffix).name)
        elif output is not None:
            target = output
        elif source == STDIO:
            target = STDIO
        else:
            target = str(Path(source).with_suffix(suffix))
        key = os.path.normpath(target)
        if key in seen and target != STDIO:
            raise TfgancompError(f"{seen[key]} and {source} would both be "
                                 f"written to {target}")
        seen[key] = source
        plan.append((source, target))
    return plan
