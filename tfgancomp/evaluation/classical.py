"""Classical codecs through Pillow: JPEG, WebP, JPEG 2000, AVIF, JPEG XL.

Each codec has one knob that raises rate and quality together, a default
sweep of it, and a search for the knob value that hits a target bpp. Every
size is that of the complete file Pillow writes (headers and container
included, no metadata: images are encoded from bare RGB pixels), so that
bpp = 8 × file bytes / pixels.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Callable

import numpy as np
from PIL import Image, features

from tfgancomp.errors import TfgancompError
from tfgancomp.evaluation.metrics import bits_per_pixel


@dataclasses.dataclass(frozen=True)
class ClassicalCodec:
    name: str
    description: str
    knob: str  # what the sweep varies; higher gives more bits
    low: float  # the knob's range, for the bpp search
    high: float
    integer: bool
    sweep: tuple[float, ...]
    save: Callable[[float], dict]  # knob value -> Image.save arguments
    extension: str  # of the files it writes

    def setting(self, value: float) -> str:
        return f"{self.knob}={value:g}"


def _jpeg(subsampling: int) -> Callable[[float], dict]:
    return lambda q: dict(format="JPEG", quality=int(q),
                          subsampling=subsampling, optimize=True)


_JPEG_SWEEP = (5, 10, 15, 25, 35, 50, 65, 80, 90)

CODECS = {c.name: c for c in (
    ClassicalCodec(
        "jpeg-420", "JPEG 4:2:0 (libjpeg-turbo, optimized Huffman)",
        "quality", 1, 95, True, _JPEG_SWEEP, _jpeg(2), ".jpg"),
    ClassicalCodec(
        "jpeg-444", "JPEG 4:4:4 (libjpeg-turbo, optimized Huffman)",
        "quality", 1, 95, True, _JPEG_SWEEP, _jpeg(0), ".jpg"),
    ClassicalCodec(
        "webp", "WebP (libwebp, method 6)", "quality", 0, 100, False,
        (0, 10, 25, 40, 55, 70, 80, 90, 95),
        lambda q: dict(format="WEBP", quality=float(q), method=6), ".webp"),
    ClassicalCodec(
        "jpeg2000", "JPEG 2000 (OpenJPEG, 9/7 wavelet, colour transform, "
        "rate-targeted)", "rate", 0.01, 12.0, False,
        (0.1, 0.15, 0.25, 0.4, 0.6, 0.85, 1.2, 1.7, 2.4),
        lambda bpp: dict(format="JPEG2000", quality_mode="rates",
                         quality_layers=[24.0 / bpp], irreversible=True,
                         mct=1), ".jp2"),
    ClassicalCodec(
        "avif", "AVIF (Pillow's libavif, 4:2:0, speed 6)", "quality", 0,
        100, True, (5, 20, 35, 50, 60, 70, 80, 88, 94),
        lambda q: dict(format="AVIF", quality=int(q), speed=6), ".avif"),
    ClassicalCodec(
        "jpegxl", "JPEG XL (pillow-jxl-plugin, effort 7)", "quality", 0,
        99, False, (5, 20, 35, 50, 65, 75, 85, 90, 95),
        lambda q: dict(format="JXL", quality=float(q), effort=7,
                       lossless_jpeg=False), ".jxl"),
)}

# What --codecs accepts: a family name or one codec's name.
FAMILIES = {"jpeg": ("jpeg-420", "jpeg-444"), "webp": ("webp",),
            "jpeg2000": ("jpeg2000",), "avif": ("avif",),
            "jpegxl": ("jpegxl",)}

_PILLOW_FEATURES = {"jpeg-420": "jpg", "jpeg-444": "jpg", "webp": "webp",
                    "jpeg2000": "jpg_2000", "avif": "avif"}


def _import_jxl():
    import pillow_jxl  # noqa: F401  (registers the JXL format with Pillow)


def unavailable_reason(name: str) -> str | None:
    """Why codec `name` cannot run here, or None if it can."""
    if name == "jpegxl":
        try:
            _import_jxl()
        except ImportError:
            return ("needs pillow-jxl-plugin: pip install "
                    "'tfgancomp[jxl]'")
        return None
    feature = _PILLOW_FEATURES[name]
    if not features.check(feature):
        return f"this Pillow was built without {feature} support"
    return None


def resolve(names: str) -> list[ClassicalCodec]:
    """Codecs for a comma-separated list of codec or family names."""
    chosen = []
    for name in filter(None, (n.strip().lower() for n in names.split(","))):
        if name not in FAMILIES and name not in CODECS:
            raise TfgancompError(
                f"unknown codec {name!r}: choose from "
                f"{', '.join(sorted(set(FAMILIES) | set(CODECS)))}")
        for member in FAMILIES.get(name, (name,)):
            if CODECS[member] not in chosen:
                chosen.append(CODECS[member])
    if not chosen:
        raise TfgancompError("no codec named")
    return chosen


def _load_plugin(codec: ClassicalCodec) -> None:
    if codec.name == "jpegxl":
        _import_jxl()


def encode(codec: ClassicalCodec, rgb: np.ndarray, value: float) -> bytes:
    """The file `codec` writes for [H, W, 3] uint8 pixels at knob `value`."""
    _load_plugin(codec)
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, **codec.save(value))
    return buffer.getvalue()


def decode(codec: ClassicalCodec, data: bytes) -> np.ndarray:
    """[H, W, 3] uint8 pixels of a file `codec` wrote."""
    _load_plugin(codec)
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def encode_at_bpp(codec: ClassicalCodec, rgb: np.ndarray, target: float,
                  tolerance: float = 0.005, steps: int = 24
                  ) -> tuple[float, bytes]:
    """(knob value, file) whose bpp is closest to `target`.

    Bisection on the knob, each step a real encoding (the bpp rises with
    the knob). Integer knobs stop at two neighbours, continuous ones within
    `tolerance` (relative) or after `steps` halvings. Targets outside the
    codec's range give the knob's end.
    """
    tried = {}

    def size_at(value):
        if value not in tried:
            tried[value] = encode(codec, rgb, value)
        return bits_per_pixel(len(tried[value]), *rgb.shape[:2])

    low, high = codec.low, codec.high
    if size_at(low) < target < size_at(high):
        for _ in range(steps):
            middle = (low + high) / 2
            if codec.integer:
                if high - low <= 1:
                    break
                middle = int(middle)
            rate = size_at(middle)
            if abs(rate / target - 1) <= tolerance:
                break
            low, high = (middle, high) if rate < target else (low, middle)
    best = min(tried, key=lambda v: abs(size_at(v) / target - 1))
    return best, tried[best]
