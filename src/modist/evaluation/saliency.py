"""Spatio-temporal saliency of a frozen encoder, and how much of it falls on the moving actor.

Maps (``A`` = the last stage's output of :meth:`ResNet3d.forward_features`, [N, C, t, h, w]):

* **activation**: ``||A[:, :, t, y, x]||_2`` over channels;
* **gradient** (Grad-CAM): ``w_c = mean_{t,y,x} d score / d A_c``, map ``= ReLU(sum_c w_c A_c)``.
  The score of a clip is the cosine similarity of its pooled feature with the feature of
  its positive (another clip of the same video, :func:`embedding_score`), or the score of
  the class a linear classifier predicts (:func:`class_score`).

Maps are upsampled (trilinear) to the clip's frames. On the synthetic benchmark the actor
masks give two numbers per clip:

* **foreground lift** = (share of saliency mass inside the dilated actor mask) / (the dilated
  mask's share of the clip); 1.0 means no preference for the actor;
* **pointing game**: whether the map's maximum lies inside the dilated mask (with ties, the
  share of the tied maxima inside it, so a flat map scores the mask's share).

Example:
    >>> mask = np.zeros((1, 4, 4), bool); mask[0, :2, :2] = True
    >>> heat = np.zeros((1, 4, 4)); heat[0, 0, 0] = 1.0
    >>> foreground_lift(heat, mask), pointing_hit(heat, mask)
    (4.0, 1.0)
    >>> foreground_lift(np.ones((1, 4, 4)), mask), pointing_hit(np.ones((1, 4, 4)), mask)
    (1.0, 0.25)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from modist.data.clips import ClipBatch
from modist.errors import ConfigError, DataError
from modist.evaluation.intervals import bootstrap_interval
from modist.flow.inputs import modality_input

MAPS = ("activation", "gradient")
DILATION_PX = 2
# The residual stage whose maps are scored (1-based; None = the last), and the smallest input side
# the encoder is shown (its crop upscaled by an integer factor to reach it). Chosen on the demo's
# saliency validity checks alone (docs/demo.md, "The saliency measure"): the demo's 32 px crop
# becomes 128 px, so the second stage's map is 32 x 32; a 112 px crop becomes 224, a 224 px one stays.
DEFAULT_STAGE: int | None = 2
MIN_INPUT = 128


def saliency_input(enc, min_input: int = MIN_INPUT):
    """``enc`` with its crop upscaled by the smallest integer factor that reaches ``min_input`` px.

    Example:
        >>> from modist.evaluation.encoder import EvalEncoder
        >>> saliency_input(EvalEncoder.from_scratch("r3d_tiny", base_width=4, crop_size=32)).crop_size
        128
        >>> saliency_input(EvalEncoder.from_scratch("r3d_tiny", base_width=4, crop_size=112)).crop_size
        224
        >>> saliency_input(EvalEncoder.from_scratch("r3d_tiny", base_width=4, crop_size=32), 0).crop_size
        32
    """
    factor = max(1, math.ceil(min_input / enc.crop_size))
    return enc if factor == 1 else enc.with_overrides(crop_size=enc.crop_size * factor)

# pooled feature [N, D] -> score [N]
Score = Callable[[torch.Tensor], torch.Tensor]


def _features(backbone: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    fn = getattr(backbone, "forward_features", None)
    if fn is None:
        raise ConfigError(f"{type(backbone).__name__} has no forward_features: "
                          "saliency needs a ResNet3d-style backbone")
    return fn


def _split_at(backbone: nn.Module, stage: int | None):
    """(input -> map of residual stage ``stage`` (1-based), that map -> last stage's map); ``None`` = last."""
    stages = getattr(backbone, "stages", None)
    no_stages = stages is None or not hasattr(backbone, "stem")
    # The default stage applies to ResNet3d-style backbones; any other has only forward_features.
    if stage is None or (not no_stages and stage == len(stages)) or (no_stages and stage == DEFAULT_STAGE):
        return _features(backbone), lambda a: a
    if no_stages:
        raise ConfigError(f"{type(backbone).__name__} has no stem/stages: saliency at stage {stage} "
                          "needs a ResNet3d-style backbone")
    if not 1 <= stage <= len(stages):
        raise ConfigError(f"saliency stage must be 1..{len(stages)}, got {stage}")
    return (lambda x: stages[:stage](backbone.stem(x))), (lambda a: stages[stage:](a))


@torch.no_grad()
def activation_map(backbone: nn.Module, x: torch.Tensor, *, stage: int | None = None) -> torch.Tensor:
    """Channel-wise L2 norm of residual stage ``stage`` (default: the last), [N, C, T, H, W] -> [N, t, h, w]."""
    head, _ = _split_at(backbone, stage)
    return head(x).float().norm(dim=1)


def gradcam_map(backbone: nn.Module, x: torch.Tensor, score: Score, *, stage: int | None = None) -> torch.Tensor:
    """Grad-CAM of ``score(pooled feature)`` on residual stage ``stage`` (default: the last), -> [N, t, h, w] (>= 0).

    At an earlier stage the map keeps that stage's finer grid: the gradient flows back through
    the later stages from the same pooled feature the encoder outputs.
    """
    head, tail = _split_at(backbone, stage)
    with torch.enable_grad():
        with torch.no_grad():
            a = head(x).float()
        # Differentiate with respect to the stage's output itself (works for frozen weights too).
        a = a.detach().requires_grad_()
        s = score(tail(a).float().mean(dim=(2, 3, 4)))
        (grad,) = torch.autograd.grad(s.sum(), a)
    weights = grad.mean(dim=(2, 3, 4), keepdim=True)
    return F.relu((weights * a).sum(dim=1)).detach()


def embedding_score(target: torch.Tensor | None = None) -> Score:
    """Cosine similarity with ``target`` [N, D] (detached: only the explained clip moves).

    Without a target (a clip with no other clip of its video), the score is the feature's
    length along its own direction: its cosine with itself is constant, so has no gradient.
    """
    def score(pooled: torch.Tensor) -> torch.Tensor:
        t = pooled.detach() if target is None else target.detach().to(pooled)
        t = F.normalize(t, dim=-1)
        if target is None:
            return (pooled * t).sum(-1)
        return (F.normalize(pooled, dim=-1) * t).sum(-1)
    return score


def class_score(weight: torch.Tensor, bias: torch.Tensor, *, mean=None, std=None) -> Score:
    """Logit of the predicted class of ``z = ((f - mean) / std) W + b`` (W: [D, C], as
    :class:`~modist.evaluation.linear_probe.LinearClassifier`)."""
    def score(pooled: torch.Tensor) -> torch.Tensor:
        z = pooled
        if mean is not None:
            z = (z - torch.as_tensor(mean).to(z)) / torch.as_tensor(std).to(z)
        logits = z @ weight.to(z) + bias.to(z)
        return logits.gather(1, logits.argmax(1, keepdim=True)).squeeze(1)
    return score


def finetuned_classifier(enc, path) -> tuple:
    """The classifier that ``modist eval finetune`` wrote for ``enc`` (``finetuned.safetensors``:
    ``backbone.*`` and ``fc.*``): a copy of ``enc`` with the finetuned backbone, and the score of
    its predicted class. DataError naming the file when it does not fit the encoder."""
    import copy
    from dataclasses import replace
    from pathlib import Path

    from safetensors.torch import load_file

    path = Path(path)
    if path.is_dir():
        path = path / "finetuned.safetensors"
    if not path.is_file():
        raise DataError(f"{path}: classifier not found")
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise DataError(f"{path}: not a safetensors file ({exc})") from None
    if "fc.weight" not in tensors or "fc.bias" not in tensors:
        raise DataError(f"{path}: no fc.weight / fc.bias (expected the finetuned.safetensors of modist eval finetune)")
    backbone = copy.deepcopy(enc.backbone)
    state = {k.removeprefix("backbone."): v for k, v in tensors.items() if k.startswith("backbone.")}
    try:
        backbone.load_state_dict(state)
    except RuntimeError:
        raise DataError(f"{path}: its backbone does not match the checkpoint's encoder") from None
    weight, bias = tensors["fc.weight"].float(), tensors["fc.bias"].float()
    return replace(enc, backbone=backbone.eval()), class_score(weight.t(), bias)


def upsample(maps: torch.Tensor, size: tuple[int, int, int]) -> torch.Tensor:
    """[N, t, h, w] -> [N, T, H, W], trilinear."""
    return F.interpolate(maps[:, None].float(), size=size, mode="trilinear", align_corners=False)[:, 0]


def dilate(mask: np.ndarray, px: int = DILATION_PX) -> np.ndarray:
    """Per-frame dilation of bool [T, H, W] by ``px`` pixels (a square: Chebyshev distance)."""
    if px <= 0:
        return mask.astype(bool)
    m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[:, None]
    return F.max_pool2d(m, 2 * px + 1, stride=1, padding=px)[:, 0].numpy() > 0.5


def foreground_lift(heat: np.ndarray, mask: np.ndarray) -> float:
    """(saliency mass inside ``mask``) / (``mask``'s share of the voxels); nan without mass or mask."""
    heat = np.asarray(heat, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if heat.shape != mask.shape:
        raise ValueError(f"map {heat.shape} and mask {mask.shape} differ in shape")
    total, share = heat.sum(), mask.mean()
    if total <= 0 or share == 0:
        return math.nan
    return float(heat[mask].sum() / total / share)


def pointing_hit(heat: np.ndarray, mask: np.ndarray) -> float:
    """1.0 if the maximum of ``heat`` lies in ``mask``, else 0.0 (tied maxima: their share inside)."""
    heat = np.asarray(heat, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if heat.shape != mask.shape:
        raise ValueError(f"map {heat.shape} and mask {mask.shape} differ in shape")
    top = heat == heat.max()
    return float(mask[top].mean())


def centre_square(x: np.ndarray) -> np.ndarray:
    """The centre square of side min(H, W) of [T, H, W, ...]: what the evaluation crop sees."""
    h, w = x.shape[1:3]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return x[:, top:top + side, left:left + side]


@dataclass
class ClipSaliency:
    """One clip: its centre-square frames, each map upsampled to them, and its frame indices."""

    frames: np.ndarray  # uint8 [T, S, S, 3]
    maps: dict[str, np.ndarray]  # name -> float32 [T, S, S]
    indices: np.ndarray  # frame indices in the video
    video: str = ""


def explain_video(enc, record, *, maps: tuple[str, ...] = MAPS, classifier: Score | None = None,
                  num_clips: int = 1, device: torch.device | str = "cpu", source=None,
                  stage: int | None = DEFAULT_STAGE, min_input: int = MIN_INPUT) -> list[ClipSaliency]:
    """Saliency of ``num_clips`` uniformly spaced clips of one video under the encoder ``enc``
    (an :class:`~modist.evaluation.encoder.EvalEncoder`); ``maps`` from :data:`MAPS` plus
    ``"class"`` when ``classifier`` is given. Maps are of residual stage ``stage`` with the crop upscaled
    to at least ``min_input`` px (:func:`saliency_input`). Raises VideoReadError for an unreadable video."""
    from modist.data.sampling import clip_indices, uniform_clip_starts

    unknown = [m for m in maps if m not in (*MAPS, "class")]
    if unknown or ("class" in maps and classifier is None):
        raise ConfigError(f"unknown saliency map {(unknown or ['class'])[0]!r} (choose from {', '.join(MAPS)}"
                          f"{', class (needs a classifier)' if classifier is None else ', class'})")
    device = torch.device(device)
    enc = saliency_input(enc, min_input)
    source = source or enc.clip_source(frame_cache=1)
    with source.open(record) as video:
        num_frames = video.num_frames
        # One more clip than explained: the last is the positive of the first.
        starts = uniform_clip_starts(num_frames, enc.clip_frames, enc.stride, max(num_clips, 1) + 1)
        read = video.read(starts, enc.clip_frames, enc.stride)
    rgb = read.rgb
    motion = {} if read.motion is None else {read.kind.value: torch.from_numpy(np.stack(read.motion))[None]}
    batch = ClipBatch(rgb=torch.from_numpy(np.stack(rgb))[None], **motion)
    x = modality_input(enc.view_pipeline(1), batch, device, enc.modality)[:, 0]  # [V, C, T, S, S]
    backbone = enc.backbone.to(device).eval()
    out_maps: dict[str, torch.Tensor] = {}
    explained = x[:-1] if len(starts) > 1 else x
    if "activation" in maps:
        out_maps["activation"] = activation_map(backbone, explained, stage=stage)
    if "gradient" in maps:
        with torch.no_grad():
            pooled = backbone(x).float()
        distinct = len(set(starts)) > 1
        target = pooled[-1:].expand(len(explained), -1) if distinct else None
        out_maps["gradient"] = gradcam_map(backbone, explained, embedding_score(target), stage=stage)
    if "class" in maps:
        out_maps["class"] = gradcam_map(backbone, explained, classifier, stage=stage)
    clips = []
    for i in range(len(explained)):
        frames = centre_square(rgb[i])
        size = (frames.shape[0], frames.shape[1], frames.shape[2])
        heat = {k: upsample(v[i:i + 1].cpu(), size)[0].numpy() for k, v in out_maps.items()}
        clips.append(ClipSaliency(frames, heat, clip_indices(starts[i], enc.clip_frames, enc.stride, num_frames),
                                  video=str(record.path)))
    return clips


@dataclass
class SaliencyResult:
    """Per-video foreground lift and pointing hit, their means and 95 % bootstrap intervals."""

    map: str
    split: str
    lift: list[float] = field(default_factory=list)
    pointing: list[float] = field(default_factory=list)
    videos: list[str] = field(default_factory=list)
    skipped: int = 0  # unreadable videos, or no actor in the clip
    flat: int = 0  # maps without mass, scored as uniform (no preference)
    seconds: float = 0.0
    stage: int | None = None  # residual stage of the maps (None: the last)
    input_px: int = 0  # the crop side the encoder was shown

    def summary(self, *, seed: int = 0) -> dict:
        out = {"map": self.map, "split": self.split, "videos": len(self.lift), "skipped": self.skipped,
               "flat_maps": self.flat, "stage": "last" if self.stage is None else self.stage,
               "input_px": self.input_px,
               "seconds": round(self.seconds, 2), "dilation_px": DILATION_PX, "interval": "95% bootstrap over videos"}
        for name, values in (("foreground_lift", self.lift), ("pointing_hit_rate", self.pointing)):
            out[name] = asdict(bootstrap_interval(values, seed=seed)) if values else None
        return out


def saliency_eval(enc, root, *, split: str = "test_unbiased", map_kind: str = "gradient",
                  max_videos: int | None = None, seed: int = 0, device: torch.device | str = "cpu",
                  progress: bool = True, stage: int | None = DEFAULT_STAGE,
                  min_input: int = MIN_INPUT) -> SaliencyResult:
    """Foreground lift and pointing game of ``enc`` on the synthetic benchmark at ``root``.

    With ``max_videos``, a seeded random subset of the split's videos (the same for every
    encoder given the same seed).
    """
    import time
    from pathlib import Path

    from modist.data.adapters.files import canonical_split
    from modist.data.records import VideoRecord
    from modist.errors import VideoReadError
    from modist.synth import read_manifest, read_masks

    if map_kind not in MAPS:
        raise ConfigError(f"map_kind must be one of {', '.join(MAPS)}, got {map_kind!r}")
    root = Path(root)
    manifest = root if root.suffix == ".csv" else root / "manifest.csv"
    rows = [r for r in read_manifest(manifest) if canonical_split(r.split) == canonical_split(split)]
    if not rows:
        raise DataError(f"{manifest}: no videos in split {split!r}")
    if max_videos is not None and max_videos < len(rows):
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), max_videos, replace=False))
        rows = [rows[i] for i in keep]
    result = SaliencyResult(map_kind, split, stage=stage, input_px=saliency_input(enc, min_input).crop_size)
    source = enc.clip_source(frame_cache=1)
    t0 = time.perf_counter()
    for row in tqdm(rows, desc=f"saliency {map_kind}", disable=not progress, leave=False):
        try:
            (clip,) = explain_video(enc, VideoRecord(str(row.path), row.label), maps=(map_kind,),
                                    device=device, source=source, stage=stage,
                                    min_input=min_input)
        except VideoReadError:
            result.skipped += 1
            continue
        mask = centre_square(read_masks(row.mask_path)[clip.indices])
        heat = clip.maps[map_kind]
        if mask.shape != heat.shape:  # frames decoded at another size (short_side)
            m = torch.from_numpy(mask.astype(np.float32))[:, None]
            mask = F.interpolate(m, size=heat.shape[1:], mode="nearest")[:, 0].numpy() > 0.5
        mask = dilate(mask)
        if heat.sum() <= 0:
            # A Grad-CAM map can be all zero (every weighted channel negative): no
            # preference, so it counts as uniform rather than being dropped.
            heat = np.ones_like(heat)
            result.flat += 1
        lift = foreground_lift(heat, mask)
        if math.isnan(lift):
            result.skipped += 1
            continue
        result.lift.append(lift)
        result.pointing.append(pointing_hit(heat, mask))
        result.videos.append(str(row.path))
    result.seconds = time.perf_counter() - t0
    return result
