"""Images' fine detail (the 4-neighbour Laplacian of the luma, as the
evaluation's `detail_ratio` and `lattice_share` measure it) and the
realism terms that compare a reconstruction's to its original's: by
frequency (`spectral_excess`) and by place (`texture_mismatch`)."""

from __future__ import annotations

import tensorflow as tf

# Pixels per side of the blocks whose detail energy `texture_mismatch`
# compares: the models' latent stride.
BLOCK = 16


def _luma(images):
    return tf.tensordot(tf.cast(images, tf.float32),
                        tf.constant([0.299, 0.587, 0.114]), 1)


def laplacian(images, mirrored: bool = False):
    """[B, H, W]: the 4-neighbour Laplacian of each image's luma, circular
    (the image wrapped around), or `mirrored` at its border (no seam where
    its sides meet)."""
    luma = _luma(images)
    if mirrored:
        luma = tf.pad(luma, [[0, 0], [1, 1], [1, 1]], "SYMMETRIC")
    else:
        luma = tf.concat([luma[:, -1:], luma, luma[:, :1]], 1)
        luma = tf.concat([luma[:, :, -1:], luma, luma[:, :, :1]], 2)
    return (luma[:, :-2, 1:-1] + luma[:, 2:, 1:-1] + luma[:, 1:-1, :-2] +
            luma[:, 1:-1, 2:] - 4. * luma[:, 1:-1, 1:-1])


def detail_spectrum(images):
    """[B, H, W]: the power spectrum of each image's fine detail, which
    weights frequency f by about |2πf|⁴."""
    detail = laplacian(images)
    return tf.abs(tf.signal.fft2d(
        tf.complex(detail, tf.zeros_like(detail)))) ** 2


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


def block_energy(images):
    """[B, H/BLOCK, W/BLOCK]: the mean square of the fine detail in each
    block of BLOCK × BLOCK pixels (whole blocks only), the image mirrored
    at its border."""
    detail = laplacian(images, mirrored=True)
    return tf.nn.avg_pool2d(detail[..., None] ** 2, BLOCK, BLOCK,
                            "VALID")[..., 0]


def texture_mismatch(images, reconstructions):
    """[B]: Σ (E' - E)² / Σ E² over the blocks of each image, E and E'
    the original's and the reconstruction's `block_energy`: zero when
    every block has as much fine detail as the original's, whatever its
    phase. Minimised under uncertainty, E' is the mean of what E may be,
    so that the detail ratio over many images comes to 1; a blurred
    reconstruction costs up to 1."""
    real = block_energy(images)
    fake = block_energy(reconstructions)
    return (tf.reduce_sum((fake - real) ** 2, [1, 2]) /
            (tf.reduce_sum(real ** 2, [1, 2]) + 1e-12))
