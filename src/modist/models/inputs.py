"""From a collated CPU batch to network inputs on the device: augment, then encode flow."""

from __future__ import annotations

import torch

from modist.data.augment import PairedAugment
from modist.flow import encode_motion


class InputPipeline:
    """Moves uint8 frames and flow to the device, applies the paired augmentation there
    and turns augmented flow into the configured motion encoding.

    Output tensors are [V, B, C, T, S, S] with V the number of clips per video.
    """

    def __init__(self, augment: PairedAugment, encoding: str, max_flow: float = 20.0, edge_max: float = 10.0):
        self.augment = augment
        self.encoding = encoding
        self.max_flow = max_flow
        self.edge_max = edge_max

    def __call__(self, batch: dict, device: torch.device,
                 with_motion: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        rgb = batch["rgb"].to(device, non_blocking=True)
        flow = batch["flow"].to(device, non_blocking=True).float() if with_motion else None
        rgb, flow = self.augment(rgb, flow)
        if flow is None:
            return rgb, None
        # encode_motion works on [..., 2, H, W]: put time before channels and back.
        motion = encode_motion(flow.transpose(2, 3), self.encoding, self.max_flow, self.edge_max).transpose(2, 3)
        return rgb, motion.contiguous()
