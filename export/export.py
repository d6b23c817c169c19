"""Exports a trained codec as encoder and decoder SavedModels for serving.

    python export/export.py --model_dir=runs/a --export_dir=serving/ \
        [--version=1] [--force] [--checkpoint]

writes serving/encoder/1/, serving/decoder/1/ and serving/models.config
(see tfgancomp/deploy/savedmodel.py and BUILD_NOTES.md). --checkpoint
exports the latest checkpoint of a run that has not finished (or was
stopped).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# TensorFlow loads before absl parses flags, as in train/train.py.
import tensorflow as tf  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from tfgancomp.deploy import resolve, savedmodel  # noqa: E402
from tfgancomp.errors import TfgancompError  # noqa: E402
from tfgancomp.training.checkpoints import latest_codec  # noqa: E402
from tfgancomp.training.flags import one_line_parser  # noqa: E402

flags.DEFINE_string("model_dir", None,
                    "Model to export: a run of train/train.py, its model/, "
                    "another export or a shipped model's name.",
                    required=True)
flags.DEFINE_string("export_dir", None,
                    "Where encoder/VERSION/, decoder/VERSION/ and "
                    "models.config go.", required=True)
flags.DEFINE_integer("version", 1, "Version number of this export.",
                     lower_bound=1)
flags.DEFINE_bool("force", False,
                  "Replace an existing version and models.config.")
flags.DEFINE_bool("checkpoint", False,
                  "Export the latest checkpoint of the run in --model_dir "
                  "instead of the model/ it writes when it ends.")
FLAGS = flags.FLAGS


def _size(path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(argv):
    if len(argv) > 1:
        sys.exit(f"export.py: error: unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    tf.get_logger().setLevel("ERROR")
    try:
        if FLAGS.checkpoint:
            codec, step = latest_codec(FLAGS.model_dir)
            print(f"latest checkpoint: step {step}")
        else:
            codec = resolve.load_codec(FLAGS.model_dir)
        written = savedmodel.export(codec, FLAGS.export_dir, FLAGS.version,
                                 force=FLAGS.force)
    except TfgancompError as e:
        sys.exit(f"export.py: error: {e}")
    except OSError as e:
        sys.exit(f"export.py: error: {e.strerror or e}"
                 + (f": {e.filename}" if e.filename else ""))
    print(f"model '{codec.model_name}' ({codec.fingerprint().hex()})")
    for side, path in written.items():
        print(f"{side}: {path} ({_size(path) / 1e6:.2f} MB)")
    print(f"TF Serving config: "
          f"{os.path.join(FLAGS.export_dir, savedmodel.MODELS_CONFIG)}")


if __name__ == "__main__":
    app.run(main, flags_parser=one_line_parser())
