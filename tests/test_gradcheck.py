"""Central finite differences in float64 for every gradient the kernels return."""

import itertools

import numpy as np
import pytest

from helpers.cases import random_lstm_args
from helpers.finite_differences import check_lstm_gradients

VARIANTS = {"standard": (False, False), "peephole": (False, True), "cifg": (True, False),
            "peephole_cifg": (True, True)}


def test_finite_differences_with_recurrent_mask(rng, input_projection):
    args = random_lstm_args(rng, B=2, T=4, F=2, H=3, peephole=True, mask=True, initial_state=True,
                            recurrent_mask=True)
    check_lstm_gradients(args, {"reverse": True}, {"out": rng.standard_normal((2, 4, 3)),
                                                  "h_n": rng.standard_normal((2, 3)),
                                                  "c_n": rng.standard_normal((2, 3))})


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("mask,reverse,initial_state,final_state_grads",
                         list(itertools.product([False, True], repeat=4)))
def test_finite_differences(rng, input_projection, variant, mask, reverse, initial_state, final_state_grads):
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
    check_lstm_gradients(args, options, weights)

