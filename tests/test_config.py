import pytest

from tfgancomp.errors import ConfigError
from tfgancomp.model.config import ModelConfig


def test_json_round_trip():
    config = ModelConfig(num_filters=32, norm="channel", residual_blocks=3)
    assert ModelConfig.from_json(config.to_json()) == config


def test_stage_blocks_round_trip_and_stay_out_of_older_configs():
    config = ModelConfig(stage_blocks=[96, 0, 32])
    assert config.stage_blocks == (96, 0, 32)
    assert [config.stage_block(i) for i in range(3)] == [96, 0, 32]
    assert ModelConfig.from_json(config.to_json()) == config
    assert "stage_blocks" not in ModelConfig().to_dict()
    assert ModelConfig(stage_blocks=[96]).stage_block(2) == 0


def test_strides():
    config = ModelConfig(num_downsamplings=3, hyper_downsamplings=2)
    assert (config.latent_stride, config.hyper_stride) == (8, 32)


@pytest.mark.parametrize("changes", [
    dict(num_filters=0), dict(norm="batch"), dict(residual_blocks=-1),
    dict(scale_min=300.0), dict(num_scales=1), dict(latent_channels=2.5),
    dict(residual_blocks=True), dict(stage_blocks=[96, -1]),
    dict(stage_blocks=[True]), dict(stage_blocks="96"),
    dict(stage_blocks=[8, 8, 8, 8]),
])
def test_invalid_values(changes):
    with pytest.raises(ConfigError):
        ModelConfig(**changes)


def test_unknown_keys_and_bad_json():
    with pytest.raises(ConfigError, match="unknown"):
        ModelConfig.from_dict({"num_filterz": 3})
    with pytest.raises(ConfigError, match="JSON"):
        ModelConfig.from_json("{")
