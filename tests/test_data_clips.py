import numpy as np
import torch

from modist.data.adapters import resolve_dataset
from modist.data.clips import ClipSource, PairClipDataset, collate_clips
from modist.flow import encode_motion
from modist.flow.precompute import PrecomputeSettings, precompute_videos
from modist.flow.sources import EstimatedFlow, FlowFromStore


def _fixed_starts(num_frames, fps):
    return [0, 5]


def test_cached_and_seeking_strategies_give_the_same_clips(tiny_synth):
    record = resolve_dataset(f"synth:{tiny_synth}").records[0]
    flow = EstimatedFlow("dis", "fast", 1)
    cached_rgb, cached_flow = ClipSource(flow, frame_cache=4).clips(record, _fixed_starts, 4, 2)
    seek_rgb, seek_flow = ClipSource(flow, frame_cache=0).clips(record, _fixed_starts, 4, 2)
    for a, b in zip(cached_rgb, seek_rgb):
        assert np.array_equal(a, b)
    for a, b in zip(cached_flow, seek_flow):
        assert np.allclose(a.astype(np.float32), b.astype(np.float32), atol=1e-2)


def test_flow_cache_and_on_the_fly_flow_agree(tiny_synth, tmp_path):
    """Training reads the same motion input from `modist flow` output as it computes itself."""
    records = resolve_dataset(f"synth:{tiny_synth}").records[:3]
    precompute_videos([r.path for r in records], tmp_path / "cache",
                      PrecomputeSettings(estimator="dis", options={"preset": "fast"}, flow_gap=2), progress=False)
    live = ClipSource(EstimatedFlow("dis", "fast", 2), frame_cache=8)
    cached = ClipSource(FlowFromStore(str(tmp_path / "cache"), 2), frame_cache=8)
    for record in records:
        rgb_a, flow_a = live.clips(record, _fixed_starts, 4, 2)
        rgb_b, flow_b = cached.clips(record, _fixed_starts, 4, 2)
        assert all(np.array_equal(a, b) for a, b in zip(rgb_a, rgb_b))
        for fa, fb in zip(flow_a, flow_b):
            # The cache stores flow clipped to +-20 px (DIS does return outliers beyond that on
            # these 48 px frames), then quantised to uint8: half a step is 40 / 255 / 2 = 0.078 px.
            fa, fb = np.clip(fa.astype(np.float32), -20, 20), fb.astype(np.float32)
            assert np.abs(fa - fb).max() <= 0.08 + 1e-2
            enc_a = encode_motion(torch.from_numpy(fa).permute(0, 3, 1, 2), "dxdy")
            enc_b = encode_motion(torch.from_numpy(fb).permute(0, 3, 1, 2), "dxdy")
            assert torch.allclose(enc_a, enc_b, atol=0.005)


def test_pair_dataset_and_collate_skip_unreadable_videos(tiny_synth, tmp_path):
    records = resolve_dataset(f"synth:{tiny_synth}").records[:4]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    records = [*records[:2], type(records[0])(str(broken), 0), *records[2:]]
    data = PairClipDataset(records, ClipSource(EstimatedFlow(), frame_cache=0), clip_frames=4, stride=2)
    batch = collate_clips([data[i] for i in range(len(data))])
    assert batch["skipped"] == 1 and batch["size"] == 4
    assert tuple(batch["rgb"].shape[:3]) == (4, 2, 4) and batch["flow"].shape[-1] == 2
    assert batch["index"].tolist() == [0, 1, 3, 4]
