"""What ``modist eval`` does: resolve the splits, get (cached) features, run protocols.

Every run describes its protocols in ``meta["protocols"]`` (:func:`modist.evaluation.presets.describe`:
the protocol's name and every value used), which :func:`modist.evaluation.report.write_report`
writes into ``results.json`` and ``results.md``. Default test splits are ``test``, except
``synth`` (``test_biased``, ``test_unbiased``) and ``ssv2`` (``val``: its test labels are not
public); see :data:`modist.evaluation.presets.DEFAULT_TEST_SPLITS`.

Evaluation never measures on the videos it trained on unless told to. A dataset without
splits (a plain folder of class sub-folders, a manifest without a ``split`` column: its
adapter marks it ``unsplit``) is divided into disjoint training and test videos, seeded and
stratified by class (:func:`modist.data.adapters.hold_out`, ``EvalSpec.test_fraction`` and
``split_seed``), and ``meta["split_note"]`` says so. A test split that is the training split
is refused unless ``EvalSpec.allow_same_split``. Every result row carries
``num_train_videos`` and ``num_test_videos``.

Example:
    >>> spec = EvalSpec("synth:/data/synth", temporal_views=4)        # doctest: +SKIP
    >>> enc = load_eval_encoder("runs/modist")                          # doctest: +SKIP
    >>> results, names, meta = run_frozen(enc, spec, ("linear", "knn"))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import KW_ONLY, asdict, dataclass, replace
from typing import Any

import torch

from modist.data.adapters.files import canonical_split
from modist.data.records import VideoDataset
from modist.errors import ConfigError, DataError
from modist.evaluation import presets
from modist.evaluation.encoder import EvalEncoder
from modist.evaluation.feature_cache import FeatureCache, cache_key
from modist.evaluation.features import ViewFeatures, extract_view_features
from modist.evaluation.finetune import FinetuneRecipe, FinetuneResult, finetune
from modist.evaluation.linear_probe import LinearRecipe
from modist.evaluation.protocols import PROTOCOLS, ProtocolResult, knn_eval, linear_eval, retrieval_eval
from modist.evaluation.retrieval import DEFAULT_KS
from modist.runtime import resolve_device

log = logging.getLogger(__name__)


@dataclass
class EvalSpec:
    """Which data, which views, where features are cached."""

    dataset: str
    _: KW_ONLY
    train_split: str = "train"
    test_splits: tuple[str, ...] | None = None  # None: the dataset's default (presets.DEFAULT_TEST_SPLITS)
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
    test_fraction: float = 0.3  # held out per class when the dataset has no splits
    split_seed: int = 0  # the draw of that held-out set
    allow_same_split: bool = False  # True: a test split may be the training split (measures fitting)

    def resolved_test_splits(self) -> tuple[str, ...]:
        if self.test_splits:
            return tuple(self.test_splits)
        return presets.DEFAULT_TEST_SPLITS.get(self.dataset_kind(), ("test",))

    def dataset_kind(self) -> str:
        """The adapter of ``dataset`` (``ssv2``, ``ucf101``, ...; detected for a bare path)."""
        from modist.data.adapters import parse_spec

        return parse_spec(self.dataset)[0]

    def resolved_device(self) -> torch.device:
        if isinstance(self.device, torch.device):
            return self.device
        return resolve_device(self.device, flag="EvalSpec.device")


@dataclass
class Splits:
    """The training split and the test splits of a run, as evaluated."""

    train: VideoDataset
    tests: dict[str, VideoDataset]
    held_out: dict | None = None  # how the test videos were held out when the dataset has no splits
    note: str = ""  # one line for the results when the splits are not the dataset's own

    def counts(self, split: str) -> dict[str, int]:
        return {"num_train_videos": len(self.train.records), "num_test_videos": len(self.tests[split].records)}


def _check_labelled(spec: EvalSpec, name: str, ds: VideoDataset) -> None:
    if not ds.records:
        raise DataError(f"{spec.dataset}: split {name!r} has no videos")
    unlabelled = sum(r.label is None for r in ds.records)
    if not unlabelled:
        return
    from modist.data.adapters import parse_spec

    kind, root = parse_spec(spec.dataset)
    if unlabelled == len(ds.records) and kind == "folder":
        raise DataError(f"{spec.dataset}: no class sub-folders, so no labels to evaluate against: put each class's "
                        f"videos in a sub-folder named after it ({root / '<class>'}/); `modist embed` needs no labels")
    if unlabelled == len(ds.records) and kind == "manifest":
        raise DataError(f"{spec.dataset}: no labels to evaluate against: give the manifest a label column; "
                        "`modist embed` needs no labels")
    labelled = [s for s in presets.DEFAULT_TEST_SPLITS.get(kind, ()) if s != name]
    hint = f"; evaluate on split {labelled[0]!r}, which has labels" if labelled else ""
    raise DataError(f"{spec.dataset}: split {name!r} has {unlabelled} of {len(ds.records)} videos without "
                    f"labels (evaluation needs them){hint}")


def _held_out(spec: EvalSpec, train: VideoDataset, tests: dict[str, VideoDataset]) -> Splits:
    """Disjoint training and test videos of a dataset without splits (see the module docstring)."""
    from modist.data.adapters import hold_out

    same = canonical_split(spec.train_split)
    others = [s for s in tests if canonical_split(s) != same]
    if not others:  # every test split is the training split (allowed): nothing to hold out
        return Splits(train, tests, note=_same_note(spec, list(tests)))
    if len(others) > 1:
        raise DataError(f"{spec.dataset}: no splits, so one held-out test set, not {len(others)} "
                        f"({', '.join(others)}); name one test split")
    h = hold_out(train.records, spec.test_fraction, spec.split_seed)
    if not h.test:
        raise DataError(f"{spec.dataset}: no splits, and no class has two videos to hold one out for testing")
    names = train.class_names
    fitted = replace(train, records=h.train, missing=[])
    held = replace(train, records=h.test, missing=[])
    split_tests = {s: (fitted if canonical_split(s) == same else held) for s in tests}
    pct = f"{100 * spec.test_fraction:g}"
    held_out = {"test_fraction": spec.test_fraction, "seed": spec.split_seed, "num_train_videos": len(h.train),
                "num_test_videos": len(h.test),
                "per_class": {names[c]: list(n) for c, n in h.per_class.items()},
                "train_only_classes": [names[c] for c in h.train_only]}
    note = (f"no test split in {spec.dataset}: held out {pct} % of the videos per class, seed {spec.split_seed} "
            f"({len(h.train)} train, {len(h.test)} test videos)")
    if h.train_only:
        shown = held_out["train_only_classes"]
        note += (f"; {len(shown)} class(es) with one video, training only: {', '.join(shown[:5])}"
                 + (", ..." if len(shown) > 5 else ""))
    if len(others) < len(tests):
        note += "; " + _same_note(spec, [s for s in tests if s not in others])
    return Splits(fitted, split_tests, held_out=held_out, note=note)


def _same_note(spec: EvalSpec, splits: list[str]) -> str:
    return (f"test split {splits[0]!r} is the training split: its figures measure fitting to the training videos, "
            "not generalisation")


def resolve_splits(spec: EvalSpec) -> Splits:
    """The run's splits: the dataset's own, or a held-out test set when it has none (module docstring)."""
    from modist.data.adapters import resolve_dataset

    names = spec.resolved_test_splits()
    same = [s for s in names if canonical_split(s) == canonical_split(spec.train_split)]
    if same and not spec.allow_same_split:
        raise ConfigError(f"{spec.dataset}: test split {same[0]!r} is the training split: the results would be "
                          "measured on the videos the classifier was fitted to (allow_same_split permits it)")
    if not 0 < spec.test_fraction < 1:
        raise ConfigError(f"test_fraction must be between 0 and 1 (exclusive), got {spec.test_fraction}")
    train = resolve_dataset(spec.dataset, split=spec.train_split, fold=spec.fold)
    _check_labelled(spec, spec.train_split, train)
    tests = {s: resolve_dataset(spec.dataset, split=s, fold=spec.fold) for s in names}
    for name, ds in tests.items():
        _check_labelled(spec, name, ds)
    for name, ds in [(spec.train_split, train), *tests.items()]:  # warnings only once nothing is fatal
        if ds.missing:
            log.warning("%s: %d video(s) of split %r listed but not on disk", spec.dataset, len(ds.missing), name)
    if not train.class_names:
        raise DataError(f"{spec.dataset}: no class names")
    if train.unsplit and all(ds.unsplit for ds in tests.values()):
        splits = _held_out(spec, train, tests)
    else:
        splits = Splits(train, tests, note=_same_note(spec, same) if same else "")
    if same:
        log.warning("%s", _same_note(spec, same))
    elif splits.note:
        log.info("%s", splits.note)
    return splits


def load_splits(spec: EvalSpec) -> tuple[VideoDataset, dict[str, VideoDataset]]:
    """The training dataset and the test datasets by split (:func:`resolve_splits` without its notes)."""
    splits = resolve_splits(spec)
    return splits.train, splits.tests


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


def apply_encoder_values(encoder: EvalEncoder, values: Mapping[str, Any]) -> EvalEncoder:
    """A copy of ``encoder`` with a protocol's clip shape and conv1 temporal stride (None keeps its own).

    The conv1 temporal stride is not a weight: the backbone is rebuilt at the new stride and
    given the same weights (the release finetunes its stride-1 checkpoint at stride 2).
    """
    enc = encoder.with_overrides(clip_frames=values.get("clip_frames"), stride=values.get("stride"),
                                 crop_size=values.get("crop_size"), short_side=values.get("short_side"))
    stride = values.get("conv1_temporal_stride")
    if stride is None or stride == getattr(enc.backbone, "conv1_temporal_stride", 1):
        return enc
    try:
        spec = replace(enc.spec, conv1_temporal_stride=stride)
        backbone = spec.build()
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"conv1_temporal_stride: cannot rebuild this encoder ({type(exc).__name__}: {exc})") from None
    backbone.load_state_dict(enc.backbone.state_dict())
    backbone.train(enc.backbone.training)
    return replace(enc, backbone=backbone, spec=spec)


def encoder_values(encoder: EvalEncoder) -> dict[str, Any]:
    """The encoder's own clip settings (those of its ``encoder.json``; overrides live outside ``trained_on``)."""
    t = encoder.trained_on
    return {"clip_frames": encoder.clip_frames if t.clip_frames is None else t.clip_frames,
            "stride": encoder.stride if t.stride is None else t.stride,
            "crop_size": encoder.crop_size if t.crop_size is None else t.crop_size, "short_side": encoder.short_side,
            "conv1_temporal_stride": getattr(encoder.backbone, "conv1_temporal_stride", 1)}


def _used_clip(encoder: EvalEncoder, spec: EvalSpec) -> dict[str, Any]:
    return {"clip_frames": encoder.clip_frames, "stride": encoder.stride, "crop_size": encoder.crop_size,
            "short_side": encoder.short_side,
            "conv1_temporal_stride": getattr(encoder.backbone, "conv1_temporal_stride", 1),
            "temporal_views": spec.temporal_views, "spatial_views": spec.spatial_views}


def _meta(encoder: EvalEncoder, spec: EvalSpec, checkpoint: str | None, splits: Splits) -> dict:
    meta = {"checkpoint": checkpoint, "dataset": spec.dataset, "train_split": spec.train_split,
            "test_splits": list(spec.resolved_test_splits()), "fold": spec.fold,
            "num_train_videos": len(splits.train.records),
            "num_test_videos": {s: len(ds.records) for s, ds in splits.tests.items()},
            "held_out": splits.held_out, "encoder": {**encoder.record(), **encoder.settings()}}
    if splits.note:
        meta["split_note"] = splits.note
    return meta


def run_frozen(encoder: EvalEncoder, spec: EvalSpec, protocols: tuple[str, ...] = PROTOCOLS, *,
               linear: LinearRecipe = LinearRecipe(), average: str = "probs", knn_k: int = 20,
               knn_temperature: float = 0.07, ks: tuple[int, ...] = DEFAULT_KS,
               checkpoint: str | None = None, own: Mapping[str, Any] | None = None,
               ) -> tuple[list[ProtocolResult], list[str], dict]:
    """Run the frozen-feature ``protocols`` on every test split; features are computed once per split.

    These are the ``modist`` protocols of their tasks; ``meta["protocols"]`` describes each with
    the values used. ``own``: the encoder's own clip settings before any override (default: what
    its ``encoder.json`` says), so that the description can tell which values were given.
    """
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        raise ConfigError(f"unknown protocol {unknown[0]!r}; choose from {', '.join(PROTOCOLS)}")
    started = time.perf_counter()
    splits = resolve_splits(spec)
    train_ds, tests = splits.train, splits.tests
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
    for r in results:
        r.extra.update(splits.counts(r.split))
    meta = _meta(encoder, spec, checkpoint, splits)
    meta.update({"views": f"{spec.temporal_views}x{spec.spatial_views}", "skipped_train": train.skipped,
                 "cache_hits": features.hits, "seconds": round(time.perf_counter() - started, 1)})
    if "linear" in protocols:
        meta["linear_recipe"] = asdict(linear)
    clip = _used_clip(encoder, spec)
    used = {"linear": {**clip, **asdict(linear), "average": average},
            "knn": {**clip, "k": knn_k, "temperature": knn_temperature}, "retrieval": {**clip, "ks": list(ks)}}
    own = dict(own) if own is not None else encoder_values(encoder)
    meta["protocols"] = {f"{p}:{presets.DEFAULT}": presets.describe(p, presets.DEFAULT, used[p],
                                                                    dataset_kind=spec.dataset_kind(), encoder=own)
                         for p in protocols}
    return results, list(train_ds.class_names), meta


def run_finetune(encoder: EvalEncoder, spec: EvalSpec, recipe: FinetuneRecipe = FinetuneRecipe(), *,
                 checkpoint: str | None = None, protocol: str = presets.DEFAULT,
                 own: Mapping[str, Any] | None = None) -> tuple[FinetuneResult, list[str], dict]:
    """Finetune on the training split and test every test split on the spec's views.

    ``protocol`` names the preset the recipe came from (``modist``, ``maclr``): the results
    carry it and ``meta["protocols"]`` describes it with the values used (task ``linear`` for a
    recipe with ``frozen_backbone``, else ``finetune``). ``own`` as for :func:`run_frozen`.
    """
    started = time.perf_counter()
    recipe = replace(recipe, temporal_views=spec.temporal_views, spatial_views=spec.spatial_views)
    splits = resolve_splits(spec)
    train_ds, tests = splits.train, splits.tests
    result = finetune(encoder, train_ds.records, {s: ds.records for s, ds in tests.items()},
                      len(train_ds.class_names), recipe, device=spec.resolved_device(), num_workers=spec.num_workers,
                      progress=spec.progress, frame_cache=spec.frame_cache)
    task = "linear" if recipe.frozen_backbone else "finetune"
    for split, r in result.splits.items():
        r.preset = protocol
        r.extra.update(splits.counts(split))
    meta = _meta(encoder, spec, checkpoint, splits)
    meta.update({"recipe": asdict(recipe), "from_scratch": encoder.weights is None, "steps": len(result.history),
                 "skipped_train": result.skipped_train, "seconds": round(time.perf_counter() - started, 1)})
    used = {**asdict(recipe), **_used_clip(encoder, spec)}
    own = dict(own) if own is not None else encoder_values(encoder)
    meta["protocols"] = {f"{task}:{protocol}": presets.describe(task, protocol, used, dataset_kind=spec.dataset_kind(),
                                                                encoder=own)}
    return result, list(train_ds.class_names), meta
