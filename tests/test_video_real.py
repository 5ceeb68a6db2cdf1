"""Decoding the real clips in ../shared/data/videos (skipped when the folder is absent).

Every video is decoded once without RGB conversion (frame counts against the container),
clip reads are checked on all of them, and seek-decoded frames are compared with a plain
decode from the start on the files with quirks: packed B-frames in AVI (HMDB51), an MP4
whose B-frames carry decode-order times (box.mp4), variable frame rate (tree.avi),
Matroska with a start offset, and Kinetics H.264.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from modist.data.adapters import resolve_dataset
from modist.data.backends import open_source
from modist.data.video import VideoReader, read_video
from modist.errors import VideoReadError

VIDEOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos"
pytestmark = pytest.mark.skipif(not VIDEOS.is_dir(), reason="shared real videos not present")

LONG = "one-by-one-person-detection.mp4"  # 139 s: probed and clip-read, not fully decoded
VFR = "tree.avi"  # the AVI header counts 444 frame slots; only 68 hold a new picture
QUIRKY = [
    "labeled/6arrowswithin30seconds_shoot_bow_f_nm_np1_fr_med_3.avi",
    "labeled/hmdb51_Turnk_r_Pippi_Michel_cartwheel_f_cm_np2_le_med_6.avi",
    "labeled/v_SoccerJuggling_g23_c01.avi",
    "unlabeled/box.mp4",
    "unlabeled/tree.avi",
    "unlabeled/asl_gestures/book.mkv",
    "unlabeled/R6llTwEh07w.mp4",
    "unlabeled/bikes.mp4",
]


@pytest.fixture(scope="module")
def paths() -> list[str]:
    return [r.path for r in resolve_dataset(str(VIDEOS)).records]


def test_the_folder_adapter_finds_only_videos(paths):
    assert len(paths) == 42
    assert not any(p.endswith((".txt", ".csv")) for p in paths)


def test_malformed_metadata_clip_opens():
    path = VIDEOS / "labeled" / "hmdb51_Turnk_r_Pippi_Michel_cartwheel_f_cm_np2_le_med_6.avi"
    with pytest.raises(UnicodeDecodeError):
        av.open(str(path)).close()  # PyAV's default refuses it
    with VideoReader(path) as reader:
        assert reader.info.num_frames == 84


def test_decoded_frame_counts_agree_with_the_container(paths):
    for path in paths:
        if path.endswith(LONG):
            continue
        with VideoReader(path, threads=0) as reader:
            info, scan = reader.info, reader.scan()
        assert scan.error is None, path
        if path.endswith(VFR):
            assert info.num_frames == round(info.duration * info.fps) == 444
            assert scan.num_frames == 68
            continue
        # AVI headers count one placeholder packet; Matroska only estimates from duration.
        assert abs(scan.num_frames - info.num_frames) <= max(2, 0.02 * info.num_frames), path
        assert scan.last_time <= info.duration


def test_every_video_gives_clips_of_the_requested_length(paths):
    for path in paths:
        with VideoReader(path, short_side=64) as reader:
            middle = max(reader.duration / 2 - 0.5, 0.0)
            first, second = reader.clips([0.0, middle], num_frames=8, stride=4, with_next=True)
        for clip in (first, second):
            assert clip.frames.shape[0] == clip.next_frames.shape[0] == 8, path
            assert min(clip.frames.shape[1:3]) == 64, path
            assert np.all(np.diff(clip.times) >= 0), path


@pytest.mark.parametrize("relative", QUIRKY)
def test_seeking_matches_decoding_from_the_start(relative):
    path = VIDEOS / relative
    full = read_video(path, short_side=32)
    rng = np.random.default_rng(0)
    with VideoReader(path, short_side=32) as reader:
        eps = 0.1 / reader.fps
        times = np.concatenate([[0.0], rng.uniform(0, reader.duration, 6), [reader.duration]])
        for t in times:
            got = reader.frames_at([t])
            expected = max(np.searchsorted(full.times, t + eps, side="right") - 1, 0)
            np.testing.assert_array_equal(got.frames[0], full.frames[expected], err_msg=f"{relative} at {t:.3f} s")
            assert got.times[0] == pytest.approx(full.times[expected])


def test_the_long_video_is_probed_and_clip_read():
    path = VIDEOS / "unlabeled" / LONG
    with VideoReader(path) as reader:
        info = reader.info
    assert (info.num_frames, info.fps, info.width, info.height) == (1394, 10.0, 768, 432)
    with open_source(path) as source:
        clip = source.clip(start_sec=120.0, num_frames=8, stride=4)
    np.testing.assert_allclose(clip.times, 120.0 + np.arange(8) * 0.4, atol=1e-6)


def test_truncated_and_empty_copies_fail_by_kind(tmp_path, paths):
    source = VIDEOS / "unlabeled" / "SOX5yA1l24A.mp4"
    data = source.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    (tmp_path / "empty.avi").write_bytes(b"")
    shutil.copy(VIDEOS / "labeled" / "v_SoccerJuggling_g24_c01.avi", tmp_path / "ok.avi")
    outcomes = []
    for name in ("ok.avi", "cut.mp4", "empty.avi"):
        try:
            with open_source(tmp_path / name) as video:
                outcomes.append(video.clip(1.0, 8, 4).frames.shape[0])
        except VideoReadError as exc:
            outcomes.append(exc.kind)
    assert outcomes == [8, "cannot open", "file is empty"]
