"""Float64 central differences of the ConvLSTM kernels (``numlstm.convlstm_forward``/``convlstm_backward``):
every gradient, under every option the kernels take."""

import numpy as np
import pytest

import numlstm
from helpers.finite_differences import check_lstm_gradients

# (spatial, kernel_size, strides, padding, dilation_rate)
GEOMETRIES = {
    "1d-same": ((5,), (3,), 1, "same", 1),
    "1d-valid-stride": ((7,), (3,), 2, "valid", 1),
    "1d-dilated": ((6,), (2,), 1, "same", 2),
    "2d-same": ((4, 3), (3, 3), 1, "same", 1),
    "2d-valid-strides": ((5, 4), (2, 3), (2, 1), "valid", 1),
    "2d-even-same": ((4, 4), (2, 2), 1, "same", 1),
}


def _case(rng, geometry, cifg=False, peephole=False, initial_state=False, mask=None, recurrent_mask=False,
          batch=2, steps=3, channels=2, filters=2):
    spatial, kernel_size, strides, padding, dilation = geometry
    gates = 3 if cifg else 4
    x = rng.normal(size=(batch, steps) + spatial + (channels,))
    state_spatial = numlstm.convlstm_forward(x, np.zeros(kernel_size + (channels, gates * filters)),
                                             np.zeros(kernel_size + (filters, gates * filters)), strides=strides,
                                             padding=padding, dilation_rate=dilation, cifg=cifg)[1].shape[1:-1]
    args = {"x": x,
            "kernel": rng.normal(size=kernel_size + (channels, gates * filters)) * 0.4,
            "recurrent_kernel": rng.normal(size=kernel_size + (filters, gates * filters)) * 0.4,
            "bias": rng.normal(size=gates * filters) * 0.2}
    state = (batch,) + state_spatial + (filters,)
    if peephole:
        args["peephole"] = rng.normal(size=state_spatial + ((gates - 1) * filters,)) * 0.4
    if initial_state:
        args["h0"] = rng.normal(size=state) * 0.5
        args["c0"] = rng.normal(size=state) * 0.5
    options = {"strides": strides, "padding": padding, "dilation_rate": dilation, "cifg": cifg}
    if mask is not None:
        options["mask"] = mask
    if recurrent_mask:
        options["recurrent_mask"] = (rng.random(state) > 0.3) / 0.7
    weights = {"out": rng.normal(size=(batch, steps) + state[1:]), "h_n": rng.normal(size=state),
               "c_n": rng.normal(size=state)}
    return args, options, weights


@pytest.mark.parametrize("geometry", GEOMETRIES.values(), ids=GEOMETRIES.keys())
def test_geometries(rng, geometry):
    args, options, weights = _case(rng, geometry)
    check_lstm_gradients(args, options, weights, numlstm.convlstm_forward, numlstm.convlstm_backward)


@pytest.mark.parametrize("rank", ["1d-same", "2d-same"])
@pytest.mark.parametrize("cifg", [False, True], ids=["standard", "cifg"])
@pytest.mark.parametrize("peephole", [False, True], ids=["", "peephole"])
@pytest.mark.parametrize("reverse", [False, True], ids=["", "reverse"])
def test_variants(rng, rank, cifg, peephole, reverse):
    args, options, weights = _case(rng, GEOMETRIES[rank], cifg=cifg, peephole=peephole, initial_state=True)
    options["reverse"] = reverse
    check_lstm_gradients(args, options, weights, numlstm.convlstm_forward, numlstm.convlstm_backward)


@pytest.mark.parametrize("zero_output", [False, True], ids=["carry", "zero-output"])
def test_mask_and_recurrent_mask(rng, zero_output):
    mask = np.array([[True, False, True, True], [False, True, True, False]])
    args, options, weights = _case(rng, GEOMETRIES["2d-same"], peephole=True, initial_state=True, mask=mask,
                                   recurrent_mask=True, steps=4)
    options["zero_output_for_mask"] = zero_output
    check_lstm_gradients(args, options, weights, numlstm.convlstm_forward, numlstm.convlstm_backward)


def test_without_output_gradients_or_bias(rng):
    """Only the final states carry a gradient; no bias: d_bias is still returned (the gradient of zeros)."""
    args, options, weights = _case(rng, GEOMETRIES["1d-valid-stride"], initial_state=True)
    del args["bias"]
    weights["out"] = np.zeros_like(weights["out"])
    check_lstm_gradients(args, options, weights, numlstm.convlstm_forward, numlstm.convlstm_backward)
