"""Shipped models found by name: resolution, default model, model cards."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import photo_like
from PIL import Image

import tfgancomp
from tfgancomp.deploy import shipped
from tfgancomp.deploy.warm_start import copy_weights
from tfgancomp.errors import ModelError, ModelMismatchError
from tfgancomp.formats import bitstream
from tfgancomp.model.codec import Codec

PLOT = b"\x89PNG\r\n\x1a\n a rate-distortion plot"


@pytest.fixture(scope="module")
def pretrained(model, tmp_path_factory):
    """A package's pretrained/ folder holding the tiny model as 'tiny'."""
    folder = tmp_path_factory.mktemp("pretrained")
    patch = pytest.MonkeyPatch()
    patch.setattr(shipped, "PRETRAINED", folder)
    shipped.ship(model, "tiny", {"description": "a tiny test model"},
                 plot=PLOT)
    yield folder
    patch.undo()


@pytest.fixture
def installed(pretrained, monkeypatch):
    monkeypatch.setattr(shipped, "PRETRAINED", pretrained)
    return pretrained


def test_ship_writes_a_slim_export_and_its_card(installed, model):
    directory = installed / "tiny"
    assert sorted(p.name for p in directory.iterdir()) == [
        "README.md", "card.json", "decoder", "encoder", "rd.png"]
    card = shipped.card("tiny")
    assert card["fingerprint"] == model.fingerprint().hex()
    assert card["config"]["latent_channels"] == model.config.latent_channels
    assert card["description"] == "a tiny test model"
    readme = (directory / "README.md").read_text()
    assert "a tiny test model" in readme
    assert (directory / "rd.png").read_bytes() == PLOT
    assert "(rd.png)" in readme


def test_a_name_loads_the_shipped_model(installed, model):
    loaded = tfgancomp.load_model("tiny")
    assert loaded.fingerprint() == model.fingerprint()
    image = photo_like(40, 56, seed=3)
    data = tfgancomp.compress(image, loaded)
    assert data == tfgancomp.compress(image, model)  # bit-exact
    # Without a model, decoding finds the one the header names.
    decoded = np.asarray(tfgancomp.decompress(data))
    np.testing.assert_array_equal(
        decoded, np.asarray(tfgancomp.decompress(data, model)))


def test_a_directory_wins_over_a_shipped_name(installed, tmp_path,
                                              monkeypatch, model):
    from tfgancomp.deploy import resolve
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny").mkdir()
    with pytest.raises(ModelError, match="tiny is not a tfgancomp model"):
        resolve.resolve("tiny")
    export = resolve.resolve(str(installed / "tiny"))
    assert (export.kind, export.path) == ("export", installed / "tiny")


def test_unknown_names_list_the_shipped_models(installed):
    with pytest.raises(ModelError, match=r"nor a shipped model \(shipped: "
                                         r"tiny\)"):
        tfgancomp.load_model("no-such-model")
    with pytest.raises(ModelError, match=f"default model "
                                         f"'{shipped.DEFAULT_MODEL}' is "
                                         "not installed"):
        tfgancomp.load_model()


def test_files_of_unshipped_models_need_a_model(installed, model,
                                                monkeypatch):
    data = tfgancomp.compress(photo_like(16, 16), model)
    monkeypatch.setattr(shipped, "PRETRAINED", installed / "nowhere")
    with pytest.raises(ModelError, match="'tiny', which is not shipped"):
        tfgancomp.decompress(data)


def test_a_broken_card_is_a_model_error(installed, tmp_path, monkeypatch):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / shipped.CARD).write_text("{not json")
    monkeypatch.setattr(shipped, "PRETRAINED", tmp_path)
    with pytest.raises(ModelError, match="cannot read"):
        shipped.card("broken")
    card = json.loads((installed / "tiny" / shipped.CARD).read_text())
    assert card["name"] == "tiny"




def test_the_command_uses_shipped_models(installed, tmp_path, monkeypatch,
                                         capsys):
    from tfgancomp.cli import main
    monkeypatch.setattr(shipped, "DEFAULT_MODEL", "tiny")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tiny (default): a tiny test model [")
    assert main(["models", "--json"]) == 0
    listed, = json.loads(capsys.readouterr().out)
    assert listed["name"] == "tiny" and listed["megabytes"] > 0

    photo = tmp_path / "photo.png"
    Image.fromarray(photo_like(48, 80, seed=2)).save(photo)
    assert main(["compress", str(photo)]) == 0  # the default model
    assert main(["decompress", str(tmp_path / "photo.tfgc"), "-o",
                 str(tmp_path / "back.png")]) == 0  # found by its header
    assert main(["compare", str(photo), str(tmp_path / "photo.tfgc"),
                 "--json"]) == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "photo.tfgc"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model_name"] == "tiny"


def test_demo_writes_every_file_it_measures(installed, tmp_path, monkeypatch,
                                            capsys):
    from tfgancomp.cli import main
    monkeypatch.setattr(shipped, "DEFAULT_MODEL", "tiny")
    out_dir = tmp_path / "demo"
    assert main(["demo", "-o", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in out_dir.iterdir()) == sorted([
        "chelsea.tiny.tfgc", "chelsea.tiny.png", "chelsea.jpeg-420.jpg",
        "chelsea.jpeg-420.png", "chelsea.webp.webp", "chelsea.webp.png",
        "side_by_side.png"])
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.split() and line.split()[0] in ("tiny", "webp")}
    tiny_bytes = (out_dir / "chelsea.tiny.tfgc").stat().st_size
    assert int(rows["tiny"][2]) == tiny_bytes
    assert int(rows["webp"][2]) == pytest.approx(tiny_bytes, rel=0.05)
    # A second run keeps the user's files unless told otherwise.
    assert main(["demo", "-o", str(out_dir)]) == 1
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setattr(shipped, "DEFAULT_MODEL", "default-gan")
    assert main(["demo", "-o", str(tmp_path / "other")]) == 1
    assert "'default-gan' is not installed" in capsys.readouterr().err


def _new_decoder(model) -> Codec:
    """`model` with the realism knob added: the same encoder, entropy model
    and tables, another decoder (what the realism phase ships)."""
    config = dataclasses.replace(model.config, realism=True)
    codec = Codec(config)
    codec.fix_tables(placeholders=True)
    copy_weights({v.name: v for v in model.coding_variables()},
                 codec.coding_variables())
    for _, out in codec.synthesis.realism.branches.values():
        out.kernel.assign(tf.random.normal(out.kernel.shape, stddev=0.3))
    codec.model_name, codec.lmbda = model.model_name, model.lmbda
    return codec


def test_a_new_decoder_goes_on_decoding_the_files_it_replaces(
        model, tmp_path, monkeypatch):
    monkeypatch.setattr(shipped, "PRETRAINED", tmp_path)
    shipped.ship(model, "tiny", {})
    image = photo_like(40, 56, seed=5)
    old_file = tfgancomp.compress(image, tfgancomp.load_model("tiny"))
    new = _new_decoder(model)
    assert new.reads_files_of(model) and model.reads_files_of(new)
    # Tables rebuilt on another CPU: an offset an ulp away.
    offset = next(v for v in new.entropy.table_variables()
                  if v.dtype == tf.float32)
    offset.assign_add(tf.fill(offset.shape, 1e-6))
    assert not new.reads_files_of(model)
    assert new.fingerprint() != model.fingerprint()
    for _ in range(2):  # shipped again, as with its evaluation results
        shipped.ship(new, "tiny", {}, force=True)
        assert shipped.card("tiny")["decodes"] == [model.fingerprint().hex()]
    loaded = tfgancomp.load_model("tiny")
    assert loaded.decodes == (model.fingerprint(),)
    # Its header names 'tiny': realism 0 gives what the old decoder gave.
    np.testing.assert_array_equal(
        np.asarray(tfgancomp.decompress(old_file, realism=0.)),
        np.asarray(tfgancomp.decompress(old_file, model)))
    # The exported graph itself accepts the old fingerprint, as TF Serving
    # clients pass it from the header.
    container = bitstream.unpack(old_file)
    decoded = loaded.signature("decoder")(
        latent_bytes=tf.constant(container.string),
        side_latent_bytes=tf.constant(container.side_string),
        image_size=tf.constant([container.height, container.width]),
        model_fingerprint=tf.constant(model.fingerprint().hex()),
        realism=tf.constant(1.))["image"]
    assert decoded.shape == (40, 56, 3)
    # An encoder that differs writes other files: nothing is inherited.
    other = _new_decoder(model)
    other.analysis.variables[0].assign_add(
        tf.ones_like(other.analysis.variables[0]))
    assert not other.reads_files_of(model)
    with pytest.raises(ModelError, match="would stop decoding"):
        shipped.ship(other, "tiny", {}, force=True)
    shipped.ship(other, "tiny", {}, force=True, retire_as="tiny-1")
    assert tfgancomp.load_model("tiny").decodes == ()
    assert list(shipped.current_models()) == ["tiny"]
    retired = shipped.card("tiny-1")
    assert retired["fingerprint"] == new.fingerprint().hex()
    assert "Retired" in (tmp_path / "tiny-1" / "README.md").read_text()
    # The old file's header names 'tiny': the retired model decodes it.
    np.testing.assert_array_equal(
        np.asarray(tfgancomp.decompress(old_file, realism=0.)),
        np.asarray(tfgancomp.decompress(old_file, model)))
    with pytest.raises(ModelMismatchError, match="not by .tiny."):
        tfgancomp.decompress(old_file, tfgancomp.load_model("tiny"))
    with pytest.raises(ModelError, match="exists"):
        shipped.retire("tiny", "tiny-1", "again")


def test_the_card_lists_the_runs_before_the_shipped_one():
    facts = {"name": "x", "fingerprint": "ab", "config": {},
             "training": {"steps": 5, "earlier_runs": [
                 {"run": "rd", "steps": 15000, "wall_time_hours": 0.97}]}}
    card = shipped.render_card(facts)
    assert "| earlier runs | run rd, steps 15000, wall_time_hours 0.97 |" in (
        card)
