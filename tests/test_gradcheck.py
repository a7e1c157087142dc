"""Central finite differences in float64 for every gradient the kernels return."""

import itertools

import numpy as np
import pytest

import numlstm
from cases import random_lstm_args

VARIANTS = {"standard": (False, False), "peephole": (False, True), "cifg": (True, False),
            "peephole_cifg": (True, True)}
EPS = 1e-6


def _loss(args, options, weights):
    """A scalar loss that reaches every output; returns it and the workspace."""
    out, h_n, c_n, ws = numlstm.lstm_forward(**args, **options)
    loss = np.sum(out * weights["out"])
    if "h_n" in weights:
        loss += np.sum(h_n * weights["h_n"]) + np.sum(c_n * weights["c_n"])
    return loss, ws


def _relative_error(analytic, numeric):
    return np.linalg.norm(analytic - numeric) / max(np.linalg.norm(analytic) + np.linalg.norm(numeric), 1e-30)


GRAD_OF = {"x": "dx", "kernel": "d_kernel", "recurrent_kernel": "d_recurrent_kernel", "bias": "d_bias",
           "peephole": "d_peephole", "h0": "dh0", "c0": "dc0"}


def test_finite_differences_with_recurrent_mask(rng):
    args = random_lstm_args(rng, B=2, T=4, F=2, H=3, peephole=True, mask=True, initial_state=True,
                            recurrent_mask=True)
    _check_all_gradients(args, {"reverse": True}, {"out": rng.standard_normal((2, 4, 3)),
                                                  "h_n": rng.standard_normal((2, 3)),
                                                  "c_n": rng.standard_normal((2, 3))})


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("mask,reverse,initial_state,final_state_grads",
                         list(itertools.product([False, True], repeat=4)))
def test_finite_differences(rng, variant, mask, reverse, initial_state, final_state_grads):
    cifg, peephole = VARIANTS[variant]
    args = random_lstm_args(rng, B=2, T=4, F=2, H=3, cifg=cifg, peephole=peephole, mask=mask,
                            initial_state=True)
    if not initial_state:
        args["h0"] = np.zeros_like(args["h0"])
        args["c0"] = np.zeros_like(args["c0"])
    options = {"reverse": reverse}
    weights = {"out": rng.standard_normal((2, 4, 3))}
    if final_state_grads:
        weights["h_n"] = rng.standard_normal((2, 3))
        weights["c_n"] = rng.standard_normal((2, 3))
    _check_all_gradients(args, options, weights)


def _check_all_gradients(args, options, weights):
    _, ws = _loss(args, options, weights)
    grads = numlstm.lstm_backward(ws, weights["out"], weights.get("h_n"), weights.get("c_n"))
    for name, grad_name in GRAD_OF.items():
        if name not in args:
            assert getattr(grads, grad_name) is None
            continue
        param = args[name]
        numeric = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            original = param[index]
            param[index] = original + EPS
            plus, _ = _loss(args, options, weights)
            param[index] = original - EPS
            minus, _ = _loss(args, options, weights)
            param[index] = original
            numeric[index] = (plus - minus) / (2 * EPS)
        error = _relative_error(getattr(grads, grad_name), numeric)
        assert error < 1e-6, f"{grad_name}: relative error {error:.2e}"
