"""Downstream evaluation: embeddings, linear probe, kNN, retrieval, finetuning.

Frozen-feature protocols live in :mod:`.protocols` (on per-view features from
:mod:`.features`, cached by :mod:`.feature_cache`), finetuning in :mod:`.finetune`, the
``modist eval`` orchestration in :mod:`.runner` and its outputs in :mod:`.report`.
"""

from modist.evaluation.embed import embed, embed_videos, save_embeddings
from modist.evaluation.features import ViewFeatures, extract_view_features
from modist.evaluation.knn import knn_predict
from modist.evaluation.linear_probe import LinearRecipe, fit_linear
from modist.evaluation.multiview import average_view_features, average_view_probs
from modist.evaluation.retrieval import retrieval_recall

__all__ = [
    "LinearRecipe",
    "ViewFeatures",
    "average_view_features",
    "average_view_probs",
    "embed",
    "embed_videos",
    "extract_view_features",
    "fit_linear",
    "knn_predict",
    "retrieval_recall",
    "save_embeddings",
]
