"""The two knobs of a variable-rate, variable-realism codec.

* Quality q in [0, 1], chosen by the encoder and stored in the file: gain
  units (Cui et al., 2021, "Asymmetric gained deep image compression with
  continuous rate adaptation"). The latents are multiplied channel by
  channel by a gain vector before quantization and the decoded ones by an
  inverse gain vector before synthesis. `qualities` vectors are trained at
  evenly spaced q; between them the log-gains are interpolated linearly, so
  every q in [0, 1] is a valid rate.
* Realism r in [0, 1], chosen by whoever decodes (after Agustsson et al.,
  2023, "Multi-realism image compression with a conditional generator"):
  the synthesis transform's features are modulated by r (FiLM: x·(1 + γ(r))
  + β(r), per channel). The last layer of the modulation starts at zero, so
  an unconditioned decoder warm-starts exactly.
"""

from __future__ import annotations

import tensorflow as tf


def lmbda_at(lmbdas, quality=None):
    """The rate-distortion weight at `quality`: `lmbdas` itself for a
    fixed-rate model; for a variable-rate one, lmbdas = (λ at quality 0, λ
    at quality 1), geometric in between."""
    if quality is None:
        return lmbdas
    low, high = lmbdas
    return low * (high / low) ** quality


def check_knob(name: str, value, present: bool):
    """ValueError unless a knob is given exactly when the model has it."""
    if (value is None) == present:
        raise ValueError(f"this model {'needs' if present else 'has no'} "
                         f"{name}")


def as_batch(value, batch_size, name: str):
    """A knob given as a number or per example → float32 [B]."""
    value = tf.convert_to_tensor(value, tf.float32, name=name)
    return tf.broadcast_to(value, [batch_size])


class GainUnits(tf.keras.layers.Layer):
    """Per-channel gains of the latents at `qualities` trained qualities.

    The variables hold log-gains divided by `SPEED`: Adam's steps are about
    its learning rate whatever the gradient, and log-gains must travel
    about 1 where the transforms' weights move about 0.01, so they learn
    that many times faster.
    """

    SPEED = 32.

    def __init__(self, qualities: int, channels: int, **kwargs):
        super().__init__(name="gain", dtype="float32", **kwargs)
        self.qualities = qualities
        self.log_gain = self.add_weight(
            "log_gain", [qualities, channels], initializer="zeros")
        self.log_inverse_gain = self.add_weight(
            "log_inverse_gain", [qualities, channels], initializer="zeros")

    def initialize(self, log_gains):
        """Starts gains at exp(log_gains[k]) for trained quality k (one
        number per quality), inverse gains at their reciprocal."""
        log_gains = tf.constant(log_gains, tf.float32)[:, None] / self.SPEED
        ones = tf.ones_like(self.log_gain)
        self.log_gain.assign(ones * log_gains)
        self.log_inverse_gain.assign(-ones * log_gains)

    def _interpolate(self, table, quality):
        position = tf.clip_by_value(quality, 0., 1.) * (self.qualities - 1)
        low = tf.minimum(tf.floor(position), self.qualities - 2.)
        fraction = (position - low)[:, None]
        low = tf.cast(low, tf.int32)
        log = ((1. - fraction) * tf.gather(table, low) +
               fraction * tf.gather(table, low + 1))
        return tf.exp(log * self.SPEED)[:, None, None, :]

    def gain(self, quality):
        """[B, 1, 1, C] gains for qualities [B]."""
        return self._interpolate(self.log_gain, quality)

    def inverse_gain(self, quality):
        """[B, 1, 1, C] inverse gains for qualities [B]."""
        return self._interpolate(self.log_inverse_gain, quality)


class RealismModulation(tf.keras.layers.Layer):
    """FiLM parameters for named feature maps, from realism r [B]."""

    def __init__(self, channels: dict[str, int], hidden: int = 64, **kwargs):
        super().__init__(name="realism", dtype="float32", **kwargs)
        self.channels = dict(channels)
        self.hidden = tf.keras.layers.Dense(hidden, activation="relu",
                                            name="hidden")
        self.heads = {
            name: tf.keras.layers.Dense(2 * count, name=f"film_{name}",
                                        kernel_initializer="zeros")
            for name, count in self.channels.items()}
        # Weights made now, each under its own name (warm starts and
        # exports match variables by name).
        with tf.name_scope(self.name):
            with tf.name_scope(self.hidden.name):
                self.hidden.build([None, 1])
            for head in self.heads.values():
                with tf.name_scope(head.name):
                    head.build([None, hidden])

    def embed(self, realism):
        """The hidden features [B, hidden] of realism [B], computed once
        per call of the synthesis."""
        return self.hidden(realism[:, None])

    def modulate(self, x, name: str, embedding):
        """x·(1 + γ) + β for feature map `name`."""
        scale, shift = tf.split(self.heads[name](embedding), 2, axis=-1)
        scale = tf.cast(scale[:, None, None, :], x.dtype)
        shift = tf.cast(shift[:, None, None, :], x.dtype)
        return x * (1. + scale) + shift
