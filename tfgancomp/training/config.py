"""`TrainConfig`: loss weights, optimizers, schedule, precision, logging."""

from __future__ import annotations

import dataclasses

from tfgancomp.configuration import OMIT_IF_DEFAULT, Config
from tfgancomp.errors import ConfigError
from tfgancomp.training import losses

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
TRAINABLE = ("all", "codec", "entropy", "decoder", "realism")


def parse_schedule(text: str) -> tuple[tuple[int, float], ...]:
    """'15000:5e-5,30000:1e-5' → ((15000, 5e-5), (30000, 1e-5)): from
    each step on, the learning rate given; ConfigError if malformed."""
    drops = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        step, _, rate = item.partition(":")
        try:
            drops.append((int(step), float(rate)))
        except ValueError:
            raise ConfigError(f"learning_rate_schedule: '{item}' is not "
                              "STEP:RATE") from None
    steps = [step for step, _ in drops]
    if steps != sorted(set(steps)) or any(
            step < 1 or not rate > 0 for step, rate in drops):
        raise ConfigError("learning_rate_schedule needs increasing steps "
                          "above 0 and positive rates")
    return tuple(drops)


@dataclasses.dataclass(frozen=True)
class TrainConfig(Config):
    """Loss weights, optimizers, schedule and logging of a training run.

    The loss is w·bpp + lmbda·distortion + gan_weight·G (+ fm_weight times
    the discriminator's feature-matching loss, + spectral_weight times
    the reconstruction's detail power beyond the original's, frequency by
    frequency, `detail.spectral_excess`, + texture_weight times the
    mismatch of its detail energy, block by block, `detail.
    texture_mismatch`). The rate weight w is 1, or
    with `target_bpp` it is `rate_penalty` whenever a batch is above the
    target. A variable-rate model trains each example at a random quality
    q in [0, 1] whose λ runs geometrically from `lmbda` (q = 0) to
    `lmbda_max` (q = 1). A model with a realism knob trains each example
    at a random realism r, its adversarial and texture terms weighted by
    r·λ instead (so their weights are in distortion units there), or with
    `adversarial_lmbda_exponent` p < 1 by r·λ_mid·(λ/λ_mid)^p, so that
    the low qualities get more of the adversarial pull. With gan_weight
    and fm_weight 0 training runs without a discriminator; otherwise the
    discriminator joins after `warmup_steps`, with
    `disc_steps` discriminator updates per generator update. The codec's
    learning rate follows `learning_rate_schedule` (see `parse_schedule`)
    from `learning_rate` on. `precision` picks the transforms' compute type
    (entropy models, losses and weights stay float32). `trainable`
    picks what learns: "all"; "codec", all but the realism branch, at
    realism 0 (a realism model's rate-distortion phase: its branch
    waits, unchanged, for the next realism phase); "entropy", the entropy
    models alone, at realism 0 (a new entropy model learns the rate of a
    trained model's latents before the whole codec moves); "decoder", the
    synthesis and inverse gains
    (the encoder, gains and entropy models keep their warm-started weights,
    so files do not change); "realism", the realism branch alone, so
    that realism 0 also decodes exactly as the warm start did (the realism
    phase). `revive_latents` switches the latent channels the warm start's
    gains switched off back on (`revival.py`).
    """

    KIND = "training"

    lmbda: float = 0.01
    lmbda_max: float | None = None
    distortion: str = "mse"
    target_bpp: float | None = None
    rate_penalty: float = 16.0
    learning_rate: float = 1e-4
    learning_rate_schedule: str = ""
    disc_learning_rate: float = 1e-4
    clip_norm: float = 1.0
    max_steps: int = 100_000
    warmup_steps: int = 0
    gan_loss: str = "non_saturating"
    gan_weight: float = 0.0
    fm_weight: float = 0.0
    disc_steps: int = 1
    gradient_penalty: float = 10.0
    checkpoint_every: int = 1000
    keep_checkpoints: int = dataclasses.field(default=3,
                                              metadata=OMIT_IF_DEFAULT)
    summary_every: int = 100
    validate_every: int = 1000
    log_every: int = 100
    precision: str = "float32"
    jit_compile: bool = False
    trainable: str = "all"
    adversarial_lmbda_exponent: float = 1.0
    # Out of the JSON while false, so that older runs still resume.
    revive_latents: bool = dataclasses.field(default=False,
                                             metadata=OMIT_IF_DEFAULT)
    spectral_weight: float = dataclasses.field(default=0.0,
                                               metadata=OMIT_IF_DEFAULT)
    texture_weight: float = dataclasses.field(default=0.0,
                                              metadata=OMIT_IF_DEFAULT)

    def __post_init__(self):
        self.check_numbers(("lmbda", "learning_rate", "disc_learning_rate",
                            "clip_norm"))
        self.check_numbers(("gan_weight", "fm_weight", "gradient_penalty",
                            "spectral_weight", "texture_weight"),
                           positive=False)
        if self.lmbda_max is not None:
            self.check_numbers(("lmbda_max",))
            if self.lmbda_max <= self.lmbda:
                raise ConfigError("lmbda_max must be above lmbda")
        self.check_integers(("disc_steps", "checkpoint_every",
                             "keep_checkpoints", "summary_every",
                             "validate_every", "log_every"))
        self.check_integers(("warmup_steps", "max_steps"), minimum=0)
        self.check_numbers(("adversarial_lmbda_exponent",), positive=False)
        if not 0. <= self.adversarial_lmbda_exponent <= 1.:
            raise ConfigError("adversarial_lmbda_exponent must be in [0, 1]")
        self.check_choice("precision", PRECISIONS)
        self.check_choice("trainable", TRAINABLE)
        self.check_booleans(("revive_latents",))
        # Built once here so that a bad spec fails before any work.
        parse_schedule(self.learning_rate_schedule)
        losses.Distortion(self.distortion)
        losses.gan_loss(self.gan_loss)
        self.rate_weight()

    @property
    def adversarial(self) -> bool:
        return self.gan_weight > 0 or self.fm_weight > 0

    @property
    def lmbdas(self) -> float | tuple[float, float]:
        """What the model records: λ, or (λ at quality 0, λ at 1)."""
        if self.lmbda_max is None:
            return self.lmbda
        return (self.lmbda, self.lmbda_max)

    def learning_rate_at(self, step: int) -> float:
        """The codec's learning rate for the update after `step`."""
        rate = self.learning_rate
        for start, value in parse_schedule(self.learning_rate_schedule):
            if step >= start:
                rate = value
        return rate

    def rate_weight(self) -> losses.RateWeight:
        if self.target_bpp is None:
            return losses.RateWeight()
        return losses.RateWeight(1.0, self.rate_penalty, self.target_bpp)
