"""Image quality and rate measures on 8-bit RGB images."""

from __future__ import annotations

import math

import numpy as np

MAX_VALUE = 255.0
SSIM_FILTER = 11
MS_SSIM_SCALES = 5


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"expected an [H, W, 3] image, got {image.shape}")
    return image


def _pair(a, b):
    a, b = _as_rgb(a), _as_rgb(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in size: {a.shape} vs {b.shape}")
    return a.astype(np.float64), b.astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over all RGB samples (inf if equal)."""
    a, b = _pair(a, b)
    mse = np.mean((a - b) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(MAX_VALUE**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM (Wang et al., 2004), TensorFlow's; the window shrinks to fit."""
    import tensorflow as tf
    a, b = _pair(a, b)
    size = min(SSIM_FILTER, a.shape[0], a.shape[1])
    return float(tf.image.ssim(a, b, MAX_VALUE, filter_size=size))


def ms_ssim_min_side() -> int:
    """Smallest side MS-SSIM is defined for with the standard 5 scales."""
    return (SSIM_FILTER - 1) * 2 ** (MS_SSIM_SCALES - 1) + 1


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float | None:
    """MS-SSIM (Wang et al., 2003), TensorFlow's; None for small images."""
    import tensorflow as tf
    a, b = _pair(a, b)
    if min(a.shape[:2]) < ms_ssim_min_side():
        return None
    return float(tf.image.ssim_multiscale(a, b, MAX_VALUE))


def bits_per_pixel(num_bytes: int, height: int, width: int) -> float:
    return 8.0 * num_bytes / (height * width)


def compression_ratio(num_bytes: int, height: int, width: int,
                      channels: int = 3) -> float:
    """Size of the raw 8-bit image over the compressed size."""
    return height * width * channels / num_bytes
