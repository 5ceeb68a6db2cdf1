"""modist.models.run_files: run-folder names, which file a path means, and what encoder.json records."""

import json

import pytest

from modist.config import load_config, load_run_config, run_config_from_dict, to_dict
from modist.errors import DataError
from modist.models.encoder_io import META, EncoderSpec, save_encoder
from modist.models.run_files import (
    TrainedOn,
    checkpoint_at_step,
    checkpoint_config,
    checkpoint_name,
    find_latest_checkpoint,
    numbered_checkpoints,
    read_encoder,
    resolve_checkpoint,
)


def _touch(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")


def test_checkpoints_are_found_by_step_not_by_name(tmp_path):
    assert checkpoint_name(500) == "checkpoint-0000500.pt" and checkpoint_name(12345678) == "checkpoint-12345678.pt"
    # 12345678 sorts before 9999999 by name; not numbered: other names, temporary files.
    _touch(tmp_path, checkpoint_name(9_999_999), checkpoint_name(12_345_678), checkpoint_name(3), "checkpoint.pt",
           "checkpoint-12-3.pt", "checkpoint-x.pt", ".checkpoint-0000004.tmp.pt", "checkpoint-0000005.pt.tmp")
    assert [step for step, _ in numbered_checkpoints(tmp_path)] == [3, 9_999_999, 12_345_678]
    assert find_latest_checkpoint(tmp_path).name == "checkpoint-12345678.pt"
    _touch(tmp_path / "only_latest", "checkpoint.pt")
    assert find_latest_checkpoint(tmp_path / "only_latest").name == "checkpoint.pt"
    assert find_latest_checkpoint(tmp_path / "absent") is None and numbered_checkpoints(tmp_path / "absent") == []


def test_a_missing_step_names_the_kept_ones(tmp_path):
    _touch(tmp_path, checkpoint_name(2), checkpoint_name(4))
    assert checkpoint_at_step(tmp_path, 4) == tmp_path / "checkpoint-0000004.pt"
    with pytest.raises(DataError, match=r"checkpoint-0000007\.pt: not found; this run keeps "
                                        r"checkpoint-0000002\.pt, checkpoint-0000004\.pt$"):
        checkpoint_at_step(tmp_path, 7)


def test_a_run_folder_stands_for_its_encoder_else_its_latest_checkpoint(tmp_path):
    run = tmp_path / "runs" / "a"
    _touch(run, checkpoint_name(1), checkpoint_name(2))
    assert resolve_checkpoint(run) == run / "checkpoint-0000002.pt"
    _touch(run, "encoder.safetensors")
    assert resolve_checkpoint(run) == run / "encoder.safetensors"
    _touch(tmp_path / "runs" / "b", "checkpoint.pt")
    _touch(tmp_path / "runs" / "not_a_run", "notes.txt")
    with pytest.raises(DataError, match="a folder of runs, not a run; pass one of: a, b$"):
        resolve_checkpoint(tmp_path / "runs")


def test_what_a_run_trains_on_is_what_encoder_json_records():
    cfg = load_config(None, ["method.name=rgb_only", "data.clip_frames=4", "data.stride=2", "data.crop_size=32",
                             "data.short_side=40"])
    assert TrainedOn.of_run(cfg).record() == {"method": "rgb_only", "clip_frames": 4, "stride": 2, "crop_size": 32,
                                              "short_side": 40}
    assert list(TrainedOn.of_run(cfg, step=9).record())[-1] == "step"


def test_a_record_read_back_keeps_its_entries_and_their_order(tmp_path):
    spec = EncoderSpec("r3d_tiny", 3, base_width=4)
    extra = {"method": "import:pyslowfast", "source": "a.pyth", "clip_frames": 8, "stride": 8, "crop_size": 224,
             "input_source": "given", "source_pathway": 1, "std": [0.2, 0.25, 0.5]}
    save_encoder(tmp_path, spec.build(), spec, extra)
    written = json.loads((tmp_path / META).read_text())
    saved = read_encoder(tmp_path)
    t = saved.trained_on
    assert (t.method, t.clip_frames, t.stride, t.crop_size, t.short_side, t.step) == ("import:pyslowfast", 8, 8, 224,
                                                                                      None, None)
    assert (t.mean, t.std) == ((0.45, 0.45, 0.45), (0.2, 0.25, 0.5))
    assert t.details == (("source", "a.pyth"), ("input_source", "given"), ("source_pathway", 1))
    spec_keys = ["arch", "in_channels", "width_divisor", "base_width", "modality", "conv1_temporal_stride"]
    assert list(written)[:6] == spec_keys
    assert list(t.record().items()) == [(k, v) for k, v in written.items() if k not in spec_keys]


def test_a_recorded_clip_setting_that_is_no_integer_names_the_file(tmp_path):
    spec = EncoderSpec("r3d_tiny", 3, base_width=4)
    save_encoder(tmp_path, spec.build(), spec, {"clip_frames": "eight"})
    with pytest.raises(DataError, match=rf"{META}: clip_frames must be an integer, got 'eight'$"):
        read_encoder(tmp_path)


def test_a_checkpoints_config_reads_as_a_runs_config_yaml(tmp_path):
    cfg = load_config(None, ["method.name=rgb_only", "train.steps=7", "motion.flow_gap=3"])
    saved = to_dict(cfg)
    yaml = tmp_path / "config.yaml"
    yaml.write_text(json.dumps(saved))  # JSON is YAML
    assert run_config_from_dict(saved, "ckpt.pt") == load_run_config(yaml) == cfg
    # A run's own record written before a key was renamed is translated, as config.yaml is.
    saved["motion"]["gap"] = saved["motion"].pop("flow_gap")
    assert checkpoint_config({"config": saved}, tmp_path / "c.pt").motion.flow_gap == 3
    saved["train"]["steps"] = 0
    with pytest.raises(DataError, match=r"c\.pt: its config does not load \(invalid value 0 for train\.steps; "
                                        r"must be > 0\)$"):
        checkpoint_config({"config": saved}, tmp_path / "c.pt")
    saved["motion"]["no_such_key"] = 1
    with pytest.raises(DataError, match=r"c\.pt: its config does not load \(unknown config key "
                                        r"'motion\.no_such_key'"):
        checkpoint_config({"config": saved}, tmp_path / "c.pt")
    with pytest.raises(DataError, match=r"c\.pt: its config is not a mapping$"):
        checkpoint_config({"config": [1, 2]}, tmp_path / "c.pt")
