"""The vectorised gate activations: accuracy, saturation and packed code."""

import warnings

import numpy as np
import pytest


from numlstm.kernels.activations import sigmoid_array, tanh_array

GRID = np.linspace(-20.0, 20.0, 4_000_001)


def _apply(function, x):
    out = np.empty_like(x)
    function(x, out)
    return out


@pytest.mark.parametrize("function,exact", [
    (tanh_array, np.tanh),
    (sigmoid_array, lambda z: 1.0 / (1.0 + np.exp(-z))),
], ids=["tanh", "sigmoid"])
def test_float32_within_4e7_of_float64_on_dense_grid(function, exact):
    # Evaluated in float32, as Eigen and XLA do: 2.7e-7 with FMA, 3.9e-7 without (NUMBA_CPU_NAME=generic).
    x = GRID.astype(np.float32)
    values = _apply(function, x)
    error = np.abs(values.astype(np.float64) - exact(x.astype(np.float64)))
    assert error.max() < 4e-7, f"max error {error.max():.3e} at x = {x[error.argmax()]}"
    low = -1 if function is tanh_array else 0
    assert values.min() >= low and values.max() <= 1, "an activation left its range"


@pytest.mark.parametrize("function,exact", [
    (tanh_array, np.tanh),
    (sigmoid_array, lambda z: 1.0 / (1.0 + np.exp(-z))),
], ids=["tanh", "sigmoid"])
def test_float64_within_an_ulp_of_one(function, exact):
    # sigmoid is 0.5 * tanh(x / 2) + 0.5: absolutely, not relatively, accurate
    # near zero, which is what a gate that multiplies a state needs.
    x = np.linspace(-30.0, 30.0, 10_001)
    np.testing.assert_allclose(_apply(function, x), exact(x), rtol=4.5e-16, atol=1.2e-16)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_and_saturated_at_huge_inputs(dtype):
    x = np.array([1e30, -1e30, np.finfo(dtype).max, -np.finfo(dtype).max, 0.0], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = _apply(tanh_array, x)
        s = _apply(sigmoid_array, x)
    atol = 4e-7 if dtype == np.float32 else 0
    np.testing.assert_allclose(t, [1, -1, 1, -1, 0], rtol=0, atol=atol)
    np.testing.assert_allclose(s, [1, 0, 1, 0, 0.5], rtol=0, atol=atol)
