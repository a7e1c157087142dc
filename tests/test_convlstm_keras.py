"""ConvLSTM1D/2D against Keras 3 on JAX with the same weights: outputs, states and every gradient.

Each case runs against the golden files made by
tests/helpers/keras_convlstm_cases.py (always), and three of them against a
live Keras run where the ``keras`` extra is installed. Tolerances: float64 1e-9, float32
1e-5 (relative to each array's largest value).
"""

import os

import numpy as np
import pytest
from helpers.keras_convlstm_cases import CONFIGS, golden_path, keras_case

from numlstm import layers


def _numlstm_case(name, case):
    """numlstm's layer on the case's input and weights: its results and gradients under the same keys."""
    rank, dtype, _, _, _, _, filters, options, initial_state = CONFIGS[name]
    layer_class = layers.ConvLSTM2D if rank == 2 else layers.ConvLSTM1D
    layer = layer_class(filters, return_sequences=True, return_state=True, dtype=dtype, **options)
    layer.build(case["x"].shape)
    count = len([key for key in case if key.startswith("weights_")])
    layer.set_weights([case[f"weights_{i}"] for i in range(count)])
    states = [case["h0"], case["c0"]] if initial_state else None
    x = case["x"].copy()
    result, cache = layer.forward(x, initial_state=states)
    gradients = layer.backward(cache, [case["d_outputs"], case["d_h"], case["d_c"]])
    ours = {"outputs": result[0], "h_n": result[1], "c_n": result[2], "grad_x": gradients.d_input}
    ours.update((f"grad_weights_{i}", g) for i, g in enumerate(gradients.grads))
    if initial_state:
        ours["grad_h0"], ours["grad_c0"] = gradients.d_initial_state
    return ours


def _compare(name, case):
    tolerance = 1e-9 if CONFIGS[name][1] == "float64" else 1e-5
    ours = _numlstm_case(name, case)
    for key, value in ours.items():
        expected = case[key]
        assert value.shape == expected.shape, key
        assert value.dtype == expected.dtype, key
        scale = max(np.abs(expected).max(), 1.0)
        np.testing.assert_allclose(value, expected, rtol=0, atol=tolerance * scale, err_msg=f"{name}: {key}")


@pytest.mark.parametrize("name", CONFIGS)
def test_matches_keras_golden_files(name):
    with np.load(golden_path(name), allow_pickle=False) as golden:
        case = {key: golden[key] for key in golden.files if key != "keras_version"}
    _compare(name, case)


# Live runs of a few configs (jax.vjp compiles each, ~15 s): the golden files cover the rest.
@pytest.mark.parametrize("name", ["2d_same_initial_state_float64", "2d_dilation_float32",
                                  "1d_go_backwards_initial_state_float64"])
def test_matches_keras_live(name):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    pytest.importorskip("keras", reason="needs the extra 'keras' (Keras 3 on JAX)")
    pytest.importorskip("jax", reason="needs the extra 'keras' (Keras 3 on JAX)")
    import keras

    if keras.backend.backend() != "jax":
        pytest.skip("Keras runs on another backend than JAX")
    _compare(name, keras_case(name))
