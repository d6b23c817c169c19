"""What limits a model at each quality: the transforms or the coding.

    python scripts/transform_ceiling.py --model default \\
        --images '../shared/data/bsds500/test/*[05].jpg' [--qualities 0,0.5,1]

For each quality, the mean over the photos of the estimated bpp, the PSNR
of the coded latents (rounded, what a file gives) and the PSNR of the
latents decoded without quantization: the transforms' ceiling. Where the
two PSNRs meet, finer quantization cannot help; only better transforms
(more training at that rate, or more capacity) can.
"""

import argparse
import glob
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--images", required=True, help="a glob of photos")
    parser.add_argument("--qualities", default="0,0.25,0.5,0.75,1")
    args = parser.parse_args()
    paths = sorted(glob.glob(args.images))
    if not paths:
        sys.exit(f"transform_ceiling.py: error: no file matches "
                 f"{args.images}")

    import numpy as np

    from tfgancomp.deploy import resolve
    from tfgancomp.errors import TfgancompError
    from tfgancomp.evaluation.metrics import psnr
    from tfgancomp.formats.image_io import read_image
    try:
        codec = resolve.load_codec(args.model)
        photos = [read_image(p).rgb for p in paths]
    except (TfgancompError, OSError) as e:
        sys.exit(f"transform_ceiling.py: error: {e}")
    knobs = {"realism": 0.} if codec.has_realism else {}
    qualities = ([float(q) for q in args.qualities.split(",")]
                 if codec.variable_rate else [None])
    print(f"{args.model} on {len(photos)} photos")
    print(f"{'quality':>7} {'bpp':>7} {'coded dB':>9} {'ceiling dB':>11}")
    for quality in qualities:
        rows = []
        for photo in photos:
            x = photo[None].astype(np.float32) / 255.
            size = photo.shape[:2]
            forward = codec(x, quality=quality, **knobs)
            exact = codec.reconstruct(codec.analyze(x, quality), size,
                                      quality, **knobs)
            rows.append((
                float(forward.bits + forward.side_bits) / np.prod(size),
                psnr(photo, _pixels(forward.reconstruction)),
                psnr(photo, _pixels(exact))))
        bpp, coded, ceiling = np.mean(rows, axis=0)
        label = "-" if quality is None else f"{quality:g}"
        print(f"{label:>7} {bpp:>7.3f} {coded:>9.2f} {ceiling:>11.2f}")
    return 0


def _pixels(reconstruction):
    import numpy as np
    return np.clip(np.round(reconstruction[0].numpy() * 255.), 0,
                   255).astype(np.uint8)


if __name__ == "__main__":
    sys.exit(main())
