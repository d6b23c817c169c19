"""What training minimises: knobs drawn per example, rate + distortion
(with the realism knob, + the texture term), and the adversarial terms
of the codec (the generator).

Each loss is the mean over the batch it is given (see losses.py); with
the knobs, λ and the weight of the realism terms vary per example.
"""

from __future__ import annotations

import math

import tensorflow as tf

from tfgancomp.errors import ConfigError
from tfgancomp.model import conditioning
from tfgancomp.model.config import ModelConfig
from tfgancomp.training import detail, losses, validation
from tfgancomp.training.config import TrainConfig


class Objective:
    """The codec's loss terms for one model and training config."""

    def __init__(self, model_config: ModelConfig, config: TrainConfig):
        if config.texture_weight and not model_config.realism:
            raise ConfigError("texture_weight weights the texture term by "
                              "realism r: it needs a model with the "
                              "realism knob")
        self.model_config, self.config = model_config, config
        self.distortion = losses.Distortion(config.distortion)
        self.rate_weight = config.rate_weight()
        self.gan = losses.gan_loss(config.gan_loss)

    def knobs(self, images):
        """A random quality and realism per example, for the knobs the
        model has (else None)."""
        batch = tf.shape(images)[0]
        quality = realism = None
        if self.model_config.variable_rate:
            quality = tf.random.uniform([batch])
        if self.model_config.realism and self.config.trainable in (
                "codec", "entropy"):
            realism = tf.zeros([batch])  # the branch is not learning
        elif self.model_config.realism:
            # A sixth of the examples at each end, the settings used most.
            realism = tf.clip_by_value(
                tf.random.uniform([batch], -0.25, 1.25), 0., 1.)
        return quality, realism

    def lmbda(self, quality=None):
        """λ, per example for a variable-rate model."""
        return conditioning.lmbda_at(self.config.lmbdas, quality)

    def initial_log_gains(self, reference: float | None) -> list[float]:
        """Log-gains of 1 at λ = `reference` (a warm start's λ: its latents
        stay as they were there; by default the middle quality's λ), and
        ∝ √λ around it, as high-rate theory asks of a quantizer step."""
        qualities = self.model_config.qualities
        if reference is None:
            reference = self.lmbda(0.5)
        return [0.5 * math.log(self.lmbda(k / (qualities - 1)) / reference)
                for k in range(qualities)]

    def rate_distortion(self, images, forward, lmbda, realism):
        """Mean over the batch of w·bpp + λ·D, λ per example or not, plus
        for a model with the realism knob texture_weight times the
        texture mismatch, weighted as the adversarial terms are; and the
        measures to log."""
        pixels = tf.cast(tf.reduce_prod(tf.shape(images)[1:3]), tf.float32)
        example_bpp = tf.cast(forward.bits + forward.side_bits,
                              tf.float32) / pixels
        bpp = tf.reduce_mean(example_bpp)
        reconstruction = tf.cast(forward.reconstruction, tf.float32)
        distortion = self.distortion(images, reconstruction, per_example=True)
        weight = self.rate_weight(bpp)
        loss = losses.rate_distortion(weight * example_bpp, distortion,
                                      lmbda)
        mse = losses.mse_255(images, reconstruction)
        terms = {"bpp": bpp, "mse": mse, "psnr": validation.psnr(mse),
                 "distortion": tf.reduce_mean(distortion),
                 "rate_weight": weight}
        if self.config.texture_weight:  # only with the knob (__init__)
            mismatch = detail.texture_mismatch(images, reconstruction)
            loss += (self.config.texture_weight * mismatch * realism *
                     self.adversarial_lmbda(lmbda))
            terms["texture_mismatch"] = tf.reduce_mean(mismatch)
        return tf.reduce_mean(loss), terms

    def adversarial(self, images, fakes, fake_logits, fake_features,
                    real_features, lmbda, realism):
        """gan_weight·G + fm_weight·FM + spectral_weight·(spectral excess),
        per example weighted by r and `adversarial_lmbda` for a model with
        the realism knob; and its terms to log."""
        config = self.config
        generator = self.gan.generator(fake_logits, per_example=True)
        loss = config.gan_weight * generator
        terms = {"g_loss": tf.reduce_mean(generator)}
        if config.fm_weight:
            matching = losses.feature_matching(real_features, fake_features)
            loss += config.fm_weight * matching
            terms["fm_loss"] = tf.reduce_mean(matching)
        if config.spectral_weight:
            excess = detail.spectral_excess(images, fakes)
            loss += config.spectral_weight * excess
            terms["spectral_excess"] = tf.reduce_mean(excess)
        if realism is not None:
            loss *= realism * self.adversarial_lmbda(lmbda)
        return tf.reduce_mean(loss), terms

    def adversarial_lmbda(self, lmbda):
        """The λ that weights the adversarial terms of a realism model:
        λ itself, or with `adversarial_lmbda_exponent` p,
        λ_mid·(λ/λ_mid)^p for the middle quality's λ_mid (p < 1 leans
        the pull towards low rates, where the decoder must invent the
        most detail)."""
        exponent = self.config.adversarial_lmbda_exponent
        if exponent == 1.:
            return lmbda
        middle = self.lmbda(0.5)
        return middle * (lmbda / middle) ** exponent
