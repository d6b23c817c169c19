"""Loss terms: rate in bits per pixel, distortion, the rate-distortion sum."""

from __future__ import annotations

import tensorflow as tf


def bits_per_pixel(bits, images):
    """Mean over the batch of bits / pixels, for bits of shape [B]."""
    shape = tf.shape(images)
    pixels = tf.cast(shape[1] * shape[2], bits.dtype)
    return tf.reduce_mean(bits) / pixels


def mse_255(images, reconstructions):
    """Mean squared error on the 0..255 scale, for images in [0, 1]."""
    return tf.reduce_mean(tf.math.squared_difference(
        images * 255., reconstructions * 255.))


def rate_distortion(bpp, distortion, lmbda):
    """The rate-distortion Lagrangian R + λ·D."""
    return bpp + lmbda * distortion
