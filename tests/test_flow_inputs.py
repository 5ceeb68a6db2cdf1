"""flow.inputs: the device input pipeline and the one place an encoder's modality picks its input."""

import torch

from modist.data.augment import PairedAugment
from modist.data.clips import ClipBatch
from modist.flow.inputs import InputPipeline, modality_input


def test_modality_input_picks_the_encoders_input_and_asks_for_motion_only_when_needed():
    rgb, motion = torch.zeros(1), torch.ones(1)
    asked = []

    def pipeline(batch, device, with_motion):
        asked.append(with_motion)
        return rgb, motion if with_motion else None

    cpu = torch.device("cpu")
    assert modality_input(pipeline, {}, cpu, "rgb") is rgb
    assert modality_input(pipeline, {}, cpu, "motion") is motion
    assert asked == [False, True]


def test_pipeline_encodes_augmented_flow_as_the_motion_input():
    # Uniform flow (3, 4) everywhere; the 24 px centre crop resized to 16 scales the vectors by 2/3 ->
    # (2, 8/3), and dxdy divides by max_flow 8.
    batch = ClipBatch(rgb=torch.zeros(2, 1, 3, 24, 24, 3, dtype=torch.uint8),
                      flow=torch.tensor([3.0, 4.0]).expand(2, 1, 3, 24, 24, 2).contiguous())
    inputs = InputPipeline(PairedAugment(16, train=False), "dxdy", max_flow=8.0)
    rgb, motion = inputs(batch, torch.device("cpu"), with_motion=True)
    assert rgb.shape == (1, 2, 3, 3, 16, 16) and motion.shape == (1, 2, 2, 3, 16, 16)
    torch.testing.assert_close(motion[:, :, 0], torch.full_like(motion[:, :, 0], 0.25))
    torch.testing.assert_close(motion[:, :, 1], torch.full_like(motion[:, :, 1], 1 / 3))
    assert modality_input(inputs, batch, torch.device("cpu"), "rgb").shape == rgb.shape
