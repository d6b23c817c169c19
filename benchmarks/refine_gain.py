"""What encoder-side refinement buys: rate, PSNR, rate-distortion cost and
seconds per megapixel at each effort level, on the same images.

    python benchmarks/refine_gain.py [--model default-mse] \\
        [--images '../shared/data/bsds500/val/*.jpg'] [--count 3] \\
        [--efforts 0,1,2] [--learning_rate 2e-3] [--quality 0.3]

Every row comes from this one run (real files, decoded by the unchanged
decoder). A variable-rate model codes at `--quality` (the API's default
if not given) and its cost counts λ at that quality. Tune on held-out
photos, never on bsds500/test.
"""

import argparse
import glob
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default-mse")
    parser.add_argument("--images",
                        default="../shared/data/bsds500/val/*.jpg")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--efforts", default="0,1,2")
    parser.add_argument("--learning_rate", type=float)
    parser.add_argument("--quality", type=float)
    args = parser.parse_args()

    import numpy as np
    from PIL import Image

    import tfgancomp
    from tfgancomp.evaluation import metrics
    from tfgancomp.model import refine
    from tfgancomp.model.conditioning import lmbda_at
    if args.learning_rate:
        refine.LEARNING_RATE = args.learning_rate
    model = tfgancomp.load_model(args.model)
    images = [np.asarray(Image.open(p).convert("RGB"))
              for p in sorted(glob.glob(args.images))[:args.count]]
    quality = None
    if model.variable_rate:
        quality = (tfgancomp.api.DEFAULT_QUALITY if args.quality is None
                   else args.quality)
    lmbda = lmbda_at(tfgancomp.api.refinable(model).lmbda, quality)
    print(f"{args.model} (lambda {lmbda:.5g}"
          + ("" if quality is None else f" at quality {quality:g}")
          + f"), {len(images)} images, "
          f"learning rate {refine.LEARNING_RATE}")
    for effort in map(int, args.efforts.split(",")):
        rows = []
        for image in images:
            start = time.perf_counter()
            data = tfgancomp.compress(image, model, effort, quality=quality)
            seconds = time.perf_counter() - start
            decoded = np.asarray(tfgancomp.decompress(data, model))
            pixels = image.shape[0] * image.shape[1]
            bpp = metrics.bits_per_pixel(len(data), *image.shape[:2])
            mse = np.mean((image.astype(np.float64) - decoded) ** 2)
            rows.append((bpp, metrics.psnr(image, decoded),
                         bpp + lmbda * mse, seconds / pixels * 1e6))
        bpp, psnr, cost, seconds = np.mean(rows, axis=0)
        print(f"effort {effort} ({refine.steps_of(effort)} steps): "
              f"bpp {bpp:.4f}  PSNR {psnr:.3f} dB  cost {cost:.4f}  "
              f"{seconds:.1f} s/Mpx")


if __name__ == "__main__":
    main()
