"""The ConvLSTM's CUDA kernels (``kernels/cuda/convlstm.py``) against its CPU path, which the float64 gradient checks
of ``tests/test_convlstm_gradcheck.py`` hold to central differences.

Forward outputs and states, and every gradient of the backward pass, equal the CPU's to rounding (float64 1e-12,
float32 1e-5). Tiny cases, for the simulator runs one Python thread per CUDA thread: 2 batch items, 3 steps,
grids of at most 4 x 4 and 2 filters; the simulator's 16-thread blocks and 8 x 8 GEMM tiles leave remainders.
"""

import math

import numpy as np
import pytest
from numlstm.kernels import conv_geometry

import numlstm

pytestmark = pytest.mark.gpu

# (spatial, kernel_size, strides, padding, dilation_rate)
GEOMETRIES = {
    "1d-same": ((5,), (3,), 1, "same", 1),
    "1d-valid-stride": ((8,), (3,), 2, "valid", 1),  # input position 7 is read by no tap: its dx is zero
    "1d-dilated": ((6,), (2,), 1, "same", 2),
    "2d-same": ((4, 3), (3, 3), 1, "same", 1),
    "2d-valid-strides": ((4, 4), (2, 3), (2, 1), "valid", 1),
    "2d-even-same-strided": ((4, 4), (2, 2), 2, "same", 1),
    "2d-dilated": ((4, 4), (2, 2), 1, "valid", (2, 1)),
}

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


def _per_axis(value, rank):
    return value if isinstance(value, tuple) else (value,) * rank


def _case(rng, geometry, dtype=np.float64, cifg=False, peephole=False, initial_state=False, mask=None,
          recurrent_mask=False, batch=2, steps=3, channels=2, filters=2):
    """Arguments of convlstm_forward (as keywords), and the gradients reaching outputs and final states."""
    spatial, kernel_size, strides, padding, dilation = geometry
    rank = len(spatial)
    state_spatial, _ = conv_geometry.gather_table(spatial, kernel_size, _per_axis(strides, rank),
                                                  _per_axis(dilation, rank), padding)
    gates = 3 if cifg else 4
    state = (batch,) + state_spatial + (filters,)

    def normal(shape, scale=1.0):
        return (rng.normal(size=shape) * scale).astype(dtype)

    args = {"x": normal((batch, steps) + spatial + (channels,)),
            "kernel": normal(kernel_size + (channels, gates * filters), 0.4),
            "recurrent_kernel": normal(kernel_size + (filters, gates * filters), 0.4),
            "bias": normal(gates * filters, 0.2),
            "strides": strides, "padding": padding, "dilation_rate": dilation, "cifg": cifg}
    if peephole:
        args["peephole"] = normal(state_spatial + ((gates - 1) * filters,), 0.4)
    if initial_state:
        args["h0"], args["c0"] = normal(state, 0.5), normal(state, 0.5)
    if mask is not None:
        args["mask"] = mask
    if recurrent_mask:
        args["recurrent_mask"] = ((rng.random(state) > 0.3) / 0.7).astype(dtype)
    grads = {"d_outputs": normal((batch, steps) + state[1:]), "d_h_n": normal(state), "d_c_n": normal(state)}
    return args, grads


def _on_device(value):
    from numba import cuda

    return cuda.to_device(value) if isinstance(value, np.ndarray) else value


def _assert_gpu_matches_cpu(args, grads, input_gradient=True, resident=False):
    """The GPU pass (device arrays in and out with ``resident``, else numpy under device("cuda")) equals the
    CPU's, every output and gradient; returns the GPU's results as host arrays."""
    dtype = args["x"].dtype.type
    outputs, h_n, c_n, workspace = numlstm.convlstm_forward(**args)
    cpu_saved = dict(workspace._saved)
    expected = (outputs, h_n, c_n) + tuple(numlstm.convlstm_backward(workspace, **grads,
                                                                     input_gradient=input_gradient))
    with numlstm.device("cuda"):
        if resident:
            args = {name: _on_device(value) for name, value in args.items()}
            grads = {name: _on_device(value) for name, value in grads.items()}
            kept = {name: value.copy_to_host() for name, value in grads.items() if value is not None}
        outputs, h_n, c_n, workspace = numlstm.convlstm_forward(**args)
        saved = workspace._saved  # the CPU's arrays, by the same names and shapes
        assert set(cpu_saved) <= set(saved)
        for name, array in cpu_saved.items():
            assert saved[name].shape == array.shape, name
        for name in ("hs", "cs"):
            np.testing.assert_allclose(saved[name].copy_to_host(), cpu_saved[name], rtol=TOLERANCE[dtype],
                                       atol=TOLERANCE[dtype], err_msg=name)
        got = (outputs, h_n, c_n) + tuple(numlstm.convlstm_backward(workspace, **grads, input_gradient=input_gradient))
    names = ("outputs", "h_n", "c_n") + numlstm.convlstm.ConvLSTMGradients._fields
    on_host = []
    for name, want, have in zip(names, expected, got):
        if want is None:
            assert have is None, name
            on_host.append(None)
            continue
        assert numlstm.backend.is_device_array(have) == resident, name
        have = have.copy_to_host() if resident else have
        assert have.shape == want.shape and have.dtype == want.dtype, name
        tolerance = TOLERANCE[dtype]
        np.testing.assert_allclose(have, want, rtol=tolerance, atol=tolerance, err_msg=name)
        on_host.append(have)
    if resident:  # the caller's gradients are left as they were (d_h_n and d_c_n become dh0 and dc0 on copies)
        for name, value in kept.items():
            np.testing.assert_array_equal(grads[name].copy_to_host(), value, err_msg=name)
    return dict(zip(names, on_host))


@pytest.mark.parametrize("geometry", GEOMETRIES.values(), ids=GEOMETRIES.keys())
def test_geometries(rng, geometry):
    args, grads = _case(rng, geometry, initial_state=True)
    _assert_gpu_matches_cpu(args, grads)


def test_positions_no_tap_reads_get_zero_input_gradient(rng):
    args, grads = _case(rng, GEOMETRIES["1d-valid-stride"])
    dx = _assert_gpu_matches_cpu(args, grads)["dx"]
    np.testing.assert_array_equal(dx[:, :, 7], 0)


# The simulator runs a Python thread per CUDA thread: a few combinations, each option on and off somewhere.
@pytest.mark.parametrize("rank, cifg, peephole, reverse", [
    ("2d-same", False, False, False), ("2d-same", True, True, True), ("2d-same", False, True, True),
    ("1d-same", True, False, True)])
def test_variants(rng, rank, cifg, peephole, reverse):
    args, grads = _case(rng, GEOMETRIES[rank], cifg=cifg, peephole=peephole, initial_state=True)
    args["reverse"] = reverse
    _assert_gpu_matches_cpu(args, grads)


@pytest.mark.parametrize("zero_output, cifg", [(False, False), (True, True)], ids=["carry", "zero-output-cifg"])
def test_mask_and_recurrent_mask(rng, zero_output, cifg):
    mask = np.array([[True, False, True], [False, True, False]])
    args, grads = _case(rng, GEOMETRIES["2d-same"], cifg=cifg, peephole=True, initial_state=True, mask=mask,
                        recurrent_mask=True)
    args["zero_output_for_mask"] = zero_output
    args["reverse"] = zero_output
    _assert_gpu_matches_cpu(args, grads)


def test_float32(rng):
    mask = np.array([[True, True, False], [False, True, True]])
    args, grads = _case(rng, GEOMETRIES["2d-valid-strides"], dtype=np.float32, peephole=True, initial_state=True, mask=mask,
                        recurrent_mask=True)
    _assert_gpu_matches_cpu(args, grads)


def test_device_arrays_in_device_arrays_out(rng):
    mask = np.array([[False, True, True], [True, True, False]])
    args, grads = _case(rng, GEOMETRIES["2d-even-same-strided"], peephole=True, initial_state=True, mask=mask,
                        recurrent_mask=True)
    args["zero_output_for_mask"] = True
    _assert_gpu_matches_cpu(args, grads, resident=True)


def test_without_output_gradients_bias_or_input_gradient(rng):
    """Only the final states carry a gradient; no bias, no initial states, no dx."""
    args, grads = _case(rng, GEOMETRIES["1d-valid-stride"], cifg=True)
    del args["bias"]
    grads["d_outputs"] = None
    results = _assert_gpu_matches_cpu(args, grads, input_gradient=False)
    assert results["dx"] is None and results["d_peephole"] is None


def test_final_states_off_and_no_gradients_at_all(rng):
    """No final states, and a backward pass given no gradient at all (nothing for the finite check to scan)."""
    args, _ = _case(rng, GEOMETRIES["2d-same"], peephole=True)
    with numlstm.device("cuda"):
        outputs, h_n, c_n, workspace = numlstm.convlstm_forward(**args, final_states=False)
        assert h_n is None and c_n is None
        gradients = numlstm.convlstm_backward(workspace)
        assert not np.any(gradients.d_kernel) and not np.any(gradients.dx)
        with pytest.raises(ValueError, match="already used"):
            numlstm.convlstm_backward(workspace)
    np.testing.assert_allclose(outputs, numlstm.convlstm_forward(**args)[0], rtol=1e-12, atol=1e-12)


def test_frames_in_several_blocks(monkeypatch, rng):
    """Patch buffers of four frames: the input convolution and the weight gradients run over the 2 x 3 = 6
    frames in two blocks, the second one partial, the weight gradients' GEMMs accumulating."""
    from numlstm.kernels.cuda import convlstm as cuda_convlstm

    args, grads = _case(rng, GEOMETRIES["2d-valid-strides"], peephole=True, initial_state=True,
                        mask=np.array([[True, False, True], [True, True, False]]), recurrent_mask=True)
    positions = math.prod(conv_geometry.gather_table((4, 4), (2, 3), (2, 1), (1, 1), "valid")[0])
    width = 2 * 3 * 2  # taps * channels (= taps * filters)
    monkeypatch.setattr(cuda_convlstm, "PATCH_BYTES", 4 * positions * width * 8 + 8)
    assert cuda_convlstm._frames_per_block(positions, width, np.float64) == 4
    _assert_gpu_matches_cpu(args, grads)


def test_a_model_trains_on_the_gpu_as_on_the_cpu():
    """The layers in a model on device("cuda"): Bidirectional (a go_backwards copy), dropout, peepholes and
    channels_first run on device arrays, and two steps give the CPU's losses and predictions."""
    from numlstm import layers

    frames = np.ascontiguousarray(np.moveaxis(
        numlstm.datasets.moving_shapes(4, timesteps=3, size=4, objects=1, dtype="float64"), -1, 2))

    def train():
        numlstm.utils.set_random_seed(3)
        common = {"padding": "same", "dtype": "float64", "data_format": "channels_first"}
        model = numlstm.Sequential([
            layers.Input((2,) + frames.shape[2:]),
            layers.Bidirectional(layers.ConvLSTM2D(1, 3, dropout=0.2, recurrent_dropout=0.1, seed=1, peephole=True,
                                                   **common), merge_mode="sum")])
        model.compile(numlstm.optimizers.Adam(0.01), "mse")
        history = model.fit(frames[:, :2], frames[:, 2], batch_size=2, epochs=1, verbose=0)
        return history.history["loss"], model.predict(frames[:, :2], verbose=0)

    with numlstm.device("cpu"):
        cpu_loss, cpu_prediction = train()
    with numlstm.device("cuda"):
        gpu_loss, gpu_prediction = train()
    np.testing.assert_allclose(gpu_loss, cpu_loss, rtol=1e-12)
    np.testing.assert_allclose(gpu_prediction, cpu_prediction, rtol=1e-10, atol=1e-12)
