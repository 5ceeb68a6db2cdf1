"""Frozen-feature protocols on generated features: linear probe, kNN, retrieval, view averaging."""

import numpy as np
import pytest
import torch

from modist.evaluation.features import ViewFeatures
from modist.evaluation.knn import knn_predict
from modist.evaluation.linear_probe import LinearRecipe, fit_linear
from modist.evaluation.metrics import confusion_matrix, mean_class_accuracy, per_class_accuracy, topk
from modist.evaluation.multiview import average_view_features, average_view_probs
from modist.evaluation.protocols import knn_eval, linear_eval, retrieval_eval
from modist.evaluation.retrieval import retrieval_recall

torch.set_num_threads(1)
NUM_CLASSES = 10


def _blobs(n_per_class: int, dim: int = 16, views: int = 1, noise: float = 0.3, seed: int = 0):
    """Linearly separable classes: one random unit-scale centre per class plus small noise."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(123).normal(size=(NUM_CLASSES, dim)) * 3
    y = np.repeat(np.arange(NUM_CLASSES), n_per_class)
    x = centres[y][:, None, :] + noise * rng.normal(size=(len(y), views, dim))
    return ViewFeatures(x.astype(np.float32), y.astype(np.int64), np.arange(len(y)))


def test_probe_and_knn_are_perfect_on_separable_features():
    train, test = _blobs(60, views=2, seed=0), _blobs(40, views=2, seed=1)
    lin = linear_eval(train, test, NUM_CLASSES, recipe=LinearRecipe(epochs=30))
    assert lin.metrics["top1"] == 1.0 and lin.metrics["mean_class_acc"] == 1.0
    assert knn_eval(train, test, NUM_CLASSES).metrics["top1"] == 1.0
    assert retrieval_eval(train, test, NUM_CLASSES).metrics["R@1"] == 1.0


def test_shuffled_labels_give_about_chance():
    rng = np.random.default_rng(5)
    train, test = _blobs(300, seed=0), _blobs(300, seed=1)
    train.labels = rng.permutation(train.labels)
    test.labels = rng.permutation(test.labels)
    chance = 1 / NUM_CLASSES
    lin = linear_eval(train, test, NUM_CLASSES, recipe=LinearRecipe(epochs=20)).metrics["top1"]
    knn = knn_eval(train, test, NUM_CLASSES).metrics["top1"]
    r1 = retrieval_eval(train, test, NUM_CLASSES).metrics["R@1"]
    for value in (lin, knn, r1):
        assert value < 2 * chance
        assert value > 0.5 * chance


def test_retrieval_recall_by_hand():
    # Training set on the unit circle at 0, 30, 90, 180 degrees with classes a, b, a, c.
    angles = np.deg2rad([0, 30, 90, 180])
    train_x = np.stack([np.cos(angles), np.sin(angles)], 1) * np.array([[1.0], [2.0], [0.5], [3.0]])
    train_y = np.array([0, 1, 0, 2])
    # Query at 10 deg (class b): neighbours by angle 0 (a), 30 (b), 90 (a), 180 (c) -> hit from k=2.
    # Query at 100 deg (class c): 90 (a), 30 (b), 180 (c), 0 (a) -> hit from k=3.
    # Query at 200 deg (class a): 180 (c), 90 (a) ... -> hit from k=2.
    q = np.deg2rad([10, 100, 200])
    test_x = np.stack([np.cos(q), np.sin(q)], 1)
    test_y = np.array([1, 2, 0])
    assert retrieval_recall(train_x, train_y, test_x, test_y, ks=(1, 2, 3, 20)) == {1: 0.0, 2: 2 / 3, 3: 1.0, 20: 1.0}


def test_view_averaging_matches_hand_computation():
    train, test = _blobs(20, views=3, seed=0), _blobs(5, views=3, noise=3.0, seed=2)
    recipe = LinearRecipe(epochs=10)
    res = linear_eval(train, test, NUM_CLASSES, recipe=recipe, average="probs")
    # The classifier is trained on every view as a sample; test probabilities are the mean softmax.
    clf = fit_linear(train.features.reshape(-1, 16), np.repeat(train.labels, 3), recipe, NUM_CLASSES)
    z = ((test.features - clf.mean) / clf.std) @ clf.weight.numpy() + clf.bias.numpy()  # [N, V, C]
    e = np.exp(z - z.max(-1, keepdims=True))
    probs = (e / e.sum(-1, keepdims=True)).mean(1)
    np.testing.assert_array_equal(res.pred, probs.argmax(1))
    np.testing.assert_allclose(average_view_probs(torch.from_numpy(z)).numpy(), probs, rtol=1e-5, atol=1e-6)
    # Feature averaging: the mean over views, then one classifier.
    np.testing.assert_allclose(average_view_features(test.features), test.features.mean(1))
    res_f = linear_eval(train, test, NUM_CLASSES, recipe=recipe, average="features")
    clf_f = fit_linear(train.features.mean(1), train.labels, recipe, NUM_CLASSES)
    np.testing.assert_array_equal(res_f.pred, clf_f.predict(test.features.mean(1)))


def test_knn_weights_votes_by_similarity():
    # Two neighbours of class 0 barely similar, one of class 1 very similar: the weighted vote picks 1.
    train_x = np.array([[1.0, 0.0], [0.2, 1.0], [0.25, 1.0]])
    train_y = np.array([1, 0, 0])
    test_x = np.array([[1.0, 0.1]])
    assert knn_predict(train_x, train_y, test_x, k=3, temperature=0.07).tolist() == [1]
    assert knn_predict(train_x, train_y, test_x, k=3, temperature=100.0).tolist() == [0]  # ~ majority vote


def test_metrics_by_hand():
    y = np.array([0, 0, 0, 1, 2, 2])
    pred = np.array([0, 1, 0, 1, 0, 2])
    assert confusion_matrix(y, pred, 3).tolist() == [[2, 1, 0], [0, 1, 0], [1, 0, 1]]
    np.testing.assert_allclose(per_class_accuracy(y, pred, 4)[:3], [2 / 3, 1.0, 0.5])
    assert np.isnan(per_class_accuracy(y, pred, 4)[3])
    assert mean_class_accuracy(y, pred, 4) == pytest.approx((2 / 3 + 1 + 0.5) / 3)
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    assert topk(np.array([1, 0]), probs, 2) == 0.5


def test_unlabeled_split_is_refused():
    from modist.errors import DataError

    train, test = _blobs(3), _blobs(2)
    test.labels[0] = -1
    with pytest.raises(DataError, match="unlabeled"):
        knn_eval(train, test, NUM_CLASSES, split="test_x")
