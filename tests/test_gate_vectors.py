"""The SIMD gate kernels (``kernels/cpu/gate_vectors.py``) against the numpy reference.

A row's units go through the kernels in pairs of SIMD registers, then one register, then the units left over in
one masked register; the unit counts below take every one of those paths, alone and together, for the vector
width of this machine's build (``NUMBA_CPU_NAME=generic`` has narrower ones).
"""

import numpy as np
import pytest
from numba import njit

import numlstm
from helpers.cases import assert_matches_reference, random_lstm_args
from helpers.finite_differences import check_lstm_gradients
from helpers.reference import reference_backward, reference_forward
from numlstm.kernels.cpu.gate_vectors import lanes
from numlstm.kernels.lstm_cell import cell_forward


def _unit_counts(itemsize):
    width = lanes(itemsize)
    # fewer than a register, one register, a register and a unit, a pair, a pair and a register and a unit,
    # two pairs but a unit
    return sorted({max(1, width - 1), width, width + 1, 2 * width, 3 * width + 1, 4 * width - 1})


@pytest.mark.parametrize("units", _unit_counts(8))
@pytest.mark.parametrize("cifg", [False, True], ids=["standard", "cifg"])
def test_float64_passes_match_reference(rng, input_projection, units, cifg):
    args = random_lstm_args(rng, B=2, T=4, F=3, H=units, cifg=cifg, peephole=True, initial_state=True)
    assert_matches_reference(rng, args, reverse=False, zero_output=False, grad_rtol=1e-10)


@pytest.mark.parametrize("cifg", [False, True], ids=["standard", "cifg"])
def test_float64_finite_differences_through_every_path(rng, input_projection, cifg):
    # tests/test_gradcheck.py's rows (3 units) are narrower than a register: this one takes a pair of
    # registers, one register and a masked one of a unit.
    units = 3 * lanes(8) + 1
    args = random_lstm_args(rng, B=2, T=3, F=2, H=units, cifg=cifg, peephole=True, initial_state=True)
    check_lstm_gradients(args, {}, {"out": rng.standard_normal((2, 3, units)),
                                    "h_n": rng.standard_normal((2, units)), "c_n": rng.standard_normal((2, units))})


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


@njit
def _gate_activations(z, rec_proj):
    """The forward gates of one row whose pre-activations are ``z`` (4, H) and every other input zero."""
    H = z.shape[1]
    gates, zeros = np.zeros(4 * H, z.dtype), np.zeros(4 * H, z.dtype)
    for q in range(4):
        for j in range(H):
            rec_proj[q * H + j] = z[q, j]
    c_prev, h, c = np.zeros(H, z.dtype), np.zeros(H, z.dtype), np.zeros(H, z.dtype)
    cell_forward(gates, rec_proj, zeros, zeros[:3 * H], c_prev, h, c, False, False)
    return gates


def test_float32_vector_activations_within_4e7_of_float64():
    # A dense grid through the clamp, saturation and zero; the last 3 units take the masked register.
    units = 40 * lanes(4) + 3
    z = np.linspace(-12, 12, 4 * units).reshape(4, units).astype(np.float32)
    gates = _gate_activations(z, np.zeros(4 * units, np.float32)).reshape(4, units)
    exact = z.astype(np.float64)
    sigmoid = 0.5 * np.tanh(0.5 * exact) + 0.5
    np.testing.assert_allclose(gates[0], sigmoid[0], rtol=0, atol=4e-7)  # input gate
    np.testing.assert_allclose(gates[1], sigmoid[1], rtol=0, atol=4e-7)  # forget gate
    np.testing.assert_allclose(gates[2], np.tanh(exact[2]), rtol=0, atol=4e-7)  # candidate
    # the output gate sees c = i * g, through its zero peephole
    np.testing.assert_allclose(gates[3], sigmoid[3], rtol=0, atol=4e-7)


def test_float64_vector_activations_within_4_ulps_of_libm():
    """float64 evaluates Cephes' tanh on whole registers: a dense grid through zero, the switch to exponentials at
    0.625, saturation and the clamp at 20, near-zero and subnormal inputs, infinities and NaN; the last 3 units
    take the masked register."""
    units = 4000 * lanes(8) + 3
    z = np.concatenate([np.linspace(-22, 22, 2 * units), np.linspace(0.62, 0.63, units),
                        np.geomspace(1e-310, 1e-3, units)])
    z = np.concatenate([z, -z])[:4 * units].reshape(4, units)
    z[:, :6] = [np.inf, -np.inf, np.nan, 1e-310, -2.5e-320, 0.0]
    gates = _gate_activations(z, np.zeros(4 * units)).reshape(4, units)
    tanh, exact = gates[2], np.tanh(z[2])
    assert tanh[0] == 1.0 and tanh[1] == -1.0 and np.isnan(tanh[2])
    assert tanh[3] == 1e-310 and tanh[4] == -2.5e-320 and tanh[5] == 0.0
    finite = np.isfinite(z[2])
    ulps = np.abs(tanh - exact)[finite] / np.spacing(np.abs(exact[finite]))
    assert ulps.max() <= 4, f"{ulps.max()} ulps at {z[2][finite][ulps.argmax()]}"
    sigmoid = 0.5 * np.tanh(0.5 * z) + 0.5
    for gate in (0, 1, 3):  # the output gate sees c = i * g through its zero peephole
        np.testing.assert_allclose(gates[gate], sigmoid[gate], rtol=0, atol=4.5e-16)
        assert gates[gate][0] == 1.0 and gates[gate][1] == 0.0 and np.isnan(gates[gate][2])
