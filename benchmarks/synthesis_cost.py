"""What stage blocks (`--stage_blocks`) cost the synthesis transform, next
to the synthesis without them, and how that grows with image size.

    python benchmarks/synthesis_cost.py [--variants 'none;96;96,96;96,96,32']
        [--sizes 481,1024] [--repeats 15] [--num_filters 96]
        [--latent_channels 128]

Each variant is `ModelConfig.stage_blocks` ('none': no blocks), built with the
package's own `SynthesisTransform` (random weights, realism off) and traced
once; the variants then take turns, one call each per round, so that the
load of this shared machine hits all of them alike. The table gives the
median milliseconds per call and the ratio to the first variant.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="none;96;96,96;96,96,32;0,96,48")
    parser.add_argument("--sizes", default="481,1024",
                        help="image widths (heights 2/3 of them)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--num_filters", type=int, default=96)
    parser.add_argument("--latent_channels", type=int, default=128)
    args = parser.parse_args()

    import tensorflow as tf

    from tfgancomp.model.config import ModelConfig
    from tfgancomp.model.geometry import ceil_div
    from tfgancomp.model.transforms import SynthesisTransform

    names = args.variants.split(";")
    calls = []
    for name in names:
        blocks = () if name == "none" else tuple(map(int, name.split(",")))
        config = ModelConfig(num_filters=args.num_filters,
                             latent_channels=args.latent_channels,
                             stage_blocks=blocks)
        calls.append(tf.function(SynthesisTransform(config)))
    print(f"{'size':>11} {'stage blocks':>14} {'ms':>8} {'×':>6}")
    for width in map(int, args.sizes.split(",")):
        height = width * 2 // 3
        stride = config.latent_stride
        y = tf.random.normal([1, ceil_div(height, stride),
                              ceil_div(width, stride), args.latent_channels])
        for call in calls:
            call(y)  # trace
        times = [[] for _ in calls]
        for _ in range(args.repeats):
            for call, spent in zip(calls, times):
                start = time.perf_counter()
                call(y).numpy()
                spent.append(time.perf_counter() - start)
        medians = [statistics.median(t) * 1e3 for t in times]
        for name, ms in zip(names, medians):
            print(f"{width:>5}x{height:<5} {name:>14} {ms:>8.1f} "
                  f"{ms / medians[0]:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
