"""Decoding: exact seeks, variable frame rate, rotation, odd sizes, damaged files.

Videos are written into tmp_path with ``write_video``; every frame carries its index
in its mean level (20 + 3 * index), so a returned frame names itself.
"""

from __future__ import annotations

import av
import numpy as np
import pytest

from modist.data import backends
from modist.data.backends import open_source
from modist.data.orientation import Orientation
from modist.data.video import DecodedVideo, VideoInfo, VideoReader, VideoSource, read_video, write_video
from modist.errors import ConfigError, VideoReadError

from conftest import write_audio_only

NUM, FPS = 60, 30


def frame_ids(frames: np.ndarray) -> list[int]:
    """Which written frame each decoded frame is (from its mean level, robust to coding noise)."""
    return [int(round((float(f.mean()) - 20) / 3)) for f in frames]


def indexed_frames(n: int = NUM, h: int = 48, w: int = 64) -> np.ndarray:
    """Frame i: mean level 20 + 3 i plus zero-mean noise (so files hold real data)."""
    rng = np.random.default_rng(0)
    noise = rng.integers(-16, 17, (n, h, w, 3))
    noise -= noise.mean(axis=(1, 2, 3), keepdims=True).round().astype(noise.dtype)
    return (20 + 3 * np.arange(n)[:, None, None, None] + noise).astype(np.uint8)


@pytest.fixture(scope="module")
def gop_video(tmp_path_factory) -> str:
    """2 s at 30 fps, a keyframe every 10 frames and x264's default B-frames."""
    path = tmp_path_factory.mktemp("video") / "gop.mp4"
    write_video(path, indexed_frames(), fps=FPS, gop=10)
    return str(path)


def test_full_decode_returns_every_frame_in_order(gop_video):
    video = read_video(gop_video)
    assert video.frames.shape == (NUM, 48, 64, 3)
    assert frame_ids(video.frames) == list(range(NUM))
    np.testing.assert_allclose(video.times, np.arange(NUM) / FPS, atol=1e-6)


def test_the_file_really_has_several_keyframes(gop_video):
    with av.open(gop_video) as container:
        keys = sum(p.is_keyframe for p in container.demux(video=0) if p.size)
    assert keys >= 6  # so the seeks below land on different keyframes


def test_frames_seek_exactly_in_any_order(gop_video):
    indices = [37, 0, 59, 10, 9, 11, 25, 25, 58]
    with open_source(gop_video) as source:
        video = source.frames(indices)
    assert frame_ids(video.frames) == indices
    np.testing.assert_allclose(video.times, np.array(indices) / FPS, atol=1e-6)


def test_indices_past_the_end_give_the_last_frame(gop_video):
    with open_source(gop_video) as source:
        assert frame_ids(source.frames([58, 59, 60, 61]).frames) == [58, 59, 59, 59]


def test_times_pick_the_frame_on_screen(gop_video):
    # Frame k is shown during [k/30, (k+1)/30): 0.51 s and 0.5 s -> frame 15; 0.49 s -> 14.
    # Within a tenth of a frame before a frame's time counts as that frame (time bases
    # round presentation times), so 0.499 s is frame 15 too.
    with open_source(gop_video) as source:
        video = source.frames_at([0.51, 0.5, 0.49, 0.499, 0.0, -1.0])
    assert frame_ids(video.frames) == [15, 15, 14, 15, 0, 0]


def test_clip_with_stride_and_next_frames(gop_video):
    with open_source(gop_video) as source:
        clip = source.clip(start_sec=12 / FPS, num_frames=8, stride=4, with_next=True)
    assert frame_ids(clip.frames) == [12, 16, 20, 24, 28, 32, 36, 40]
    assert frame_ids(clip.next_frames) == [13, 17, 21, 25, 29, 33, 37, 41]


def test_two_clips_far_apart_in_one_reader(gop_video):
    with VideoReader(gop_video) as reader:
        first, second = reader.clips([0.0, 1.5], num_frames=3, stride=2)
    assert frame_ids(first.frames) == [0, 2, 4]
    assert frame_ids(second.frames) == [45, 47, 49]


def test_short_side_resize_keeps_the_aspect_ratio(gop_video):
    with open_source(gop_video, short_side=24) as source:
        clip = source.clip(0.0, 2, 1)
    assert clip.frames.shape == (2, 24, 32, 3)


def test_info_reports_the_container(gop_video):
    with open_source(gop_video) as source:
        info = source.info
    assert (info.num_frames, info.width, info.height, info.codec, info.rotation) == (NUM, 64, 48, "h264", 0)
    assert info.fps == pytest.approx(FPS)
    assert info.duration == pytest.approx(NUM / FPS, abs=0.04)


def test_variable_frame_rate_uses_presentation_times(tmp_path):
    times = [0.0, 0.1, 0.15, 0.5, 0.55, 0.6, 1.2, 1.25]
    path = tmp_path / "vfr.mkv"
    write_video(path, indexed_frames(len(times)), fps=20, times=times)
    decoded = read_video(path)
    np.testing.assert_allclose(decoded.times, times, atol=1e-3)
    # On screen at t: the last frame whose time is <= t (index arithmetic at 20 fps would
    # say frame 8 for 0.4 s, which does not exist).
    with open_source(path) as source:
        video = source.frames_at([0.05, 0.12, 0.4, 0.58, 1.0, 1.3])
    assert frame_ids(video.frames) == [0, 1, 2, 4, 5, 7]


def rotation_fixture(tmp_path, degrees: int) -> str:
    frames = np.zeros((3, 32, 48, 3), np.uint8)
    frames[:, :8, :8] = 255  # a white marker in the top-left corner of the coded frame
    path = tmp_path / f"rot{degrees}.mp4"
    write_video(path, frames, fps=10, rotation=degrees)
    return str(path)


@pytest.mark.parametrize("degrees, shape, corner", [
    (90, (48, 32), "bottom-left"),   # counter-clockwise quarter turn
    (-90, (48, 32), "top-right"),    # clockwise quarter turn
    (180, (32, 48), "bottom-right"),
    (0, (32, 48), "top-left"),
])
def test_rotation_metadata_is_applied(tmp_path, degrees, shape, corner):
    path = rotation_fixture(tmp_path, degrees)
    with open_source(path) as source:
        frame = source.frames([0]).frames[0]
    assert frame.shape[:2] == shape
    quadrants = {
        "top-left": frame[:8, :8], "top-right": frame[:8, -8:],
        "bottom-left": frame[-8:, :8], "bottom-right": frame[-8:, -8:],
    }
    assert [name for name, q in quadrants.items() if q.mean() > 200] == [corner]
    with VideoReader(path) as reader:
        info = reader.info
    assert (info.width, info.height) == (shape[1], shape[0])
    assert info.rotation == (degrees if degrees != 180 else 180)


def test_orientation_matches_numpy_rotations():
    img = np.arange(2 * 3 * 1, dtype=np.uint8).reshape(2, 3, 1)
    np.testing.assert_array_equal(Orientation.from_rotation(90).apply(img), np.rot90(img, 1))
    np.testing.assert_array_equal(Orientation.from_rotation(-90).apply(img), np.rot90(img, -1))
    np.testing.assert_array_equal(Orientation.from_rotation(180).apply(img), np.rot90(img, 2))
    # Mirror only (a = -1): FFmpeg's autorotate applies hflip.
    mirror = Orientation.from_matrix((-65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30))
    np.testing.assert_array_equal(mirror.apply(img), img[:, ::-1])


def test_odd_frame_sizes_round_trip(tmp_path):
    path = tmp_path / "odd.mp4"
    frames = np.full((4, 17, 33, 3), 120, np.uint8)
    write_video(path, frames, fps=10)
    video = read_video(path)
    assert video.frames.shape == (4, 17, 33, 3)
    assert np.abs(video.frames.astype(int) - 120).max() <= 3
    with open_source(path, short_side=9) as source:
        assert source.clip(0.0, 2, 1).frames.shape == (2, 9, 17, 3)


# -- damaged and unusual files ------------------------------------------------------


def test_missing_empty_and_audio_only_files(tmp_path):
    with pytest.raises(VideoReadError, match="file not found"):
        open_source(tmp_path / "nope.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoReadError, match="file is empty"):
        open_source(tmp_path / "empty.mp4")
    audio = tmp_path / "audio.m4a"
    write_audio_only(audio)
    with pytest.raises(VideoReadError, match="no video stream"):
        read_video(audio)


def truncated_copy(source: str, target, options: dict | None = None) -> str:
    data = open(source, "rb").read()
    target.write_bytes(data[: len(data) // 2])
    return str(target)


def test_truncated_mp4_without_its_index_cannot_open(gop_video, tmp_path):
    path = truncated_copy(gop_video, tmp_path / "cut.mp4")  # moov atom is at the end
    with pytest.raises(VideoReadError, match="cannot open"):
        open_source(path)


def test_truncated_faststart_mp4_reads_up_to_the_damage(tmp_path):
    whole = tmp_path / "fs.mp4"
    write_video(whole, indexed_frames(), fps=FPS, gop=10, options={"movflags": "faststart"})
    path = truncated_copy(str(whole), tmp_path / "fs_cut.mp4")
    with open_source(path) as source:
        assert frame_ids(source.clip(0.0, 4, 2).frames) == [0, 2, 4, 6]
        with pytest.raises(VideoReadError, match="truncated or corrupt: decoding stopped at"):
            source.clip(1.5, 4, 2)
        with pytest.raises(VideoReadError, match="truncated"):
            source.frames_at([0.0, 1.9])  # what `modist data check` does


def test_unreadable_videos_name_their_kind(gop_video, tmp_path):
    # Skipped videos are counted by kind (the data check, collate_clips); each kind is one clause.
    (tmp_path / "empty.mp4").write_bytes(b"")
    cut = truncated_copy(gop_video, tmp_path / "cut.mp4")
    kinds = []
    for path in (tmp_path / "empty.mp4", cut, tmp_path / "missing.mp4"):
        with pytest.raises(VideoReadError) as caught:
            open_source(path)
        assert caught.value.path == str(path)
        kinds.append(caught.value.kind)
    assert kinds == ["file is empty", "cannot open", "file not found"]


# -- backends ---------------------------------------------------------------------


class TimeStampSource(VideoSource):
    """A decoder stand-in whose 1x1 frame holds the requested time in tenths of a second."""

    def __init__(self):
        super().__init__("/no/file.mp4")
        self._set_rate(10.0, 5.0)

    def frames_at(self, times):
        times = np.asarray(times, dtype=np.float64)
        frames = np.round(times * 10).astype(np.uint8).reshape(-1, 1, 1, 1).repeat(3, axis=3)
        return DecodedVideo(frames, times, self.fps)

    @property
    def info(self):
        return VideoInfo(self.path, 50, self.fps, self.duration, 1, 1, "none")

    def frame_grid(self):
        return self.info.num_frames, self.fps

    def close(self):
        pass


def test_every_decoder_gets_index_and_clip_requests_from_the_base_class():
    with TimeStampSource() as source:
        first, second = source.clips([0.5, 2.0], num_frames=3, stride=4, with_next=True)
        indexed = source.frames([0, 7, 31])
        with pytest.raises(ValueError, match=">= 0"):
            source.frames([-1])
    assert first.frames[:, 0, 0, 0].tolist() == [5, 9, 13]  # 0.5 s + 0.4 s steps, in tenths
    assert first.next_frames[:, 0, 0, 0].tolist() == [6, 10, 14]  # one nominal frame (0.1 s) later
    assert second.frames[:, 0, 0, 0].tolist() == [20, 24, 28]
    assert indexed.frames[:, 0, 0, 0].tolist() == [0, 7, 31]
    with pytest.raises(TypeError, match="abstract"):
        VideoSource("/no/file.mp4")


def test_backend_choice_falls_back_to_pyav(monkeypatch, gop_video):
    monkeypatch.setattr(backends, "torchcodec_error", lambda: "ImportError: no module named torchcodec")
    assert backends.resolve_backend("auto") == "pyav"
    monkeypatch.setenv("MODIST_VIDEO_BACKEND", "auto")
    with open_source(gop_video) as source:
        assert isinstance(source, VideoReader)
        assert frame_ids(source.clip(0.0, 2, 3).frames) == [0, 3]
    with pytest.raises(ConfigError, match="torchcodec' unavailable"):
        backends.resolve_backend("torchcodec")
    with pytest.raises(ConfigError, match="unknown"):
        open_source(gop_video, backend="opencv")
