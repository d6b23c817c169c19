"""Loss terms: rate, distortions, GAN losses and the weight of the rate.

Everything here is made of TensorFlow ops and works inside `tf.function`.
Each loss is the mean over the batch it is given; under `tf.distribute`
that is the replica's batch, so scale by `1 / num_replicas_in_sync` before
the optimizer sums the replicas' gradients.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, NamedTuple

import tensorflow as tf

from tfgancomp.errors import ConfigError


def bits_per_pixel(bits, images):
    """Mean over the batch of bits / pixels, for bits of shape [B]."""
    shape = tf.shape(images)
    pixels = tf.cast(shape[1] * shape[2], bits.dtype)
    return tf.reduce_mean(bits) / pixels


def _mean(x, per_example: bool):
    """The mean over everything, or over all but the batch axis."""
    return tf.reduce_mean(x, axis=list(range(1, x.shape.rank))
                          if per_example else None)


def mse_255(images, reconstructions, per_example: bool = False):
    """Mean squared error on the 0..255 scale, for images in [0, 1]: of
    the batch, or [B] with `per_example`."""
    return _mean(tf.math.squared_difference(
        images * 255., reconstructions * 255.), per_example)


def l1_255(images, reconstructions, per_example: bool = False):
    """Mean absolute error on the 0..255 scale, for images in [0, 1]."""
    return _mean(tf.abs(images * 255. - reconstructions * 255.),
                 per_example)


MS_SSIM_FILTER = 11
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_scales(side: int) -> int:
    """Scales MS-SSIM can use when the shorter image side is `side` px.

    Each scale halves the image (rounding up) and the 11-px filter must fit
    in the smallest: n scales need 10·2^(n-1) + 1 px, so 161 px for all
    five, 81 for four, 41 for three (64-px crops), 21 for two, 11 for one.
    """
    scales = 0
    while (scales < len(MS_SSIM_WEIGHTS)
           and side >= (MS_SSIM_FILTER - 1) * 2**scales + 1):
        scales += 1
    return scales


@tf.custom_gradient
def _nan_gradient_to_zero(x):
    """The identity, whose gradient has its NaNs replaced by zeros."""
    def gradient(dy):
        return tf.where(tf.math.is_nan(dy), tf.zeros_like(dy), dy)
    return tf.identity(x), gradient


def ms_ssim_loss(images, reconstructions, per_example: bool = False):
    """1 − MS-SSIM (Wang et al., 2003) of images in [0, 1].

    Images smaller than 161 px per side get only the `ms_ssim_scales` that
    fit, the finest ones, with their weights scaled up to the sum of all
    five: a score s at every scale still gives MS-SSIM s, and one scale is
    plain SSIM. From 161 px on this is `tf.image.ssim_multiscale` as is.
    The number of scales comes from the static image size.

    `tf.image.ssim_multiscale` clips negative contrast-structure terms to 0
    before raising them to fractional powers, which makes its gradient NaN
    (tensorflow/tensorflow#50400); such an image channel gets no gradient
    from this loss instead.
    """
    images = tf.convert_to_tensor(images)
    height, width = images.shape[1:3]
    if height is None or width is None:
        raise ValueError("MS-SSIM needs images of a static height and width")
    scales = ms_ssim_scales(min(height, width))
    if scales == 0:
        raise ConfigError(
            f"MS-SSIM needs images of at least {MS_SSIM_FILTER} px per side, "
            f"got {height}×{width}")
    kept = MS_SSIM_WEIGHTS[:scales]
    factor = sum(MS_SSIM_WEIGHTS) / sum(kept)
    score = tf.image.ssim_multiscale(
        _nan_gradient_to_zero(images),
        _nan_gradient_to_zero(reconstructions), max_val=1.0,
        power_factors=[w * factor for w in kept],
        filter_size=MS_SSIM_FILTER)
    return 1. - score if per_example else tf.reduce_mean(1. - score)


# What one unit of each distortion is worth in MSE on 0..255, so that terms
# can be mixed and λ keeps its meaning whatever the distortion. Measured on
# BSDS500 and Sun-Hays photos (downscaled by 2) coded with JPEG at 22 to
# 36 dB PSNR: MSE / (1 − MS-SSIM) is 1300–2000 (64- to 256-px crops);
# MSE / L1 grows with the error (6 at 36 dB, 26 at 22 dB), being quadratic
# against linear, and is about 12 at 30 dB.
MS_SSIM_TO_MSE = 1700.
L1_TO_MSE = 12.

DISTORTIONS = {
    "mse": (mse_255, 1.),
    "l1": (l1_255, L1_TO_MSE),
    "ms_ssim": (ms_ssim_loss, MS_SSIM_TO_MSE),
}


def _parse_distortion(spec) -> dict[str, float]:
    if isinstance(spec, str):
        if not spec.strip():
            raise ConfigError("the distortion spec is empty")
        items = []
        for part in spec.split(","):
            name, colon, weight = part.partition(":")
            items.append((name.strip(), weight.strip() if colon else 1.))
    elif isinstance(spec, Mapping):
        items = list(spec.items())
    else:
        raise ConfigError(
            f"a distortion spec is a string or a mapping, got {spec!r}")
    weights = {}
    for name, weight in items:
        if name not in DISTORTIONS:
            raise ConfigError(
                f"unknown distortion {name!r} in {spec!r}; choose from "
                f"{', '.join(DISTORTIONS)}")
        if name in weights:
            raise ConfigError(f"distortion {name!r} repeats in {spec!r}")
        try:
            value = float(weight)
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(
                f"the weight of {name!r} must be a positive number, "
                f"got {weight!r} in {spec!r}")
        weights[name] = value
    if not weights:
        raise ConfigError("the distortion spec is empty")
    return weights


class Distortion:
    """A weighted sum of distortions, in units of MSE on 0..255.

    Built from a spec such as "mse", "ms_ssim", "l1" or
    "mse:0.8,ms_ssim:0.2" (a weight defaults to 1), or from a mapping of
    names to weights. Each term is scaled to MSE units (`DISTORTIONS`:
    1700·(1 − MS-SSIM), 12·L1) before weighting, so the weights of a mix
    compare like terms and "ms_ssim" needs about the λ "mse" does.
    """

    def __init__(self, spec: str | Mapping[str, float]):
        self.weights = _parse_distortion(spec)

    @property
    def spec(self) -> str:
        """The canonical spec string, e.g. for a config file."""
        return ",".join(f"{n}:{w!r}" for n, w in self.weights.items())

    def __repr__(self):
        return f"Distortion({self.spec!r})"

    def terms(self, images, reconstructions,
              per_example: bool = False) -> dict[str, tf.Tensor]:
        """Each term in MSE units, before weighting (for logging)."""
        terms = {}
        for name in self.weights:
            fn, scale = DISTORTIONS[name]
            terms[name] = scale * fn(images, reconstructions, per_example)
        return terms

    def __call__(self, images, reconstructions, per_example: bool = False):
        """The weighted sum: of the batch, or [B] with `per_example`."""
        terms = self.terms(images, reconstructions, per_example)
        return tf.add_n([w * terms[n] for n, w in self.weights.items()])


def rate_distortion(bpp, distortion, lmbda):
    """The rate-distortion Lagrangian R + λ·D."""
    return bpp + lmbda * distortion


class RateWeight:
    """The multiplier on the rate term, fixed or switched at a target bpp.

    As in HiFiC (Mentzer et al., 2020), the rate is steered towards
    `target_bpp` by its weight: `high` when the batch's bpp is above the
    target, `low` when it is at or below it. Without a target the weight is
    always `low`. Use it as `rate_distortion(weight(bpp) * bpp, D, lmbda)`.
    """

    def __init__(self, low: float = 1.0, high: float | None = None,
                 target_bpp: float | None = None):
        if (high is None) != (target_bpp is None):
            raise ConfigError(
                "a switched rate weight needs both high and target_bpp")
        for name, value in (("low", low), ("high", high),
                            ("target_bpp", target_bpp)):
            if value is not None and not (
                    isinstance(value, (int, float)) and math.isfinite(value)
                    and value > 0):
                raise ConfigError(
                    f"rate weight {name} must be positive, got {value!r}")
        if high is not None and high < low:
            raise ConfigError(
                f"rate weight high ({high}) must be at least low ({low})")
        self.low, self.high, self.target_bpp = low, high, target_bpp

    def __call__(self, bpp):
        bpp = tf.convert_to_tensor(bpp)
        low = tf.constant(self.low, bpp.dtype)
        if self.target_bpp is None:
            return low
        high = tf.constant(self.high, bpp.dtype)
        return tf.where(bpp > self.target_bpp, high, low)


# GAN losses on discriminator logits: a tensor, or a list of tensors from a
# multi-scale discriminator, whose per-scale losses are averaged.

def _over_scales(loss_fn, *logits):
    """loss_fn of one scale's logits, averaged over the scales."""
    is_list = [isinstance(x, (list, tuple)) for x in logits]
    if not any(is_list):
        return loss_fn(*logits)
    scales = len(logits[0]) if is_list[0] else 0
    if not all(is_list) or scales == 0 or any(
            len(x) != scales for x in logits):
        raise ValueError("real and fake logits need the same number of "
                         "scales, at least one")
    return tf.add_n([loss_fn(*scale) for scale in zip(*logits)]) / scales


def _mean_softplus(x):
    return tf.reduce_mean(tf.nn.softplus(x))


def _mean_relu(x):
    return tf.reduce_mean(tf.nn.relu(x))


def _example_mean(x):
    return _mean(x, per_example=True)


class GanLoss(NamedTuple):
    """The two halves of one GAN loss, on logits of one scale."""
    name: str
    generator_fn: Callable  # (fake logits) -> [B]
    discriminator_fn: Callable  # (real logits, fake logits) -> scalar

    def generator(self, fake_logits, per_example: bool = False):
        """The generator's loss, minimised by making fakes look real: of
        the batch, or [B] with `per_example`."""
        loss = _over_scales(self.generator_fn, fake_logits)
        return loss if per_example else tf.reduce_mean(loss)

    def discriminator(self, real_logits, fake_logits):
        """The discriminator's loss, minimised by telling them apart."""
        return _over_scales(self.discriminator_fn, real_logits, fake_logits)


# Discriminator losses sum the real and the fake halves, none halved: the
# non-saturating one is 2·log 2 and the generator's log 2 at zero logits.
GAN_LOSSES = {
    # Goodfellow et al., 2014, −log D(G(z)) for the generator.
    "non_saturating": GanLoss(
        "non_saturating",
        lambda fake: _example_mean(tf.nn.softplus(-fake)),
        lambda real, fake: _mean_softplus(-real) + _mean_softplus(fake)),
    # Mao et al., 2017: targets 1 for real, 0 for fake.
    "least_squares": GanLoss(
        "least_squares",
        lambda fake: _example_mean(tf.square(fake - 1.)),
        lambda real, fake: (tf.reduce_mean(tf.square(real - 1.))
                            + tf.reduce_mean(tf.square(fake)))),
    # Lim & Ye, 2017; Miyato et al., 2018.
    "hinge": GanLoss(
        "hinge",
        lambda fake: -_example_mean(fake),
        lambda real, fake: _mean_relu(1. - real) + _mean_relu(1. + fake)),
    # Arjovsky et al., 2017; add `gradient_penalty` to the critic's loss.
    "wasserstein": GanLoss(
        "wasserstein",
        lambda fake: -_example_mean(fake),
        lambda real, fake: tf.reduce_mean(fake) - tf.reduce_mean(real)),
}


def gan_loss(name: str) -> GanLoss:
    """The GAN loss called `name`, one of `GAN_LOSSES`."""
    if name not in GAN_LOSSES:
        raise ConfigError(f"unknown GAN loss {name!r}; choose from "
                          f"{', '.join(GAN_LOSSES)}")
    return GAN_LOSSES[name]


def gradient_penalty(discriminator_fn, real, fake, *conditioning):
    """The WGAN-GP penalty E[(‖∇ₓD(x̂)‖₂ − 1)²] (Gulrajani et al., 2017).

    x̂ = fake + ε·(real − fake), ε ~ U[0, 1] per example. Only the images
    are interpolated: `discriminator_fn(x̂, *conditioning)` gets the
    conditioning (e.g. latents) unchanged. The critic's value for an
    example is the mean of its logits, as in the Wasserstein loss; each
    example's gradient is taken on its own input, so the critic must treat
    examples independently (no batch norm in training mode). A list of
    logits gives the mean of the per-scale penalties. Unweighted: the
    usual weight is 10.
    """
    real = tf.convert_to_tensor(real)
    fake = tf.convert_to_tensor(fake, real.dtype)
    rank = real.shape.rank
    shape = tf.concat([tf.shape(real)[:1], tf.ones([rank - 1], tf.int32)], 0)
    epsilon = tf.random.uniform(shape, dtype=real.dtype)
    interpolated = fake + epsilon * (real - fake)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(interpolated)
        logits = discriminator_fn(interpolated, *conditioning)
        if not isinstance(logits, (list, tuple)):
            logits = [logits]
        values = [tf.reduce_sum(tf.reduce_mean(
            tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)) for x in logits]
    penalties = []
    for value in values:
        gradient = tape.gradient(value, interpolated)
        # The 1e-12 keeps the norm's own gradient finite at zero.
        norm = tf.sqrt(tf.reduce_sum(
            tf.square(gradient), axis=list(range(1, rank))) + 1e-12)
        penalties.append(tf.reduce_mean(tf.square(norm - 1.)))
    return tf.add_n(penalties) / len(penalties)


def feature_matching(real_features, fake_features):
    """[B]: the mean absolute difference between the discriminator's
    features of the real and the fake image (pix2pixHD), averaged over
    layers; the real features are constants. Float32 whatever the
    discriminator's compute type, as every loss term is."""
    return tf.add_n([
        _example_mean(tf.abs(tf.cast(tf.stop_gradient(real), tf.float32) -
                             tf.cast(fake, tf.float32)))
        for real, fake in zip(real_features, fake_features)
    ]) / len(real_features)


def discriminator_accuracy(real_logits, fake_logits):
    """Mean of the fractions of real logits > 0 and fake logits < 0.

    For TensorBoard; meaningless for Wasserstein critics, whose logits
    have no threshold.
    """
    def accuracy(real, fake):
        real_right = tf.reduce_mean(tf.cast(real > 0, tf.float32))
        fake_right = tf.reduce_mean(tf.cast(fake < 0, tf.float32))
        return (real_right + fake_right) / 2.
    return _over_scales(accuracy, real_logits, fake_logits)
