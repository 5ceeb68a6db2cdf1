"""``modist data check``: readable / unreadable / missing videos, summaries, exit status, JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modist.cli.main import main
from modist.data.adapters import resolve_dataset
from modist.data.check import check_dataset, check_video
from modist.data.video import write_video

from conftest import write_audio_only


def noisy(n: int, h: int = 32, w: int = 48) -> np.ndarray:
    return np.random.default_rng(n).integers(0, 255, (n, h, w, 3), dtype=np.uint8)


def audio_only(path) -> None:
    write_audio_only(path)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """Two good videos (1 s at 20 fps, 2 s at 10 fps) and four broken files."""
    root = tmp_path_factory.mktemp("mixed")
    write_video(root / "good_a.mp4", noisy(20), fps=20)
    write_video(root / "good_b.mkv", noisy(20, 40, 64), fps=10)
    write_video(root / "fs.mp4", noisy(30), fps=10, options={"movflags": "faststart"})
    data = (root / "fs.mp4").read_bytes()
    (root / "fs.mp4").write_bytes(data[: len(data) // 2])  # index intact, data cut: truncated
    data = (root / "good_a.mp4").read_bytes()
    (root / "cut.mp4").write_bytes(data[: len(data) // 2])  # index (at the end) lost
    (root / "empty.avi").write_bytes(b"")
    audio_only(root / "audio.mp4")
    (root / "README.txt").write_text("not a video")
    return root


def test_check_video_reasons(mixed):
    assert check_video(str(mixed / "good_a.mp4")).ok
    reasons = {name: check_video(str(mixed / name)).reason for name in ("fs.mp4", "cut.mp4", "empty.avi", "audio.mp4")}
    assert reasons["fs.mp4"].startswith("truncated or corrupt: decoding stopped at")
    assert reasons["cut.mp4"].startswith("cannot open")
    assert reasons["empty.avi"] == "file is empty"
    assert reasons["audio.mp4"] == "no video stream"


def test_report_counts_and_summaries(mixed):
    report = check_dataset(resolve_dataset(str(mixed)), progress=False)
    assert len(report.files) == 6 and len(report.unreadable) == 4 and not report.all_readable
    summaries = report.summaries()
    assert summaries["duration"]["min"] == pytest.approx(1.0, abs=0.06)
    assert summaries["duration"]["max"] == pytest.approx(2.0, abs=0.11)
    assert summaries["fps"] == {"min": 10.0, "median": 15.0, "max": 20.0}
    assert summaries["width"] == {"min": 48.0, "median": 56.0, "max": 64.0}
    text = report.format()
    assert "readable 2/6, unreadable 4, missing 0" in text
    assert f"unreadable: {mixed / 'empty.avi'}: file is empty" in text


def test_full_decode_counts_frames(mixed):
    good = check_video(str(mixed / "good_b.mkv"), full=True)
    assert good.ok and good.decoded_frames == 20 and good.warning is None


def test_cli_exit_status_and_json(mixed, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert main(["data", "check", str(mixed), "--json", str(out), "--quiet"]) == 1
    report = json.loads(out.read_text())
    assert (report["videos"], report["readable"]) == (6, 2)
    reasons = {u["path"].rsplit("/", 1)[1]: u["reason"] for u in report["unreadable"]}
    assert sorted(reasons) == ["audio.mp4", "cut.mp4", "empty.avi", "fs.mp4"]
    assert reasons["empty.avi"] == "file is empty" and reasons["fs.mp4"].startswith("truncated")
    assert len(report["files"]) == 6 and report["summaries"]["fps"]["max"] == 20.0
    assert "readable 2/6" in capsys.readouterr().out


def test_cli_all_readable_is_zero_and_missing_is_one(mixed, tmp_path, capsys):
    (tmp_path / "ok.csv").write_text(f"path\n{mixed / 'good_a.mp4'}\n{mixed / 'good_b.mkv'}\n")
    assert main(["data", "check", str(tmp_path / "ok.csv"), "--quiet"]) == 0
    (tmp_path / "gone.csv").write_text(f"path\n{mixed / 'good_a.mp4'}\nnot_there.mp4\n")
    assert main(["data", "check", f"manifest:{tmp_path / 'gone.csv'}", "--quiet", "--workers", "2"]) == 1
    assert f"missing: {tmp_path / 'not_there.mp4'}" in capsys.readouterr().out


def test_cli_bad_dataset_is_a_one_line_error(tmp_path, capsys):
    assert main(["data", "check", f"ucf101:{tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modist: error: ") and "classInd.txt" in err and "Traceback" not in err
