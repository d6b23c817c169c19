"""The Python API: load a model, compress an image to bytes and back."""

from __future__ import annotations

import dataclasses
import functools
import os
import sys

import numpy as np
from PIL import Image

from tfgancomp.deploy import resolve
from tfgancomp.errors import (
    BitstreamError,
    ImageError,
    ModelError,
    ModelMismatchError,
    TfgancompError,
)
from tfgancomp.formats import bitstream
from tfgancomp.formats.image_io import (
    Picture,
    picture_from_pil,
    picture_to_pil,
)
from tfgancomp.model.protocol import CodingModel, reads

# The knobs' values when none are given (see README, "Variable rate and
# realism"): a quality near a third of a bit per pixel on photos (the
# shipped default's λ 0.0034), and the faithful reconstruction: realism is
# asked for, since its grain is invented detail that costs 0.5-1.1 dB below
# 0.4 bpp and overshoots on smooth photos (BUILD_NOTES.md, "Realism as
# learned grain").
DEFAULT_QUALITY = 0.3
DEFAULT_REALISM = 0.0


def load_model(model: str | os.PathLike | None = None) -> CodingModel:
    """Loads a shipped model by name (the default model if None), a
    training run, a model directory or an export: the rules of
    `tfgancomp.deploy.resolve`."""
    return resolve.load(model)


def _as_picture(image) -> Picture:
    if isinstance(image, Picture):
        return image
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    return picture_from_pil(image)


def _tf_errors(function):
    """TensorFlow's errors while coding (out of memory, data that does not
    decode) become the package's errors, with one line of message."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except MemoryError:
            raise TfgancompError("out of memory (refuse large images with "
                                 "max_pixels)") from None
        except Exception as e:
            tf = sys.modules.get("tensorflow")
            if tf is None or not isinstance(e, tf.errors.OpError):
                raise
            first = (str(e.message).strip().splitlines() or [""])[0][:200]
            if isinstance(e, tf.errors.ResourceExhaustedError):
                raise TfgancompError(f"out of memory (refuse large images "
                                     f"with max_pixels): {first}") from None
            raise BitstreamError(f"coding failed: {first}") from None
    return wrapper


def _check_pixels(image, max_pixels) -> None:
    """ImageError, before any work, if `image` exceeds `max_pixels`."""
    if isinstance(image, Image.Image):
        width, height = image.size
    elif isinstance(image, Picture):
        height, width = image.height, image.width
    else:
        height, width = np.shape(image)[:2]
    bitstream.check_max_pixels(height, width, max_pixels, ImageError)


def knobs(model) -> dict[str, bool]:
    """Which knobs `model` has: `quality` (chosen when compressing, stored
    in the file) and `realism` (chosen when decompressing)."""
    return {"quality": model.variable_rate, "realism": model.has_realism}


def _knob(model, name: str, value, default):
    """The value to use for knob `name`: `default` when not given, None
    for a model without it (ModelError if one was given anyway)."""
    if not knobs(model)[name]:
        if value is not None:
            raise ModelError(f"model '{model.model_name}' has no {name} "
                             "knob")
        return None
    value = default if value is None else value
    if isinstance(value, bool) or not (
            isinstance(value, (int, float)) and 0 <= value <= 1):
        raise ModelError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


@_tf_errors
def compress(image, model=None, effort: int = 0,
             max_pixels: int | None = None, quality: float | None = None,
             bpp: float | None = None, tile: int | None = None) -> bytes:
    """Compresses a Pillow image, an [H, W(, 3)] uint8 array or a Picture
    with `model`, or by default with the default shipped model (loaded anew
    on each call: pass a model to compress many images).

    A variable-rate model codes at `quality` in [0, 1] (`DEFAULT_QUALITY`
    if not given), or at the quality whose file comes closest to `bpp` bits
    per pixel without exceeding it (`quality_for_bpp`).
    `effort` above 0 refines the latents of this image for the model's
    rate-distortion objective (`tfgancomp.model.refine`): smaller files at
    the same quality, decodable by the same decoders, seconds per image;
    where realism is drawn as grain, it also fits the grain's strength to
    the image (`tfgancomp.model.grain_fit`, format version 3).
    With `max_pixels`, a larger image is refused (ImageError) first.
    An image larger than one tile of `tile` latents a side (by default
    `tiling.DEFAULT_TILE`: 1024×1024 pixels) is coded in tiles, in memory
    bounded by one tile (`tfgancomp.model.tiling`).
    """
    _check_pixels(image, max_pixels)
    if tile is not None and (isinstance(tile, bool) or not (
            bitstream.MIN_TILE <= tile <= bitstream.MAX_TILE)):
        raise ImageError(f"tile must be an integer in {bitstream.MIN_TILE}"
                         f"..{bitstream.MAX_TILE}, got {tile!r}")
    picture = _as_picture(image)
    if model is None:
        model = load_model()
    if effort:
        from tfgancomp.model import refine
        refine.steps_of(effort)  # a bad level fails before any work
        refinable(model)
    if bpp is not None:
        if quality is not None:
            raise ModelError("give a quality or a bpp, not both")
        quality = quality_for_bpp(picture, model, bpp, tile)
    quality = _knob(model, "quality", quality, DEFAULT_QUALITY)
    return _encode(picture, model, quality, effort, tile)


def _encode(picture: Picture, model, quality: float | None,
            effort: int = 0, tile: int | None = None) -> bytes:
    """The .tfgc bytes of `picture` at `quality` (None: a fixed-rate
    model), as the file will hold the quality, in tiles of `tile` latents
    (None: the default) if it exceeds one."""
    if quality is not None:
        quality = bitstream.quantize_quality(quality)
    from tfgancomp.model import tiling
    tile = tiling.tile_for(_model_config(model), picture.height,
                           picture.width, tile)
    if effort:
        from tfgancomp.model import refine
        if tile is not None:
            raise ImageError(f"effort above 0 refines images of one tile "
                             f"({tile} latents a side); this one of "
                             f"{picture.width}x{picture.height} is coded "
                             "in tiles")
        string, side_string = refine.compress(
            refinable(model), picture.rgb, effort, quality)
    elif tile is not None:
        string, side_string = tiling.compress(
            _coding_codec(model), picture.rgb, quality, tile)
    else:
        string, side_string = model.compress(picture.rgb, quality=quality)
    alpha = None if picture.alpha is None else picture.alpha.tobytes()
    container = bitstream.Container(
        height=picture.height, width=picture.width, mode=picture.mode,
        model_name=model.model_name, model_fingerprint=model.fingerprint(),
        string=string.numpy(), side_string=side_string.numpy(), alpha=alpha,
        icc_profile=picture.icc_profile, exif=picture.exif, quality=quality,
        tile=tile)
    if effort and _model_config(model).realism_draws("grain"):
        container = dataclasses.replace(
            container, grain=_fitted_grain(picture.rgb, container, model))
    return bitstream.pack(container)


def _fitted_grain(rgb: np.ndarray, container: bitstream.Container,
                  model) -> float | None:
    """The grain gain of `container`'s image, as the file will hold it."""
    from tfgancomp.model import grain_fit
    gain = grain_fit.fit(rgb, _decode(container, model, 0.),
                         _decode(container, model, 1.))
    return None if gain is None else bitstream.quantize_grain(gain)


def _model_config(model):
    """The `ModelConfig` of a `Codec` or of a loaded export."""
    from tfgancomp.model.config import ModelConfig
    config = model.config
    return (config if isinstance(config, ModelConfig)
            else ModelConfig.from_dict(config))


def _coding_codec(model, decoding: bool = False):
    """The in-memory `Codec` that tiled coding runs: `model` itself, or
    one rebuilt from a loaded export's weights (for `decoding`, from its
    decoder's alone)."""
    from tfgancomp.model.codec import Codec
    return model if isinstance(model, Codec) else model.codec(
        estimates=False, decoding=decoding)


def quality_for_bpp(image, model, bpp: float,
                    tile: int | None = None) -> float:
    """The highest quality of a variable-rate model whose file of `image`
    takes at most `bpp` bits per pixel (quality 0 if none does), found by
    bisection on real coding: about 16 encodings."""
    picture = _as_picture(image)
    if not knobs(model)["quality"]:
        raise ModelError(f"model '{model.model_name}' has one fixed rate: "
                         "no bpp to choose")
    if isinstance(bpp, bool) or not (
            isinstance(bpp, (int, float)) and bpp > 0):
        raise ModelError(f"bpp must be a positive number, got {bpp!r}")
    budget = bpp * picture.height * picture.width / 8
    low, high = 0, bitstream.QUALITY_STEPS  # quality codes
    while low < high:
        middle = (low + high + 1) // 2
        quality = bitstream.quality_of_code(middle)
        if len(_encode(picture, model, quality, tile=tile)) <= budget:
            low = middle
        else:
            high = middle - 1
    return bitstream.quality_of_code(low)


def refinable(model):
    """The in-memory `Codec` of `model` (a loaded export is rebuilt from
    its weights), which refinement differentiates; ModelError if the λ
    it was trained at is unknown."""
    from tfgancomp.model.codec import Codec
    codec = model if isinstance(model, Codec) else model.codec()
    if codec.lmbda is None:
        raise ModelError(f"model '{model.model_name}' does not record the "
                         "rate-distortion weight it was trained at, which "
                         "refinement (effort above 0) optimises for")
    return codec


def check_model(container: bitstream.Container, model) -> None:
    """Raises ModelMismatchError unless `model` wrote `container`."""
    fingerprint = model.fingerprint()
    if not reads(model, container.model_fingerprint):
        raise ModelMismatchError(
            f"file was written by model '{container.model_name}' "
            f"({container.model_fingerprint.hex()}), not by "
            f"'{model.model_name}' ({fingerprint.hex()})")


@_tf_errors
def decompress_container(container: bitstream.Container,
                         model=None, max_pixels: int | None = None,
                         realism: float | None = None) -> Picture:
    """Decodes a parsed file with `model`, or by default with the shipped
    model its header names; BitstreamError first if its image has more
    than `max_pixels` pixels. A model with the realism knob decodes at
    `realism` in [0, 1] (`DEFAULT_REALISM` if not given)."""
    bitstream.check_max_pixels(container.height, container.width,
                               max_pixels)  # before importing TensorFlow
    import tensorflow as tf
    if model is None:
        model = resolve.for_header(container.model_name,
                                   container.model_fingerprint)
    check_model(container, model)
    realism = _knob(model, "realism", realism, DEFAULT_REALISM)
    if (container.quality is None) == model.variable_rate:
        raise BitstreamError(
            f"the file {'lacks' if model.variable_rate else 'has'} the "
            f"quality a {'variable' if model.variable_rate else 'fixed'}-"
            "rate model needs")
    try:
        rgb = _decode(container, model, realism)
    except tf.errors.InvalidArgumentError:
        raise BitstreamError("entropy-coded data does not decode") from None
    alpha = None
    if container.alpha is not None:
        alpha = np.frombuffer(container.alpha, np.uint8).reshape(
            container.height, container.width)
    return Picture(rgb=rgb, mode=container.mode, alpha=alpha,
                   icc_profile=container.icc_profile, exif=container.exif)


def _decode(container: bitstream.Container, model, realism) -> np.ndarray:
    """The uint8 pixels of a file's strings: in tiles when the file says
    so or when a file from before tiling holds more than one tile; with
    the file's grain gain, if it has one."""
    from tfgancomp.model import grain_fit, tiling
    config = _model_config(model)
    realism = grain_fit.realism_with(realism, container.grain,
                                     config.realism_draws("grain"))
    size = [container.height, container.width]
    if container.tile is not None:
        return tiling.decompress(
            _coding_codec(model, decoding=True), container.string,
            container.side_string, size, container.tile, container.quality,
            realism)
    if tiling.tile_for(config, *size) is None:
        return model.decompress(container.string, container.side_string,
                                size, quality=container.quality,
                                realism=realism).numpy()
    codec = _coding_codec(model, decoding=True)
    y_hat = codec.decode_latents(container.string, container.side_string,
                                 size)
    return tiling.synthesize(codec, y_hat[0].numpy(), size,
                             tiling.DEFAULT_TILE, container.quality, realism)


def decompress(data: bytes, model=None, max_pixels: int | None = None,
               realism: float | None = None) -> Image.Image:
    """Decodes .tfgc bytes to a Pillow image with its ICC profile and EXIF.

    Without `model`, the shipped model named in the header decodes (loaded
    anew on each call: pass a model to decode many files). With
    `max_pixels`, a file whose image has more pixels is refused
    (BitstreamError) before any work."""
    return picture_to_pil(decompress_container(
        bitstream.unpack(data, max_pixels), model, realism=realism))
