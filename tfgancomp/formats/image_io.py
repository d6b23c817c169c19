"""Reading and writing images with Pillow: modes, ICC profiles and EXIF.

The codec codes 8-bit RGB. How other modes are handled, explicitly:

    RGB, L            coded as they are (L as grey RGB, restored as L)
    RGBA, LA          colour coded lossy, alpha kept losslessly in the file
    1                 → L
    P, PA             → RGB, or RGBA when the palette has transparency
    I;16*, I (0..65535 grey)   → L, keeping the 8 most significant bits
    CMYK, YCbCr, LAB, HSV      → RGB (the source ICC profile is dropped)
    F and anything else        refused

Pillow's decompression-bomb guard stays on.
"""

from __future__ import annotations

import dataclasses
import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tfgancomp.errors import ImageError
from tfgancomp.formats.bitstream import check_max_pixels
from tfgancomp.formats.files import write_new_file

_AS_RGB = ("CMYK", "YCbCr", "LAB", "HSV", "RGBX")
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


@dataclasses.dataclass
class Picture:
    """An image as the codec sees it, plus what travels beside the pixels."""
    rgb: np.ndarray  # [H, W, 3] uint8
    mode: str  # mode to restore: RGB, L, RGBA or LA
    alpha: np.ndarray | None = None  # [H, W] uint8
    icc_profile: bytes | None = None
    exif: bytes | None = None
    notes: tuple[str, ...] = ()  # conversions made on reading

    @property
    def height(self) -> int:
        return self.rgb.shape[0]

    @property
    def width(self) -> int:
        return self.rgb.shape[1]


def _to_supported_mode(image: Image.Image) -> tuple[Image.Image, list[str]]:
    mode, notes = image.mode, []
    if mode in ("RGB", "L", "RGBA", "LA"):
        return image, notes
    if mode in ("La", "RGBa", "PA"):
        target = {"La": "LA", "RGBa": "RGBA", "PA": "RGBA"}[mode]
    elif mode == "1":
        target = "L"
    elif mode == "P":
        target = "RGBA" if "transparency" in image.info else "RGB"
    elif mode in _AS_RGB:
        target = "RGB"
    elif mode in _SIXTEEN_BIT:
        values = np.asarray(image, dtype=np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ImageError(f"mode {mode} image has values outside 0..65535")
        notes.append(f"{mode} samples reduced to 8 bits")
        return Image.fromarray((values >> 8).astype(np.uint8), "L"), notes
    else:
        raise ImageError(
            f"unsupported image mode {mode}: convert it to 8-bit RGB first")
    notes.append(f"converted {mode} to {target}")
    return image.convert(target), notes


def picture_from_pil(image: Image.Image) -> Picture:
    """Converts a Pillow image to a Picture, following the table above."""
    icc = image.info.get("icc_profile") or None
    exif = image.info.get("exif") or None
    converted, notes = _to_supported_mode(image)
    if icc and image.mode in _AS_RGB + _SIXTEEN_BIT:
        icc = None
        notes.append(f"dropped the {image.mode} ICC profile")
    mode = converted.mode
    alpha = None
    if mode.endswith("A"):
        alpha = np.asarray(converted.getchannel("A"), dtype=np.uint8)
    rgb = np.asarray(converted.convert("RGB"), dtype=np.uint8)
    return Picture(rgb=rgb, mode=mode, alpha=alpha, icc_profile=icc,
                   exif=exif, notes=tuple(notes))


def picture_to_pil(picture: Picture) -> Image.Image:
    """The Pillow image a Picture stands for, with its ICC and EXIF."""
    image = Image.fromarray(picture.rgb, "RGB")
    if picture.mode in ("L", "LA"):
        image = image.convert("L")
    if picture.alpha is not None:
        image.putalpha(Image.fromarray(picture.alpha, "L"))
    if picture.icc_profile:
        image.info["icc_profile"] = picture.icc_profile
    if picture.exif:
        image.info["exif"] = picture.exif
    return image


def open_image(path: str | os.PathLike,
               max_pixels: int | None = None) -> Image.Image:
    """Opens and fully decodes an image file, with clear errors; with
    `max_pixels`, a larger image is refused before its pixels are read."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"no such file: {path}")
    return _decode(path, str(path), max_pixels)


def open_image_data(data: bytes, name: str = "standard input",
                    max_pixels: int | None = None) -> Image.Image:
    """`open_image` of an image file's bytes (such as standard input)."""
    return _decode(io.BytesIO(data), name, max_pixels)


def _decode(source, name: str, max_pixels: int | None) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source)
            width, height = image.size
            check_max_pixels(height, width, max_pixels, ImageError)
            image.load()
    except (Image.DecompressionBombError,
            Image.DecompressionBombWarning) as e:
        raise ImageError(f"{name}: {e}") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"cannot read {name}: {e}") from None
    except MemoryError:
        raise ImageError(f"{name}: out of memory reading the image "
                         "(refuse large images with max_pixels)") from None
    return image


def read_image(path: str | os.PathLike,
               max_pixels: int | None = None) -> Picture:
    return picture_from_pil(open_image(path, max_pixels))


def output_format(path: str | os.PathLike) -> str:
    """The Pillow format name for a file name's extension."""
    extension = Path(path).suffix.lower()
    formats = Image.registered_extensions()
    if extension not in formats or formats[extension] not in Image.SAVE:
        raise ImageError(
            f"cannot write images with extension {extension or '(none)'!r}; "
            "use .png, .jpg, .webp, .tif, …")
    return formats[extension]


def encode_image(image: Image.Image, fmt: str) -> tuple[bytes, list[str]]:
    """Encodes an image into a file format, dropping what it cannot hold."""
    notes = []
    params = {}
    if image.info.get("icc_profile"):
        params["icc_profile"] = image.info["icc_profile"]
    if image.info.get("exif"):
        params["exif"] = image.info["exif"]
    if fmt in ("JPEG", "WEBP"):
        params["quality"] = 95
    if fmt in ("JPEG", "BMP", "PPM") and image.mode.endswith("A"):
        image = image.convert(image.mode[:-1])
        notes.append(f"{fmt} holds no alpha: dropped it")
    buffer = io.BytesIO()
    try:
        image.save(buffer, fmt, **params)
    except (OSError, ValueError, KeyError) as e:
        raise ImageError(f"cannot write {image.mode} image as {fmt}: {e}")
    return buffer.getvalue(), notes


def write_image(image: Image.Image, path: str | os.PathLike,
                force: bool = False) -> list[str]:
    """Writes an image, format from the extension; returns notes."""
    data, notes = encode_image(image, output_format(path))
    write_new_file(path, data, force=force)
    return notes
