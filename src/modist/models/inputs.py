"""From a collated CPU batch to network inputs on the device: augment, then encode flow."""

from __future__ import annotations

import torch

from modist.data.augment import PairedAugment
from modist.flow import encode_motion


class InputPipeline:
    """Moves uint8 frames and flow to the device, applies the paired augmentation there
    and turns augmented flow into the configured motion encoding.

    Output tensors are [V, B, C, T, S, S] with V the number of clips per video; motion has
    the flow's own number of frames, which may differ from the RGB clip's.
    ``batch["frame_size"]`` (from :func:`~modist.data.clips.collate_clips`), when present, gives
    each item's true frame size inside the padded frames: crops stay inside it.
    A batch from a prepared copy carries ``"motion"`` (uint8, already encoded) instead of
    ``"flow"``: it is cropped and flipped with the RGB's boxes and not encoded again.
    """

    def __init__(self, augment: PairedAugment, encoding: str, max_flow: float = 20.0, edge_max: float = 10.0):
        self.augment = augment
        self.encoding = encoding
        self.max_flow = max_flow
        self.edge_max = edge_max

    def __call__(self, batch: dict, device: torch.device,
                 with_motion: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        rgb = batch["rgb"].to(device, non_blocking=True)
        if with_motion and "motion" in batch:
            motion = batch["motion"].to(device, non_blocking=True)
            return self.augment(rgb, frame_size=batch.get("frame_size"), motion=motion)
        flow = batch["flow"].to(device, non_blocking=True).float() if with_motion else None
        rgb, flow = self.augment(rgb, flow, frame_size=batch.get("frame_size"))
        if flow is None:
            return rgb, None
        # encode_motion works on [..., 2, H, W]: put time before channels and back.
        motion = encode_motion(flow.transpose(2, 3), self.encoding, self.max_flow, self.edge_max).transpose(2, 3)
        return rgb, motion.contiguous()
