"""Random, reproducible arguments for the LSTM kernels."""

import numpy as np


def random_lstm_args(rng, B=3, T=5, F=2, H=4, *, dtype=np.float64, cifg=False, peephole=False,
                     mask=False, initial_state=False, recurrent_mask=False, scale=0.6):
    """Random arguments for numlstm.lstm_forward (and tests.reference.reference_forward).

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
