"""The learned codec: transforms plus tensorflow-compression entropy models.

A mean-scale hyperprior (Minnen et al., 2018): side latents z carry, through
the hyper-synthesis, the mean and scale of a Gaussian for each latent of y.
Rates come from tfc entropy models:

* z: `ContinuousBatchedEntropyModel` over a learned `NoisyDeepFactorized`
  prior, one density per channel;
* y: `LocationScaleIndexedEntropyModel(NoisyNormal)`, whose scale is picked
  from `num_scales` log-spaced values by the predicted index.

In training, latents get additive uniform noise for a differentiable rate,
while the synthesis sees straight-through rounded latents (as HiFiC does) so
that it learns on what it will decode. After training, `fix_tables()` builds
range-coding tables once; `compress`/`decompress` use only those tables, so
encoder and decoder never derive them independently.
"""

from __future__ import annotations

import hashlib
import math
from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from tfgancomp.config import ModelConfig
from tfgancomp.transforms import (
    AnalysisTransform,
    HyperAnalysis,
    HyperSynthesis,
    SynthesisTransform,
)


class Forward(NamedTuple):
    """What one forward pass returns, per batch element where it applies."""
    reconstruction: tf.Tensor  # [B, H, W, 3] float, nominally in [0, 1]
    latents: tf.Tensor  # [B, h, w, C] quantized latents ŷ the decoder sees
    bits: tf.Tensor  # [B] estimated bits of y
    side_bits: tf.Tensor  # [B] estimated bits of z


def _ste_round(x):
    """Rounds in the forward pass, identity gradient in the backward pass."""
    return x + tf.stop_gradient(tf.round(x) - x)


def _ceil_div(size, stride):
    return (size + stride - 1) // stride


def _pad_to_multiple(x, multiple: int):
    """Pads [B, H, W, C] at the bottom and right to multiples of `multiple`,
    repeating the last row and column.

    'same' convolutions with stride 2 pad asymmetrically on odd sizes, which
    shifts the sampling grid by a pixel against even sizes; the decoder's
    upsampling cannot know it. Padded inputs keep every level even.
    """
    shape = tf.shape(x)
    rows = tf.minimum(tf.range(_ceil_div(shape[1], multiple) * multiple),
                      shape[1] - 1)
    cols = tf.minimum(tf.range(_ceil_div(shape[2], multiple) * multiple),
                      shape[2] - 1)
    return tf.gather(tf.gather(x, rows, axis=1), cols, axis=2)


class Codec(tf.keras.Model):
    """Encoder, decoder, hyperprior and entropy models of one codec."""

    def __init__(self, config: ModelConfig, **kwargs):
        # Float32 at the codec's boundary and in the entropy models, even
        # when the transforms compute in float16 (mixed precision).
        super().__init__(name="codec", dtype="float32", **kwargs)
        self.config = config
        self.analysis = AnalysisTransform(config)
        self.synthesis = SynthesisTransform(config)
        self.hyper_analysis = HyperAnalysis(config)
        self.hyper_synthesis = HyperSynthesis(config)
        self.hyperprior = tfc.NoisyDeepFactorized(
            batch_shape=[config.hyper_channels])
        self.entropy_model = None
        self.side_entropy_model = None
        self.model_name = "unnamed"  # set by store.load_codec
        inputs = ((self.analysis, 3),
                  (self.hyper_analysis, config.latent_channels),
                  (self.hyper_synthesis, config.hyper_channels),
                  (self.synthesis, config.latent_channels))
        for transform, channels in inputs:
            transform.build((None, None, None, channels))

    def _scale_fn(self, index):
        c = self.config
        log_min, log_max = math.log(c.scale_min), math.log(c.scale_max)
        step = (log_max - log_min) / (c.num_scales - 1)
        return tf.math.exp(log_min + step * index)

    def _training_entropy_models(self, training: bool):
        """Entropy models without tables, for bit estimates.

        Outside training, z is rounded as `compress` will round it: around
        the fixed tables' offsets once they exist, else the prior's.
        """
        main = tfc.LocationScaleIndexedEntropyModel(
            tfc.NoisyNormal, self.config.num_scales, self._scale_fn,
            coding_rank=3, compression=False)
        if training:
            offset = None  # noise instead of rounding: offsets unused
        elif self.can_code:
            offset = self.side_entropy_model.quantization_offset
        else:
            offset = tfc.quantization_offset(self.hyperprior)
        side = tfc.ContinuousBatchedEntropyModel(
            self.hyperprior, coding_rank=3, compression=False,
            offset_heuristic=False, quantization_offset=offset)
        return main, side

    @tf.function
    def _side_tables(self):
        """Range-coding tables of the side prior: much faster traced."""
        side = tfc.ContinuousBatchedEntropyModel(
            self.hyperprior, coding_rank=3, compression=True, stateless=True)
        return side.cdf, side.cdf_offset, side.quantization_offset

    def _prior_parameters(self, z_hat, latent_shape, discrete: bool):
        """Mean and scale index of each latent, cropped to the latent shape.

        Range coding has a table per integer scale index (tfc truncates
        fractional ones); `discrete` rounds to the nearest table instead, so
        that coding and the bit estimates outside training use one prior.
        """
        params = tf.cast(self.hyper_synthesis(z_hat), tf.float32)
        params = params[:, :latent_shape[0], :latent_shape[1], :]
        mean, scale_index = tf.split(params, 2, axis=-1)
        if discrete:
            scale_index = tf.round(scale_index)
        return mean, scale_index

    def call(self, images, training=False) -> Forward:
        """Forward pass on float images in [0, 1] of shape [B, H, W, 3].

        With `training=True`, bits are the differentiable noisy-latent
        estimates; otherwise they are the information content of the rounded
        latents under the coding prior: what `compress` writes, within a few
        percent for a well-trained model (see BUILD_NOTES.md).
        """
        main, side = self._training_entropy_models(training)
        y, z = self._encode(images)
        z_tilde, side_bits = side(z, training=training)
        mean, scale_index = self._prior_parameters(
            z_tilde, tf.shape(y)[1:3], discrete=not training)
        _, bits = main(y, scale_index, loc=mean, training=training)
        y_hat = mean + _ste_round(y - mean)
        size = tf.shape(images)[1:3]
        x_hat = tf.cast(self.synthesis(y_hat), tf.float32)
        x_hat = x_hat[:, :size[0], :size[1], :]
        return Forward(x_hat, y_hat, bits, side_bits)

    # Coding with fixed tables.

    @property
    def can_code(self) -> bool:
        return self.entropy_model is not None

    def fix_tables(self, placeholders: bool = False):
        """Builds the range-coding tables from the trained priors, once.

        With `placeholders=True`, creates empty tables to be overwritten by
        restoring a saved model (the table variables take any length).
        """
        self.entropy_model = tfc.LocationScaleIndexedEntropyModel(
            tfc.NoisyNormal, self.config.num_scales, self._scale_fn,
            coding_rank=3, compression=True)
        if placeholders:
            tables = dict(cdf_shapes=(1, 1), quantization_offset=True)
        else:
            cdf, cdf_offset, offset = self._side_tables()
            tables = dict(cdf=cdf, cdf_offset=cdf_offset,
                          quantization_offset=offset)
        self.side_entropy_model = tfc.ContinuousBatchedEntropyModel(
            prior_shape=self.hyperprior.batch_shape, coding_rank=3,
            compression=True, **tables)

    def coding_tensors(self) -> list[tf.Tensor]:
        """Every weight and table that compress or decompress reads."""
        transforms = (self.analysis, self.hyper_analysis,
                      self.hyper_synthesis, self.synthesis)
        main, side = self.entropy_model, self.side_entropy_model
        return ([v for t in transforms for v in t.variables] +
                [main.cdf, main.cdf_offset, side.cdf, side.cdf_offset,
                 side.quantization_offset])

    def fingerprint(self) -> bytes:
        """8 bytes identifying this model: its config, weights and tables."""
        digest = hashlib.sha256(self.config.to_json().encode())
        for tensor in self.coding_tensors():
            value = np.ascontiguousarray(tensor.numpy())
            digest.update(f"{value.shape}{value.dtype.str}".encode())
            digest.update(value.tobytes())
        return digest.digest()[:8]

    def _encode(self, images):
        """Latents and side latents of float images [B, H, W, 3] in [0, 1].

        The image is padded to a multiple of the latent stride and the
        latents to a multiple of the hyper stride over it, so every stride-2
        convolution sees an even size; y keeps ⌈H/s⌉×⌈W/s⌉ positions.
        """
        c = self.config
        y = tf.cast(self.analysis(_pad_to_multiple(images, c.latent_stride)),
                    tf.float32)
        z = self.hyper_analysis(
            _pad_to_multiple(y, c.hyper_stride // c.latent_stride))
        return y, tf.cast(z, tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
    def compress(self, image):
        """uint8 image [H, W, 3] → (latent string, side-latent string)."""
        y, z = self._encode(tf.cast(image, self.compute_dtype)[None] / 255.)
        z_hat = self.side_entropy_model.quantize(z)
        mean, scale_index = self._prior_parameters(
            z_hat, tf.shape(y)[1:3], discrete=True)
        string = self.entropy_model.compress(y, scale_index, loc=mean)
        side_string = self.side_entropy_model.compress(z)
        return string[0], side_string[0]

    @tf.function(input_signature=[
        tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string),
        tf.TensorSpec([2], tf.int32)])
    def decompress(self, string, side_string, image_size):
        """(latent string, side-latent string, [H, W]) → uint8 [H, W, 3]."""
        latent_size = _ceil_div(image_size, self.config.latent_stride)
        side_size = _ceil_div(image_size, self.config.hyper_stride)
        z_hat = self.side_entropy_model.decompress(
            side_string[None], side_size)
        mean, scale_index = self._prior_parameters(
            z_hat, latent_size, discrete=True)
        y_hat = self.entropy_model.decompress(
            string[None], scale_index, loc=mean)
        x_hat = self.synthesis(y_hat)[0, :image_size[0], :image_size[1], :]
        return tf.saturate_cast(tf.round(x_hat * 255.), tf.uint8)
