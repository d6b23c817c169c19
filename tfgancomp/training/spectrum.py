"""The power spectrum of an image's fine detail, and the realism phase's
term that charges what a reconstruction has of it beyond its original."""

from __future__ import annotations

import tensorflow as tf


def detail_spectrum(images):
    """[B, H, W]: the power spectrum of each image's fine detail, the
    circular 4-neighbour Laplacian of its luma (`metrics.lattice_share`'s
    detail), which weights frequency f by about |2πf|⁴."""
    luma = tf.tensordot(tf.cast(images, tf.float32),
                        tf.constant([0.299, 0.587, 0.114]), 1)
    laplacian = tf.add_n([tf.roll(luma, shift, axis) for shift in (1, -1)
                          for axis in (1, 2)]) - 4. * luma
    return tf.abs(tf.signal.fft2d(
        tf.complex(laplacian, tf.zeros_like(laplacian)))) ** 2


def _smooth(spectrum, reach: int):
    """The mean over the (2·reach + 1)² neighbouring frequencies, circular."""
    x = spectrum[..., None]
    for axis in (1, 2):
        size = tf.shape(x)[axis]
        x = tf.concat([tf.gather(x, tf.range(size - reach, size), axis=axis),
                       x, tf.gather(x, tf.range(reach), axis=axis)], axis)
    width = 2 * reach + 1
    return tf.nn.avg_pool2d(x, width, 1, "VALID")[..., 0]


def spectral_excess(images, reconstructions, reach: int = 2):
    """[B]: the detail power a reconstruction has beyond its original's,
    frequency by frequency (each spectrum averaged over 5×5 neighbouring
    frequencies), over the original's total. Texture drawn within the
    original's spectrum costs nothing; a regular pattern, its power in a
    few peaks far above the original's there, costs about its power. The
    adversarial terms alone draw such patterns (BUILD_NOTES.md, "Realism
    as grain")."""
    real = _smooth(detail_spectrum(images), reach)
    fake = _smooth(detail_spectrum(reconstructions), reach)
    return (tf.reduce_sum(tf.nn.relu(fake - real), [1, 2]) /
            (tf.reduce_sum(real, [1, 2]) + 1e-12))
