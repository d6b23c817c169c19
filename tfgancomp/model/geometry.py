"""Sizes and padding: how an image of any size maps onto the latent grids."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_compression as tfc


def ceil_div(size, stride):
    """⌈size / stride⌉ for integers or integer tensors."""
    return (size + stride - 1) // stride


def pad_to_multiple(x, multiple: int):
    """Pads [B, H, W, C] at the bottom and right to multiples of `multiple`,
    repeating the last row and column.

    'same' convolutions with stride 2 pad asymmetrically on odd sizes, which
    shifts the sampling grid by a pixel against even sizes; the decoder's
    upsampling cannot know it. Padded inputs keep every level even.
    """
    shape = tf.shape(x)
    rows = tf.minimum(tf.range(ceil_div(shape[1], multiple) * multiple),
                      shape[1] - 1)
    cols = tf.minimum(tf.range(ceil_div(shape[2], multiple) * multiple),
                      shape[2] - 1)
    return tf.gather(tf.gather(x, rows, axis=1), cols, axis=2)


def ste_round(x):
    """Rounds in the forward pass, identity gradient in the backward pass.

    tfc's custom-gradient op: written as x + stop_gradient(round(x) - x),
    grappler may reassociate the sum in graphs of static shape and miss
    round(x) by an ulp, enough to truncate a scale index to the table
    below."""
    return tfc.round_st(x)
