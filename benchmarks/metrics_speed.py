"""Seconds per call of the evaluation metrics, ours (NumPy) next to
TensorFlow's `tf.image.ssim_multiscale`, and how they grow with image size.

    python benchmarks/metrics_speed.py [--sizes 321x481,642x962] [--repeats 5]

Every figure comes from this one run, alternating the two in one process;
compare ratios within a run, not across runs.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="321x481,642x962")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from tfgancomp.evaluation import metrics

    spec = tf.TensorSpec([None, None, 3], tf.float32)
    reference = tf.function(
        lambda a, b: tf.image.ssim_multiscale(a, b, 255.),
        input_signature=[spec, spec])

    def theirs(a, b):
        return float(reference(a.astype(np.float32), b.astype(np.float32)))

    functions = {"ms_ssim (ours)": metrics.ms_ssim,
                 "ms_ssim (TensorFlow)": theirs,
                 "psnr": metrics.psnr, "detail_ratio": metrics.detail_ratio}
    rng = np.random.default_rng(0)
    print(f"{'size':>10}  " + "  ".join(f"{n:>20}" for n in functions))
    for size in args.sizes.split(","):
        height, width = map(int, size.split("x"))
        a = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        b = np.clip(a + rng.normal(0, 8, a.shape), 0, 255).astype(np.uint8)
        times = {name: [] for name in functions}
        for name, fn in functions.items():
            fn(a, b)  # warm
        for _ in range(args.repeats):
            for name, fn in functions.items():
                start = time.perf_counter()
                fn(a, b)
                times[name].append(time.perf_counter() - start)
        print(f"{size:>10}  " + "  ".join(
            f"{1000 * statistics.median(t):>17.1f} ms" for t in
            times.values()))
    ours, tf_value = metrics.ms_ssim(a, b), theirs(a, b)
    print(f"last pair: ours {ours:.6f}, TensorFlow {tf_value:.6f}")


if __name__ == "__main__":
    main()
