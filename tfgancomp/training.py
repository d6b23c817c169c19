"""Training: rate + distortion first, then the adversarial phase.

A custom loop of `tf.function` steps under a `tf.distribute` strategy. The
generator step trains the codec on w·R + λ·D (+ β·G once the warm-up is
over); the discriminator step, with its own optimizer, runs from then on.
Losses are means over a replica's batch scaled by 1/replicas, so the summed
gradients are those of the global batch.

A model directory written by training holds:

    config.json    model, discriminator and training configuration
    checkpoints/   tf.train.CheckpointManager: weights, optimizers, step
    train/         TensorBoard summaries of the training batches
    validation/    TensorBoard summaries of the held-out images
    model/         the codec ready to code (see store.py), written at the end

Training resumes from the latest checkpoint in `checkpoints/`; the data
pipeline restarts with a fresh shuffle.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import tensorflow as tf

from tfgancomp import losses, store
from tfgancomp.codec import Codec
from tfgancomp.config import ModelConfig
from tfgancomp.discriminator import (
    DiscriminatorConfig,
    MultiScaleDiscriminator,
)
from tfgancomp.errors import ConfigError, ModelError, TrainingError

CONFIG = "config.json"
CHECKPOINTS = "checkpoints"
MODEL = "model"
STRATEGIES = ("default", "mirrored", "multi_worker")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Loss weights, optimizers, schedule and logging of a training run.

    The loss is w·bpp + lmbda·distortion + gan_weight·G. The rate weight w
    is 1, or with `target_bpp` it is `rate_penalty` whenever a batch is
    above the target. `gan_weight` 0 trains without a discriminator;
    otherwise the discriminator joins after `warmup_steps`, with
    `disc_steps` discriminator updates per generator update.
    """

    lmbda: float = 0.01
    distortion: str = "mse"
    target_bpp: float | None = None
    rate_penalty: float = 16.0
    learning_rate: float = 1e-4
    disc_learning_rate: float = 1e-4
    clip_norm: float = 1.0
    batch_size: int = 8
    patch_size: int = 256
    max_steps: int = 100_000
    warmup_steps: int = 0
    gan_loss: str = "non_saturating"
    gan_weight: float = 0.0
    disc_steps: int = 1
    gradient_penalty: float = 10.0
    checkpoint_every: int = 1000
    summary_every: int = 100
    validate_every: int = 1000
    log_every: int = 100
    mixed_precision: bool = False
    jit_compile: bool = False

    def __post_init__(self):
        for name in ("lmbda", "learning_rate", "disc_learning_rate",
                     "clip_norm"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0
                    and math.isfinite(value)):
                raise ConfigError(f"{name} must be positive, got {value!r}")
        for name in ("gan_weight", "gradient_penalty"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0
                    and math.isfinite(value)):
                raise ConfigError(
                    f"{name} must be zero or positive, got {value!r}")
        for name in ("batch_size", "patch_size", "max_steps", "disc_steps",
                     "checkpoint_every", "summary_every", "validate_every",
                     "log_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value!r}")
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ConfigError(f"warmup_steps must be zero or more, "
                              f"got {self.warmup_steps!r}")
        # Built once here so that a bad spec fails before any work.
        losses.Distortion(self.distortion)
        losses.gan_loss(self.gan_loss)
        self.rate_weight()

    @property
    def adversarial(self) -> bool:
        return self.gan_weight > 0

    def rate_weight(self) -> losses.RateWeight:
        if self.target_bpp is None:
            return losses.RateWeight()
        return losses.RateWeight(1.0, self.rate_penalty, self.target_bpp)


def make_strategy(name: str) -> tf.distribute.Strategy:
    """'default' (one device), 'mirrored' (all local GPUs) or
    'multi_worker' (the cluster described by the TF_CONFIG variable)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ConfigError(
                "the multi_worker strategy needs the TF_CONFIG variable")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as e:
            raise ConfigError(f"TF_CONFIG is not valid JSON: {e}") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(
        f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")


def _optimizer(learning_rate, clip_norm, mixed_precision, variables):
    optimizer = tf.keras.optimizers.Adam(learning_rate,
                                         global_clipnorm=clip_norm)
    if mixed_precision:
        optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
    # Slots made now, not in the first step: else tf.function traces the
    # step twice (once to create variables), which costs seconds.
    optimizer.build(variables)
    return optimizer


def _psnr(mse):
    return 10. * tf.math.log(255.**2 / mse) / tf.math.log(10.)


class Trainer:
    """Trains a codec (and its discriminator) and keeps `model_dir`
    resumable.

    `init_from` names another run whose codec weights a new run starts
    from, as HiFiC fine-tunes a rate-distortion model with its GAN.
    """

    def __init__(self, model_dir, model_config: ModelConfig,
                 train_config: TrainConfig, name: str | None = None,
                 strategy: tf.distribute.Strategy | None = None,
                 disc_config: DiscriminatorConfig | None = None,
                 init_from: str | os.PathLike | None = None):
        self.model_dir = Path(model_dir)
        self.name = name or self.model_dir.resolve().name
        self.model_config = model_config
        self.train_config = config = train_config
        self.disc_config = disc_config or DiscriminatorConfig()
        self.strategy = strategy or tf.distribute.get_strategy()
        # Only the chief of a cluster keeps checkpoints and summaries.
        self.is_chief = self.strategy.extended.should_checkpoint
        self.replicas = self.strategy.num_replicas_in_sync
        if config.batch_size % self.replicas:
            raise ConfigError(
                f"batch_size {config.batch_size} does not split over "
                f"{self.replicas} replicas")
        self._check_or_write_config()
        self.distortion = losses.Distortion(config.distortion)
        self.rate_weight = config.rate_weight()
        self.gan = losses.gan_loss(config.gan_loss)
        if config.mixed_precision:
            tf.keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            with self.strategy.scope():
                self._build(model_config)
        finally:
            tf.keras.mixed_precision.set_global_policy("float32")
        self._restore(init_from)
        self._steps, self._writers = {}, {}

    def _build(self, model_config):
        config = self.train_config
        self.codec = Codec(model_config)
        self.optimizer = _optimizer(
            config.learning_rate, config.clip_norm, config.mixed_precision,
            self.codec.trainable_variables)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        objects = dict(codec=self.codec, optimizer=self.optimizer,
                       step=self.step)
        self.discriminator = self.disc_optimizer = None
        if config.adversarial:
            self.discriminator = MultiScaleDiscriminator(
                self.disc_config, model_config.latent_channels)
            self.disc_optimizer = _optimizer(
                config.disc_learning_rate, config.clip_norm,
                config.mixed_precision,
                self.discriminator.trainable_variables)
            objects.update(discriminator=self.discriminator,
                           disc_optimizer=self.disc_optimizer)
        self.checkpoint = tf.train.Checkpoint(**objects)
        # Workers other than the chief must save too (saving is collective)
        # but into a scratch directory that is removed again.
        directory = self.model_dir / CHECKPOINTS
        if not self.is_chief:
            directory = self.model_dir / f".worker-{os.getpid()}"
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, directory, max_to_keep=3)

    def _check_or_write_config(self):
        """The model configs of a resumed run must match the stored ones."""
        path = self.model_dir / CONFIG
        if path.exists():
            stored = json.loads(path.read_text())
            stored_model = ModelConfig.from_dict(stored["model"])
            stored_disc = stored.get("discriminator")
            if stored_model != self.model_config or (
                    stored_disc is not None and
                    DiscriminatorConfig.from_dict(stored_disc)
                    != self.disc_config):
                raise ConfigError(
                    f"{self.model_dir} holds a run with a different model "
                    f"config; use a new --model_dir")
        if not self.is_chief:
            return
        self.model_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(
            {"name": self.name, "model": self.model_config.to_dict(),
             "discriminator": self.disc_config.to_dict(),
             "train": dataclasses.asdict(self.train_config)}, indent=2) + "\n")

    def _restore(self, init_from):
        """Resumes from the latest checkpoint, or starts from `init_from`."""
        latest = tf.train.latest_checkpoint(self.model_dir / CHECKPOINTS)
        if latest:
            self._restore_checkpoint(self.checkpoint, latest, self.model_dir)
            # The learning rates given now win over the restored ones.
            self.optimizer.learning_rate.assign(
                self.train_config.learning_rate)
            if self.disc_optimizer is not None:
                self.disc_optimizer.learning_rate.assign(
                    self.train_config.disc_learning_rate)
        elif init_from is not None:
            source = tf.train.latest_checkpoint(
                Path(init_from) / CHECKPOINTS)
            if source is None:
                raise ConfigError(f"no checkpoint to start from in "
                                  f"{Path(init_from) / CHECKPOINTS}")
            self._restore_checkpoint(tf.train.Checkpoint(codec=self.codec),
                                     source, init_from, partial=True)

    @staticmethod
    def _restore_checkpoint(checkpoint, path, run, partial=False):
        """Fails loudly if the checkpoint does not fit the code, rather than
        training on from freshly initialised weights."""
        status = checkpoint.restore(path)
        try:
            status.assert_existing_objects_matched()
        except AssertionError:
            raise ConfigError(
                f"the checkpoint in {run} does not fit this model (another "
                "model config, or written by another version of "
                "tfgancomp?); use a new --model_dir") from None
        if partial:
            status.expect_partial()

    # The steps. Each `_*_replica` runs on one replica's batch.

    def _rd_loss(self, images, forward):
        bpp = losses.bits_per_pixel(
            tf.cast(forward.bits + forward.side_bits, tf.float32), images)
        reconstruction = tf.cast(forward.reconstruction, tf.float32)
        distortion = self.distortion(images, reconstruction)
        weight = self.rate_weight(bpp)
        loss = losses.rate_distortion(
            weight * bpp, distortion, self.train_config.lmbda)
        mse = losses.mse_255(images, reconstruction)
        return loss, {"bpp": bpp, "mse": mse, "psnr": _psnr(mse),
                      "distortion": distortion, "rate_weight": weight}

    def _scaled(self, optimizer, loss):
        """The loss to differentiate (inside the tape): this replica's
        share, times the loss scale under mixed precision."""
        loss = loss / self.replicas
        if isinstance(optimizer, tf.keras.mixed_precision.LossScaleOptimizer):
            loss = optimizer.get_scaled_loss(loss)
        return loss

    @staticmethod
    def _apply(optimizer, tape, scaled_loss, variables):
        gradients = tape.gradient(scaled_loss, variables)
        if isinstance(optimizer, tf.keras.mixed_precision.LossScaleOptimizer):
            gradients = optimizer.get_unscaled_gradients(gradients)
        optimizer.apply_gradients(zip(gradients, variables))

    def _rd_replica(self, images):
        with tf.GradientTape() as tape:
            forward = self.codec(images, training=True)
            loss, metrics = self._rd_loss(images, forward)
            scaled = self._scaled(self.optimizer, loss)
        self._apply(self.optimizer, tape, scaled,
                    self.codec.trainable_variables)
        return dict(metrics, loss=loss)

    def _discriminator_loss(self, images, fake, latents, real_logits,
                            fake_logits):
        loss = self.gan.discriminator(real_logits, fake_logits)
        if self.gan.name == "wasserstein":
            penalty = losses.gradient_penalty(
                lambda x, y: self._logits(x, y), images, fake, latents)
            loss += self.train_config.gradient_penalty * penalty
        return loss

    def _logits(self, images, latents):
        return [tf.cast(x, tf.float32) for x in
                self.discriminator(images, latents, training=True)]

    def _gan_replica(self, images):
        """One generator and one discriminator update from one forward."""
        codec_vars = self.codec.trainable_variables
        disc_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as tape, tf.GradientTape() as disc_tape:
            forward = self.codec(images, training=True)
            rd_loss, metrics = self._rd_loss(images, forward)
            latents = tf.stop_gradient(forward.latents)
            fake = tf.cast(forward.reconstruction, tf.float32)
            fake_logits = self._logits(fake, latents)
            real_logits = self._logits(images, latents)
            g_loss = self.gan.generator(fake_logits)
            loss = rd_loss + self.train_config.gan_weight * g_loss
            d_loss = self._discriminator_loss(
                images, tf.stop_gradient(fake), latents, real_logits,
                fake_logits)
            scaled = self._scaled(self.optimizer, loss)
            d_scaled = self._scaled(self.disc_optimizer, d_loss)
        self._apply(self.optimizer, tape, scaled, codec_vars)
        self._apply(self.disc_optimizer, disc_tape, d_scaled, disc_vars)
        return dict(metrics, loss=loss, g_loss=g_loss, d_loss=d_loss,
                    d_accuracy=losses.discriminator_accuracy(
                        real_logits, fake_logits))

    def _disc_replica(self, images):
        """A discriminator update alone (the extra `disc_steps`)."""
        forward = self.codec(images, training=True)
        fake = tf.stop_gradient(tf.cast(forward.reconstruction, tf.float32))
        latents = tf.stop_gradient(forward.latents)
        with tf.GradientTape() as tape:
            real_logits = self._logits(images, latents)
            fake_logits = self._logits(fake, latents)
            d_loss = self._discriminator_loss(images, fake, latents,
                                              real_logits, fake_logits)
            d_scaled = self._scaled(self.disc_optimizer, d_loss)
        self._apply(self.disc_optimizer, tape, d_scaled,
                    self.discriminator.trainable_variables)
        return {"d_loss": d_loss}

    def _distributed(self, name):
        """The tf.function running `_{name}_replica` on every replica and
        returning metrics averaged over them; the step counter grows once
        per generator update."""
        if name not in self._steps:
            replica_fn = getattr(self, f"_{name}_replica")
            if self.train_config.jit_compile:
                replica_fn = tf.function(replica_fn, jit_compile=True)

            @tf.function
            def step(images):
                metrics = self.strategy.run(replica_fn, args=(images,))
                if name != "disc":
                    self.step.assign_add(1)
                return {k: self.strategy.reduce("MEAN", v, axis=None)
                        for k, v in metrics.items()}
            self._steps[name] = step
        return self._steps[name]

    @property
    def global_step(self) -> int:
        """Generator updates so far."""
        return int(self.step.numpy())

    def train_step(self, images, adversarial: bool | None = None
                   ) -> dict[str, tf.Tensor]:
        """One generator update (and the discriminator's, when adversarial:
        by default, once the warm-up is over) on a distributed batch;
        returns the metrics."""
        if adversarial is None:
            adversarial = (self.train_config.adversarial and
                           self.global_step >= self.train_config.warmup_steps)
        return self._distributed("gan" if adversarial else "rd")(images)

    # The loop.

    def fit(self, dataset: tf.data.Dataset,
            validation: tf.data.Dataset | None = None,
            log=None) -> dict:
        """Trains to `max_steps` on batches of the global batch size, then
        writes the coding model; returns the metrics of the last step."""
        config, log = self.train_config, log or sys.stderr
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        batches = iter(self.strategy.experimental_distribute_dataset(
            dataset.with_options(options)))
        writer = self._writer("train")
        metrics = {}
        start_step, start_time = self.global_step, time.perf_counter()
        while self.global_step < config.max_steps:
            adversarial = (config.adversarial and
                           self.global_step >= config.warmup_steps)
            if adversarial:
                for _ in range(config.disc_steps - 1):
                    self._distributed("disc")(next(batches))
            metrics = {k: float(v)
                       for k, v in self.train_step(next(batches)).items()}
            step = self.global_step
            if not all(math.isfinite(v) for v in metrics.values()):
                raise TrainingError(
                    f"training diverged at step {step} ({_format(metrics)});"
                    f" the last good checkpoint is "
                    f"{self.manager.latest_checkpoint}: resume from it with a "
                    "lower learning rate")
            if step % config.summary_every == 0:
                with writer.as_default(step=step):
                    for key, value in metrics.items():
                        tf.summary.scalar(key, value)
            if step % config.log_every == 0 or step == config.max_steps:
                rate = (step - start_step) / (time.perf_counter() - start_time)
                phase = "adversarial" if adversarial else "rate-distortion"
                print(f"step {step} [{phase}] {_format(metrics)} "
                      f"({rate:.2f} steps/s)", file=log, flush=True)
            if validation is not None and (step % config.validate_every == 0
                                           or step == config.max_steps):
                self.validate(validation, log)
            if step % config.checkpoint_every == 0:
                self.manager.save(checkpoint_number=step)
        self.manager.save(checkpoint_number=self.global_step)
        writer.flush()
        if not self.is_chief:
            shutil.rmtree(self.manager.directory, ignore_errors=True)
            return metrics
        self.export()
        return metrics

    def _writer(self, name):
        if name not in self._writers:
            self._writers[name] = (
                tf.summary.create_file_writer(str(self.model_dir / name))
                if self.is_chief else tf.summary.create_noop_writer())
        return self._writers[name]

    @tf.function(reduce_retracing=True)
    def _evaluate(self, images):
        forward = self.codec(images, training=False)
        reconstruction = tf.clip_by_value(
            tf.cast(forward.reconstruction, tf.float32), 0., 1.)
        bits = tf.cast(forward.bits + forward.side_bits, tf.float32)
        return reconstruction, bits

    def validate(self, dataset: tf.data.Dataset, log=None) -> dict:
        """Rate (bit estimates of rounded latents), PSNR and MS-SSIM of the
        held-out images; written to TensorBoard with a few pictures."""
        if not self.is_chief:
            return {}
        totals, count, first = {"bpp": 0., "mse": 0., "ms_ssim": 0.}, 0, None
        for images in dataset:
            reconstruction, bits = self._evaluate(images)
            n = int(tf.shape(images)[0])
            rounded = tf.round(reconstruction * 255.) / 255.
            totals["bpp"] += n * float(losses.bits_per_pixel(bits, images))
            totals["mse"] += n * float(losses.mse_255(images, rounded))
            totals["ms_ssim"] += n * (1. - float(
                losses.ms_ssim_loss(images, rounded)))
            count += n
            if first is None:
                first = tf.concat([images, rounded], axis=2)
        metrics = {k: v / count for k, v in totals.items()}
        metrics["psnr"] = float(_psnr(metrics["mse"]))
        step = self.global_step
        with self._writer("validation").as_default(step=step):
            for key, value in metrics.items():
                tf.summary.scalar(key, value)
            tf.summary.image("original | reconstruction", first,
                             max_outputs=3)
        print(f"step {step} [validation] {_format(metrics)}",
              file=log or sys.stderr, flush=True)
        return metrics

    def export(self) -> Path:
        """Fixes the range-coding tables and writes `model_dir/model`."""
        self.codec.fix_tables()
        return store.save_codec(self.codec, self.model_dir / MODEL, self.name)


def latest_codec(model_dir: str | os.PathLike) -> tuple[Codec, int]:
    """The codec of a run's latest checkpoint with its tables fixed, and
    its step: what the run would export if it ended now."""
    model_dir = Path(model_dir)
    try:
        stored = json.loads((model_dir / CONFIG).read_text())
        config = ModelConfig.from_dict(stored["model"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelError(f"{model_dir} is not a training run: cannot read "
                         f"{CONFIG} ({e})") from None
    latest = tf.train.latest_checkpoint(model_dir / CHECKPOINTS)
    if latest is None:
        raise ModelError(f"{model_dir / CHECKPOINTS} holds no checkpoint")
    codec = Codec(config)
    step = tf.Variable(0, dtype=tf.int64)
    Trainer._restore_checkpoint(tf.train.Checkpoint(codec=codec, step=step),
                                latest, model_dir, partial=True)
    codec.fix_tables()
    codec.model_name = stored.get("name", model_dir.resolve().name)
    return codec, int(step.numpy())


def _format(metrics: dict) -> str:
    return " ".join(f"{k} {v:.4g}" for k, v in metrics.items())
