"""Clip samplers: gap bounds, clamping on short videos, determinism, motion clips and flow partners."""

from __future__ import annotations

import numpy as np
import pytest

from modist.data.sampling import (
    clip_indices,
    clip_span,
    flow_partners,
    joint_span,
    motion_clip,
    sample_pair_starts,
    uniform_clip_starts,
)


def test_clip_span_and_indices_by_hand():
    assert clip_span(8, 4) == 29
    np.testing.assert_array_equal(clip_indices(10, 4, 3, 100), [10, 13, 16, 19])
    np.testing.assert_array_equal(clip_indices(95, 4, 3, 100), [95, 98, 99, 99])  # repeats the last frame


def test_pair_gap_within_bounds_and_clip_inside_video():
    fps, frames, stride, n = 30.0, 900, 4, 8  # a 30 s video
    for seed in range(300):
        a, b = sample_pair_starts(frames, fps, n, stride, 0.5, 10.0, np.random.default_rng(seed))
        gap = abs(a - b)
        assert 15 <= gap <= 300  # 0.5 s .. 10 s at 30 fps
        assert 0 <= min(a, b) and max(a, b) + clip_span(n, stride) <= frames


def test_pair_gap_is_clamped_on_short_videos():
    # 40 frames, clip span 29: only 11 frames of room, less than the 15-frame minimum gap.
    for seed in range(50):
        a, b = sample_pair_starts(40, 30.0, 8, 4, 0.5, 10.0, np.random.default_rng(seed))
        assert sorted((a, b)) == [0, 11]
    # Shorter than one clip: both clips start at 0.
    assert sample_pair_starts(10, 30.0, 8, 4, 0.5, 10.0, np.random.default_rng(0)) == (0, 0)


def test_pair_sampling_is_deterministic_and_uses_both_orders():
    draws = [sample_pair_starts(600, 30.0, 8, 4, 0.5, 10.0, np.random.default_rng(7)) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]
    pairs = [sample_pair_starts(600, 30.0, 8, 4, 0.5, 10.0, np.random.default_rng(s)) for s in range(40)]
    orders = {a < b for a, b in pairs}
    assert orders == {True, False}


def test_uniform_clip_starts_by_hand():
    assert uniform_clip_starts(129, 8, 4, 5) == [0, 25, 50, 75, 100]
    assert uniform_clip_starts(129, 8, 4, 1) == [50]
    assert uniform_clip_starts(10, 8, 4, 3) == [0, 0, 0]


def test_flow_partners_by_hand():
    frames = np.array([0, 1, 4, 5, 9])
    assert flow_partners(frames, 5, "forward", 10).tolist() == [5, 6, 9, 9, 9]  # clamped to the last frame
    assert flow_partners(frames, 5, "backward", 10).tolist() == [0, 0, 0, 0, 4]  # clamped to the first frame
    assert flow_partners(frames, 1, "forward", 10).tolist() == [1, 2, 5, 6, 9]
    assert flow_partners(frames, 1, "backward", 10).tolist() == [0, 0, 3, 4, 8]
    with pytest.raises(ValueError, match="unknown flow direction 'sideways'"):
        flow_partners(frames, 1, "sideways", 10)


def test_motion_clip_defaults_to_the_rgb_clip():
    assert motion_clip(8, 8) == (8, 8)
    assert motion_clip(8, 8, 16, 4) == (16, 4)
    assert motion_clip(8, 8, 16, 0) == (16, 8) and motion_clip(8, 8, 0, 4) == (8, 4)
    assert (joint_span(8, 8), joint_span(8, 8, 16, 4), joint_span(16, 4, 8, 8)) == (57, 61, 61)
    assert joint_span(8, 2, 4, 1) == 15  # a shorter motion clip: the RGB clip's span


def test_pair_starts_leave_room_for_a_longer_motion_clip():
    rgb_only, joint = set(), set()
    for seed in range(200):
        rgb_only.update(sample_pair_starts(70, 30.0, 8, 8, 0.0, 10.0, np.random.default_rng(seed)))
        joint.update(sample_pair_starts(70, 30.0, 8, 8, 0.0, 10.0, np.random.default_rng(seed), span=61))
    assert max(rgb_only) == 70 - 57 and max(joint) == 70 - 61 and min(joint) == 0
    assert uniform_clip_starts(70, 8, 8, 2) == [0, 13] and uniform_clip_starts(70, 8, 8, 2, span=61) == [0, 9]
