"""Realism drawn as grain: a noise-fed residual at full resolution.

The feature adapters (`conditioning.RealismAdapters`) draw texture through
the synthesis' stride-2 transposed convolutions, and what a deterministic
residual drawn there adds to flat regions is a lattice of their period (4
px at the last two stages: BUILD_NOTES.md, "Realism as grain"). The grain
branch draws instead after the last upsampling, from the features the
last transposed convolution reads and per-pixel noise, as a generator of
texture needs (StyleGAN's noise inputs; HiFiC's and Agustsson et al.'s
generators take noise for the same reason): each of its outputs is the
residual of one of the 2×2 pixels a feature position becomes
(depth-to-space), so nothing ties a pixel to its neighbours' phase.

At decoding the noise is a hash of each pixel's position in the image, so
a file decodes to the same pixels every time, everywhere, whole or in
tiles; training draws it afresh, from the same distribution.
"""

from __future__ import annotations

import tensorflow as tf

# Noise channels per pixel, hidden channels and 3×3 convolutions of the
# branch (all but the last followed by ReLU; the last starts at zero).
NOISE_CHANNELS = 2
HIDDEN = 64
CONVOLUTIONS = 3
_BLOCK = 2  # the last transposed convolution's stride


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
    """r·Δ added to the synthesis' RGB output, Δ drawn from the features
    [B, h, w, C] of its last transposed convolution (2× upsampling) and
    noise; at r = 0, exactly the synthesis it was added to."""

    def __init__(self, channels: int, **kwargs):
        super().__init__(name="realism", **kwargs)
        noise = NOISE_CHANNELS * _BLOCK ** 2
        widths = [HIDDEN] * (CONVOLUTIONS - 1) + [3 * _BLOCK ** 2]
        self.convolutions = []
        with tf.name_scope(self.name):
            inputs = channels + noise
            for i, width in enumerate(widths):
                last = i == len(widths) - 1
                conv = tf.keras.layers.Conv2D(
                    width, 3, padding="same", name=f"grain_{i}",
                    activation=None if last else "relu",
                    kernel_initializer="zeros" if last else "glorot_uniform")
                with tf.name_scope(conv.name):
                    conv.build([None, None, None, inputs])
                self.convolutions.append(conv)
                inputs = width

    def noise(self, features, training: bool, origin):
        """Per-pixel noise laid out as the features: [B, h, w, 2·2·N],
        for features whose first pixel is at `origin` in the image."""
        shape = tf.shape(features)
        channels = NOISE_CHANNELS * _BLOCK ** 2
        if training:
            bound = 3. ** 0.5  # uniform of variance 1, as position_noise
            noise = tf.random.uniform(
                tf.concat([shape[:3], [channels]], 0), -bound, bound)
        else:
            noise = tf.nn.space_to_depth(position_noise(
                shape[1] * _BLOCK, shape[2] * _BLOCK, NOISE_CHANNELS,
                origin)[None],
                _BLOCK)
            noise = tf.broadcast_to(noise, tf.concat(
                [shape[:1], tf.shape(noise)[1:]], 0))
        return tf.cast(noise, features.dtype)

    def add(self, image, features, realism, training: bool = False,
            origin=(0, 0)):
        """image + r·Δ for an image whose first pixel is at `origin` of
        the whole; the image itself when every r is 0, without computing
        Δ."""
        def grained():
            x = tf.concat([features, self.noise(features, training, origin)],
                          -1)
            for conv in self.convolutions:
                x = conv(x)
            delta = tf.nn.depth_to_space(x, _BLOCK)
            r = tf.cast(realism, image.dtype)[:, None, None, None]
            return image + r * tf.cast(delta, image.dtype)
        return tf.cond(tf.reduce_any(tf.not_equal(realism, 0.)), grained,
                       lambda: image)
