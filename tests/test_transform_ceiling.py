"""scripts/transform_ceiling.py: coded PSNR against the transforms' own."""

import subprocess
import sys
from pathlib import Path

SCRIPT = (Path(__file__).resolve().parents[1] / "scripts" /
          "transform_ceiling.py")


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args],
                          capture_output=True, text=True, timeout=300)


def test_the_ceiling_is_above_what_the_file_gives(trained_model_dir,
                                                  image_folder):
    result = _run("--model", str(trained_model_dir),
                  "--images", str(image_folder / "[01].png"))
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()[-2:]
    assert header.split() == ["quality", "bpp", "coded", "dB", "ceiling",
                              "dB"]
    quality, bpp, coded, ceiling = row.split()
    assert quality == "-" and float(bpp) > 0
    assert float(ceiling) > float(coded) > 10


def test_no_photos_is_a_clear_error(tmp_path):
    result = _run("--images", str(tmp_path / "*.png"))
    assert result.returncode != 0
    assert "no file matches" in result.stderr
    assert "Traceback" not in result.stderr
