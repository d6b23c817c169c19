"""Wall time of whole `tfgancomp compress` and `decompress` commands.

    python benchmarks/command_speed.py [--model default-gan] [--repeats 3]
                                       [--files 8]

What a user waits for: each command in a fresh process, on a 768×512
photo (a sun_hays80 photo from ../shared/data when present, else a
generated image), next to `python -c "import tensorflow"`, the floor any
TensorFlow command pays. The three alternate so that they see the same
machine load; the table gives medians and the ratios to that floor.

Then N files (`--files`, 0 to skip) of 768×512: one command for all of
them (`tfgancomp compress a.png b.png … -o DIR`, which imports TensorFlow
and loads the model once) against N commands of one file each, for
compress and decompress, alternating, medians of `--repeats`.
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


def photo(path: Path, index: int = 0) -> Path:
    """A 768×512 photo written to `path`: the index-th of sun_hays80."""
    sources = sorted((SHARED / "sun_hays80").glob("*.jpg"))
    if sources:
        image = Image.open(sources[index % len(sources)]).convert("RGB")
        image = image.resize((768, 512), Image.Resampling.LANCZOS)
    else:
        rng = np.random.default_rng(index)
        yy, xx = np.mgrid[0:512, 0:768]
        pixels = 127 + 60 * np.sin(xx / (17.0 + index)) * np.cos(yy / 23.0)
        pixels = pixels[..., None] + rng.normal(0, 8, (512, 768, 3))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    image.save(path)
    return path


def timed(command: list[str]) -> float:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def single_commands(tool: str, model: str, repeats: int, work: Path):
    source = photo(work / "photo.png")
    coded, decoded = work / "photo.tfgc", work / "back.png"
    commands = {
        "import tensorflow": [sys.executable, "-c", "import tensorflow"],
        "tfgancomp compress": [tool, "compress", str(source), "-o",
                               str(coded), "--model", model, "--force"],
        "tfgancomp decompress": [tool, "decompress", str(coded), "-o",
                                 str(decoded), "--model", model, "--force"],
    }
    times = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            times[name].append(timed(command))
    size = coded.stat().st_size
    floor = statistics.median(times["import tensorflow"])
    print(f"768x512 photo, model {model}: {size} bytes "
          f"({8 * size / (768 * 512):.3f} bpp); medians of {repeats}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:22s} {median:6.2f} s  ({median / floor:.2f}x the "
              "import)")


def many_files(tool: str, model: str, repeats: int, count: int, work: Path):
    images = [photo(work / f"p{i}.png", i) for i in range(count)]
    out = work / "out"
    out.mkdir()
    coded = [out / p.with_suffix(".tfgc").name for p in images]
    decoded = [work / f"back{i}.png" for i in range(count)]
    base = ["--model", model, "--force"]

    def one_command(verb, inputs):
        return timed([tool, verb, *map(str, inputs), "-o", str(out), *base])

    def separate(verb, inputs, outputs):
        return sum(timed([tool, verb, str(i), "-o", str(o), *base])
                   for i, o in zip(inputs, outputs))
    times = {key: [] for key in ("compress one", "compress each",
                                 "decompress one", "decompress each")}
    for _ in range(repeats):
        times["compress one"].append(one_command("compress", images))
        times["compress each"].append(separate("compress", images, coded))
        times["decompress one"].append(one_command("decompress", coded))
        times["decompress each"].append(separate("decompress", coded,
                                                 decoded))
    print(f"\n{count} photos of 768x512, model {model}: one command for "
          f"all vs {count} commands; medians of {repeats}")
    for verb in ("compress", "decompress"):
        one = statistics.median(times[f"{verb} one"])
        each = statistics.median(times[f"{verb} each"])
        print(f"{verb:10s} one command {one:6.2f} s ({one / count:.2f} s "
              f"per file), {count} commands {each:6.2f} s "
              f"({each / count:.2f} s per file): {each / one:.1f}x faster")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default-gan")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--files", type=int, default=8, metavar="N",
                        help="N files in one command vs N commands (0: "
                             "skip)")
    parser.add_argument("--only_files", action="store_true",
                        help="skip the single-command table")
    args = parser.parse_args()
    tool = str(Path(sys.executable).with_name("tfgancomp"))
    with tempfile.TemporaryDirectory() as work:
        if not args.only_files:
            single_commands(tool, args.model, args.repeats, Path(work))
        if args.files:
            many_files(tool, args.model, args.repeats, args.files,
                       Path(work))


if __name__ == "__main__":
    main()
