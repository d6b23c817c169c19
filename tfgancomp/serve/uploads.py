"""The private workspace: uploads and results on disk under generated
names, read back with the service's limits.

Nothing a client sends becomes a path: files are named by `secrets`, and a
client's file name survives only as a sanitised download name.
"""

from __future__ import annotations

import io
import re
import secrets
import shutil
import tempfile
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from tfgancomp.errors import ImageError, TfgancompError
from tfgancomp.formats import bitstream
from tfgancomp.formats.image_io import Picture, picture_from_pil

CHUNK = 1 << 20


class TooLarge(TfgancompError):
    """An upload or an image beyond the service's limits (413)."""


class Workspace:
    """A private (0700) temporary directory that holds every upload and
    result; `close` removes it all."""

    def __init__(self, parent: str | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="tfgancomp-serve-",
                                          dir=parent))
        self.root.chmod(0o700)

    def new_dir(self) -> Path:
        path = self.root / secrets.token_hex(16)
        path.mkdir(mode=0o700)
        return path

    def remove(self, path: Path | None) -> None:
        if path is not None and path.parent == self.root:
            shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def store(source, directory: Path, limit: int) -> Path:
    """Copies a file object (an upload) into `directory` under a generated
    name, at most `limit` bytes; TooLarge beyond."""
    path = directory / secrets.token_hex(8)
    size = 0
    with open(path, "xb") as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > limit:
                out.close()
                path.unlink()
                raise TooLarge(f"upload larger than {limit} bytes")
            out.write(chunk)
    return path


def safe_name(name: str | None, default: str = "image") -> str:
    """A download name's stem from a client's file name: its last
    component, letters, digits, '-', '_' and '.' only."""
    stem = Path((name or "").replace("\\", "/")).stem
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:64]
    return stem or default


def is_tfgc(data: bytes) -> bool:
    return data[:len(bitstream.MAGIC)] == bitstream.MAGIC


def check_pixels(height: int, width: int, max_pixels: int) -> None:
    if height * width > max_pixels:
        raise TooLarge(f"{width}x{height} is {width * height} pixels; this "
                       f"server takes at most {max_pixels}")


def read_picture(data: bytes, max_pixels: int) -> tuple[Picture, str]:
    """The Picture an uploaded image file holds and its Pillow format;
    ImageError if it is none, TooLarge beyond `max_pixels` (checked
    before the pixels are decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                check_pixels(image.height, image.width, max_pixels)
                image.load()
                return picture_from_pil(image), image.format or ""
    except (Image.DecompressionBombError,
            Image.DecompressionBombWarning) as e:
        raise TooLarge(str(e)) from None
    except UnidentifiedImageError:
        raise ImageError("not an image: Pillow cannot read it") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"cannot read the image: {e}") from None


def read_container(data: bytes, max_pixels: int) -> bitstream.Container:
    """A parsed .tfgc upload; BitstreamError, or TooLarge beyond
    `max_pixels`."""
    container = bitstream.unpack(data)
    check_pixels(container.height, container.width, max_pixels)
    return container
