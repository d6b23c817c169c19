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

from tfgancomp.errors import ConfigError
from tfgancomp.model.channelwise import ChannelwisePrior
from tfgancomp.model.conditioning import GainUnits, as_batch, check_knob
from tfgancomp.model.config import REALISM_FIELDS, ModelConfig
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
        self.decodes: tuple[bytes, ...] = ()  # see protocol.CodingModel
        self.gain = None
        if config.variable_rate:
            with tf.name_scope("codec"):
                self.gain = GainUnits(config.qualities, config.latent_channels)
        self.analysis.build((None, None, None, 3))
        self.synthesis.build((None, None, None, config.latent_channels))

    # The knobs.

    @property
    def qualities(self) -> int:
        return self.config.qualities

    @property
    def variable_rate(self) -> bool:
        return self.config.variable_rate

    @property
    def has_realism(self) -> bool:
        return self.config.realism

    def _knob(self, value, batch_size, name: str, present: bool):
        """A knob as float32 [B], None for a model without it; ValueError
        when it is missing or not the model's."""
        check_knob(name, value, present)
        return None if value is None else as_batch(value, batch_size, name)

    # The steps.

    def latent_size(self, image_size):
        """[h, w] of the latents of an [H, W] image."""
        return ceil_div(image_size, self.config.latent_stride)

    def side_size(self, image_size):
        """[h, w] of the side latents of an [H, W] image."""
        return ceil_div(image_size, self.config.hyper_stride)

    def analyze(self, images, quality=None):
        """Latents y (float32) of float images [B, H, W, 3] in [0, 1],
        padded to a multiple of the latent stride: ⌈H/s⌉×⌈W/s⌉ positions;
        at `quality` (a number or [B]) for a variable-rate model."""
        quality = self._knob(quality, tf.shape(images)[0], "quality",
                             self.variable_rate)
        padded = pad_to_multiple(images, self.config.latent_stride)
        y = tf.cast(self.analysis(padded), tf.float32)
        return y if quality is None else y * self.gain.gain(quality)

    def reconstruct(self, y_hat, image_size, quality=None, realism=None,
                    training=False, origin=(0, 0)):
        """Float reconstruction [B, H, W, 3] of ŷ, cropped to the image;
        the knobs as in `analyze`, realism in [0, 1] where the model has
        it; `origin`, the pixel of the whole image where a window of ŷ
        starts (for the grain's noise)."""
        batch = tf.shape(y_hat)[0]
        quality = self._knob(quality, batch, "quality", self.variable_rate)
        realism = self._knob(realism, batch, "realism", self.has_realism)
        if quality is not None:
            y_hat = y_hat * self.gain.inverse_gain(quality)
        x_hat = tf.cast(self.synthesis(y_hat, realism=realism,
                                       training=training, origin=origin),
                        tf.float32)
        return x_hat[:, :image_size[0], :image_size[1], :]

    def synthesize(self, y_hat, image_size, quality=None, realism=None,
                   origin=(0, 0)):
        """uint8 image [H, W, 3] of one image's ŷ [1, h, w, C]."""
        x_hat = self.reconstruct(y_hat, image_size, quality, realism,
                                 origin=origin)[0]
        return tf.saturate_cast(tf.round(x_hat * 255.), tf.uint8)

    def call(self, images, training=False, quality=None,
             realism=None) -> Forward:
        """Forward pass on float images in [0, 1] of shape [B, H, W, 3].

        With `training=True`, bits are the differentiable noisy-latent
        estimates; otherwise they are the information content of the rounded
        latents under the coding prior: what `compress` writes, within a few
        percent for a well-trained model (see BUILD_NOTES.md).
        """
        y_hat, bits, side_bits = self.entropy(
            self.analyze(images, quality), training=training)
        x_hat = self.reconstruct(y_hat, tf.shape(images)[1:3], quality,
                                 realism, training)
        return Forward(x_hat, y_hat, bits, side_bits)

    def variables_of(self, part: str) -> list:
        """The trainable weights of `part`: "all"; "codec", all but the
        realism branch; "entropy", the entropy models (hyper-transforms
        and priors); "decoder", the synthesis and, with variable rate,
        the inverse gains; "realism", the realism branch alone."""
        if part == "all":
            return self.trainable_variables
        if part == "codec":
            branch = ({v.ref() for v in self.synthesis.realism.variables}
                      if self.has_realism else set())
            return [v for v in self.trainable_variables
                    if v.ref() not in branch]
        if part == "entropy":
            return self.entropy.trainable_variables
        if part == "decoder":
            inverse = ([self.gain.log_inverse_gain] if self.variable_rate
                       else [])
            return self.synthesis.trainable_variables + inverse
        if part == "realism" and self.has_realism:
            return self.synthesis.realism.trainable_variables
        raise ConfigError(f"cannot train {part!r} of this model")

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
        gains = [] if self.gain is None else list(self.gain.variables)
        return (list(self.analysis.variables) +
                self.entropy.transform_variables() +
                list(self.synthesis.variables) + tables + gains)

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

    def _encodes_like(self, other: "Codec", tables: bool) -> bool:
        """The same config but for the realism knob and how it is drawn,
        and the same encoder, entropy-model weights, gains and (with
        `tables`) tables."""
        def config(codec):
            return dict(codec.config.to_dict(),
                        **dict.fromkeys(REALISM_FIELDS))

        def writing(codec):
            gains = [] if codec.gain is None else [codec.gain.log_gain]
            return (list(codec.analysis.variables) +
                    codec.entropy.transform_variables() + gains +
                    (codec.entropy.table_tensors() if tables else []))
        if config(self) != config(other):
            return False
        mine, theirs = writing(self), writing(other)
        return len(mine) == len(theirs) and all(
            a.shape == b.shape and np.array_equal(a.numpy(), b.numpy())
            for a, b in zip(mine, theirs))

    def reads_files_of(self, other: "Codec") -> bool:
        """Whether every file `other` writes decodes with this model: the
        decoder's weights may differ, nothing else."""
        return self._encodes_like(other, tables=True)

    def adopt_tables_of(self, other: "Codec") -> bool:
        """Takes `other`'s range-coding tables if it has this model's
        encoder and entropy model; returns whether it did. Tables rebuilt
        from the same priors on another CPU can differ by an ulp in a
        float offset (seen between AVX2 and AVX-512), enough to change
        files; a decoder trained alone keeps its encoder's."""
        pairs = list(zip(self.entropy.table_variables(),
                         other.entropy.table_variables()))
        if not self._encodes_like(other, tables=False) or any(
                mine.shape != theirs.shape for mine, theirs in pairs):
            return False
        for mine, theirs in pairs:
            mine.assign(theirs)
        return True

    def compress(self, image, quality=None):
        """uint8 image [H, W, 3] → (latent string, side-latent string), at
        `quality` in [0, 1] for a variable-rate model."""
        self._knob(quality, 1, "quality", self.variable_rate)
        return self._compress(image, 0. if quality is None else quality)

    def decompress(self, string, side_string, image_size, quality=None,
                   realism=None):
        """(latent string, side-latent string, [H, W]) → uint8 [H, W, 3];
        the knobs the model has, as in `reconstruct`."""
        self._knob(quality, 1, "quality", self.variable_rate)
        self._knob(realism, 1, "realism", self.has_realism)
        return self._decompress(string, side_string, image_size,
                                0. if quality is None else quality,
                                0. if realism is None else realism)

    def _present(self, quality, realism=None):
        """The knobs of a traced call, None where the model lacks them."""
        return (quality if self.variable_rate else None,
                realism if self.has_realism else None)

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8),
                                  tf.TensorSpec([], tf.float32)])
    def _compress(self, image, quality):
        return self.entropy.compress(self._analyze_uint8(image, quality))

    @tf.function(input_signature=[
        tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string),
        tf.TensorSpec([2], tf.int32), tf.TensorSpec([], tf.float32),
        tf.TensorSpec([], tf.float32)])
    def _decompress(self, string, side_string, image_size, quality, realism):
        y_hat = self._entropy_decode(string, side_string, image_size)
        return self.synthesize(y_hat, image_size,
                               *self._present(quality, realism))

    def _analyze_uint8(self, pixels, quality):
        quality, _ = self._present(quality)
        return self.analyze(tf.cast(pixels, tf.float32)[None] / 255.,
                            quality)

    def _entropy_decode(self, string, side_string, image_size):
        return self.entropy.decompress(
            string, side_string, self.latent_size(image_size),
            self.side_size(image_size))

    # The steps of tiled coding (model/tiling.py), traced once each.

    @tf.function(input_signature=[
        tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string),
        tf.TensorSpec([2], tf.int32)])
    def decode_latents(self, string, side_string, image_size):
        """ŷ [1, h, w, C] of an untiled file's strings."""
        return self._entropy_decode(string, side_string, image_size)

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8),
                                  tf.TensorSpec([], tf.float32)])
    def analyze_window(self, pixels, quality):
        """Latents [1, h, w, C] of a window of uint8 pixels whose sides
        are multiples of the latent stride."""
        return self._analyze_uint8(pixels, quality)

    @tf.function(input_signature=[
        tf.TensorSpec([1, None, None, None], tf.float32),
        tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.float32),
        tf.TensorSpec([2], tf.int32)])
    def synthesize_window(self, y_hat, quality, realism, origin):
        """uint8 pixels [h·s, w·s, 3] of a window of ŷ [1, h, w, C] whose
        first pixel is `origin` in the image."""
        size = tf.shape(y_hat)[1:3] * self.config.latent_stride
        return self.synthesize(y_hat, size, *self._present(quality, realism),
                               origin=origin)
