"""Frozen-feature protocols on per-view features: linear probe, kNN, retrieval.

Each takes the training and one test split's :class:`ViewFeatures` and returns a
:class:`ProtocolResult` (metrics as fractions in [0, 1], plus the test predictions for
confusion matrices).

* ``linear`` with ``average="probs"`` (default): the classifier is trained on every
  training view as its own sample (``N * V`` rows) and a test video's class
  probabilities are the mean of its views' softmax outputs; with ``average="features"``
  it is trained and tested on the view-averaged feature of each video.
* ``knn``: weighted cosine kNN (:func:`~modist.evaluation.knn.knn_predict`) on
  view-averaged features.
* ``retrieval``: Recall@k (:mod:`~modist.evaluation.retrieval`) on view-averaged
  features; the predictions reported are the class of the nearest training video
  (so Recall@1 equals their top-1).

These are the ``modist`` protocols of their tasks (:mod:`~modist.evaluation.presets`); a
result's ``preset`` names the protocol whose values produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from modist.errors import DataError
from modist.evaluation.features import ViewFeatures
from modist.evaluation.knn import knn_predict
from modist.evaluation.linear_probe import LinearRecipe, fit_linear
from modist.evaluation.metrics import classification_metrics
from modist.evaluation.multiview import average_view_probs
from modist.evaluation.retrieval import DEFAULT_KS, nearest_neighbours, retrieval_recall

PROTOCOLS = ("linear", "knn", "retrieval")


@dataclass
class ProtocolResult:
    protocol: str
    split: str
    metrics: dict[str, float]
    labels: np.ndarray
    pred: np.ndarray
    num_videos: int
    skipped: int = 0
    extra: dict = field(default_factory=dict)
    preset: str = "modist"  # the named protocol (modist.evaluation.presets) whose values produced it

    def row(self) -> dict:
        """A JSON-ready summary (no per-video arrays)."""
        return {"protocol": self.protocol, "preset": self.preset, "split": self.split, **self.metrics,
                "num_videos": self.num_videos, "skipped": self.skipped, **self.extra}


def _check_labelled(feats: ViewFeatures, name: str) -> None:
    if len(feats.labels) == 0:
        raise DataError(f"split {name!r}: no readable videos to evaluate")
    if (feats.labels < 0).any():
        raise DataError(f"split {name!r}: has unlabeled videos; evaluation needs labels")


def linear_eval(train: ViewFeatures, test: ViewFeatures, num_classes: int, *, split: str = "test",
                recipe: LinearRecipe = LinearRecipe(), average: str = "probs") -> ProtocolResult:
    _check_labelled(train, "train")
    _check_labelled(test, split)
    if average == "probs":
        n, v, d = train.features.shape
        clf = fit_linear(train.features.reshape(n * v, d), np.repeat(train.labels, v), recipe, num_classes)
        probs = average_view_probs(clf.logits(test.features)).numpy()
    elif average == "features":
        clf = fit_linear(train.video_features, train.labels, recipe, num_classes)
        probs = clf.logits(test.video_features).softmax(-1).numpy()
    else:
        raise ValueError(f"average must be 'probs' or 'features', got {average!r}")
    pred = probs.argmax(1)
    metrics = classification_metrics(test.labels, pred, num_classes, probs)
    return ProtocolResult("linear", split, metrics, test.labels, pred, len(test.labels), test.skipped,
                          {"view_average": average})


def knn_eval(train: ViewFeatures, test: ViewFeatures, num_classes: int, *, split: str = "test",
             k: int = 20, temperature: float = 0.07) -> ProtocolResult:
    _check_labelled(train, "train")
    _check_labelled(test, split)
    pred = knn_predict(train.video_features, train.labels, test.video_features, k, temperature, num_classes)
    metrics = classification_metrics(test.labels, pred, num_classes)
    return ProtocolResult("knn", split, metrics, test.labels, pred, len(test.labels), test.skipped,
                          {"k": k, "temperature": temperature})


def retrieval_eval(train: ViewFeatures, test: ViewFeatures, num_classes: int, *, split: str = "test",
                   ks: tuple[int, ...] = DEFAULT_KS) -> ProtocolResult:
    _check_labelled(train, "train")
    _check_labelled(test, split)
    recall = retrieval_recall(train.video_features, train.labels, test.video_features, test.labels, ks)
    pred = train.labels[nearest_neighbours(train.video_features, test.video_features, 1)[:, 0]]
    metrics = {f"R@{k}": v for k, v in recall.items()}
    return ProtocolResult("retrieval", split, metrics, test.labels, pred, len(test.labels), test.skipped)
