"""The Numba kernels against the plain-numpy reference, every variant and option."""

import itertools

import numpy as np
import pytest

import numlstm
from helpers.cases import assert_matches_reference, random_lstm_args
from helpers.reference import reference_backward, reference_forward

OPTIONS = list(itertools.product([False, True], repeat=5))


@pytest.fixture(params=[(1, 1), (2, 2), (3, 3), (1, 2)],
                ids=["serial", "2-threads", "3-threads", "serial-loop-split-gemms"])
def time_loop_chunks(request, monkeypatch):
    """Run the time loop serially or in parallel blocks of batch rows (B = 3 below), and the GEMMs around
    it whole or in blocks of rows (a single sequence's split)."""
    loop, gemm = request.param
    split = numlstm.functional._Split(max(loop, gemm), loop, gemm)
    monkeypatch.setattr(numlstm.functional, "_split", lambda *shape: split)
    return split


@pytest.mark.parametrize("cifg,peephole,mask,reverse,zero_output", OPTIONS)
def test_kernels_match_numpy_reference(rng, time_loop_chunks, input_projection, cifg, peephole, mask, reverse, zero_output):
    args = random_lstm_args(rng, B=3, cifg=cifg, peephole=peephole, mask=mask, initial_state=True)
    assert_matches_reference(rng, args, reverse, zero_output, grad_rtol=1e-10)


@pytest.mark.parametrize("cifg,mask", [(False, False), (True, True)])
def test_recurrent_mask_matches_reference(rng, time_loop_chunks, input_projection, cifg, mask):
    args = random_lstm_args(rng, B=3, cifg=cifg, mask=mask, peephole=True, initial_state=True, recurrent_mask=True)
    out, h_n, c_n, ws = numlstm.lstm_forward(**args)
    ref_out, _, _, cache = reference_forward(**args)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-13)
    d_out = rng.standard_normal(out.shape)
    grads = numlstm.lstm_backward(ws, d_out, h_n, c_n)
    expected = reference_backward(cache, args["x"], args["kernel"], args["recurrent_kernel"], args["peephole"],
                                  cifg, False, d_out, h_n, c_n)
    for name, got, want in zip(grads._fields, grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=name)


def test_masked_steps_follow_keras_semantics(rng):
    args = random_lstm_args(rng, B=2, T=4, mask=True, initial_state=True)
    args["mask"] = np.array([[False, True, False, True], [True, True, True, True]])
    out, h_n, _, _ = numlstm.lstm_forward(**args)
    full, _, _, _ = numlstm.lstm_forward(**{**args, "mask": None})
    np.testing.assert_array_equal(out[0, 0], args["h0"][0])  # a masked first step outputs h0, as Keras 3 does
    np.testing.assert_array_equal(out[0, 2], out[0, 1])
    np.testing.assert_array_equal(out[1], full[1])
    zeroed, _, _, _ = numlstm.lstm_forward(**args, zero_output_for_mask=True)
    assert np.all(zeroed[0, 2] == 0)
    np.testing.assert_array_equal(zeroed[0, 3], out[0, 3])
    np.testing.assert_array_equal(h_n[0], out[0, 3])


def test_reverse_equals_forward_on_flipped_sequence(rng):
    args = random_lstm_args(rng, peephole=True, initial_state=True)
    out_r, h_r, c_r, _ = numlstm.lstm_forward(**args, reverse=True)
    out_f, h_f, c_f, _ = numlstm.lstm_forward(**{**args, "x": args["x"][:, ::-1]})
    np.testing.assert_allclose(out_r, out_f[:, ::-1], rtol=1e-14, atol=0)
    np.testing.assert_allclose(h_r, h_f, rtol=1e-14, atol=0)
    np.testing.assert_allclose(c_r, c_f, rtol=1e-14, atol=0)


def test_float32_close_to_float64(rng):
    args = random_lstm_args(rng, B=4, T=30, F=3, H=8, peephole=True, initial_state=True)
    out64, _, _, ws64 = numlstm.lstm_forward(**args)
    args32 = {k: (v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float64 else v)
              for k, v in args.items()}
    out32, _, _, ws32 = numlstm.lstm_forward(**args32)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, atol=2e-6)
    g64 = numlstm.lstm_backward(ws64, np.ones_like(out64))
    g32 = numlstm.lstm_backward(ws32, np.ones_like(out32))
    for name, a, b in zip(g32._fields, g32, g64):
        assert a.dtype == np.float32, name
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4, err_msg=name)


def test_workspace_is_consumed_once(rng):
    out, _, _, ws = numlstm.lstm_forward(**random_lstm_args(rng))
    numlstm.lstm_backward(ws, np.ones_like(out))
    with pytest.raises(ValueError, match="already used"):
        numlstm.lstm_backward(ws, np.ones_like(out))


@pytest.mark.parametrize("features", [1, 2, 7])
def test_weight_gradients_of_one_and_of_several_features_match_reference(rng, time_loop_chunks, input_projection,
                                                                        features):
    args = random_lstm_args(rng, B=3, F=features, peephole=True, mask=True, initial_state=True, recurrent_mask=True)
    assert_matches_reference(rng, args, reverse=False, zero_output=False, grad_rtol=1e-10)
    grads = numlstm.lstm_backward(numlstm.lstm_forward(**args)[3], rng.standard_normal((3, 5, 4)))
    assert grads.d_kernel.shape == (features, 16) and grads.d_recurrent_kernel.shape == (4, 16)
    assert grads.d_kernel.flags.c_contiguous and grads.d_recurrent_kernel.flags.c_contiguous


def test_backward_without_input_gradient_gives_the_same_weight_gradients(rng, time_loop_chunks, input_projection):
    args = random_lstm_args(rng, B=3, peephole=True, mask=True, initial_state=True)
    d_out = rng.standard_normal((3, args["x"].shape[1], args["recurrent_kernel"].shape[0]))
    full = numlstm.lstm_backward(numlstm.lstm_forward(**args)[3], d_out)
    weights_only = numlstm.lstm_backward(numlstm.lstm_forward(**args)[3], d_out, input_gradient=False)
    assert weights_only.dx is None and full.dx is not None
    for name, got, want in zip(full._fields[1:], weights_only[1:], full[1:]):
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_final_states_false_skips_them_and_changes_nothing_else(rng):
    args = random_lstm_args(rng, peephole=True, mask=True, initial_state=True)
    d_out = rng.standard_normal((3, args["x"].shape[1], args["recurrent_kernel"].shape[0]))
    out, h_n, c_n, workspace = numlstm.lstm_forward(**args)
    lean_out, lean_h, lean_c, lean_workspace = numlstm.lstm_forward(**args, final_states=False)
    assert h_n is not None and c_n is not None and lean_h is None and lean_c is None
    np.testing.assert_array_equal(lean_out, out)
    lean, full = numlstm.lstm_backward(lean_workspace, d_out), numlstm.lstm_backward(workspace, d_out)
    for name, got, want in zip(full._fields, lean, full):
        np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.parametrize("cifg,peephole,mask,reverse,zero_output", OPTIONS)
@pytest.mark.parametrize("timesteps", [5, 6])
@pytest.mark.parametrize("block_steps", [None, 1, 2], ids=["projected-at-once", "by-1-step", "by-2-steps"])
def test_inference_pass_gives_the_training_pass_numbers_and_no_workspace(rng, monkeypatch, time_loop_chunks,
                                                                          input_projection, cifg, peephole, mask,
                                                                          reverse, zero_output, timesteps,
                                                                          block_steps):
    # An odd and an even count of steps: the inference pass's final states are in either of its two slots. A
    # pass that projects its input before the time loop does it in blocks of steps, here of 1 or 2.
    if block_steps is not None:
        monkeypatch.setattr(numlstm.functional, "projection_block_steps", lambda *shape: block_steps)
    args = random_lstm_args(rng, B=3, T=timesteps, cifg=cifg, peephole=peephole, mask=mask, initial_state=True,
                            recurrent_mask=peephole)
    options = {"reverse": reverse, "zero_output_for_mask": zero_output}
    out, h_n, c_n, workspace = numlstm.lstm_forward(**args, **options)
    lean = numlstm.lstm_forward(**args, **options, keep_workspace=False)
    assert workspace is not None and lean[3] is None
    for name, got, want in zip(["outputs", "h_n", "c_n"], lean, (out, h_n, c_n)):
        if block_steps is None or input_projection:
            np.testing.assert_array_equal(got, want, err_msg=name)
        else:  # BLAS's rounding of a row may depend on how many rows a GEMM has
            np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15, err_msg=name)
    ref_out, ref_h, ref_c, _ = reference_forward(**args, **options)
    for name, got, want in zip(["outputs", "h_n", "c_n"], lean, (ref_out, ref_h, ref_c)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13, err_msg=name)


def test_inference_pass_in_float32_and_without_final_states(rng):
    args = random_lstm_args(rng, B=2, T=7, F=3, H=8, dtype=np.float32, mask=True)
    out = numlstm.lstm_forward(**args)[0]
    lean_out, lean_h, lean_c, lean_workspace = numlstm.lstm_forward(**args, keep_workspace=False, final_states=False)
    np.testing.assert_array_equal(lean_out, out)
    assert lean_h is None and lean_c is None and lean_workspace is None


@pytest.mark.parametrize("features,units", [(4, 32), (16, 16), (64, 64)],
                         ids=["fused-few-features", "fused-small-kernel", "gemm-projection"])
def test_a_rows_numbers_do_not_depend_on_its_batch(rng, features, units):
    """predict in batches of 1 or of 9 gives the same numbers: bit for bit where the layer's shape fuses the
    input projection, to float32 rounding where BLAS's GEMM projects it (its kernels depend on the row count)."""
    args = random_lstm_args(rng, B=9, T=6, F=features, H=units, dtype=np.float32, peephole=True)
    fused = numlstm.functional.fuses_input_projection(features, units, args["kernel"].nbytes)
    assert fused == (units != 64)
    whole = numlstm.lstm_forward(**args)[0]
    for rows in (slice(0, 1), slice(2, 5), slice(3, 9)):
        part = numlstm.lstm_forward(**{**args, "x": np.ascontiguousarray(args["x"][rows])})[0]
        if fused:
            np.testing.assert_array_equal(part, whole[rows])
        else:
            np.testing.assert_allclose(part, whole[rows], rtol=1e-5, atol=1e-5)


def test_a_workspace_counts_the_arrays_the_backward_pass_reads(rng):
    """[x_t, h_t] rows, gate activations and cell states: (T*B*(F + H) + T*B*4H + (T + 1)*B*H) floats."""
    args = random_lstm_args(rng, B=3, T=5, F=2, H=4, dtype=np.float32)
    workspace = numlstm.lstm_forward(**args)[3]
    assert workspace.nbytes == 4 * (5 * 3 * (2 + 4) + 5 * 3 * 16 + 6 * 3 * 4)
