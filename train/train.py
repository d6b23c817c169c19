"""Trains a tfgancomp codec. Run with --helpfull for every flag.

    python train/train.py --train_glob='photos/*.jpg' --model_dir=runs/a
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

# TensorFlow must load before absl parses flags: imported inside main(),
# tfc's GDN layers fail to build.
from tfgancomp.config import ModelConfig  # noqa: E402
from tfgancomp.data import folder_dataset  # noqa: E402
from tfgancomp.errors import TfgancompError  # noqa: E402
from tfgancomp.training import TrainConfig, Trainer  # noqa: E402

flags.DEFINE_string("train_glob", None,
                    "Directory or glob of training images.", required=True)
flags.DEFINE_string("model_dir", None,
                    "Where checkpoints and the trained model go; training "
                    "resumes from the latest checkpoint here.", required=True)
flags.DEFINE_integer("max_steps", 100_000, "Total training steps.")
flags.DEFINE_integer("batch_size", 8, "Images per step.")
flags.DEFINE_integer("patch_size", 256, "Side of the random training crops.")
flags.DEFINE_integer("downscale", 2, "Downscale images by this factor first.")
flags.DEFINE_float("lmbda", 0.01, "Weight of the distortion (MSE on 0..255).")
flags.DEFINE_float("learning_rate", 1e-4, "Adam learning rate.")
flags.DEFINE_integer("checkpoint_every", 1000, "Steps between checkpoints.")
flags.DEFINE_integer("log_every", 100, "Steps between progress lines.")
flags.DEFINE_integer("num_filters", 128, "Width of the transforms.")
flags.DEFINE_integer("latent_channels", 192, "Channels of the latents y.")
flags.DEFINE_integer("hyper_filters", 128, "Width of the hyper transforms.")
flags.DEFINE_integer("hyper_channels", 128, "Channels of the side latents z.")
flags.DEFINE_enum("norm", "gdn", ["gdn", "channel", "none"],
                  "Normalisation in the transforms.")
flags.DEFINE_integer("residual_blocks", 0,
                     "Residual blocks at the start of the synthesis.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    try:
        model_config = ModelConfig(
            num_filters=FLAGS.num_filters,
            latent_channels=FLAGS.latent_channels,
            hyper_filters=FLAGS.hyper_filters,
            hyper_channels=FLAGS.hyper_channels,
            norm=FLAGS.norm, residual_blocks=FLAGS.residual_blocks)
        train_config = TrainConfig(
            lmbda=FLAGS.lmbda, learning_rate=FLAGS.learning_rate,
            batch_size=FLAGS.batch_size, patch_size=FLAGS.patch_size,
            max_steps=FLAGS.max_steps,
            checkpoint_every=FLAGS.checkpoint_every,
            log_every=FLAGS.log_every)
        dataset = folder_dataset(FLAGS.train_glob, FLAGS.patch_size,
                                 FLAGS.batch_size, FLAGS.downscale)
        trainer = Trainer(FLAGS.model_dir, model_config, train_config)
        trainer.fit(dataset)
    except TfgancompError as e:
        sys.exit(f"train.py: error: {e}")
    print(f"model written to {trainer.model_dir / 'model'}")


if __name__ == "__main__":
    app.run(main)
