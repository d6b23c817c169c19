"""Image quality and rate measures on 8-bit RGB images.

PSNR, SSIM, MS-SSIM, bpp and compression ratios per image; a weights-free
detail measure; FID and KID over sets of patches, with InceptionV3 weights
from a file the user gives (none are downloaded).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tfgancomp.errors import ModelError

MAX_VALUE = 255.0
SSIM_FILTER = 11
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_SCALES = len(MS_SSIM_WEIGHTS)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"expected an [H, W, 3] image, got {image.shape}")
    return image


def _pair(a, b, dtype=np.float64):
    a, b = _as_rgb(a), _as_rgb(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in size: {a.shape} vs {b.shape}")
    return a.astype(dtype), b.astype(dtype)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over all RGB samples (inf if equal)."""
    a, b = _pair(a, b)
    mse = np.mean((a - b) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(MAX_VALUE**2 / mse)


SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _gaussian_taps(size: int) -> np.ndarray:
    taps = np.exp(-(np.arange(size) - (size - 1) / 2) ** 2
                  / (2 * SSIM_SIGMA**2))
    return taps / taps.sum()


def _blur(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Valid filtering of [H, W, C] by the separable Gaussian `taps`×`taps`."""
    n = len(taps)
    x = sum(t * x[i:x.shape[0] - n + 1 + i] for i, t in enumerate(taps))
    return sum(t * x[:, i:x.shape[1] - n + 1 + i] for i, t in enumerate(taps))


def _ssim_terms(x: np.ndarray, y: np.ndarray, size: int):
    """Per channel: the mean SSIM and the mean contrast-structure term."""
    taps = _gaussian_taps(size).astype(x.dtype)
    c1, c2 = (SSIM_K1 * MAX_VALUE) ** 2, (SSIM_K2 * MAX_VALUE) ** 2
    mx, my = _blur(x, taps), _blur(y, taps)
    luminance = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
    cross = 2 * (_blur(x * y, taps) - mx * my)
    spread = _blur(x * x + y * y, taps) - mx**2 - my**2
    contrast = (cross + c2) / (spread + c2)
    return (luminance * contrast).mean((0, 1)), contrast.mean((0, 1))


def _halve(x: np.ndarray) -> np.ndarray:
    """2×2 average pooling; an odd side first repeats its last row or
    column (TensorFlow's symmetric padding)."""
    x = np.pad(x, ((0, x.shape[0] % 2), (0, x.shape[1] % 2), (0, 0)),
               mode="symmetric")
    return (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2]
            + x[1::2, 1::2]) / 4


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM (Wang et al., 2004) with TensorFlow's conventions (11-tap
    Gaussian of σ 1.5, valid filtering, mean of the channels); the window
    shrinks to fit."""
    x, y = _pair(a, b, np.float32)
    size = min(SSIM_FILTER, x.shape[0], x.shape[1])
    return float(np.mean(_ssim_terms(x, y, size)[0]))


def ms_ssim_min_side() -> int:
    """Smallest side MS-SSIM is defined for with the standard 5 scales."""
    return (SSIM_FILTER - 1) * 2 ** (MS_SSIM_SCALES - 1) + 1


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float | None:
    """MS-SSIM (Wang et al., 2003), as `tf.image.ssim_multiscale` computes
    it (in float32, negative terms clipped to 0, per channel, then the
    mean of the channels), in NumPy: about 8 times faster than
    TensorFlow's on 2 cores (benchmarks/metrics_speed.py).
    None for images smaller than `ms_ssim_min_side`."""
    x, y = _pair(a, b, np.float32)
    if min(x.shape[:2]) < ms_ssim_min_side():
        return None
    terms = []
    for scale, weight in enumerate(MS_SSIM_WEIGHTS):
        if scale:
            x, y = _halve(x), _halve(y)
        whole, contrast = _ssim_terms(x, y, SSIM_FILTER)
        last = scale == MS_SSIM_SCALES - 1
        terms.append(np.maximum(whole if last else contrast, 0) ** weight)
    return float(np.mean(np.prod(terms, axis=0)))


def detail_energy(rgb: np.ndarray) -> float:
    """The mean square of the 4-neighbour Laplacian of the luma (BT.601
    weights) of an RGB image, inside its border: `detail_ratio`'s
    measure."""
    luma = rgb @ np.array([0.299, 0.587, 0.114])
    laplacian = (luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2]
                 + luma[1:-1, 2:] - 4 * luma[1:-1, 1:-1])
    return float(np.mean(laplacian**2))


def detail_ratio(original: np.ndarray,
                 reconstruction: np.ndarray) -> float | None:
    """High-frequency energy of the reconstruction over the original's.

    The energy is `detail_energy`. 1.0: as much fine texture as the
    original; below 1: detail blurred away; above 1: more than there was
    (noise, ringing, block edges). It measures amount, not fidelity. None
    for images under 3 px per side; inf if the original is flat and the
    reconstruction is not.
    """
    original, reconstruction = _pair(original, reconstruction)
    if min(original.shape[:2]) < 3:
        return None
    energy = detail_energy(original)
    other = detail_energy(reconstruction)
    if energy == 0:
        return 1.0 if other == 0 else math.inf
    return other / energy


# Pixels: the latent stride of the models, whose lattice holds those of
# every chain of stride-2 upsamplings (periods 2, 4, 8 and 16).
LATTICE_PERIOD = 16


def lattice_share(rgb: np.ndarray) -> float | None:
    """Percent of an image's fine detail that lies on the lattice of
    `LATTICE_PERIOD` px, aligned with its top-left corner.

    The detail is the 4-neighbour Laplacian of the luma (as in
    `detail_ratio`, here circular), over the largest top-left crop whose
    sides are multiples of the period; the lattice is the frequencies
    (a/16, b/16) cycles per pixel but the constant, 255 of H·W. Photos put
    little there (the 200 of bsds500/test: median 0.24%, 95% below 0.62%);
    a decoder that draws a regular pattern at its upsampling strides, tens
    of percent. `detail_ratio` counts that pattern as detail; this tells
    it apart. None for images under one period per side.
    """
    luma = _as_rgb(np.asarray(rgb, np.float64)) @ np.array(
        [0.299, 0.587, 0.114])
    height, width = (n - n % LATTICE_PERIOD for n in luma.shape)
    if min(height, width) == 0:
        return None
    luma = luma[:height, :width]
    laplacian = sum(np.roll(luma, shift, axis) for shift in (1, -1)
                    for axis in (0, 1)) - 4 * luma
    power = np.abs(np.fft.fft2(laplacian)) ** 2
    power[0, 0] = 0.  # the Laplacian's sum: zero up to rounding
    total = power.sum()
    lattice = power[::height // LATTICE_PERIOD, ::width // LATTICE_PERIOD]
    return float(100 * lattice.sum() / total) if total else 0.


def bits_per_pixel(num_bytes: int, height: int, width: int) -> float:
    return 8.0 * num_bytes / (height * width)


def compression_ratio(num_bytes: int, height: int, width: int,
                      channels: int = 3) -> float:
    """Size of the raw 8-bit image over the compressed size."""
    return height * width * channels / num_bytes


def image_patches(rgb: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping size×size tiles from the top left, [N, size, size,
    3]; the side shrinks to the image's for smaller images."""
    rgb = _as_rgb(rgb)
    size = min(size, rgb.shape[0], rgb.shape[1])
    rows, cols = rgb.shape[0] // size, rgb.shape[1] // size
    tiles = rgb[:rows * size, :cols * size].reshape(
        rows, size, cols, size, 3).swapaxes(1, 2)
    return tiles.reshape(rows * cols, size, size, 3)


INCEPTION_SIZE = 299


def build_inception():
    """InceptionV3 without its classifier, average-pooled: 2048 features."""
    import tensorflow as tf
    return tf.keras.applications.InceptionV3(
        include_top=False, pooling="avg", weights=None,
        input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))


class InceptionFeatures:
    """InceptionV3 features of image patches, for FID and KID.

    The weights are a file the user gives: Keras weights (.h5) or a TF
    checkpoint of `build_inception()`, e.g. Keras's
    inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5. Patches are
    resized (bilinear) to 299×299 and scaled to [-1, 1] as InceptionV3
    expects.
    """

    def __init__(self, weights_path, batch_size: int = 16):
        path = Path(weights_path)
        if not (path.is_file() or Path(f"{path}.index").is_file()):
            raise ModelError(f"InceptionV3 weights not found: {path}")
        self.model = build_inception()
        try:
            self.model.load_weights(str(path))
        except Exception as e:  # Keras raises many kinds for a bad file
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ModelError(f"cannot load InceptionV3 weights from {path}: "
                             f"{reason[:200]}") from None
        self.batch_size = batch_size

    def __call__(self, patches: np.ndarray) -> np.ndarray:
        """[N, H, W, 3] uint8 patches -> [N, 2048] float64 features."""
        import tensorflow as tf
        features = []
        for start in range(0, len(patches), self.batch_size):
            batch = tf.image.resize(
                tf.cast(patches[start:start + self.batch_size], tf.float32),
                (INCEPTION_SIZE, INCEPTION_SIZE))
            features.append(self.model(batch / 127.5 - 1, training=False))
        return np.concatenate(features).astype(np.float64)


def frechet_distance(mean_a, cov_a, mean_b, cov_b) -> float:
    """||μa − μb||² + tr(Σa + Σb − 2 (Σa Σb)^½), the Fréchet distance of two
    Gaussians. tr (Σa Σb)^½ is the sum of the square roots of the
    eigenvalues of Σa^½ Σb Σa^½ (symmetric, so no complex round-off)."""
    mean_a, mean_b = np.asarray(mean_a), np.asarray(mean_b)
    cov_a, cov_b = np.atleast_2d(cov_a), np.atleast_2d(cov_b)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    product = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sum(np.sqrt(np.clip(product, 0, None)))
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a)
                 + np.trace(cov_b) - 2 * trace_root)


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet Inception distance of two feature sets [N, D] (N ≥ 2)."""
    return frechet_distance(
        features_a.mean(0), np.cov(features_a, rowvar=False),
        features_b.mean(0), np.cov(features_b, rowvar=False))


def kid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Kernel Inception distance: the unbiased estimate of MMD² with the
    kernel k(x, y) = (x·y / D + 1)³ (Bińkowski et al., 2018), over all
    features (N ≥ 2 on each side)."""
    def kernel(x, y):
        return (x @ y.T / x.shape[1] + 1) ** 3
    m, n = len(features_a), len(features_b)
    kaa = kernel(features_a, features_a)
    kbb = kernel(features_b, features_b)
    kab = kernel(features_a, features_b)
    return float((kaa.sum() - np.trace(kaa)) / (m * (m - 1))
                 + (kbb.sum() - np.trace(kbb)) / (n * (n - 1))
                 - 2 * kab.mean())
