"""Held-out measures during training: rate from the bit estimates of the
rounded latents (what coding writes), PSNR, MS-SSIM and detail ratio of
the 8-bit reconstructions."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfgancomp.evaluation.metrics import detail_ratio
from tfgancomp.training import losses


def psnr(mse):
    """PSNR in dB of an MSE on 0..255."""
    return 10. * tf.math.log(255.**2 / mse) / tf.math.log(10.)


def settings(config) -> list[tuple[str, float | None, float | None]]:
    """(metric prefix, quality, realism) of each held-out measurement: the
    ends and the middle of the quality range at realism 0, and the middle
    at realism 1, for the knobs the model has."""
    realism = 0. if config.realism else None
    if not config.variable_rate:
        qualities = [("", None)]
    else:
        qualities = [(f"quality_{q:g}/", q) for q in (0., .5, 1.)]
    found = [(prefix, q, realism) for prefix, q in qualities]
    if config.realism:
        middle = .5 if config.variable_rate else None
        found.append(("realism_1/", middle, 1.))
    return found


@tf.function(reduce_retracing=True)
def _evaluate(codec, images, quality, realism):
    forward = codec(images, training=False, quality=quality, realism=realism)
    reconstruction = tf.clip_by_value(
        tf.cast(forward.reconstruction, tf.float32), 0., 1.)
    bits = tf.cast(forward.bits + forward.side_bits, tf.float32)
    return reconstruction, bits


def held_out(codec, dataset: tf.data.Dataset, quality=None,
             realism=None) -> tuple[dict, tf.Tensor]:
    """Mean bpp, MSE, PSNR, MS-SSIM and detail ratio (of each image, as
    `tfgancomp evaluate` has it) over the dataset's images at the knobs
    given, and the first batch's original | reconstruction pictures."""
    totals = {"bpp": 0., "mse": 0., "ms_ssim": 0., "detail": 0.}
    count, first = 0, None
    # Tensors, not numbers: one trace serves every setting.
    quality, realism = (None if k is None else tf.constant(k, tf.float32)
                        for k in (quality, realism))
    for images in dataset:
        reconstruction, bits = _evaluate(codec, images, quality, realism)
        n = int(tf.shape(images)[0])
        rounded = tf.round(reconstruction * 255.) / 255.
        totals["bpp"] += n * float(losses.bits_per_pixel(bits, images))
        totals["mse"] += n * float(losses.mse_255(images, rounded))
        totals["ms_ssim"] += n * (1. - float(
            losses.ms_ssim_loss(images, rounded)))
        totals["detail"] += sum(detail_ratio(a, b) for a, b in zip(
            np.asarray(images), np.asarray(rounded)))
        count += n
        if first is None:
            first = tf.concat([images, rounded], axis=2)
    metrics = {k: v / count for k, v in totals.items()}
    metrics["psnr"] = float(psnr(metrics["mse"]))
    return metrics, first
