import pytest

from modist.config import load_config
from modist.configs import CONFIG_DIR, config_path
from modist.errors import ConfigError
from modist.training.optim import scaled_lr

RECIPES = sorted(CONFIG_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_shipped_recipe_loads(path):
    cfg = load_config(path)
    assert cfg.train.steps > 0


@pytest.mark.parametrize("name", ["k400_slow_r50_8x8", "k400_slow_r50_16x4"])
def test_kinetics_recipes_follow_the_release(name):
    cfg = load_config(config_path(name), ["data.dataset=kinetics:/data/k400"])
    assert cfg.model.arch == "slow_r50_modist" and cfg.model.base_width == 64
    assert (cfg.model.motion_arch, cfg.model.motion_width_divisor) == ("slow_r50_t1", 8)
    assert (cfg.model.proj_hidden, cfg.model.embed_dim) == (2048, 128)
    m = cfg.method
    assert (m.queue_size, m.temperature, m.momentum) == (65536, 0.1, 0.999)
    assert (m.weight_vv, m.weight_vm, m.weight_mv, m.weight_mm) == (1.0, 1.0, 1.0, 0.0)
    assert (cfg.motion.encoding, cfg.motion.flow_gap) == ("flow_edges", 5)
    assert (cfg.data.crop_size, cfg.data.short_side) == (224, 256)
    assert cfg.train.precision == "bf16" and cfg.train.resume == "auto"
    per_gpu = cfg.train.batch_size * cfg.train.accumulate
    assert per_gpu == 64
    assert scaled_lr(cfg.optim, per_gpu * 8) == pytest.approx(0.06)  # 0.03 per 256 clips, 8 GPUs


@pytest.mark.parametrize("override, key", [
    ("train.precision=fp8", "train.precision"), ("method.key_bn=global", "method.key_bn"),
    ("optim.name=lamb", "optim.name"), ("train.accumulate=0", "train.accumulate"),
    ("train.keep_checkpoints=-1", "train.keep_checkpoints"), ("data.crop_aspect_max=0.5", "data.crop_aspect_max"),
    ("train.distributed=yes", "train.distributed"),
])
def test_invalid_training_options_name_their_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, [override])
