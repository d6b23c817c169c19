"""Model configuration: one frozen dataclass that round-trips through JSON."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from tfgancomp.errors import ConfigError

NORMS = ("gdn", "channel", "none")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Sizes and choices of the transforms and entropy models.

    The analysis transform halves the resolution `num_downsamplings` times, the
    hyper-analysis `hyper_downsamplings` more times; the synthesis transform
    mirrors the analysis and may add residual blocks at latent resolution
    (the HiFiC generator uses nine). `norm` picks GDN/IGDN (Ballé et al.),
    channel normalisation + ReLU (HiFiC) or no normalisation + ReLU.
    """

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

    def __post_init__(self):
        positive = ("num_filters", "latent_channels", "hyper_filters",
                    "hyper_channels", "num_downsamplings",
                    "hyper_downsamplings", "kernel_size", "num_scales")
        for name in positive:
            value = getattr(self, name)
            if (not isinstance(value, int) or isinstance(value, bool)
                    or value < 1):
                raise ConfigError(
                    f"{name} must be a positive integer, got {value!r}")
        blocks = self.residual_blocks
        if not isinstance(blocks, int) or isinstance(blocks, bool) or (
                blocks < 0):
            raise ConfigError(
                f"residual_blocks must be a non-negative integer, "
                f"got {self.residual_blocks!r}")
        if self.norm not in NORMS:
            raise ConfigError(
                f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.num_scales < 2:
            raise ConfigError("num_scales must be at least 2")
        if not 0 < self.scale_min < self.scale_max:
            raise ConfigError("need 0 < scale_min < scale_max")

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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        if not isinstance(values, dict):
            raise ConfigError("model config must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown model config keys: {', '.join(unknown)}")
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        try:
            values = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"model config is not valid JSON: {e}") from None
        return cls.from_dict(values)
