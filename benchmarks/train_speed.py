"""Training steps per second, with and without the discriminator.

    python benchmarks/train_speed.py [--batch_size 8] [--patch_size 256]
        [--num_filters 128 --latent_channels 192 ...]

Both steps are timed in this one run on the same batches, after tracing;
the machines are noisy, so compare the ratio, not figures across runs.
"""

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--patch_size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--num_filters", type=int, default=128)
    parser.add_argument("--latent_channels", type=int, default=192)
    parser.add_argument("--hyper_filters", type=int, default=128)
    parser.add_argument("--hyper_channels", type=int, default=128)
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from tfgancomp.model.config import ModelConfig
    from tfgancomp.training.config import TrainConfig
    from tfgancomp.training.trainer import Trainer

    model = ModelConfig(num_filters=args.num_filters,
                        latent_channels=args.latent_channels,
                        hyper_filters=args.hyper_filters,
                        hyper_channels=args.hyper_channels)
    config = TrainConfig(gan_weight=0.1)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(size=(
        args.batch_size, args.patch_size, args.patch_size, 3)), tf.float32)
    with tempfile.TemporaryDirectory() as run:
        trainer = Trainer(run, model, config)
        print(f"model {model.num_filters}/{model.latent_channels}, batch "
              f"{args.batch_size}, patch {args.patch_size}", file=sys.stderr)
        for adversarial in (False, True):
            def step():
                return float(trainer.train_step(images, adversarial)["loss"])
            start = time.perf_counter()
            step()
            trace = time.perf_counter() - start
            step()
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            rate = args.steps / (time.perf_counter() - start)
            label = ("with discriminator" if adversarial
                     else "rate-distortion")
            print(f"{label:20s} {rate:6.3f} steps/s  "
                  f"(first step with tracing {trace:.1f} s)")


if __name__ == "__main__":
    main()
