"""Frozen-feature evaluation: feature extraction, linear probe, kNN."""

from modist.evaluation.features import extract_features
from modist.evaluation.knn import knn_predict
from modist.evaluation.linear_probe import linear_probe

__all__ = ["extract_features", "knn_predict", "linear_probe"]
