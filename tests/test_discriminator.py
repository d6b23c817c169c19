import numpy as np
import pytest
import tensorflow as tf
from conftest import photo_like

from tfgancomp.errors import ConfigError
from tfgancomp.training.discriminator import (
    DiscriminatorConfig,
    MultiScaleDiscriminator,
    SpectralNorm,
    upsample_latents,
)

LATENT_CHANNELS = 16
SMALL = DiscriminatorConfig(base_filters=8)


def make_discriminator(config=SMALL, seed=0, gate=0.):
    """With `gate` the latents' gates as training may have opened them."""
    tf.keras.utils.set_random_seed(seed)
    discriminator = MultiScaleDiscriminator(config, LATENT_CHANNELS)
    for scale in discriminator.scales:
        scale.latent_gate.assign(gate)
    return discriminator


def inputs(height, width, stride=16, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(size=(batch, height, width, 3))
    latents = rng.normal(size=(batch, -(-height // stride),
                               -(-width // stride), LATENT_CHANNELS))
    return (tf.constant(images, tf.float32),
            tf.constant(latents, tf.float32))


def spectral_norms(model):
    return [m for m in model.submodules if isinstance(m, SpectralNorm)]


def largest_singular_value(kernel):
    kernel = np.asarray(kernel)
    matrix = kernel.reshape(-1, kernel.shape[-1])
    return np.linalg.svd(matrix, compute_uv=False)[0]


@pytest.mark.parametrize("size, stride, expected", [
    ((64, 48), 16, [(8, 6), (4, 3), (2, 2)]),
    ((37, 53), 16, [(5, 7), (3, 4), (2, 2)]),
    ((37, 53), 8, [(5, 7), (3, 4), (2, 2)]),
])
def test_logit_shapes(size, stride, expected):
    discriminator = make_discriminator()
    logits = discriminator(*inputs(*size, stride=stride))
    assert [tuple(x.shape) for x in logits] == [
        (2, h, w, 1) for h, w in expected]


def test_without_spectral_norm_and_fewer_scales():
    config = DiscriminatorConfig(base_filters=8, num_scales=2,
                                 spectral_norm=False)
    discriminator = make_discriminator(config)
    assert not spectral_norms(discriminator)
    logits = discriminator(*inputs(32, 32), training=True)
    assert [tuple(x.shape) for x in logits] == [(2, 4, 4, 1), (2, 2, 2, 1)]


def test_architecture():
    discriminator = make_discriminator(gate=1.)
    convs = [m.layer for m in spectral_norms(discriminator.scales[0])]
    assert [(tuple(c.kernel.shape), c.strides) for c in convs] == [
        ((1, 1, LATENT_CHANNELS, 12), (1, 1)),  # the latent projection
        ((4, 4, 3 + 12, 8), (2, 2)),
        ((4, 4, 8, 16), (2, 2)),
        ((4, 4, 16, 32), (2, 2)),
        ((4, 4, 32, 64), (1, 1)),
        ((4, 4, 64, 1), (1, 1)),
    ]
    # Not affine in the image: the logits of a midpoint are not the mean.
    images, latents = inputs(32, 32, batch=1)
    batch = tf.concat([images, 0 * images, images / 2], 0)
    for logits in discriminator(batch, tf.tile(latents, [3, 1, 1, 1])):
        mean = (logits[0] + logits[1]) / 2
        spread = np.abs(logits[0] - logits[1]).max()
        assert np.abs(logits[2] - mean).max() > 0.01 * spread


@pytest.mark.parametrize("stride", [8, 16])
def test_upsampling_crops_a_nearest_neighbour_grid(stride):
    grid = np.arange(2 * 8 * 8, dtype=np.float32).reshape(2, 8, 8, 1)
    dynamic = tf.function(upsample_latents, input_signature=[
        tf.TensorSpec([None, None, None, 1]), tf.TensorSpec([2], tf.int32)])
    for height, width in [(37, 53), (48, 64), (33, 49), (32, 17)]:
        latents = grid[:, :-(-height // stride), :-(-width // stride)]
        expected = np.repeat(np.repeat(latents, stride, 1), stride, 2)
        expected = expected[:, :height, :width]
        for upsample in (upsample_latents, dynamic):
            got = upsample(tf.constant(latents), tf.constant([height, width]))
            np.testing.assert_array_equal(got, expected)


def test_dynamic_shapes_in_tf_function():
    discriminator = make_discriminator()
    images, latents = inputs(37, 53)
    spec = [tf.TensorSpec([None, None, None, 3]),
            tf.TensorSpec([None, None, None, LATENT_CHANNELS])]
    call = tf.function(discriminator, input_signature=spec)
    for got, want in zip(call(images, latents),
                         discriminator(images, latents)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_latents_enter_through_a_gate_that_starts_closed():
    discriminator = make_discriminator()
    images, latents = inputs(32, 48)
    other = latents + tf.random.normal(latents.shape, seed=1)
    for a, b in zip(discriminator(images, latents),
                    discriminator(images, other)):
        np.testing.assert_array_equal(a, b)
    gates = [scale.latent_gate for scale in discriminator.scales]
    with tf.GradientTape() as tape:
        logits = discriminator(images, latents, training=True)
        loss = tf.add_n([tf.reduce_sum(x) for x in logits])
    assert all(np.abs(g) > 0 for g in tape.gradient(loss, gates))


def test_conditioned_on_latents_without_gradient_into_them():
    discriminator = make_discriminator(gate=1.)
    images, latents = inputs(32, 48)
    other = latents + tf.random.normal(latents.shape, seed=1)
    for a, b in zip(discriminator(images, latents),
                    discriminator(images, other)):
        assert np.abs(a - b).max() > 1e-4
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([images, latents])
        logits = discriminator(images, latents, training=True)
        loss = tf.add_n([tf.reduce_sum(x) for x in logits])
    assert tape.gradient(loss, latents) is None
    assert np.abs(tape.gradient(loss, images)).max() > 0
    weights = discriminator.trainable_variables
    # 3 scales, each 6 convs (kernel and bias) and the gate
    assert len(weights) == 3 * (6 * 2 + 1)
    for weight, grad in zip(weights, tape.gradient(loss, weights)):
        assert grad is not None, weight.name
        assert np.abs(grad).max() > 0, weight.name


def test_spectral_norm_of_every_kernel_is_one():
    discriminator = make_discriminator()
    layers = spectral_norms(discriminator)
    assert len(layers) == 3 * 6
    images, latents = inputs(32, 32, batch=1)
    for _ in range(40):
        discriminator(images, latents, training=True)
    for layer in layers:
        sigma = largest_singular_value(layer.normalized_kernel())
        assert sigma == pytest.approx(1.0, abs=0.05), layer.name
    before = [layer.u.numpy() for layer in layers]
    discriminator(images, latents, training=False)
    discriminator(images, latents)
    for layer, u in zip(layers, before):
        np.testing.assert_array_equal(layer.u.numpy(), u)
    discriminator(images, latents, training=True)
    assert any(np.any(layer.u.numpy() != u)
               for layer, u in zip(layers, before))


def test_spectral_norm_convolves_with_the_normalized_kernel():
    tf.keras.utils.set_random_seed(0)
    layer = SpectralNorm(tf.keras.layers.Conv2D(
        8, 4, 2, padding="same", bias_initializer="random_normal",
        kernel_initializer=tf.keras.initializers.RandomNormal(stddev=0.5)))
    layer.build([None, None, None, 5])
    kernel = layer.layer.kernel.numpy()
    assert largest_singular_value(kernel) > 3
    x = tf.random.normal([1, 9, 11, 5])
    for _ in range(30):
        layer(x, training=True)
    np.testing.assert_array_equal(layer.layer.kernel.numpy(), kernel)
    normalized = kernel / largest_singular_value(kernel)
    expected = tf.nn.conv2d(x, normalized, 2, "SAME") + layer.layer.bias
    np.testing.assert_allclose(layer(x), expected, rtol=0.02, atol=1e-3)
    # Gradients flow through σ: W / σ(W) does not change along W.
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    grad = tape.gradient(loss, layer.layer.kernel).numpy()
    cosine = np.sum(grad * kernel) / (
        np.linalg.norm(grad) * np.linalg.norm(kernel))
    assert abs(cosine) < 1e-4


def test_training_separates_real_from_fake():
    discriminator = make_discriminator(gate=1.)
    real = np.stack([photo_like(32, 32, seed=i) for i in range(2)]) / 255.
    images = tf.constant(np.concatenate([real, 0.7 * real]), tf.float32)
    latents = tf.tile(tf.random.normal([2, 2, 2, LATENT_CHANNELS]),
                      [2, 1, 1, 1])
    sign = tf.constant([1.0, 1.0, -1.0, -1.0])[:, None, None, None]
    weights = discriminator.trainable_variables
    optimizer = tf.keras.optimizers.Adam(2e-3)
    optimizer.build(weights)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logits = discriminator(images, latents, training=True)
            loss = tf.add_n([tf.reduce_mean(tf.nn.relu(1.0 - sign * x))
                             for x in logits]) / len(logits)
        optimizer.apply_gradients(zip(tape.gradient(loss, weights),
                                      weights))
        return loss

    losses = [float(step()) for _ in range(30)]
    assert np.mean(losses[-3:]) < 0.6 * losses[0]
    for logits in discriminator(images, latents):
        assert np.mean(logits[:2]) > np.mean(logits[2:])


def test_config_json_round_trip():
    config = DiscriminatorConfig(base_filters=32, num_scales=2,
                                 latent_projection_channels=4,
                                 spectral_norm=False)
    assert DiscriminatorConfig.from_json(config.to_json()) == config
    assert DiscriminatorConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("changes", [
    dict(base_filters=0), dict(num_scales=-1), dict(num_scales=1.5),
    dict(latent_projection_channels=True), dict(spectral_norm="yes"),
])
def test_invalid_config_values(changes):
    with pytest.raises(ConfigError):
        DiscriminatorConfig(**changes)


def test_unknown_config_keys_and_bad_json():
    with pytest.raises(ConfigError, match="unknown"):
        DiscriminatorConfig.from_dict({"base_filterz": 8})
    with pytest.raises(ConfigError, match="JSON"):
        DiscriminatorConfig.from_json("{")
    with pytest.raises(ConfigError, match="object"):
        DiscriminatorConfig.from_json("[]")
