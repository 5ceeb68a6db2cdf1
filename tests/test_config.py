import pytest

from modist.config import load_config, to_yaml
from modist.configs import config_path
from modist.errors import ConfigError


def test_yaml_then_overrides_take_precedence(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("method:\n  name: rgb_only\n  temperature: 0.2\ntrain:\n  steps: 7\n")
    cfg = load_config(path, ["train.steps=9"])
    assert (cfg.method.name, cfg.method.temperature, cfg.train.steps) == ("rgb_only", 0.2, 9)


@pytest.mark.parametrize("override, needle", [
    (["method.temprature=0.2"], "method.temprature"),
    (["train.steps=ten"], "train.steps"),
    (["method.name=simclr"], "method.name"),
    (["train.batch_size=0"], "train.batch_size"),
    (["data.crop_scale_min=1.5"], "data.crop_scale_min"),
    (["nonsense"], "nonsense"),
])
def test_bad_keys_and_values_name_the_key(override, needle):
    with pytest.raises(ConfigError) as err:
        load_config(None, override)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_missing_and_invalid_yaml_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)


def test_shipped_demo_recipe_loads_and_round_trips(tmp_path):
    cfg = load_config(config_path("demo"))
    assert cfg.data.flip is False and cfg.motion.encoding == "dxdy" and cfg.model.motion_width_divisor == 1
    saved = tmp_path / "resolved.yaml"
    saved.write_text(to_yaml(cfg))
    assert load_config(saved) == cfg
