"""Model configuration: one frozen dataclass that round-trips through JSON."""

from __future__ import annotations

import dataclasses
import math

from tfgancomp.configuration import OMIT_IF_DEFAULT, Config
from tfgancomp.errors import ConfigError

NORMS = ("gdn", "channel", "none")
# How the synthesis draws realism: residual adapters on its feature maps
# (conditioning.RealismAdapters) or luma grain after the last upsampling
# (grain.RealismGrain).
REALISM_BRANCHES = ("adapters", "grain")
# What only the decoder's realism knob depends on: models that differ
# there alone write the same files.
REALISM_FIELDS = ("realism", "realism_branch", "realism_stages")
ENTROPY_MODELS = ("hyperprior", "channelwise")


@dataclasses.dataclass(frozen=True)
class ModelConfig(Config):
    """Sizes and choices of the transforms and entropy models.

    The analysis transform halves the resolution `num_downsamplings` times, the
    hyper-analysis `hyper_downsamplings` more times; the synthesis transform
    mirrors the analysis and may add residual blocks at latent resolution
    (the HiFiC generator uses nine). `norm` picks GDN/IGDN (Ballé et al.),
    channel normalisation + ReLU (HiFiC) or no normalisation + ReLU.
    """

    KIND = "model"

    num_filters: int = 128
    latent_channels: int = 192
    hyper_filters: int = 128
    hyper_channels: int = 128
    num_downsamplings: int = 4
    hyper_downsamplings: int = 2
    kernel_size: int = 5
    norm: str = "gdn"
    residual_blocks: int = 0
    num_scales: int = 64
    scale_min: float = 0.11
    scale_max: float = 256.0
    # Added after the first release: left out of the JSON (and so of the
    # fingerprints) while at their defaults.
    entropy_model: str = dataclasses.field(default="hyperprior",
                                           metadata=OMIT_IF_DEFAULT)
    num_slices: int = dataclasses.field(default=8, metadata=OMIT_IF_DEFAULT)
    max_support_slices: int = dataclasses.field(default=4,
                                                metadata=OMIT_IF_DEFAULT)
    # Kernel of the channel-wise slice transforms' hidden layers (3 runs
    # them in about 2/5 of the time of 5).
    slice_kernel_size: int = dataclasses.field(default=5,
                                               metadata=OMIT_IF_DEFAULT)
    # The knobs (conditioning.py): gain vectors trained at `qualities`
    # evenly spaced qualities (0: one fixed rate), and a synthesis
    # conditioned on realism.
    qualities: int = dataclasses.field(default=0, metadata=OMIT_IF_DEFAULT)
    realism: bool = dataclasses.field(default=False,
                                      metadata=OMIT_IF_DEFAULT)
    realism_branch: str = dataclasses.field(default="adapters",
                                            metadata=OMIT_IF_DEFAULT)
    # Realism adapters after the N coarsest synthesis nonlinearities (0:
    # after every one; tried against realism 1's grid, BUILD_NOTES.md).
    realism_stages: int = dataclasses.field(default=0,
                                            metadata=OMIT_IF_DEFAULT)
    # Hidden channels of a residual block after each synthesis upsampling
    # stage but the last, coarsest first (0 or left out: none); capacity
    # at the fine scales that a warm start can add (BUILD_NOTES.md, run 10).
    stage_blocks: tuple = dataclasses.field(default=(),
                                            metadata=OMIT_IF_DEFAULT)

    def __post_init__(self):
        self.check_integers(("num_filters", "latent_channels",
                             "hyper_filters", "hyper_channels",
                             "num_downsamplings", "hyper_downsamplings",
                             "kernel_size", "num_scales"))
        self.check_integers(("residual_blocks",), minimum=0)
        self.check_choice("entropy_model", ENTROPY_MODELS)
        self.check_integers(("num_slices", "slice_kernel_size"))
        if not isinstance(self.max_support_slices, int) or isinstance(
                self.max_support_slices, bool):
            raise ConfigError("max_support_slices must be an integer "
                              "(negative: all earlier slices)")
        if (self.entropy_model == "channelwise"
                and self.latent_channels % self.num_slices):
            raise ConfigError(f"{self.num_slices} slices do not divide "
                              f"{self.latent_channels} latent channels")
        self.check_integers(("qualities",), minimum=0)
        if self.qualities == 1:
            raise ConfigError("qualities must be 0 (one fixed rate) or at "
                              "least 2")
        self.check_booleans(("realism",))
        self.check_choice("realism_branch", REALISM_BRANCHES)
        self.check_integers(("realism_stages",), minimum=0)
        stages = self.num_downsamplings - 1 + bool(self.residual_blocks)
        if self.realism_stages > stages:
            raise ConfigError(f"realism_stages must be at most {stages}, the "
                              "synthesis' nonlinearities")
        self._check_stage_blocks()
        self.check_choice("norm", NORMS)
        if self.num_scales < 2:
            raise ConfigError("num_scales must be at least 2")
        if not 0 < self.scale_min < self.scale_max:
            raise ConfigError("need 0 < scale_min < scale_max")

    def _check_stage_blocks(self):
        blocks = self.stage_blocks
        if not isinstance(blocks, (list, tuple)) or any(
                not isinstance(n, int) or isinstance(n, bool) or n < 0
                for n in blocks):
            raise ConfigError("stage_blocks must be a list of integers of "
                              f"at least 0, got {blocks!r}")
        if len(blocks) > self.num_downsamplings - 1:
            raise ConfigError(f"stage_blocks must have at most "
                              f"{self.num_downsamplings - 1} entries, the "
                              "synthesis' upsampling stages but the last")
        object.__setattr__(self, "stage_blocks", tuple(blocks))

    def stage_block(self, stage: int) -> int:
        """Hidden channels of the block after upsampling stage `stage` (0:
        none)."""
        blocks = self.stage_blocks
        return blocks[stage] if stage < len(blocks) else 0

    @property
    def variable_rate(self) -> bool:
        """Whether the encoder takes a quality (stored in each file)."""
        return self.qualities > 0

    def realism_draws(self, branch: str) -> bool:
        """Whether the synthesis has the realism knob, drawn by `branch`."""
        return self.realism and self.realism_branch == branch

    @property
    def latent_stride(self) -> int:
        """Pixels per latent position along each axis."""
        return 2 ** self.num_downsamplings

    @property
    def hyper_stride(self) -> int:
        """Pixels per side-latent position along each axis."""
        return 2 ** (self.num_downsamplings + self.hyper_downsamplings)

    @property
    def initial_scale_index(self) -> float:
        """The scale index whose scale is 1 (clipped to the index range)."""
        ratio = self.scale_max / self.scale_min
        step = math.log(ratio) / (self.num_scales - 1)
        index = -math.log(self.scale_min) / step
        return min(max(index, 0.0), self.num_scales - 1.0)
