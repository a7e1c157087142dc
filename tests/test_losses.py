"""Losses: values from their textbook formulas, gradients from finite differences."""

import numpy as np
import pytest

from numlstm import losses
from helpers.loss_checks import finite_difference_gradient

rng = np.random.default_rng(9)


def _probabilities(shape):
    e = np.exp(rng.standard_normal(shape))
    return e / e.sum(axis=-1, keepdims=True)


CASES = {
    "mse": (losses.MeanSquaredError(), lambda: rng.standard_normal((4, 3, 2)), lambda: rng.standard_normal((4, 3, 2))),
    "mae": (losses.MeanAbsoluteError(), lambda: rng.standard_normal((4, 3)), lambda: rng.standard_normal((4, 3))),
    "huber": (losses.Huber(0.7), lambda: rng.standard_normal((5, 2)), lambda: 2 * rng.standard_normal((5, 2))),
    "bce": (losses.BinaryCrossentropy(), lambda: (rng.random((4, 3)) > 0.5) * 1.0, lambda: rng.uniform(0.05, 0.95, (4, 3))),
    "bce_logits": (losses.BinaryCrossentropy(from_logits=True), lambda: (rng.random((4, 3)) > 0.5) * 1.0,
                   lambda: 3 * rng.standard_normal((4, 3))),
    "cce": (losses.CategoricalCrossentropy(), lambda: _probabilities((3, 2, 4)), lambda: _probabilities((3, 2, 4))),
    "cce_logits": (losses.CategoricalCrossentropy(from_logits=True), lambda: np.eye(4)[rng.integers(0, 4, 5)],
                   lambda: rng.standard_normal((5, 4))),
    "sparse_logits": (losses.SparseCategoricalCrossentropy(from_logits=True), lambda: rng.integers(0, 4, (3, 2)),
                      lambda: rng.standard_normal((3, 2, 4))),
}


@pytest.mark.parametrize("name", CASES)
def test_gradient_matches_finite_differences(name):
    loss, make_true, make_pred = CASES[name]
    y_true, y_pred = make_true(), make_pred()
    _, grad = loss.value_and_gradient(y_true, y_pred)
    np.testing.assert_allclose(grad, finite_difference_gradient(loss, y_true, y_pred), rtol=1e-5, atol=1e-8)


def test_values_follow_the_keras_formulas():
    y_true = np.array([[0.0, 1.0], [1.0, 0.0]])
    y_pred = np.array([[0.2, 0.8], [0.6, 0.4]])
    assert losses.get("mse")(y_true, y_pred) == pytest.approx(np.mean([0.04, 0.04, 0.16, 0.16]))
    assert losses.get("mae")(y_true, y_pred) == pytest.approx(0.3)
    assert losses.get("categorical_crossentropy")(y_true, y_pred) == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2)
    assert losses.get("sparse_categorical_crossentropy")(np.array([1, 0]), y_pred) == pytest.approx(
        -(np.log(0.8) + np.log(0.6)) / 2)
    bce = -np.mean([np.log(0.8), np.log(0.8), np.log(0.6), np.log(0.6)])
    assert losses.get("binary_crossentropy")(y_true, y_pred) == pytest.approx(bce)
    assert losses.Huber(1.0)(np.array([0.0, 0.0]), np.array([0.5, 3.0])) == pytest.approx((0.125 + 2.5) / 2)


def test_bad_targets_and_names():
    with pytest.raises(ValueError, match=r"y_true has shape \(2,\) but the model outputs \(3,\)"):
        losses.get("mse")(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\)"):
        losses.get("sparse_categorical_crossentropy")(np.array([0, 3]), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="unknown loss 'hinge'; valid names: bce, binary_crossentropy"):
        losses.get("hinge")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("true_shape, pred_shape", [((4, 3, 2), (4, 3, 2)), ((5,), (5, 1)), ((6, 1), (6,))])
def test_mse_gives_the_numbers_of_its_elementwise_term_and_leaves_its_arguments_alone(dtype, true_shape, pred_shape):
    # The unweighted MSE runs a compiled loop (kernels/cpu/losses.py) instead of Loss.value_and_gradient's
    # temporaries: the same gradient, bit for bit, the value summed in float64, and neither argument written.
    loss = losses.MeanSquaredError()
    y_true = rng.standard_normal(true_shape).astype(dtype)
    y_pred = rng.standard_normal(pred_shape).astype(dtype)
    before_true, before_pred = y_true.copy(), y_pred.copy()
    value, gradient = loss.value_and_gradient(y_true, y_pred)
    reference_value, reference_gradient = losses.Loss.value_and_gradient(loss, y_true, y_pred)
    assert value == pytest.approx(reference_value, rel=1e-6 if dtype == np.float32 else 1e-14)
    assert gradient.dtype == reference_gradient.dtype == dtype
    np.testing.assert_array_equal(gradient, reference_gradient)
    np.testing.assert_array_equal(y_true, before_true)
    np.testing.assert_array_equal(y_pred, before_pred)
    error = y_pred.astype(np.float64) - y_true.reshape(pred_shape)
    np.testing.assert_allclose(value, np.mean(error ** 2), rtol=1e-6)
    np.testing.assert_allclose(gradient, 2 * error / error.size, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 7, 64, 4097])
def test_the_compiled_squared_error_matches_numpy(dtype, size):
    from numlstm.kernels.cpu.losses import squared_error

    y_pred = rng.standard_normal(size).astype(dtype)
    y_true = rng.standard_normal(size).astype(dtype)
    gradient = np.full(size, np.nan, dtype)
    total = squared_error(y_pred, y_true, gradient)
    error = y_pred - y_true  # rounded to dtype, as the kernel's
    assert total == pytest.approx(np.sum(error.astype(np.float64) ** 2), rel=1e-12)
    np.testing.assert_array_equal(gradient, (2 * error) / dtype(size))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mean_squared_error_gives_the_same_bits_for_targets_of_every_layout(dtype):
    """Targets already of the output's dtype, shape and layout skip the conversions (a training step's usual
    case); a strided, another dtype's or a list's must give the same value and gradient, and all match numpy."""
    loss = losses.MeanSquaredError()
    y_pred = rng.standard_normal((5, 7)).astype(dtype)
    y_true = rng.standard_normal((5, 7)).astype(np.float32).astype(dtype)  # exact in either dtype
    value, gradient = loss.value_and_gradient(y_true, y_pred)
    strided = np.zeros((5, 14), dtype)
    strided[:, ::2] = y_true
    for other in (strided[:, ::2], y_true.astype(np.float64 if dtype == np.float32 else np.float32),
                  y_true.tolist(), y_true[..., None]):
        other_value, other_gradient = loss.value_and_gradient(other, y_pred)
        assert other_value == value
        np.testing.assert_array_equal(other_gradient, gradient)
    error = y_pred - y_true
    assert value == pytest.approx(np.mean(error.astype(np.float64) ** 2), rel=1e-12)
    np.testing.assert_array_equal(gradient, (2 * error) / dtype(error.size))
    assert gradient.dtype == dtype and gradient.shape == (5, 7)


def test_the_compiled_squared_error_gradient_matches_finite_differences():
    """float64, through MeanSquaredError's compiled path: central differences of the value it returns."""
    loss = losses.MeanSquaredError()
    y_true = rng.standard_normal((3, 4, 2))
    y_pred = rng.standard_normal((3, 4, 2))
    _, gradient = loss.value_and_gradient(y_true, y_pred)
    numeric = np.zeros_like(y_pred)
    step = 1e-6
    for index in np.ndindex(y_pred.shape):
        original = y_pred[index]
        y_pred[index] = original + step
        above = loss.value_and_gradient(y_true, y_pred)[0]
        y_pred[index] = original - step
        below = loss.value_and_gradient(y_true, y_pred)[0]
        y_pred[index] = original
        numeric[index] = (above - below) / (2 * step)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-7, atol=1e-10)
