"""Every function of the CUDA backend against its numpy twin (``numlstm/backend/cpu.py``).

The CPU backend is the reference: its functions are the numpy expressions
the layers, losses and optimizers used before the GPU path existed, and the
CPU test suite pins them against Keras and PyTorch. Runs on a GPU or in the
CUDA simulator (see test_gpu_lstm.py); float64, tiny shapes with remainders
in every block.
"""

import numpy as np
import pytest

from numlstm import losses, optimizers
from numlstm.backend import cpu

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def gpu():
    from numlstm.backend import cuda

    return cuda


def _same(gpu_result, cpu_result, rtol=1e-13, atol=1e-15):
    assert gpu_result.shape == np.shape(cpu_result)
    np.testing.assert_allclose(gpu_result.copy_to_host(), cpu_result, rtol=rtol, atol=atol)


@pytest.mark.parametrize("transpose_a,transpose_b", [(False, False), (True, False), (False, True)])
def test_matmul(gpu, rng, transpose_a, transpose_b):
    a = rng.standard_normal((6, 5) if transpose_a else (5, 6))
    b = rng.standard_normal((7, 6) if transpose_b else (6, 7))
    _same(gpu.matmul(gpu.from_host(a), gpu.from_host(b), transpose_a, transpose_b),
          cpu.matmul(a, b, transpose_a, transpose_b))


@pytest.mark.parametrize("name", cpu.ACTIVATIONS)
def test_activations_and_their_gradients(gpu, rng, name):
    z = rng.standard_normal((5, 3)) * 3
    z[0, 0] = 0.0
    y = cpu.activate(name, z.copy())
    _same(gpu.activate(name, gpu.from_host(z)), y)
    dy = rng.standard_normal((5, 3))
    _same(gpu.activation_gradient(name, gpu.from_host(y), gpu.from_host(dy)), cpu.activation_gradient(name, y, dy))


def test_relu_keeps_nan(gpu):
    assert np.isnan(gpu.activate("relu", gpu.from_host(np.array([np.nan, -1.0]))).copy_to_host()[0])


def test_bias_sums_and_arithmetic(gpu, rng):
    rows, bias = rng.standard_normal((17, 3)), rng.standard_normal(3)
    on_gpu = gpu.from_host(rows)
    gpu.add_bias(on_gpu, gpu.from_host(bias))
    _same(on_gpu, rows + bias)
    _same(gpu.column_sums(gpu.from_host(rows)), cpu.column_sums(rows))
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    _same(gpu.add(gpu.from_host(a), b), cpu.add(a, b))
    _same(gpu.multiply(gpu.from_host(a), b), cpu.multiply(a, b))
    per_sequence = rng.standard_normal((2, 1, 4))
    _same(gpu.multiply(gpu.from_host(a), per_sequence), cpu.multiply(a, per_sequence))
    _same(gpu.scale(gpu.from_host(a), 0.5), cpu.scale(a, 0.5))
    with pytest.raises(ValueError, match="cannot broadcast"):
        gpu.multiply(gpu.from_host(a), rng.standard_normal((2, 3, 1)))


@pytest.mark.parametrize("value", [0.0, 2.5])
def test_full_and_zeros(gpu, value):
    """Zeros come from a driver memset, other values from a kernel; new device arrays hold NaN in the
    simulator (conftest.py), so a fill that skips an element shows."""
    _same(gpu.full((5, 3), np.float32, value), np.full((5, 3), value, np.float32))
    _same(gpu.zeros((2, 3, 2), np.float64), np.zeros((2, 3, 2)))
    assert gpu.full((0, 3), np.float64, value).shape == (0, 3)


def test_sequence_reshaping(gpu, rng):
    a = rng.standard_normal((2, 5, 3))
    _same(gpu.reverse_time(gpu.from_host(a)), cpu.reverse_time(a))
    for t in (0, 4):
        _same(gpu.time_step(gpu.from_host(a), t), cpu.time_step(a, t))
    b = rng.standard_normal((2, 5, 2))
    joined = gpu.concat_last(gpu.from_host(a), gpu.from_host(b))
    _same(joined, cpu.concat_last(a, b))
    left, right = gpu.split_last(joined, 3)
    _same(left, a)
    _same(right, b)


def test_flatten_converts_the_dtype(gpu, rng):
    arrays = [rng.standard_normal((2, 3)), rng.standard_normal(4)]
    _same(gpu.flatten([gpu.from_host(a) for a in arrays], np.float32), cpu.flatten(arrays, np.float32), rtol=1e-7)
    assert gpu.asarray(gpu.from_host(arrays[1]), np.float32).dtype == np.float32


def test_masks(gpu, rng):
    x = rng.standard_normal((3, 4, 2))
    x[0, 1] = 0.0
    x[2, 3, 0] = 0.0  # one feature only: not masked
    mask = cpu.steps_differing(x, 0.0)
    gpu_mask = gpu.steps_differing(gpu.from_host(x), 0.0)
    np.testing.assert_array_equal(gpu_mask.copy_to_host(), mask)
    _same(gpu.zero_masked_steps(gpu.from_host(x), gpu_mask), cpu.zero_masked_steps(x, mask))
    ids = rng.integers(0, 3, (3, 4))
    np.testing.assert_array_equal(gpu.not_equal(gpu.from_host(ids), 0).copy_to_host(), cpu.not_equal(ids, 0))


def test_embedding_gather_and_scatter_with_repeated_ids(gpu, rng):
    """Ids repeated (4 four times, 0 twice), absent (3); each id's rows summed in their original order, as
    np.add.at does: equal to the bit, so the same every run."""
    table = rng.standard_normal((5, 3))
    ids = np.array([[0, 4, 4, 4], [2, 4, 0, 1]])
    _same(gpu.gather_rows(gpu.from_host(table), gpu.from_host(ids)), cpu.gather_rows(table, ids))
    rows = rng.standard_normal((2, 4, 3))
    rows[0, 1:, 0], rows[1, 1, 0] = (1e16, 1.0, -1e16), 1.0  # id 4's sum: 1 in this order, 0 reversed
    got = gpu.scatter_add_rows(table.shape, table.dtype, gpu.group_rows(ids), gpu.from_host(rows))
    np.testing.assert_array_equal(got.copy_to_host(),
                                  cpu.scatter_add_rows(table.shape, table.dtype, cpu.group_rows(ids), rows))


def test_embedding_scatter_of_no_ids(gpu):
    empty = np.zeros((0, 2), np.int64)
    got = gpu.scatter_add_rows((4, 3), np.float64, gpu.group_rows(empty), gpu.from_host(np.zeros((0, 2, 3))))
    np.testing.assert_array_equal(got.copy_to_host(), np.zeros((4, 3)))


class _CustomLoss(losses.Loss):
    name = "custom"

    def value_and_gradient(self, y_true, y_pred):
        return float(np.mean(np.cosh(y_pred - y_true))), np.sinh(y_pred - y_true) / y_pred.size


LOSSES = [losses.MeanSquaredError(), losses.MeanAbsoluteError(), losses.Huber(0.7),
          losses.BinaryCrossentropy(), losses.BinaryCrossentropy(from_logits=True),
          losses.CategoricalCrossentropy(), losses.CategoricalCrossentropy(from_logits=True),
          losses.SparseCategoricalCrossentropy(), losses.SparseCategoricalCrossentropy(from_logits=True),
          _CustomLoss()]


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: f"{loss.name}{'_logits' * getattr(loss, 'from_logits', 0)}")
def test_losses(gpu, rng, loss):
    logits = rng.standard_normal((5, 2, 4))
    if loss.name == "sparse_categorical_crossentropy":
        y_true = rng.integers(0, 4, (5, 2))
    elif "crossentropy" in loss.name:
        y_true = rng.random((5, 2, 4))
    else:
        y_true = rng.standard_normal((5, 2, 4))
    # probabilities (with one clipped at each end) unless the loss takes logits or any real
    probabilities = "crossentropy" in loss.name and not loss.from_logits
    y_pred = 1 / (1 + np.exp(-logits)) if probabilities else logits
    if probabilities:
        y_pred[0, 0, :2] = [1e-9, 1 - 1e-9]
    value, gradient = loss.value_and_gradient(y_true, y_pred)
    gpu_value, gpu_gradient = gpu.loss_value_and_gradient(loss, y_true, gpu.from_host(y_pred))
    assert float(gpu_value) == pytest.approx(value, rel=1e-13)
    _same(gpu_gradient, gradient)


def test_loss_checks_stay_on_the_host(gpu):
    with pytest.raises(ValueError, match="class indices in"):
        gpu.loss_value_and_gradient(losses.SparseCategoricalCrossentropy(), np.array([0, 5]),
                                    gpu.from_host(np.zeros((2, 3))))
    with pytest.raises(ValueError, match="y_true has shape"):
        gpu.loss_value_and_gradient(losses.MeanSquaredError(), np.zeros((2, 2)), gpu.from_host(np.zeros((2, 3))))


@pytest.mark.parametrize("loss", [loss for loss in LOSSES if not isinstance(loss, _CustomLoss)]
                         + [losses.Poisson(), losses.KLDivergence()],
                         ids=lambda loss: f"{loss.name}{'_logits' * getattr(loss, 'from_logits', 0)}")
def test_weighted_losses_and_flat_targets(gpu, rng, loss):
    """Sample weights (computed on the host) and (N,) targets for (N, 1) outputs, prepared or not."""
    sparse = loss.name == "sparse_categorical_crossentropy"
    width = 3 if "categorical" in loss.name else 1
    y_pred = rng.uniform(0.05, 0.95, (6, width))
    y_true = rng.integers(0, width, 6) if sparse else rng.uniform(0, 1, (6, width))
    flat = y_true if sparse or width > 1 else y_true[:, 0]
    weights = rng.uniform(0, 2, 6)
    device_pred = gpu.from_host(y_pred)
    for sample_weight in (None, weights):
        value, gradient = cpu.loss_value_and_gradient(loss, y_true, y_pred, sample_weight)
        for targets in (flat, gpu.loss_targets(loss, flat, y_pred.shape, y_pred.dtype)):
            gpu_value, gpu_gradient = gpu.loss_value_and_gradient(loss, targets, device_pred, sample_weight)
            assert float(gpu_value) == pytest.approx(value, rel=1e-13)
            _same(gpu_gradient, gradient)
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        gpu.loss_value_and_gradient(loss, flat, device_pred, -weights)


OPTIMIZERS = [
    lambda: optimizers.SGD(0.1),
    lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True, clipvalue=0.5),
    lambda: optimizers.Adam(0.05, clipnorm=0.3),
    lambda: optimizers.AdamW(0.05, global_clipnorm=0.4),
    lambda: optimizers.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True),
    lambda: optimizers.Adagrad(0.1),
]


@pytest.mark.parametrize("make", OPTIMIZERS, ids=["sgd", "nesterov_clipvalue", "adam_clipnorm",
                                                  "adamw_global_clipnorm", "rmsprop_centered", "adagrad"])
def test_optimizer_steps_match_the_cpu(gpu, rng, make):
    sizes = [7, 20, 3]  # segments for clipnorm, one longer than a simulator block
    params = rng.standard_normal(sum(sizes))
    steps = [rng.standard_normal(params.size) for _ in range(3)]
    on_cpu, on_gpu = make(), make()
    cpu_params, gpu_params = params.copy(), gpu.from_host(params)
    on_cpu.build(cpu_params, sizes)
    on_gpu.build(gpu_params, sizes)
    for grads in steps:
        on_cpu.apply(cpu_params, grads.copy())
        on_gpu.apply(gpu_params, gpu.from_host(grads))
    _same(gpu_params, cpu_params, rtol=1e-12, atol=1e-14)
    for got, want in zip(on_gpu.variables(), on_cpu.variables()):
        _same(got, want, rtol=1e-12, atol=1e-14)
