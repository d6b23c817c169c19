"""The Python API: load a model, compress an image to bytes and back."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from tfgancomp.deploy import resolve
from tfgancomp.errors import BitstreamError, ModelError, ModelMismatchError
from tfgancomp.formats import bitstream
from tfgancomp.formats.image_io import (
    Picture,
    picture_from_pil,
    picture_to_pil,
)
from tfgancomp.model.protocol import CodingModel


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


def compress(image, model=None, effort: int = 0) -> bytes:
    """Compresses a Pillow image, an [H, W(, 3)] uint8 array or a Picture
    with `model`, or by default with the default shipped model (loaded anew
    on each call: pass a model to compress many images).

    `effort` above 0 refines the latents of this image for the model's
    rate-distortion objective (`tfgancomp.model.refine`): smaller files at
    the same quality, decodable by the same decoders, seconds per image.
    """
    picture = _as_picture(image)
    if model is None:
        model = load_model()
    if effort:
        from tfgancomp.model import refine
        refine.steps_of(effort)  # a bad level fails before any work
        codec = refinable(model)
        string, side_string = refine.compress(codec, picture.rgb,
                                              codec.lmbda, effort)
    else:
        string, side_string = model.compress(picture.rgb)
    alpha = None if picture.alpha is None else picture.alpha.tobytes()
    return bitstream.pack(bitstream.Container(
        height=picture.height, width=picture.width, mode=picture.mode,
        model_name=model.model_name, model_fingerprint=model.fingerprint(),
        string=string.numpy(), side_string=side_string.numpy(), alpha=alpha,
        icc_profile=picture.icc_profile, exif=picture.exif))


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
    if container.model_fingerprint != fingerprint:
        raise ModelMismatchError(
            f"file was written by model '{container.model_name}' "
            f"({container.model_fingerprint.hex()}), not by "
            f"'{model.model_name}' ({fingerprint.hex()})")


def decompress_container(container: bitstream.Container,
                         model=None) -> Picture:
    """Decodes a parsed file with `model`, or by default with the shipped
    model its header names."""
    import tensorflow as tf
    if model is None:
        model = resolve.for_header(container.model_name)
    check_model(container, model)
    try:
        rgb = model.decompress(container.string, container.side_string,
                               [container.height, container.width]).numpy()
    except tf.errors.InvalidArgumentError:
        raise BitstreamError("entropy-coded data does not decode") from None
    alpha = None
    if container.alpha is not None:
        alpha = np.frombuffer(container.alpha, np.uint8).reshape(
            container.height, container.width)
    return Picture(rgb=rgb, mode=container.mode, alpha=alpha,
                   icc_profile=container.icc_profile, exif=container.exif)


def decompress(data: bytes, model=None) -> Image.Image:
    """Decodes .tfgc bytes to a Pillow image with its ICC profile and EXIF.

    Without `model`, the shipped model named in the header decodes (loaded
    anew on each call: pass a model to decode many files)."""
    return picture_to_pil(decompress_container(bitstream.unpack(data), model))
