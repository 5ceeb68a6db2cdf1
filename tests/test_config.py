import importlib
import sys
import types

import numpy as np
import pytest

import modist.flow
from modist.choices import DIS_PRESETS, FLOW_ESTIMATORS, MOTION_ENCODINGS, PRETRAINING_METHODS
from modist.cli.main import main
from modist.config import CHOICES, load_config, to_yaml
from modist.configs import config_path
from modist.errors import ConfigError, FlowError
from modist.flow import motion_channels

flow_estimate = importlib.import_module("modist.flow.estimate")  # the package re-exports a function of that name


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
    (["motion.flow_direction=sideways"], "motion.flow_direction"),
    (["motion.clip_frames=-1"], "motion.clip_frames"),
    (["motion.stride=-4"], "motion.stride"),
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


@pytest.mark.parametrize("recipe", [None, "demo", "cpu_small"])
def test_recipes_without_motion_clip_or_direction_keep_their_meaning(recipe, tmp_path):
    """Forward flow of the RGB clip's own frames, as before the keys existed."""
    from modist.training.batches import build_clip_source

    cfg = load_config(None if recipe is None else config_path(recipe))
    m = cfg.motion
    assert (m.flow_direction, m.clip_frames, m.stride) == ("forward", 0, 0)
    source = build_clip_source(cfg, with_motion=True)
    assert source.flow.flow_direction == "forward" and (source.motion_frames, source.motion_stride) == (0, 0)
    assert source.span(cfg.data.clip_frames, cfg.data.stride) == (cfg.data.clip_frames - 1) * cfg.data.stride + 1
    # A run's config.yaml written before the keys existed reads the same way.
    from modist.config import load_run_config

    old = tmp_path / "config.yaml"
    old.write_text("motion:\n  flow_gap: 3\n  encoding: dxdy\n")
    assert (load_run_config(old).motion.flow_direction, load_run_config(old).motion.clip_frames) == ("forward", 0)


# --- one source of truth for every choice ---------------------------------------------


@pytest.mark.parametrize("name", list(PRETRAINING_METHODS))
def test_every_pretraining_method_resolves_to_a_builder(name):
    module_name, _, attr = PRETRAINING_METHODS[name].partition(":")
    assert callable(getattr(importlib.import_module(module_name), attr))
    assert load_config(None, [f"method.name={name}"]).method.name == name


@pytest.mark.parametrize("name", list(FLOW_ESTIMATORS))
def test_every_flow_estimator_is_known_to_the_flow_package_and_the_config(name):
    single, batched = flow_estimate._lookup(name)
    assert callable(single) and (batched is None or callable(batched))
    assert (batched is None) == (FLOW_ESTIMATORS[name][2] is None)
    assert load_config(None, [f"motion.estimator={name}"]).motion.estimator == name
    assert modist.flow.FLOW_ESTIMATORS is FLOW_ESTIMATORS


def test_unknown_flow_estimator_is_rejected_at_load_and_by_the_flow_package():
    with pytest.raises(ConfigError) as err:
        load_config(None, ["motion.estimator=pwcnet"])
    assert str(err.value) == ("invalid value 'pwcnet' for motion.estimator; "
                              "choose from dis, farneback, tvl1, torch_tvl1, raft")
    with pytest.raises(FlowError, match="pwcnet"):
        flow_estimate.estimate(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8), estimator="pwcnet")


def test_dis_preset_is_checked_at_load_only_for_dis(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(None, ["motion.preset=slow"])
    assert str(err.value) == "invalid value 'slow' for motion.preset; choose from ultrafast, fast, medium"
    recipe = tmp_path / "r.yaml"
    recipe.write_text("motion:\n  estimator: dis\n  preset: turbo\n")
    with pytest.raises(ConfigError, match=r"motion\.preset"):
        load_config(recipe)
    # Farneback takes no preset: the (unused) value is not an error.
    assert load_config(None, ["motion.estimator=farneback", "motion.preset=slow"]).motion.preset == "slow"


@pytest.mark.parametrize("preset", DIS_PRESETS)
def test_every_dis_preset_runs(preset):
    frame = np.zeros((16, 16, 3), np.uint8)
    assert flow_estimate.estimate(frame, frame, estimator="dis", preset=preset).shape == (16, 16, 2)
    assert load_config(None, [f"motion.preset={preset}"]).motion.preset == preset


def test_motion_encodings_give_the_channel_counts():
    expected = {"flow_edges": 1, "dxdy": 2, "magnitude": 1, "frame_diff": 1}
    assert {k: motion_channels(k) for k in MOTION_ENCODINGS} == expected


@pytest.mark.parametrize("key", sorted(CHOICES))
def test_every_listed_choice_loads(key):
    # The few keys whose other values need a partner setting to be valid.
    extra = {"motion.source": ["motion.flow_store=somewhere"],
             "motion.flow_device": ["motion.estimator=torch_tvl1"]}.get(key, [])
    for value in CHOICES[key]:
        cfg = load_config(None, [f"{key}={value}", *extra])
        section, field = key.split(".")
        assert getattr(getattr(cfg, section), field) == value


def test_unquoted_off_in_yaml_means_off(tmp_path):
    # YAML 1.1 reads a bare `off` as the boolean false.
    recipe = tmp_path / "r.yaml"
    recipe.write_text("train:\n  distributed: off\n")
    assert load_config(recipe).train.distributed == "off"


# --- recipes: base and several files --------------------------------------------------


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_base_is_merged_before_the_recipe(tmp_path):
    _write(tmp_path / "parent.yaml", "data:\n  crop_size: 40\nmethod:\n  temperature: 0.2\ntrain:\n  steps: 7\n")
    child = _write(tmp_path / "child.yaml", "base: parent.yaml\ntrain:\n  steps: 9\n")
    cfg = load_config(child)
    assert (cfg.data.crop_size, cfg.method.temperature, cfg.train.steps) == (40, 0.2, 9)
    assert cfg.train.batch_size == 32  # neither file sets it: the default


def test_bases_chain_and_are_found_beside_the_recipe_not_the_working_directory(tmp_path, monkeypatch):
    _write(tmp_path / "recipes" / "a.yaml", "train:\n  steps: 1\n  batch_size: 4\n  log_every: 3\n")
    _write(tmp_path / "recipes" / "b.yaml", "base: a.yaml\ntrain:\n  steps: 2\n  batch_size: 5\n")
    c = _write(tmp_path / "recipes" / "sub" / "c.yaml", "base: ../b.yaml\ntrain:\n  steps: 3\n")
    monkeypatch.chdir(tmp_path)
    t = load_config(c).train
    assert (t.steps, t.batch_size, t.log_every) == (3, 5, 3)


def test_base_by_shipped_name_equals_that_recipe_with_the_changes(tmp_path):
    child = _write(tmp_path / "c.yaml", "base: demo\ntrain:\n  steps: 5\nmethod:\n  temperature: 0.3\n")
    assert load_config(child) == load_config(config_path("demo"), ["train.steps=5", "method.temperature=0.3"])


def test_later_files_win_and_overrides_win_over_files(tmp_path):
    a = _write(tmp_path / "a.yaml", "method:\n  temperature: 0.3\ntrain:\n  steps: 1\n  batch_size: 4\n")
    b = _write(tmp_path / "b.yaml", "train:\n  steps: 2\n")
    cfg = load_config([a, b])
    assert (cfg.method.temperature, cfg.train.steps, cfg.train.batch_size) == (0.3, 2, 4)
    assert load_config([b, a]).train.steps == 1
    assert load_config((a, b), ["train.steps=3"]).train.steps == 3
    assert load_config([]) == load_config(None) == load_config(None, [])


def test_a_later_file_brings_its_base_along(tmp_path):
    # b's base is merged just before b, so it resets what a set and b does not set again.
    a = _write(tmp_path / "a.yaml", "train:\n  steps: 1\n  log_every: 11\n")
    _write(tmp_path / "base.yaml", "train:\n  log_every: 22\n")
    b = _write(tmp_path / "b.yaml", "base: base.yaml\ntrain:\n  batch_size: 6\n")
    t = load_config([a, b]).train
    assert (t.steps, t.log_every, t.batch_size) == (1, 22, 6)


def test_base_cycle_is_one_line_naming_the_files(tmp_path):
    a = _write(tmp_path / "a.yaml", "base: b.yaml\n")
    _write(tmp_path / "b.yaml", "base: a.yaml\n")
    with pytest.raises(ConfigError) as err:
        load_config(a)
    message = str(err.value)
    assert "cycle" in message and "a.yaml" in message and "b.yaml" in message and "\n" not in message
    itself = _write(tmp_path / "self.yaml", "base: ./self.yaml\n")
    with pytest.raises(ConfigError, match="cycle.*self.yaml"):
        load_config(itself)


def test_unknown_base_names_the_recipe_and_the_base(tmp_path):
    named = _write(tmp_path / "named.yaml", "base: k400_slow_r50_4x4\n")
    with pytest.raises(ConfigError) as err:
        load_config(named)
    message = str(err.value)
    assert "named.yaml" in message and "k400_slow_r50_4x4" in message and "\n" not in message
    pathed = _write(tmp_path / "pathed.yaml", "base: missing.yaml\n")
    with pytest.raises(ConfigError, match=r"pathed\.yaml: base 'missing\.yaml' not found"):
        load_config(pathed)
    bad = _write(tmp_path / "bad.yaml", "base: [demo]\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: base must be"):
        load_config(bad)


def test_bad_key_in_a_base_names_that_file_and_renamed_keys_still_say_the_new_name(tmp_path):
    _write(tmp_path / "old.yaml", "motion:\n  gap: 3\n")
    child = _write(tmp_path / "child.yaml", "base: old.yaml\n")
    with pytest.raises(ConfigError) as err:
        load_config(child)
    assert str(err.value) == f"{tmp_path / 'old.yaml'}: config key 'motion.gap' was renamed to 'motion.flow_gap'"


def test_pretrain_cli_merges_several_configs_in_order(tmp_path, monkeypatch):
    seen = []
    fake = types.ModuleType("modist.training.trainer")
    fake.pretrain = lambda cfg: seen.append(cfg) or types.SimpleNamespace(rank=1)  # rank 1 prints nothing
    monkeypatch.setitem(sys.modules, "modist.training.trainer", fake)
    extra = _write(tmp_path / "extra.yaml", "train:\n  steps: 4\n  batch_size: 6\n")
    argv = ["pretrain", "--config", "demo", "--config", str(extra), "train.batch_size=2"]
    assert main(argv) == 0
    expected = load_config(config_path("demo"), ["train.steps=4", "train.batch_size=2"])
    assert seen == [expected]
