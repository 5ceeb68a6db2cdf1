"""VideoReadError's parts (path, reason, kind) from hand-written messages, and decoder causes."""

from __future__ import annotations

import pickle

import av
import pytest

from modist.data.video import cause_text
from modist.errors import DataError, VideoReadError


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("file not found", "file not found"),
        ("file is empty", "file is empty"),
        ("no video stream", "no video stream"),
        ("cannot open (Invalid data found when processing input)", "cannot open"),
        ("truncated or corrupt: decoding stopped at 0.87 s of 2.00 s (End of file)", "truncated or corrupt"),
        ("truncated or corrupt: decoding failed (end of file)", "truncated or corrupt"),
        ("no decodable frames (Invalid data found when processing input)", "no decodable frames"),
        ("decoding failed at 1.20 s of 3.00 s (End of file)", "decoding failed at 1.20 s of 3.00 s"),
        ("no frames between 2.0 s and 1.0 s", "no frames between 2.0 s and 1.0 s"),
        ("", "unreadable"),
    ],
)
def test_reason_and_kind(reason, kind):
    err = VideoReadError("/data/v.mp4", reason)
    assert str(err) == f"/data/v.mp4: {reason}"
    assert (err.path, err.reason, err.kind) == ("/data/v.mp4", reason, kind)
    whole = VideoReadError(f"/data/v.mp4: {reason}")
    assert (whole.path, whole.reason, whole.kind) == ("/data/v.mp4", reason, kind)


def test_path_with_a_colon_stays_whole_when_given_apart():
    err = VideoReadError("/clips/Skiing: crosscountry/a.mp4", "file is empty")
    assert (err.path, err.reason, err.kind) == ("/clips/Skiing: crosscountry/a.mp4", "file is empty", "file is empty")
    again = pickle.loads(pickle.dumps(err))
    assert (type(again), str(again), again.path, again.reason) == (VideoReadError, str(err), err.path, err.reason)


def test_message_without_a_path():
    err = VideoReadError("presentation times are out of order")
    assert (err.path, err.reason, err.kind) == (None, "presentation times are out of order",
                                                "presentation times are out of order")
    assert str(pickle.loads(pickle.dumps(err))) == "presentation times are out of order"
    assert isinstance(err, DataError)


def test_accepts_a_path_object(tmp_path):
    err = VideoReadError(tmp_path / "a.mp4", "file not found")
    assert err.path == str(tmp_path / "a.mp4") and str(err) == f"{tmp_path / 'a.mp4'}: file not found"


def test_cause_text_of_decoder_exceptions():
    ffmpeg = av.error.InvalidDataError(-1094995529, "Invalid data found when processing input", "/v/a.mp4")
    assert cause_text(ffmpeg) == "Invalid data found when processing input"
    assert cause_text(ValueError("first line\nsecond line")) == "first line"
    assert cause_text(RuntimeError("Could not seek, SingleStreamDecoder.cpp:412, end of file")) == "end of file"
    assert cause_text(MemoryError()) == "MemoryError"
