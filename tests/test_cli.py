"""The `tfgancomp` command end to end, and every user mistake it meets."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import photo_like
from PIL import Image

from tfgancomp import metrics
from tfgancomp.cli import main


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(photo_like(72, 100, seed=4)).save(path)
    return path


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code, err, *words):
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("tfgancomp: error:"), err
    for word in words:
        assert word in err


def test_compress_info_decompress_compare(capsys, photo, trained_model_dir):
    code, out, _ = run(capsys, "compress", photo, "--model", trained_model_dir)
    assert code == 0
    packed = photo.with_suffix(".tfgc")
    size = packed.stat().st_size
    assert f"{size} bytes" in out and "bpp" in out

    code, out, _ = run(capsys, "info", packed, "--json")
    info = json.loads(out)
    assert code == 0
    assert (info["width"], info["height"], info["bytes"]) == (100, 72, size)
    assert info["model_name"] == "tiny"
    assert info["bpp"] == pytest.approx(8 * size / 7200)

    output = photo.parent / "decoded.png"
    code, out, _ = run(capsys, "decompress", packed, "-o", output,
                       "--model", trained_model_dir)
    assert code == 0
    decoded = np.asarray(Image.open(output))
    assert decoded.shape == (72, 100, 3)

    code, out, _ = run(capsys, "compare", photo, output, "--json")
    values = json.loads(out)
    original = np.asarray(Image.open(photo))
    assert values["psnr"] == pytest.approx(metrics.psnr(original, decoded))
    assert values["ms_ssim"] is None  # smaller than 161 px
    assert "bpp" not in values  # a PNG is not a compressed rendition

    code, out, _ = run(capsys, "compare", photo, packed, "--json",
                       "--model", trained_model_dir)
    values = json.loads(out)
    assert values["psnr"] == pytest.approx(metrics.psnr(original, decoded))
    assert values["bpp"] == pytest.approx(8 * size / 7200)
    assert values["ratio_vs_raw"] == pytest.approx(7200 * 3 / size)


def test_compare_of_two_images(capsys, tmp_path):
    a = photo_like(200, 170, seed=1)
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(a).save(tmp_path / "a.jpg", quality=50)
    code, out, _ = run(capsys, "compare", tmp_path / "a.png",
                       tmp_path / "a.jpg")
    assert code == 0
    assert "ms ssim" in out and "ratio vs raw" in out


def test_never_overwrites_without_force(capsys, photo, trained_model_dir):
    target = photo.with_suffix(".tfgc")
    target.write_bytes(b"precious")
    code, _, err = run(capsys, "compress", photo, "--model",
                       trained_model_dir)
    assert_user_error(code, err, "already exists", "--force")
    assert target.read_bytes() == b"precious"
    code, _, _ = run(capsys, "compress", photo, "--model", trained_model_dir,
                     "--force")
    assert code == 0 and target.read_bytes()[:4] == b"TFGC"
    # decompress would write photo.png, the original: refused.
    before = photo.read_bytes()
    code, _, err = run(capsys, "decompress", target, "--model",
                       trained_model_dir)
    assert_user_error(code, err, "photo.png", "already exists")
    assert photo.read_bytes() == before


def test_user_mistakes(capsys, tmp_path, photo, trained_model_dir):
    (tmp_path / "text.txt").write_text("hello")
    code, _, err = run(capsys, "compress", tmp_path / "missing.png",
                       "--model", trained_model_dir)
    assert_user_error(code, err, "missing.png")
    code, _, err = run(capsys, "compress", tmp_path / "text.txt",
                       "--model", trained_model_dir)
    assert_user_error(code, err, "not an image")
    code, _, err = run(capsys, "compress", photo, "--model",
                       tmp_path / "nope")
    assert_user_error(code, err, "model not found")
    code, _, err = run(capsys, "compress", photo, "--model", tmp_path)
    assert_user_error(code, err, "not a tfgancomp model")
    code, _, err = run(capsys, "compress", photo)
    assert_user_error(code, err, "--model")
    code, _, err = run(capsys, "decompress", tmp_path / "text.txt",
                       "--model", trained_model_dir)
    assert_user_error(code, err, "not a .tfgc file")
    code, _, err = run(capsys, "info", tmp_path / "missing.tfgc")
    assert_user_error(code, err, "no such file")
    code, _, err = run(capsys, "compare", photo, tmp_path / "text.txt")
    assert_user_error(code, err, "not an image")


def test_corrupted_file_and_bad_output_extension(capsys, photo,
                                                 trained_model_dir):
    run(capsys, "compress", photo, "--model", trained_model_dir)
    packed = photo.with_suffix(".tfgc")
    code, _, err = run(capsys, "decompress", packed, "-o", "out.xyz",
                       "--model", trained_model_dir)
    assert_user_error(code, err, ".xyz")
    data = bytearray(packed.read_bytes())
    data[len(data) // 2] ^= 0x40
    packed.write_bytes(bytes(data))
    code, _, err = run(capsys, "decompress", packed, "-o",
                       photo.parent / "out.png", "--model", trained_model_dir)
    assert_user_error(code, err, "corrupted")
    assert not (photo.parent / "out.png").exists()
    code, _, err = run(capsys, "info", packed)
    assert_user_error(code, err, "corrupted")


def test_bad_flags_give_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compress"])
    _, err = capsys.readouterr()
    assert exit_info.value.code == 2 and err.count("\n") == 1
    with pytest.raises(SystemExit):
        main(["frobnicate"])
    assert capsys.readouterr().err.count("\n") == 1


def test_console_script_in_a_real_process(tmp_path):
    """No traceback from the installed entry point on a corrupted file."""
    (tmp_path / "bad.tfgc").write_bytes(b"TFGC" + bytes(40))
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    result = subprocess.run(
        [sys.executable, "-m", "tfgancomp", "info", tmp_path / "bad.tfgc"],
        capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("tfgancomp: error:")
    assert "Traceback" not in result.stderr
