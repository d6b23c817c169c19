"""The GAN discriminator: a conditional, multi-scale PatchGAN.

As in HiFiC (Mentzer et al., 2020), the discriminator sees the image and the
quantized latents ŷ the decoder worked from: ŷ (gradients stopped) goes
through a 1×1 convolution to a few channels, is upsampled by nearest
neighbour to the image size and concatenated with the image. 4×4
convolutions (strides 2, 2, 2, 1) with LeakyReLU(0.2) and no batch norm end
in one logit per patch. Every convolution is spectrally normalised (Miyato
et al., 2018). As in pix2pixHD, the same architecture with its own weights
also looks at the image average-pooled 2×, 4×, ...

With 'same' padding an H×W image gives ceil(H/8)×ceil(W/8) logits at full
scale and at least 1×1 at every scale, whatever the size.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from tfgancomp.configuration import OMIT_IF_DEFAULT, Config
from tfgancomp.model.grain import Blur
from tfgancomp.model.transforms import LayerStack

LEAK = 0.2
STRIDES = (2, 2, 2, 1)


@dataclasses.dataclass(frozen=True)
class DiscriminatorConfig(Config):
    """Sizes and choices of the discriminator.

    Each scale's convolutions have base_filters × (1, 2, 4, 8) channels;
    `num_scales` counts the full-resolution scale. The latents are projected
    to `latent_projection_channels` channels before upsampling.
    `input_layers` 3×3 convolutions of stride 1 (base_filters channels)
    come before the strided ones, which alias what they see at their
    period (tried against realism 1's lattice alongside the blur; alone,
    they did not remove it). With `blur`, each strided convolution
    reads its input through a [1, 2, 1] binomial blur (as StyleGAN2's
    discriminator does): the gradient a strided convolution sends the
    generator is a transposed convolution's, a checkerboard at its
    period, and the blur, zero at that period's frequency, removes it
    (BUILD_NOTES.md, "Realism as grain").
    """

    KIND = "discriminator"

    base_filters: int = 64
    num_scales: int = 3
    latent_projection_channels: int = 12
    spectral_norm: bool = True
    input_layers: int = dataclasses.field(default=0,
                                          metadata=OMIT_IF_DEFAULT)
    blur: bool = dataclasses.field(default=False, metadata=OMIT_IF_DEFAULT)

    def __post_init__(self):
        self.check_integers(("base_filters", "num_scales",
                             "latent_projection_channels"))
        self.check_integers(("input_layers",), minimum=0)
        self.check_booleans(("blur",))
        self.check_booleans(("spectral_norm",))


class SpectralNorm(tf.keras.layers.Wrapper):
    """Runs a convolution with its kernel divided by its spectral norm σ.

    σ, the largest singular value of the kernel reshaped to
    [k·k·c_in, c_out], is estimated by one power iteration per call from a
    persistent vector `u`, stored only when training. Gradients flow
    through σ, as in the paper. The wrapped layer's `kernel` keeps the
    unnormalised weights.

    Keras 2.14's `tf.keras.layers.SpectralNormalization` divides the kernel
    variable in place, without gradients through σ, and fails inside
    `tf.function` (it tests a tensor as a Python bool). This works there
    and in replica context under `tf.distribute`, where `u` is taken from
    the first replica.
    """

    def build(self, input_shape):
        super().build(input_shape)
        self.u = self.add_weight(
            "u", [self.layer.filters], trainable=False,
            initializer=tf.keras.initializers.RandomNormal(),
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def normalized_kernel(self, training: bool = False) -> tf.Tensor:
        # In float32 also under mixed precision, where reading variables
        # inside the layer gives float16.
        kernel = tf.cast(self.layer.kernel, tf.float32)
        matrix = tf.reshape(kernel, [-1, self.layer.filters])
        v = tf.math.l2_normalize(
            tf.linalg.matvec(matrix, tf.cast(self.u, tf.float32)))
        u = tf.math.l2_normalize(
            tf.linalg.matvec(matrix, v, transpose_a=True))
        u, v = tf.stop_gradient(u), tf.stop_gradient(v)
        sigma = tf.tensordot(v, tf.linalg.matvec(matrix, u), 1)
        if training:
            self.u.assign(u)
        return tf.cast(kernel / sigma, self.compute_dtype)

    def call(self, inputs, training=False):
        kernel = self.normalized_kernel(training)
        outputs = self.layer.convolution_op(inputs, kernel)
        if self.layer.use_bias:
            outputs = tf.nn.bias_add(outputs, self.layer.bias)
        return self.layer.activation(outputs)


def _conv(filters, kernel_size, strides, spectral_norm, name):
    conv = tf.keras.layers.Conv2D(filters, kernel_size, strides,
                                  padding="same", name=name)
    return SpectralNorm(conv, name=f"{name}_sn") if spectral_norm else conv


def _latent_stride(pixels, positions):
    """The least power of two s with s · positions ≥ pixels.

    That is the latent stride when positions = ceil(pixels / s) > 1; when
    positions is 1, every such s upsamples alike. With n = ceil(pixels /
    positions) - 1, setting every bit below n's highest one and adding 1
    gives the least power of two ≥ n + 1, exactly, in integers.
    """
    n = (pixels + positions - 1) // positions - 1
    for shift in (1, 2, 4, 8, 16):
        n = tf.bitwise.bitwise_or(n, tf.bitwise.right_shift(n, shift))
    return n + 1


def upsample_latents(latents, size):
    """Nearest-neighbour upsampling of [B, h, w, C] to size = (H, W).

    Pixel (i, j) takes latent (i // s, j // s) for the latent stride s, a
    power of two derived from the shapes per axis: the upsampled grid
    cropped to the image, also for sizes that are not multiples of s.
    """
    for axis in (1, 2):
        pixels = size[axis - 1]
        stride = _latent_stride(pixels, tf.shape(latents)[axis])
        latents = tf.gather(latents, tf.range(pixels) // stride, axis=axis)
    return latents


class PatchDiscriminator(tf.keras.layers.Layer):
    """One scale: images [B, H, W, 3] and latents → logits [B, h, w, 1].

    h, w = ceil(H / 8), ceil(W / 8). `training` only makes the spectral
    norms store their power iteration.
    """

    def __init__(self, config: DiscriminatorConfig, latent_channels: int,
                 **kwargs):
        super().__init__(**kwargs)
        self.latent_channels = latent_channels
        sn = config.spectral_norm
        self.projection = LayerStack([
            _conv(config.latent_projection_channels, 1, 1, sn, "conv"),
            tf.keras.layers.LeakyReLU(LEAK),
        ], name="latent_projection")
        self.body = LayerStack(name="body")
        for i in range(config.input_layers):
            self.body.add(_conv(config.base_filters, 3, 1, sn, f"input_{i}"))
            self.body.add(tf.keras.layers.LeakyReLU(LEAK))
        for i, stride in enumerate(STRIDES):
            if config.blur and stride > 1:
                self.body.add(Blur(name=f"blur_{i}"))
            filters = config.base_filters * 2 ** i
            self.body.add(_conv(filters, 4, stride, sn, f"conv_{i}"))
            self.body.add(tf.keras.layers.LeakyReLU(LEAK))
        self.body.add(_conv(1, 4, 1, sn, "logits"))

    def build(self, input_shape):
        shape = tf.TensorShape(input_shape)
        latent_shape = [None, None, None, self.latent_channels]
        self.projection.build(latent_shape)
        projected = self.projection.compute_output_shape(latent_shape)
        self.body.build(shape[:-1].concatenate(shape[-1] + projected[-1]))
        # The projected latents enter scaled by a gate that starts at 0:
        # latents differ per example but not between real and fake, and
        # entering at full strength they hid the images' differences for
        # hundreds of steps (BUILD_NOTES.md, "The realism phase").
        self.latent_gate = self.add_weight(
            "latent_gate", [], initializer="zeros", dtype=tf.float32)
        super().build(input_shape)

    def call(self, images, latents, training=False, features=False):
        """Logits, or with `features` (logits, the activations of every
        hidden layer) for feature matching."""
        latents = self.projection(tf.stop_gradient(latents),
                                  training=training)
        latents *= tf.cast(self.latent_gate, latents.dtype)
        latents = upsample_latents(latents, tf.shape(images)[1:3])
        x = tf.concat([images, latents], axis=-1)
        if not features:
            return self.body(x, training=training)
        activations = []
        for layer in self.body.stack:
            x = layer(x, training=training)
            if isinstance(layer, tf.keras.layers.LeakyReLU):
                activations.append(x)
        return x, activations


class MultiScaleDiscriminator(tf.keras.Model):
    """PatchGAN discriminators on the image at 1×, ½×, ¼×, ... resolution.

    Called on images [B, H, W, 3] in [0, 1] and the latents ŷ the decoder
    saw, [B, ceil(H/s), ceil(W/s), latent_channels] for a latent stride s
    that is a power of two, it returns `config.num_scales` logit tensors,
    finest first: [B, ceil(H_k/8), ceil(W_k/8), 1] where H_k = ceil(H/2^k).
    Each scale has its own weights and its own upsampling of ŷ. The
    weights are made in the constructor, from shapes alone.
    """

    def __init__(self, config: DiscriminatorConfig, latent_channels: int,
                 **kwargs):
        super().__init__(name="discriminator", **kwargs)
        self.config = config
        self.scales = [
            PatchDiscriminator(config, latent_channels, name=f"scale_{k}")
            for k in range(config.num_scales)]
        self.build([None, None, None, 3])

    def build(self, input_shape):
        for scale in self.scales:
            scale.build(input_shape)
        self.built = True

    def call(self, images, latents, training=False, features=False):
        """The logits of every scale; with `features`, (logits, the hidden
        activations of every scale, in one list)."""
        logits, activations = [], []
        for k, scale in enumerate(self.scales):
            if k:
                # 'SAME' averages over the pixels inside the image only.
                images = tf.nn.avg_pool2d(images, 2, 2, "SAME")
            output = scale(images, latents, training=training,
                           features=features)
            if features:
                output, hidden = output
                activations += hidden
            logits.append(output)
        return (logits, activations) if features else logits
