"""Realism drawn as grain: luma noise whose strength the content sets.

The feature adapters (`conditioning.RealismAdapters`) draw texture through
the synthesis' stride-2 transposed convolutions, and what a deterministic
residual drawn there adds to flat regions is a lattice of their period
(BUILD_NOTES.md, "Realism as grain"); branches that shaped noise through
learned convolutions found periodic stripes too. This branch draws only
high-passed white noise on the luma, as film grain synthesis does (AV1's),
and learns one thing: how strong it is, pixel by pixel, from the last
stage's features, low-passed (projected, blurred, brought up by nearest
neighbour, blurred again). Noise has no period, and luma noise at the
finest scale buys the most detail energy for the least squared error.
Realism r scales the amplitude by √r, so the detail energy the grain adds
grows linearly with r.

At decoding the noise is a hash of each pixel's position in the image, so
a file decodes to the same pixels every time, everywhere, whole or in
tiles; training draws it afresh, from the same distribution.
"""

from __future__ import annotations

import tensorflow as tf

# Hidden channels of the amplitude's 1×1 projection; its scale (images are
# in [0, 1]) and the softplus' start: an rms of 1.25 of 255 everywhere,
# so that the texture term has a gradient from the first step.
HIDDEN = 16
AMPLITUDE_SCALE = 1. / 64.
INITIAL_AMPLITUDE = -1.
# Pixels around a tile that its synthesis window must add for the branch:
# the amplitudes' blurs (one at half resolution, one at full) and the
# noise's high-pass, whose zero padding at the window's edge must stay
# outside the tile.
REACH = 2 + 1 + 1
# The variance of white noise of variance 1 after `high_pass`:
# (1 - 4/16)² + 4·(2/16)² + 4·(1/16)².
HIGH_PASS_VARIANCE = 0.640625


def blur(x):
    """Each channel of x [B, H, W, C] convolved with the 3×3 binomial
    kernel [1, 2, 1]ᵀ [1, 2, 1] / 16 ('same', zero padding): zero response
    at the Nyquist frequency."""
    taps = tf.constant([1., 2., 1.]) / 4.
    kernel = tf.tile((taps[:, None] * taps[None, :])[:, :, None, None],
                     [1, 1, tf.shape(x)[-1], 1])
    return tf.nn.depthwise_conv2d(x, tf.cast(kernel, x.dtype), [1, 1, 1, 1],
                                  "SAME")


class Blur(tf.keras.layers.Layer):
    """`blur` as a layer, without weights."""

    def call(self, x):
        return blur(x)

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


def high_pass(x):
    """x minus its `blur`: the finest scales of x."""
    return x - blur(x)


class RealismGrain(tf.keras.layers.Layer):
    """√r·A·n added to each RGB channel of the synthesis' output: n
    high-passed white noise of variance 1, A ≥ 0 an amplitude map from the
    features [B, h, w, C] of its last transposed convolution (2×
    upsampling), low-passed. At r = 0, exactly the synthesis it was added
    to."""

    def __init__(self, channels: int, **kwargs):
        super().__init__(name="realism", **kwargs)
        with tf.name_scope(self.name):
            self.hidden = self._conv(HIDDEN, "grain_hidden", channels,
                                     activation="relu")
            self.amplitude = self._conv(
                1, "grain_amplitude", HIDDEN, kernel_initializer="zeros",
                bias_initializer=tf.keras.initializers.Constant(
                    INITIAL_AMPLITUDE))

    @staticmethod
    def _conv(filters, name, inputs, **kwargs):
        conv = tf.keras.layers.Conv2D(filters, 1, name=name, **kwargs)
        with tf.name_scope(name):
            conv.build([None, None, None, inputs])
        return conv

    def amplitudes(self, features):
        """[B, 2h, 2w, 1]: the grain's amplitude from the features,
        blurred, brought to 2× resolution (nearest neighbour) and blurred
        again."""
        x = tf.nn.softplus(self.amplitude(self.hidden(features)))
        x = blur(x * AMPLITUDE_SCALE)
        x = tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)
        return blur(x)

    @staticmethod
    def noise(like, training: bool, origin):
        """High-passed noise [B, H, W, 1] of variance 1 for an image `like`
        whose first pixel is at `origin` in the whole: drawn afresh in
        training, keyed to the pixels' places otherwise."""
        shape = tf.concat([tf.shape(like)[:3], [1]], 0)
        if training:
            bound = 3. ** 0.5  # uniform of variance 1, as position_noise
            noise = tf.random.uniform(shape, -bound, bound)
        else:
            noise = tf.broadcast_to(
                position_noise(shape[1], shape[2], 1, origin), shape)
        return tf.cast(high_pass(noise) / HIGH_PASS_VARIANCE ** 0.5,
                       like.dtype)

    def add(self, image, features, realism, training: bool = False,
            origin=(0, 0)):
        """image + √r·A·n for an image whose first pixel is at `origin` of
        the whole; the image itself when every r is 0, without computing
        the grain."""
        def grained():
            amplitudes = self.amplitudes(features)
            grain = amplitudes * self.noise(amplitudes, training, origin)
            r = tf.cast(realism, image.dtype)[:, None, None, None]
            return image + tf.sqrt(r) * tf.cast(grain, image.dtype)
        return tf.cond(tf.reduce_any(tf.not_equal(realism, 0.)), grained,
                       lambda: image)
