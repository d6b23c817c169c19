"""The four learned transforms, as fully convolutional Keras models.

Shapes: an image of H×W pixels gives latents of ceil(H/s)×ceil(W/s) for the
latent stride s = 2**num_downsamplings ('same' padding rounds up), and side
latents of the same over the hyper stride. The synthesis transforms upsample
to a multiple of the stride; callers crop to the true size.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from tfgancomp.model.conditioning import RealismAdapters
from tfgancomp.model.config import ModelConfig
from tfgancomp.model.grain import RealismGrain


class ChannelNorm(tf.keras.layers.Layer):
    """Normalises each position over its channels, then a learned affine map.

    The normalisation of HiFiC (Mentzer et al., 2020): unlike batch or
    instance norm it does not depend on the image size or the batch, so the
    decoder behaves the same on a 64×64 training crop and a 4K photo.
    """

    def __init__(self, epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.gamma = self.add_weight("gamma", [channels], initializer="ones")
        self.beta = self.add_weight("beta", [channels], initializer="zeros")
        super().build(input_shape)

    def call(self, x):
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        x = (x - mean) * tf.math.rsqrt(variance + self.epsilon)
        return x * self.gamma + self.beta


class LayerStack(tf.keras.Model):
    """Layers applied in order, whose weights are made from shapes alone.

    Unlike `tf.keras.Sequential`, building does not trace a symbolic call,
    which takes seconds with GDN layers; models load that much faster.
    """

    def __init__(self, layers=(), **kwargs):
        super().__init__(**kwargs)
        self.stack = list(layers)

    def add(self, layer: tf.keras.layers.Layer):
        self.stack.append(layer)

    def build(self, input_shape):
        shape = tf.TensorShape(input_shape)
        with tf.name_scope(self.name):
            for layer in self.stack:
                if not layer.built:
                    with tf.name_scope(layer.name):
                        layer.build(shape)
                shape = layer.compute_output_shape(shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape)
        for layer in self.stack:
            shape = layer.compute_output_shape(shape)
        return shape

    def call(self, x):
        for layer in self.stack:
            x = layer(x)
        return x


def _nonlinearity(norm: str, inverse: bool,
                  name: str) -> tf.keras.layers.Layer:
    if norm == "gdn":
        return tfc.GDN(inverse=inverse, name=name)
    if norm == "channel":
        return LayerStack([ChannelNorm(name="norm"),
                           tf.keras.layers.ReLU(name="relu")], name=name)
    return tf.keras.layers.ReLU(name=name)


def _conv(filters, kernel_size, strides=1, name=None, activation=None,
          dtype=None, kernel_initializer="glorot_uniform"):
    return tf.keras.layers.Conv2D(
        filters, kernel_size, strides=strides, padding="same",
        activation=activation, name=name, dtype=dtype,
        kernel_initializer=kernel_initializer)


def _deconv(filters, kernel_size, name=None, activation=None):
    return tf.keras.layers.Conv2DTranspose(
        filters, kernel_size, strides=2, padding="same",
        activation=activation, name=name)


class ResidualBlock(tf.keras.layers.Layer):
    """conv → norm → ReLU → conv → norm, plus the input (HiFiC's generator).

    `hidden` channels between the two 3×3 convolutions (default: as many as
    the input). With `zero_start` the last convolution starts at zero, so
    that the block starts as the identity: added to a trained synthesis, it
    decodes exactly as before until training moves it.
    """

    def __init__(self, filters: int, norm: str, hidden: int | None = None,
                 zero_start: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.norm = norm
        self.body = LayerStack([
            _conv(hidden or filters, 3, name="conv_0"),
            _nonlinearity(norm, inverse=True, name="act"),
            _conv(filters, 3, name="conv_1", kernel_initializer=(
                "zeros" if zero_start else "glorot_uniform")),
        ] + ([ChannelNorm(name="norm")] if norm == "channel" else []),
            name="body")

    def build(self, input_shape):
        self.body.build(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)

    def call(self, x):
        return x + self.body(x)


class AnalysisTransform(LayerStack):
    """Encoder: RGB in [0, 1] → latents y, downsampled by the latent stride."""

    def __init__(self, config: ModelConfig):
        super().__init__(name="analysis")
        depth = config.num_downsamplings
        for i in range(depth):
            last = i == depth - 1
            filters = config.latent_channels if last else config.num_filters
            # The latents in float32 even under mixed precision: bfloat16's
            # 8-bit mantissa would blur a latent of 50 by a fifth of a bin.
            self.add(_conv(filters, config.kernel_size, 2, name=f"conv_{i}",
                           dtype="float32" if last else None))
            if not last:
                self.add(_nonlinearity(config.norm, False, f"act_{i}"))


class SynthesisTransform(LayerStack):
    """Decoder and GAN generator: latents → RGB, nominally in [0, 1].

    With `config.stage_blocks`, a residual block (`ResidualBlock`, ReLU,
    starting as the identity) follows upsampling stages. With
    `config.realism`, a residual scaled by the realism r of each example
    is added to every nonlinearity's output (`conditioning.
    RealismAdapters`) or to the image (`grain.RealismGrain`).
    """

    def __init__(self, config: ModelConfig):
        super().__init__(name="synthesis")
        adapted = {}
        if config.residual_blocks:
            self.add(_conv(config.num_filters, 3, name="conv_in"))
            self.add(_nonlinearity(config.norm, True, "act_in"))
            adapted["act_in"] = config.num_filters
            for i in range(config.residual_blocks):
                self.add(ResidualBlock(config.num_filters, config.norm,
                                       name=f"residual_{i}"))
        depth = config.num_downsamplings
        for i in range(depth):
            last = i == depth - 1
            filters = 3 if last else config.num_filters
            self.add(_deconv(filters, config.kernel_size, name=f"deconv_{i}"))
            if not last:
                self.add(_nonlinearity(config.norm, True, f"act_{i}"))
                adapted[f"act_{i}"] = config.num_filters
                hidden = config.stage_block(i)
                if hidden:
                    self.add(ResidualBlock(
                        config.num_filters, "none", hidden, zero_start=True,
                        name=f"stage_block_{i}"))
        self.realism = None
        if config.realism_draws("adapters"):
            if config.realism_stages:
                adapted = dict(list(adapted.items())[:config.realism_stages])
            with tf.name_scope("synthesis"):
                self.realism = RealismAdapters(adapted)
        elif config.realism_draws("grain"):
            with tf.name_scope("synthesis"):
                self.realism = RealismGrain(config.num_filters)

    def call(self, x, realism=None, training=False, origin=(0, 0)):
        """`realism` [B] is required exactly when the model has the knob.
        The grain's noise is keyed to each pixel's place in the image, x's
        first latent starting at pixel `origin`; with `training` it is
        drawn afresh."""
        if (realism is None) != (self.realism is None):
            raise ValueError("realism must be given exactly to a synthesis "
                             "conditioned on it")
        adapters = (self.realism.branches if isinstance(
            self.realism, RealismAdapters) else {})
        features = x
        for layer in self.stack:
            features, x = x, layer(x)
            if layer.name in adapters:
                x = self.realism.adapt(x, layer.name, realism)
        if isinstance(self.realism, RealismGrain):
            x = self.realism.add(x, features, realism, training, origin)
        return x


class HyperAnalysis(LayerStack):
    """Latents y → side latents z, downsampled `hyper_downsamplings` times."""

    def __init__(self, config: ModelConfig):
        super().__init__(name="hyper_analysis")
        self.add(_conv(config.hyper_filters, 3, name="conv_in",
                       activation="relu"))
        depth = config.hyper_downsamplings
        for i in range(depth):
            last = i == depth - 1
            filters = config.hyper_channels if last else config.hyper_filters
            self.add(_conv(filters, config.kernel_size, 2, name=f"conv_{i}",
                           activation=None if last else "relu"))


class HyperSynthesis(LayerStack):
    """Side latents ẑ → per-element mean and scale index of the latents.

    The output has 2 × latent_channels channels: means, then scale indexes.
    Scale indexes start near `initial_scale_index` (the index of scale 1):
    at index 0, the smallest scale, every latent would start in the far
    tails of its prior, and training would spend its first thousand steps
    growing the scales.
    """

    def __init__(self, config: ModelConfig):
        super().__init__(name="hyper_synthesis")
        for i in range(config.hyper_downsamplings):
            self.add(_deconv(config.hyper_filters, config.kernel_size,
                             name=f"deconv_{i}", activation="relu"))
        self.initial_bias = np.array(
            [0.0] * config.latent_channels +
            [config.initial_scale_index] * config.latent_channels,
            np.float32)
        self.add(tf.keras.layers.Conv2D(
            2 * config.latent_channels, 3, padding="same", name="conv_out",
            dtype="float32",  # means and scales as exact as the latents
            bias_initializer=tf.keras.initializers.Constant(
                self.initial_bias)))

    def restart_channels(self, channels) -> None:
        """Predicts for latent `channels` (bool [C]) what a fresh
        hyper-synthesis does, whatever ẑ: mean 0, scale 1."""
        out = self.stack[-1]
        outputs = np.concatenate([channels, channels])  # means, scales
        kernel, bias = out.kernel.numpy(), out.bias.numpy()
        kernel[..., outputs] = 0.
        bias[outputs] = self.initial_bias[outputs]
        out.kernel.assign(kernel)
        out.bias.assign(bias)
