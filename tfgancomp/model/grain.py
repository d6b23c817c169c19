"""Realism drawn as grain: content-modulated noise at full resolution.

The feature adapters (`conditioning.RealismAdapters`) draw texture through
the synthesis' stride-2 transposed convolutions, and what a deterministic
residual drawn there adds to flat regions is a lattice of their period
(BUILD_NOTES.md, "Realism as grain"); branches that read the features and
noise through convolutions learned to amplify the features' own periodic
residue into stripes. This branch draws only noise, as film grain
synthesis does (AV1's): textures made by convolutions from per-pixel
noise, stationary and so without a period, mixed pixel by pixel by
amplitudes that the last stage's features set, low-passed (projected,
blurred, brought up by nearest neighbour, blurred again), so they say
where grain goes and how strong, not what pattern it makes.

At decoding the noise is a hash of each pixel's position in the image, so
a file decodes to the same pixels every time, everywhere, whole or in
tiles; training draws it afresh, from the same distribution.
"""

from __future__ import annotations

import tensorflow as tf

# Noise channels per pixel; textures made from them by 3×3 convolutions
# (ReLU between); the amplitude maps mix those into RGB by a 1×1
# convolution that starts at zero.
NOISE_CHANNELS = 4
TEXTURES = 16
CONVOLUTIONS = 2
# Pixels around a tile that its synthesis window must add for the branch:
# the amplitudes' blurs (one at full, one at half resolution) and the
# texture convolutions, whose zero padding at the window's edge must stay
# outside the tile.
REACH = 1 + 2 + CONVOLUTIONS


class Blur(tf.keras.layers.Layer):
    """Each channel convolved with the 3×3 binomial kernel [1, 2, 1]ᵀ
    [1, 2, 1] / 16 ('same', zero padding): zero response at the Nyquist
    frequency, no weights."""

    def call(self, x):
        taps = tf.constant([1., 2., 1.]) / 4.
        kernel = tf.tile((taps[:, None] * taps[None, :])[:, :, None, None],
                         [1, 1, tf.shape(x)[-1], 1])
        return tf.nn.depthwise_conv2d(x, tf.cast(kernel, x.dtype),
                                      [1, 1, 1, 1], "SAME")

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)


def _mix(x):
    """A 32-bit integer hash (Wellons' lowbias32): every input bit flips
    about half of the output bits."""
    for shift, factor in ((16, 0x7FEB352D), (15, 0x846CA68B)):
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, shift))
        x *= tf.constant(factor, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))


def position_noise(height, width, channels: int, origin=(0, 0)):
    """[height, width, channels] float32 of mean 0 and variance 1, uniform:
    a fixed function of (row + origin[0], column + origin[1], channel),
    so a window of an image gets the noise of its place in the image."""
    def axis(size, start, key):
        index = tf.cast(tf.range(size) + tf.cast(start, tf.int32), tf.uint32)
        return _mix(index * tf.constant(key, tf.uint32))
    rows = axis(height, origin[0], 0x9E3779B1)[:, None, None]
    columns = axis(width, origin[1], 0x85EBCA77)[None, :, None]
    planes = axis(channels, 0, 0xC2B2AE3D)[None, None, :]
    bits = _mix(tf.bitwise.bitwise_xor(_mix(rows + columns), planes))
    unit = tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) / 2. ** 24
    return (unit - 0.5) * 12. ** 0.5


class RealismGrain(tf.keras.layers.Layer):
    """r·Δ added to the synthesis' RGB output: Δ = W·(A ⊙ T), textures T
    made from noise, amplitudes A from the features [B, h, w, C] of its
    last transposed convolution (2× upsampling), low-passed. At r = 0,
    exactly the synthesis it was added to."""

    def __init__(self, channels: int, **kwargs):
        super().__init__(name="realism", **kwargs)
        self.blur = Blur(name="blur")
        with tf.name_scope(self.name):
            self.amplitude = self._conv(TEXTURES, 1, "grain_amplitude",
                                        channels)
            inputs = NOISE_CHANNELS
            self.textures = []
            for i in range(CONVOLUTIONS):
                last = i == CONVOLUTIONS - 1
                self.textures.append(self._conv(
                    TEXTURES, 3, f"grain_{i}", inputs,
                    activation=None if last else "relu"))
                inputs = TEXTURES
            self.mix = self._conv(3, 1, "grain_mix", TEXTURES,
                                  kernel_initializer="zeros")

    @staticmethod
    def _conv(filters, size, name, inputs, **kwargs):
        conv = tf.keras.layers.Conv2D(filters, size, padding="same",
                                      name=name, **kwargs)
        with tf.name_scope(name):
            conv.build([None, None, None, inputs])
        return conv

    def _amplitudes(self, features):
        """[B, 2h, 2w, TEXTURES]: the features' amplitude maps, blurred,
        brought to 2× resolution (nearest neighbour) and blurred again."""
        x = self.blur(self.amplitude(features))
        x = tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)
        return self.blur(x)

    @staticmethod
    def noise(like, training: bool, origin):
        """Per-pixel noise [B, H, W, N] for an image `like` whose first
        pixel is at `origin` in the whole."""
        shape = tf.shape(like)
        if training:
            bound = 3. ** 0.5  # uniform of variance 1, as position_noise
            noise = tf.random.uniform(
                tf.concat([shape[:3], [NOISE_CHANNELS]], 0), -bound, bound)
        else:
            noise = tf.broadcast_to(
                position_noise(shape[1], shape[2], NOISE_CHANNELS, origin),
                tf.concat([shape[:3], [NOISE_CHANNELS]], 0))
        return tf.cast(noise, like.dtype)

    def add(self, image, features, realism, training: bool = False,
            origin=(0, 0)):
        """image + r·Δ for an image whose first pixel is at `origin` of
        the whole; the image itself when every r is 0, without computing
        Δ."""
        def grained():
            amplitudes = self._amplitudes(features)
            texture = self.noise(amplitudes, training, origin)
            for conv in self.textures:
                texture = conv(texture)
            delta = self.mix(amplitudes * texture)
            r = tf.cast(realism, image.dtype)[:, None, None, None]
            return image + r * tf.cast(delta, image.dtype)
        return tf.cond(tf.reduce_any(tf.not_equal(realism, 0.)), grained,
                       lambda: image)
