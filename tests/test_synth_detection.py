"""The synthetic detection benchmark: actors, labels, boxes, scene bias, files."""

import numpy as np
import pytest

from modist.data.adapters.ava import load_ava
from modist.errors import ConfigError
from modist.synth.classes import CLASS_NAMES
from modist.synth.config import DetectionSynthConfig
from modist.synth.detection import (
    ACTIONS,
    IN_PLACE_CLASSES,
    MAX_OVERLAP_IOU,
    PATH_CLASSES,
    _iou,
    generate_detection,
    render_detection_video,
    video_rng,
)

SMALL = DetectionSynthConfig(train_videos=3, val_videos=1, test_videos=2, seconds=3, size=64)


def _videos(cfg, split, count):
    return [render_detection_video(cfg, split, video_rng(cfg.seed, split, i)) for i in range(count)]


def test_translating_actor_box_follows_its_direction():
    cfg = DetectionSynthConfig(seconds=3, size=64, multi_label=0.0, camera_pan_prob=0.0, num_distractors=0)
    seen = set()
    for frames, actors, _ in _videos(cfg, "train", 12):
        assert frames.shape == (48, 64, 64, 3)
        for actor in actors:
            name = ACTIONS[actor.actions[0]]
            centre = (actor.boxes[:, :2] + actor.boxes[:, 2:]) / 2
            dx, dy = centre[-1] - centre[0]
            expected = {"translate_right": dx > 0.1, "translate_left": dx < -0.1,
                        "translate_down": dy > 0.1, "translate_up": dy < -0.1}.get(name)
            if expected is not None:
                assert expected, (name, dx, dy)
                seen.add(name)
            if name in ("rotate_cw", "rotate_ccw"):  # turning in place: the centre stays within a few px
                assert abs(dx) < 0.1 and abs(dy) < 0.1
    assert len(seen) >= 2


def test_boxes_hold_the_drawn_actor_and_actors_rarely_overlap():
    cfg = DetectionSynthConfig(seconds=3, size=64, camera_pan_prob=0.0, num_distractors=0, scene_bias=0.0)
    bare = DetectionSynthConfig(**{**cfg.__dict__, "min_actors": 1, "max_actors": 1})
    for frames, actors, _ in _videos(bare, "train", 4):
        (actor,) = actors
        # Without pan or distractors only the actor changes between frames: nothing changes
        # outside its box (grown by the 2 px it can move in a frame).
        x1, y1, x2, y2 = np.round(actor.boxes[16] * 64).astype(int)
        change = np.abs(frames[16].astype(int) - frames[17].astype(int)).sum(axis=2)
        outside = change.copy()
        outside[max(y1 - 2, 0):y2 + 2, max(x1 - 2, 0):x2 + 2] = 0
        assert outside.max() == 0 and 2 <= x2 - x1 <= 40 and 2 <= y2 - y1 <= 40
    worst = []
    for _, actors, _ in _videos(cfg, "train", 10):
        for i in range(len(actors)):
            for j in range(i):
                worst.append(_iou(actors[i].boxes, actors[j].boxes).max())
    assert np.mean(np.array(worst) <= MAX_OVERLAP_IOU + 0.05) >= 0.9


def test_two_label_actors_combine_a_path_and_an_in_place_motion():
    for multi, sizes in ((1.0, {2}), (0.0, {1})):
        cfg = DetectionSynthConfig(seconds=2, size=48, multi_label=multi)
        labels = [a.actions for _, actors, _ in _videos(cfg, "train", 6) for a in actors]
        assert {len(ls) for ls in labels} == sizes
        if multi:
            assert all(CLASS_NAMES[ls[0] - 1] in PATH_CLASSES and CLASS_NAMES[ls[1] - 1] in IN_PLACE_CLASSES
                       for ls in labels)


def test_scene_bias_ties_the_background_to_the_first_actor_except_in_test_unbiased():
    cfg = DetectionSynthConfig(seconds=2, size=48, scene_bias=1.0)
    for split, tied in (("train", True), ("test_biased", True), ("test_unbiased", False)):
        hits = [family == actors[0].actions[0] - 1 for _, actors, family in _videos(cfg, split, 20)]
        assert all(hits) if tied else np.mean(hits) < 0.5


def test_files_are_in_the_ava_layout_with_multi_label_boxes_and_are_reused(tmp_path):
    out = generate_detection(tmp_path, SMALL)
    train = load_ava(out, "train")
    assert len(train.keyframes) == 3 * 2 and len(train.label_map) == 10
    assert all(2 <= len(kf.boxes) <= 3 for kf in train.keyframes)
    assert all(0 <= v <= 1 for kf in train.keyframes for v in kf.boxes.ravel())
    assert {len(ls) for kf in train.keyframes for ls in kf.labels} <= {1, 2}
    test = load_ava(out, "test_unbiased")
    assert test.excluded == {"test_unbiased0000,0902", "test_unbiased0001,0902"}
    assert test.proposals is not None and len(test.proposals.keys) > 0
    stamp = (out / "synth_det.json").stat().st_mtime_ns
    generate_detection(tmp_path, SMALL)
    assert (out / "synth_det.json").stat().st_mtime_ns == stamp


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="scene_bias"):
        DetectionSynthConfig(scene_bias=1.5).validate()
    with pytest.raises(ConfigError, match="min_actors"):
        DetectionSynthConfig(min_actors=3, max_actors=2).validate()
    with pytest.raises(ConfigError, match="unknown config key 'actors'"):
        DetectionSynthConfig.from_dict({"actors": 3})
