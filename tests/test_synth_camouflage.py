"""The camouflaged split: the actor is the same, the background is drawn from the actor's own texture."""

from dataclasses import replace

import numpy as np

from modist.synth import SynthConfig
from modist.synth.scene import render_video


def _share_near(pixels: np.ndarray, colours: np.ndarray, tol: float = 40.0) -> float:
    """Share of ``pixels`` [N, 3] within ``tol`` (L1 over RGB) of one of ``colours`` [K, 3]."""
    d = np.abs(pixels.reshape(-1, 1, 3).astype(float) - colours.reshape(1, -1, 3).astype(float)).sum(-1)
    return float((d.min(1) <= tol).mean())


def test_camouflage_keeps_the_actor_and_paints_the_background_in_its_colours():
    cfg = SynthConfig(size=64, num_frames=4, num_distractors=0, camera_pan_prob=0.0, crf=0)
    camo = replace(cfg, camouflage=True)
    plain_frames, plain_masks = render_video(cfg, 2, 0, np.random.default_rng(5))
    frames, masks = render_video(camo, 2, 0, np.random.default_rng(5))
    assert np.array_equal(masks, plain_masks)  # the same actor, path and size
    assert np.array_equal(frames[masks], plain_frames[masks])  # drawn the same
    actor = plain_frames[0][masks[0]]
    # The actor's two texture colours: the most frequent colour and the one farthest from it.
    values, counts = np.unique(actor, axis=0, return_counts=True)
    first = values[counts.argmax()].astype(float)
    second = values[np.abs(values - first).sum(1).argmax()].astype(float)
    pair = np.stack([first, second])
    background, _ = render_video(camo, 2, 0, np.random.default_rng(5), draw_actor=False)
    plain_background, _ = render_video(cfg, 2, 0, np.random.default_rng(5), draw_actor=False)
    assert _share_near(background[0], pair) > 0.9
    assert _share_near(plain_background[0], pair) < 0.1


def test_the_camouflage_key_is_recorded_only_when_set():
    assert "camouflage" not in SynthConfig().to_dict()
    assert SynthConfig(camouflage=True).to_dict()["camouflage"] is True
    assert SynthConfig.from_dict(SynthConfig(camouflage=True).to_dict()).camouflage is True
