"""The shipped models write and decode exactly the bytes pinned in
tests/expected/ (regenerate on purpose with `python tests/golden.py`)."""

import json

import pytest
from golden import EXPECTED, digests

from tfgancomp.deploy import shipped

GOLDEN = json.loads(EXPECTED.read_text())


def test_every_shipped_model_has_golden_files():
    assert set(GOLDEN["models"]) == set(shipped.shipped_models())


@pytest.mark.slow
@pytest.mark.parametrize("python", [False, True],
                         ids=["export", "python-codec"])
@pytest.mark.parametrize("name", sorted(GOLDEN["models"]))
def test_shipped_model_writes_and_decodes_the_golden_bytes(name, python):
    assert digests(name, python) == GOLDEN["models"][name], (
        f"{name} no longer writes or decodes the pinned bytes; if that is "
        "intended, regenerate with `python tests/golden.py`")
