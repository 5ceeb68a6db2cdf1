import numpy as np
import pytest
import torch

from modist.data.adapters import resolve_dataset
from modist.data.clips import ClipBatch, ClipSource, PairClipDataset, PartnerFrames, collate_clips
from modist.data.motion_source import MotionKind, MotionRequest
from modist.flow import encode_motion
from modist.flow.precompute import PrecomputeSettings, precompute_videos
from modist.flow.sources import EstimatedFlow, FlowFromStore

FIXED_STARTS = [0, 5]


def test_cached_and_seeking_strategies_give_the_same_clips(tiny_synth):
    record = resolve_dataset(f"synth:{tiny_synth}").records[0]
    flow = EstimatedFlow("dis", "fast", 1)
    cached = ClipSource(flow, frame_cache=4).read(record, FIXED_STARTS, 4, 2)
    seek = ClipSource(flow, frame_cache=0).read(record, FIXED_STARTS, 4, 2)
    assert cached.kind == seek.kind == MotionKind.FLOW
    for a, b in zip(cached.rgb, seek.rgb):
        assert np.array_equal(a, b)
    for a, b in zip(cached.motion, seek.motion):
        assert np.allclose(a.astype(np.float32), b.astype(np.float32), atol=1e-2)


def test_flow_cache_and_on_the_fly_flow_agree(tiny_synth, tmp_path):
    """Training reads the same motion input from `modist flow` output as it computes itself."""
    records = resolve_dataset(f"synth:{tiny_synth}").records[:3]
    precompute_videos([r.path for r in records], tmp_path / "cache",
                      PrecomputeSettings(estimator="dis", options={"preset": "fast"}, flow_gap=2), progress=False)
    live = ClipSource(EstimatedFlow("dis", "fast", 2), frame_cache=8)
    cached = ClipSource(FlowFromStore(str(tmp_path / "cache"), 2), frame_cache=8)
    for record in records:
        a, b = live.read(record, FIXED_STARTS, 4, 2), cached.read(record, FIXED_STARTS, 4, 2)
        assert all(np.array_equal(x, y) for x, y in zip(a.rgb, b.rgb))
        for fa, fb in zip(a.motion, b.motion):
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
    assert batch.skipped == 1 and batch.size == 4 and batch.skipped_paths == [str(broken)]
    assert tuple(batch.rgb.shape[:3]) == (4, 2, 4) and batch.flow.shape[-1] == 2
    assert batch.partner_frames is None and batch.motion is None
    assert batch.indices.tolist() == [0, 1, 3, 4]


def _item(h, w, index, v=2, t=4, tm=6):
    """A clip item of an h x w video whose red channel is 1..255 (never the padding's 0)."""
    rgb = torch.full((v, t, h, w, 3), 7, dtype=torch.uint8)
    rgb[..., 0] = torch.arange(1, w + 1, dtype=torch.uint8)
    flow = torch.ones(v, tm, h, w, 2)
    return {"rgb": rgb, "flow": flow, "label": index % 2, "index": index}


def test_collate_pads_clips_of_different_sizes_and_records_each_frame_size():
    items = [_item(96, 48, 0), _item(64, 64, 1), None, _item(48, 96, 2)]
    batch = collate_clips(items)
    assert batch.size == 3 and batch.skipped == 1 and batch.labels.tolist() == [0, 1, 0]
    assert batch.rgb.shape == (3, 2, 4, 96, 96, 3) and batch.flow.shape == (3, 2, 6, 96, 96, 2)
    assert batch.frame_size.tolist() == [[96, 48], [64, 64], [48, 96]]
    for i, (h, w) in enumerate(batch.frame_size.tolist()):
        # Each clip whole and top-left; zeros elsewhere.
        assert torch.equal(batch.rgb[i, :, :, :h, :w], items[[0, 1, 3][i]]["rgb"])
        assert batch.rgb[i, :, :, h:].abs().sum() == 0 and batch.rgb[i, :, :, :, w:].abs().sum() == 0
        assert batch.flow[i, :, :, :h, :w].min() == 1 and batch.flow[i].sum() == 2 * 6 * h * w * 2
    same = collate_clips([_item(48, 64, 0), _item(48, 64, 1)])
    assert same.rgb.shape == (2, 2, 4, 48, 64, 3) and same.frame_size.tolist() == [[48, 64]] * 2


def test_collated_portrait_clip_is_cropped_over_its_whole_height():
    """Through collate and the device input path, as training runs it."""
    from modist.data.augment import MEAN, STD, PairedAugment
    from modist.flow.inputs import InputPipeline

    def portrait(index):  # green = source row
        it = _item(96, 48, index, v=1, t=1, tm=1)
        it["rgb"][..., 1] = torch.arange(96, dtype=torch.uint8).view(96, 1)
        return it

    batch = collate_clips([portrait(0), _item(64, 64, 1, v=1, t=1, tm=1), _item(48, 96, 2, v=1, t=1, tm=1)])
    inputs = InputPipeline(PairedAugment(16, scale=(0.05, 0.2), flip=False, color_jitter=0, grayscale_prob=0), "dxdy")
    torch.manual_seed(0)
    rows = []
    for _ in range(60):
        rgb, _ = inputs(batch, torch.device("cpu"), with_motion=False)
        red = rgb[0, :, 0] * STD[0] + MEAN[0]
        assert red.min() > 0.5 / 255  # red is >= 1 inside every clip and 0 in the padding
        rows.append(((rgb[0, 0, 1] * STD[1] + MEAN[1]) * 255).mean().item())
    # Crop centres reach the top and bottom of the 96-high clip, not only its centre 48 rows.
    assert min(rows) < 20 and max(rows) > 76


def test_device_flow_is_estimated_on_each_items_own_frame():
    from modist.training.batches import FlowOnDevice

    seen = []

    def fake_flow(frames, partners, device):  # flow (dx, dy) = (frame width, frame height)
        seen.append(tuple(frames.shape))
        assert frames.shape == partners.shape and torch.all(partners == 9)  # never the zero padding
        h, w = frames.shape[-3:-1]
        return torch.tensor([float(w), float(h)]).expand(*partners.shape[:-1], 2).clone()

    items = []
    for i, (h, w) in enumerate([(48, 64), (32, 64), (48, 64)]):
        it = _item(h, w, i, tm=4)
        # (frame, partner) pairs, uint8, as PartnerFrames ships them
        del it["flow"]
        it["partner_frames"] = torch.cat([it["rgb"], torch.full_like(it["rgb"], 9)], -1)
        items.append(it)
    batch = collate_clips(items)
    assert batch.flow is None and batch.partner_frames.shape[-1] == 6
    got = {}
    pipeline = FlowOnDevice(lambda b, device, with_motion: got.update(batch=b), fake_flow)
    pipeline(batch, torch.device("cpu"), with_motion=True)
    assert sorted(seen) == [(1, 2, 4, 32, 64, 3), (2, 2, 4, 48, 64, 3)]
    assert got["batch"].partner_frames is None
    flow = got["batch"].flow
    assert flow.shape == (3, 2, 4, 48, 64, 2)
    assert torch.all(flow[1, ..., :32, :, 1] == 32) and torch.all(flow[1, ..., 32:, :, :] == 0)
    assert torch.all(flow[0, ..., 1] == 48) and torch.all(flow[2, ..., 0] == 64)


# --- Motion clips and flow partners: which frames each part of an item comes from ---------------

LEVEL = 4  # frame i of the index video is grey 4 i


@pytest.fixture(scope="module")
def index_video(tmp_path_factory):
    """64 frames of 32x48, frame i flat grey 4 i, so every decoded frame names its index."""
    from modist.data.video import write_video

    path = tmp_path_factory.mktemp("index") / "index.mp4"
    frames = np.repeat((np.arange(64) * LEVEL).astype(np.uint8)[:, None, None, None], 32 * 48 * 3, axis=1)
    write_video(path, frames.reshape(64, 32, 48, 3), fps=25, crf=0)
    return path


def _ids(frames) -> list[int]:
    """Frame indices of decoded index-video frames [N, H, W, 3]."""
    frames = np.asarray(frames, np.float32)
    return np.rint(frames.reshape(len(frames), -1).mean(axis=1) / LEVEL).astype(int).tolist()


@pytest.mark.parametrize("frame_cache", [0, 4], ids=["seeking", "frame_cache"])
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_rgb_clip_motion_clip_and_flow_partners_come_from_the_expected_frames(index_video, frame_cache, direction):
    from modist.data.records import VideoRecord

    # PartnerFrames ships (motion frame, partner) pairs: their grey levels name the frames.
    source = ClipSource(PartnerFrames(5, direction), frame_cache=frame_cache, motion_frames=6, motion_stride=2)
    read = source.read(VideoRecord(str(index_video)), [0, 53], 3, 4)
    rgb, pairs = read.rgb, read.motion
    assert read.kind == MotionKind.PARTNER_FRAMES
    assert [_ids(c) for c in rgb] == [[0, 4, 8], [53, 57, 61]]  # 3 x 4 RGB clips
    assert all(p.shape == (6, 32, 48, 6) for p in pairs)  # 6 x 2 motion clips, at the RGB frames' size
    assert [_ids(p[..., :3]) for p in pairs] == [[0, 2, 4, 6, 8, 10], [53, 55, 57, 59, 61, 63]]
    partners = [_ids(p[..., 3:]) for p in pairs]
    if direction == "forward":  # t + 5, clamped to the last frame (63)
        assert partners == [[5, 7, 9, 11, 13, 15], [58, 60, 62, 63, 63, 63]]
    else:  # t - 5, clamped to the first frame
        assert partners == [[0, 0, 0, 1, 3, 5], [48, 50, 52, 54, 56, 58]]


def test_a_segment_clamps_backward_partners_at_its_own_first_frame(index_video):
    from modist.data.records import VideoRecord

    record = VideoRecord(str(index_video), start_sec=0.8, end_sec=2.0)  # frames 20..49 at 25 fps
    for frame_cache in (0, 4):
        source = ClipSource(PartnerFrames(5, "backward"), frame_cache=frame_cache)
        read = source.read(record, [0], 4, 1)
        rgb, pairs = read.rgb, read.motion
        assert _ids(rgb[0]) == [20, 21, 22, 23] and _ids(pairs[0][..., 3:]) == [20, 20, 20, 20]


@pytest.mark.parametrize("frame_cache", [0, 4], ids=["seeking", "frame_cache"])
def test_pair_dataset_samples_8x8_rgb_and_16x4_motion_from_one_start(index_video, frame_cache):
    from modist.data.records import VideoRecord

    source = ClipSource(PartnerFrames(5, "backward"), frame_cache=frame_cache, motion_frames=16, motion_stride=4)
    data = PairClipDataset([VideoRecord(str(index_video))], source, clip_frames=8, stride=8, min_clip_gap_sec=0.0,
                           max_clip_gap_sec=10.0, clips_per_video=2)
    assert data.span == 61  # the 16 x 4 motion clip reaches further than the 8 x 8 RGB clip (57)
    for seed in range(4):
        torch.manual_seed(seed)
        item = data[0]
        assert item["rgb"].shape == (2, 2, 8, 32, 48, 3) and item["partner_frames"].shape == (2, 2, 16, 32, 48, 6)
        for j in range(2):  # samples of the item
            for v in range(2):  # the two clips of a pair
                start = _ids(item["rgb"][j, v])[0]
                assert 0 <= start <= 64 - 61  # both clips inside the video
                assert _ids(item["rgb"][j, v]) == [start + 8 * k for k in range(8)]
                assert _ids(item["partner_frames"][j, v, ..., :3]) == [start + 4 * k for k in range(16)]
                assert _ids(item["partner_frames"][j, v, ..., 3:]) == [max(start + 4 * k - 5, 0) for k in range(16)]
        batch = collate_clips([item])
        assert batch.rgb.shape == (2, 2, 8, 32, 48, 3) and batch.partner_frames.shape == (2, 2, 16, 32, 48, 6)


def test_multi_clip_dataset_gives_each_view_its_motion_clip(index_video):
    from modist.data.clips import MultiClipDataset
    from modist.data.records import VideoRecord

    record = VideoRecord(str(index_video))
    data = MultiClipDataset([record], ClipSource(PartnerFrames(1), motion_frames=16, motion_stride=4), 8, 8, 3)
    item = data[0]
    assert item["rgb"].shape == (3, 8, 32, 48, 3) and item["partner_frames"].shape == (3, 16, 32, 48, 6)
    starts = [0, 2, 3]  # evenly over the 64 - 61 + 1 possible starts
    assert [_ids(c)[0] for c in item["rgb"]] == starts
    assert [_ids(c[..., :3]) for c in item["partner_frames"]] == [[s + 4 * k for k in range(16)] for s in starts]
    # With estimated flow: float16 [V, Tm, H, W, 2] at the RGB frames' size, in both strategies.
    for frame_cache in (0, 4):
        source = ClipSource(EstimatedFlow("dis", "ultrafast", 5, "backward"), frame_cache=frame_cache,
                            motion_frames=16, motion_stride=4)
        item = MultiClipDataset([record], source, 8, 8, 2)[0]
        assert item["flow"].shape == (2, 16, 32, 48, 2) and item["flow"].dtype == torch.float16
    # Without a motion clip of its own, flow is that of the RGB frames (the behaviour of every recipe before).
    same = MultiClipDataset([record], ClipSource(PartnerFrames(1)), 8, 8, 2)[0]
    assert torch.equal(same["partner_frames"][..., :3], same["rgb"])


class _Recording:
    """A motion source that records its requests and answers the frame index as a one-channel input."""

    flow_gap, flow_direction, kind = 5, "backward", MotionKind.ENCODED

    def __init__(self, needs_partners):
        self.needs_partners = needs_partners
        self.requests = []

    def motion(self, request: MotionRequest) -> np.ndarray:
        self.requests.append(request)
        return np.broadcast_to(request.frames[:, None, None, None], (len(request.frames), *request.size, 1)).copy()


@pytest.mark.parametrize("frame_cache", [0, 4], ids=["seeking", "frame_cache"])
def test_a_source_that_needs_partners_gets_the_decoded_pairs_once_per_frame(index_video, frame_cache):
    from modist.data.records import VideoRecord

    source = _Recording(needs_partners=True)
    clips = ClipSource(source, frame_cache=frame_cache, motion_frames=3, motion_stride=2).read(
        VideoRecord(str(index_video), start_sec=0.8, end_sec=2.0), [0, 2], 2, 1)  # segment: frames 20..49
    (request,) = source.requests  # one request; the clips' shared frames 22 and 24 asked once
    assert _ids(request.pixels) == [20, 22, 24, 26] and _ids(request.partners) == [20, 20, 20, 21]
    assert request.size == (32, 48) and clips.kind == MotionKind.ENCODED
    assert [_ids(c) for c in clips.rgb] == [[20, 21], [22, 23]]
    assert [len(m) for m in clips.motion] == [3, 3]


@pytest.mark.parametrize("frame_cache", [0, 4], ids=["seeking", "frame_cache"])
def test_a_source_read_by_index_gets_file_frame_indices_and_no_pixels(index_video, frame_cache):
    from modist.data.records import VideoRecord

    source = _Recording(needs_partners=False)
    record = VideoRecord(str(index_video), start_sec=0.8, end_sec=2.0)  # frames 20..49
    # A store is indexed by file frame: a segment's frames count from the file's start on both paths.
    with ClipSource(source, frame_cache=frame_cache, motion_frames=3, motion_stride=2).open(record) as video:
        assert (video.num_frames, video.fps) == (30, 25.0)  # the probe: the segment's grid, nothing decoded
        assert source.requests == []
        clips = video.read([0, 2], 2, 1)
    (request,) = source.requests
    assert request.frames.tolist() == [20, 22, 24, 22, 24, 26] and request.pixels is None
    assert request.video_path == str(index_video) and request.partners is None
    assert [m[:, 0, 0, 0].tolist() for m in clips.motion] == [[20, 22, 24], [22, 24, 26]]


def test_the_dataset_samples_starts_on_the_probed_grid_and_keys_items_by_kind(index_video):
    from modist.data.clips import MultiClipDataset
    from modist.data.records import VideoRecord

    seen = []

    class Recorded(MultiClipDataset):
        def _starts(self, num_frames, fps):
            seen.append((num_frames, fps))
            return super()._starts(num_frames, fps)

    record = VideoRecord(str(index_video), start_sec=0.8, end_sec=2.0)
    item = Recorded([record], ClipSource(_Recording(needs_partners=False)), 4, 1, 2)[0]
    assert seen == [(30, 25.0)] and set(item) == {"rgb", "motion", "label", "index"}


def test_clip_batches_pickle_and_pin_field_by_field(monkeypatch):
    import pickle

    from torch.utils.data._utils.pin_memory import pin_memory

    batch = collate_clips([_item(48, 64, 0), {"unreadable": "gone.mp4"}, _item(32, 64, 1)])
    again = pickle.loads(pickle.dumps(batch))  # as it leaves a loader worker
    assert torch.equal(again.rgb, batch.rgb) and torch.equal(again.flow, batch.flow)
    assert (again.skipped, again.skipped_paths, again.size) == (1, ["gone.mp4"], 2)
    pinned = []
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self, *args: pinned.append(tuple(self.shape)) or self)
    out = pin_memory(batch)  # what the DataLoader's pin_memory=True applies to each batch
    assert isinstance(out, ClipBatch) and out.skipped_paths == ["gone.mp4"] and out.partner_frames is None
    assert sorted(pinned) == sorted([(2, 2, 4, 48, 64, 3), (2, 2, 6, 48, 64, 2), (2, 2), (2,), (2,)])
    head = batch.head(1)
    assert head.size == 1 and head.indices.tolist() == [0] and head.frame_size.tolist() == [[48, 64]]
    assert ClipBatch(skipped=3).size == 0
    # Each kind of motion has its own field, named by the kind.
    assert {kind.value for kind in MotionKind} == {"flow", "partner_frames", "motion"}
    assert all(getattr(ClipBatch(), kind.value) is None for kind in MotionKind)


def _shifting_texture_video(path, shift: int, frames: int = 8) -> None:
    """A textured frame whose content moves ``shift`` px right every frame."""
    from modist.data.video import write_video

    rng = np.random.default_rng(0)
    big = rng.random((12, 40, 3))
    big = np.kron(big, np.ones((4, 4, 1)))  # 48 x 160 blocks of 4 px: texture DIS can follow
    big = (big * 180 + 40).astype(np.uint8)
    video = np.stack([big[:, 60 - shift * t: 60 - shift * t + 64] for t in range(frames)])
    write_video(path, video, fps=10, crf=0)


def test_forward_flow_of_a_rightward_shift_is_plus_dx_and_backward_is_minus_dx(tmp_path):
    from modist.data.records import VideoRecord

    video = tmp_path / "shift.mp4"
    _shifting_texture_video(video, 2)
    record = VideoRecord(str(video))
    median = {}
    for direction in ("forward", "backward"):
        source = ClipSource(EstimatedFlow("dis", "medium", 2, direction), frame_cache=2)
        flow = source.read(record, [0], 4, 1).motion  # frames 0..3
        inner = flow[0][:, 12:36, 16:48].astype(np.float32)  # away from the frame's borders
        median[direction] = np.median(inner.reshape(4, -1, 2), axis=1)
    # Forward: frame t -> t + 2, content 4 px further right.
    np.testing.assert_allclose(median["forward"], [[4.0, 0.0]] * 4, atol=0.5)
    # Backward: frame t -> t - 2 (frames 0 and 1 clamped to frame 0): 0, -2, -4, -4 px.
    np.testing.assert_allclose(median["backward"], [[0.0, 0.0], [-2.0, 0.0], [-4.0, 0.0], [-4.0, 0.0]], atol=0.5)


def test_training_takes_a_motion_clip_longer_than_the_rgb_clip(tiny_synth, tmp_path):
    """data 4 x 4, motion 8 x 2 (the release's 8 x 8 / 16 x 4, halved), backward flow."""
    from modist.config import load_config
    from modist.runtime import TorchrunEnv
    from modist.training.batches import build_batch_stream, load_dataset
    from modist.training.trainer import pretrain

    from conftest import tiny_overrides

    cfg = load_config(None, tiny_overrides(tiny_synth, tmp_path / "run", steps=2) + [
        "data.clip_frames=4", "data.stride=4", "motion.clip_frames=8", "motion.stride=2", "motion.flow_gap=2",
        "motion.flow_direction=backward", "motion.preset=ultrafast", "model.base_width=4", "data.frame_cache=16"])
    stream = build_batch_stream(cfg, load_dataset(cfg), with_motion=True, env=TorchrunEnv(), device=torch.device("cpu"))
    batch = next(stream)
    assert tuple(batch.rgb.shape) == (2, 8, 3, 4, 32, 32) and tuple(batch.motion.shape) == (2, 8, 1, 8, 32, 32)
    result = pretrain(cfg)
    assert len(result.history) == 2 and all(np.isfinite(h["loss"]) for h in result.history)
