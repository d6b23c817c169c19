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
