import numpy as np
import pytest
import torch

from modist.config import load_config
from modist.configs import config_path
from modist.data.clips import ClipBatch
from modist.data.frame_difference import FrameDifference, frame_difference_uint8
from modist.errors import ConfigError, FlowError
from modist.flow.encodings import encode_motion
from modist.training.batches import build_clip_source, build_input_pipeline
from modist.training.trainer import pretrain

from conftest import tiny_overrides


def test_luma_difference_is_hand_computed_and_signed():
    frames = np.zeros((1, 1, 3, 3), np.uint8)
    partners = np.zeros((1, 1, 3, 3), np.uint8)
    partners[0, 0, 0] = (100, 0, 0)  # luma 29.9 -> 127.5 + 14.95 = 142.45 -> 142
    partners[0, 0, 1] = (0, 100, 0)  # luma 58.7 -> 156.85 -> 157
    frames[0, 0, 2] = (0, 0, 200)  # luma -22.8 -> 116.1 -> 116
    out = frame_difference_uint8(frames, partners)
    assert out.shape == (1, 1, 3, 1) and out.dtype == np.uint8
    assert out[0, 0, :, 0].tolist() == [142, 157, 116]
    # Swapping the pair flips the sign about 127.5.
    back = frame_difference_uint8(partners, frames)[0, 0, :, 0].astype(int)
    assert (back + out[0, 0, :, 0].astype(int)).tolist() == [255, 255, 255]


def test_a_moving_square_lights_up_only_where_it_left_and_arrived():
    frames = np.full((1, 16, 16, 3), 50, np.uint8)
    partners = frames.copy()
    frames[0, 4:8, 2:6] = 250
    partners[0, 4:8, 4:8] = 250  # moved 2 px right
    d = frame_difference_uint8(frames, partners)[0, :, :, 0].astype(int) - 128
    assert (d[4:8, 6:8] > 90).all() and (d[4:8, 2:4] < -90).all()  # arrived, left
    d[4:8, 2:4] = 0
    d[4:8, 6:8] = 0
    assert np.abs(d).max() <= 1  # unchanged pixels, the overlap included


def test_frame_diff_is_not_an_encoding_of_flow_and_needs_the_loader():
    with pytest.raises(FlowError, match="frame_diff"):
        encode_motion(torch.zeros(1, 2, 4, 4), "frame_diff")
    with pytest.raises(ConfigError, match="motion.encoding=frame_diff"):
        load_config(config_path("demo"), ["motion.encoding=frame_diff", "motion.source=store",
                                          "motion.flow_store=/nowhere"])


def test_loader_ships_frame_differences_as_encoded_motion_and_trains(tiny_synth, tmp_path):
    cfg = load_config(config_path("demo"), tiny_overrides(tiny_synth, tmp_path / "run", steps=3)
                      + ["motion.encoding=frame_diff"])
    source = build_clip_source(cfg, with_motion=True, note=False)
    assert isinstance(source.flow, FrameDifference) and source.flow.flow_gap == cfg.motion.flow_gap
    inputs = build_input_pipeline(cfg)
    rgb = torch.zeros(2, 2, 8, 32, 32, 3, dtype=torch.uint8)
    motion = torch.full((2, 2, 8, 32, 32, 1), 128, dtype=torch.uint8)
    _, m = inputs(ClipBatch(rgb=rgb, motion=motion), torch.device("cpu"), True)
    assert m.shape[2] == 1 and torch.allclose(m, torch.full_like(m, 128 / 255))  # a flip keeps no-change at 128
    result = pretrain(cfg)
    assert len(result.history) == 3 and all(np.isfinite(h["loss"]) for h in result.history)
