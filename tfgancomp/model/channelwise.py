"""Channel-wise autoregressive entropy model with latent residual prediction.

Minnen & Singh (2020), "Channel-wise autoregressive entropy models for learned
image compression" (tensorflow/compression's models/ms2020.py). The latents y
[B, h, w, C] are coded in `num_slices` channel slices. Slice k gets a Gaussian
mean and a scale index per element from stride-1 convolutions of the hyper-
synthesis features (one transform for means, one for scales) and of the
decoded slices ŷ_0 … ŷ_{m-1}, m = min(k, max_support_slices) (all earlier ones
if max_support_slices < 0). Latent residual prediction (LRP) adds
0.5·tanh(lrp_k([mean support, mean_k + round(y_k - mean_k)])) to the slice.

The side latents z are coded as by `Codec`'s mean-scale hyperprior. All slices
of an image go into ONE latent string: coded one after the other, each in
row-major order, into one range-coder handle with the tables of a
`LocationScaleIndexedEntropyModel`. The stock methods (`symbols`,
`scale_indexes`, `latents`) use core TensorFlow ops only; a client holding the
tables range codes `symbol - cdf_offset[index]` in that same order.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_compression as tfc

from tfgancomp.model.config import ModelConfig
from tfgancomp.model.geometry import pad_to_multiple
from tfgancomp.model.prior import DECODE_TILE, ENCODE_TILE, LatentPrior
from tfgancomp.model.transforms import LayerStack


def _conv(filters, kernel_size, name, strides=1, activation=None, bias=0.0,
          transpose=False):
    layer = (tf.keras.layers.Conv2DTranspose if transpose
             else tf.keras.layers.Conv2D)
    return layer(filters, kernel_size, strides=strides, padding="same",
                 activation=activation, dtype="float32", name=name,
                 bias_initializer=tf.keras.initializers.Constant(bias))


def _stack(name, convolutions):
    """The convolutions [(filters, kernel, strides, activation, bias,
    transpose), ...] in order, named `name`/conv_i (warm starts and
    exports find weights by these names)."""
    return LayerStack([_conv(*args[:2], f"conv_{i}", *args[2:])
                       for i, args in enumerate(convolutions)],
                      name=name, dtype="float32")


class ChannelwisePrior(LatentPrior):
    """Hyperprior plus channel-wise autoregressive prior of latents y: the
    same interface as `Hyperprior`, with `autoregressive` scale indexes.

    Computes in float32 throughout. `compress`/`decompress` and the stock
    steps take one image (batch 1); they need `fix_tables()` first.
    """

    autoregressive = True  # slice k's indexes depend on slices before it

    def __init__(self, config: ModelConfig, **kwargs):
        super().__init__(config, "channelwise", **kwargs)
        self.num_slices = config.num_slices
        self.slice_depth = config.latent_channels // config.num_slices
        k, f = config.kernel_size, config.hyper_filters
        depth = config.hyper_downsamplings
        self.hyper_analysis = _stack("hyper_analysis", [(f, 3, 1, "relu")] + [
            (config.hyper_channels, k, 2) if i == depth - 1
            else (f, k, 2, "relu") for i in range(depth)])
        self.hyper_synthesis_mean, self.hyper_synthesis_scale = [_stack(
            name, [(f, k, 2, "relu", 0.0, True)] * depth)
            for name in ("hyper_synthesis_mean", "hyper_synthesis_scale")]

        def slice_transforms(name, bias=0.0):
            # Two hidden layers tapering as in ms2020 (224, 128 filters).
            hidden = max(f // 2, self.slice_depth)
            s = config.slice_kernel_size
            return [_stack(f"{name}_{i}", [
                (f, s, 1, "relu"), (hidden, s, 1, "relu"),
                (self.slice_depth, 3, 1, None, bias)])
                for i in range(self.num_slices)]

        self.mean_transforms = slice_transforms("mean")
        self.scale_transforms = slice_transforms(
            "scale", config.initial_scale_index)
        self.lrp_transforms = slice_transforms("lrp")
        self.build(tf.TensorShape([None, None, None,
                                   config.latent_channels]))

    def _num_support(self, k: int) -> int:
        """How many earlier slices slice k is conditioned on."""
        m = self.config.max_support_slices
        return k if m < 0 else min(k, m)

    def build(self, input_shape):
        def shape(channels):
            return tf.TensorShape([None, None, None, channels])

        c = self.config
        self.hyper_analysis.build(shape(c.latent_channels))
        self.hyper_synthesis_mean.build(shape(c.hyper_channels))
        self.hyper_synthesis_scale.build(shape(c.hyper_channels))
        for k in range(self.num_slices):
            support = (c.hyper_filters +
                       self._num_support(k) * self.slice_depth)
            self.mean_transforms[k].build(shape(support))
            self.scale_transforms[k].build(shape(support))
            self.lrp_transforms[k].build(shape(support + self.slice_depth))
        super().build(input_shape)

    def side_latents(self, y):
        """z of latents y, padded so that every convolution sees even sizes."""
        return self.hyper_analysis(
            pad_to_multiple(y, 2 ** self.config.hyper_downsamplings))

    def _chain(self, z_hat, latent_size, discrete: bool, quantize,
               offset=(0, 0)) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """Runs the slices in order; returns ŷ and each slice's scale index.

        `quantize(k, mean, scale_index)` gives slice k's integer-valued
        offsets ŷ_k - mean_k (before LRP): rounded, decoded or given.
        `discrete` rounds the scale indexes to the coding tables' indexes.
        The latents are those of `latent_size` from `offset`, counted from
        the latent at ẑ's top left (a tile, model/tiling.py).
        """
        crop = (slice(None), slice(offset[0], offset[0] + latent_size[0]),
                slice(offset[1], offset[1] + latent_size[1]))
        mean_features = self.hyper_synthesis_mean(z_hat)[crop]
        scale_features = self.hyper_synthesis_scale(z_hat)[crop]
        y_hat, scale_indexes = [], []
        for k in range(self.num_slices):
            support = y_hat[:self._num_support(k)]
            mean_support = tf.concat([mean_features] + support, axis=-1)
            mean = self.mean_transforms[k](mean_support)
            scale_index = self.scale_transforms[k](
                tf.concat([scale_features] + support, axis=-1))
            if discrete:
                scale_index = tfc.round_st(scale_index)
            y_hat_k = mean + quantize(k, mean, scale_index)
            lrp = self.lrp_transforms[k](
                tf.concat([mean_support, y_hat_k], axis=-1))
            y_hat.append(y_hat_k + 0.5 * tf.math.tanh(lrp))
            scale_indexes.append(scale_index)
        return tf.concat(y_hat, axis=-1), scale_indexes

    def call(self, y, training=False, z=None):
        """y [B, h, w, C] (and z, by default the hyper-analysis of y) →
        (ŷ, bits [B], side bits [B]).

        With `training=True`, bits are differentiable noisy-latent estimates
        and ŷ uses straight-through rounding; otherwise bits are the
        information content of the rounded latents under the coding prior
        (rounded scale indexes), what `compress` writes within a few percent.
        """
        main, side = self._estimating_models(training)
        if z is None:
            z = self.side_latents(y)
        z_tilde, side_bits = side(z, training=training)
        y_slices = tf.split(y, self.num_slices, axis=-1)
        bits = []

        def quantize(k, mean, scale_index):
            _, slice_bits = main(y_slices[k], scale_index, loc=mean,
                                 training=training)
            bits.append(slice_bits)
            # Straight-through rounding as a custom gradient: grappler may
            # reassociate x + stop_gradient(round(x) - x) and miss round(x).
            return tfc.round_st(y_slices[k] - mean)

        y_hat, _ = self._chain(z_tilde, tf.shape(y)[1:3], not training,
                               quantize)
        return y_hat, tf.add_n(bits), side_bits

    # Coding with fixed tables.

    def _transforms(self) -> list:
        return ([self.hyper_analysis, self.hyper_synthesis_mean,
                 self.hyper_synthesis_scale] + self.mean_transforms +
                self.scale_transforms + self.lrp_transforms)

    def encoder_transforms(self) -> tuple:
        """What an encoder reads besides the tables."""
        return tuple(self._transforms())

    def decoder_transforms(self) -> tuple:
        """What a decoder reads besides the tables."""
        return tuple(self._transforms()[1:])

    def _latent_table_facts(self) -> dict:
        return {"order": f"{self.num_slices} channel slices of "
                         f"{self.slice_depth}, one after the other, each "
                         "row-major", "autoregressive": True}

    def compress(self, y, z=None):
        """y [1, h, w, C] (and z) → (latent string, side string)."""
        side = self.side_model
        if z is None:
            z = self.side_latents(y)
        handle = self.encode_tile(
            tfc.create_range_encoder([], self.latent_model.cdf), y,
            side.quantize(z), tf.zeros([2], tf.int32))
        return tfc.entropy_encode_finalize(handle), side.compress(z)[0]

    def decompress(self, latent_string, side_string, latent_size, side_size):
        """Strings and int32 [2] sizes of y and z → ŷ [1, h, w, C]."""
        z_hat = self.side_model.decompress(side_string[None], side_size)
        handle, y_hat = self.decode_tile(
            tfc.create_range_decoder(latent_string, self.latent_model.cdf),
            z_hat, tf.zeros([2], tf.int32), latent_size)
        sanity = tfc.entropy_decode_finalize(handle)
        with tf.control_dependencies([tf.debugging.assert_equal(
                sanity, True, message="Latent string not fully decoded.")]):
            return tf.identity(y_hat)

    @tf.function(input_signature=ENCODE_TILE)
    def encode_tile(self, handle, y, z_hat, offset):
        """Range codes latents y [1, h, w, C], slice after slice, into
        `handle` with the prior of ẑ around them (`offset` as in `_chain`);
        returns the handle."""
        y_slices = tf.split(y, self.num_slices, axis=-1)

        def quantize(k, mean, scale_index):
            nonlocal handle
            offsets = y_slices[k] - mean
            handle = self.encode_offsets(handle, offsets, scale_index)
            return tf.round(offsets)

        self._chain(z_hat, tf.shape(y)[1:3], True, quantize, offset)
        return handle

    @tf.function(input_signature=DECODE_TILE)
    def decode_tile(self, handle, z_hat, offset, size):
        """(handle, ŷ [1, *size, C]) of the tile `encode_tile` coded."""
        def quantize(k, mean, scale_index):
            nonlocal handle
            handle, offsets = self.decode_offsets(handle, scale_index)
            return offsets

        y_hat, _ = self._chain(z_hat, size, True, quantize, offset)
        return handle, y_hat

    # Stock steps: core TensorFlow ops only, the client range codes.

    def symbols(self, y) -> dict:
        """y [1, h, w, C] → the integer symbols and tables `compress` codes."""
        offset = self.side_model.quantization_offset
        side_symbols = tf.round(self.side_latents(y) - offset)
        y_slices = tf.split(y, self.num_slices, axis=-1)
        latent_symbols = []

        def quantize(k, mean, scale_index):
            latent_symbols.append(tf.round(y_slices[k] - mean))
            return latent_symbols[-1]

        _, scale_indexes = self._chain(side_symbols + offset, tf.shape(y)[1:3],
                                       True, quantize)
        return dict(
            latent_symbols=tf.cast(tf.concat(latent_symbols, -1), tf.int32),
            latent_scale_indexes=self._table_indexes(
                tf.concat(scale_indexes, -1)),
            side_latent_symbols=tf.cast(side_symbols, tf.int32))

    def _given(self, side_latent_symbols, latent_symbols, latent_size):
        """ŷ and scale indexes from the symbols of a client."""
        z_hat = (tf.cast(side_latent_symbols, tf.float32) +
                 self.side_model.quantization_offset)
        given = tf.split(tf.cast(latent_symbols, tf.float32), self.num_slices,
                         axis=-1)
        return self._chain(z_hat, latent_size, True,
                           lambda k, mean, scale_index: given[k])

    def scale_indexes(self, side_latent_symbols, latent_symbols, latent_size):
        """int32 table indexes [1, h, w, C]; those of slice k depend only on
        `latent_symbols` of slices < k (later ones may be anything)."""
        _, scale_indexes = self._given(side_latent_symbols, latent_symbols,
                                       latent_size)
        return self._table_indexes(tf.concat(scale_indexes, -1))

    def latents(self, side_latent_symbols, latent_symbols, latent_size):
        """ŷ [1, h, w, C] from all symbols: what `decompress` returns."""
        y_hat, _ = self._given(side_latent_symbols, latent_symbols,
                               latent_size)
        return y_hat
