"""The motion input of a ``modist prepare --config RECIPE`` copy: its settings, its files, reading it.

Beside each transcoded video ``DIR/videos/<name>.mp4`` such a copy holds the recipe's *encoded*
motion input, ``DIR/motion/<name>.mp4``: one 8-bit grey frame per frame of the video, frame ``t``
holding the motion encoding (flow edges) of the flow from frame ``t`` to its partner
(:func:`~modist.data.sampling.flow_partners`: ``flow_gap`` frames on or back), estimated on
the frames the RGB copy encodes, at the size it encodes them (the recipe's ``data.short_side``).
This is how the authors trained: RAFT once over the dataset, the flow edges stored as one
video per video (fanyix/RAFT ``misc.py``), so the loader decodes and never estimates.

The stream is H.264 in the ``gray`` pixel format, every frame a keyframe (the loader reads a
motion clip's frames 4 apart, so any longer keyframe interval decodes frames it drops), tuned
for decoding speed (``tune=fastdecode``: CAVLC, no deblocking). ``crf`` sets the loss:
0 is lossless; the default 18 stores a fifth of the bytes at a mean error of about half a
level of 255 after the training crop (docs/data.md has the measurements).

``DIR/prepared.json`` records under ``"motion"`` what the input was computed with
(:class:`MotionInputSettings`). Training from the copy compares that with the recipe and
refuses, in one line naming the keys, a copy made with another estimator, preset, flow gap,
direction, encoding, clamp or short side (:func:`check_motion_settings`).

Example:
    >>> s = MotionInputSettings(flow_gap=5, flow_direction="backward")
    >>> s.mismatches({**s.to_dict(), "flow_gap": 1, "preset": "fast"})
    ['motion.preset (fast, recipe medium)', 'motion.flow_gap (1, recipe 5)']
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import av
import numpy as np

from modist.atomic import AtomicWriter
from modist.data.motion_source import MotionKind, MotionRequest
from modist.data.timing import StageTimer, stage
from modist.data.video import VideoReader, open_video
from modist.errors import ConfigError, DataError

MOTION_DIR = "motion"
SETTINGS_FILE = "prepared.json"
#: x264 quality of the stored motion input (0: lossless); see the module docstring
DEFAULT_MOTION_CRF = 18
#: frames between keyframes of the RGB copy made for a recipe: its clips take every 8th frame, so any
#: longer interval decodes frames that are dropped (docs/training.md, the per-sample table)
RECIPE_GOP = 1
#: encodings a prepared copy can hold: those unchanged by the crop's resize (flow edges, to first order)
PREPARABLE_ENCODINGS = ("flow_edges",)


@dataclass(frozen=True)
class MotionInputSettings:
    """What a prepared copy's motion input was computed with (``prepared.json`` ``"motion"``).

    The first seven fields must match the recipe that trains from the copy; ``crf`` is how
    it is stored and may differ.
    """

    estimator: str = "dis"
    preset: str = "medium"  # DIS only
    flow_gap: int = 1
    flow_direction: str = "forward"
    encoding: str = "flow_edges"
    edge_max: float = 10.0
    short_side: int = 256  # of the frames the flow was estimated on (0: each video's own size)
    crf: int = DEFAULT_MOTION_CRF

    @classmethod
    def from_config(cls, cfg: Any, crf: int = DEFAULT_MOTION_CRF) -> MotionInputSettings:
        """The settings a :class:`~modist.config.PretrainConfig` trains with."""
        m = cfg.motion
        return cls(m.estimator, m.preset if m.estimator == "dis" else "", m.flow_gap, m.flow_direction, m.encoding,
                   float(m.edge_max), cfg.data.short_side, crf)

    def check(self) -> None:
        """ConfigError for settings no prepared copy can hold."""
        if self.encoding not in PREPARABLE_ENCODINGS:
            raise ConfigError(f"motion.encoding={self.encoding} cannot be prepared: only "
                              f"{', '.join(PREPARABLE_ENCODINGS)} is unchanged by the training crop's resize; "
                              "use motion.source=store (a flow store) for it")
        if not 0 <= self.crf <= 51:
            raise ConfigError(f"motion input crf {self.crf}: must be in 0..51 (0 is lossless)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def mismatches(self, recorded: dict[str, Any]) -> list[str]:
        """The config keys whose value ``recorded`` (a copy's settings) does not share, with both values.

        A recipe with ``data.short_side: 0`` takes the copy's frames at their size, so any
        recorded short side fits it; the DIS preset only counts when both used DIS.
        """
        keys = [("estimator", "motion.estimator"), ("preset", "motion.preset"), ("flow_gap", "motion.flow_gap"),
                ("flow_direction", "motion.flow_direction"), ("encoding", "motion.encoding"),
                ("edge_max", "motion.edge_max"), ("short_side", "data.short_side")]
        out = []
        for name, key in keys:
            have, want = recorded.get(name), getattr(self, name)
            if name == "preset" and (self.estimator != "dis" or recorded.get("estimator") != "dis"):
                continue
            if name == "short_side" and want == 0:
                continue
            if name == "edge_max" and have is not None:
                have = float(have)
            if have != want:
                out.append(f"{key} ({have}, recipe {want})")
        return out


def read_settings(root: str | os.PathLike) -> dict[str, Any] | None:
    """``prepared.json`` of a ``modist prepare`` folder, or None if ``root`` is not one."""
    path = Path(root) / SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not readable JSON ({exc})") from None


def prepared_motion_root(spec: str) -> tuple[Path, dict[str, Any]] | None:
    """``(folder, recorded motion settings)`` if the dataset spec names a copy with motion input, else None.

    Example:
        >>> prepared_motion_root("kinetics:/no/such/folder") is None
        True
    """
    from modist.data.adapters import parse_spec

    try:
        kind, root = parse_spec(spec)
    except DataError:  # not there: resolving the dataset reports it
        return None
    if kind != "manifest":
        return None
    root = root if root.is_dir() else root.parent
    settings = read_settings(root)
    if not settings or "motion" not in settings:
        return None
    return root, settings["motion"]


def check_motion_settings(root: str | os.PathLike, recorded: dict[str, Any], wanted: MotionInputSettings) -> None:
    """ConfigError (one line, naming the keys) if the copy at ``root`` was prepared for other motion settings."""
    bad = wanted.mismatches(recorded)
    if bad:
        raise ConfigError(f"{root}: its motion input was prepared with other settings: {'; '.join(bad)}; prepare "
                          "the dataset again with this recipe, or set motion.source=on_the_fly")


def motion_path(root: str | os.PathLike, video_path: str | os.PathLike) -> Path:
    """Where the motion input of the copy's video ``video_path`` lives."""
    return Path(root) / MOTION_DIR / Path(video_path).name


@dataclass(frozen=True)
class PreparedMotion:
    """A :class:`~modist.data.motion_source.MotionSource` that reads a prepared copy's encoded motion input.

    It returns uint8 ``[N, H, W, 1]`` (``ENCODED``: the clip datasets ship it as ``motion``,
    which the device pipeline crops and flips with the RGB's boxes and does not encode
    again). One open and one seek per frame (every frame is a keyframe), like the RGB.
    """

    root: str
    flow_gap: int = 1
    flow_direction: str = "forward"
    kind: ClassVar[MotionKind] = MotionKind.ENCODED
    needs_partners: ClassVar[bool] = False

    def motion(self, request: MotionRequest) -> np.ndarray:
        """Motion frames ``request.frames`` (indices of the video) at ``request.size`` (H, W);
        VideoReadError if unreadable.

        The request's timer gets the CPU under ``"motion"`` and the frames read (the decode
        floor's input): the input is decoded like the RGB. A copy stored at another size than
        the frames are decoded at is resized: flow edges are a derivative of a magnitude
        measured in pixels, so resizing the flow by ``s`` scales the magnitude by ``s`` and its
        slope per pixel by ``1 / s``, which cancel.
        """
        frames, size, timer = request.frames, request.size, request.timer
        path = motion_path(self.root, request.video_path)
        sub = StageTimer() if timer is not None else None
        with stage(timer, "motion"):
            reader = VideoReader(path, luma=True)
        with reader:
            reader.timer = sub
            out = reader.frames(frames).frames
        if timer is not None:
            timer.seconds["motion"] += sum(sub.seconds.values())
            timer.requests.extend(sub.requests)
        if out.shape[1:3] != tuple(size):
            import cv2

            out = np.stack([cv2.resize(f, (size[1], size[0]), interpolation=cv2.INTER_LINEAR) for f in out])[..., None]
        return out


class GrayVideoWriter(AtomicWriter):
    """Write uint8 ``[H, W]`` frames as an H.264 ``gray`` stream, every frame a keyframe; atomic.

    The file appears under its name only after :meth:`close` (a killed run leaves a hidden
    temporary file, never a short video under the final name).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "m.mp4"
        >>> with GrayVideoWriter(path, Fraction(10), 8, 6, crf=0) as w:
        ...     w.add(np.arange(48, dtype=np.uint8).reshape(1, 6, 8).repeat(3, 0))
        >>> with VideoReader(path, luma=True) as r:
        ...     r.frames([2]).frames[0, :, :, 0].tolist() == np.arange(48).reshape(6, 8).tolist()
        True
    """

    def __init__(self, path: str | os.PathLike, fps: Fraction, width: int, height: int, crf: int):
        super().__init__(path)
        try:
            self._container = av.open(str(self._tmp), "w", format="mp4")
            stream = self._container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "gray"
            # crf 0 is not lossless in every x264 build; qp 0 is.
            quality = {"qp": "0"} if crf == 0 else {"crf": str(crf)}
            stream.options = {**quality, "preset": "veryfast", "tune": "fastdecode", "g": "1", "keyint_min": "1",
                              "bf": "0", "sc_threshold": "0"}
            stream.codec_context.thread_count = 1
            self._stream = stream
        except BaseException:
            self._discard()
            raise

    def add(self, planes: np.ndarray) -> None:
        """Append uint8 frames ``[N, H, W]``."""
        for plane in planes:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(plane), format="gray")
            self._container.mux(self._stream.encode(frame))

    def close(self) -> None:
        try:
            self._container.mux(self._stream.encode(None))
            self._container.close()
            open_video(self._tmp).close()  # the result opens
        except BaseException:
            self._discard()
            raise
        self._commit()

    def abort(self) -> None:
        try:
            self._container.close()
        finally:
            self._discard()


__all__ = [
    "DEFAULT_MOTION_CRF", "GrayVideoWriter", "RECIPE_GOP", "MOTION_DIR", "MotionInputSettings", "PreparedMotion",
    "check_motion_settings", "motion_path", "prepared_motion_root", "read_settings",
]
