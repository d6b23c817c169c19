"""The `tfgancomp` command end to end, and every user mistake it meets."""

import io
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from conftest import photo_like
from PIL import Image

from tfgancomp.cli import main
from tfgancomp.deploy import shipped
from tfgancomp.evaluation import metrics


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

    # Comparing two image files needs no TensorFlow: the command is quick.
    script = ("import sys; from tfgancomp.cli import main\n"
              "assert main(sys.argv[1:]) == 0\n"
              "assert 'tensorflow' not in sys.modules")
    result = subprocess.run(
        [sys.executable, "-c", script, "compare", tmp_path / "a.png",
         tmp_path / "a.jpg"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


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
    code, _, err = run(capsys, "compress", photo)  # the default model
    assert code == 0, err
    code, _, err = run(capsys, "compress", photo)
    assert_user_error(code, err, "already exists")
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


@pytest.fixture
def three_images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i, (h, w) in enumerate([(64, 72), (80, 64), (168, 176)]):
        Image.fromarray(photo_like(h, w, seed=20 + i)).save(
            folder / f"{i}.png")
    return folder


def test_evaluate_writes_json_csv_and_plot(capsys, tmp_path, three_images):
    import csv

    from tfgancomp.evaluation.reports import RECORD_FIELDS
    paths = [tmp_path / name for name in ("rd.json", "rd.csv", "rd.png")]
    code, out, err = run(capsys, "evaluate", "--images", three_images,
                         "--codecs", "jpeg-420,webp", "--json", paths[0],
                         "--csv", paths[1], "--plot", paths[2])
    assert code == 0, err
    document = json.loads(paths[0].read_text())
    assert len(document["images"]) == 3
    assert [c["name"] for c in document["codecs"]] == ["jpeg-420", "webp"]
    assert len(document["records"]) == 3 * 18
    assert set(document["records"][0]) == set(RECORD_FIELDS)
    assert set(document["means"][0]) == {
        "codec", "setting", "images", "bpp", "psnr", "ms_ssim",
        "detail_ratio", "lattice_share", "encode_ms", "decode_ms"}
    assert {(e["test"], e["anchor"]) for e in document["bd"]} == {
        ("webp", "jpeg-420"), ("jpeg-420", "webp")}
    with open(paths[1], newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == RECORD_FIELDS and len(rows) == 3 * 18
    assert Image.open(paths[2]).format == "PNG"
    assert "means per setting" in out and "BD-rate vs anchor" in out
    assert "BD-rate vs anchor (%) within 0.1–1 bpp" in out
    assert f"wrote {paths[2]}" in out
    assert "evaluate 54/54 (100%)" in err and "error" not in err


def test_evaluate_with_a_model(capsys, tmp_path, three_images,
                               trained_model_dir):
    target = tmp_path / "rd.csv"
    twice = f"{trained_model_dir},{trained_model_dir}"
    code, out, err = run(capsys, "evaluate", "--images", three_images,
                         "--codecs", "jpeg-420", "--csv", target,
                         "--models", twice)
    assert code == 0, err
    rows = target.read_text().splitlines()
    assert rows[0].endswith(",bits_saved_vs_jpeg-420")
    assert len(rows) == 1 + 3 * 9 + 3  # one model, named twice
    # The curve of a lone fixed-rate model is named after it.
    assert sum(f",{trained_model_dir},model={trained_model_dir}," in r
               for r in rows) == 3
    assert "bits saved at equal PSNR" in out
    assert (f"n/a: {trained_model_dir} vs jpeg-420: needs 2 or more points"
            in out)


def test_evaluate_reports_what_is_missing(capsys, tmp_path, three_images,
                                          monkeypatch):
    from tfgancomp.evaluation import classical

    def no_plugin():
        raise ImportError("No module named 'pillow_jxl'")
    monkeypatch.setattr(classical, "_import_jxl", no_plugin)
    target = tmp_path / "rd.json"
    code, _, err = run(capsys, "evaluate", "--images", three_images / "0.png",
                       "--codecs", "jpeg-420,jpegxl", "--json", target)
    assert code == 0
    assert "note: jpegxl skipped: needs pillow-jxl-plugin" in err
    assert "tfgancomp[jxl]" in json.loads(target.read_text())[
        "unavailable"]["jpegxl"]
    code, _, err = run(capsys, "evaluate", "--images", three_images,
                       "--codecs", "jpegxl")
    assert_user_error(code, err, "nothing to evaluate", "pillow-jxl-plugin")

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = run(capsys, "evaluate", "--images", three_images,
                       "--codecs", "webp", "--json", tmp_path / "new.json",
                       "--plot", tmp_path / "rd.png")
    assert_user_error(code, err, "--plot needs matplotlib",
                      "pip install 'tfgancomp[plot]'")
    assert not (tmp_path / "new.json").exists()


def test_evaluate_user_mistakes(capsys, tmp_path, three_images):
    def evaluate(*args):
        return run(capsys, "evaluate", "--codecs", "jpeg-420", *args)
    code, _, err = evaluate("--images", tmp_path / "missing")
    assert_user_error(code, err, "no files match", "missing")
    (tmp_path / "empty").mkdir()
    code, _, err = evaluate("--images", tmp_path / "empty")
    assert_user_error(code, err, "no image files")
    code, _, err = run(capsys, "evaluate", "--images", three_images,
                       "--codecs", "jpeg,gif")
    assert_user_error(code, err, "unknown codec 'gif'")
    existing = tmp_path / "rd.json"
    existing.write_text("precious")
    code, _, err = evaluate("--images", three_images, "--json", existing)
    assert_user_error(code, err, "already exists", "--force")
    assert existing.read_text() == "precious"
    code, _, err = evaluate("--images", three_images, "--csv",
                            tmp_path / "nowhere" / "rd.csv")
    assert_user_error(code, err, "does not exist")
    code, _, err = evaluate("--images", three_images, "--fid_weights",
                            tmp_path / "inception.h5")
    assert_user_error(code, err, "InceptionV3 weights not found")
    code, _, err = evaluate("--images", three_images, "--fid_patch", "0")
    assert_user_error(code, err, "--fid_patch")
    for window in ("1,0.1", "0,1", "0.1", "a,b"):
        with pytest.raises(SystemExit) as exit_info:
            evaluate("--images", three_images, "--bd_window", window)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and err.count("\n") == 1
        assert "argument --bd_window" in err
    code, _, err = evaluate("--images", three_images, "--models",
                            tmp_path / "no_model")
    assert_user_error(code, err, "model not found")
    code, _, err = evaluate("--images", three_images, "--json", existing,
                            "--force")
    assert code == 0 and json.loads(existing.read_text())["records"]


def _table(out):
    """Rows of the table compare-codecs prints: name -> (bytes, bpp)."""
    rows = {}
    for line in out.splitlines()[1:]:
        if line.startswith("wrote"):
            break
        name, _, size, bpp = line.split()[:4]
        rows[name] = int(size), float(bpp)
    return rows


def test_compare_codecs(capsys, tmp_path, three_images, trained_model_dir):
    image = three_images / "2.png"
    output = tmp_path / "side.png"
    code, out, err = run(capsys, "compare-codecs", image, "--bpp", "0.8",
                         "--codecs", "jpeg,webp", "-o", output)
    assert code == 0, err
    picture = Image.open(output)
    assert picture.format == "PNG"
    assert picture.width == 4 * (176 + 6) + 6  # original + 3 codecs
    rows = _table(out)
    assert list(rows) == ["jpeg-420", "jpeg-444", "webp"]
    assert [bpp for _, bpp in rows.values()] == pytest.approx([0.8] * 3,
                                                              rel=0.05)

    output = tmp_path / "with_model.png"
    keep = tmp_path / "files"
    keep.mkdir()
    code, out, err = run(capsys, "compare-codecs", image, "--model",
                         trained_model_dir, "--codecs", "webp", "--crop",
                         "64", "-o", output, "--keep", keep)
    assert code == 0, err
    rows = _table(out)
    assert list(rows) == [str(trained_model_dir), "webp"]
    (model_bytes, model_bpp), (webp_bytes, webp_bpp) = rows.values()
    assert webp_bpp == pytest.approx(model_bpp, rel=0.05)
    assert Image.open(output).size[0] == 3 * (64 + 6) + 6
    # The files kept are the ones measured, and decode to their PNGs.
    coded = keep / f"2.{trained_model_dir.name}.tfgc"
    assert sorted(p.name for p in keep.iterdir()) == sorted([
        coded.name, f"2.{trained_model_dir.name}.png", "2.webp.webp",
        "2.webp.png"])
    assert (keep / "2.webp.webp").stat().st_size == webp_bytes
    assert coded.stat().st_size == model_bytes
    code, _, err = run(capsys, "decompress", coded, "-o", tmp_path / "d.png",
                       "--model", trained_model_dir)
    assert code == 0, err
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "d.png")),
        np.asarray(Image.open(keep / f"2.{trained_model_dir.name}.png")))


def test_compare_codecs_user_mistakes(capsys, tmp_path, three_images):
    image = three_images / "0.png"
    output = tmp_path / "side.png"
    for bad in ("-1", "0", "nan", "100"):
        code, _, err = run(capsys, "compare-codecs", image, "--bpp", bad,
                           "-o", output)
        assert_user_error(code, err, "--bpp")
    with pytest.raises(SystemExit) as exit_info:
        main(["compare-codecs", str(image), "--bpp", "lots", "-o",
              str(output)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
    output.write_text("precious")
    code, _, err = run(capsys, "compare-codecs", image, "--bpp", "1", "-o",
                       output)
    assert_user_error(code, err, "already exists")
    code, _, err = run(capsys, "compare-codecs", tmp_path / "nope.png",
                       "--bpp", "1", "-o", tmp_path / "x.png")
    assert_user_error(code, err, "nope.png")


def test_compare_codecs_uses_the_default_model(capsys, tmp_path,
                                               three_images):
    output = tmp_path / "side.png"
    code, out, err = run(capsys, "compare-codecs", three_images / "0.png",
                         "--codecs", "webp", "-o", output)
    assert code == 0, err
    assert list(_table(out)) == [shipped.DEFAULT_MODEL, "webp"]


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i, (h, w) in enumerate([(40, 48), (24, 72), (33, 20)]):
        Image.fromarray(photo_like(h, w, seed=30 + i)).save(
            folder / f"p{i}.png")
    (folder / "broken.png").write_text("not an image")
    return folder


@pytest.fixture
def count_loads(monkeypatch):
    from tfgancomp.cli import common
    loads = []

    def counting(model):
        loads.append(model)
        return load(model)
    load = common.load_model
    monkeypatch.setattr(common, "load_model", counting)
    return loads


def test_many_files_per_command(capsys, tmp_path, photos, trained_model_dir,
                                count_loads):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    inputs = [photos / "p0.png", photos / "broken.png", photos / "p1.png",
              photos / "p2.png"]
    code, out, err = run(capsys, "compress", *inputs, "-o", out_dir,
                         "--model", trained_model_dir)
    assert code == 1  # one failed, the others went on
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "p0.tfgc", "p1.tfgc", "p2.tfgc"]
    assert out.count(" -> ") == 3
    assert err.splitlines() == [
        f"tfgancomp: error: {photos / 'broken.png'} is not an image Pillow "
        "can read",
        "tfgancomp: error: 1 of 4 files failed (compress: 3 of 4 files in "
        + err.split("files in ")[1].split("\n")[0]]
    assert len(count_loads) == 1  # one model load for all files

    coded = sorted(out_dir.glob("*.tfgc"))
    code, out, err = run(capsys, "decompress", *coded, "-o", out_dir,
                         "--model", trained_model_dir)
    assert code == 0, err
    assert "decompress: 3 of 3 files in" in out.splitlines()[-1]
    assert len(count_loads) == 2
    for i, (h, w) in enumerate([(40, 48), (24, 72), (33, 20)]):
        assert np.asarray(Image.open(out_dir / f"p{i}.png")).shape == (
            h, w, 3)
    # Without -o, each output goes beside its input; existing ones fail
    # one by one.
    code, out, err = run(capsys, "decompress", *coded, "--model",
                         trained_model_dir)
    assert code == 1 and "3 of 3 files failed" in err
    assert err.count("already exists") == 3

    code, out, err = run(capsys, "info", *coded, photos / "p0.png")
    assert code == 1
    assert out.splitlines()[0].split()[:3] == ["file", "bytes", "bpp"]
    assert len(out.splitlines()) == 4
    assert "not a .tfgc file" in err and "1 of 4 files failed" in err
    code, out, _ = run(capsys, "info", *coded, "--json")
    rows = json.loads(out)
    assert [r["width"] for r in rows] == [48, 72, 20]
    assert {r["format_version"] for r in rows} == {1}


def test_many_inputs_need_a_directory(capsys, tmp_path, photos):
    code, _, err = run(capsys, "compress", photos / "p0.png",
                       photos / "p1.png", "-o", tmp_path / "x.tfgc")
    assert_user_error(code, err, "-o must be an existing directory")
    code, _, err = run(capsys, "compress", photos / "p0.png",
                       photos / "p1.png", "-o", "-")
    assert_user_error(code, err, "not standard output")
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(photo_like(8, 8)).save(other / "p0.jpg")
    code, _, err = run(capsys, "compress", photos / "p0.png",
                       other / "p0.jpg", "-o", tmp_path)
    assert_user_error(code, err, "would both be written to")
    code, _, err = run(capsys, "compress", "-", photos / "p0.png")
    assert_user_error(code, err, "only input")


def _stdin(monkeypatch, data: bytes):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_standard_input_and_output(capsysbinary, monkeypatch, photos,
                                   tmp_path, trained_model_dir):
    _stdin(monkeypatch, (photos / "p0.png").read_bytes())
    assert main(["compress", "-", "--model", str(trained_model_dir)]) == 0
    coded, err = capsysbinary.readouterr()
    assert coded[:4] == b"TFGC" and b"(stdin) -> (stdout)" in err
    _stdin(monkeypatch, coded)
    assert main(["decompress", "-", "-o", "-", "--format", "webp",
                 "--model", str(trained_model_dir)]) == 0
    image, err = capsysbinary.readouterr()
    assert Image.open(io.BytesIO(image)).format == "WEBP"
    assert Image.open(io.BytesIO(image)).size == (48, 40)
    _stdin(monkeypatch, coded)
    assert main(["info", "-", "--json"]) == 0
    assert json.loads(capsysbinary.readouterr()[0])["file"] == "(stdin)"
    # A named file to standard output, and standard input to a file.
    assert main(["compress", str(photos / "p1.png"), "-o", "-", "--model",
                 str(trained_model_dir)]) == 0
    assert capsysbinary.readouterr()[0][:4] == b"TFGC"
    _stdin(monkeypatch, coded)
    target = tmp_path / "from_stdin.png"
    assert main(["decompress", "-", "-o", str(target), "--model",
                 str(trained_model_dir)]) == 0
    assert Image.open(target).size == (48, 40)
    assert main(["decompress", "-", "-o", str(target), "--format", "png",
                 "--model", str(trained_model_dir)]) == 1
    assert b"--format applies" in capsysbinary.readouterr()[1]


def _resized_header(data: bytes, height: int, width: int) -> bytes:
    body = bytearray(data[:-4])
    struct.pack_into(">HH", body, 6, height, width)
    return bytes(body) + struct.pack(">I", zlib.crc32(bytes(body)))


def test_max_pixels(capsys, tmp_path, photos, trained_model_dir):
    code, _, err = run(capsys, "compress", photos / "p0.png", "--max_pixels",
                       "1000", "--model", trained_model_dir)
    assert_user_error(code, err, "48x40 = 1920 pixels exceeds the limit "
                                 "of 1000")
    assert not (photos / "p0.tfgc").exists()
    code, _, err = run(capsys, "compress", photos / "p0.png", "--max_pixels",
                       "1920", "--model", trained_model_dir)
    assert code == 0, err
    crafted = tmp_path / "crafted.tfgc"
    crafted.write_bytes(_resized_header(
        (photos / "p0.tfgc").read_bytes(), 65535, 2730))
    code, _, err = run(capsys, "info", crafted)
    assert code == 0  # a valid header: only a limit refuses it
    code, _, err = run(capsys, "decompress", crafted, "--max_pixels",
                       "50000000", "--model", trained_model_dir)
    assert_user_error(code, err, "2730x65535", "exceeds the limit")
    with pytest.raises(SystemExit):
        main(["decompress", str(crafted), "--max_pixels", "0"])
    assert "positive integer" in capsys.readouterr().err


def test_progress_bar_only_on_a_terminal():
    from tfgancomp.cli.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    pipe = io.StringIO()
    silent = Progress("x", stream=pipe, terminal_only=True)
    silent(1, 2)
    assert pipe.getvalue() == ""
    terminal, lines = Terminal(), io.StringIO()
    bar = Progress("compress", stream=terminal, terminal_only=True)
    bar(1, 2)
    bar.message("a.png -> a.tfgc", lines)
    assert lines.getvalue() == "a.png -> a.tfgc\n"
    assert terminal.getvalue().count("compress 1/2") == 2  # redrawn
    assert "\r\033[K" in terminal.getvalue()
