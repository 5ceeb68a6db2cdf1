"""``modist flow --visualize``: side-by-side GIF / MP4 of a real video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modist.cli.main import main
from modist.data.video import read_video, write_video

VIDEOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos"


def _moving_square_video(path: Path) -> None:
    frames = np.full((6, 48, 64, 3), 40, np.uint8)
    for t in range(6):
        frames[t, 16:32, 8 + 3 * t : 24 + 3 * t] = 220
    write_video(path, frames, fps=6)


def test_visualize_gif_has_three_panels(tmp_path):
    video = tmp_path / "square.mp4"
    _moving_square_video(video)
    out = tmp_path / "vis.gif"
    assert main(["flow", "--visualize", str(video), "--out", str(out)]) == 0
    with Image.open(out) as gif:
        assert gif.size == (3 * 64, 48)
        assert gif.n_frames == 5
        gif.seek(2)
        frame = np.asarray(gif.convert("RGB"))
    colour, edges = frame[:, 64:128], frame[:, 128:]
    assert colour[2, 2].min() > 200  # static corner: white (zero flow)
    # Edges only around the square. On the authors' scale (normalised Sobel, 255 = 10 px/px) a
    # 3 px step of flow magnitude is about 1.5 -> 38 at most, less where DIS smooths the square.
    assert edges[2, 2].max() < 3 and edges.max() > 8


def test_visualize_backward_pairs_each_frame_with_the_one_flow_gap_before(tmp_path):
    from modist.flow.visualize import flow_panels

    frames = np.zeros((6, 16, 16, 3), np.uint8)
    frames[..., 0] = np.arange(6)[:, None, None] * 40  # frame t is red 40 t
    forward = flow_panels(frames, flow_gap=2, preset="ultrafast")
    backward = flow_panels(frames, flow_gap=2, flow_direction="backward", preset="ultrafast")
    assert [int(p[0, 0, 0]) for p in forward] == [0, 40, 80, 120]  # frames 0..3 -> 2..5
    assert [int(p[0, 0, 0]) for p in backward] == [80, 120, 160, 200]  # frames 2..5 -> 0..3


def test_visualize_real_video_to_mp4(tmp_path):
    source = VIDEOS / "unlabeled" / "box.mp4"
    if not source.exists():
        pytest.skip("shared videos not available")
    out = tmp_path / "vis.mp4"
    assert main(["flow", "--visualize", str(source), "--out", str(out), "--max-frames", "6", "--short-side", "64"]) == 0
    frames = read_video(out).frames
    first = read_video(source, max_frames=1, short_side=64).frames[0]
    assert frames.shape == (5, first.shape[0], 3 * first.shape[1], 3)
    np.testing.assert_allclose(frames[0, :, : first.shape[1]].mean(), first.mean(), atol=8)  # left panel = video


def test_bad_output_name_and_missing_video(tmp_path, capsys):
    assert main(["flow", "--visualize", str(tmp_path / "none.mp4"), "--out", str(tmp_path / "x.avi")]) == 2
    assert ".gif or .mp4" in capsys.readouterr().err
    assert main(["flow", "--visualize", str(tmp_path / "none.mp4"), "--out", str(tmp_path / "x.gif")]) == 2
    assert "none.mp4" in capsys.readouterr().err
    assert not (tmp_path / "x.gif").exists()
