"""What the losses' tests share: the central finite-difference gradient of a loss, and the sample-weight check."""

import numpy as np
import pytest


def finite_difference_gradient(loss, y_true, y_pred, step=1e-6, **kwargs):
    """``d loss(y_true, y_pred, **kwargs) / d y_pred`` by central differences, one element at a time."""
    gradient = np.zeros_like(y_pred)
    for index in np.ndindex(y_pred.shape):
        up, down = y_pred.copy(), y_pred.copy()
        up[index] += step
        down[index] -= step
        gradient[index] = (loss(y_true, up, **kwargs) - loss(y_true, down, **kwargs)) / (2 * step)
    return gradient


def assert_weights_repeat_samples(loss, y_true, y_pred):
    """Weights (1, 2, 0, 3) on 4 samples equal the samples repeated that often, up to Keras' reduction."""
    weights = np.array([1, 2, 0, 3])
    repeated = np.repeat(np.arange(4), weights)
    weighted_value, weighted_gradient = loss.value_and_gradient(y_true, y_pred, sample_weight=weights.astype(float))
    plain_value, plain_gradient = loss.value_and_gradient(y_true[repeated], y_pred[repeated])
    # Keras divides by the number of positions (4 samples), not by the total weight (6 samples)
    assert weighted_value * 4 == pytest.approx(plain_value * 6, rel=1e-12)
    summed = np.zeros_like(y_pred)
    np.add.at(summed, repeated, plain_gradient)
    np.testing.assert_allclose(weighted_gradient * 4, summed * 6, rtol=1e-12)
