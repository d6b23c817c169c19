"""Metrics against independent computations and small worked cases."""

import math

import numpy as np
import pytest
import scipy.linalg
from conftest import photo_like
from PIL import Image, ImageFilter

from tfgancomp.errors import ModelError
from tfgancomp.evaluation import metrics


@pytest.fixture(scope="module")
def pair():
    """A photo-like image and a noisy copy, 176×192 (MS-SSIM needs 161)."""
    original = photo_like(176, 192, seed=5)
    noise = np.random.default_rng(1).normal(0, 6, original.shape)
    return original, np.clip(original + noise, 0, 255).astype(np.uint8)


def test_psnr_agrees_with_numpy_and_tensorflow(pair):
    import tensorflow as tf
    a, b = pair
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    assert metrics.psnr(a, b) == pytest.approx(10 * np.log10(255**2 / mse),
                                               abs=1e-9)
    assert metrics.psnr(a, b) == pytest.approx(
        float(tf.image.psnr(a, b, 255)), abs=1e-4)
    assert metrics.psnr(a, a) == math.inf


@pytest.mark.parametrize("size", [(176, 192), (177, 203)])
def test_ms_ssim_and_ssim_agree_with_tensorflow(size):
    """Ours is NumPy; TensorFlow's is the reference (odd sides are padded
    before each halving)."""
    import tensorflow as tf
    a = photo_like(*size, seed=5)
    noise = np.random.default_rng(1).normal(0, 6, a.shape)
    b = np.clip(a + noise, 0, 255).astype(np.uint8)
    x, y = a.astype(np.float32), b.astype(np.float32)
    expected = float(tf.image.ssim_multiscale(x, y, 255))
    assert 0.8 < expected < 0.999
    assert metrics.ms_ssim(a, b) == pytest.approx(expected, abs=1e-5)
    assert metrics.ssim(a, b) == pytest.approx(
        float(tf.image.ssim(x, y, 255)), abs=1e-5)
    assert metrics.ssim(a[:7, :9], b[:7, :9]) == pytest.approx(
        float(tf.image.ssim(x[:7, :9], y[:7, :9], 255, filter_size=7)),
        abs=1e-5)
    assert metrics.ms_ssim(a, a) == pytest.approx(1.0, abs=1e-6)
    assert metrics.ms_ssim(a[:160], b[:160]) is None


def test_detail_ratio(pair):
    a, noisy = pair
    blurred = np.asarray(Image.fromarray(a).filter(ImageFilter.GaussianBlur(
        1.5)))
    assert metrics.detail_ratio(a, a) == 1.0
    assert metrics.detail_ratio(a, blurred) < 0.5
    assert metrics.detail_ratio(a, noisy) > 1.0
    assert metrics.detail_ratio(a[:2], a[:2]) is None
    flat = np.full((8, 8, 3), 100, np.uint8)
    assert metrics.detail_ratio(flat, flat) == 1.0


def test_rates():
    assert metrics.bits_per_pixel(1000, 40, 50) == 4.0
    assert metrics.compression_ratio(1000, 40, 50) == 6.0


def test_image_patches():
    rgb = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    patches = metrics.image_patches(rgb, 2)
    assert patches.shape == (6, 2, 2, 3)  # a 2×3 grid; the rest is dropped
    np.testing.assert_array_equal(patches[4], rgb[2:4, 2:4])
    assert metrics.image_patches(rgb, 64).shape == (1, 5, 5, 3)


def test_frechet_distance_worked_case():
    # Diagonal covariances: tr(Σa + Σb − 2(ΣaΣb)^½) = Σ(√a − √b)², here
    # (1 − 2)² + (2 − 1)² = 2; plus |μa − μb|² = 1 + 4.
    assert metrics.frechet_distance([0, 0], np.diag([1, 4]), [1, 2],
                                    np.diag([4, 1])) == pytest.approx(7.0)


def test_frechet_distance_agrees_with_scipy_sqrtm():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 5, 5))
    cov_a, cov_b = a @ a.T, b @ b.T + np.eye(5)
    mean_a, mean_b = rng.normal(size=(2, 5))
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    expected = (np.sum((mean_a - mean_b) ** 2)
                + np.trace(cov_a + cov_b - 2 * root))
    assert metrics.frechet_distance(mean_a, cov_a, mean_b, cov_b) == (
        pytest.approx(expected, rel=1e-9))


def test_fid_of_feature_sets():
    features = np.random.default_rng(2).normal(size=(50, 4))
    assert metrics.fid(features, features) == pytest.approx(0, abs=1e-9)
    shift = np.array([1.0, -2.0, 0.0, 0.5])
    assert metrics.fid(features, features + shift) == pytest.approx(5.25)


def test_kid_worked_case_and_direct_sum():
    # d = 1, k(x, y) = (xy + 1)³. Within {0, 1}: k(0, 1) = 1; within
    # {1, 2}: k(1, 2) = 27; across: (1 + 1 + 8 + 27) / 4 = 9.25.
    # MMD² = 1 + 27 − 2 · 9.25 = 9.5.
    assert metrics.kid(np.array([[0.0], [1.0]]),
                       np.array([[1.0], [2.0]])) == pytest.approx(9.5)
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3)) + 0.3

    def k(u, v):
        return (u @ v / 3 + 1) ** 3
    within_x = sum(k(x[i], x[j]) for i in range(5) for j in range(5)
                   if i != j) / 20
    within_y = sum(k(y[i], y[j]) for i in range(4) for j in range(4)
                   if i != j) / 12
    across = sum(k(u, v) for u in x for v in y) / 20
    assert metrics.kid(x, y) == pytest.approx(within_x + within_y
                                              - 2 * across)


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory):
    """Random InceptionV3 weights in a Keras .h5 file (no download)."""
    import tensorflow as tf
    tf.keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("inception") / "random.h5"
    metrics.build_inception().save_weights(str(path))
    return path


@pytest.mark.slow
def test_inception_features_from_a_weights_file(inception_weights, tmp_path):
    inception = metrics.InceptionFeatures(inception_weights, batch_size=2)
    patches = metrics.image_patches(photo_like(64, 96, seed=1), 32)
    features = inception(patches)
    assert features.shape == (6, 2048)
    np.testing.assert_allclose(inception(patches[::-1]), features[::-1],
                               rtol=1e-5, atol=1e-6)
    assert metrics.fid(features, features) == pytest.approx(0, abs=1e-6)

    with pytest.raises(ModelError, match="not found"):
        metrics.InceptionFeatures(tmp_path / "missing.h5")
    (tmp_path / "bad.h5").write_text("not weights")
    with pytest.raises(ModelError, match="cannot load") as error:
        metrics.InceptionFeatures(tmp_path / "bad.h5")
    assert "\n" not in str(error.value)
