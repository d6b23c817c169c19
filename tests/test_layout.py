"""The package's layout holds: modules stay small, nothing outside the
model reaches into the codec's private members, and in-memory codecs and
loaded exports are the same kind of model."""

import re
from pathlib import Path

import tfgancomp
from tfgancomp.model.protocol import CodingModel

PACKAGE = Path(tfgancomp.__file__).resolve().parent
SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_small():
    long = {str(p.relative_to(PACKAGE)): n for p in SOURCES
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long


def test_no_module_calls_private_members_of_the_codec():
    private = re.compile(r"\b(codec|entropy|model)\._[a-z]\w*")
    found = {str(p.relative_to(PACKAGE)): private.findall(p.read_text())
             for p in SOURCES if p.parent.name != "model"}
    assert not {k: v for k, v in found.items() if v}


def test_codecs_and_exports_are_coding_models(model, tmp_path):
    from tfgancomp.deploy import resolve, savedmodel
    savedmodel.export(model, tmp_path)
    exported = resolve.load(tmp_path)
    assert isinstance(model, CodingModel)
    assert isinstance(exported, CodingModel)
    assert exported.fingerprint() == model.fingerprint()
