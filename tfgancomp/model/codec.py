"""The learned codec: analysis, an entropy model of the latents, synthesis.

    image ─► analyze ─► y ─► entropy model ─► ŷ ─► synthesize ─► image
                                  │ compress / decompress (range coder)

Each step is public and is what the exported SavedModels compose: the
`compress`/`decompress` tf.functions here, and the stock signatures of
`deploy.savedmodel` from the entropy model's steps around the range coder.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfgancomp.model.channelwise import ChannelwisePrior
from tfgancomp.model.config import ModelConfig
from tfgancomp.model.geometry import ceil_div, pad_to_multiple
from tfgancomp.model.hyperprior import Hyperprior
from tfgancomp.model.transforms import AnalysisTransform, SynthesisTransform


class Forward(NamedTuple):
    """What one forward pass returns, per batch element where it applies."""
    reconstruction: tf.Tensor  # [B, H, W, 3] float, nominally in [0, 1]
    latents: tf.Tensor  # [B, h, w, C] quantized latents ŷ the decoder sees
    bits: tf.Tensor  # [B] estimated bits of y
    side_bits: tf.Tensor  # [B] estimated bits of z


class Codec(tf.keras.Model):
    """Encoder, decoder and entropy model of one codec."""

    def __init__(self, config: ModelConfig, **kwargs):
        # Float32 at the codec's boundary and in the entropy model, even
        # when the transforms compute in a lower precision.
        super().__init__(name="codec", dtype="float32", **kwargs)
        self.config = config
        self.analysis = AnalysisTransform(config)
        self.synthesis = SynthesisTransform(config)
        self.entropy = (ChannelwisePrior(config)
                        if config.entropy_model == "channelwise"
                        else Hyperprior(config))
        self.model_name = "unnamed"  # set by whoever loads it
        # The rate-distortion weight it was trained at, if known: what
        # encoder-side refinement optimises for.
        self.lmbda: float | None = None
        self.analysis.build((None, None, None, 3))
        self.synthesis.build((None, None, None, config.latent_channels))

    # The steps.

    def latent_size(self, image_size):
        """[h, w] of the latents of an [H, W] image."""
        return ceil_div(image_size, self.config.latent_stride)

    def side_size(self, image_size):
        """[h, w] of the side latents of an [H, W] image."""
        return ceil_div(image_size, self.config.hyper_stride)

    def analyze(self, images):
        """Latents y (float32) of float images [B, H, W, 3] in [0, 1],
        padded to a multiple of the latent stride: ⌈H/s⌉×⌈W/s⌉ positions."""
        padded = pad_to_multiple(images, self.config.latent_stride)
        return tf.cast(self.analysis(padded), tf.float32)

    def reconstruct(self, y_hat, image_size):
        """Float reconstruction [B, H, W, 3] of ŷ, cropped to the image."""
        x_hat = tf.cast(self.synthesis(y_hat), tf.float32)
        return x_hat[:, :image_size[0], :image_size[1], :]

    def synthesize(self, y_hat, image_size):
        """uint8 image [H, W, 3] of one image's ŷ [1, h, w, C]."""
        x_hat = self.reconstruct(y_hat, image_size)[0]
        return tf.saturate_cast(tf.round(x_hat * 255.), tf.uint8)

    def call(self, images, training=False) -> Forward:
        """Forward pass on float images in [0, 1] of shape [B, H, W, 3].

        With `training=True`, bits are the differentiable noisy-latent
        estimates; otherwise they are the information content of the rounded
        latents under the coding prior: what `compress` writes, within a few
        percent for a well-trained model (see BUILD_NOTES.md).
        """
        y_hat, bits, side_bits = self.entropy(self.analyze(images),
                                              training=training)
        x_hat = self.reconstruct(y_hat, tf.shape(images)[1:3])
        return Forward(x_hat, y_hat, bits, side_bits)

    # Coding with fixed tables.

    @property
    def can_code(self) -> bool:
        return self.entropy.can_code

    def fix_tables(self, placeholders: bool = False):
        """Builds the range-coding tables from the trained priors, once
        (`placeholders`: empty tables that a restore overwrites)."""
        self.entropy.fix_tables(placeholders)

    def _with_weights(self, tables: list) -> list:
        """The transforms' weights, then `tables`: the order fingerprints
        hash them in."""
        return (list(self.analysis.variables) +
                self.entropy.transform_variables() +
                list(self.synthesis.variables) + tables)

    def coding_tensors(self) -> list[tf.Tensor]:
        """Every weight and table that compress or decompress reads."""
        return self._with_weights(self.entropy.table_tensors())

    def coding_variables(self) -> list[tf.Variable]:
        """The variables behind `coding_tensors`: what exports hold."""
        return self._with_weights(self.entropy.table_variables())

    def fingerprint(self) -> bytes:
        """8 bytes identifying this model: its config, weights and tables."""
        digest = hashlib.sha256(self.config.to_json().encode())
        for tensor in self.coding_tensors():
            value = np.ascontiguousarray(tensor.numpy())
            digest.update(f"{value.shape}{value.dtype.str}".encode())
            digest.update(value.tobytes())
        return digest.digest()[:8]

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
    def compress(self, image):
        """uint8 image [H, W, 3] → (latent string, side-latent string)."""
        y = self.analyze(tf.cast(image, tf.float32)[None] / 255.)
        return self.entropy.compress(y)

    @tf.function(input_signature=[
        tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string),
        tf.TensorSpec([2], tf.int32)])
    def decompress(self, string, side_string, image_size):
        """(latent string, side-latent string, [H, W]) → uint8 [H, W, 3]."""
        y_hat = self.entropy.decompress(
            string, side_string, self.latent_size(image_size),
            self.side_size(image_size))
        return self.synthesize(y_hat, image_size)
