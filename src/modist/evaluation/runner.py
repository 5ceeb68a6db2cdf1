"""What ``modist eval`` does: resolve the splits, get (cached) features, run protocols.

Example:
    >>> spec = EvalSpec("synth:/data/synth", temporal_views=4)        # doctest: +SKIP
    >>> enc = load_eval_encoder("runs/modist")                          # doctest: +SKIP
    >>> results, names, meta = run_frozen(enc, spec, ("linear", "knn"))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from dataclasses import KW_ONLY, asdict, dataclass, replace

import torch

from modist.data.records import VideoDataset
from modist.errors import ConfigError, DataError
from modist.evaluation.encoder import EvalEncoder
from modist.evaluation.feature_cache import FeatureCache, cache_key
from modist.evaluation.features import ViewFeatures, extract_view_features
from modist.evaluation.finetune import FinetuneRecipe, FinetuneResult, finetune
from modist.evaluation.linear_probe import LinearRecipe
from modist.evaluation.protocols import PROTOCOLS, ProtocolResult, knn_eval, linear_eval, retrieval_eval
from modist.evaluation.retrieval import DEFAULT_KS
from modist.runtime import resolve_device

log = logging.getLogger(__name__)

SYNTH_TEST_SPLITS = ("test_biased", "test_unbiased")


@dataclass
class EvalSpec:
    """Which data, which views, where features are cached."""

    dataset: str
    _: KW_ONLY
    train_split: str = "train"
    test_splits: tuple[str, ...] | None = None  # None: ("test",), or the two synth test splits
    fold: int = 1
    temporal_views: int = 10
    spatial_views: int = 1
    batch_size: int = 8
    device: str | torch.device = "auto"
    cache_dir: str | None = None  # None: <run dir>/feature_cache; "" disables the cache
    num_workers: int = 0
    frame_cache: int = 0  # decoded videos kept in memory (finetuning reads each video every epoch)
    progress: bool = True
    seed: int = 0

    def resolved_test_splits(self) -> tuple[str, ...]:
        if self.test_splits:
            return tuple(self.test_splits)
        from modist.data.adapters import parse_spec

        return SYNTH_TEST_SPLITS if parse_spec(self.dataset)[0] == "synth" else ("test",)

    def resolved_device(self) -> torch.device:
        if isinstance(self.device, torch.device):
            return self.device
        return resolve_device(self.device, flag="EvalSpec.device")


def load_splits(spec: EvalSpec) -> tuple[VideoDataset, dict[str, VideoDataset]]:
    from modist.data.adapters import resolve_dataset

    train = resolve_dataset(spec.dataset, split=spec.train_split, fold=spec.fold)
    tests = {s: resolve_dataset(spec.dataset, split=s, fold=spec.fold) for s in spec.resolved_test_splits()}
    for name, ds in [(spec.train_split, train), *tests.items()]:
        if not ds.records:
            raise DataError(f"{spec.dataset}: split {name!r} has no videos")
        if any(r.label is None for r in ds.records):
            raise DataError(f"{spec.dataset}: split {name!r} has unlabeled videos; evaluation needs labels")
        if ds.missing:
            log.warning("%s: %d video(s) of split %r listed but not on disk", spec.dataset, len(ds.missing), name)
    if not train.class_names:
        raise DataError(f"{spec.dataset}: no class names")
    return train, tests


class FeatureSource:
    """Per-view features of a split: from the cache, or computed and then cached."""

    def __init__(self, encoder: EvalEncoder, spec: EvalSpec):
        self.encoder = encoder
        self.spec = spec
        self.device = spec.resolved_device()
        directory = spec.cache_dir
        if directory is None and encoder.weights is not None:
            directory = str(encoder.weights.parent / "feature_cache")
        self.cache = FeatureCache(directory) if directory else None
        self.fingerprint = encoder.fingerprint() if self.cache else ""
        self.hits: list[str] = []

    def __call__(self, ds: VideoDataset, split: str) -> ViewFeatures:
        spec, enc = self.spec, self.encoder
        key = cache_key({"encoder": self.fingerprint, "dataset": spec.dataset, "split": split, "fold": spec.fold,
                         "views": [spec.temporal_views, spec.spatial_views],
                         "videos": [(r.path, r.label, r.start_sec, r.end_sec) for r in ds.records]})
        if self.cache is not None:
            cached = self.cache.load(split, key)
            if cached is not None:
                self.hits.append(split)
                return cached
        feats = extract_view_features(enc.backbone.to(self.device), ds.records, source=enc.clip_source(),
                                      inputs=enc.view_pipeline(spec.spatial_views), modality=enc.modality,
                                      clip_frames=enc.clip_frames, stride=enc.stride,
                                      num_clips=spec.temporal_views, batch_size=spec.batch_size,
                                      device=self.device, progress=spec.progress, desc=f"features {split}",
                                      num_workers=spec.num_workers)
        if feats.skipped:
            log.warning("split %r: skipped %d unreadable video(s)", split, feats.skipped)
        if self.cache is not None:
            try:
                self.cache.save(split, key, feats)
            except OSError as exc:  # a read-only run directory: evaluate anyway
                log.warning("could not write the feature cache (%s)", exc)
        return feats


def _meta(encoder: EvalEncoder, spec: EvalSpec, checkpoint: str | None) -> dict:
    return {"checkpoint": checkpoint, "dataset": spec.dataset, "train_split": spec.train_split,
            "test_splits": list(spec.resolved_test_splits()), "fold": spec.fold,
            "encoder": {**encoder.meta, **encoder.settings()}}


def run_frozen(encoder: EvalEncoder, spec: EvalSpec, protocols: tuple[str, ...] = PROTOCOLS, *,
               linear: LinearRecipe = LinearRecipe(), average: str = "probs", knn_k: int = 20,
               knn_temperature: float = 0.07, ks: tuple[int, ...] = DEFAULT_KS,
               checkpoint: str | None = None) -> tuple[list[ProtocolResult], list[str], dict]:
    """Run the frozen-feature ``protocols`` on every test split; features are computed once per split."""
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        raise ConfigError(f"unknown protocol {unknown[0]!r}; choose from {', '.join(PROTOCOLS)}")
    started = time.perf_counter()
    train_ds, tests = load_splits(spec)
    num_classes = len(train_ds.class_names)
    features = FeatureSource(encoder, spec)
    train = features(train_ds, spec.train_split)
    results: list[ProtocolResult] = []
    for split, ds in tests.items():
        test = features(ds, split)
        for p in protocols:
            if p == "linear":
                results.append(linear_eval(train, test, num_classes, split=split, recipe=linear, average=average))
            elif p == "knn":
                results.append(knn_eval(train, test, num_classes, split=split, k=knn_k, temperature=knn_temperature))
            else:
                results.append(retrieval_eval(train, test, num_classes, split=split, ks=ks))
    meta = _meta(encoder, spec, checkpoint)
    meta.update({"views": f"{spec.temporal_views}x{spec.spatial_views}", "skipped_train": train.skipped,
                 "cache_hits": features.hits, "seconds": round(time.perf_counter() - started, 1)})
    if "linear" in protocols:
        meta["linear_recipe"] = asdict(linear)
    return results, list(train_ds.class_names), meta


def run_finetune(encoder: EvalEncoder, spec: EvalSpec, recipe: FinetuneRecipe = FinetuneRecipe(), *,
                 checkpoint: str | None = None) -> tuple[FinetuneResult, list[str], dict]:
    """Finetune on the training split and test every test split on the spec's views."""
    started = time.perf_counter()
    recipe = replace(recipe, temporal_views=spec.temporal_views, spatial_views=spec.spatial_views)
    train_ds, tests = load_splits(spec)
    result = finetune(encoder, train_ds.records, {s: ds.records for s, ds in tests.items()},
                      len(train_ds.class_names), recipe, device=spec.resolved_device(), num_workers=spec.num_workers,
                      progress=spec.progress, frame_cache=spec.frame_cache)
    meta = _meta(encoder, spec, checkpoint)
    meta.update({"recipe": asdict(recipe), "from_scratch": encoder.weights is None, "steps": len(result.history),
                 "skipped_train": result.skipped_train, "seconds": round(time.perf_counter() - started, 1)})
    return result, list(train_ds.class_names), meta
