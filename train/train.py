"""Trains a tfgancomp codec. Run with --helpfull for every flag.

    python train/train.py --dataset=folder --train_glob='photos/*.jpg' \\
        --model_dir=runs/a --warmup_steps=50000 --max_steps=100000

Rate + distortion alone for --warmup_steps, then with the discriminator
(--gan_weight 0 never switches it on). Training resumes from the latest
checkpoint in --model_dir; TensorBoard: `tensorboard --logdir runs/a`.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

# TensorFlow must load before absl parses flags: imported inside main(),
# tfc's GDN layers fail to build.
from tfgancomp import losses  # noqa: E402
from tfgancomp.config import NORMS, ModelConfig  # noqa: E402
from tfgancomp.data import (  # noqa: E402
    DATASETS,
    DataConfig,
    train_dataset,
    validation_dataset,
)
from tfgancomp.discriminator import DiscriminatorConfig  # noqa: E402
from tfgancomp.errors import TfgancompError  # noqa: E402
from tfgancomp.flag_parsing import one_line_parser  # noqa: E402
from tfgancomp.training import (  # noqa: E402
    STRATEGIES,
    TrainConfig,
    Trainer,
    make_strategy,
)

# Data.
flags.DEFINE_enum("dataset", "folder", DATASETS,
                  "Where training images come from: tensorflow-datasets' "
                  "stanford_dogs or cifar10, or image files (--train_glob).")
flags.DEFINE_list("train_glob", [],
                  "Directories or globs of training images, comma-separated "
                  "(--dataset=folder).")
flags.DEFINE_list("validation_glob", [],
                  "Held-out images (--dataset=folder); by default a few "
                  "training files are held out instead.")
flags.DEFINE_integer("validation_images", 16,
                     "How many held-out images to validate on (0: none).")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory.")
flags.DEFINE_string("manual_dir", None,
                    "tensorflow-datasets manual download directory.")
flags.DEFINE_bool("download", True,
                  "Let tensorflow-datasets download and prepare the data.")
flags.DEFINE_integer("downscale", 2,
                     "Downscale photos by this factor before cropping (JPEG "
                     "blocks otherwise teach the codec to make them).")
flags.DEFINE_integer("patch_size", 256, "Side of the random training crops.")
flags.DEFINE_bool("cache", False,
                  "Keep the decoded, downscaled training images in memory "
                  "(only for image sets that fit).")
flags.DEFINE_integer("batch_size", 8,
                     "Global batch: split over replicas and workers.")
# Objective.
flags.DEFINE_float("lmbda", 0.01, "Weight of the distortion (in MSE units).")
flags.DEFINE_string("distortion", "mse",
                    "Distortion: mse, ms_ssim, l1 or a mix such as "
                    "'mse:0.8,ms_ssim:0.2'.")
flags.DEFINE_float("target_bpp", None,
                   "Steer the rate to this many bits per pixel: above it the "
                   "rate weighs --rate_penalty times more.")
flags.DEFINE_float("rate_penalty", 16.0,
                   "Rate weight above --target_bpp (1 below).")
flags.DEFINE_enum("gan_loss", "non_saturating", list(losses.GAN_LOSSES),
                  "GAN loss; wasserstein adds a gradient penalty.")
flags.DEFINE_float("gan_weight", 0.1,
                   "Weight of the generator's GAN loss; 0 trains without a "
                   "discriminator.")
flags.DEFINE_float("gradient_penalty", 10.0,
                   "Weight of the WGAN-GP gradient penalty.")
# Schedule and optimizers.
flags.DEFINE_integer("max_steps", 200_000, "Total generator steps.")
flags.DEFINE_integer("warmup_steps", 100_000,
                     "Steps on rate + distortion alone before the "
                     "discriminator joins.")
flags.DEFINE_integer("disc_steps", 1,
                     "Discriminator updates per generator update.")
flags.DEFINE_float("learning_rate", 1e-4, "Adam learning rate of the codec.")
flags.DEFINE_float("disc_learning_rate", 1e-4,
                   "Adam learning rate of the discriminator.")
flags.DEFINE_float("clip_norm", 1.0, "Clip gradients to this global norm.")
flags.DEFINE_string("init_from", None,
                    "Start a new run from the codec weights of another run "
                    "(e.g. GAN fine-tuning of a rate-distortion model).")
# Hardware.
flags.DEFINE_enum("strategy", "default", STRATEGIES,
                  "default: one device; mirrored: all local GPUs; "
                  "multi_worker: the cluster in TF_CONFIG.")
flags.DEFINE_bool("mixed_precision", False, "Compute in float16 (GPUs).")
flags.DEFINE_bool("jit_compile", False, "Compile the steps with XLA.")
# Output.
flags.DEFINE_string("model_dir", None,
                    "Where checkpoints, summaries and the trained model go; "
                    "training resumes from the latest checkpoint here.",
                    required=True)
flags.DEFINE_string("name", None,
                    "Model name written into compressed files (default: "
                    "the model_dir's name).")
flags.DEFINE_integer("checkpoint_every", 1000, "Steps between checkpoints.")
flags.DEFINE_integer("summary_every", 100,
                     "Steps between TensorBoard scalars.")
flags.DEFINE_integer("validate_every", 1000,
                     "Steps between validations (scalars and pictures).")
flags.DEFINE_integer("log_every", 100, "Steps between progress lines.")
# Model size.
flags.DEFINE_integer("num_filters", 128, "Width of the transforms.")
flags.DEFINE_integer("latent_channels", 192, "Channels of the latents y.")
flags.DEFINE_integer("hyper_filters", 128, "Width of the hyper transforms.")
flags.DEFINE_integer("hyper_channels", 128, "Channels of the side latents z.")
flags.DEFINE_enum("norm", "gdn", NORMS, "Normalisation in the transforms.")
flags.DEFINE_integer("residual_blocks", 0,
                     "Residual blocks at the start of the synthesis.")
flags.DEFINE_integer("disc_filters", 64,
                     "Filters of the discriminator's first layer.")
flags.DEFINE_integer("disc_scales", 3,
                     "Image scales the discriminator looks at.")
FLAGS = flags.FLAGS


def configs():
    """The model, discriminator, training and data configs of the flags."""
    model = ModelConfig(
        num_filters=FLAGS.num_filters, latent_channels=FLAGS.latent_channels,
        hyper_filters=FLAGS.hyper_filters,
        hyper_channels=FLAGS.hyper_channels, norm=FLAGS.norm,
        residual_blocks=FLAGS.residual_blocks)
    disc = DiscriminatorConfig(base_filters=FLAGS.disc_filters,
                               num_scales=FLAGS.disc_scales)
    train = TrainConfig(
        lmbda=FLAGS.lmbda, distortion=FLAGS.distortion,
        target_bpp=FLAGS.target_bpp, rate_penalty=FLAGS.rate_penalty,
        learning_rate=FLAGS.learning_rate,
        disc_learning_rate=FLAGS.disc_learning_rate,
        clip_norm=FLAGS.clip_norm, batch_size=FLAGS.batch_size,
        patch_size=FLAGS.patch_size, max_steps=FLAGS.max_steps,
        warmup_steps=FLAGS.warmup_steps, gan_loss=FLAGS.gan_loss,
        gan_weight=FLAGS.gan_weight, disc_steps=FLAGS.disc_steps,
        gradient_penalty=FLAGS.gradient_penalty,
        checkpoint_every=FLAGS.checkpoint_every,
        summary_every=FLAGS.summary_every,
        validate_every=FLAGS.validate_every, log_every=FLAGS.log_every,
        mixed_precision=FLAGS.mixed_precision,
        jit_compile=FLAGS.jit_compile)
    data = DataConfig(
        dataset=FLAGS.dataset, train_glob=tuple(FLAGS.train_glob),
        validation_glob=tuple(FLAGS.validation_glob),
        validation_images=FLAGS.validation_images, data_dir=FLAGS.data_dir,
        manual_dir=FLAGS.manual_dir, download=FLAGS.download,
        downscale=FLAGS.downscale, patch_size=FLAGS.patch_size,
        batch_size=FLAGS.batch_size, cache=FLAGS.cache)
    return model, disc, train, data


def main(argv):
    if len(argv) > 1:
        sys.exit(f"train.py: error: unexpected arguments {argv[1:]}")
    try:
        model, disc, train, data = configs()
        # A multi-worker strategy must exist before any other TF work.
        strategy = make_strategy(FLAGS.strategy)
        batches = train_dataset(data)
        validation = (validation_dataset(data) if data.validation_images
                      else None)
        trainer = Trainer(FLAGS.model_dir, model, train, name=FLAGS.name,
                          strategy=strategy, disc_config=disc,
                          init_from=FLAGS.init_from)
        trainer.fit(batches, validation)
    except TfgancompError as e:
        sys.exit(f"train.py: error: {e}")
    if trainer.is_chief:
        print(f"model written to {trainer.model_dir / 'model'}")


if __name__ == "__main__":
    app.run(main, flags_parser=one_line_parser())
