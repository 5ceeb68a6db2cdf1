"""Synthetic motion benchmark: classes defined by the actor's motion.

Appearance (actor shape, colour, texture, size) carries no class information; the
background family is tied to the class with probability ``scene_bias`` in the
training and ``test_biased`` splits and is independent of it in ``test_unbiased``.

Example:
    >>> import tempfile
    >>> from modist.synth import SynthConfig, generate, read_manifest
    >>> cfg = SynthConfig(size=48, num_frames=8, train_per_class=1, test_per_class=0)
    >>> rows = read_manifest(generate(tempfile.mkdtemp(), cfg, seed=0, progress=False))
    >>> sorted({r.label_name for r in rows}) == sorted(CLASS_NAMES)
    True
"""

from modist.data.adapters.synth import MANIFEST_COLUMNS, ManifestRow, read_manifest
from modist.synth.classes import CLASS_NAMES, Motion, sample_motion
from modist.synth.config import SynthConfig
from modist.synth.generate import generate
from modist.synth.manifest import read_masks
from modist.synth.preview import save_class_grid
from modist.synth.scene import draw_video, plan_video, render_video
from modist.synth.textures import BACKGROUND_NAMES
from modist.synth.videos import SPLITS, video_rng

__all__ = [
    "BACKGROUND_NAMES",
    "CLASS_NAMES",
    "MANIFEST_COLUMNS",
    "ManifestRow",
    "Motion",
    "SPLITS",
    "SynthConfig",
    "draw_video",
    "generate",
    "plan_video",
    "read_manifest",
    "read_masks",
    "render_video",
    "save_class_grid",
    "sample_motion",
    "video_rng",
]
