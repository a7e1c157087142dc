"""Losses as Keras 3 computes them: (N,) targets, sample weights, the newer losses, custom losses.

The hand-computed tests run everywhere; the Keras comparisons (values and
gradients in float64, gradients from JAX) run where Keras 3 on JAX is
installed.
"""

import os

import numpy as np
import pytest

import numlstm
from numlstm import layers, losses
from numlstm.backend import cpu

rng = np.random.default_rng(31)


# -- hand-computed values (no Keras needed) ---------------------------------------------
def test_new_losses_follow_the_keras_formulas():
    y_true = np.array([[2.0, 0.0], [0.5, 1.0]])
    y_pred = np.array([[1.0, 0.5], [0.5, 3.0]])
    mape = 100 * np.mean([0.5, 0.5 / 1e-7, 0.0, 2.0])
    assert losses.get("mape")(y_true, y_pred) == pytest.approx(mape)
    msle = np.mean((np.log(np.maximum(y_pred, 1e-7) + 1) - np.log(np.maximum(y_true, 1e-7) + 1)) ** 2)
    assert losses.get("msle")(y_true, y_pred) == pytest.approx(msle)
    assert losses.get("logcosh")(y_true, y_pred) == pytest.approx(np.mean(np.log(np.cosh(y_pred - y_true))))
    assert losses.get("poisson")(y_true, y_pred) == pytest.approx(np.mean(y_pred - y_true * np.log(y_pred + 1e-7)))
    p = np.array([[0.2, 0.8], [0.5, 0.5]])
    q = np.array([[0.4, 0.6], [0.9, 0.1]])
    kld = np.mean(np.sum(p * np.log(p / q), axis=-1))  # summed over the last axis, averaged over samples
    assert losses.get("kld")(p, q) == pytest.approx(kld)
    assert losses.get("kl_divergence")(np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]])) == pytest.approx(
        1e-7 * np.log(1e-7 / 0.5) + np.log(2))  # y_true clipped to [1e-7, 1]


@pytest.mark.parametrize("name", ["mape", "msle", "log_cosh", "poisson", "kl_divergence"])
def test_new_loss_gradients_match_finite_differences(name):
    loss = losses.get(name)
    y_true = rng.uniform(0.1, 1.0, (3, 2, 4))
    y_pred = rng.uniform(0.1, 0.9, (3, 2, 4))
    weights = rng.uniform(0.0, 2.0, (3, 2))
    for sample_weight in (None, weights):
        _, grad = loss.value_and_gradient(y_true, y_pred, sample_weight)
        numeric = np.zeros_like(y_pred)
        for index in np.ndindex(y_pred.shape):
            plus, minus = y_pred.copy(), y_pred.copy()
            plus[index] += 1e-6
            minus[index] -= 1e-6
            numeric[index] = (loss(y_true, plus, sample_weight) - loss(y_true, minus, sample_weight)) / 2e-6
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_flat_targets_for_single_output():
    y_pred = np.array([[0.5], [1.0], [-1.0]])
    flat = np.array([0.0, 1.0, 1.0])
    for name in ["mse", "mae", "huber", "mape", "msle", "log_cosh", "binary_crossentropy"]:
        loss = losses.get(name)
        value, grad = loss.value_and_gradient(flat, np.abs(y_pred))
        expected_value, expected_grad = loss.value_and_gradient(flat[:, None], np.abs(y_pred))
        assert value == expected_value and grad.shape == (3, 1)
        np.testing.assert_array_equal(grad, expected_grad)
    # and y_true with an extra trailing axis of length 1 for (N, T) outputs
    assert losses.get("mse")(np.zeros((2, 3, 1)), np.ones((2, 3))) == 1.0
    with pytest.raises(ValueError, match=r"y_true has shape \(3, 2\) but the model outputs \(3, 1\)"):
        losses.get("mse")(np.zeros((3, 2)), y_pred)


def test_sample_weights_follow_sum_over_batch_size():
    y_true = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    y_pred = np.array([[1.0, 3.0], [2.0, 2.0], [4.0, 0.0]])
    weights = np.array([1.0, 0.5, 0.0])
    per_sample = np.array([5.0, 4.0, 8.0])  # the mean of the squared errors over the last axis
    value, grad = losses.MeanSquaredError().value_and_gradient(y_true, y_pred, sample_weight=weights)
    assert value == pytest.approx((per_sample * weights).sum() / 3)  # divided by the samples, not the weights
    np.testing.assert_allclose(grad, 2 * y_pred * weights[:, None] / 2 / 3)
    # ones weigh nothing; a scalar scales the whole loss
    unweighted = losses.MeanSquaredError().value_and_gradient(y_true, y_pred)
    ones = losses.MeanSquaredError().value_and_gradient(y_true, y_pred, sample_weight=np.ones(3))
    assert ones[0] == pytest.approx(unweighted[0])
    np.testing.assert_allclose(ones[1], unweighted[1])
    assert losses.MeanSquaredError()(y_true, y_pred, sample_weight=2.0) == pytest.approx(2 * unweighted[0])


def test_sample_weights_of_sequence_outputs():
    y_true = rng.standard_normal((3, 4, 2))
    y_pred = rng.standard_normal((3, 4, 2))
    per_position = ((y_pred - y_true) ** 2).mean(axis=-1)
    per_sample = np.array([1.0, 0.0, 2.0])
    # (N,): every position of a sample gets its weight; (N, T): one weight per position
    value = losses.MeanSquaredError()(y_true, y_pred, sample_weight=per_sample)
    assert value == pytest.approx((per_position * per_sample[:, None]).sum() / 12)
    timesteps = rng.uniform(0, 1, (3, 4))
    assert losses.MeanSquaredError()(y_true, y_pred, sample_weight=timesteps) == pytest.approx(
        (per_position * timesteps).sum() / 12)
    assert losses.MeanSquaredError()(y_true, y_pred, sample_weight=timesteps[..., None]) == pytest.approx(
        (per_position * timesteps).sum() / 12)
    labels = rng.integers(0, 2, (3, 4))
    sparse = losses.SparseCategoricalCrossentropy(from_logits=True)
    rows = -np.take_along_axis(y_pred - np.log(np.exp(y_pred).sum(-1, keepdims=True)), labels[..., None], -1)[..., 0]
    assert sparse(labels, y_pred, sample_weight=timesteps) == pytest.approx((rows * timesteps).sum() / 12)


@pytest.mark.parametrize("weights,message", [
    (np.ones(4), r"sample_weight must have shape \(3,\) \(one weight per sample\) or \(3, 2\)"),
    (np.ones((3, 3)), r"sample_weight must have shape"),
    (np.array([1.0, -1.0, 1.0]), "sample_weight must be non-negative"),
    (np.array([1.0, np.nan, 1.0]), "sample_weight must be finite"),
    (np.array([1.0, np.inf, 1.0]), "sample_weight must be finite"),
])
def test_bad_sample_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        losses.MeanSquaredError()(np.zeros((3, 2, 2)), np.zeros((3, 2, 2)), sample_weight=weights)


def test_sample_weight_of_strings_is_a_type_error():
    with pytest.raises(TypeError, match="sample_weight must hold real numbers"):
        losses.MeanSquaredError()(np.zeros((2, 1)), np.zeros((2, 1)), sample_weight=["a", "b"])


def test_the_cpu_backend_passes_sample_weights():
    y_true, y_pred = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    weights = rng.uniform(0, 1, 4)
    loss = losses.Huber(0.5)
    assert cpu.loss_value_and_gradient(loss, y_true, y_pred, sample_weight=weights)[0] == \
        loss(y_true, y_pred, sample_weight=weights)
    assert cpu.loss_value_and_gradient(loss, y_true, y_pred)[0] == loss(y_true, y_pred)


def test_get_config_rebuilds_every_loss():
    for name in sorted(losses._BY_NAME):
        loss = losses.get(name)
        rebuilt = type(loss)(**loss.get_config())
        assert rebuilt.name == loss.name and rebuilt.get_config() == loss.get_config()
    assert losses.Huber(0.3).get_config() == {"delta": 0.3}


def test_plain_functions_are_refused_with_the_way_to_write_a_loss():
    def my_loss(y_true, y_pred):
        return ((y_true - y_pred) ** 4).mean()

    with pytest.raises(TypeError, match=r"(?s)'my_loss' is a plain callable.*needs? .*gradient.*class MyLoss"
                                        r"\(numlstm.losses.Loss\).*def _term.*value_and_gradient"):
        losses.get(my_loss)
    with pytest.raises(TypeError, match="plain callable"):
        losses.get(lambda y_true, y_pred: 0.0)
    with pytest.raises(TypeError, match="loss must be a name or a numlstm Loss, got int"):
        losses.get(3)
    assert isinstance(losses.get(losses.Poisson), losses.Poisson)
    with pytest.raises(NotImplementedError, match="implements neither _term nor value_and_gradient"):
        type("Empty", (losses.Loss,), {})()(np.zeros((1, 1)), np.zeros((1, 1)))


class QuarticError(losses.Loss):
    """A custom loss through the elementwise term."""

    name = "quartic_error"

    def _term(self, y_true, y_pred):
        error = y_pred - y_true
        return error ** 4, 4 * error ** 3


class WeightedSquares(losses.Loss):
    """A custom loss through value_and_gradient, with sample weights by the helper."""

    name = "weighted_squares"

    def value_and_gradient(self, y_true, y_pred, sample_weight=None):
        y_true = self._targets_like(y_true, y_pred)
        error = y_pred - y_true
        return self._reduce_positions((error ** 2).mean(-1), 2 * error / error.shape[-1], y_pred, sample_weight)


def test_custom_losses_compute_like_builtins():
    y_true, y_pred = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    weights = rng.uniform(0, 1, 5)
    value, _ = QuarticError().value_and_gradient(y_true, y_pred, weights)
    assert value == pytest.approx(((y_pred - y_true) ** 4).mean(-1) @ weights / 5)
    reference = losses.MeanSquaredError().value_and_gradient(y_true, y_pred, weights)
    custom = WeightedSquares().value_and_gradient(y_true, y_pred, weights)
    assert custom[0] == pytest.approx(reference[0])
    np.testing.assert_allclose(custom[1], reference[1])


@pytest.mark.parametrize("loss", [QuarticError(), WeightedSquares()], ids=lambda loss: loss.name)
def test_a_custom_loss_trains(loss):
    numlstm.utils.set_random_seed(0)
    x = rng.uniform(-1, 1, (64, 3))
    y = x @ np.array([[0.5], [-1.0], [0.25]]) + 0.1
    model = numlstm.Sequential([layers.Input((3,)), layers.Dense(1, dtype="float64")])
    model.compile(numlstm.optimizers.Adam(0.05), loss=loss)
    before = model.evaluate(x, y)
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    assert model.evaluate(x, y) < 0.1 * before


def test_a_custom_loss_without_sample_weight_keeps_working():
    class Old(losses.Loss):
        name = "old"

        def value_and_gradient(self, y_true, y_pred):
            return float(np.mean(np.cosh(y_pred - y_true))), np.sinh(y_pred - y_true) / y_pred.size

    y = np.zeros((2, 1))
    assert cpu.loss_value_and_gradient(Old(), y, np.ones((2, 1)))[0] == pytest.approx(np.cosh(1.0))


# -- against Keras 3 ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("Keras runs on another backend")
    return keras


@pytest.fixture(scope="module")
def jax(keras):
    import jax

    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)  # float64 values and gradients
    yield jax
    jax.config.update("jax_enable_x64", previous)


def _keras_value_and_gradient(jax, keras_loss, y_true, y_pred, sample_weight):
    value, gradient = jax.value_and_grad(lambda p: keras_loss(y_true, p, sample_weight=sample_weight))(
        jax.numpy.asarray(y_pred))
    return float(value), np.asarray(gradient)


KERAS_LOSSES = {  # name: (numlstm loss, Keras class and arguments, kind of data)
    "mse": (losses.MeanSquaredError(), ("MeanSquaredError", {}), "real"),
    "mae": (losses.MeanAbsoluteError(), ("MeanAbsoluteError", {}), "real"),
    "mape": (losses.MeanAbsolutePercentageError(), ("MeanAbsolutePercentageError", {}), "real"),
    "msle": (losses.MeanSquaredLogarithmicError(), ("MeanSquaredLogarithmicError", {}), "positive"),
    "huber": (losses.Huber(0.7), ("Huber", {"delta": 0.7}), "real"),
    "log_cosh": (losses.LogCosh(), ("LogCosh", {}), "real"),
    "poisson": (losses.Poisson(), ("Poisson", {}), "positive"),
    "kld": (losses.KLDivergence(), ("KLDivergence", {}), "probability"),
    "bce": (losses.BinaryCrossentropy(), ("BinaryCrossentropy", {}), "probability"),
    "bce_logits": (losses.BinaryCrossentropy(True), ("BinaryCrossentropy", {"from_logits": True}), "real"),
    "cce": (losses.CategoricalCrossentropy(), ("CategoricalCrossentropy", {}), "probability"),
    "cce_logits": (losses.CategoricalCrossentropy(True), ("CategoricalCrossentropy", {"from_logits": True}), "real"),
}
SHAPES = [  # (y_pred shape, sample weight shape or None)
    ((5, 3), None), ((5, 3), (5,)), ((5, 3), (5, 1)), ((5, 3), ()), ((4, 3, 2), None), ((4, 3, 2), (4, 3)),
    ((4, 3, 2), (4, 1)), ((6, 1), (6,)),
]


def _data(kind, shape):
    if kind == "real":
        return rng.standard_normal(shape), rng.standard_normal(shape)
    if kind == "positive":
        return rng.uniform(0, 3, shape), rng.uniform(0.01, 3, shape)
    return rng.uniform(0, 1, shape), rng.uniform(0.02, 0.98, shape)


def _assert_same(ours, theirs):
    # Keras averages in float32 inside: its error scales with the terms averaged (of order 1 here), not with
    # their mean, which cancellation can make small.
    assert ours[0] == pytest.approx(theirs[0], rel=1e-6, abs=1e-7)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6, atol=1e-12)


@pytest.mark.filterwarnings("ignore:In loss categorical_crossentropy:SyntaxWarning")
@pytest.mark.parametrize("shape,weight_shape", SHAPES)
@pytest.mark.parametrize("name", KERAS_LOSSES)
def test_loss_matches_keras(keras, jax, name, shape, weight_shape):
    ours, (class_name, arguments), kind = KERAS_LOSSES[name]
    theirs = getattr(keras.losses, class_name)(dtype="float64", **arguments)
    y_true, y_pred = _data(kind, shape)
    weights = None if weight_shape is None else rng.uniform(0, 2, weight_shape)
    _assert_same(ours.value_and_gradient(y_true, y_pred, weights),
                 _keras_value_and_gradient(jax, theirs, y_true, y_pred, weights))


@pytest.mark.filterwarnings("ignore:In loss categorical_crossentropy:SyntaxWarning")
@pytest.mark.parametrize("name", KERAS_LOSSES)
def test_flat_targets_match_keras(keras, jax, name):
    ours, (class_name, arguments), kind = KERAS_LOSSES[name]
    theirs = getattr(keras.losses, class_name)(dtype="float64", **arguments)
    y_true, y_pred = _data(kind, (6, 1))
    weights = rng.uniform(0, 2, 6)
    for sample_weight in (None, weights):
        _assert_same(ours.value_and_gradient(y_true[:, 0], y_pred, sample_weight),
                     _keras_value_and_gradient(jax, theirs, y_true[:, 0], y_pred, sample_weight))


@pytest.mark.parametrize("labels_shape", ["flat", "trailing_one"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_categorical_crossentropy_matches_keras(keras, jax, from_logits, labels_shape):
    theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits, dtype="float64")
    ours = losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    for shape, weight_shape in [((5, 4), (5,)), ((3, 2, 4), (3, 2)), ((3, 2, 4), None)]:
        labels = rng.integers(0, 4, shape[:-1])
        if labels_shape == "trailing_one":
            labels = labels[..., None]
        y_pred = rng.standard_normal(shape) if from_logits else rng.dirichlet(np.ones(4), shape[:-1])
        weights = None if weight_shape is None else rng.uniform(0, 2, weight_shape)
        _assert_same(ours.value_and_gradient(labels, y_pred, weights),
                     _keras_value_and_gradient(jax, theirs, labels, y_pred, weights))


def test_clipping_matches_keras_at_the_edges(keras, jax):
    y_true = np.array([[0.0, 1.0, 0.5, 2.0], [1.0, 0.0, 0.0, 1e-9]])
    y_pred = np.array([[1e-9, 0.3, 1.5, -0.5], [0.999999999, 1e-8, 0.7, 0.2]])
    for name in ["mape", "msle", "kld", "bce"]:
        ours, (class_name, arguments), _ = KERAS_LOSSES[name]
        theirs = getattr(keras.losses, class_name)(dtype="float64", **arguments)
        _assert_same(ours.value_and_gradient(y_true, y_pred), _keras_value_and_gradient(jax, theirs, y_true, y_pred,
                                                                                          None))


def test_keras_names_resolve_to_the_same_losses(keras):
    for name in ["mse", "mae", "mape", "msle", "huber", "log_cosh", "poisson", "kl_divergence", "kld", "KLD", "MSE",
                 "bce", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
                 "MeanSquaredLogarithmicError", "LogCosh", "Poisson"]:
        ours, theirs = losses.get(name), keras.losses.get(name)
        y_true, y_pred = _data("probability", (3, 2))
        if name == "sparse_categorical_crossentropy":
            y_true = np.array([0, 1, 1])
        assert ours(y_true, y_pred) == pytest.approx(float(np.mean(theirs(y_true, y_pred))), rel=1e-5)


def test_names_are_keras_names(keras):
    for name, (ours, (class_name, arguments), _) in KERAS_LOSSES.items():
        if name != "huber":  # numlstm's Huber keeps its name "huber" (Keras: "huber_loss"): GPU kernels key on it
            assert ours.name == getattr(keras.losses, class_name)(**arguments).name
