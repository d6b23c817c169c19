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
  residual adapters on the synthesis transform's feature maps add r·Δ
  (`RealismAdapters`), so realism 0 is the decoder they were added to.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def lmbda_at(lmbdas, quality=None):
    """The rate-distortion weight at `quality`: `lmbdas` itself for a
    fixed-rate model; for a variable-rate one, lmbdas = (λ at quality 0, λ
    at quality 1), geometric in between."""
    if quality is None:
        return lmbdas
    low, high = lmbdas
    return low * (high / low) ** quality


def quality_of(lmbdas, lmbda: float) -> float:
    """The quality whose λ is `lmbda` on the range `lmbdas` = (λ at 0, λ
    at 1): the inverse of `lmbda_at`, below 0 or above 1 outside it."""
    low, high = lmbdas
    return float(np.log(lmbda / low) / np.log(high / low))


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

    def switched_off(self, ratio: float = 0.1):
        """bool [C]: the channels whose gain at the top quality is below
        `ratio` times the median channel's there. Their latents round to
        the prior's mean at every quality: capacity the model pays for and
        never uses (BUILD_NOTES.md, "Run 9")."""
        top = self.log_gain[-1].numpy() * self.SPEED
        return top < np.median(top) + np.log(ratio)

    def revive(self, channels):
        """Gives `channels` (bool [C]) at each trained quality the median
        gain and inverse gain of the other channels there."""
        channels = np.asarray(channels)
        for table in (self.log_gain, self.log_inverse_gain):
            values = table.numpy()
            median = np.median(values[:, ~channels], axis=1)
            values[:, channels] = median[:, None]
            table.assign(values)

    def adopt(self, source: "GainUnits", positions) -> None:
        """Takes `source`'s log-gains at fractional trained-quality
        `positions` of the source (one per quality of this one): linear
        between its trained qualities, as at coding time, and continued
        along its end segments beyond them. A warm start onto another λ
        range uses it, so each quality keeps the gains its λ had."""
        positions = np.asarray(positions, np.float64)
        low = np.clip(np.floor(positions), 0, source.qualities - 2)
        fraction = (positions - low)[:, None]
        low = low.astype(int)
        for mine, theirs in ((self.log_gain, source.log_gain),
                             (self.log_inverse_gain,
                              source.log_inverse_gain)):
            values = theirs.numpy()
            mine.assign((1. - fraction) * values[low] +
                        fraction * values[low + 1])

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


class RealismAdapters(tf.keras.layers.Layer):
    """Residual branches on named feature maps, scaled by realism r [B].

    x + r·Δ(x), Δ = 3×3 conv → ReLU → 3×3 conv at half the channels, the
    last conv zero-initialised. At r = 0 the synthesis is exactly the one
    the adapters were added to, whatever they learn: trained alone
    (`trainable="realism"`) they leave the distortion-optimal decoder bit
    for bit, and unlike per-channel modulation they see a neighbourhood,
    so they can draw texture.
    """

    def __init__(self, channels: dict[str, int], **kwargs):
        super().__init__(name="realism", **kwargs)
        self.branches = {}
        # Weights made now, each under its own name (warm starts and
        # exports match variables by name).
        with tf.name_scope(self.name):
            for name, count in channels.items():
                branch = [
                    tf.keras.layers.Conv2D(
                        max(count // 2, 1), 3, padding="same",
                        activation="relu", name=f"{name}_hidden"),
                    tf.keras.layers.Conv2D(
                        count, 3, padding="same", name=f"{name}_out",
                        kernel_initializer="zeros")]
                for conv, inputs in zip(branch, (count, count // 2)):
                    with tf.name_scope(conv.name):
                        conv.build([None, None, None, max(inputs, 1)])
                self.branches[name] = branch

    def adapt(self, x, name: str, realism):
        """x + r·Δ(x) for feature map `name`; x itself when every r is 0,
        without computing Δ (decoding at realism 0 costs no more than the
        synthesis without adapters)."""
        def adapted():
            delta = x
            for conv in self.branches[name]:
                delta = conv(delta)
            return x + tf.cast(realism, x.dtype)[:, None, None, None] * delta
        return tf.cond(tf.reduce_any(tf.not_equal(realism, 0.)), adapted,
                       lambda: x)
