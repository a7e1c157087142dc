"""Fuzzing the public API: odd dtypes, shapes, layouts, NaN/inf, empty and huge values, lists.

Every call must either work (finite results of the right shape) or raise
ValueError or TypeError; never a Numba typing error, another exception, a
crash or a hang. Hypothesis draws ``EXAMPLES`` cases per test; the reliability
guide (docs/guide/reliability.md) quotes their total.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import numlstm
from numlstm import layers

EXAMPLES = 300
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int8, np.uint8, np.bool_, np.complex128]
ELEMENTS = {"normal": st.floats(-3, 3, width=16), "wild": st.sampled_from([0.0, 1e30, -1e30, np.nan, np.inf, -np.inf,
                                                                            1e-310, 65504.0])}


@st.composite
def arrays(draw, shape_strategy):
    """An ndarray of a drawn dtype and layout, or a list, or an object array, or a scalar."""
    shape = draw(shape_strategy)
    dtype = draw(st.sampled_from(DTYPES))
    values = draw(hnp.arrays(np.float64, shape, elements=st.one_of(ELEMENTS["normal"], ELEMENTS["wild"])
                             if draw(st.booleans()) else ELEMENTS["normal"]))
    with np.errstate(all="ignore"):
        array = values.astype(dtype)
    layout = draw(st.sampled_from(["c", "fortran", "strided", "list", "object", "scalar"]))
    if layout == "fortran":
        return np.asfortranarray(array)
    if layout == "strided" and array.ndim:
        return np.repeat(array, 2, axis=-1)[..., ::2]
    if layout == "list":
        return array.tolist()
    if layout == "object":
        return array.astype(object)
    if layout == "scalar":
        return 1.5
    return array


def small_shapes(min_dims, max_dims):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=4)


def _expect_clean(call):
    """Run ``call``: a result, or a ValueError/TypeError; anything else fails the test."""
    try:
        return call()
    except (ValueError, TypeError) as exc:
        assert "numba" not in type(exc).__module__, f"a Numba error leaked: {exc!r}"
        assert str(exc), "an error without a message"
        return None


def _finite(result):
    for array in result if isinstance(result, (list, tuple)) else [result]:
        if isinstance(array, np.ndarray) and array.dtype.kind == "f":
            assert np.isfinite(array).all(), "a silent NaN"


@pytest.fixture(scope="module")
def weights():
    rng = np.random.default_rng(0)
    return {"kernel": rng.standard_normal((3, 8)) * 0.3, "recurrent_kernel": rng.standard_normal((2, 8)) * 0.3}


@FUZZ
@given(x=arrays(small_shapes(1, 4)))
def test_lstm_forward_with_any_input(weights, x):
    result = _expect_clean(lambda: numlstm.lstm_forward(x, weights["kernel"], weights["recurrent_kernel"]))
    if result is not None:
        outputs = result[0]
        assert outputs.shape[0] == np.shape(x)[0] and outputs.shape[2] == 2
        _finite(result[:3])


@FUZZ
@given(kernel=arrays(small_shapes(1, 3)), bias=arrays(small_shapes(0, 2)), mask=arrays(small_shapes(1, 3)))
def test_lstm_forward_with_any_weights_and_mask(weights, kernel, bias, mask):
    x = np.ones((2, 3, 3))
    result = _expect_clean(lambda: numlstm.lstm_forward(x, kernel, weights["recurrent_kernel"], bias, mask=mask))
    if result is not None:
        _finite(result[:3])


@pytest.fixture(scope="module")
def model():
    numlstm.utils.set_random_seed(0)
    net = numlstm.Sequential([layers.Input((3, 2)), layers.LSTM(2), layers.Dense(1)])
    net.compile("adam", "mse", metrics=["mae"])
    return net


@FUZZ
@given(x=arrays(small_shapes(0, 4)), y=arrays(small_shapes(0, 3)))
def test_fit_evaluate_predict_with_any_data(model, x, y):
    history = _expect_clean(lambda: model.fit(x, y, epochs=1, batch_size=2, verbose=0))
    if history is not None:
        assert np.isfinite(history.history["loss"]).all()
    _expect_clean(lambda: model.evaluate(x, y))
    predictions = _expect_clean(lambda: model.predict(x))
    if predictions is not None:
        assert predictions.shape == (len(np.asarray(x)), 1)
        _finite(predictions)


@FUZZ
@given(x=arrays(small_shapes(0, 4)), layer=st.sampled_from(["lstm", "dense", "embedding", "bidirectional"]))
def test_layers_called_on_anything(x, layer):
    make = {"lstm": lambda: layers.LSTM(2, return_sequences=True), "dense": lambda: layers.Dense(2),
            "embedding": lambda: layers.Embedding(5, 2), "bidirectional": lambda: layers.Bidirectional(layers.LSTM(2))}
    result = _expect_clean(lambda: make[layer]()(x))
    if result is not None:
        _finite(result)
