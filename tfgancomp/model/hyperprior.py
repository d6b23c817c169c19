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

import tensorflow as tf

from tfgancomp.model.config import ModelConfig
from tfgancomp.model.geometry import pad_to_multiple, ste_round
from tfgancomp.model.prior import DECODE_TILE, ENCODE_TILE, LatentPrior
from tfgancomp.model.transforms import HyperAnalysis, HyperSynthesis


class Hyperprior(LatentPrior):
    """Hyper-analysis and hyper-synthesis over the shared side prior."""

    autoregressive = False  # scale indexes depend on side latents only

    def __init__(self, config: ModelConfig, **kwargs):
        super().__init__(config, "hyperprior", **kwargs)
        self.hyper_analysis = HyperAnalysis(config)
        self.hyper_synthesis = HyperSynthesis(config)
        self.hyper_analysis.build((None, None, None, config.latent_channels))
        self.hyper_synthesis.build((None, None, None, config.hyper_channels))

    def side_latents(self, y):
        """z of latents y, padded so that every convolution sees even sizes."""
        factor = 2 ** self.config.hyper_downsamplings
        return tf.cast(self.hyper_analysis(pad_to_multiple(y, factor)),
                       tf.float32)

    def prior(self, z_hat, latent_size, discrete: bool = True,
              offset=(0, 0)):
        """Mean and scale index of each latent, cropped to `latent_size`
        from `offset` (the latent position of the crop's top left, counted
        from the latent at ẑ's top left).

        Range coding has a table per integer scale index (tfc truncates
        fractional ones); `discrete` rounds to the nearest table instead, so
        that coding and the bit estimates outside training use one prior
        (straight-through, for encoder-side refinement).
        """
        params = tf.cast(self.hyper_synthesis(z_hat), tf.float32)
        params = params[:, offset[0]:offset[0] + latent_size[0],
                        offset[1]:offset[1] + latent_size[1], :]
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

    # One tile of a tiled image (model/tiling.py) into a shared coder.

    @tf.function(input_signature=ENCODE_TILE)
    def encode_tile(self, handle, y, z_hat, offset):
        """Range codes latents y [1, h, w, C] into `handle` with the prior
        of ẑ around them (`offset` as in `prior`); returns the handle."""
        mean, scale_index = self.prior(z_hat, tf.shape(y)[1:3],
                                       offset=offset)
        return self.encode_offsets(handle, y - mean, scale_index)

    @tf.function(input_signature=DECODE_TILE)
    def decode_tile(self, handle, z_hat, offset, size):
        """(handle, ŷ [1, *size, C]) of the tile `encode_tile` coded."""
        mean, scale_index = self.prior(z_hat, size, offset=offset)
        handle, symbols = self.decode_offsets(handle, scale_index)
        return handle, symbols + mean

    # The steps around the range coder, in core TensorFlow ops.

    def _side_from_symbols(self, side_latent_symbols):
        return (tf.cast(side_latent_symbols, tf.float32)
                + self.side_model.quantization_offset)

    def symbols(self, y) -> dict:
        """What the range coder codes for latents [1, h, w, C]: integer
        symbols and the table (scale index) of each latent."""
        z = self.side_latents(y)
        side_symbols = tf.round(z - self.side_model.quantization_offset)
        mean, scale_index = self.prior(self._side_from_symbols(side_symbols),
                                       tf.shape(y)[1:3])
        return {"latent_symbols": tf.cast(tf.round(y - mean), tf.int32),
                "latent_scale_indexes": self._table_indexes(scale_index),
                "side_latent_symbols": tf.cast(side_symbols, tf.int32)}

    def scale_indexes(self, side_latent_symbols, latent_size):
        """The table of each latent, from the side-latent symbols."""
        _, scale_index = self.prior(
            self._side_from_symbols(side_latent_symbols), latent_size)
        return self._table_indexes(scale_index)

    def latents(self, side_latent_symbols, latent_symbols, latent_size):
        """ŷ of decoded symbols: what `decompress` returns."""
        mean, _ = self.prior(self._side_from_symbols(side_latent_symbols),
                             latent_size)
        return tf.cast(latent_symbols, tf.float32) + mean
