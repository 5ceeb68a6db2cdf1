"""RGB frame difference: a motion input computed without any optical flow.

``motion.encoding=frame_diff`` gives the motion pathway the signed brightness change between
each motion frame and its flow partner (:func:`~modist.data.sampling.flow_partners`: ``t +
flow_gap`` forward, ``t - flow_gap`` backward), the same pairs the flow encodings see. It is the
ablation "does the teacher need flow at all?": frame differences light up wherever anything
changes, textured background under a camera pan included, where flow edges vanish for uniform
motion. The formula is ours (the paper does not ablate it):

    ``d = Y(partner) - Y(frame)`` with ``Y = 0.299 R + 0.587 G + 0.114 B`` (BT.601 luma),
    stored as uint8 ``round(d / 2 + 127.5)``, so 128 means no change.

It travels like a prepared copy's motion input (uint8, one channel, under ``"motion"``): the
device crops and flips it with the RGB's boxes and divides by 255, so the network sees
``0.5 + d / 510`` in [0, 1]. A flip does not change its sign (a difference has no direction).

Example:
    >>> import numpy as np
    >>> frames = np.full((1, 2, 2, 3), 100, np.uint8)
    >>> partners = frames.copy(); partners[0, 0, 0] = 200  # one pixel brightens by 100
    >>> FrameDifference(flow_gap=1).motion(MotionRequest.pairs(frames, partners))[0, :, :, 0].tolist()
    [[178, 128], [128, 128]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from modist.data.motion_source import MotionKind, MotionRequest
from modist.data.timing import stage

# ITU-R BT.601 luma weights: OpenCV's and PIL's RGB -> grey conversion.
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def frame_difference_uint8(frames: np.ndarray, partners: np.ndarray) -> np.ndarray:
    """uint8 ``[N, H, W, 1]`` signed luma change from ``frames[i]`` to ``partners[i]`` (``[N, H, W, 3]`` uint8).

    >>> a = np.zeros((1, 1, 1, 3), np.uint8); b = np.full((1, 1, 1, 3), 255, np.uint8)
    >>> int(frame_difference_uint8(a, b)[0, 0, 0, 0]), int(frame_difference_uint8(b, a)[0, 0, 0, 0])
    (255, 0)
    """
    d = partners.astype(np.float32) @ LUMA - frames.astype(np.float32) @ LUMA
    return np.clip(np.rint(d / 2 + 127.5), 0, 255).astype(np.uint8)[..., None]


@dataclass(frozen=True)
class FrameDifference:
    """A :class:`~modist.data.motion_source.MotionSource`: frame differences, no flow.

    Computed in the loader from the decoded motion frames and their partners (cheap: two
    multiply-adds a pixel) and shipped already encoded, like a prepared copy's motion input.
    """

    flow_gap: int = 1
    flow_direction: str = "forward"
    kind: ClassVar[MotionKind] = MotionKind.ENCODED
    needs_partners: ClassVar[bool] = True

    def motion(self, request: MotionRequest) -> np.ndarray:
        with stage(request.timer, "flow"):
            return frame_difference_uint8(request.pixels, request.partners)
