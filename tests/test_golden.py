"""The shipped models write and decode exactly the bytes pinned in
tests/expected/ (regenerate on purpose with `python tests/golden.py`)."""

import json

import pytest
from golden import EXPECTED, PIXELS, digests, earlier, pinned, platform_key

from tfgancomp.deploy import shipped

GOLDEN = json.loads(EXPECTED.read_text())


def test_every_shipped_model_has_golden_files():
    assert set(GOLDEN["models"]) == set(shipped.shipped_models())


def test_regenerating_keeps_other_platforms_pixels_of_the_same_model():
    entry = {"fingerprint": "ab", "decoded_sha256": {"elsewhere": "e"}}
    found = {"fingerprint": "ab", "decoded_sha256": "here"}
    assert pinned(found, entry)["decoded_sha256"] == {
        "elsewhere": "e", platform_key(): "here"}
    # Realism 1's pixels likewise, once pinned.
    realistic = dict(found, decoded_realism_1_sha256="grain")
    assert pinned(realistic, entry)["decoded_realism_1_sha256"] == {
        platform_key(): "grain"}
    assert pinned(realistic, dict(entry, decoded_realism_1_sha256={
        "elsewhere": "g"}))["decoded_realism_1_sha256"] == {
        "elsewhere": "g", platform_key(): "grain"}
    # Under its old name, as after retiring; another model keeps nothing.
    assert earlier(found, None, {"old-name": entry}) is entry
    other = dict(found, fingerprint="cd")
    assert pinned(other, earlier(other, entry, {"x": entry}))[
        "decoded_sha256"] == {platform_key(): "here"}


@pytest.mark.slow
@pytest.mark.parametrize("python", [False, True],
                         ids=["export", "python-codec"])
@pytest.mark.parametrize("name", sorted(GOLDEN["models"]))
def test_shipped_model_writes_and_decodes_the_golden_bytes(name, python):
    found, golden = digests(name, python), GOLDEN["models"][name]
    hint = (f"{name} no longer writes or decodes the pinned bytes; if that "
            "is intended, regenerate with `python tests/golden.py`")
    for key in ("fingerprint", "tfgc_sha256", "tfgc_bytes"):
        assert found[key] == golden[key], hint
    assert found["decoded_psnr"] == pytest.approx(golden["decoded_psnr"],
                                                  abs=0.01), hint
    assert {key for key in PIXELS if key in found} == {
        key for key in PIXELS if key in golden}, hint
    for key in PIXELS:
        if key in found:
            pixels = golden[key].get(platform_key())
            assert pixels in (None, found[key]), hint


# Written for the sample photo by `default` before it gained its realism
# knob (fingerprint baac4356b90810e5), and the pixels that model decoded
# (their PSNR: 31.053 dB).
EARLIER_FILE = EXPECTED.parent / "default-baac4356b90810e5.tfgc"
EARLIER_PIXELS = {
    "x86_64-avx2":
        "65cea08b6f089d09ea4010c1bf030844cefa8cb32ec087be4c87df5af72fa4d1",
    "x86_64-avx512":
        "dfb509560e5f7bbd9f08c21c2b84170c6ff3ce67820a21c9bacd803173cf89a1"}


@pytest.mark.slow
def test_files_of_earlier_defaults_decode_as_they_did_at_realism_0():
    import hashlib

    import numpy as np
    from PIL import Image

    import tfgancomp
    from tfgancomp.evaluation.metrics import psnr
    from tfgancomp.formats import bitstream
    data = EARLIER_FILE.read_bytes()
    # Its header names `default`; the model that reads its fingerprint
    # decodes it (a later `default` with the same encoder, or the retired
    # one that kept its name's files).
    container = bitstream.unpack(data)
    reader = shipped.reader_of(container.model_name,
                               container.model_fingerprint)
    assert reader is not None
    knobs = ({"realism": 0.} if shipped.card(reader)["config"].get("realism")
             else {})
    decoded = np.ascontiguousarray(tfgancomp.decompress(data, **knobs))
    pixels = EARLIER_PIXELS.get(platform_key())
    assert pixels in (None, hashlib.sha256(decoded.tobytes()).hexdigest())
    photo = np.asarray(Image.open(shipped.SAMPLE_PHOTO).convert("RGB"))
    assert psnr(photo, decoded) == pytest.approx(31.053, abs=0.01)
