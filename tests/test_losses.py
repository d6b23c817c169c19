"""Loss terms: distortions, GAN losses, gradient penalty, rate weight."""

import math

import numpy as np
import pytest
import tensorflow as tf
from conftest import photo_like

from tfgancomp.errors import ConfigError
from tfgancomp.training import losses

LOG2 = math.log(2.)


def photos(side, count=2):
    images = np.stack([photo_like(side, side, seed=i) for i in range(count)])
    return tf.constant(images, tf.float32) / 255.


def blurred(images):
    return tf.nn.avg_pool2d(images, 3, 1, "SAME")


def test_mse_and_l1_agree_with_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(size=(2, 2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(
        losses.mse_255(a, b), np.mean((255. * a - 255. * b) ** 2), rtol=1e-5)
    np.testing.assert_allclose(
        losses.l1_255(a, b), np.mean(np.abs(255. * a - 255. * b)), rtol=1e-5)


def test_ms_ssim_loss_on_64_px_crops():
    images = photos(64)
    loss = tf.function(losses.ms_ssim_loss)
    assert abs(float(loss(images, images))) < 1e-6
    assert float(loss(images, blurred(images))) > 1e-3


@pytest.mark.parametrize("side, scales", [
    (10, 0), (11, 1), (20, 1), (21, 2), (40, 2), (41, 3), (64, 3),
    (128, 4), (160, 4), (161, 5), (1000, 5)])
def test_ms_ssim_scales_fit_the_filter(side, scales):
    assert losses.ms_ssim_scales(side) == scales


def test_ms_ssim_loss_is_tensorflows_from_161_px():
    images = photos(161, count=1)
    expected = 1. - tf.image.ssim_multiscale(images, blurred(images), 1.0)
    np.testing.assert_allclose(
        losses.ms_ssim_loss(images, blurred(images)), expected[0],
        rtol=1e-6)


def test_ms_ssim_loss_with_one_scale_is_ssim():
    # Weights renormalised: the single scale is not weighted by 0.0448.
    images = photos(16)
    expected = 1. - tf.image.ssim(images, blurred(images), 1.0)
    np.testing.assert_allclose(
        losses.ms_ssim_loss(images, blurred(images)),
        tf.reduce_mean(expected), rtol=1e-3)


def test_ms_ssim_loss_refuses_images_smaller_than_the_filter():
    with pytest.raises(ConfigError, match="at least 11 px"):
        losses.ms_ssim_loss(photos(10), photos(10))


def test_ms_ssim_loss_gradient_is_finite_for_anticorrelated_images():
    images = photos(64)
    noise = tf.random.stateless_uniform(images.shape, [1, 2])
    for reconstructions in (1. - images, noise):
        variable = tf.Variable(reconstructions)
        with tf.GradientTape() as tape:
            loss = losses.ms_ssim_loss(images, variable)
        gradient = tape.gradient(loss, variable)
        assert np.all(np.isfinite(gradient.numpy()))


def test_distortion_mix_is_the_weighted_sum_of_its_parts():
    images = photos(64)
    other = blurred(images)
    mix = losses.Distortion("mse:0.8, ms_ssim:0.2,l1:0.5")
    expected = (0.8 * losses.mse_255(images, other)
                + 0.2 * losses.MS_SSIM_TO_MSE
                * losses.ms_ssim_loss(images, other)
                + 0.5 * losses.L1_TO_MSE * losses.l1_255(images, other))
    np.testing.assert_allclose(mix(images, other), expected, rtol=1e-5)
    terms = mix.terms(images, other)
    np.testing.assert_allclose(
        terms["ms_ssim"],
        losses.MS_SSIM_TO_MSE * losses.ms_ssim_loss(images, other),
        rtol=1e-6)
    assert losses.Distortion(mix.spec).weights == mix.weights


def test_single_distortions():
    images = photos(64)
    other = blurred(images)
    np.testing.assert_allclose(
        losses.Distortion("mse")(images, other),
        losses.mse_255(images, other), rtol=1e-6)
    np.testing.assert_allclose(
        losses.Distortion({"ms_ssim": 1})(images, other),
        losses.MS_SSIM_TO_MSE * losses.ms_ssim_loss(images, other),
        rtol=1e-6)


@pytest.mark.parametrize("spec", [
    "", " ", "psnr", "MSE", "mse:", "mse:abc", "mse:0", "mse:-1", "mse:nan",
    "mse:inf", "mse,mse", "mse:1,", "mse:0.8:1", "mse;ms_ssim", 3, None,
    {}, {"ms_ssim": -1}, {"ssim": 1}])
def test_bad_distortion_specs(spec):
    with pytest.raises(ConfigError):
        losses.Distortion(spec)


def test_unknown_gan_loss():
    with pytest.raises(ConfigError, match="unknown GAN loss 'vanilla'"):
        losses.gan_loss("vanilla")


@pytest.mark.parametrize("name, real, fake, d_loss, g_loss", [
    ("non_saturating", [0.], [0.], 2 * LOG2, LOG2),
    ("non_saturating", [30.], [-30.], 0., 30.),
    ("least_squares", [1.], [0.], 0., 1.),
    ("least_squares", [0., 2.], [1.], 2., 0.),
    ("hinge", [2.], [-2.], 0., 2.),
    ("hinge", [0.5], [0.5], 2., -0.5),
    ("wasserstein", [3.], [1.], -2., -1.),
])
def test_gan_loss_values(name, real, fake, d_loss, g_loss):
    loss = losses.gan_loss(name)
    real, fake = tf.constant(real), tf.constant(fake)
    assert float(loss.discriminator(real, fake)) == pytest.approx(
        d_loss, abs=1e-6)
    assert float(loss.generator(fake)) == pytest.approx(g_loss, abs=1e-6)


@pytest.mark.parametrize("name", sorted(losses.GAN_LOSSES))
def test_descent_on_the_discriminator_loss_separates_real_and_fake(name):
    loss = losses.gan_loss(name)
    rng = np.random.default_rng(1)
    real = tf.constant(rng.normal(1., 1., (8, 4)), tf.float32)
    fake = tf.constant(rng.normal(-1., 1., (8, 4)), tf.float32)
    model = tf.keras.layers.Dense(
        1, kernel_initializer=tf.keras.initializers.RandomNormal(
            stddev=0.01, seed=0))
    model.build((None, 4))
    values = []
    for _ in range(10):
        with tf.GradientTape() as tape:
            value = loss.discriminator(model(real), model(fake))
        gradients = tape.gradient(value, model.trainable_variables)
        for variable, gradient in zip(model.trainable_variables, gradients):
            variable.assign_sub(0.02 * gradient)
        values.append(float(value))
    assert np.all(np.diff(values) < 0)
    assert losses.discriminator_accuracy(model(real), model(fake)) > 0.5


@pytest.mark.parametrize("name", sorted(losses.GAN_LOSSES))
def test_generator_loss_pushes_fake_logits_towards_real(name):
    fake = tf.Variable([-1., 0., 0.5])
    with tf.GradientTape() as tape:
        value = losses.gan_loss(name).generator(fake)
    assert np.all(tape.gradient(value, fake).numpy() < 0)


@pytest.mark.parametrize("name", sorted(losses.GAN_LOSSES))
def test_multi_scale_logits_average_the_scales(name):
    loss = losses.gan_loss(name)
    real = [tf.constant([0.3, 2.]), tf.constant([[-1.], [0.5]])]
    fake = [tf.constant([-0.2, 1.]), tf.constant([[0.7], [-3.]])]
    np.testing.assert_allclose(
        loss.discriminator(real, fake),
        (loss.discriminator(real[0], fake[0])
         + loss.discriminator(real[1], fake[1])) / 2, rtol=1e-6)
    np.testing.assert_allclose(
        loss.generator(fake),
        (loss.generator(fake[0]) + loss.generator(fake[1])) / 2, rtol=1e-6)
    with pytest.raises(ValueError, match="same number of scales"):
        loss.discriminator(real, fake[:1])
    with pytest.raises(ValueError, match="same number of scales"):
        loss.discriminator(real, fake[0])


def test_discriminator_accuracy():
    real, fake = tf.constant([1., -1.]), tf.constant([-1., -2.])
    assert float(losses.discriminator_accuracy(real, fake)) == 0.75
    assert float(losses.discriminator_accuracy(
        [real, real], [fake, -fake])) == pytest.approx((0.75 + 0.25) / 2)


def linear_critic(norm, shape=(4, 4, 2), seed=0):
    """f(x) = ⟨w, x⟩ per example, with ‖w‖ = norm: ‖∇f‖ = norm everywhere."""
    w = np.random.default_rng(seed).normal(size=shape)
    w = tf.Variable(norm * w / np.linalg.norm(w), dtype=tf.float32)
    return w, lambda x: tf.reduce_sum(x * w, axis=[1, 2, 3])


def real_and_fake():
    rng = np.random.default_rng(2)
    return (tf.constant(rng.uniform(size=(3, 4, 4, 2)), tf.float32),
            tf.constant(rng.uniform(size=(3, 4, 4, 2)), tf.float32))


@pytest.mark.parametrize("norm, penalty", [(1., 0.), (4., 9.), (0.5, 0.25)])
def test_gradient_penalty_of_linear_critics(norm, penalty):
    _, critic = linear_critic(norm)
    value = losses.gradient_penalty(critic, *real_and_fake())
    assert float(value) == pytest.approx(penalty, abs=1e-4)


def test_gradient_penalty_averages_scales_and_trains_the_critic():
    w1, critic1 = linear_critic(1.)
    w4, critic4 = linear_critic(4., seed=1)

    @tf.function
    def penalty_and_gradients(real, fake):
        with tf.GradientTape() as tape:
            value = losses.gradient_penalty(
                lambda x: [critic1(x), critic4(x)], real, fake)
        return value, tape.gradient(value, [w1, w4])

    value, (g1, g4) = penalty_and_gradients(*real_and_fake())
    assert float(value) == pytest.approx((0. + 9.) / 2, abs=1e-4)
    # d/dw of (‖w‖ − 1)²/2 is (‖w‖ − 1)·w/‖w‖.
    np.testing.assert_allclose(g1, np.zeros(w1.shape), atol=1e-4)
    np.testing.assert_allclose(g4, 0.75 * w4.numpy(), rtol=1e-4)


def test_gradient_penalty_interpolates_images_only():
    real, fake = real_and_fake()
    latents = tf.constant([[1.], [2.], [3.]])
    seen = []

    def critic(images, conditioning):
        seen.append((images, conditioning))
        return tf.reduce_sum(images, axis=[1, 2, 3]) * conditioning[:, 0]

    losses.gradient_penalty(critic, real, fake, latents)
    (images, conditioning), = seen
    assert conditioning is latents
    # images = fake + ε·(real − fake), one ε in [0, 1] per example.
    step, offset = (real - fake).numpy(), (images - fake).numpy()
    epsilon = (np.sum(offset * step, axis=(1, 2, 3), keepdims=True)
               / np.sum(step * step, axis=(1, 2, 3), keepdims=True))
    np.testing.assert_allclose(offset, epsilon * step, atol=1e-6)
    assert np.all((epsilon >= 0) & (epsilon <= 1))


def test_rate_weight_switches_at_the_target_inside_tf_function():
    weight = tf.function(losses.RateWeight(low=0.5, high=2., target_bpp=0.3))
    assert float(weight(tf.constant(0.4))) == 2.
    assert float(weight(tf.constant(0.2))) == 0.5
    assert float(weight(tf.constant(0.3))) == 0.5
    fixed = tf.function(losses.RateWeight(1.5))
    assert float(fixed(tf.constant(0.1))) == float(fixed(tf.constant(9.)))
    assert float(fixed(tf.constant(9.))) == 1.5


@pytest.mark.parametrize("kwargs", [
    dict(low=0.), dict(low=-1.), dict(low=math.nan), dict(high=2.),
    dict(target_bpp=0.3), dict(low=2., high=1., target_bpp=0.3),
    dict(high=2., target_bpp=0.), dict(low="1")])
def test_bad_rate_weights(kwargs):
    with pytest.raises(ConfigError):
        losses.RateWeight(**kwargs)


def test_feature_matching_is_float32_and_trains_only_the_fake():
    real = [tf.ones([2, 4, 4, 3], tf.bfloat16), tf.zeros([2, 2, 2, 5])]
    fake = [tf.Variable(tf.zeros([2, 4, 4, 3], tf.bfloat16)),
            tf.Variable(tf.ones([2, 2, 2, 5]))]
    with tf.GradientTape() as tape:
        matching = losses.feature_matching(real, fake)
    assert matching.dtype == tf.float32
    np.testing.assert_allclose(matching, [1., 1.])
    assert all(g is not None for g in tape.gradient(matching, fake))
