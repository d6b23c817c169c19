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

import math
import os
import shutil
import sys
import time
from pathlib import Path

import tensorflow as tf

from tfgancomp.deploy import store
from tfgancomp.deploy.layout import RUN_CHECKPOINTS, RUN_MODEL, RUN_SUMMARIES
from tfgancomp.errors import ConfigError, TrainingError
from tfgancomp.model.codec import Codec
from tfgancomp.model.config import ModelConfig
from tfgancomp.training import checkpoints, losses, validation
from tfgancomp.training.config import TrainConfig
from tfgancomp.training.discriminator import (
    DiscriminatorConfig,
    MultiScaleDiscriminator,
)
from tfgancomp.training.objective import Objective
from tfgancomp.training.revival import revive_latents


def _optimizer(learning_rate, clip_norm, precision, variables):
    optimizer = tf.keras.optimizers.Adam(learning_rate,
                                         global_clipnorm=clip_norm)
    if precision == "mixed_float16":  # bfloat16 has float32's range
        optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
    # Slots made now, not in the first step: else tf.function traces the
    # step twice (once to create variables), which costs seconds.
    optimizer.build(variables)
    return optimizer


class Trainer:
    """Trains a codec (and its discriminator) and keeps `model_dir`
    resumable.

    `init_from` names a model (anything `deploy.resolve` takes: a shipped
    name, an export, a run) whose codec weights a new run starts from, by
    variable name, as HiFiC fine-tunes a rate-distortion model with its
    GAN; weights it lacks, or of another shape, keep their initial values.
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
        if model_config.variable_rate != (config.lmbda_max is not None):
            raise ConfigError("a variable-rate model (qualities) trains "
                              "with lmbda_max, and only such a model")
        self.strategy = strategy or tf.distribute.get_strategy()
        # Only the chief of a cluster keeps checkpoints and summaries.
        self.is_chief = self.strategy.extended.should_checkpoint
        self.replicas = self.strategy.num_replicas_in_sync
        checkpoints.check_or_write_config(
            self.model_dir, self.is_chief, name=self.name,
            model=model_config, discriminator=self.disc_config,
            train=train_config)
        self.objective = Objective(model_config, config)
        tf.keras.mixed_precision.set_global_policy(config.precision)
        try:
            with self.strategy.scope():
                self._build(model_config)
        finally:
            tf.keras.mixed_precision.set_global_policy("float32")
        self.warm_started = []  # the variables init_from gave
        self.resumed_from = None  # the checkpoint a resumed run restored
        self.revived = []  # the latent channels revive_latents revived
        self._learning_rate = None  # the codec's, as last assigned
        self._restore(init_from)
        self._steps, self._writers = {}, {}

    def _build(self, model_config):
        config = self.train_config
        self.codec = Codec(model_config)
        self.codec_variables = self.codec.variables_of(config.trainable)
        self.optimizer = _optimizer(
            config.learning_rate, config.clip_norm, config.precision,
            self.codec_variables)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        objects = dict(codec=self.codec, optimizer=self.optimizer,
                       step=self.step)
        self.discriminator = self.disc_optimizer = None
        if config.adversarial:
            self.discriminator = MultiScaleDiscriminator(
                self.disc_config, model_config.latent_channels)
            self.disc_optimizer = _optimizer(
                config.disc_learning_rate, config.clip_norm, config.precision,
                self.discriminator.trainable_variables)
            objects.update(discriminator=self.discriminator,
                           disc_optimizer=self.disc_optimizer)
        self.checkpoint = tf.train.Checkpoint(**objects)
        # Workers other than the chief must save too (saving is collective)
        # but into a scratch directory that is removed again.
        directory = self.model_dir / RUN_CHECKPOINTS
        if not self.is_chief:
            directory = self.model_dir / f".worker-{os.getpid()}"
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, directory, self.train_config.keep_checkpoints)

    def _restore(self, init_from):
        """Resumes from the latest checkpoint, or starts from `init_from`."""
        latest = tf.train.latest_checkpoint(self.model_dir / RUN_CHECKPOINTS)
        if latest:
            checkpoints.restore(self.checkpoint, latest, self.model_dir)
            self.resumed_from = latest
            # The learning rates given now win over the restored ones.
            self._set_learning_rate()
            if self.disc_optimizer is not None:
                self.disc_optimizer.learning_rate.assign(
                    self.train_config.disc_learning_rate)
            return  # the gains too are the checkpoint's
        if init_from is not None:
            from tfgancomp.deploy import resolve
            from tfgancomp.deploy.warm_start import copy_gains, copy_weights
            source = resolve.load_codec(init_from)
            self.warm_started, _ = copy_weights(
                {v.name: v for v in source.variables},
                self.codec.variables)
            self.warm_started += copy_gains(source, self.codec,
                                            self.train_config.lmbdas)
            reference = (source.lmbda if isinstance(source.lmbda, float)
                         else None)
        else:
            reference = None
        if (self.codec.gain is not None and
                self.codec.gain.log_gain.name not in self.warm_started):
            self.codec.gain.initialize(
                self.objective.initial_log_gains(reference))
        if self.train_config.revive_latents:
            self.revived = revive_latents(self.codec)

    def fresh_after_warm_start(self) -> list[str]:
        """The codec variables a warm start did not give, e.g. the side
        prior's density, which the exports shipped with 0.1.0 lack."""
        return [v.name for v in self.codec.variables
                if v.name not in self.warm_started]

    def _set_learning_rate(self):
        """The codec's learning rate of the schedule at this step."""
        rate = self.train_config.learning_rate_at(self.global_step)
        if rate != self._learning_rate:
            self.optimizer.learning_rate.assign(rate)
            self._learning_rate = rate

    # The steps. Each `_*_replica` runs on one replica's batch.

    def _forward(self, images):
        """(forward pass at random knobs, λ per example, realism)."""
        quality, realism = self.objective.knobs(images)
        forward = self.codec(images, training=True, quality=quality,
                             realism=realism)
        return forward, self.objective.lmbda(quality), realism

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
            forward, lmbda, realism = self._forward(images)
            loss, metrics = self.objective.rate_distortion(
                images, forward, lmbda, realism)
            scaled = self._scaled(self.optimizer, loss)
        self._apply(self.optimizer, tape, scaled, self.codec_variables)
        return dict(metrics, loss=loss)

    def _discriminator_loss(self, images, fake, latents, real_logits,
                            fake_logits):
        gan = self.objective.gan
        loss = gan.discriminator(real_logits, fake_logits)
        if gan.name == "wasserstein":
            penalty = losses.gradient_penalty(
                lambda x, y: self._logits(x, y)[0], images, fake, latents)
            loss += self.train_config.gradient_penalty * penalty
        return loss

    def _logits(self, images, latents, features: bool = False):
        """(float32 logits of every scale, the hidden activations for
        feature matching if `features`, else None)."""
        output = self.discriminator(images, latents, True, features)
        logits, hidden = output if features else (output, None)
        return [tf.cast(x, tf.float32) for x in logits], hidden

    def _gan_replica(self, images):
        """One generator and one discriminator update from one forward."""
        codec_vars = self.codec_variables
        disc_vars = self.discriminator.trainable_variables
        features = self.train_config.fm_weight > 0
        with tf.GradientTape() as tape, tf.GradientTape() as disc_tape:
            forward, lmbda, realism = self._forward(images)
            rd_loss, metrics = self.objective.rate_distortion(
                images, forward, lmbda, realism)
            latents = tf.stop_gradient(forward.latents)
            fake = tf.cast(forward.reconstruction, tf.float32)
            fake_logits, fake_features = self._logits(fake, latents,
                                                      features)
            real_logits, real_features = self._logits(images, latents,
                                                      features)
            adversarial, terms = self.objective.adversarial(
                images, fake, fake_logits, fake_features, real_features,
                lmbda, realism)
            loss = rd_loss + adversarial
            d_loss = self._discriminator_loss(
                images, tf.stop_gradient(fake), latents, real_logits,
                fake_logits)
            scaled = self._scaled(self.optimizer, loss)
            d_scaled = self._scaled(self.disc_optimizer, d_loss)
        self._apply(self.optimizer, tape, scaled, codec_vars)
        self._apply(self.disc_optimizer, disc_tape, d_scaled, disc_vars)
        return dict(metrics, **terms, loss=loss, d_loss=d_loss,
                    d_accuracy=losses.discriminator_accuracy(
                        real_logits, fake_logits))

    def _disc_replica(self, images):
        """A discriminator update alone (the extra `disc_steps`)."""
        forward, _, _ = self._forward(images)
        fake = tf.stop_gradient(tf.cast(forward.reconstruction, tf.float32))
        latents = tf.stop_gradient(forward.latents)
        with tf.GradientTape() as tape:
            real_logits, _ = self._logits(images, latents)
            fake_logits, _ = self._logits(fake, latents)
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
        batch = dataset.element_spec.shape[0]
        if batch is not None and batch % self.replicas:
            raise ConfigError(f"batch_size {batch} does not split over "
                              f"{self.replicas} replicas")
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        batches = iter(self.strategy.experimental_distribute_dataset(
            dataset.with_options(options)))
        writer = self._writer(RUN_SUMMARIES)
        metrics = {}
        start_step, start_time = self.global_step, time.perf_counter()
        while self.global_step < config.max_steps:
            self._set_learning_rate()
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

    def validate(self, dataset: tf.data.Dataset, log=None) -> dict:
        """The held-out measures (see validation.py), written to
        TensorBoard with a few pictures and printed."""
        if not self.is_chief:
            return {}
        metrics, step = {}, self.global_step
        for prefix, quality, realism in validation.settings(
                self.model_config):
            measured, pictures = validation.held_out(
                self.codec, dataset, quality, realism)
            metrics.update({prefix + k: v for k, v in measured.items()})
            with self._writer("validation").as_default(step=step):
                tf.summary.image(f"{prefix}original | reconstruction",
                                 pictures, max_outputs=3)
        with self._writer("validation").as_default(step=step):
            for key, value in metrics.items():
                tf.summary.scalar(key, value)
        print(f"step {step} [validation] {_format(metrics)}",
              file=log or sys.stderr, flush=True)
        return metrics

    def export(self) -> Path:
        """Fixes the range-coding tables and writes `model_dir/model`."""
        self.codec.fix_tables()
        self.codec.lmbda = self.train_config.lmbdas
        return store.save_codec(self.codec, self.model_dir / RUN_MODEL,
                                self.name)


def _format(metrics: dict) -> str:
    return " ".join(f"{k} {v:.4g}" for k, v in metrics.items())
