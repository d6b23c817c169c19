"""Where the time of one `tfgancomp compress`/`decompress` goes, and how
encode and decode time grow with image size.

    python benchmarks/codec_speed.py --model runs/a [--sizes 128,256,512,1024]
        [--realism 0,1]

With `--realism`, a model with the realism knob decodes each image once
per realism, one column each.

Prints one table. Every figure comes from this one run, side by side; the
machines are noisy, so compare ratios within a run, not across runs.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def timed(fn, repeats=1):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--sizes", default="128,256,512,768,1024")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quality", type=float, default=0.5,
                        help="the quality of a variable-rate model")
    parser.add_argument("--realism", default=None,
                        help="comma-separated realism values to decode at")
    args = parser.parse_args()
    realisms = ([float(r) for r in args.realism.split(",")]
                if args.realism else [None])

    start = time.perf_counter()
    import tensorflow as tf  # noqa: F401
    import_seconds = time.perf_counter() - start
    import numpy as np

    import tfgancomp
    from tfgancomp import api
    from tfgancomp.formats import bitstream
    model, load_seconds = timed(lambda: tfgancomp.load_model(args.model))
    quality = args.quality if model.variable_rate else None
    rng = np.random.default_rng(0)
    first = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data, first_compress = timed(lambda: tfgancomp.compress(
        first, model, quality=quality))
    _, first_decompress = timed(lambda: tfgancomp.decompress(data, model))
    print(f"import tensorflow      {import_seconds:6.2f} s")
    print(f"load model             {load_seconds:6.2f} s")
    print(f"first compress (trace) {first_compress:6.2f} s")
    print(f"first decompress       {first_decompress:6.2f} s")
    print()
    decode_columns = "".join(
        f" {'decode ms' if r is None else f'dec r={r:g}':>10}"
        for r in realisms)
    print(f"{'size':>11} {'pixels':>9} {'encode ms':>10}{decode_columns} "
          f"{'ns/pixel enc':>13} {'ns/pixel dec':>13}")
    for side in map(int, args.sizes.split(",")):
        height, width = side * 2 // 3, side
        # A smooth image with texture, so that the coder has real work.
        yy, xx = np.mgrid[0:height, 0:width]
        image = (127 + 60 * np.sin(xx / 17.0)[..., None] *
                 np.cos(yy / 23.0)[..., None] +
                 rng.normal(0, 8, (height, width, 3)))
        image = np.clip(image, 0, 255).astype(np.uint8)
        data, encode = timed(lambda: tfgancomp.compress(
            image, model, quality=quality), args.repeats)
        container = bitstream.unpack(data)
        decodes = []
        for realism in realisms:
            _, decode = timed(lambda: api.decompress_container(
                container, model, realism=realism), args.repeats)
            decodes.append(decode)
        pixels = height * width
        decode_ms = "".join(f" {d * 1e3:>10.1f}" for d in decodes)
        print(f"{width:>5}x{height:<5} {pixels:>9} {encode * 1e3:>10.1f}"
              f"{decode_ms} {encode / pixels * 1e9:>13.1f} "
              f"{decodes[0] / pixels * 1e9:>13.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
