"""What the service does with one upload: compress, decode, compare, and
the page's evaluation (our model next to JPEG and WebP at the same size).

Plain functions over bytes, the registry and the limits; they run on the
job queue's workers and report progress through a callback, which raises
to cancel.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np
from PIL import Image

from tfgancomp import api
from tfgancomp.errors import ConfigError, ModelMismatchError
from tfgancomp.evaluation import classical, metrics
from tfgancomp.formats import bitstream
from tfgancomp.formats.image_io import Picture, encode_image, picture_to_pil
from tfgancomp.model import effort as effort_levels
from tfgancomp.serve import knobs
from tfgancomp.serve.uploads import (
    is_tfgc,
    read_container,
    read_picture,
)

# Output formats of decoded images: name -> (Pillow format, media type,
# extension).
FORMATS = {"png": ("PNG", "image/png", ".png"),
           "webp": ("WEBP", "image/webp", ".webp"),
           "jpeg": ("JPEG", "image/jpeg", ".jpg")}
# The classical codecs the page shows at our file's size.
CLASSICAL = ("jpeg-420", "webp")
# Formats a compared file is lossy-compressed in (then bpp is shown).
LOSSY = ("JPEG", "WEBP", "JPEG2000", "AVIF", "JXL", "HEIF", "MPO")

Progress = Callable[[float, str], None]


def _no_progress(fraction: float, message: str) -> None:
    pass


@dataclasses.dataclass(frozen=True)
class Options:
    """What a client chose; checked on creation (ConfigError)."""
    model: str | None = None
    effort: int = 0
    quality: float | None = None
    realism: float | None = None
    format: str = "png"

    def __post_init__(self):
        effort_levels.steps_of(self.effort)
        if self.format not in FORMATS:
            raise ConfigError(f"format must be one of {', '.join(FORMATS)}"
                              f", got '{self.format}'")
        for name in ("quality", "realism"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number")


def finite(value):
    """JSON has no infinity: None for inf and NaN (an unchanged image)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def encode_png(image: Image.Image) -> bytes:
    return encode_image(image, "PNG")[0]


def model_for(registry, container: bitstream.Container,
              name: str | None):
    """The model that decodes a file: the one asked for, else the served
    model that wrote it."""
    if name:
        return registry.get(name)
    model = registry.by_fingerprint(container.model_fingerprint)
    if model is None:
        raise ModelMismatchError(
            f"the file was written by model '{container.model_name}' "
            f"({container.model_fingerprint.hex()}), which this server "
            f"does not serve (served: {', '.join(registry.names)})")
    return model


def compress(registry, data: bytes, options: Options,
             max_pixels: int) -> tuple[bytes, dict]:
    """An image file -> (.tfgc bytes, facts)."""
    picture, _ = read_picture(data, max_pixels)
    model = registry.get(options.model)
    tfgc = api.compress(picture, model, options.effort,
                        **knobs.compress_arguments(model, options.quality))
    return tfgc, {
        "model": model.model_name, "width": picture.width,
        "height": picture.height, "mode": picture.mode, "bytes": len(tfgc),
        "bpp": metrics.bits_per_pixel(len(tfgc), picture.height,
                                      picture.width),
        "notes": list(picture.notes)}


def decode(registry, data: bytes, options: Options,
           max_pixels: int) -> tuple[Picture, dict]:
    """.tfgc bytes -> (decoded Picture, facts)."""
    container = read_container(data, max_pixels)
    model = model_for(registry, container, options.model)
    picture = api.decompress_container(
        container, model, **knobs.decompress_arguments(model,
                                                       options.realism))
    return picture, {
        "model": model.model_name, "width": container.width,
        "height": container.height, "mode": container.mode,
        "bytes": len(data),
        "bpp": metrics.bits_per_pixel(len(data), container.height,
                                      container.width)}


def decompress(registry, data: bytes, options: Options,
               max_pixels: int) -> tuple[bytes, dict]:
    """.tfgc bytes -> (image file in `options.format`, facts)."""
    picture, facts = decode(registry, data, options, max_pixels)
    fmt, media_type, extension = FORMATS[options.format]
    image, notes = encode_image(picture_to_pil(picture), fmt)
    return image, dict(facts, media_type=media_type, extension=extension,
                       notes=notes)


def measure(original: np.ndarray, other: np.ndarray) -> dict:
    return {"psnr": finite(metrics.psnr(original, other)),
            "ms_ssim": finite(metrics.ms_ssim(original, other))}


def _pixels(registry, data: bytes, max_pixels: int) -> tuple[np.ndarray,
                                                              bool]:
    """RGB pixels of an image or .tfgc upload, and whether it is lossy
    compressed."""
    if is_tfgc(data):
        return decode(registry, data, Options(), max_pixels)[0].rgb, True
    picture, fmt = read_picture(data, max_pixels)
    return picture.rgb, fmt in LOSSY


def compare(registry, original: bytes, other: bytes,
            max_pixels: int) -> dict:
    """PSNR, SSIM, MS-SSIM of `other` against `original`, and the bpp of
    `other` where it is a compressed file (.tfgc, JPEG, WebP, …)."""
    a, _ = _pixels(registry, original, max_pixels)
    b, lossy = _pixels(registry, other, max_pixels)
    if a.shape != b.shape:
        raise ConfigError(f"images differ in size: {a.shape[1]}x"
                          f"{a.shape[0]} vs {b.shape[1]}x{b.shape[0]}")
    height, width = a.shape[:2]
    values = dict(measure(a, b), ssim=finite(metrics.ssim(a, b)),
                  width=width, height=height, bytes=len(other),
                  bpp=None, ratio_vs_raw=None)
    if lossy:
        values["bpp"] = metrics.bits_per_pixel(len(other), height, width)
        values["ratio_vs_raw"] = metrics.compression_ratio(len(other),
                                                           height, width)
    return values


def _classical_at(rgb: np.ndarray, bpp: float) -> list[tuple[dict, bytes]]:
    rows = []
    for name in CLASSICAL:
        if classical.unavailable_reason(name):
            continue
        codec = classical.CODECS[name]
        value, data = classical.encode_at_bpp(codec, rgb, bpp)
        decoded = classical.decode(codec, data)
        rows.append((dict(
            measure(rgb, decoded), codec=name, label=codec.description,
            setting=codec.setting(value), bytes=len(data),
            bpp=metrics.bits_per_pixel(len(data), *rgb.shape[:2]),
            extension=codec.extension), data))
    return rows


def evaluate(registry, data: bytes, options: Options, max_pixels: int,
             progress: Progress = _no_progress) -> tuple[dict, dict]:
    """The page's work for one photo: compress, decode, measure, and JPEG
    and WebP at the same size. Returns (facts, files by role: `tfgc`,
    `original`, `decoded`, and one per classical codec)."""
    progress(0.02, "reading the image")
    picture, _ = read_picture(data, max_pixels)
    model = registry.get(options.model)
    progress(0.05, f"compressing with {model.model_name}")
    tfgc = api.compress(picture, model, options.effort,
                        **knobs.compress_arguments(model, options.quality))
    progress(0.35, "decoding")
    decoded = api.decompress_container(
        bitstream.unpack(tfgc), model,
        **knobs.decompress_arguments(model, options.realism))
    progress(0.55, "measuring")
    size = (picture.height, picture.width)
    ours = dict(measure(picture.rgb, decoded.rgb), codec="tfgancomp",
                label=model.model_name, setting=_setting(options),
                bytes=len(tfgc), bpp=metrics.bits_per_pixel(len(tfgc), *size),
                extension=".tfgc")
    progress(0.65, "JPEG and WebP at the same size")
    rows = _classical_at(picture.rgb, ours["bpp"])
    progress(0.95, "writing the results")
    files = {"tfgc": tfgc, "original": encode_png(picture_to_pil(picture)),
             "decoded": encode_png(picture_to_pil(decoded))}
    files.update({row["codec"]: file for row, file in rows})
    facts = {"kind": "compressed", "model": model.model_name,
             "width": picture.width, "height": picture.height,
             "mode": picture.mode, "input_bytes": len(data),
             "notes": list(picture.notes),
             "codecs": [ours] + [row for row, _ in rows]}
    return facts, files


def _setting(options: Options) -> str:
    parts = [f"effort={options.effort}"]
    for name in ("quality", "realism"):
        if getattr(options, name) is not None:
            parts.append(f"{name}={getattr(options, name):g}")
    return ", ".join(parts)


def decode_upload(registry, data: bytes, options: Options, max_pixels: int,
                  progress: Progress = _no_progress) -> tuple[dict, dict]:
    """The page's work for a dropped .tfgc: decode it."""
    progress(0.05, "decoding")
    picture, facts = decode(registry, data, options, max_pixels)
    progress(0.9, "writing the results")
    return (dict(facts, kind="decoded", notes=[]),
            {"decoded": encode_png(picture_to_pil(picture))})


def process(registry, data: bytes, options: Options, max_pixels: int,
            progress: Progress = _no_progress) -> tuple[dict, dict]:
    """One file of a job: a .tfgc is decoded, an image evaluated."""
    work = decode_upload if is_tfgc(data) else evaluate
    return work(registry, data, options, max_pixels, progress)
