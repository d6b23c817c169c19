"""Realism drawn as grain: a noise-fed residual at full resolution.

The feature adapters (`conditioning.RealismAdapters`) draw texture through
the synthesis' stride-2 transposed convolutions, and what a deterministic
residual drawn there adds to flat regions is a lattice of their period
(BUILD_NOTES.md, "Realism as grain"). The grain branch draws instead after
the last upsampling, at full resolution, from per-pixel noise, as a
generator of texture needs (StyleGAN's noise inputs), and the features the
last transposed convolution reads, projected to a few channels, blurred
(their own period-2 phase pattern is the transposed convolutions' lattice)
and brought up to full resolution; every weight of the branch is shared
by every pixel, so nothing in it is tied to a pixel's phase.

At decoding the noise is a hash of each pixel's position in the image, so
a file decodes to the same pixels every time, everywhere, whole or in
tiles; training draws it afresh, from the same distribution.
"""

from __future__ import annotations

import tensorflow as tf

# Noise channels per pixel, feature channels the branch reads, hidden
# channels and 3×3 convolutions (all but the last followed by ReLU; the
# last starts at zero).
NOISE_CHANNELS = 2
PROJECTED = 16
HIDDEN = 32
CONVOLUTIONS = 3
# Pixels of the image around a pixel the branch reads, beyond what the
# features it reads saw: its convolutions and blurs (one at full, one at
# half resolution).
REACH = CONVOLUTIONS + 1 + 2


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
    """r·Δ added to the synthesis' RGB output, Δ drawn at full resolution
    from noise and the features [B, h, w, C] of its last transposed
    convolution (2× upsampling); at r = 0, exactly the synthesis it was
    added to."""

    def __init__(self, channels: int, **kwargs):
        super().__init__(name="realism", **kwargs)
        self.blur = Blur(name="blur")
        with tf.name_scope(self.name):
            self.projection = self._conv(PROJECTED, 1, "grain_projection",
                                         channels)
            inputs = PROJECTED + NOISE_CHANNELS
            self.convolutions = []
            for i in range(CONVOLUTIONS):
                last = i == CONVOLUTIONS - 1
                self.convolutions.append(self._conv(
                    3 if last else HIDDEN, 3, f"grain_{i}", inputs,
                    activation=None if last else "relu",
                    kernel_initializer="zeros" if last else "glorot_uniform"))
                inputs = HIDDEN

    @staticmethod
    def _conv(filters, size, name, inputs, **kwargs):
        conv = tf.keras.layers.Conv2D(filters, size, padding="same",
                                      name=name, **kwargs)
        with tf.name_scope(name):
            conv.build([None, None, None, inputs])
        return conv

    def _upsampled(self, features):
        """The features projected, blurred and brought to 2× resolution
        (nearest neighbour, blurred again)."""
        x = self.blur(self.projection(features))
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
            x = self._upsampled(features)
            x = tf.concat([x, self.noise(x, training, origin)], -1)
            for conv in self.convolutions:
                x = conv(x)
            r = tf.cast(realism, image.dtype)[:, None, None, None]
            return image + r * tf.cast(x, image.dtype)
        return tf.cond(tf.reduce_any(tf.not_equal(realism, 0.)), grained,
                       lambda: image)
