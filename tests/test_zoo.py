"""Shipped models found by name: resolution, default model, model cards."""

import json

import numpy as np
import pytest
from conftest import photo_like

import tfgancomp
from tfgancomp import zoo
from tfgancomp.errors import ModelError


@pytest.fixture(scope="module")
def pretrained(model, tmp_path_factory):
    """A package's pretrained/ folder holding the tiny model as 'tiny'."""
    folder = tmp_path_factory.mktemp("pretrained")
    patch = pytest.MonkeyPatch()
    patch.setattr(zoo, "PRETRAINED", folder)
    zoo.ship(model, "tiny", {"description": "a tiny test model"})
    yield folder
    patch.undo()


@pytest.fixture
def shipped(pretrained, monkeypatch):
    monkeypatch.setattr(zoo, "PRETRAINED", pretrained)
    return pretrained


def test_ship_writes_a_slim_export_and_its_card(shipped, model):
    directory = shipped / "tiny"
    assert sorted(p.name for p in directory.iterdir()) == [
        "README.md", "card.json", "decoder", "encoder"]
    card = zoo.card("tiny")
    assert card["fingerprint"] == model.fingerprint().hex()
    assert card["config"]["latent_channels"] == model.config.latent_channels
    assert card["description"] == "a tiny test model"
    assert "a tiny test model" in (directory / "README.md").read_text()


def test_a_name_loads_the_shipped_model(shipped, model):
    loaded = tfgancomp.load_model("tiny")
    assert loaded.fingerprint() == model.fingerprint()
    image = photo_like(40, 56, seed=3)
    data = tfgancomp.compress(image, loaded)
    assert data == tfgancomp.compress(image, model)  # bit-exact
    # Without a model, decoding finds the one the header names.
    decoded = np.asarray(tfgancomp.decompress(data))
    np.testing.assert_array_equal(
        decoded, np.asarray(tfgancomp.decompress(data, model)))


def test_a_directory_wins_over_a_shipped_name(shipped, tmp_path,
                                              monkeypatch):
    (tmp_path / "tiny").mkdir()
    monkeypatch.chdir(tmp_path)
    assert zoo.resolve("tiny") == tmp_path.joinpath("tiny").relative_to(
        tmp_path)
    assert zoo.resolve(str(shipped / "tiny")) == shipped / "tiny"


def test_unknown_names_list_the_shipped_models(shipped):
    with pytest.raises(ModelError, match=r"nor a shipped model \(shipped: "
                                         r"tiny\)"):
        tfgancomp.load_model("no-such-model")
    with pytest.raises(ModelError, match="no shipped model named "
                                         "'default-gan'"):
        tfgancomp.load_model()


def test_files_of_unshipped_models_need_a_model(shipped, model,
                                                monkeypatch):
    data = tfgancomp.compress(photo_like(16, 16), model)
    monkeypatch.setattr(zoo, "PRETRAINED", shipped / "nowhere")
    with pytest.raises(ModelError, match="'tiny', which is not shipped"):
        tfgancomp.decompress(data)


def test_a_broken_card_is_a_model_error(shipped, tmp_path, monkeypatch):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / zoo.CARD).write_text("{not json")
    monkeypatch.setattr(zoo, "PRETRAINED", tmp_path)
    with pytest.raises(ModelError, match="cannot read"):
        zoo.card("broken")
    assert json.loads((shipped / "tiny" / zoo.CARD).read_text())["name"] == (
        "tiny")
