"""The mean-scale hyperprior (Minnen et al., 2018): the latents' entropy model.

Side latents z = hyper_analysis(y) carry, through the hyper-synthesis, the
mean and scale of a Gaussian for each latent of y. Rates come from tfc:

* z: `ContinuousBatchedEntropyModel` over a learned `NoisyDeepFactorized`
  prior, one density per channel;
* y: `LocationScaleIndexedEntropyModel(NoisyNormal)`, whose scale is picked
  from `num_scales` log-spaced values by the predicted index.

In training, latents get additive uniform noise for a differentiable rate,
while the ŷ handed on is straight-through rounded around the mean (as HiFiC
does) so that the synthesis learns on what it will decode. `fix_tables()`
builds the range-coding tables once; coding uses only those tables, so
encoder and decoder never derive them independently.

Besides `compress`/`decompress`, three steps made of core TensorFlow ops
only serve the `stock` SavedModel signatures, where the client range-codes
integer symbols with the tables of `range_coding_tables()`.
"""

from __future__ import annotations

import math

import tensorflow as tf
import tensorflow_compression as tfc

from tfgancomp.model.config import ModelConfig
from tfgancomp.model.geometry import pad_to_multiple, ste_round
from tfgancomp.model.transforms import HyperAnalysis, HyperSynthesis


def scale_function(config: ModelConfig):
    """Scale index → scale: `num_scales` log-spaced values."""
    log_min, log_max = math.log(config.scale_min), math.log(config.scale_max)
    step = (log_max - log_min) / (config.num_scales - 1)

    def scale(index):
        return tf.math.exp(log_min + step * index)
    return scale


class Hyperprior(tf.keras.layers.Layer):
    """Hyper-analysis, hyper-synthesis, side prior and range-coding tables."""

    autoregressive = False  # scale indexes depend on side latents only

    def __init__(self, config: ModelConfig, **kwargs):
        # Float32 in the entropy models, even when the transforms compute
        # in a lower precision.
        super().__init__(name="hyperprior", dtype="float32", **kwargs)
        self.config = config
        self.hyper_analysis = HyperAnalysis(config)
        self.hyper_synthesis = HyperSynthesis(config)
        self.side_prior = tfc.NoisyDeepFactorized(
            batch_shape=[config.hyper_channels])
        self.hyper_analysis.build((None, None, None, config.latent_channels))
        self.hyper_synthesis.build((None, None, None, config.hyper_channels))
        self._scale = scale_function(config)
        self.latent_model = None
        self.side_model = None

    # Estimates (training and validation).

    def _estimating_models(self, training: bool):
        """Entropy models without tables, for bit estimates.

        Outside training, z is rounded as `compress` will round it: around
        the fixed tables' offsets once they exist, else the prior's.
        """
        main = tfc.LocationScaleIndexedEntropyModel(
            tfc.NoisyNormal, self.config.num_scales, self._scale,
            coding_rank=3, compression=False)
        if training:
            offset = None  # noise instead of rounding: offsets unused
        elif self.can_code:
            offset = self.side_model.quantization_offset
        else:
            offset = tfc.quantization_offset(self.side_prior)
        side = tfc.ContinuousBatchedEntropyModel(
            self.side_prior, coding_rank=3, compression=False,
            offset_heuristic=False, quantization_offset=offset)
        return main, side

    def side_latents(self, y):
        """z of latents y, padded so that every convolution sees even sizes."""
        factor = 2 ** self.config.hyper_downsamplings
        return tf.cast(self.hyper_analysis(pad_to_multiple(y, factor)),
                       tf.float32)

    def prior(self, z_hat, latent_size, discrete: bool = True):
        """Mean and scale index of each latent, cropped to `latent_size`.

        Range coding has a table per integer scale index (tfc truncates
        fractional ones); `discrete` rounds to the nearest table instead, so
        that coding and the bit estimates outside training use one prior
        (straight-through, for encoder-side refinement).
        """
        params = tf.cast(self.hyper_synthesis(z_hat), tf.float32)
        params = params[:, :latent_size[0], :latent_size[1], :]
        mean, scale_index = tf.split(params, 2, axis=-1)
        if discrete:
            scale_index = ste_round(scale_index)
        return mean, scale_index

    def call(self, y, training: bool = False, z=None):
        """(ŷ, bits of y [B], bits of z [B]) for latents y [B, h, w, C] (and
        side latents z, by default the hyper-analysis of y).

        With `training`, bits are differentiable noisy-latent estimates;
        otherwise the information content of the rounded latents under the
        coding prior: what `compress` writes, within a few percent, with
        straight-through gradients.
        """
        main, side = self._estimating_models(training)
        if z is None:
            z = self.side_latents(y)
        z_tilde, side_bits = side(z, training=training)
        mean, scale_index = self.prior(z_tilde, tf.shape(y)[1:3],
                                       discrete=not training)
        _, bits = main(y, scale_index, loc=mean, training=training)
        return mean + ste_round(y - mean), bits, side_bits

    # Coding with fixed tables.

    @property
    def can_code(self) -> bool:
        return self.latent_model is not None

    @tf.function
    def _side_tables(self):
        """Range-coding tables of the side prior: much faster traced."""
        side = tfc.ContinuousBatchedEntropyModel(
            self.side_prior, coding_rank=3, compression=True, stateless=True)
        return side.cdf, side.cdf_offset, side.quantization_offset

    def fix_tables(self, placeholders: bool = False):
        """Builds the range-coding tables from the trained priors, once.

        With `placeholders=True`, creates empty tables to be overwritten by
        restoring a saved model (the table variables take any length).
        """
        self.latent_model = tfc.LocationScaleIndexedEntropyModel(
            tfc.NoisyNormal, self.config.num_scales, self._scale,
            coding_rank=3, compression=True)
        if placeholders:
            tables = dict(cdf_shapes=(1, 1), quantization_offset=True)
        else:
            cdf, cdf_offset, offset = self._side_tables()
            tables = dict(cdf=cdf, cdf_offset=cdf_offset,
                          quantization_offset=offset)
        self.side_model = tfc.ContinuousBatchedEntropyModel(
            prior_shape=self.side_prior.batch_shape, coding_rank=3,
            compression=True, **tables)

    def transform_variables(self) -> list[tf.Variable]:
        """The weights of the hyper transforms that coding reads."""
        return (list(self.hyper_analysis.variables) +
                list(self.hyper_synthesis.variables))

    def table_tensors(self) -> list[tf.Tensor]:
        """The range-coding tables, in a fixed order."""
        main, side = self.latent_model, self.side_model
        return [main.cdf, main.cdf_offset, side.cdf, side.cdf_offset,
                side.quantization_offset]

    def table_variables(self) -> list[tf.Variable]:
        """The range-coding tables, as variables (for exports)."""
        return (list(self.latent_model.variables) +
                list(self.side_model.variables))

    def encoder_transforms(self) -> tuple:
        """What an encoder reads besides the tables."""
        return (self.hyper_analysis, self.hyper_synthesis)

    def decoder_transforms(self) -> tuple:
        """What a decoder reads besides the tables."""
        return (self.hyper_synthesis,)

    def compress(self, y, z=None):
        """Latents [1, h, w, C] (and side latents, by default the
        hyper-analysis of y) → (latent string, side-latent string)."""
        if z is None:
            z = self.side_latents(y)
        z_hat = self.side_model.quantize(z)
        mean, scale_index = self.prior(z_hat, tf.shape(y)[1:3])
        string = self.latent_model.compress(y, scale_index, loc=mean)
        return string[0], self.side_model.compress(z)[0]

    def decompress(self, string, side_string, latent_size, side_size):
        """(latent string, side-latent string, sizes) → ŷ [1, h, w, C]."""
        z_hat = self.side_model.decompress(side_string[None], side_size)
        mean, scale_index = self.prior(z_hat, latent_size)
        return self.latent_model.decompress(string[None], scale_index,
                                            loc=mean)

    # The steps around the range coder, in core TensorFlow ops.

    def _side_from_symbols(self, side_latent_symbols):
        return (tf.cast(side_latent_symbols, tf.float32)
                + self.side_model.quantization_offset)

    def _clipped(self, scale_index):
        return tf.cast(tf.clip_by_value(
            scale_index, 0, self.config.num_scales - 1), tf.int32)

    def symbols(self, y) -> dict:
        """What the range coder codes for latents [1, h, w, C]: integer
        symbols and the table (scale index) of each latent."""
        z = self.side_latents(y)
        side_symbols = tf.round(z - self.side_model.quantization_offset)
        mean, scale_index = self.prior(self._side_from_symbols(side_symbols),
                                       tf.shape(y)[1:3])
        return {"latent_symbols": tf.cast(tf.round(y - mean), tf.int32),
                "latent_scale_indexes": self._clipped(scale_index),
                "side_latent_symbols": tf.cast(side_symbols, tf.int32)}

    def scale_indexes(self, side_latent_symbols, latent_size):
        """The table of each latent, from the side-latent symbols."""
        _, scale_index = self.prior(
            self._side_from_symbols(side_latent_symbols), latent_size)
        return self._clipped(scale_index)

    def latents(self, side_latent_symbols, latent_symbols, latent_size):
        """ŷ of decoded symbols: what `decompress` returns."""
        mean, _ = self.prior(self._side_from_symbols(side_latent_symbols),
                             latent_size)
        return tf.cast(latent_symbols, tf.float32) + mean

    def range_coding_tables(self) -> dict:
        """The range coder's tables, for clients that code the symbols."""
        main, side = self.latent_model, self.side_model

        def ints(tensor):
            return [int(v) for v in tensor.numpy()]

        return {
            "range_coder": "tensorflow_compression 2.14 range coder",
            "precision": int(main.range_coder_precision),
            "latent": {"cdf": ints(main.cdf),
                       "cdf_offset": ints(main.cdf_offset),
                       "table": "latent_scale_indexes"},
            "side_latent": {"cdf": ints(side.cdf),
                            "cdf_offset": ints(side.cdf_offset),
                            "table": "channel (last axis)"},
        }
