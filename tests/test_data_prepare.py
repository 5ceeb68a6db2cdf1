"""``modist prepare``: transcode, resume, shards, settings guard, and the manifest the adapters read."""

from __future__ import annotations

import numpy as np
import pytest

from modist.cli.main import main
from modist.data.adapters import resolve_dataset
from modist.data.prepare import PrepareSettings, prepare_records
from modist.data.video import VideoReader, read_video
from modist.errors import ConfigError


def test_prepare_transcodes_resumes_and_is_a_dataset(tiny_synth, tmp_path):
    source = resolve_dataset(f"synth:{tiny_synth}")
    records = source.records[:5]
    out = tmp_path / "prepared"
    settings = PrepareSettings(short_side=32, gop=4)
    first = prepare_records(records, out, settings, class_names=source.class_names, shard=0, num_shards=2)
    assert (first.done, first.kept, first.failed) == (3, 0, 0)
    second = prepare_records(records, out, settings, class_names=source.class_names, shard=1, num_shards=2)
    again = prepare_records(records, out, settings, class_names=source.class_names, shard=0, num_shards=2)
    assert (second.done, again.done, again.kept) == (2, 0, 3)  # a rerun keeps what is there
    prepared = resolve_dataset(str(out))  # detected as a manifest, labels kept
    assert len(prepared) == 5 and prepared.labels == [r.label for r in records]
    original, copy = read_video(records[0].path), read_video(prepared.records[0].path)
    assert copy.frames.shape[0] == original.frames.shape[0] and min(copy.frames.shape[1:3]) == 32
    with VideoReader(prepared.records[0].path) as reader:
        keyframes = reader.keyframe_timestamps()
    assert len(keyframes) == int(np.ceil(original.frames.shape[0] / 4))  # a keyframe every 4 frames
    with pytest.raises(ConfigError, match="other settings"):
        prepare_records(records, out, PrepareSettings(short_side=32, gop=8), class_names=source.class_names)


def test_prepare_command(tiny_synth, tmp_path, capsys):
    out = tmp_path / "p"
    assert main(["prepare", f"synth:{tiny_synth}", "--out", str(out), "--short-side", "32", "--gop", "8",
                 "--num-shards", "8", "--shard", "3"]) == 0
    assert "kB per video-second" in capsys.readouterr().out
    assert len(resolve_dataset(str(out))) == len(resolve_dataset(f"synth:{tiny_synth}").records[3::8])


def test_all_keyframe_copies_read_the_same_frames_as_a_full_decode(tiny_synth, tmp_path):
    """Every frame a keyframe: one seek per requested frame, stopping at the frame itself."""
    record = resolve_dataset(f"synth:{tiny_synth}").records[0]
    summary = prepare_records([record], tmp_path / "g1", PrepareSettings(short_side=0, gop=1), class_names=[])
    path = str(tmp_path / "g1" / summary.rows[0]["path"])
    full = read_video(path)
    times = np.array([0.0, 3.0, 4.0, 9.0, 15.0]) / VideoReader(path).fps
    with VideoReader(path) as reader:
        assert len(reader._groups(times)) == len(times)
        got = reader.frames_at(times)
    np.testing.assert_array_equal(got.frames, full.frames[[0, 3, 4, 9, 15]])
