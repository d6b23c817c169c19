"""Wall time of whole `tfgancomp compress` and `decompress` commands.

    python benchmarks/command_speed.py [--model default-gan] [--repeats 3]

What a user waits for: each command in a fresh process, on a 768×512
photo (a sun_hays80 photo from ../shared/data when present, else a
generated image), next to `python -c "import tensorflow"`, the floor any
TensorFlow command pays. The three alternate so that they see the same
machine load; the table gives medians and the ratios to that floor.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def photo(path: Path) -> Path:
    """A 768×512 photo written to `path`."""
    sources = sorted((SHARED / "sun_hays80").glob("*.jpg"))
    if sources:
        image = Image.open(sources[0]).convert("RGB")
        image = image.resize((768, 512), Image.Resampling.LANCZOS)
    else:
        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:512, 0:768]
        pixels = 127 + 60 * np.sin(xx / 17.0) * np.cos(yy / 23.0)
        pixels = pixels[..., None] + rng.normal(0, 8, (512, 768, 3))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    image.save(path)
    return path


def timed(command: list[str]) -> float:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default-gan")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tool = str(Path(sys.executable).with_name("tfgancomp"))
    with tempfile.TemporaryDirectory() as work:
        source = photo(Path(work) / "photo.png")
        coded, decoded = Path(work) / "photo.tfgc", Path(work) / "back.png"
        commands = {
            "import tensorflow": [sys.executable, "-c",
                                  "import tensorflow"],
            "tfgancomp compress": [tool, "compress", str(source), "-o",
                                   str(coded), "--model", args.model,
                                   "--force"],
            "tfgancomp decompress": [tool, "decompress", str(coded), "-o",
                                     str(decoded), "--model", args.model,
                                     "--force"],
        }
        times = {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, command in commands.items():
                times[name].append(timed(command))
        size = coded.stat().st_size
    floor = statistics.median(times["import tensorflow"])
    print(f"768x512 photo, model {args.model}: {size} bytes "
          f"({8 * size / (768 * 512):.3f} bpp); medians of {args.repeats}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:22s} {median:6.2f} s  ({median / floor:.2f}x the "
              "import)")


if __name__ == "__main__":
    main()
