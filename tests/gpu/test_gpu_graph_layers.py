"""The layers of functional graphs on device arrays give what they give on the CPU (float64, tiny shapes).

Runs on a GPU or in the CUDA simulator (NUMBA_ENABLE_CUDASIM=1). The CPU
layers are pinned by tests/test_graph_layers.py (finite differences, Keras);
here each layer's forward and backward on device arrays, its weights on the
device too, must match them, and so must each backend function behind them
(kernels/cuda/layers.py) its numpy twin in numlstm/backend/cpu.py.
"""

import numpy as np
import pytest

from numlstm import backend, layers
from numlstm.backend import cpu

pytestmark = pytest.mark.gpu

TIMES = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])


@pytest.fixture(scope="module")
def gpu():
    from numlstm.backend import cuda

    return cuda


def _host(array):
    return array.copy_to_host() if backend.is_device_array(array) else array


def _same(got, want, rtol=1e-12, atol=1e-14):
    assert backend.is_device_array(got)
    assert tuple(got.shape) == np.shape(want)
    np.testing.assert_allclose(got.copy_to_host(), want, rtol=rtol, atol=atol)


# -- backend functions against their numpy twins ------------------------------------------
def test_concat_and_split_along_any_axis(gpu, rng):
    arrays = [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))]
    for axis in range(3):
        joined = gpu.concat_axis([gpu.from_host(a) for a in arrays], axis)
        _same(joined, cpu.concat_axis(arrays, axis))
        for got, want in zip(gpu.split_axis(joined, [4, 4] if axis == 2 else [arrays[0].shape[axis]] * 2, axis),
                             arrays):
            _same(got, want)
    masks = [TIMES, ~TIMES]
    np.testing.assert_array_equal(gpu.concat_axis([gpu.from_host(m) for m in masks], 1).copy_to_host(),
                                  cpu.concat_axis(masks, 1))


def test_mask_functions(gpu, rng):
    np.testing.assert_array_equal(gpu.mask_ones((3, 4)).copy_to_host(), np.ones((3, 4), bool))
    other = rng.random((3, 4)) < 0.5
    np.testing.assert_array_equal(gpu.logical_or(gpu.from_host(TIMES), other).copy_to_host(), TIMES | other)
    x = rng.standard_normal((3, 4, 2))
    _same(gpu.where_mask(gpu.from_host(x), gpu.from_host(TIMES), 1.0), cpu.where_mask(x, TIMES, 1.0))


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("mean", [False, True])
def test_sums_over_steps_and_their_transpose(gpu, rng, masked, mean):
    mask = TIMES if masked else None
    x = rng.standard_normal((3, 4, 5))
    _same(gpu.sum_steps(gpu.from_host(x), None if mask is None else gpu.from_host(mask), mean),
          cpu.sum_steps(x, mask, mean))
    a = rng.standard_normal((3, 5))
    _same(gpu.spread_steps(gpu.from_host(a), 4, None if mask is None else gpu.from_host(mask), mean),
          cpu.spread_steps(a, 4, mask, mean))


@pytest.mark.parametrize("with_gamma,with_beta", [(True, True), (False, True), (True, False)])
def test_layer_norm_rows(gpu, rng, with_gamma, with_beta):
    x, dy = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    gamma = rng.standard_normal(6) if with_gamma else None
    beta = rng.standard_normal(6) if with_beta else None
    got, want = gpu.layer_norm(gpu.from_host(x), gamma, beta, 1e-3), cpu.layer_norm(x, gamma, beta, 1e-3)
    for g, w in zip(got, want):
        _same(g, w)
    _same(gpu.layer_norm_gradient(gpu.from_host(dy), got[1], got[2], gamma),
          cpu.layer_norm_gradient(dy, want[1], want[2], gamma))


@pytest.mark.parametrize("kernel_size,stride,dilation,pads", [(3, 1, 1, (0, 0)), (3, 2, 1, (1, 1)),
                                                              (2, 1, 3, (3, 0)), (4, 3, 1, (1, 2))])
def test_sequence_windows_and_their_transpose(gpu, rng, kernel_size, stride, dilation, pads):
    x = rng.standard_normal((2, 7, 3))
    want = cpu.sequence_windows(x, kernel_size, stride, dilation, *pads)
    _same(gpu.sequence_windows(gpu.from_host(x), kernel_size, stride, dilation, *pads), want)
    d = rng.standard_normal(want.shape)
    _same(gpu.sequence_windows_gradient(gpu.from_host(d), x.shape, kernel_size, stride, dilation, *pads),
          cpu.sequence_windows_gradient(d, x.shape, kernel_size, stride, dilation, *pads))


# -- layers on device arrays against the same layers on the CPU ------------------------------
def _on_device(gpu, value):
    if value is None:
        return None
    if isinstance(value, list):
        return [_on_device(gpu, v) for v in value]
    return gpu.from_host(np.ascontiguousarray(value))


def _check_layer(gpu, make, x, rng, mask=None):
    """One layer on host data, a twin (same weights, held on the device) on device data: the same forward,
    backward, and passed-on mask."""
    reference, twin = make(), make()
    reference.forward(x, mask=mask)
    for w in reference.weights:
        w[...] = rng.standard_normal(w.shape) * 0.5
    twin.forward(x, mask=mask)
    twin.set_weights(reference.get_weights())
    twin._use_weight_storage([gpu.zeros(w.shape, w.dtype) for w in twin.weights])
    output, cache = reference.forward(x, mask=mask)
    d_output = rng.standard_normal(output.shape)
    expected = reference.backward(cache, d_output)
    device_x, device_mask = _on_device(gpu, x), _on_device(gpu, mask)
    got_output, got_cache = twin.forward(device_x, mask=device_mask)
    _same(got_output, output)
    got = twin.backward(got_cache, gpu.from_host(d_output))
    several = isinstance(x, list)
    for g, w in zip((got.d_input if several else [got.d_input]) + list(got.grads),
                    (expected.d_input if several else [expected.d_input]) + list(expected.grads)):
        _same(g, w)
    want_mask = reference.compute_mask(x, mask)
    got_mask = twin.compute_mask(device_x, device_mask)
    assert (got_mask is None) == (want_mask is None)
    if want_mask is not None:
        np.testing.assert_array_equal(_host(got_mask), want_mask)


@pytest.mark.parametrize("name,kwargs,masks", [
    ("Add", {}, None), ("Add", {}, "all"), ("Average", {}, None), ("Multiply", {}, None),
    ("Multiply", {}, "all"), ("Multiply", {}, "one"), ("Concatenate", {}, "one"),
    ("Concatenate", {"axis": 1}, "one"), ("Concatenate", {"axis": 1}, None),
])
def test_merging_layers(gpu, rng, name, kwargs, masks):
    xs = [rng.standard_normal((3, 4, 2)) for _ in range(3)]
    mask = {None: None, "all": [TIMES, ~TIMES, np.eye(3, 4, dtype=bool)], "one": [None, TIMES, None]}[masks]
    _check_layer(gpu, lambda: getattr(layers, name)(dtype="float64", **kwargs), xs, rng, mask)


@pytest.mark.parametrize("make,shape,masked", [
    (lambda: layers.RepeatVector(3, dtype="float64"), (3, 2), False),
    (lambda: layers.Flatten(dtype="float64"), (3, 4, 2), False),
    (lambda: layers.Reshape((2, -1), dtype="float64"), (3, 4, 2), False),
    (lambda: layers.Activation("tanh", dtype="float64"), (3, 4, 2), True),
    (lambda: layers.Activation("softmax", dtype="float64"), (3, 4, 2), False),
    (lambda: layers.GlobalAveragePooling1D(dtype="float64"), (3, 4, 2), False),
    (lambda: layers.GlobalAveragePooling1D(keepdims=True, dtype="float64"), (3, 4, 2), True),
    (lambda: layers.LayerNormalization(dtype="float64"), (3, 4, 2), True),
    (lambda: layers.LayerNormalization(axis=[1, 2], center=False, dtype="float64"), (3, 4, 2), False),
    (lambda: layers.Conv1D(3, 2, padding="causal", dilation_rate=2, activation="relu", dtype="float64"),
     (3, 4, 2), False),
    (lambda: layers.Conv1D(2, 3, strides=2, padding="same", dtype="float64"), (2, 5, 3), False),
    (lambda: layers.TimeDistributed(layers.Dense(3, activation="sigmoid", dtype="float64")), (3, 4, 2), True),
    (lambda: layers.TimeDistributed(layers.Conv1D(2, 2, dtype="float64")), (2, 2, 3, 2), False),
])
def test_single_input_layers(gpu, rng, make, shape, masked):
    _check_layer(gpu, make, rng.standard_normal(shape), rng, TIMES[:shape[0], :shape[1]] if masked else None)
