"""The SIMD gate kernels (``kernels/cpu/gate_vectors.py``) against the numpy reference.

A row's units go through the kernels in pairs of SIMD vectors, then one vector, then one unit at a time;
the unit counts below take every one of those paths, alone and together, for the vector width of this
machine's build (``NUMBA_CPU_NAME=generic`` has narrower ones).
"""

import numpy as np
import pytest

import numlstm
from helpers.cases import assert_matches_reference, random_lstm_args
from helpers.reference import reference_backward, reference_forward
from numlstm.kernels.cpu.gate_vectors import lanes


def _unit_counts(itemsize):
    width = lanes(itemsize)
    # fewer than a vector, one vector, a vector and a unit, a pair, a pair and a vector and a unit
    return sorted({max(1, width - 1), width, width + 1, 2 * width, 3 * width + 1})


@pytest.mark.parametrize("units", _unit_counts(8))
@pytest.mark.parametrize("cifg", [False, True], ids=["standard", "cifg"])
def test_float64_passes_match_reference(rng, input_projection, units, cifg):
    args = random_lstm_args(rng, B=2, T=4, F=3, H=units, cifg=cifg, peephole=True, initial_state=True)
    assert_matches_reference(rng, args, reverse=False, zero_output=False, grad_rtol=1e-10)


@pytest.mark.parametrize("units", _unit_counts(4))
@pytest.mark.parametrize("cifg", [False, True], ids=["standard", "cifg"])
def test_float32_passes_match_float64_reference(rng, input_projection, units, cifg):
    args = random_lstm_args(rng, B=2, T=4, F=3, H=units, dtype=np.float32, cifg=cifg, peephole=True,
                            initial_state=True)
    out, h_n, c_n, workspace = numlstm.lstm_forward(**args)
    exact = {name: value.astype(np.float64) if isinstance(value, np.ndarray) else value
             for name, value in args.items()}
    ref_out, ref_h, ref_c, cache = reference_forward(**exact)
    for got, want in ((out, ref_out), (h_n, ref_h), (c_n, ref_c)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-6)
    d_out, d_h_n, d_c_n = (rng.standard_normal(a.shape).astype(np.float32) for a in (out, h_n, c_n))
    grads = numlstm.lstm_backward(workspace, d_out, d_h_n, d_c_n)
    expected = reference_backward(cache, exact["x"], exact["kernel"], exact["recurrent_kernel"], exact["peephole"],
                                  cifg, False, d_out.astype(np.float64), d_h_n.astype(np.float64),
                                  d_c_n.astype(np.float64))
    for name, got, want in zip(grads._fields, grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_propagates_through_the_vectors(rng, dtype):
    units = 2 * lanes(np.dtype(dtype).itemsize)
    args = random_lstm_args(rng, B=1, T=3, F=2, H=units, dtype=dtype)
    args["x"][0, 1, 0] = np.nan
    out, _, _, _ = numlstm.lstm_forward(**args, check_finite=False)
    assert np.isfinite(out[:, 0]).all()
    assert np.isnan(out[:, 1:]).all()
