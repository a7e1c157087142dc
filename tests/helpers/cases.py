"""Random, reproducible arguments for the LSTM kernels, and their check against the numpy reference."""

import numpy as np

import numlstm
from helpers.reference import reference_backward, reference_forward


def random_lstm_args(rng, B=3, T=5, F=2, H=4, *, dtype=np.float64, cifg=False, peephole=False,
                     mask=False, initial_state=False, recurrent_mask=False, scale=0.6):
    """Random arguments for numlstm.lstm_forward (and helpers.reference.reference_forward).

    With ``mask``, row 0 starts and ends masked (its first output is h0) and
    the last row is masked throughout.
    """
    G = 3 if cifg else 4
    args = {
        "x": rng.standard_normal((B, T, F)).astype(dtype),
        "kernel": (scale * rng.standard_normal((F, G * H))).astype(dtype),
        "recurrent_kernel": (scale * rng.standard_normal((H, G * H))).astype(dtype),
        "bias": (0.3 * rng.standard_normal(G * H)).astype(dtype),
        "cifg": cifg,
    }
    if peephole:
        args["peephole"] = (scale * rng.standard_normal((G - 1) * H)).astype(dtype)
    if initial_state:
        args["h0"] = (0.5 * rng.standard_normal((B, H))).astype(dtype)
        args["c0"] = rng.standard_normal((B, H)).astype(dtype)
    if recurrent_mask:
        args["recurrent_mask"] = ((rng.random((B, H)) > 0.3) / 0.7).astype(dtype)
    if mask:
        m = rng.random((B, T)) > 0.35
        m[0, 0] = m[0, -1] = False
        if B > 1:
            m[-1] = False
        args["mask"] = m
    return args


def assert_matches_reference(rng, args, reverse, zero_output, grad_rtol):
    """lstm_forward and lstm_backward (on the current device) against reference_forward/backward."""
    cifg = args.get("cifg", False)
    out, h_n, c_n, ws = numlstm.lstm_forward(**args, reverse=reverse, zero_output_for_mask=zero_output)
    ref_out, ref_h, ref_c, cache = reference_forward(**args, reverse=reverse, zero_output_for_mask=zero_output)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(h_n, ref_h, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c_n, ref_c, rtol=1e-12, atol=1e-13)
    d_out, d_h_n, d_c_n = (rng.standard_normal(a.shape) for a in (out, h_n, c_n))
    grads = numlstm.lstm_backward(ws, d_out, d_h_n, d_c_n)
    expected = reference_backward(cache, args["x"], args["kernel"], args["recurrent_kernel"],
                                  args.get("peephole"), cifg, zero_output, d_out, d_h_n, d_c_n)
    for name, got, want in zip(grads._fields, grads, expected):
        if want is None:
            assert got is None, name
        else:
            np.testing.assert_allclose(got, want, rtol=grad_rtol, atol=1e-12, err_msg=name)


def assert_gradients_match_cpu(model, x, y):
    """A compiled model's ``compute_gradients`` on the current device against the CPU's, float64."""
    loss, grads = model.compute_gradients(x, y)
    with numlstm.device("cpu"):
        expected_loss, expected_grads = model.compute_gradients(x, y)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-12)
    for got, want in zip(grads, expected_grads):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
