"""Keras 3 semantics checked against Keras itself when it is installed (JAX backend).

CI does not install Keras; the same semantics are pinned there by the numpy
reference (tests/test_layers.py). This module makes sure that reference
agrees with Keras 3 where both are available.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("Keras runs on another backend", allow_module_level=True)

from numlstm import layers  # noqa: E402

OPTIONS = [
    {"return_sequences": True},
    {"return_sequences": True, "zero_output_for_mask": True},
    {"return_sequences": True, "go_backwards": True},
    {"go_backwards": True},
    {},
    {"return_sequences": True, "return_state": True, "use_bias": False},
    {"return_sequences": True, "unit_forget_bias": False},
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("with_mask", [False, True])
def test_lstm_layer_matches_keras(options, with_mask):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    mask = np.array([[False, True, False, True, False], [True, True, True, False, False]]) if with_mask else None
    state = [rng.standard_normal((2, 4)).astype(np.float32) for _ in range(2)]
    reference = keras.layers.LSTM(4, **options)
    expected = reference(x, mask=mask, initial_state=state)
    ours = layers.LSTM(4, **options)
    ours(x)
    ours.set_weights(reference.get_weights())
    got = ours(x, mask=mask, initial_state=state)
    for a, b in zip(got if isinstance(got, list) else [got], expected if isinstance(expected, (list, tuple)) else [expected]):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_matches_keras(merge_mode):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    reference = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True), merge_mode=merge_mode)
    expected = np.asarray(reference(x))
    ours = layers.Bidirectional(layers.LSTM(4, return_sequences=True), merge_mode=merge_mode)
    ours(x)
    ours.set_weights(reference.get_weights())
    np.testing.assert_allclose(ours(x), expected, rtol=1e-5, atol=1e-6)
