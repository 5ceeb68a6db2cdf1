"""Rendering of the synthetic benchmark: determinism, per-class motion, masks, pan."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from modist.errors import ConfigError
from modist.synth import BACKGROUND_NAMES, CLASS_NAMES, SynthConfig, plan_video, render_video, sample_motion
from modist.synth.classes import Motion
from modist.synth.scene import DISTRACTOR_MAX_SPEED, PAN_SPEED, draw_video

STILL = SynthConfig(size=64, num_frames=16, num_distractors=0, camera_pan_prob=0.0)
SEEDS = (1, 2, 3)


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def centroids(masks: np.ndarray) -> np.ndarray:
    """Mask centroid (x, y) per frame."""
    out = []
    for mask in masks:
        ys, xs = np.nonzero(mask)
        out.append((xs.mean(), ys.mean()))
    return np.array(out)


def orientation_deg(mask: np.ndarray) -> float:
    """Principal-axis angle in image coordinates (x right, y down): an increase turns the
    axis from +x towards +y, i.e. clockwise as seen on screen."""
    ys, xs = np.nonzero(mask)
    x, y = xs - xs.mean(), ys - ys.mean()
    return float(np.degrees(0.5 * np.arctan2(2 * (x * y).mean(), (x * x).mean() - (y * y).mean())))


def mean_turn_deg(masks: np.ndarray) -> float:
    angles = np.array([orientation_deg(m) for m in masks])
    steps = (np.diff(angles) + 90) % 180 - 90  # axes are defined modulo 180 degrees
    return float(steps.mean())


def render(label: int, seed: int, config: SynthConfig = STILL) -> tuple[np.ndarray, np.ndarray]:
    return render_video(config, label, label, rng(seed))


def test_orientation_helper_follows_opencv_convention():
    # cv2.getRotationMatrix2D: a positive angle turns counter-clockwise on screen, so a
    # negative one turns clockwise, which must increase orientation_deg.
    mask = np.zeros((64, 64), np.uint8)
    cv2.rectangle(mask, (20, 28), (44, 36), 1, -1)
    turned = cv2.warpAffine(mask, cv2.getRotationMatrix2D((32, 32), -20, 1.0), (64, 64), flags=cv2.INTER_NEAREST)
    assert orientation_deg(mask.astype(bool)) == pytest.approx(0, abs=1)
    assert orientation_deg(turned.astype(bool)) == pytest.approx(20, abs=2)


def test_class_and_background_lists():
    assert CLASS_NAMES[:4] == ("translate_right", "translate_left", "translate_up", "translate_down")
    assert len(CLASS_NAMES) >= 10 and len(BACKGROUND_NAMES) == len(CLASS_NAMES)


def test_same_seed_same_video_and_different_seed_different_video():
    cfg = SynthConfig(num_frames=8)
    a_frames, a_masks = render_video(cfg, 4, 2, rng(7))
    b_frames, b_masks = render_video(cfg, 4, 2, rng(7))
    c_frames, _ = render_video(cfg, 4, 2, rng(8))
    assert a_frames.dtype == np.uint8 and a_frames.shape == (8, 64, 64, 3)
    assert a_masks.dtype == bool and a_masks.shape == (8, 64, 64)
    np.testing.assert_array_equal(a_frames, b_frames)
    np.testing.assert_array_equal(a_masks, b_masks)
    assert np.abs(a_frames.astype(int) - c_frames).mean() > 5


def test_actor_appearance_does_not_depend_on_class_or_background():
    sprites = [plan_video(STILL, label, bg, rng(11)).sprite.rgba for label, bg in [(0, 0), (5, 0), (9, 3)]]
    for other in sprites[1:]:
        np.testing.assert_array_equal(sprites[0], other)


@pytest.mark.parametrize(
    "name,direction", [("translate_right", (1, 0)), ("translate_left", (-1, 0)), ("translate_up", (0, -1)),
                       ("translate_down", (0, 1))]
)
@pytest.mark.parametrize("seed", SEEDS)
def test_translation_moves_the_mask_the_named_way(name, direction, seed):
    _, masks = render(CLASS_NAMES.index(name), seed)
    steps = np.diff(centroids(masks), axis=0)
    along = steps @ np.array(direction, float)
    across = steps @ np.array([-direction[1], direction[0]], float)
    # 1-2 px/frame, direction jittered by at most 10 degrees (tan 10 deg = 0.18)
    assert 0.9 < along.mean() < 2.1
    assert abs(across.mean()) < 0.25 * along.mean()
    assert (along > 0).all()


@pytest.mark.parametrize("name,sign", [("rotate_cw", 1), ("rotate_ccw", -1)])
@pytest.mark.parametrize("seed", SEEDS)
def test_rotation_turns_the_named_way_in_place(name, sign, seed):
    _, masks = render(CLASS_NAMES.index(name), seed)
    turn = mean_turn_deg(masks)
    assert 5 < sign * turn < 13  # 6-12 deg/frame, measured on a pixel mask
    assert np.ptp(centroids(masks), axis=0).max() < 1.5


@pytest.mark.parametrize("name,grows", [("zoom_in", True), ("zoom_out", False)])
@pytest.mark.parametrize("seed", SEEDS)
def test_zoom_changes_the_area_monotonically(name, grows, seed):
    _, masks = render(CLASS_NAMES.index(name), seed)
    area = masks.sum(axis=(1, 2)).astype(float)
    ratio = area[-1] / area[0] if grows else area[0] / area[-1]
    # 3-5 %/frame over 15 frames: size x1.56-2.08, area x2.4-4.3
    assert 2.0 < ratio < 5.0
    assert (np.sign(np.diff(area)) == (1 if grows else -1)).mean() > 0.8
    assert np.ptp(centroids(masks), axis=0).max() < 1.5


@pytest.mark.parametrize("seed", SEEDS)
def test_oscillation_is_horizontal_and_turns_back(seed):
    _, masks = render(CLASS_NAMES.index("oscillate"), seed)
    x, y = centroids(masks).T
    assert np.ptp(y) < 1.0
    assert 8 < np.ptp(x) < 29  # amplitude 8-14 px
    # period 8-16 frames: 16 frames hold at least one turn in each direction
    signs = np.sign(np.diff(x))
    assert (signs > 0).any() and (signs < 0).any()


@pytest.mark.parametrize("seed", SEEDS)
def test_circle_keeps_a_constant_radius(seed):
    _, masks = render(CLASS_NAMES.index("circle"), seed)
    x, y = centroids(masks).T
    # algebraic circle fit: x^2 + y^2 = a x + b y + c
    (a, b, c), *_ = np.linalg.lstsq(np.stack([x, y, np.ones_like(x)], 1), x * x + y * y, rcond=None)
    centre = np.array([a / 2, b / 2])
    radii = np.hypot(x - centre[0], y - centre[1])
    assert 9 < radii.mean() < 17  # radius 10-16 px
    assert radii.std() < 0.6
    assert np.ptp(np.unwrap(np.arctan2(y - centre[1], x - centre[0]))) > np.pi * 0.9  # at least half a turn


def test_mask_covers_exactly_the_pixels_the_actor_changes():
    cfg = SynthConfig(num_frames=12)  # with distractors and pan
    for seed, label in [(21, 0), (22, 4), (23, 6), (24, 9)]:
        with_actor, masks = render_video(cfg, label, 3, rng(seed))
        without_actor, masks_again = render_video(cfg, label, 3, rng(seed), draw_actor=False)
        np.testing.assert_array_equal(masks, masks_again)
        changed = (with_actor != without_actor).any(axis=-1)
        assert masks.any(axis=(1, 2)).all()
        assert not (changed & ~masks).any()
        assert changed[masks].mean() > 0.7  # the actor is visible where the mask says


def test_actor_stays_inside_the_frame_with_pan_and_default_length():
    cfg = SynthConfig(camera_pan_prob=1.0, num_distractors=0)
    for seed in range(10):
        for label in range(len(CLASS_NAMES)):
            plan = plan_video(cfg, label, 0, rng(100 * seed + label))
            _, masks = draw_video(plan, draw_actor=False)
            assert masks.any(axis=(1, 2)).all()
            border = masks[:, 0, :].any() or masks[:, -1, :].any() or masks[:, :, 0].any() or masks[:, :, -1].any()
            assert not border, (CLASS_NAMES[label], seed)


def test_camera_pan_shifts_the_background_at_constant_velocity():
    cfg = SynthConfig(num_frames=16, camera_pan_prob=1.0, num_distractors=0)
    noise = BACKGROUND_NAMES.index("blurred_noise")
    plan = plan_video(cfg, CLASS_NAMES.index("rotate_cw"), noise, rng(5))
    velocity = np.diff(plan.pan, axis=0)
    assert np.allclose(velocity, velocity[0])
    assert PAN_SPEED[0] - 1e-9 <= np.hypot(*velocity[0]) <= PAN_SPEED[1] + 1e-9
    frames, _ = draw_video(plan, draw_actor=False)
    first, last = (cv2.cvtColor(frames[i], cv2.COLOR_RGB2GRAY).astype(np.float32) for i in (0, -1))
    (dx, dy), _ = cv2.phaseCorrelate(first, last)
    np.testing.assert_allclose([dx, dy], plan.pan[-1] - plan.pan[0], atol=0.6)


def test_without_pan_the_background_is_still():
    frames, masks = render_video(STILL, 0, 5, rng(3))
    still = ~masks.any(axis=0)
    np.testing.assert_array_equal(frames[0][still], frames[-1][still])


def test_distractors_wander_smoothly_and_slowly():
    cfg = SynthConfig(num_distractors=3, camera_pan_prob=0.0)
    plan = plan_video(cfg, 0, 0, rng(9))
    assert len(plan.distractors) == 3
    for outline, path, _ in plan.distractors:
        assert 6 * 0.5 <= np.ptp(outline, axis=0).max() <= 10 + 1e-9
        speed = np.hypot(*np.diff(path, axis=0).T)
        assert speed.max() <= DISTRACTOR_MAX_SPEED + 1e-9
        assert np.ptp(path, axis=0).max() > 0.5  # it does move


def test_motion_ranges_scale_with_frame_size():
    small = sample_motion(0, rng(4), 16, unit=1.0)
    large = sample_motion(0, rng(4), 16, unit=2.0)
    np.testing.assert_allclose(large.offset, 2 * small.offset)
    assert isinstance(small, Motion)


@pytest.mark.parametrize(
    "field,value", [("train_per_class", -1), ("test_per_class", -3), ("size", 8), ("scene_bias", 1.5),
                    ("num_distractors", -1), ("num_frames", 1)]
)
def test_invalid_config_names_the_key(field, value):
    with pytest.raises(ConfigError, match=field):
        SynthConfig(**{field: value}).validate()
