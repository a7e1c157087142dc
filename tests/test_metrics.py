"""Metrics as Keras 3 computes them: names, sample weights, (N,) targets, new metrics, mergeable states.

The hand-computed tests run everywhere; the Keras comparisons run where
Keras 3 on JAX is installed.
"""

import os
import re

import numpy as np
import pytest

from numlstm import metrics

rng = np.random.default_rng(41)

ALL = [metrics.MeanAbsoluteError, metrics.MeanSquaredError, metrics.RootMeanSquaredError,
       metrics.MeanAbsolutePercentageError, metrics.CategoricalAccuracy, metrics.SparseCategoricalAccuracy,
       metrics.BinaryAccuracy, metrics.Precision, metrics.Recall, metrics.AUC, metrics.R2Score]


# -- hand-computed values (no Keras needed) ---------------------------------------------
def test_default_names_are_keras_names_and_strings_keep_theirs():
    assert [cls().name for cls in ALL] == [
        "mean_absolute_error", "mean_squared_error", "root_mean_squared_error", "mean_absolute_percentage_error",
        "categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy", "precision", "recall", "auc",
        "r2_score"]
    assert metrics.MeanAbsoluteError(name="l1").name == "l1"
    assert metrics.get("mae").name == "mae" and metrics.get("auc").name == "auc"
    assert metrics.get("acc", "binary_crossentropy").name == "acc"
    assert isinstance(metrics.get("acc", "binary_crossentropy"), metrics.BinaryAccuracy)
    assert metrics.get(metrics.Recall).name == "recall"
    for name in metrics._BY_NAME:  # what a saved model's config holds comes back
        assert metrics.get(name).name == name
    with pytest.raises(TypeError, match="name must be a string"):
        metrics.MeanSquaredError(name=3)
    with pytest.raises(TypeError, match="metric must be a name, a Metric or a function, got int"):
        metrics.get(3)


def test_weighted_mean_metrics():
    y_true = np.array([[1.0, 2.0], [3.0, 5.0], [0.0, 0.0]])
    y_pred = np.array([[1.5, 2.0], [2.0, 5.0], [1.0, 1.0]])
    weights = np.array([1.0, 3.0, 0.0])
    per_sample_mae = np.array([0.25, 0.5, 1.0])
    mae = metrics.MeanAbsoluteError()
    mae.update(y_true[:2], y_pred[:2], sample_weight=weights[:2])
    mae.update(y_true[2:], y_pred[2:], sample_weight=weights[2:])
    assert mae.result() == pytest.approx(per_sample_mae @ weights / weights.sum())
    assert mae.get_state() == pytest.approx((1.75, 4.0))
    rmse = metrics.RootMeanSquaredError()
    rmse.update(y_true, y_pred, sample_weight=weights)
    assert rmse.result() == pytest.approx(np.sqrt(np.array([0.125, 0.5, 1.0]) @ weights / 4))
    # a scalar weight weighs the batch's mean once, as in Keras
    scalar = metrics.MeanSquaredError()
    scalar.update(y_true, y_pred, sample_weight=2.0)
    assert scalar.get_state() == pytest.approx((2 * np.mean((y_true - y_pred) ** 2), 2.0))
    assert metrics.MeanSquaredError().result() == 0.0  # Keras' divide_no_nan


def test_sequence_outputs_weigh_samples_or_positions():
    y_true, y_pred = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2))
    per_position = np.abs(y_true - y_pred).mean(-1)
    by_sample, by_position = metrics.MeanAbsoluteError(), metrics.MeanAbsoluteError()
    weights = np.array([1.0, 0.0, 2.0])
    by_sample.update(y_true, y_pred, sample_weight=weights)
    assert by_sample.result() == pytest.approx(per_position.mean(1) @ weights / 3)
    steps = rng.uniform(0, 1, (3, 4))
    by_position.update(y_true, y_pred, sample_weight=steps)
    assert by_position.result() == pytest.approx((per_position * steps).sum() / steps.sum())


def test_flat_targets_for_single_output():
    y_true = np.array([1.0, 0.0, 1.0, 1.0])
    y_pred = np.array([[0.9], [0.6], [0.3], [0.8]])
    for cls in ALL:
        if cls in (metrics.CategoricalAccuracy, metrics.SparseCategoricalAccuracy):
            continue
        flat, column = cls(), cls()
        flat.update(y_true, y_pred)
        column.update(y_true[:, None], y_pred)
        assert flat.result() == pytest.approx(column.result()), cls.__name__
    accuracy = metrics.BinaryAccuracy()
    accuracy.update(y_true, y_pred)
    assert accuracy.result() == 0.5


def test_precision_and_recall():
    y_true = np.array([1, 0, 1, 1, 0])
    y_pred = np.array([0.9, 0.6, 0.3, 0.8, 0.2])
    precision, recall = metrics.Precision(), metrics.Recall()
    precision.update(y_true, y_pred)
    recall.update(y_true, y_pred)
    assert precision.result() == pytest.approx(2 / 3) and recall.result() == pytest.approx(2 / 3)
    weighted = metrics.Precision()
    weighted.update(y_true, y_pred, sample_weight=[1.0, 3.0, 1.0, 1.0, 1.0])
    assert weighted.result() == pytest.approx(2 / 5)
    several = metrics.Recall(thresholds=[0.25, 0.5, 0.85])
    several.update(y_true, y_pred)
    assert several.result() == pytest.approx([1.0, 2 / 3, 1 / 3]) and several.state_size == 6
    assert metrics.Precision().result() == 0.0
    per_class = metrics.Precision(class_id=1)
    per_class.update(np.eye(3)[[1, 2, 1]], np.array([[0.1, 0.7, 0.2], [0.1, 0.6, 0.3], [0.5, 0.4, 0.1]]))
    assert per_class.result() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="thresholds must be a float or a list of floats in"):
        metrics.Precision(thresholds=1.5)


def test_auc_of_a_perfect_and_a_useless_ranking():
    y_true = np.array([0, 0, 1, 1])
    perfect = metrics.AUC()
    perfect.update(y_true, np.array([0.1, 0.4, 0.6, 0.9]))
    assert perfect.result() == pytest.approx(1.0)
    useless = metrics.AUC()
    useless.update(y_true, np.array([0.5, 0.5, 0.5, 0.5]))
    assert useless.result() == pytest.approx(0.5)
    assert metrics.AUC().state_size == 800 and metrics.AUC(num_thresholds=3).state_size == 12
    with pytest.raises(ValueError, match="num_thresholds must be an integer > 1"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="curve must be 'ROC' or 'PR'"):
        metrics.AUC(curve="PRGAIN")


def test_r2_score():
    y_true = np.array([[1.0], [4.0], [3.0]])
    y_pred = np.array([[2.0], [4.0], [4.0]])
    r2 = metrics.R2Score()
    r2.update(y_true, y_pred)
    assert r2.result() == pytest.approx(0.57142854)  # Keras' docstring example
    assert r2.state_size == 5
    unbuilt = metrics.R2Score()
    with pytest.raises(ValueError, match=r"call build\(output_shape\)"):
        unbuilt.get_state()
    unbuilt.build((None, 3))
    assert unbuilt.get_state() == (0.0,) * 13
    with pytest.raises(ValueError, match="r2_score expects 2-D inputs"):
        metrics.R2Score().update(np.zeros((2, 3, 1)), np.zeros((2, 3, 1)))


@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_states_merge_by_sum(cls):
    """What data-parallel evaluation does: each rank's state summed gives the state of all the data."""
    if cls is metrics.SparseCategoricalAccuracy:
        y_true, y_pred = rng.integers(0, 3, 10), rng.standard_normal((10, 3))
    elif cls is metrics.CategoricalAccuracy:
        y_true, y_pred = np.eye(3)[rng.integers(0, 3, 10)], rng.standard_normal((10, 3))
    else:
        y_true, y_pred = (rng.random((10, 2)) > 0.5) * 1.0, rng.random((10, 2))
    weights = rng.uniform(0, 2, 10)
    whole, shares = cls(), [cls(), cls(), cls()]
    whole.update(y_true, y_pred, sample_weight=weights)
    for share, rows in zip(shares, (slice(0, 4), slice(4, 10), slice(10, 10))):
        share.build(y_pred.shape)  # a rank with no data still knows its state's size
        if rows.start < rows.stop:
            share.update(y_true[rows], y_pred[rows], sample_weight=weights[rows])
    states = [share.get_state() for share in shares]
    assert all(len(state) == whole.state_size for state in states)
    assert all(isinstance(v, float) for state in states for v in state)
    merged = cls()
    merged.build(y_pred.shape)
    merged.set_state(*np.sum(states, axis=0))
    assert merged.result() == pytest.approx(whole.result())
    merged.reset()
    assert merged.get_state() == (0.0,) * merged.state_size
    with pytest.raises(ValueError, match="set_state needs"):
        merged.set_state(1.0)


@pytest.mark.parametrize("weights,error,message", [
    (np.ones(5), ValueError, r"one weight per sample \(4\)"),
    (np.array([1.0, -1.0, 1.0, 1.0]), ValueError, "sample_weight must be non-negative"),
    (np.array([1.0, np.nan, 1.0, 1.0]), ValueError, "sample_weight must be finite"),
    (np.array(["a"] * 4), TypeError, "sample_weight must hold real numbers"),
])
@pytest.mark.parametrize("cls", [metrics.MeanAbsoluteError, metrics.BinaryAccuracy, metrics.Precision, metrics.AUC,
                                 metrics.R2Score], ids=lambda cls: cls.__name__)
def test_bad_sample_weights(cls, weights, error, message):
    with pytest.raises(error, match=message):
        cls().update(np.zeros((4, 1)), np.zeros((4, 1)), sample_weight=weights)


def test_a_function_becomes_a_mean_metric():
    def max_error(y_true, y_pred):
        return np.abs(y_true - y_pred).max(axis=-1)

    metric = metrics.get(max_error)
    metric.update(np.zeros((2, 2)), np.array([[1.0, -3.0], [0.5, 0.0]]))
    assert metric.name == "max_error" and metric.result() == pytest.approx(1.75)


# -- against Keras 3 ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("Keras runs on another backend")
    import jax

    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)  # float64 metrics
    yield keras
    jax.config.update("jax_enable_x64", previous)


KERAS_METRICS = {  # name: (numlstm metric, Keras class and arguments, data kind)
    "mae": (metrics.MeanAbsoluteError, ("MeanAbsoluteError", {}), "real"),
    "mse": (metrics.MeanSquaredError, ("MeanSquaredError", {}), "real"),
    "rmse": (metrics.RootMeanSquaredError, ("RootMeanSquaredError", {}), "real"),
    "mape": (metrics.MeanAbsolutePercentageError, ("MeanAbsolutePercentageError", {}), "real"),
    "binary_accuracy": (metrics.BinaryAccuracy, ("BinaryAccuracy", {}), "binary"),
    "categorical_accuracy": (metrics.CategoricalAccuracy, ("CategoricalAccuracy", {}), "real"),
    "precision": (metrics.Precision, ("Precision", {}), "binary"),
    "recall": (metrics.Recall, ("Recall", {}), "binary"),
    "auc": (metrics.AUC, ("AUC", {}), "binary"),
    "auc_pr": (lambda: metrics.AUC(curve="PR"), ("AUC", {"curve": "PR"}), "binary"),
    "auc_minoring": (lambda: metrics.AUC(summation_method="minoring"), ("AUC", {"summation_method": "minoring"}),
                     "binary"),
    "auc_majoring_21": (lambda: metrics.AUC(21, summation_method="majoring"),
                        ("AUC", {"num_thresholds": 21, "summation_method": "majoring"}), "binary"),
    "r2": (metrics.R2Score, ("R2Score", {}), "real"),
    "r2_variance_weighted": (lambda: metrics.R2Score("variance_weighted_average"),
                             ("R2Score", {"class_aggregation": "variance_weighted_average"}), "real"),
}
SHAPES = [((5, 3), None), ((5, 3), (5,)), ((5, 3), (5, 1)), ((5, 3), ()), ((4, 3, 2), None), ((4, 3, 2), (4, 3)),
          ((6, 1), (6,)), ((6, 1), (6, 1))]


def _batches(kind, shape, weight_shape):
    for _ in range(3):
        if kind == "binary":
            y_true, y_pred = (rng.random(shape) > 0.5) * 1.0, rng.random(shape)
        else:
            y_true, y_pred = rng.standard_normal(shape), rng.standard_normal(shape)
        yield y_true, y_pred, None if weight_shape is None else rng.uniform(0, 2, weight_shape)


def _compare(keras, ours, theirs, batches):
    for y_true, y_pred, weights in batches:
        ours.update(y_true, y_pred, sample_weight=weights)
        theirs.update_state(y_true, y_pred, sample_weight=weights)
    np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("shape,weight_shape", SHAPES)
@pytest.mark.parametrize("name", KERAS_METRICS)
def test_metric_matches_keras(keras, name, shape, weight_shape):
    make, (class_name, arguments), kind = KERAS_METRICS[name]
    if name.startswith("r2") and (len(shape) != 2 or weight_shape == ()):
        pytest.skip("R2Score takes 2-D outputs and per-sample weights")
    _compare(keras, make(), getattr(keras.metrics, class_name)(dtype="float64", **arguments),
             _batches(kind, shape, weight_shape))


@pytest.mark.parametrize("name", KERAS_METRICS)
def test_flat_targets_match_keras(keras, name):
    make, (class_name, arguments), kind = KERAS_METRICS[name]
    if name == "categorical_accuracy":
        pytest.skip("one-hot targets have a class axis")
    batches = [(y_true[:, 0], y_pred, weights) for y_true, y_pred, weights in _batches(kind, (6, 1), (6,))]
    _compare(keras, make(), getattr(keras.metrics, class_name)(dtype="float64", **arguments), batches)


@pytest.mark.parametrize("labels", ["flat", "trailing_one"])
def test_sparse_categorical_accuracy_matches_keras(keras, labels):
    for shape, weight_shape in [((5, 3), (5,)), ((4, 3, 2), (4, 3)), ((4, 3, 2), (4,)), ((4, 3, 2), None)]:
        batches = []
        for _ in range(2):
            y_true = rng.integers(0, shape[-1], shape[:-1]).astype(float)
            batches.append((y_true if labels == "flat" else y_true[..., None], rng.standard_normal(shape),
                            None if weight_shape is None else rng.uniform(0, 2, weight_shape)))
        _compare(keras, metrics.SparseCategoricalAccuracy(),
                 keras.metrics.SparseCategoricalAccuracy(dtype="float64"), batches)


def test_auc_matches_keras_on_ties_and_edges(keras):
    y_true = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    y_pred = np.array([0.0, 1.0, 0.5, 0.5, 1.2, -0.1, 0.3, 0.3])  # clipped, on thresholds, tied
    for arguments in ({}, {"curve": "PR"}, {"num_thresholds": 3}):
        _compare(keras, metrics.AUC(**arguments), keras.metrics.AUC(dtype="float64", **arguments),
                 [(y_true, y_pred, None), (y_true, y_pred, rng.uniform(0, 1, 8))])
    logits = rng.standard_normal(8)
    _compare(keras, metrics.AUC(from_logits=True), keras.metrics.AUC(from_logits=True, dtype="float64"),
             [(y_true, logits, None)])


def test_default_names_match_keras(keras):
    for cls in ALL:  # Keras numbers the later instances of auto-named metrics ("precision_2")
        assert cls().name == re.sub(r"_\d+$", "", getattr(keras.metrics, cls.__name__)().name)


def test_mismatched_shapes_are_named():
    with pytest.raises(ValueError, match=r"y_true has shape \(4, 2\), which does not match y_pred's \(4, 3\)"):
        metrics.MeanAbsoluteError().update(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"y_true has shape \(4, 2\) but y_pred has \(4, 3\)"):
        metrics.AUC().update(np.zeros((4, 2)), np.zeros((4, 3)))
