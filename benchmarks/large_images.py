"""Peak memory and time of whole commands on large images, and what tiling
costs in rate and PSNR.

    python benchmarks/large_images.py [--megapixels 1,4,8,16,33]
        [--model default-mse] [--cost_photos 10] [--speed] [--hostile]
        [--json F]

Memory: for each size, a photo mosaic of that many megapixels (16:9) is
compressed and decompressed by `tfgancomp` in fresh processes, each of
which reports its own peak RSS (VmHWM); times are wall-clock. Cost:
sun_hays80 photos (about 1024×768, one tile by default) coded whole and in
tiles of 16 and 32 latents (256 and 512 pixels), many more tile edges than
a large photo has at the default 64. Speed: warm encode and decode time
per megapixel of a 1 Mpx photo, whole against tiled, in one process.
Hostile: a small real file whose
header claims 65535×2730 pixels (CRC recomputed), decoded with and without
`--max_pixels`.
"""

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from command_speed import SHARED, photo  # noqa: E402

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def mosaic(path: Path, megapixels: float) -> tuple[int, int]:
    """A 16:9 image of about `megapixels` made of sun_hays80 photos."""
    height = int(round((megapixels * 1e6 * 9 / 16) ** 0.5))
    width = int(round(height * 16 / 9))
    canvas = Image.new("RGB", (width, height))
    with tempfile.TemporaryDirectory() as work:
        index = 0
        for top in range(0, height, 512):
            for left in range(0, width, 768):
                canvas.paste(Image.open(photo(Path(work) / "p.png", index)),
                             (left, top))
                index += 1
    canvas.save(path)
    return height, width


# Runs the command in a child that reports its own peak RSS: wait4's
# ru_maxrss would include the RSS of this process, which the child
# inherits until it execs.
_MEASURED = """
import atexit, runpy, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            sys.stderr.write("VmHWM " + line.split()[1] + "\\n")
atexit.register(peak)
sys.argv = ["tfgancomp"] + sys.argv[1:]
runpy.run_module("tfgancomp", run_name="__main__")
"""


def run(arguments: list[str]) -> dict:
    """Wall time, peak RSS (MiB) and exit status of a `tfgancomp`
    command, and its last line of stderr."""
    start = time.perf_counter()
    child = subprocess.run([sys.executable, "-c", _MEASURED, *arguments],
                           env=ENV, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    lines = child.stderr.decode(errors="replace").strip().splitlines()
    peak = [int(line.split()[1]) for line in lines
            if line.startswith("VmHWM ")]
    messages = [line for line in lines if not line.startswith("VmHWM ")]
    return {"seconds": round(time.perf_counter() - start, 1),
            "peak_mib": round(peak[-1] / 1024) if peak else None,
            "exit": child.returncode, "stderr": messages[-1:]}


def memory(sizes, model: str, work: Path) -> list[dict]:
    rows = []
    for megapixels in sizes:
        source = work / f"{megapixels}.png"
        height, width = mosaic(source, megapixels)
        coded, back = work / f"{megapixels}.tfgc", work / f"{megapixels}b.png"
        encode = run(["compress", str(source), "-o", str(coded),
                       "--model", model, "--force"])
        decode = run(["decompress", str(coded), "-o", str(back), "--force"])
        pixels = height * width
        row = {"megapixels": round(pixels / 1e6, 1),
               "size": f"{width}x{height}",
               "bytes": coded.stat().st_size if coded.exists() else None,
               "compress": encode, "decompress": decode,
               "compress_s_per_mpx": round(encode["seconds"] * 1e6 / pixels,
                                           2),
               "decompress_s_per_mpx": round(
                   decode["seconds"] * 1e6 / pixels, 2)}
        rows.append(row)
        print(json.dumps(row), flush=True)
        for path in (source, coded, back):
            path.unlink(missing_ok=True)
    return rows


def speed(model_name: str, work: Path, repeats: int = 3) -> dict:
    """Warm seconds per megapixel of a 1 Mpx photo coded whole (today's
    path, forced by a tile larger than the image) and in tiles of the
    default size, alternating in one process."""
    import tfgancomp
    model = tfgancomp.load_model(model_name)
    source = work / "speed.png"
    mosaic(source, 1.0)
    image = np.asarray(Image.open(source).convert("RGB"))
    times = {"whole": [], "tiled": []}
    for repeat in range(repeats + 1):  # the first round traces
        for name, tile in (("whole", 65535), ("tiled", None)):
            start = time.perf_counter()
            data = tfgancomp.compress(image, model, tile=tile)
            middle = time.perf_counter()
            tfgancomp.decompress(data, model)
            if repeat:
                times[name].append((middle - start, time.perf_counter()
                                    - middle))
    megapixels = image.shape[0] * image.shape[1] / 1e6
    result = {name: {"compress_s_per_mpx": round(
                  float(np.median([t[0] for t in values])) / megapixels, 2),
                     "decompress_s_per_mpx": round(
                  float(np.median([t[1] for t in values])) / megapixels, 2)}
              for name, values in times.items()}
    print(json.dumps({"speed_1mpx": result}), flush=True)
    return result


def tiling_cost(model_name: str, photos: int) -> dict:
    """Mean relative rate and PSNR change of tiles against whole images."""
    import tfgancomp
    model = tfgancomp.load_model(model_name)
    sources = sorted((SHARED / "sun_hays80").glob("*.jpg"))[:photos]
    changes = {16: [], 32: []}
    for source in sources:
        image = np.asarray(Image.open(source).convert("RGB"))

        def coded(tile):
            data = tfgancomp.compress(image, model, tile=tile)
            back = np.asarray(tfgancomp.decompress(data, model), float)
            mse = np.mean((back - image) ** 2)
            return len(data), 10 * np.log10(255**2 / mse)

        size, psnr = coded(None)
        for tile in changes:
            tiled_size, tiled_psnr = coded(tile)
            changes[tile].append((tiled_size / size - 1, tiled_psnr - psnr))
    result = {"photos": len(sources)}
    for tile, values in changes.items():
        rate, psnr = np.mean(values, axis=0)
        result[f"tile_{tile}"] = {"rate_percent": round(100 * rate, 3),
                                  "psnr_db": round(psnr, 4),
                                  "worst_rate_percent": round(
                                      100 * max(v[0] for v in values), 3)}
    print(json.dumps(result), flush=True)
    return result


def hostile(model: str, work: Path) -> dict:
    """A 768×512 file whose header claims 65535×2730 pixels."""
    from tfgancomp.formats import bitstream
    source = photo(work / "small.png")
    coded = work / "small.tfgc"
    subprocess.run([sys.executable, "-m", "tfgancomp", "compress",
                    str(source), "-o", str(coded), "--model", model,
                    "--force"], env=ENV, check=True)
    container = bitstream.unpack(coded.read_bytes())
    crafted = work / "crafted.tfgc"
    crafted.write_bytes(bitstream.pack(dataclasses.replace(
        container, height=2730, width=65535)))
    decode = ["decompress", str(crafted), "-o", str(work / "crafted.png"),
              "--force"]
    result = {"unlimited": run(decode),
              "max_pixels_1e8": run(decode + ["--max_pixels", "100000000"])}
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", default="1,4,8,16,33")
    parser.add_argument("--model", default="default-mse")
    parser.add_argument("--cost_photos", type=int, default=10)
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--hostile", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        results = {"memory": memory(
            [float(m) for m in args.megapixels.split(",") if m], args.model,
            work)}
        if args.speed:
            results["speed_1mpx"] = speed(args.model, work)
        if args.cost_photos:
            results["tiling_cost"] = tiling_cost(args.model, args.cost_photos)
        if args.hostile:
            results["hostile"] = hostile(args.model, work)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
