"""The plain-numpy ConvLSTM reference (tests/helpers/convlstm_reference.py) against its oracles.

Against Keras 3's ConvLSTM1D/2D on JAX, in float64 with the same weights,
where the ``keras`` extra is installed; and, everywhere, against the plain
LSTM reference: a 1x1 kernel over one spatial position is an LSTM.
"""

import os
import zlib

import numpy as np
import pytest
from helpers.convlstm_reference import conv_output_size, convlstm_forward
from helpers.reference import reference_forward

B, T, C_IN, FILTERS = 2, 4, 3, 4
SPATIAL_2D, SPATIAL_1D = (7, 6), (9,)

CASES_2D = {
    "valid": {"kernel_size": (3, 3)},
    "same": {"kernel_size": (3, 3), "padding": "same"},
    "valid-stride-2": {"kernel_size": (3, 3), "strides": 2},
    "same-stride-2": {"kernel_size": (3, 3), "strides": (2, 1), "padding": "same"},
    "valid-dilation-2": {"kernel_size": (3, 3), "dilation_rate": 2},
    "same-dilation-2": {"kernel_size": (3, 3), "dilation_rate": (2, 1), "padding": "same"},
    "kernel-3x1": {"kernel_size": (3, 1), "padding": "same"},
    "kernel-2x2-same": {"kernel_size": (2, 2), "padding": "same"},  # uneven "same" padding, input and recurrent
    "go-backwards": {"kernel_size": (3, 3), "padding": "same", "go_backwards": True},
    "initial-state": {"kernel_size": (3, 3), "initial_state": True},
    "no-bias": {"kernel_size": (3, 3), "use_bias": False},
}
CASES_1D = {
    "valid": {"kernel_size": 3},
    "same-stride-2": {"kernel_size": 3, "strides": 2, "padding": "same"},
    "valid-dilation-2": {"kernel_size": 3, "dilation_rate": 2},
    "go-backwards-initial-state": {"kernel_size": 3, "go_backwards": True, "initial_state": True},
}
CASES = [pytest.param(2, name, case, id=f"2d-{name}") for name, case in CASES_2D.items()] + [
    pytest.param(1, name, case, id=f"1d-{name}") for name, case in CASES_1D.items()]


def _tuple(value, rank):
    return (value,) * rank if np.isscalar(value) else tuple(value)


def _random_case(rank, case, rng):
    """Inputs, weights and (optionally) initial states for one case, in float64."""
    spatial = SPATIAL_2D if rank == 2 else SPATIAL_1D
    kernel_size = _tuple(case["kernel_size"], rank)
    strides = _tuple(case.get("strides", 1), rank)
    dilation = _tuple(case.get("dilation_rate", 1), rank)
    out = tuple(conv_output_size(n, k, s, d, case.get("padding", "valid"))[0]
                for n, k, s, d in zip(spatial, kernel_size, strides, dilation))
    x = rng.normal(size=(B, T) + spatial + (C_IN,))
    weights = [rng.normal(scale=0.3, size=kernel_size + (C_IN, 4 * FILTERS)),
               rng.normal(scale=0.3, size=kernel_size + (FILTERS, 4 * FILTERS))]
    if case.get("use_bias", True):
        weights.append(rng.normal(scale=0.3, size=4 * FILTERS))
    states = None
    if case.get("initial_state"):
        states = [rng.normal(scale=0.5, size=(B,) + out + (FILTERS,)) for _ in range(2)]
    return x, weights, states


# -- against Keras 3 ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras", reason="needs the extra 'keras' (Keras 3 on JAX)")
    pytest.importorskip("jax", reason="needs the extra 'keras' (Keras 3 on JAX)")
    if keras.backend.backend() != "jax":
        pytest.skip("Keras runs on another backend")
    return keras


@pytest.fixture(scope="module")
def keras64(keras):
    """Keras with JAX in float64 and float64 layers, both restored afterwards."""
    import jax

    previous_x64, previous_floatx = jax.config.jax_enable_x64, keras.config.floatx()
    jax.config.update("jax_enable_x64", True)
    keras.config.set_floatx("float64")
    yield keras
    keras.config.set_floatx(previous_floatx)
    jax.config.update("jax_enable_x64", previous_x64)


@pytest.mark.parametrize("rank, name, case", CASES)
def test_reference_matches_keras(keras64, rank, name, case):
    keras = keras64
    rng = np.random.default_rng(zlib.crc32(f"{rank}-{name}".encode()))
    x, weights, states = _random_case(rank, case, rng)
    options = {k: v for k, v in case.items() if k != "initial_state"}
    layer_class = keras.layers.ConvLSTM2D if rank == 2 else keras.layers.ConvLSTM1D
    # Keras 3.15's ops.tanh computes float64 inputs in float32 (its result_type("float64", float) is
    # float32), which alone leaves ~1e-7 between the two; jnp.tanh keeps the comparison in float64.
    import jax.numpy as jnp

    layer = layer_class(FILTERS, return_sequences=True, return_state=True, activation=jnp.tanh, dtype="float64",
                        **options)
    layer.build(x.shape)
    layer.set_weights(weights)
    expected = layer(x, initial_state=states) if states else layer(x)
    expected = [np.asarray(e) for e in expected]
    assert all(e.dtype == np.float64 for e in expected)

    bias = weights[2] if len(weights) == 3 else None
    h0, c0 = states if states else (None, None)
    got = convlstm_forward(x, weights[0], weights[1], bias, h0, c0, strides=case.get("strides", 1),
                           padding=case.get("padding", "valid"), dilation_rate=case.get("dilation_rate", 1),
                           go_backwards=case.get("go_backwards", False))
    for label, g, e in zip(["outputs", "h", "c"], got, expected):
        assert g.shape == e.shape, label
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-9, err_msg=label)


def test_keras_default_tanh_is_float32_in_float64(keras64):
    """Why the parity test passes jnp.tanh: Keras' own tanh rounds float64 to float32 (a Keras quirk; if
    this starts failing, Keras has fixed it and the parity test can use the default activation)."""
    z = np.linspace(-4.0, 4.0, 101)
    assert np.asarray(keras64.ops.tanh(keras64.ops.convert_to_tensor(z, "float64"))).dtype == np.float32


# -- against the plain LSTM reference ---------------------------------------------------------
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("rank", [1, 2])
def test_a_1x1_convlstm_over_one_position_is_an_lstm(rng, rank, go_backwards):
    x = rng.normal(size=(B, T, C_IN))
    kernel = rng.normal(scale=0.3, size=(C_IN, 4 * FILTERS))
    recurrent_kernel = rng.normal(scale=0.3, size=(FILTERS, 4 * FILTERS))
    bias = rng.normal(scale=0.3, size=4 * FILTERS)
    h0, c0 = rng.normal(scale=0.5, size=(2, B, FILTERS))
    one = (1,) * rank
    for padding in ("valid", "same"):
        outputs, h, c = convlstm_forward(
            x.reshape((B, T) + one + (C_IN,)), kernel.reshape(one + kernel.shape),
            recurrent_kernel.reshape(one + recurrent_kernel.shape), bias,
            h0.reshape((B,) + one + (FILTERS,)), c0.reshape((B,) + one + (FILTERS,)),
            padding=padding, go_backwards=go_backwards)
        lstm_outputs, lstm_h, lstm_c, _ = reference_forward(x, kernel, recurrent_kernel, bias, h0, c0,
                                                            reverse=go_backwards)
        if go_backwards:  # the LSTM reference writes step t at t; Keras (and this reference) in processing order
            lstm_outputs = lstm_outputs[:, ::-1]
        np.testing.assert_allclose(outputs.reshape(B, T, FILTERS), lstm_outputs, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(h.reshape(B, FILTERS), lstm_h, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c.reshape(B, FILTERS), lstm_c, rtol=1e-12, atol=1e-14)
