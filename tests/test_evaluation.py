"""Evaluation runs, their summaries, and the reports written from them."""

import csv
import io
import json
import re
import sys

import numpy as np
import pytest
from conftest import photo_like
from PIL import Image

from tfgancomp.cli.progress import Progress
from tfgancomp.errors import TfgancompError
from tfgancomp.evaluation import (
    bjontegaard,
    classical,
    metrics,
    reports,
    runs,
    showcase,
)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval")
    for i, (h, w) in enumerate([(64, 80), (72, 64), (170, 176)]):
        Image.fromarray(photo_like(h, w, seed=10 + i)).save(
            folder / f"{i}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def _curves():
    """JPEG 4:2:0 and WebP on short sweeps, plus WebP at three other
    qualities posing as a curve of three models."""
    fake_models = runs.codec_curve(classical.CODECS["webp"],
                                         (30, 60, 85))
    fake_models = runs.Curve(
        runs.MODEL_CURVE, "three 'models'", False,
        [runs.Setting(f"model=m{i}", s.encode, s.decode)
         for i, s in enumerate(fake_models.settings)])
    return [runs.codec_curve(classical.CODECS["jpeg-420"],
                                   (10, 30, 50, 70, 90)),
            runs.codec_curve(classical.CODECS["webp"], (10, 40, 70,
                                                             90)),
            fake_models]


@pytest.fixture(scope="module")
def document(images):
    paths = runs.find_images(str(images))
    results = runs.run(paths, _curves())
    return runs.summarize(results, {"jpegxl": "missing here"})


def test_find_images(images, tmp_path):
    assert [p.name for p in runs.find_images(str(images))] == [
        "0.png", "1.png", "2.png"]
    assert len(runs.find_images(str(images / "[01].png"))) == 2
    with pytest.raises(TfgancompError, match="no files match"):
        runs.find_images(str(tmp_path / "nothing*.png"))
    with pytest.raises(TfgancompError, match="no image files"):
        runs.find_images(str(tmp_path))


def test_records_are_real_encodings(document, images):
    records = document["records"]
    assert len(records) == 3 * (5 + 4 + 3)
    first = records[0]
    original = np.asarray(Image.open(first["image"]))
    data = classical.encode(classical.CODECS["jpeg-420"], original, 10)
    decoded = classical.decode(classical.CODECS["jpeg-420"], data)
    assert (first["codec"], first["setting"]) == ("jpeg-420", "quality=10")
    assert first["bytes"] == len(data)
    assert first["bpp"] == 8 * len(data) / original[..., 0].size
    assert first["psnr"] == pytest.approx(metrics.psnr(original, decoded))
    assert first["ratio_vs_input_file"] == pytest.approx(
        (images / "0.png").stat().st_size / len(data))
    assert first["encode_ms"] > 0 and first["decode_ms"] > 0
    big = [r for r in records if r["image"].endswith("2.png")]
    assert all(r["ms_ssim"] is not None for r in big)
    assert all(r["ms_ssim"] is None for r in records if r not in big)


def test_means_per_setting(document):
    row = next(r for r in document["means"]
               if r["codec"] == "webp" and r["setting"] == "quality=40")
    chosen = [r for r in document["records"]
              if r["codec"] == "webp" and r["setting"] == "quality=40"]
    assert row["images"] == 3
    assert row["psnr"] == pytest.approx(np.mean([r["psnr"] for r in chosen]))
    assert row["ms_ssim"] == pytest.approx(chosen[2]["ms_ssim"])


def test_bd_table(document):
    entries = {(e["test"], e["anchor"]): e for e in document["bd"]}
    assert set(entries) == {("webp", "jpeg-420"), ("jpeg-420", "webp"),
                            ("tfgancomp", "jpeg-420"), ("tfgancomp", "webp")}
    means = document["means"]

    def curve(name):
        return zip(*[(r["bpp"], r["psnr"]) for r in means
                     if r["codec"] == name])
    entry = entries["tfgancomp", "jpeg-420"]
    assert entry["bd_rate_percent"] == pytest.approx(
        bjontegaard.bd_rate(*curve("jpeg-420"), *curve("tfgancomp")))
    assert entry["note"] is None
    assert document["bd_window_bpp"] == [0.1, 1.0]
    assert entry["bd_rate_window_percent"] == pytest.approx(
        bjontegaard.bd_rate(*curve("jpeg-420"), *curve("tfgancomp"),
                            window=(0.1, 1.0)))
    assert entry["bd_psnr_window_db"] == pytest.approx(
        bjontegaard.bd_psnr(*curve("jpeg-420"), *curve("tfgancomp"),
                            window=(0.1, 1.0)))
    # The same encoder on other settings: nearly the same curve.
    assert abs(entries["tfgancomp", "webp"]["bd_rate_percent"]) < 5


def test_bits_saved_per_image_and_averaged(document):
    entry = next(e for e in document["bits_saved"]
                 if e["model"] == "m1" and e["codec"] == "jpeg-420")
    mine = [r for r in document["records"] if r["setting"] == "model=m1"]
    per_image = []
    for record in mine:
        sweep = [(r["bpp"], r["psnr"]) for r in document["records"]
                 if r["codec"] == "jpeg-420" and r["image"] == record["image"]]
        rate = bjontegaard.rate_at_psnr(*zip(*sweep), record["psnr"])
        if rate is not None:
            per_image.append(record["bpp"] / rate)
            assert record["bits_saved_vs_jpeg-420"] == pytest.approx(
                100 * (1 - record["bpp"] / rate))
    assert entry["images_used"] == len(per_image) > 0
    assert entry["percent"] == pytest.approx(100 * (1 - np.mean(per_image)))


def test_single_model_gets_no_bd_rate_but_bits_saved(images):
    curves = _curves()
    curves[2].settings = curves[2].settings[1:2]
    document = runs.summarize(runs.run(
        runs.find_images(str(images)), curves), {})
    entry = next(e for e in document["bd"] if e["test"] == "tfgancomp")
    assert entry["bd_rate_percent"] is None
    assert "one per model" in entry["note"]
    assert len(document["bits_saved"]) == 2
    assert "n/a: tfgancomp vs jpeg-420" in reports.table(document)


def test_settings_of_one_key_share_each_image_s_file(images):
    """Two decoders of one encoding (a model at two realisms): one encode
    per image (and one untimed on the first), each decoded its own way."""
    webp = classical.CODECS["webp"]
    encodes = []

    def encode(rgb):
        encodes.append(rgb.shape)
        return classical.encode(webp, rgb, 50)

    def darker(data):
        return classical.decode(webp, data) // 2
    settings = [runs.Setting("model=m@r0", encode,
                             lambda data: classical.decode(webp, data), "k"),
                runs.Setting("model=m@r1", encode, darker, "k")]
    paths = runs.find_images(str(images))
    records = runs.run(paths, [runs.Curve("m", "", False, settings)]).records
    assert len(encodes) == len(paths) + 1
    for first, second in zip(records[::2], records[1::2]):
        assert first["bytes"] == second["bytes"]
        assert first["encode_ms"] == second["encode_ms"]
        assert first["psnr"] > second["psnr"]
    shown = showcase.at_one_rate(np.asarray(Image.open(paths[0])), 1,
                                 dict(zip("ab", settings)), [])
    assert len(encodes) == len(paths) + 3  # one more, and its untimed run
    assert shown[0].coded.data == shown[1].coded.data


def test_fid_and_kid_per_setting(images):
    """With a stand-in for InceptionV3 (patch colour statistics)."""
    def features(patches):
        return np.concatenate([patches.mean((1, 2)), patches.std((1, 2))],
                              axis=1)
    paths = runs.find_images(str(images))
    curve = runs.codec_curve(classical.CODECS["jpeg-420"], (10, 90))
    results = runs.run(paths, [curve], inception=features,
                             fid_patch=32)
    rows = runs.means(results)
    original = np.concatenate([features(metrics.image_patches(
        np.asarray(Image.open(p)), 32)) for p in paths])
    decoded = np.concatenate([features(metrics.image_patches(
        classical.decode(classical.CODECS["jpeg-420"], classical.encode(
            classical.CODECS["jpeg-420"], np.asarray(Image.open(p)), 10)),
        32)) for p in paths])
    assert rows[0]["fid"] == pytest.approx(metrics.fid(original, decoded))
    assert rows[0]["kid"] == pytest.approx(metrics.kid(original, decoded))
    assert rows[1]["fid"] < rows[0]["fid"]


def test_json_and_csv(document):
    data = json.loads(reports.to_json(document))
    assert set(data) == {"images", "codecs", "unavailable", "records",
                         "means", "bd_window_bpp", "bd", "bits_saved",
                         "seconds"}
    assert data["unavailable"] == {"jpegxl": "missing here"}
    assert set(data["bits_saved"][0]) == {
        "model", "codec", "percent", "mean_rate_ratio", "images_used",
        "images_total"}
    rows = list(csv.DictReader(io.StringIO(reports.to_csv(document)
                                           .decode())))
    assert list(rows[0]) == list(reports.RECORD_FIELDS) + [
        "bits_saved_vs_jpeg-420", "bits_saved_vs_webp"]
    assert len(rows) == len(document["records"])
    assert rows[0]["ms_ssim"] == "" and rows[0]["bits_saved_vs_webp"] == ""
    assert float(rows[0]["bpp"]) == document["records"][0]["bpp"]


def test_non_finite_values_become_null():
    assert json.loads(reports.to_json({"psnr": float("inf")})) == {
        "psnr": None}


def test_table(document):
    text = reports.table(document)
    assert re.search(r"\njpeg-420 +quality=10 +3 +0\.\d{4} +\d\d\.\d\d", text)
    assert "BD-rate vs anchor" in text and "bits saved at equal PSNR" in text
    assert "vs jpeg-420" in text


def test_plot_is_a_png(document):
    pytest.importorskip("matplotlib")
    image = Image.open(io.BytesIO(reports.rd_plot(document)))
    assert image.format == "PNG" and image.width > 600


def test_plot_without_matplotlib(document, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(TfgancompError, match=r"pip install 'tfgancomp\[plot"):
        reports.rd_plot(document)


def test_side_by_side():
    tiles = [(["original", "1x2"], photo_like(40, 60)),
             (["jpeg", "0.5 bpp"], photo_like(40, 60, seed=1))]
    image = Image.open(io.BytesIO(reports.side_by_side(tiles, crop=32)))
    assert image.format == "PNG"
    assert image.width == 2 * 32 + 3 * 6 and image.height > 32


class _Stream(io.StringIO):
    def __init__(self, terminal):
        super().__init__()
        self.terminal = terminal

    def isatty(self):
        return self.terminal


def test_progress_off_and_on_a_terminal():
    log = _Stream(False)
    progress = Progress("evaluate", log)
    for done in range(1, 201):
        progress(done, 200)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 11
    assert lines[-1].startswith("evaluate 200/200 (100%)")
    terminal = _Stream(True)
    progress = Progress("evaluate", terminal)
    for done in range(1, 4):
        progress(done, 3)
    assert terminal.getvalue().count("\r") == 3
    assert terminal.getvalue().endswith("left\n")
