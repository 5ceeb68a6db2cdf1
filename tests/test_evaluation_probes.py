"""Motion-awareness probes: labels, the probe split, and encoders whose answer is known."""

import numpy as np
import pytest
import torch
from torch import nn

from modist.data.records import VideoRecord
from modist.errors import DataError
from modist.evaluation.encoder import EvalEncoder
from modist.evaluation.linear_probe import LinearRecipe
from modist.evaluation.probes import (
    arrow_label,
    flow_partners,
    probe_features,
    run_probe,
    split_videos,
    task_views,
)
from modist.models.encoder_io import EncoderSpec

torch.set_num_threads(1)
RECIPE = LinearRecipe(epochs=30)
RGB = EncoderSpec("r3d_tiny", 3)  # the test networks below take RGB clips; the probes read only the modality


class FrameBlind(nn.Module):
    """Per-frame features averaged over time: blind to frame order by construction."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 6, (1, 3, 3), padding=(0, 1, 1))

    def forward(self, x):
        return torch.relu(self.conv(x)).mean(dim=(2, 3, 4))


class FirstMinusLast(nn.Module):
    """Knows the order: the first frame's pixels, then the last frame's."""

    def forward(self, x):
        pooled = nn.functional.adaptive_avg_pool3d(x, (x.shape[2], 2, 2))
        return torch.cat([pooled[:, :, 0].flatten(1), pooled[:, :, -1].flatten(1)], 1)


def _encoder(backbone):
    return EvalEncoder(backbone, RGB, clip_frames=4, stride=2, crop_size=32)


def _records(root, n=12):
    from modist.synth import read_manifest

    rows = [r for r in read_manifest(root / "manifest.csv") if r.split == "train"][:n]
    return [VideoRecord(str(r.path), r.label) for r in rows]


def test_reversing_a_clip_flips_its_arrow_of_time_label():
    (fwd, a), (rev, b) = task_views("arrow", start=3, clip_frames=8, stride=2)
    assert (a, b) == (0, 1) == (arrow_label(fwd), arrow_label(rev))
    assert rev.tolist() == fwd[::-1].tolist()
    assert arrow_label(rev[::-1]) == a and arrow_label(fwd[::-1]) == b


def test_speed_and_static_views():
    views = task_views("speed", start=1, clip_frames=3, stride=2)
    assert [(v.tolist(), y) for v, y in views] == [([1, 3, 5], 0), ([1, 5, 9], 1), ([1, 9, 17], 2)]
    (moving, y0), (still, y1) = task_views("static", start=0, clip_frames=4, stride=1, frame=2)
    assert (y0, y1) == (0, 1) and still.tolist() == [2, 2, 2, 2]


def test_flow_follows_the_direction_of_play():
    assert flow_partners(np.array([2, 4, 6]), 1, 10).tolist() == [3, 5, 7]
    assert flow_partners(np.array([6, 4, 2]), 1, 10).tolist() == [5, 3, 1]
    assert flow_partners(np.array([3, 3, 3]), 1, 10).tolist() == [3, 3, 3]
    assert flow_partners(np.array([9, 5, 0]), 2, 10).tolist() == [7, 3, 0]


@pytest.mark.parametrize("n", [2, 7, 10, 101])
def test_probe_split_never_shares_a_video(n):
    for seed in range(5):
        train, test = split_videos(n, seed=seed)
        assert not set(train) & set(test)
        assert sorted([*train, *test]) == list(range(n))
        assert abs(len(train) - len(test)) <= 1
    assert not np.array_equal(split_videos(n, seed=0)[1], split_videos(n, seed=1)[1]) or n == 2


def test_frame_order_blind_encoder_stays_at_chance_on_arrow_of_time(tiny_synth):
    torch.manual_seed(0)
    enc = _encoder(FrameBlind())
    x, y, vid, _ = probe_features(enc, _records(tiny_synth), "arrow")
    np.testing.assert_allclose(x[y == 0], x[y == 1], rtol=1e-5, atol=1e-6)
    res = run_probe(enc, _records(tiny_synth), "arrow", recipe=RECIPE)
    # Both clips of a video get one prediction: exactly one of the two is right.
    assert res.accuracy == 0.5 and set(res.per_video) == {0.5}
    assert res.train_videos + res.test_videos == 12 and res.chance == 0.5
    s = res.summary()
    assert s["accuracy_interval"]["low"] == s["accuracy_interval"]["high"] == 0.5


def test_order_aware_encoder_beats_chance_on_arrow_of_time(monkeypatch):
    import modist.evaluation.probes as probes

    def fade_in(record, span, margin, rng, short_side):  # videos that brighten: order visible in pixels
        noise = np.random.default_rng(int(record.path)).integers(0, 40, (span, 32, 32, 3))
        return (20 + 12 * np.arange(span)[:, None, None, None] + noise).clip(0, 255).astype(np.uint8), 0, 16

    monkeypatch.setattr(probes, "_window", fade_in)
    records = [VideoRecord(str(i), None) for i in range(16)]
    assert run_probe(_encoder(FirstMinusLast()), records, "arrow", recipe=RECIPE).accuracy == 1.0
    assert run_probe(_encoder(FrameBlind()), records, "arrow", recipe=RECIPE).accuracy == 0.5


def test_videos_too_short_for_four_times_the_stride_are_skipped_and_counted(tiny_synth):
    enc = _encoder(FrameBlind())  # 4 frames at stride 8 span 25 frames; the videos have 16
    _, y, _, counts = probe_features(enc, _records(tiny_synth, 3), "speed")
    assert len(y) == 0 and counts == {"short": 3, "unreadable": 0}
    with pytest.raises(DataError, match="3 shorter than 25 frames"):
        run_probe(enc, _records(tiny_synth, 3), "speed")
    short = EvalEncoder(FrameBlind(), RGB, clip_frames=3, stride=2, crop_size=32)  # span 17 at 4x
    with pytest.raises(DataError, match="3 shorter than 17"):
        run_probe(short, _records(tiny_synth, 3), "speed")
    enc2 = EvalEncoder(FrameBlind(), RGB, clip_frames=2, stride=2, crop_size=32)  # span 9
    _, y, vid, counts = probe_features(enc2, _records(tiny_synth, 3), "speed")
    assert y.tolist() == [0, 1, 2] * 3 and counts["short"] == 0
