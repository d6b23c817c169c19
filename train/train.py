"""Trains a tfgancomp codec. Run with --helpfull for every flag.

    python train/train.py --dataset=folder --train_glob='photos/*.jpg' \\
        --model_dir=runs/a --warmup_steps=50000 --max_steps=100000
    python train/train.py --preset=default-mse --train_glob=... \\
        --model_dir=runs/b        # a shipped model's recipe

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
from tfgancomp import presets  # noqa: E402
from tfgancomp.errors import ConfigError, TfgancompError  # noqa: E402
from tfgancomp.model.config import (  # noqa: E402
    ENTROPY_MODELS,
    NORMS,
    REALISM_BRANCHES,
    ModelConfig,
)
from tfgancomp.training import losses  # noqa: E402
from tfgancomp.training.config import PRECISIONS, TRAINABLE, TrainConfig  # noqa: E402
from tfgancomp.training.data import (  # noqa: E402
    DATASETS,
    SMALL_IMAGES,
    DataConfig,
    train_dataset,
    validation_dataset,
)
from tfgancomp.training.discriminator import (  # noqa: E402
    DiscriminatorConfig,
)
from tfgancomp.training.flags import (  # noqa: E402
    apply_preset,
    config_from_flags,
    one_line_parser,
)
from tfgancomp.training.precision import bfloat16_problem  # noqa: E402
from tfgancomp.training.strategy import (  # noqa: E402
    STRATEGIES,
    make_strategy,
)
from tfgancomp.training.trainer import Trainer  # noqa: E402

M, D, T = ModelConfig(), DiscriminatorConfig(), TrainConfig()
DATA = DataConfig(train_glob=("unused",))

flags.DEFINE_string("preset", None,
                    "A named recipe (" + ", ".join(presets.names()) + "): "
                    "architecture and training settings of a shipped model; "
                    "flags given here override it.")
# Data.
flags.DEFINE_enum("dataset", DATA.dataset, DATASETS,
                  "Where training images come from: tensorflow-datasets' "
                  "stanford_dogs or cifar10, or image files (--train_glob).")
flags.DEFINE_list("train_glob", [],
                  "Directories or globs of training images, comma-separated "
                  "(--dataset=folder).")
flags.DEFINE_list("validation_glob", [],
                  "Held-out images (--dataset=folder); by default a few "
                  "training files are held out instead.")
flags.DEFINE_integer("validation_images", DATA.validation_images,
                     "How many held-out images to validate on (0: none).")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory.")
flags.DEFINE_string("manual_dir", None,
                    "tensorflow-datasets manual download directory.")
flags.DEFINE_bool("download", DATA.download,
                  "Let tensorflow-datasets download and prepare the data.")
flags.DEFINE_integer("downscale", DATA.downscale,
                     "Downscale photos by this factor before cropping (JPEG "
                     "blocks otherwise teach the codec to make them).")
flags.DEFINE_enum("small_images", DATA.small_images, SMALL_IMAGES,
                  "Images smaller than a patch after downscaling: upscale "
                  "them or skip them.")
flags.DEFINE_integer("patch_size", DATA.patch_size,
                     "Side of the random training crops.")
flags.DEFINE_integer("shuffle_buffer", DATA.shuffle_buffer,
                     "Images in the shuffle buffer.")
flags.DEFINE_bool("cache", DATA.cache,
                  "Keep the decoded, downscaled training images in memory "
                  "(only for image sets that fit).")
flags.DEFINE_integer("batch_size", DATA.batch_size,
                     "Global batch: split over replicas and workers.")
# Objective.
flags.DEFINE_float("lmbda", T.lmbda,
                   "Weight of the distortion (in MSE units).")
flags.DEFINE_float("lmbda_max", T.lmbda_max,
                   "Variable-rate models: the weight at quality 1 (--lmbda "
                   "is the weight at quality 0).")
flags.DEFINE_string("distortion", T.distortion,
                    "Distortion: mse, ms_ssim, l1 or a mix such as "
                    "'mse:0.8,ms_ssim:0.2'.")
flags.DEFINE_float("target_bpp", T.target_bpp,
                   "Steer the rate to this many bits per pixel: above it the "
                   "rate weighs --rate_penalty times more.")
flags.DEFINE_float("rate_penalty", T.rate_penalty,
                   "Rate weight above --target_bpp (1 below).")
flags.DEFINE_enum("gan_loss", T.gan_loss, list(losses.GAN_LOSSES),
                  "GAN loss; wasserstein adds a gradient penalty.")
flags.DEFINE_float("gan_weight", 0.1,
                   "Weight of the generator's GAN loss; 0 trains without a "
                   "discriminator.")
flags.DEFINE_float("fm_weight", T.fm_weight,
                   "Weight of the discriminator's feature-matching loss.")
flags.DEFINE_float("spectral_weight", T.spectral_weight,
                   "Weight of the reconstruction's detail power beyond the "
                   "original's, frequency by frequency (what a regular "
                   "pattern adds).")
flags.DEFINE_float("texture_weight", T.texture_weight,
                   "Weight of the mismatch between the reconstruction's and "
                   "the original's detail energy, block by block, at "
                   "realism r (the grain branch's term).")
flags.DEFINE_float("gradient_penalty", T.gradient_penalty,
                   "Weight of the WGAN-GP gradient penalty.")
# Schedule and optimizers.
flags.DEFINE_integer("max_steps", 200_000,
                     "Total generator steps (0: the warm start as it is, "
                     "say a variable-rate --init_from model onto another "
                     "λ range, written as a run).")
flags.DEFINE_integer("warmup_steps", 100_000,
                     "Steps on rate + distortion alone before the "
                     "discriminator joins.")
flags.DEFINE_integer("disc_steps", T.disc_steps,
                     "Discriminator updates per generator update.")
flags.DEFINE_float("learning_rate", T.learning_rate,
                   "Adam learning rate of the codec.")
flags.DEFINE_string("learning_rate_schedule", T.learning_rate_schedule,
                    "Later learning rates of the codec, as STEP:RATE,...: "
                    "from each step on, that rate.")
flags.DEFINE_float("disc_learning_rate", T.disc_learning_rate,
                   "Adam learning rate of the discriminator.")
flags.DEFINE_float("clip_norm", T.clip_norm,
                   "Clip gradients to this global norm.")
flags.DEFINE_string("init_from", None,
                    "Start a new run from the codec weights of another "
                    "model: a shipped model's name, an export, a run "
                    "(e.g. GAN fine-tuning of a rate-distortion model).")
# Hardware.
flags.DEFINE_enum("strategy", "default", STRATEGIES,
                  "default: one device; mirrored: all local GPUs; "
                  "multi_worker: the cluster in TF_CONFIG.")
flags.DEFINE_enum("precision", T.precision, PRECISIONS,
                  "Compute type of the transforms and discriminator: "
                  "mixed_bfloat16 for CPUs with AVX512_BF16 or AMX "
                  "(refused on others, where TensorFlow emulates it about "
                  "15x slower), mixed_float16 for GPUs (with loss "
                  "scaling).")
flags.DEFINE_bool("mixed_precision", False,
                  "Alias of --precision=mixed_float16.")
flags.DEFINE_bool("jit_compile", T.jit_compile,
                  "Compile the steps with XLA (slower on CPUs).")
flags.DEFINE_float("adversarial_lmbda_exponent",
                   T.adversarial_lmbda_exponent,
                   "p: with the realism knob, the adversarial terms are "
                   "weighted by r·λ_mid·(λ/λ_mid)^p (1: by r·λ; below 1 "
                   "the low rates get more of them).")
flags.DEFINE_enum("trainable", T.trainable, TRAINABLE,
                  "What learns: all; codec (all but the realism "
                  "branch, at realism 0); entropy (the entropy models "
                  "alone, at realism 0: a new entropy model learns a "
                  "trained model's latents); decoder (synthesis and "
                  "inverse gains: files do not change); realism (the "
                  "realism branch alone: realism 0 decodes as "
                  "--init_from did).")
flags.DEFINE_bool("revive_latents", T.revive_latents,
                  "Give the latent channels whose gains the warm start "
                  "switched off (below a tenth of the median gain at the "
                  "top quality) the other channels' gains again, cutting "
                  "what the synthesis reads from them.")
# Output.
flags.DEFINE_string("model_dir", None,
                    "Where checkpoints, summaries and the trained model go; "
                    "training resumes from the latest checkpoint here.",
                    required=True)
flags.DEFINE_string("name", None,
                    "Model name written into compressed files (default: "
                    "the model_dir's name).")
flags.DEFINE_integer("checkpoint_every", T.checkpoint_every,
                     "Steps between checkpoints.")
flags.DEFINE_integer("keep_checkpoints", T.keep_checkpoints,
                     "How many of the latest checkpoints stay (average "
                     "them with train/average_checkpoints.py).")
flags.DEFINE_integer("summary_every", T.summary_every,
                     "Steps between TensorBoard scalars.")
flags.DEFINE_integer("validate_every", T.validate_every,
                     "Steps between validations (scalars and pictures).")
flags.DEFINE_integer("log_every", T.log_every,
                     "Steps between progress lines.")
# Model.
flags.DEFINE_integer("num_filters", M.num_filters,
                     "Width of the transforms.")
flags.DEFINE_integer("latent_channels", M.latent_channels,
                     "Channels of the latents y.")
flags.DEFINE_integer("hyper_filters", M.hyper_filters,
                     "Width of the hyper transforms.")
flags.DEFINE_integer("hyper_channels", M.hyper_channels,
                     "Channels of the side latents z.")
flags.DEFINE_integer("num_downsamplings", M.num_downsamplings,
                     "Stride-2 stages of the analysis transform.")
flags.DEFINE_integer("hyper_downsamplings", M.hyper_downsamplings,
                     "Stride-2 stages of the hyper-analysis.")
flags.DEFINE_integer("kernel_size", M.kernel_size,
                     "Kernel size of the transforms' convolutions.")
flags.DEFINE_enum("norm", M.norm, NORMS, "Normalisation in the transforms.")
flags.DEFINE_integer("residual_blocks", M.residual_blocks,
                     "Residual blocks at the start of the synthesis.")
flags.DEFINE_integer("num_scales", M.num_scales,
                     "Scales (range-coding tables) of the latents' prior.")
flags.DEFINE_float("scale_min", M.scale_min,
                   "Smallest scale of the latents' prior.")
flags.DEFINE_float("scale_max", M.scale_max,
                   "Largest scale of the latents' prior.")
flags.DEFINE_enum("entropy_model", M.entropy_model, ENTROPY_MODELS,
                  "The latents' prior: the mean-scale hyperprior, or the "
                  "channel-wise autoregressive one (Minnen & Singh 2020).")
flags.DEFINE_integer("num_slices", M.num_slices,
                     "Channel slices of the channel-wise prior.")
flags.DEFINE_integer("max_support_slices", M.max_support_slices,
                     "Earlier slices each slice is conditioned on "
                     "(negative: all).")
flags.DEFINE_integer("slice_kernel_size", M.slice_kernel_size,
                     "Kernel of the channel-wise slice transforms.")
flags.DEFINE_integer("qualities", M.qualities,
                     "Gain vectors of a variable-rate model, trained at "
                     "evenly spaced qualities (0: one fixed rate).")
flags.DEFINE_bool("realism", M.realism,
                  "Condition the synthesis on a realism weight chosen at "
                  "decode time.")
flags.DEFINE_enum("realism_branch", M.realism_branch, REALISM_BRANCHES,
                  "How the synthesis draws realism: residual adapters on "
                  "its feature maps, or luma grain whose amplitude the "
                  "features set.")
flags.DEFINE_integer("realism_stages", M.realism_stages,
                     "Realism adapters after the N coarsest synthesis "
                     "nonlinearities only (0: after every one).")
flags.DEFINE_multi_integer("stage_blocks", list(M.stage_blocks),
                           "Hidden channels of a residual block after each "
                           "synthesis upsampling stage but the last, "
                           "coarsest first; one flag per stage "
                           "(--stage_blocks=96 --stage_blocks=32).")
# Discriminator.
flags.DEFINE_integer("disc_filters", D.base_filters,
                     "Filters of the discriminator's first layer.")
flags.DEFINE_integer("disc_scales", D.num_scales,
                     "Image scales the discriminator looks at.")
flags.DEFINE_integer("disc_latent_projection_channels",
                     D.latent_projection_channels,
                     "Channels the latents are projected to before the "
                     "discriminator sees them.")
flags.DEFINE_bool("disc_spectral_norm", D.spectral_norm,
                  "Spectral normalisation of the discriminator's layers.")
flags.DEFINE_bool("disc_blur", D.blur,
                  "A binomial blur before each of the discriminator's "
                  "strided convolutions (no checkerboard in its gradient).")
flags.DEFINE_integer("disc_input_layers", D.input_layers,
                     "Stride-1 3x3 convolutions before the discriminator's "
                     "strided ones.")
FLAGS = flags.FLAGS


def configs():
    """The model, discriminator, training and data configs of the flags
    (after the preset, if any)."""
    if FLAGS.preset:
        apply_preset(FLAGS.preset)
    if FLAGS.mixed_precision and not FLAGS["precision"].present:
        FLAGS.precision = "mixed_float16"
    return (config_from_flags("model", ModelConfig),
            config_from_flags("discriminator", DiscriminatorConfig),
            config_from_flags("train", TrainConfig),
            config_from_flags("data", DataConfig))


def main(argv):
    if len(argv) > 1:
        sys.exit(f"train.py: error: unexpected arguments {argv[1:]}")
    try:
        model, disc, train, data = configs()
        # A multi-worker strategy must exist before any other TF work.
        strategy = make_strategy(FLAGS.strategy)
        problem = (bfloat16_problem()
                   if train.precision == "mixed_bfloat16" else None)
        if problem:
            raise ConfigError(problem)
        batches = train_dataset(data)
        validation = (validation_dataset(data) if data.validation_images
                      else None)
        trainer = Trainer(FLAGS.model_dir, model, train, name=FLAGS.name,
                          strategy=strategy, disc_config=disc,
                          init_from=FLAGS.init_from)
        if trainer.resumed_from:
            print(f"resuming from {trainer.resumed_from}", file=sys.stderr)
        elif FLAGS.init_from:
            print(f"{len(trainer.warm_started)} variables from "
                  f"{FLAGS.init_from}", file=sys.stderr)
            if trainer.revived:
                print(f"revived {len(trainer.revived)} latent channels: "
                      f"{trainer.revived}", file=sys.stderr)
            fresh = trainer.fresh_after_warm_start()
            if fresh:
                print(f"starting afresh (not in {FLAGS.init_from}): "
                      f"{', '.join(fresh)}", file=sys.stderr)
        trainer.fit(batches, validation)
    except TfgancompError as e:
        sys.exit(f"train.py: error: {e}")
    if trainer.is_chief:
        print(f"model written to {trainer.model_dir / 'model'}")


if __name__ == "__main__":
    app.run(main, flags_parser=one_line_parser())
