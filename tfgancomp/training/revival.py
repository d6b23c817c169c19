"""Latent channels that gain units switched off, switched back on.

A variable-rate model warm-started from a low-rate one can learn gains that
shrink some latent channels to nothing at every quality, the top one too:
their latents always round to the prior's mean, so even the top quality
codes with fewer channels than the model has, and no gradient turns them
back on (BUILD_NOTES.md, "Run 9"). Reviving such a channel
gives it the other channels' gains, and cuts what the synthesis and the
hyper-analysis read from it, so that decoding and the other channels' rates
start where they were and training decides what the channel carries.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfgancomp.errors import ConfigError


def _cut_inputs(layer: tf.keras.layers.Layer, channels) -> None:
    """Zeroes the weights of a convolution's input `channels`."""
    transposed = isinstance(layer, tf.keras.layers.Conv2DTranspose)
    kernel = layer.kernel.numpy()
    if transposed:  # [k, k, out, in]
        kernel[:, :, :, channels] = 0.
    else:  # [k, k, in, out]
        kernel[:, :, channels, :] = 0.
    layer.kernel.assign(kernel)


def _first_convolution(stack) -> tf.keras.layers.Layer:
    return next(layer for layer in stack.stack if hasattr(layer, "kernel"))


def revive_latents(codec, ratio: float = 0.1) -> list[int]:
    """Revives the latent channels `GainUnits.switched_off(ratio)` finds;
    returns their indices."""
    if codec.gain is None:
        raise ConfigError("revive_latents needs a variable-rate model: only "
                          "gains switch channels off")
    if codec.config.entropy_model != "hyperprior":
        raise ConfigError("revive_latents supports the hyperprior only")
    channels = codec.gain.switched_off(ratio)
    if not channels.any():
        return []
    codec.gain.revive(channels)
    _cut_inputs(_first_convolution(codec.synthesis), channels)
    _cut_inputs(_first_convolution(codec.entropy.hyper_analysis), channels)
    # Left as it was, the prior would predict the tiny scales of latents
    # that were always 0, and the first steps would cost hundreds of bits
    # per latent.
    codec.entropy.hyper_synthesis.restart_channels(channels)
    return np.flatnonzero(channels).tolist()
