"""Image modes, ICC profiles and EXIF, through the codec and back."""

import io

import numpy as np
import pytest
from conftest import photo_like
from PIL import Image, ImageCms

import tfgancomp
from tfgancomp.errors import ImageError
from tfgancomp.formats.image_io import (
    encode_image,
    open_image_data,
    output_format,
    picture_from_pil,
    read_image,
)


def round_trip(image, model):
    return tfgancomp.decompress(tfgancomp.compress(image, model), model)


@pytest.mark.parametrize("mode, expected", [
    ("RGB", "RGB"), ("L", "L"), ("RGBA", "RGBA"), ("LA", "LA"),
    ("1", "L"), ("P", "RGB"), ("CMYK", "RGB"), ("I;16", "L"), ("I", "L"),
])
def test_modes_are_converted_explicitly(mode, expected):
    rgb = Image.fromarray(photo_like(12, 10))
    if mode in ("I;16", "I"):
        source = Image.fromarray(np.asarray(rgb.convert("L"), np.uint16) * 257)
        assert source.mode == "I;16"
        source = source if mode == "I;16" else source.convert("I")
    else:
        source = rgb.convert(mode)
    picture = picture_from_pil(source)
    assert picture.mode == expected
    assert picture.rgb.shape == (12, 10, 3) and picture.rgb.dtype == np.uint8
    if mode in ("I;16", "I"):  # the 8 most significant bits survive
        grey = np.asarray(rgb.convert("L"))
        assert np.array_equal(picture.rgb[..., 0], grey)
    assert bool(picture.notes) == (mode != expected)


def test_palette_with_transparency_keeps_alpha():
    image = Image.fromarray(photo_like(8, 8)).convert("P")
    image.info["transparency"] = 0
    assert picture_from_pil(image).mode == "RGBA"


def test_float_images_are_refused():
    with pytest.raises(ImageError, match="mode F"):
        picture_from_pil(Image.new("F", (4, 4)))


@pytest.mark.parametrize("mode", ["L", "RGBA", "LA"])
def test_modes_survive_the_codec(model, mode):
    image = Image.fromarray(photo_like(40, 30)).convert(mode)
    if mode.endswith("A"):
        alpha = Image.fromarray(
            (np.arange(40 * 30) % 256).astype(np.uint8).reshape(40, 30))
        image.putalpha(alpha)
    decoded = round_trip(image, model)
    assert decoded.mode == mode and decoded.size == image.size
    if mode.endswith("A"):  # alpha is lossless
        assert np.array_equal(np.asarray(decoded.getchannel("A")),
                              np.asarray(image.getchannel("A")))


def test_icc_and_exif_survive(model, tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "tfgancomp test camera"  # Make
    exif[0x0112] = 6  # Orientation
    source = tmp_path / "photo.jpg"
    Image.fromarray(photo_like(30, 40)).save(source, icc_profile=icc,
                                             exif=exif.tobytes())
    decoded = round_trip(Image.open(source), model)
    assert decoded.info["icc_profile"] == icc
    for fmt in ("PNG", "JPEG", "WEBP"):
        data, _ = encode_image(decoded, fmt)
        reread = Image.open(io.BytesIO(data))
        assert reread.info.get("icc_profile") == icc, fmt
        assert reread.getexif()[0x010F] == "tfgancomp test camera", fmt
        assert reread.getexif()[0x0112] == 6, fmt


def test_unreadable_files(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ImageError, match="not an image"):
        read_image(tmp_path / "notes.txt")
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "missing.png")
    Image.fromarray(photo_like(64, 64)).save(tmp_path / "cut.png")
    data = (tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cut.png"):
        read_image(tmp_path / "cut.png")


def test_decompression_bomb_guard_stays_on(tmp_path, monkeypatch):
    Image.fromarray(photo_like(64, 64)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageError, match="decompression bomb"):
        read_image(tmp_path / "big.png")


def test_output_format_from_extension():
    assert output_format("a.PNG") == "PNG"
    assert output_format("a.jpg") == "JPEG"
    with pytest.raises(ImageError, match=".xyz"):
        output_format("a.xyz")


def test_max_pixels_and_image_bytes(tmp_path):
    path = tmp_path / "wide.png"
    Image.fromarray(np.zeros((10, 30, 3), np.uint8)).save(path)
    assert read_image(path, max_pixels=300).width == 30
    with pytest.raises(ImageError, match="30x10 = 300 pixels exceeds the "
                                         "limit of 299"):
        read_image(path, max_pixels=299)
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(buffer, "PNG")
    assert open_image_data(buffer.getvalue()).size == (5, 4)
    with pytest.raises(ImageError, match="standard input is not an image"):
        open_image_data(b"hello")


def test_the_api_refuses_before_any_work():
    """No model is loaded or called: `object()` would fail if it were."""
    from tfgancomp.errors import BitstreamError
    from tfgancomp.formats import bitstream
    pixels = np.zeros((10, 30, 3), np.uint8)
    for image in (pixels, Image.fromarray(pixels),
                  picture_from_pil(Image.fromarray(pixels))):
        with pytest.raises(ImageError, match="exceeds the limit of 299"):
            tfgancomp.compress(image, object(), max_pixels=299)
    container = bitstream.Container(
        height=65535, width=2730, mode="RGB", model_name="nowhere",
        model_fingerprint=bytes(8), string=b"y", side_string=b"z")
    with pytest.raises(BitstreamError, match="2730x65535"):
        tfgancomp.api.decompress_container(container, max_pixels=10**6)
    with pytest.raises(BitstreamError, match="exceeds the limit"):
        tfgancomp.decompress(bitstream.pack(container), max_pixels=10**6)
