"""The shipped models write and decode exactly the bytes pinned in
tests/expected/ (regenerate on purpose with `python tests/golden.py`)."""

import json

import pytest
from golden import EXPECTED, digests, platform_key

from tfgancomp.deploy import shipped

GOLDEN = json.loads(EXPECTED.read_text())


def test_every_shipped_model_has_golden_files():
    assert set(GOLDEN["models"]) == set(shipped.shipped_models())


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
    pixels = golden["decoded_sha256"].get(platform_key())
    assert pixels in (None, found["decoded_sha256"]), hint
