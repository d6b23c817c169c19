"""Tests of the channel-wise autoregressive entropy model (tiny and CPU-only).

One model is trained briefly on toy latents (module fixture) and shared by
the coding tests; the tf.functions wrapping it have unknown latent sizes, so
each is traced once.
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_compression as tfc

from tfgancomp.model.channelwise import ChannelwisePrior
from tfgancomp.model.config import ModelConfig
from tfgancomp.model.prior import scale_function

C = 16
CONFIG = dict(latent_channels=C, hyper_channels=8, hyper_filters=16,
              num_slices=4, max_support_slices=2, num_scales=64,
              scale_min=0.11, scale_max=256.0, hyper_downsamplings=2,
              kernel_size=3, entropy_model="channelwise")
TRAIN_STEPS = 250
RATE_TOLERANCE = 0.03  # measured: within 0.1% per image (test output)


def toy_latents(rng, batch, height, width):
    """Latents with a blockwise varying scale and correlated channels, so
    that both the hyperprior and the channel conditioning can help."""
    low = rng.normal(size=(batch, height // 4 + 1, width // 4 + 1, 1))
    scale = np.exp(0.8 * low.repeat(4, 1).repeat(4, 2)[:, :height, :width])
    mix = np.random.default_rng(0).normal(size=(3, C)) / np.sqrt(3)
    shared = rng.normal(size=(batch, height, width, 3)) @ mix
    own = rng.normal(size=(batch, height, width, C))
    return tf.constant(scale * (2 * shared + 0.5 * own), tf.float32)


def function(method, *specs):
    return tf.function(method, input_signature=list(specs), autograph=False)


def spec(shape, dtype=tf.float32):
    return tf.TensorSpec(shape, dtype)


LATENTS = spec([1, None, None, C])
SYMBOLS = spec([1, None, None, C], tf.int32)
SIDE_SYMBOLS = spec([1, None, None, CONFIG["hyper_channels"]], tf.int32)
SIZE = spec([2], tf.int32)
STRING = spec([], tf.string)


class Functions:
    """Traced coding functions of one model."""

    def __init__(self, model):
        self.model = model
        self.evaluate = function(lambda y: model(y, training=False),
                                 spec([None, None, None, C]))
        self.compress = function(model.compress, LATENTS)
        self.decompress = function(model.decompress, STRING, STRING, SIZE,
                                   SIZE)
        self.symbols = function(model.symbols, LATENTS)
        self.scale_indexes = function(model.scale_indexes, SIDE_SYMBOLS,
                                      SYMBOLS, SIZE)
        self.latents = function(model.latents, SIDE_SYMBOLS, SYMBOLS,
                                SIZE)

    def roundtrip(self, y):
        latent_size = tf.shape(y)[1:3]
        side_size = (latent_size + 3) // 4
        strings = self.compress(y)
        return strings, self.decompress(*strings, latent_size, side_size)


@pytest.fixture(scope="module")
def trained():
    model = ChannelwisePrior(ModelConfig(**CONFIG))
    variables = model.trainable_variables
    optimizer = tf.keras.optimizers.legacy.Adam(3e-3)
    optimizer._create_all_weights(variables)  # else the step traces twice

    @tf.function(autograph=False)
    def step(y):
        with tf.GradientTape() as tape:
            y_hat, bits, side_bits = model(y, training=True)
            rate = tf.reduce_mean(bits + side_bits) / tf.cast(
                tf.reduce_prod(tf.shape(y)[1:]), tf.float32)
            loss = rate + tf.reduce_mean(tf.square(y_hat - y))
        optimizer.apply_gradients(
            zip(tape.gradient(loss, variables), variables))

    rng = np.random.default_rng(1)
    for _ in range(TRAIN_STEPS):
        step(toy_latents(rng, 4, 16, 16))
    model.fix_tables()
    return Functions(model)


def test_training_gives_finite_bits_and_gradients_to_every_weight():
    model = ChannelwisePrior(ModelConfig(**CONFIG))
    y = toy_latents(np.random.default_rng(2), 2, 8, 12)
    with tf.GradientTape() as tape:
        y_hat, bits, side_bits = model(y, training=True)
        loss = (tf.reduce_sum(bits + side_bits) +
                tf.reduce_sum(tf.square(y_hat - y)))
    assert bits.shape == side_bits.shape == [2]
    assert y_hat.shape == y.shape
    assert np.all(np.isfinite(bits)) and np.all(np.isfinite(side_bits))
    assert np.all(bits > 0) and np.all(side_bits > 0)
    variables = model.trainable_variables
    # 3 + 2 × 2 hyper convolutions, 3 × 4 slice transforms of 3 convolutions
    # (kernel and bias each) and the 8 variables of the side prior.
    assert len(variables) == 2 * (3 + 4 + 36) + 8
    for variable, gradient in zip(variables,
                                  tape.gradient(loss, variables)):
        assert gradient is not None, variable.name
        assert np.all(np.isfinite(gradient)), variable.name
        assert np.any(gradient != 0), variable.name


def test_scales_start_near_one():
    model = ChannelwisePrior(ModelConfig(**CONFIG))
    index = model.config.initial_scale_index
    assert abs(float(scale_function(model.config)(index)) - 1) < 1e-5
    bias = model.scale_transforms[0].stack[-1].bias
    np.testing.assert_allclose(bias, index)


def test_estimated_bits_match_coded_size(trained):
    y = toy_latents(np.random.default_rng(7), 4, 32, 24)
    _, bits, side_bits = trained.evaluate(y)
    estimated = bits + side_bits
    coded = []
    for i in range(4):
        string, side_string = trained.compress(y[i:i + 1])
        coded.append(8 * (len(string.numpy()) + len(side_string.numpy())))
    ratios = np.array(coded) / estimated.numpy()
    total = sum(coded) / float(tf.reduce_sum(estimated))
    print(f"coded/estimated bits: per image {np.round(ratios, 4)}, "
          f"total {total:.4f}; {sum(coded) / y.numpy().size:.2f} bits "
          f"per latent")
    assert np.all(np.abs(ratios - 1) < RATE_TOLERANCE)
    # The estimate is the information content of the coded symbols under
    # the tables' priors: integer scale indexes, rounded, not truncated.
    model = trained.model
    for i in range(4):
        symbols = trained.symbols(y[i:i + 1])
        scales = scale_function(model.config)(
            tf.cast(symbols["latent_scale_indexes"], tf.float32))
        prior = tfc.NoisyNormal(loc=0.0, scale=scales)
        information = -tf.reduce_sum(prior.log_prob(
            tf.cast(symbols["latent_symbols"], tf.float32))) / np.log(2)
        np.testing.assert_allclose(information, bits[i], rtol=1e-4)


def client_encode(model, symbols):
    """What a client does with the stock encoder outputs and the tables."""
    main, side = model.latent_model, model.side_model
    handle = tfc.create_range_encoder([], main.cdf)
    for k_symbols, k_indexes in zip(
            tf.split(symbols["latent_symbols"], model.num_slices, -1),
            tf.split(symbols["latent_scale_indexes"], model.num_slices, -1)):
        handle = tfc.entropy_encode_index(
            handle, k_indexes,
            k_symbols - tf.gather(main.cdf_offset, k_indexes))
    side_handle = tfc.entropy_encode_channel(
        tfc.create_range_encoder([], side.cdf),
        symbols["side_latent_symbols"][0] - side.cdf_offset)
    return (tfc.entropy_encode_finalize(handle),
            tfc.entropy_encode_finalize(side_handle))


def client_decode(fns, string, side_string, latent_size, side_size):
    """Range decodes slice by slice, asking the model for each slice's
    scale indexes; returns the symbols and the scale indexes used."""
    model = fns.model
    main, side = model.latent_model, model.side_model
    handle = tfc.create_range_decoder(side_string, side.cdf)
    handle, side_symbols = tfc.entropy_decode_channel(
        handle, tf.concat([side_size, [model.config.hyper_channels]], 0),
        tf.int32)
    assert tfc.entropy_decode_finalize(handle)
    side_symbols = (side_symbols + side.cdf_offset)[None]
    symbols = np.zeros([1, *latent_size.numpy(), C], np.int32)
    handle = tfc.create_range_decoder(string, main.cdf)
    depth = model.slice_depth
    for k in range(model.num_slices):
        channels = slice(k * depth, (k + 1) * depth)
        indexes = fns.scale_indexes(side_symbols, symbols, latent_size)
        k_indexes = indexes[..., channels]
        handle, k_symbols = tfc.entropy_decode_index(
            handle, k_indexes, tf.shape(k_indexes), tf.int32)
        symbols[..., channels] = k_symbols + tf.gather(main.cdf_offset,
                                                       k_indexes)
    assert tfc.entropy_decode_finalize(handle)
    return side_symbols, tf.constant(symbols), indexes


def test_decompress_and_stock_path_reproduce_compress(trained):
    y = toy_latents(np.random.default_rng(8), 1, 12, 16)
    latent_size, side_size = tf.constant([12, 16]), tf.constant([3, 4])
    (string, side_string), y_hat = trained.roundtrip(y)
    # call(training=False) in a graph with unknown or static shapes (which
    # grappler optimises differently) and eagerly.
    static = tf.function(lambda y: trained.model(y)[0], autograph=False)
    for y_hat_call in (trained.evaluate(y)[0], static(y), trained.model(y)[0]):
        np.testing.assert_array_equal(y_hat_call, y_hat)
    symbols = trained.symbols(y)
    np.testing.assert_array_equal(
        trained.latents(symbols["side_latent_symbols"],
                        symbols["latent_symbols"], latent_size), y_hat)
    # The stock path: the client range codes with the tables.
    client_string, client_side_string = client_encode(trained.model, symbols)
    assert client_string.numpy() == string.numpy()
    assert client_side_string.numpy() == side_string.numpy()
    side_symbols, latent_symbols, indexes = client_decode(
        trained, string, side_string, latent_size, side_size)
    np.testing.assert_array_equal(side_symbols,
                                  symbols["side_latent_symbols"])
    np.testing.assert_array_equal(latent_symbols, symbols["latent_symbols"])
    np.testing.assert_array_equal(indexes, symbols["latent_scale_indexes"])
    np.testing.assert_array_equal(
        trained.latents(side_symbols, latent_symbols, latent_size), y_hat)
    # ŷ is more than mean + symbols: LRP moves it, by less than 0.5.
    assert 0 < np.max(np.abs(y_hat - tf.round(y_hat))) <= 0.5


def test_scale_indexes_of_a_slice_ignore_later_slices(trained):
    y = toy_latents(np.random.default_rng(9), 1, 8, 8)
    symbols = trained.symbols(y)
    latent = symbols["latent_symbols"].numpy()
    junk = latent + np.random.default_rng(3).integers(-5, 6, latent.shape)
    depth = trained.model.slice_depth
    for k in range(trained.model.num_slices):
        mixed = np.concatenate([latent[..., :k * depth],
                                junk[..., k * depth:]], -1)
        indexes = trained.scale_indexes(symbols["side_latent_symbols"],
                                        mixed, tf.constant([8, 8]))
        np.testing.assert_array_equal(
            indexes[..., :(k + 1) * depth],
            symbols["latent_scale_indexes"][..., :(k + 1) * depth])
    changed = trained.scale_indexes(symbols["side_latent_symbols"], junk,
                                    tf.constant([8, 8]))
    assert np.any(changed != symbols["latent_scale_indexes"])


@pytest.mark.parametrize("height, width", [(5, 7), (1, 1), (9, 4)])
def test_deterministic_on_odd_sizes(trained, height, width):
    y = toy_latents(np.random.default_rng(height), 1, height, width)
    (string, side_string), y_hat = trained.roundtrip(y)
    again = trained.compress(tf.identity(y))
    assert again[0].numpy() == string.numpy()
    assert again[1].numpy() == side_string.numpy()
    assert y_hat.shape == [1, height, width, C]
    np.testing.assert_array_equal(y_hat, trained.evaluate(y)[0])


def op_types(concrete_function):
    graph = concrete_function.graph.as_graph_def()
    return ({node.op for node in graph.node} |
            {node.op for f in graph.library.function for node in f.node_def})


def test_stock_functions_use_core_ops_only(trained):
    coding_ops = ("Entropy", "CreateRange")
    graphs = [trained.symbols.get_concrete_function(),
              trained.scale_indexes.get_concrete_function(),
              trained.latents.get_concrete_function()]
    for concrete_function in graphs:
        ops = op_types(concrete_function)
        assert "Conv2D" in ops
        assert not [op for op in ops if op.startswith(coding_ops)]
    # The walk sees coding ops where there are some.
    ops = op_types(trained.compress.get_concrete_function())
    assert {"CreateRangeEncoder", "EntropyEncodeIndex"} <= ops


def test_checkpoint_restores_identical_coding(trained, tmp_path):
    path = tf.train.Checkpoint(model=trained.model).write(
        str(tmp_path / "ckpt"))
    model = ChannelwisePrior(ModelConfig(**CONFIG))
    model.fix_tables(placeholders=True)
    tf.train.Checkpoint(model=model).read(path).assert_consumed()
    def coding_variables(prior):
        return prior.transform_variables() + prior.table_variables()

    for a, b in zip(coding_variables(trained.model),
                    coding_variables(model)):
        np.testing.assert_array_equal(a, b)
    y = toy_latents(np.random.default_rng(10), 1, 6, 10)
    restored = Functions(model)
    (string, side_string), y_hat = restored.roundtrip(y)
    expected_strings, expected = trained.roundtrip(y)
    assert string.numpy() == expected_strings[0].numpy()
    assert side_string.numpy() == expected_strings[1].numpy()
    np.testing.assert_array_equal(y_hat, expected)


def test_weights_copy_by_name_as_warm_starts_and_exports_do(trained):
    """Every variable has its own name, so copying by name (warm starts,
    a codec rebuilt from an export) gives back the same model."""
    from tfgancomp.deploy.warm_start import copy_weights
    names = [v.name for v in trained.model.variables]
    assert len(set(names)) == len(names)
    assert "mean_1/conv_0/kernel:0" in names
    model = ChannelwisePrior(ModelConfig(**CONFIG))
    copied, kept = copy_weights({v.name: v for v in trained.model.variables},
                                model.variables)
    assert kept == [] and len(copied) == len(model.variables)
    for a, b in zip(trained.model.transform_variables(),
                    model.transform_variables()):
        np.testing.assert_array_equal(a, b)


def test_slice_kernel_size_shapes_only_the_slice_transforms():
    model = ChannelwisePrior(ModelConfig(**dict(CONFIG, kernel_size=5,
                                                slice_kernel_size=3)))
    shapes = {v.name: tuple(v.shape) for v in model.variables}
    assert shapes["mean_1/conv_0/kernel:0"][:2] == (3, 3)
    assert shapes["lrp_0/conv_1/kernel:0"][:2] == (3, 3)
    assert shapes["hyper_synthesis_mean/conv_0/kernel:0"][:2] == (5, 5)
