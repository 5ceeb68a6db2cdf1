"""From a collated CPU batch to network inputs on the device: augment, then encode flow.

Training (:mod:`modist.training.batches`) and evaluation (finetuning, multi-view testing) both
build their inputs here, so it sits below both. It needs data's paired augmentation (layer 4)
and flow's motion encodings (layer 5); ``flow`` is the lowest layer that may import both,
and the pipeline's own work beyond the augmentation is turning flow into the motion input.
Keeping it in ``data`` would mean handing every pipeline its encoding as a callable, since
``data`` never imports ``flow``; here it takes the encoding's name like the config does.

:func:`modality_input` is the one place a pipeline's ``(rgb, motion)`` becomes the single
input of an encoder of one modality.

Example:
    >>> from modist.data.augment import PairedAugment
    >>> batch = ClipBatch(rgb=torch.zeros(2, 1, 4, 40, 48, 3, dtype=torch.uint8), flow=torch.ones(2, 1, 4, 40, 48, 2))
    >>> inputs = InputPipeline(PairedAugment(32, train=False), "flow_edges")
    >>> [tuple(x.shape) for x in inputs(batch, torch.device("cpu"), with_motion=True)]
    [(1, 2, 3, 4, 32, 32), (1, 2, 1, 4, 32, 32)]
    >>> modality_input(inputs, batch, torch.device("cpu"), "motion").shape[2]  # motion: one channel of flow edges
    1
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from modist.data.augment import PairedAugment
from modist.data.clips import ClipBatch
from modist.flow.encodings import encode_motion

# (batch, device, with_motion) -> (rgb, motion), each [V, B, C, T, S, S]: an InputPipeline, or one that
# wraps it (evaluation's multi-view ViewPipeline, training's flow on the device).
Inputs = Callable[[ClipBatch, torch.device, bool], tuple[torch.Tensor, torch.Tensor | None]]


class InputPipeline:
    """Moves uint8 frames and flow to the device, applies the paired augmentation there
    and turns augmented flow into the configured motion encoding.

    Output tensors are [V, B, C, T, S, S] with V the number of clips per video; motion has
    the flow's own number of frames, which may differ from the RGB clip's.
    ``batch.frame_size`` (from :func:`~modist.data.clips.collate_clips`), when set, gives
    each item's true frame size inside the padded frames: crops stay inside it.
    A batch with encoded motion input (a prepared copy, frame differences) carries ``motion``
    (uint8) instead of ``flow``: it is cropped and flipped with the RGB's boxes and not encoded again.
    """

    def __init__(self, augment: PairedAugment, encoding: str, max_flow: float = 20.0, edge_max: float = 10.0):
        self.augment = augment
        self.encoding = encoding
        self.max_flow = max_flow
        self.edge_max = edge_max

    def __call__(self, batch: ClipBatch, device: torch.device,
                 with_motion: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        rgb = batch.rgb.to(device, non_blocking=True)
        if with_motion and batch.motion is not None:
            motion = batch.motion.to(device, non_blocking=True)
            return self.augment(rgb, frame_size=batch.frame_size, motion=motion)
        flow = batch.flow.to(device, non_blocking=True).float() if with_motion else None
        rgb, flow = self.augment(rgb, flow, frame_size=batch.frame_size)
        if flow is None:
            return rgb, None
        # encode_motion works on [..., 2, H, W]: put time before channels and back.
        motion = encode_motion(flow.transpose(2, 3), self.encoding, self.max_flow, self.edge_max).transpose(2, 3)
        return rgb, motion.contiguous()


def modality_input(inputs: Inputs, batch: ClipBatch, device: torch.device, modality: str) -> torch.Tensor:
    """The input of an encoder of ``modality`` ("rgb" or "motion"), [V, B, C, T, S, S].

    Motion is encoded only for a motion encoder; an RGB encoder's batch needs no flow.
    """
    rgb, motion = inputs(batch, device, modality == "motion")
    return rgb if modality == "rgb" else motion
