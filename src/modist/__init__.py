"""modist: self-supervised video representation learning by motion distillation.

The Python API at the top of the package:

* ``modist.load_encoder(path, device="cpu")``: the trained encoder of a run folder, an
  ``encoder.safetensors`` or a ``checkpoint*.pt``, as an eval-mode
  :class:`~modist.models.encoder.Encoder` (an ``nn.Module``) with ``.spec``, its clip settings
  and ``.preprocess(frames)``: uint8 RGB frames ``[T, H, W, 3]`` of any size -> the float clip
  ``[1, C, T, S, S]`` it was trained on (see :mod:`modist.models.encoder` for how frames are
  picked, cropped and normalised); ``enc(clip)`` gives features ``[1, D]``;
* ``modist.embed(path_or_encoder, videos, num_clips=4, device=None)``: one embedding per video
  file, an ``[N, D]`` numpy array (:func:`modist.evaluation.embed.video_embeddings`).

Both are imported on first use, so ``import modist`` (and the ``modist`` command) stays free of torch.

Example (a randomly initialised encoder, exported as a run exports one):
    >>> import tempfile
    >>> import numpy as np
    >>> from modist.models.encoder_io import EncoderSpec, save_encoder
    >>> spec = EncoderSpec("r3d_tiny", in_channels=3, base_width=4)
    >>> path = tempfile.mkdtemp()
    >>> _ = save_encoder(path, spec.build(), spec, {"clip_frames": 4, "stride": 2, "crop_size": 32})
    >>> import modist
    >>> enc = modist.load_encoder(path)
    >>> frames = np.random.default_rng(0).integers(0, 256, (30, 37, 53, 3), dtype=np.uint8)
    >>> x = enc.preprocess(frames)
    >>> tuple(x.shape), enc.training
    ((1, 3, 4, 32, 32), False)
    >>> tuple(enc(x).shape)
    (1, 32)
"""

__version__ = "0.1.0"

# name -> (module, attribute), imported when first asked for: the CLI imports this package and must not load torch.
_LAZY = {
    "load_encoder": ("modist.evaluation.embed", "load_encoder"),
    "embed": ("modist.evaluation.embed", "video_embeddings"),
    "Encoder": ("modist.models.encoder", "Encoder"),
}

__all__ = ["Encoder", "__version__", "embed", "load_encoder"]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'modist' has no attribute {name!r}")
    import importlib

    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
