import pytest

from modist.config import load_config, to_dict
from modist.configs import CONFIG_DIR, config_path
from modist.errors import ConfigError
from modist.training.optim import scaled_lr

RECIPES = sorted(CONFIG_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_shipped_recipe_loads(path):
    cfg = load_config(path)
    assert cfg.train.steps > 0


@pytest.mark.parametrize("name", ["maclr_k400", "k400_slow_r50_8x8", "k400_slow_r50_16x4"])
def test_kinetics_recipes_follow_the_release(name):
    cfg = load_config(config_path(name), ["data.dataset=kinetics:/data/k400"])
    assert cfg.model.arch == "slow_r50_modist" and cfg.model.base_width == 64
    assert cfg.model.conv1_temporal_stride == 1
    assert (cfg.model.motion_arch, cfg.model.motion_width_divisor) == ("slow_r50_t1", 8)
    assert (cfg.model.proj_hidden, cfg.model.embed_dim, cfg.model.head_bn) == (2048, 128, False)
    m = cfg.method
    assert (m.queue_size, m.temperature, m.momentum) == (65536, 0.1, 0.999)
    assert (m.weight_vv, m.weight_vm, m.weight_mv, m.weight_mm) == (1.0, 1.0, 1.0, 0.0)
    assert (cfg.motion.encoding, cfg.motion.flow_gap, cfg.motion.flow_direction) == ("flow_edges", 5, "backward")
    assert (cfg.data.crop_size, cfg.data.short_side) == (224, 256)
    assert (cfg.data.min_clip_gap_sec, cfg.data.max_clip_gap_sec) == (0.5, 10.0)
    assert cfg.train.precision == "bf16" and cfg.train.resume == "auto"
    per_gpu = cfg.train.batch_size * cfg.train.accumulate
    assert per_gpu == 64
    assert scaled_lr(cfg.optim, per_gpu * 8) == pytest.approx(0.06)  # 0.03 per 256 clips, 8 GPUs


def test_maclr_k400_samples_each_pathway_as_the_release():
    cfg = load_config(config_path("maclr_k400"))
    assert (cfg.data.clip_frames, cfg.data.stride) == (8, 8)  # DATA.NUM_FRAMES x SAMPLING_RATE
    assert (cfg.motion.clip_frames, cfg.motion.stride) == (16, 4)  # DATA.FLOW_NUM_FRAMES x FLOW_SAMPLING_RATE


@pytest.mark.parametrize("name, changes", [
    ("k400_slow_r50_8x8", {"motion": {"clip_frames": 8, "stride": 8}, "train": {"out_dir": "runs/k400_slow_r50_8x8"}}),
    ("k400_slow_r50_16x4", {"data": {"clip_frames": 16, "stride": 4},
                            "train": {"batch_size": 32, "accumulate": 2, "out_dir": "runs/k400_slow_r50_16x4"}}),
])
def test_kinetics_variants_are_maclr_k400_with_their_stated_differences(name, changes):
    variant = to_dict(load_config(config_path(name)))
    release = to_dict(load_config(config_path("maclr_k400")))
    for section, values in changes.items():
        release[section].update(values)
    assert variant == release
    assert "base: maclr_k400" in config_path(name).read_text()


def test_16x4_recipe_keeps_its_resolved_values():
    cfg = load_config(config_path("k400_slow_r50_16x4"))
    d, mo, o, t = cfg.data, cfg.motion, cfg.optim, cfg.train
    assert (d.dataset, d.split, d.clip_frames, d.stride) == ("kinetics:/data/kinetics400", "train", 16, 4)
    assert (d.min_clip_gap_sec, d.max_clip_gap_sec, d.short_side, d.crop_size) == (0.5, 10.0, 256, 224)
    assert (d.crop_scale_min, d.crop_aspect_max, d.flip) == (0.2, 4 / 3, True)
    assert (d.color_jitter, d.grayscale_prob, d.blur_prob, d.frame_cache, d.num_workers) == (0.4, 0.2, 0.5, 0, 12)
    assert (mo.source, mo.estimator, mo.preset, mo.flow_gap, mo.encoding) == ("auto", "dis", "medium", 5,
                                                                               "flow_edges")
    assert (mo.clip_frames, mo.stride) == (16, 4)
    assert (cfg.method.name, cfg.method.momentum_schedule, cfg.method.key_bn) == ("modist", "constant", "shuffle")
    assert (o.name, o.lr, o.lr_reference_batch, o.momentum, o.weight_decay) == ("sgd", 0.03, 256, 0.9, 0.0001)
    assert (o.warmup_steps, o.schedule) == (2345, "cosine")
    assert (t.steps, t.batch_size, t.accumulate, t.precision) == (93750, 32, 2, "bf16")
    assert (t.channels_last, t.compile, t.sync_bn) == (True, True, False)
    assert (t.checkpoint_every, t.keep_checkpoints, t.resume, t.log_every) == (2000, 2, "auto", 50)
    assert t.out_dir == "runs/k400_slow_r50_16x4"


@pytest.mark.parametrize("override, key", [
    ("train.precision=fp8", "train.precision"), ("method.key_bn=global", "method.key_bn"),
    ("optim.name=lamb", "optim.name"), ("train.accumulate=0", "train.accumulate"),
    ("train.keep_checkpoints=-1", "train.keep_checkpoints"), ("data.crop_aspect_max=0.5", "data.crop_aspect_max"),
    ("train.distributed=yes", "train.distributed"),
])
def test_invalid_training_options_name_their_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, [override])
