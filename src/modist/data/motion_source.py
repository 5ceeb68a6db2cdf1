"""The one interface every motion source implements: the motion of given frames of a video.

:class:`~modist.data.clips.ClipSource` probes a video (its frame grid), the dataset samples
clip starts on that grid, and the clip source then asks its motion source for the motion of
the motion clips' frames in one :meth:`MotionSource.motion` call. A source declares once

* :attr:`~MotionSource.kind`: what it returns (:class:`MotionKind`), which is also the item
  key and the :class:`~modist.data.clips.ClipBatch` field it travels in;
* :attr:`~MotionSource.needs_partners`: whether it computes from the decoded motion frames
  and their flow partners (:func:`~modist.data.sampling.flow_partners`), which the clip
  source then decodes in the same read and hands over in the request, or reads by frame
  index alone (a flow store, a prepared copy's motion input).

The implementations: :class:`modist.flow.sources.EstimatedFlow` and
:class:`modist.flow.sources.FlowFromStore` (float flow), :class:`modist.data.clips.PartnerFrames`
(frame pairs for flow on the training device), :class:`modist.data.prepared.PreparedMotion`
and :class:`modist.data.frame_difference.FrameDifference` (encoded motion input). The data
layer never imports :mod:`modist.flow`: the trainer and the evaluation encoder hand a source in.

Example:
    >>> pixels = np.zeros((2, 4, 4, 3), np.uint8)
    >>> request = MotionRequest.pairs(pixels, pixels + 1)
    >>> request.frames.tolist(), request.size, MotionKind.PARTNER_FRAMES.value
    ([0, 1], (4, 4), 'partner_frames')
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar, Protocol

import numpy as np

from modist.data.timing import StageTimer


class MotionKind(str, Enum):
    """What a motion source returns; the value names the item key and the ``ClipBatch`` field."""

    #: float16 ``[N, H, W, 2]`` optical flow in pixels, from each frame to its flow partner
    FLOW = "flow"
    #: uint8 ``[N, H, W, 6]``: each motion frame's RGB, then its flow partner's (flow comes later, on the device)
    PARTNER_FRAMES = "partner_frames"
    #: uint8 ``[N, H, W, C]``: the motion input itself, already encoded (cropped and flipped, never encoded again)
    ENCODED = "motion"


@dataclass(frozen=True)
class MotionRequest:
    """The motion a clip source asks for: of frames ``frames`` of the video at ``video_path``.

    ``frames`` are frame indices of the video file (for a source that ``needs_partners`` and reads
    from the frame cache, of the decoded record: a segment's frames count from its start),
    ``size`` the (H, W) of the decoded frames, which the answer must have. ``pixels`` and
    ``partners``, uint8 ``[len(frames), H, W, 3]``, are the decoded frames and their flow
    partners: given to a source that ``needs_partners``, None otherwise. ``timer`` is the clip
    source's stage timer (None: off); a source times its own work.
    """

    video_path: str
    frames: np.ndarray
    size: tuple[int, int]
    pixels: np.ndarray | None = None
    partners: np.ndarray | None = None
    timer: StageTimer | None = None

    @classmethod
    def pairs(cls, pixels: np.ndarray, partners: np.ndarray, *, video_path: str = "",
              frames: np.ndarray | None = None, timer: StageTimer | None = None) -> MotionRequest:
        """A request for the motion of the decoded pairs ``pixels[i] -> partners[i]``."""
        frames = np.arange(len(pixels)) if frames is None else np.asarray(frames)
        return cls(video_path, frames, tuple(pixels.shape[1:3]), pixels, partners, timer)


class MotionSource(Protocol):
    """Where the motion of clip frames comes from (see the module docstring)."""

    #: frames between the two frames of a flow pair
    flow_gap: int
    #: "forward" (frame t -> t + flow_gap) or "backward" (t -> t - flow_gap); see flow_partners
    flow_direction: str
    #: what :meth:`motion` returns
    kind: ClassVar[MotionKind]
    #: True: :meth:`motion` computes from ``request.pixels`` and ``request.partners``; False: reads by index
    needs_partners: ClassVar[bool]

    def motion(self, request: MotionRequest) -> np.ndarray:
        """``[len(request.frames), H, W, C]`` of :attr:`kind` at ``request.size``; VideoReadError if unreadable."""
        ...


__all__ = ["MotionKind", "MotionRequest", "MotionSource"]
