"""The two ways a clip gets its flow: estimated from its frames, or read from a flow store.

Both implement :class:`modist.data.motion_source.MotionSource`, which the clip datasets take
as an argument so that the data layer never imports flow code. :class:`DeviceFlow` is the
training process's half of :class:`modist.data.clips.PartnerFrames`.

Example:
    >>> import numpy as np
    >>> source = EstimatedFlow(estimator="dis", preset="ultrafast", flow_gap=2)
    >>> frames = np.zeros((3, 16, 16, 3), np.uint8)
    >>> source.motion(MotionRequest.pairs(frames, frames)).shape, source.kind.value, source.needs_partners
    ((3, 16, 16, 2), 'flow', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
import torch

from modist.data.motion_source import MotionKind, MotionRequest
from modist.data.timing import stage
from modist.errors import DataError, VideoReadError
from modist.flow.estimate import estimate_batch
from modist.flow.store import open_stored_flow, stored_direction


@dataclass(frozen=True)
class EstimatedFlow:
    """Flow estimated on the fly from each frame to the frame ``flow_gap`` later (``forward``) or
    earlier (``backward``); the clip source pairs the frames (:func:`modist.data.sampling.flow_partners`)."""

    estimator: str = "dis"
    preset: str = "medium"  # DIS only; the default of estimate() and MotionConfig too
    flow_gap: int = 1
    flow_direction: str = "forward"
    kind: ClassVar[MotionKind] = MotionKind.FLOW
    needs_partners: ClassVar[bool] = True

    def options(self) -> dict:
        return {"preset": self.preset} if self.estimator == "dis" else {}

    def motion(self, request: MotionRequest) -> np.ndarray:
        """float16 flow from each of ``request.pixels`` to its partner in ``request.partners``."""
        with stage(request.timer, "flow"):
            return estimate_batch(request.pixels, request.partners, estimator=self.estimator,
                                  **self.options()).astype(np.float16)


@dataclass(frozen=True)
class DeviceFlow:
    """Flow of whole batches on the training device (``motion.flow_device=device``).

    Called with the loader's motion frames and their partner frames, uint8 ``[..., H, W, 3]``
    (CPU or device tensors; the two halves of the ``[..., H, W, 6]`` pairs that
    :class:`modist.data.clips.PartnerFrames` ships), it returns float32 ``[..., H, W, 2]`` on ``device``.
    ``torch_tvl1`` runs on the device tensors directly; other batched estimators (``raft``)
    go through :func:`~modist.flow.estimate.estimate_batch` with ``device=`` set.
    """

    estimator: str = "torch_tvl1"

    def __call__(self, frames: torch.Tensor, partners: torch.Tensor, device: torch.device) -> torch.Tensor:
        lead, (h, w) = frames.shape[:-3], frames.shape[-3:-1]
        f0 = frames.reshape(-1, h, w, 3).to(device, non_blocking=True)
        f1 = partners.reshape(-1, h, w, 3).to(device, non_blocking=True)
        if self.estimator == "torch_tvl1":
            from modist.flow.torch_tvl1 import TVL1Params, tvl1_flow_rgb

            flow = tvl1_flow_rgb(f0.permute(0, 3, 1, 2).float(), f1.permute(0, 3, 1, 2).float(), TVL1Params())
            flow = flow.permute(0, 2, 3, 1)
        else:
            flow = torch.from_numpy(estimate_batch(f0.cpu().numpy(), f1.cpu().numpy(), estimator=self.estimator,
                                                   device=str(device))).to(device)
        return flow.reshape(*lead, h, w, 2).float()


@dataclass(frozen=True)
class FlowFromStore:
    """Flow precomputed by ``modist flow DATASET --out store`` (:mod:`modist.flow.store`).

    Refuses (each video unreadable, with the reason) a store made with another ``flow_gap``
    or ``flow_direction``; stores that record no direction were made forward.
    """

    store: str
    flow_gap: int = 1
    flow_direction: str = "forward"
    kind: ClassVar[MotionKind] = MotionKind.FLOW
    needs_partners: ClassVar[bool] = False

    def motion(self, request: MotionRequest) -> np.ndarray:
        """Flow of the frame indices ``request.frames``, resized to ``request.size`` (H, W).

        Pair ``i`` of a store is the flow of frame ``i``, to ``i + flow_gap`` (forward) or
        ``max(i - flow_gap, 0)`` (backward); when the store was made at another resolution
        the field is resized and its vectors rescaled.
        """
        video_path, frames = request.video_path, request.frames
        with stage(request.timer, "flow"):
            try:
                with open_stored_flow(self.store, video_path) as stored:
                    self._check(stored)
                    lo, hi = int(frames.min()), int(frames.max()) + 1
                    block = stored.read(lo, min(hi, stored.num_pairs))
            except DataError as exc:
                raise VideoReadError(str(exc)) from None
            if len(block) == 0:
                raise VideoReadError(video_path, "flow store holds no pairs for the requested frames")
            picked = block[np.minimum(frames - lo, len(block) - 1)]
            return resize_flow(picked, request.size).astype(np.float16)

    def _check(self, stored) -> None:
        """VideoReadError unless ``stored`` was made with this source's flow gap and direction."""
        made_with = int(stored.settings.get("flow_gap", 1))
        if made_with != self.flow_gap:
            raise VideoReadError(stored.path, f"flow store made with flow_gap {made_with} "
                                              f"but motion.flow_gap is {self.flow_gap}")
        direction = stored_direction(stored.settings)
        if direction != self.flow_direction:
            raise VideoReadError(stored.path, f"flow store made with flow_direction {direction} "
                                              f"but motion.flow_direction is {self.flow_direction}")


def resize_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize [N, h, w, 2] flow to ``size`` (H, W), scaling the vectors with the image.

    Example:
        >>> flow = np.ones((1, 4, 4, 2), np.float32)
        >>> resize_flow(flow, (8, 2))[0, 0, 0].tolist()  # x halves, y doubles
        [0.5, 2.0]
    """
    h, w = flow.shape[1:3]
    if (h, w) == tuple(size):
        return flow
    out = np.stack([cv2.resize(f, (size[1], size[0]), interpolation=cv2.INTER_LINEAR) for f in flow])
    out[..., 0] *= size[1] / w
    out[..., 1] *= size[0] / h
    return out
