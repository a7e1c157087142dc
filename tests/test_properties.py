"""Properties over many shapes: bounded, finite states; chunked runs equal whole runs."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import numlstm
from helpers.cases import random_lstm_args

shapes = st.tuples(
    st.integers(1, 5),                                   # batch
    st.one_of(st.integers(1, 12), st.integers(1000, 2000)),  # timesteps, up to 2000
    st.integers(1, 6),                                   # features
    st.integers(1, 9),                                   # units
)
variants = st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans())  # cifg, peephole, mask, reverse


@settings(max_examples=40, deadline=None)
@given(shape=shapes, variant=variants, seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([0.1, 1.0, 30.0]))
def test_states_stay_finite_and_bounded(shape, variant, seed, scale):
    B, T, F, H = shape
    cifg, peephole, mask, reverse = variant
    args = random_lstm_args(np.random.default_rng(seed), B, T, F, H, dtype=np.float32, cifg=cifg,
                            peephole=peephole, mask=mask, initial_state=True, scale=scale)
    args["h0"] = np.tanh(args["h0"])
    args["x"] *= scale
    out, h_n, c_n, ws = numlstm.lstm_forward(**args, reverse=reverse)
    assert np.isfinite(out).all() and np.isfinite(c_n).all()
    assert np.abs(out).max() <= 1 and np.abs(h_n).max() <= 1
    grads = numlstm.lstm_backward(ws, np.ones_like(out) / out.size)
    assert all(g is None or np.isfinite(g).all() for g in grads)


@settings(max_examples=30, deadline=None)
@given(shape=shapes, variant=variants, seed=st.integers(0, 2**32 - 1), split=st.floats(0, 1))
def test_two_chunks_with_carried_state_equal_one_run(shape, variant, seed, split):
    B, T, F, H = shape
    cifg, peephole, mask, _ = variant
    args = random_lstm_args(np.random.default_rng(seed), B, T, F, H, cifg=cifg, peephole=peephole,
                            mask=mask, initial_state=True)
    whole, h_whole, c_whole, _ = numlstm.lstm_forward(**args)
    k = int(round(split * T))
    first, second = {**args}, {**args}
    first["x"], second["x"] = args["x"][:, :k], args["x"][:, k:]
    if mask:
        first["mask"], second["mask"] = args["mask"][:, :k], args["mask"][:, k:]
    pieces = []
    h, c = args["h0"], args["c0"]
    for chunk in (first, second):
        if chunk["x"].shape[1] == 0:
            continue
        out, h, c, _ = numlstm.lstm_forward(**{**chunk, "h0": h, "c0": c})
        pieces.append(out)
    np.testing.assert_allclose(h, h_whole, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c, c_whole, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), whole, rtol=1e-12, atol=1e-14)
