"""Keras 3 ConvLSTM1D/2D runs (JAX backend) that the ConvLSTM layer tests compare numlstm against.

``KERAS_BACKEND=jax python tests/helpers/keras_convlstm_cases.py`` rewrites
the golden files in tests/golden/ (run it with the ``keras`` extra
installed, then commit them), so that the comparison also runs where Keras
is absent. The tests also call ``keras_case`` live where Keras is installed.

Every case returns sequences and states, and its gradients are those of
``sum(outputs * d_outputs) + sum(h_n * d_h) + sum(c_n * d_c)`` with respect
to the input, the weights and the initial states, by ``jax.vjp`` through
the layer's stateless call.
"""

import os
import pathlib

import numpy as np

GOLDEN_DIR = pathlib.Path(__file__).resolve().parents[1] / "golden"

# name: (rank, dtype, batch, timesteps, spatial, channels, filters, layer options, initial state). No mask:
# Keras 3.15's ConvLSTM fails on one (its RNN broadcasts a (batch, 1) mask against the (batch, *spatial,
# filters) state); masks are checked against the numpy reference and finite differences instead.
CONFIGS = {
    "2d_same_initial_state_float64": (2, "float64", 2, 4, (6, 5), 3, 4, {"kernel_size": 3, "padding": "same"},
                                      True),
    "2d_strides_go_backwards_float64": (2, "float64", 2, 3, (7, 5), 2, 3,
                                        {"kernel_size": (3, 2), "strides": (2, 1), "go_backwards": True},
                                        False),
    "2d_dilation_float32": (2, "float32", 3, 3, (6, 6), 2, 4,
                            {"kernel_size": 3, "padding": "same", "dilation_rate": 2}, True),
    "2d_even_kernel_no_bias_float64": (2, "float64", 2, 3, (5, 4), 2, 3,
                                       {"kernel_size": 2, "padding": "same", "use_bias": False}, False),
    "2d_channels_first_float64": (2, "float64", 2, 3, (5, 4), 3, 2,
                                  {"kernel_size": 3, "padding": "same", "data_format": "channels_first"},
                                  True),
    "1d_go_backwards_initial_state_float64": (1, "float64", 3, 5, (8,), 3, 4,
                                              {"kernel_size": 3, "padding": "same", "go_backwards": True}, True),
    "1d_valid_strides_float32": (1, "float32", 2, 4, (9,), 2, 5, {"kernel_size": 3, "strides": 2}, False),
}


def golden_path(name):
    """The golden file of one config."""
    return GOLDEN_DIR / f"keras_convlstm_{name}.npz"


def keras_case(name, seed=0):
    """Run Keras' ConvLSTM for one config; returns plain numpy arrays.

    Keys: ``x``, ``weights_<i>`` (Keras order), ``h0``/``c0`` where the
    config has them, the cotangents ``d_outputs``, ``d_h``,
    ``d_c``, the results ``outputs``, ``h_n``, ``c_n``, and the gradients
    ``grad_x``, ``grad_weights_<i>``, ``grad_h0``, ``grad_c0``.
    """
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import jax
    import jax.numpy as jnp
    import keras

    rank, dtype, B, T, spatial, channels, filters, options, initial_state = CONFIGS[name]
    previous_x64 = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", dtype == "float64")
    try:
        rng = np.random.default_rng(seed)
        channels_first = options.get("data_format") == "channels_first"
        frame = (channels,) + spatial if channels_first else spatial + (channels,)
        x = rng.normal(size=(B, T) + frame).astype(dtype)
        layer_class = keras.layers.ConvLSTM2D if rank == 2 else keras.layers.ConvLSTM1D
        # Keras 3.15's ops.tanh computes float64 in float32; jnp.tanh keeps a float64 run in float64.
        layer = layer_class(filters, return_sequences=True, return_state=True, dtype=dtype,
                            activation=jnp.tanh, **options)
        outputs, h_n, _ = layer(x)
        weights = [w + rng.normal(scale=0.2, size=w.shape).astype(dtype) for w in layer.get_weights()]
        layer.set_weights(weights)
        case = {"x": x}
        case.update((f"weights_{i}", w) for i, w in enumerate(weights))
        state_shape = tuple(np.shape(h_n))
        states = []
        if initial_state:
            states = [rng.normal(scale=0.5, size=state_shape).astype(dtype) for _ in range(2)]
            case["h0"], case["c0"] = states
        cotangents = [rng.normal(size=np.shape(outputs)).astype(dtype),
                      rng.normal(size=state_shape).astype(dtype), rng.normal(size=state_shape).astype(dtype)]
        case["d_outputs"], case["d_h"], case["d_c"] = cotangents

        def run(x, ws, states):
            call = {"initial_state": list(states)} if states else {}
            result, _ = layer.stateless_call(ws, [v.value for v in layer.non_trainable_variables], x, **call)
            return tuple(result)

        results, vjp = jax.vjp(run, jnp.asarray(x), [jnp.asarray(w) for w in weights],
                               [jnp.asarray(s) for s in states])
        d_x, d_weights, d_states = vjp(tuple(jnp.asarray(c) for c in cotangents))
        case["outputs"], case["h_n"], case["c_n"] = (np.asarray(r) for r in results)
        case["grad_x"] = np.asarray(d_x)
        case.update((f"grad_weights_{i}", np.asarray(d)) for i, d in enumerate(d_weights))
        if initial_state:
            case["grad_h0"], case["grad_c0"] = (np.asarray(d) for d in d_states)
        assert all(v.dtype == np.dtype(dtype) for v in case.values()), name
        return case
    finally:
        jax.config.update("jax_enable_x64", previous_x64)


def write_golden_files():
    """Rewrite every config's golden file from a live Keras run."""
    import keras

    GOLDEN_DIR.mkdir(exist_ok=True)
    for name in CONFIGS:
        np.savez_compressed(golden_path(name), keras_version=np.array(keras.__version__), **keras_case(name))


if __name__ == "__main__":
    write_golden_files()
