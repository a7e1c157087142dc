"""The CUDA backend: ``cpu.py``'s functions on Numba device arrays, launching ``kernels/cuda/ops.py``.

Every function takes and returns C-contiguous device arrays (``local``
uploads a host array); the only transfers to the host are the loss value
(:class:`DeviceScalar`) and what a caller asks for (``to_host``,
``to_host_async``).
"""

import collections
import functools
import math

import numpy as np
from numba import cuda
from numba.cuda.cudadrv import driver

from . import OutputSpec, cuda_staging, is_device_array
from ..kernels import options as kernel_options
from ..kernels.cuda import ctc as ctc_kernels
from ..kernels.cuda import layers as layer_kernels
from ..kernels.cuda import ops as op_kernels
from ..kernels.cuda.gemm import launch_gemm
from ..kernels.cuda.launch import launch as launch_kernel
from ..kernels.cuda.lstm import kernels_for as lstm_kernels_for
from ..kernels.cuda.memory import device_array, shape_tuple, to_device
from ..kernels.cuda.variant import dtype_name

name = "cuda"


def _options():
    return kernel_options.gpu_options().kernels


def _staged_transfer_bytes():
    return kernel_options.gpu_options().memory.staged_transfer_bytes


def _kernels(dtype):
    options = _options()
    return (op_kernels.build_kernels(dtype_name(dtype), options.threads, options.fastmath, options.cache),
            options.threads)


def _launch(kernel, count, threads):
    """``kernel`` over ``count`` threads in blocks of ``threads``: a function of the kernel's arguments."""
    blocks = max(1, -(-count // threads))
    return lambda *args: launch_kernel(kernel, blocks, threads, args)


@cuda.require_context
def in_context(function, *args, **kwargs):
    """``function(*args, **kwargs)`` with the CUDA context attached to this thread throughout. Outside such a
    scope numba-cuda asks the driver for the current context (cuCtxGetCurrent and cuCtxGetDevice, through
    cuda-python) at every lookup: at each of numlstm's device arrays, zero inputs, staged copies and cuBLAS
    handles, 28 driver calls in one H = 512 inference pass on an H100. Inside, it reads the context from
    thread-local storage."""
    return function(*args, **kwargs)


holds = is_device_array


def from_host(array):
    """A device copy of a host array; a small one is queued without waiting for the device (cuda_staging)."""
    return cuda_staging.upload(np.ascontiguousarray(array), _staged_transfer_bytes())


def local(array):
    """``array`` as a device array (uploaded when it is a host array)."""
    return array if holds(array) else from_host(array)


def to_host(array):
    return array.copy_to_host()


def to_host_async(array):
    """A host copy of ``array`` to be taken by ``result()``, which waits for the copy alone, not for work
    queued after it (cuda_staging.download)."""
    return cuda_staging.download(array, _staged_transfer_bytes())


def asarray(array, dtype):
    array = local(array)
    if array.dtype == np.dtype(dtype):
        return array
    out = device_array(array.shape, dtype)
    k, threads = _kernels(dtype)
    _launch(k.copy_into, array.size, threads)(array.reshape(-1), out.reshape(-1), 0)
    return out


def zeros(shape, dtype):
    return full(shape, dtype, 0)


def full(shape, dtype, value):
    out = device_array(shape, dtype)
    if out.size and value == 0:  # a driver memset: no kernel launch, no flat view
        driver.device_memset(out, 0, out.nbytes)
    elif out.size:
        k, threads = _kernels(dtype)
        _launch(k.fill, out.size, threads)(out.reshape(-1), out.dtype.type(value))
    return out


def read_only_zeros(shape, dtype):
    """A zero array for inputs that nothing writes (absent initial states, bias or peepholes): made once
    per shape, dtype and GPU, so that a pass launches no fill for them."""
    device = getattr(cuda.get_current_device(), "id", 0)  # the simulator's device has no id
    return _read_only_zeros(shape_tuple(shape), dtype_name(dtype), device)


@functools.lru_cache(maxsize=64)
def _read_only_zeros(shape, dtype, device_id):
    return zeros(shape, dtype)


def zeros_like(array):
    return zeros(array.shape, array.dtype)


def full_like(array, value):
    return full(array.shape, array.dtype, value)


def copy(array):
    out = device_array(array.shape, array.dtype)
    out.copy_to_device(array)
    return out


def assign(target, source):
    if is_device_array(source):
        target.copy_to_device(source)
    else:
        target.copy_to_device(np.ascontiguousarray(source, target.dtype))


# -- arithmetic ---------------------------------------------------------------------
def _combine(a, b, operation, factor):
    out = device_array(a.shape, a.dtype)
    k, threads = _kernels(a.dtype)
    _launch(k.combine, a.size, threads)(a.reshape(-1), b.reshape(-1), operation, a.dtype.type(factor), out.reshape(-1))
    return out


def add(a, b):
    return _combine(local(a), local(b), op_kernels.ADD, 1.0)


def multiply(a, b):
    """a * b; ``b`` has a's shape or, for ``a`` (B, T, ...), (B, 1, ...): one frame per sequence."""
    a, b = local(a), local(b)
    shape = tuple(a.shape)
    if tuple(b.shape) == shape:
        return _combine(a, b, op_kernels.MULTIPLY, 1.0)
    if a.ndim < 3 or tuple(b.shape) != (shape[0], 1) + shape[2:]:
        raise ValueError(f"multiply: cannot broadcast {b.shape} over {a.shape}")
    frame = math.prod(shape[2:])
    out = device_array(shape, a.dtype)
    k, threads = _kernels(a.dtype)
    _launch(k.multiply_over_time, a.size, threads)(a.reshape(shape[0], shape[1], frame),
                                                   b.reshape(shape[0], 1, frame), out.reshape(shape[0], shape[1], frame))
    return out


def scale(a, factor):
    out = copy(a)
    scale_in_place(out.reshape(-1), factor)
    return out


def matmul(a, b, transpose_a=False, transpose_b=False):
    """op(a) @ op(b) for 2-D arrays, with the tiled GEMM of kernels/cuda/gemm.py (or cuBLAS)."""
    a, b = local(a), local(b)
    m, depth = (a.shape[1], a.shape[0]) if transpose_a else a.shape
    n = b.shape[0] if transpose_b else b.shape[1]
    out = device_array((m, n), a.dtype)
    options = _options()
    k = lstm_kernels_for(a.dtype, options)
    launch_gemm(k, options, a, b, out, m, n, depth, transpose_a, transpose_b)
    return out


def add_bias(rows, bias):
    k, threads = _kernels(rows.dtype)
    _launch(k.add_bias, rows.size, threads)(rows, local(bias))


def column_sums(rows):
    out = device_array(rows.shape[1], rows.dtype)
    options = _options()
    k = lstm_kernels_for(rows.dtype, options)
    _launch(k.column_sums, rows.shape[1], options.threads)(rows, rows.shape[0], out)
    return out


def activate(name, z):
    if name == "linear":  # as on the CPU: nothing to launch
        return z
    k, threads = _kernels(z.dtype)
    if name == "softmax":
        rows = z.reshape(-1, tuple(z.shape)[-1])
        _launch(k.softmax_rows, rows.shape[0], threads)(rows)
    else:
        _launch(k.activate, z.size, threads)(z.reshape(-1), op_kernels.ACTIVATIONS[name])
    return z


def activation_gradient(name, y, dy):
    dy = local(dy)
    if name == "linear":
        return dy
    out = device_array(y.shape, y.dtype)
    k, threads = _kernels(y.dtype)
    if name == "softmax":
        width = tuple(y.shape)[-1]
        _launch(k.softmax_gradient_rows, y.size // width, threads)(
            y.reshape(-1, width), dy.reshape(-1, width), out.reshape(-1, width))
    else:
        _launch(k.activation_gradient, y.size, threads)(
            y.reshape(-1), dy.reshape(-1), op_kernels.ACTIVATIONS[name], out.reshape(-1))
    return out


# -- sequences ------------------------------------------------------------------------
def _as_sequence(a):
    """(B, T, ...) as the (B, T, frame) view the kernels take."""
    shape = tuple(a.shape)
    return a.reshape(shape[0], shape[1], math.prod(shape[2:]))


def reverse_time(a):
    out = device_array(a.shape, a.dtype)
    k, threads = _kernels(a.dtype)
    _launch(k.reverse_time, a.size, threads)(_as_sequence(a), _as_sequence(out))
    return out


def _copy_columns(source, first, target, target_first, width):
    k, threads = _kernels(target.dtype)
    _launch(k.copy_columns, target.shape[0] * width, threads)(source, first, target, target_first, width)


def time_step(a, t):
    shape = tuple(a.shape)
    B, T, H = _as_sequence(a).shape
    out = device_array((B,) + shape[2:], a.dtype)
    _copy_columns(a.reshape(B, T * H), t * H, out.reshape(B, H), 0, H)
    return out


def concat_last(a, b):
    a, b = local(a), local(b)
    wa, wb = tuple(a.shape)[-1], tuple(b.shape)[-1]
    out = device_array(tuple(a.shape)[:-1] + (wa + wb,), a.dtype)
    rows = out.reshape(-1, wa + wb)
    _copy_columns(a.reshape(-1, wa), 0, rows, 0, wa)
    _copy_columns(b.reshape(-1, wb), 0, rows, wa, wb)
    return out


def split_last(a, width):
    a = local(a)
    total = tuple(a.shape)[-1]
    rows = a.reshape(-1, total)
    parts = []
    for first, part_width in ((0, width), (width, total - width)):
        part = device_array(tuple(a.shape)[:-1] + (part_width,), a.dtype)
        _copy_columns(rows, first, part.reshape(-1, part_width), 0, part_width)
        parts.append(part)
    return tuple(parts)


def flatten(arrays, dtype):
    out = device_array(sum(a.size for a in arrays), dtype)
    k, threads = _kernels(dtype)
    offset = 0
    for array in arrays:
        _launch(k.copy_into, array.size, threads)(local(array).reshape(-1), out, offset)
        offset += array.size
    return out


def steps_differing(x, value):
    mask = device_array(x.shape[:2], np.bool_)
    k, threads = _kernels(x.dtype)
    _launch(k.steps_differing, x.shape[0] * x.shape[1], threads)(x, x.dtype.type(value), mask)
    return mask


def not_equal(a, value):
    out = device_array(a.shape, np.bool_)
    k, threads = _kernels(np.float64)
    _launch(k.not_equal, a.size, threads)(a.reshape(-1), value, out.reshape(-1))
    return out


def zero_masked_steps(x, mask):
    x, mask = local(x), local(mask)
    out = device_array(x.shape, x.dtype)
    k, threads = _kernels(x.dtype)
    _launch(k.zero_masked_steps, x.size, threads)(x, mask, out)
    return out


def gather_rows(table, ids):
    ids = local(ids)
    flat = ids.reshape(-1)
    out = device_array(tuple(ids.shape) + (table.shape[1],), table.dtype)
    k, threads = _kernels(table.dtype)
    _launch(k.gather_rows, out.size, threads)(table, flat, out.reshape(-1, table.shape[1]))
    return out


RowGroups = collections.namedtuple("RowGroups", "packed count unique_count")


def group_rows(ids):
    """The rows of each distinct id, for :func:`scatter_add_rows`, from host ids in one upload.

    A stable argsort on the host, so that each id's rows are summed in
    their original order, as ``np.add.at`` does on the CPU: the same
    result to the bit, and the same every run.
    """
    flat = np.asarray(ids).reshape(-1)
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    first = np.ones(flat.size, bool)
    first[1:] = ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(first)
    packed = np.concatenate([order, starts, [flat.size], ordered[starts]]).astype(np.int64)
    return RowGroups(from_host(packed), flat.size, starts.size)


def scatter_add_rows(shape, dtype, groups, rows):
    table = zeros(shape, dtype)
    k, threads = _kernels(dtype)
    _launch(k.sum_row_groups, groups.unique_count * shape[1], threads)(
        groups.packed, groups.count, groups.unique_count, local(rows).reshape(-1, shape[1]), table)
    return table


# -- losses ---------------------------------------------------------------------------
def _device_ints(boundaries):
    """A tuple of ints as a device array that nothing writes, uploaded once per distinct tuple and GPU
    (segment boundaries)."""
    return _device_ints_on(boundaries, getattr(cuda.get_current_device(), "id", 0))


@functools.lru_cache(maxsize=64)
def _device_ints_on(boundaries, device_id):
    return to_device(np.array(boundaries, np.int64))


class DeviceScalar:
    """A float that a kernel computed on the device, its copy to the host queued right after it; the first
    ``float()`` waits for that copy and reads it.

    The wait is for the launches before the copy only, so a training step
    that reads its loss once its backward pass and update are queued waits
    for its forward pass and loss: the device works through the backward
    pass while the host goes on to the next step.
    """

    __slots__ = ("_download", "_divisor", "_value")

    def __init__(self, download, divisor):
        self._download, self._divisor, self._value = download, divisor, None

    def __float__(self):
        if self._value is None:
            self._value = float(self._download.result()[0]) / self._divisor
            self._download = None
        return self._value

    def __repr__(self):
        return f"DeviceScalar({'not read yet' if self._value is None else self._value})"


def _sum(values, divisor):
    """The sum of a 1-D device array over ``divisor``, on its way to the host: one block, no atomics."""
    k, threads = _kernels(values.dtype)
    out = device_array(1, values.dtype)
    launch_kernel(k.segment_sums, 1, threads, (values, _device_ints((0, values.size)), False, out))
    return DeviceScalar(to_host_async(out), divisor)


class _Targets(collections.namedtuple("_Targets", "host shape dtype device")):
    """``y_true`` (``host``) checked against an output of ``shape`` and ``dtype``, and uploaded (``device``)
    as the loss kernel reads it."""


def loss_targets(loss, y_true, shape, dtype):
    """``y_true`` for :func:`loss_value_and_gradient` of an output of ``shape`` and ``dtype``: checked on
    the host and uploaded now, which a training step does before it queues the forward pass (an upload
    too large to be staged waits for the device's queued work). Host data as it is for a loss that runs on
    the host. Each loss says which kernel computes it and how its targets look (``gpu_kernel``,
    ``kernel_targets``, ``kernel_options``)."""
    output = OutputSpec(tuple(shape), np.dtype(dtype))
    if loss.gpu_kernel in (None, "ctc"):  # the CTC loss checks its labels with the output's mask, after the pass
        return y_true
    targets = loss.kernel_targets(y_true, output)
    device = from_host(targets.reshape(-1) if loss.gpu_kernel == "elementwise" or loss.kernel_options()["sparse"]
                       else targets.reshape(-1, output.shape[-1]))
    return _Targets(y_true, output.shape, output.dtype, device)


def _ctc_value_and_gradient(loss, y_true, y_pred, sample_weight, mask):
    """The CTC loss (:class:`numlstm.losses.CTC`) on the GPU: labels and lengths checked on the host, the
    recursions, the gradient and the weighted per-sample losses in ``kernels/cuda/ctc.py``, their sum on
    its way to the host as the other losses' values are (a :class:`DeviceScalar`)."""
    labels, label_lengths, input_lengths, scales = loss.device_plan(y_true, tuple(y_pred.shape), sample_weight,
                                                                    mask)
    _, gradient, weighted = ctc_kernels.ctc_loss_and_gradient(
        y_pred, to_device(labels), to_device(label_lengths), to_device(input_lengths), loss.blank, to_device(scales))
    return _sum(weighted, 1.0), gradient


def loss_value_and_gradient(loss, y_true, y_pred, sample_weight=None, mask=None):
    """(mean loss, gradient wrt y_pred on the GPU). ``y_true`` is host data, checked on the host, or what
    :func:`loss_targets` made of it for this output's shape and dtype.

    The built-in losses run as kernels, and their value stays on the device
    until ``float()`` reads it (a :class:`DeviceScalar`); any other ``Loss``
    subclass runs on the host (y_pred down, the gradient up) and gives a float.
    With ``sample_weight`` (host data) every loss runs on the host that way.
    """
    if loss.gpu_kernel == "ctc":
        return _ctc_value_and_gradient(loss, y_true.host if isinstance(y_true, _Targets) else y_true, y_pred,
                                       sample_weight, mask)
    if loss.reads_output_mask:  # a custom loss that reads the mask runs on the host, as custom losses do
        value, host_gradient = loss.value_and_gradient(y_true.host if isinstance(y_true, _Targets) else y_true,
                                                       y_pred.copy_to_host(), sample_weight=sample_weight, mask=mask)
        return value, from_host(host_gradient)
    if sample_weight is not None:
        host_targets = y_true.host if isinstance(y_true, _Targets) else y_true
        value, host_gradient = loss.value_and_gradient(host_targets, y_pred.copy_to_host(),
                                                       sample_weight=sample_weight)
        return value, from_host(host_gradient)
    if not (isinstance(y_true, _Targets) and y_true.shape == tuple(y_pred.shape) and y_true.dtype == y_pred.dtype):
        y_true = loss_targets(loss, y_true.host if isinstance(y_true, _Targets) else y_true, y_pred.shape,
                              y_pred.dtype)
    if not isinstance(y_true, _Targets):
        value, host_gradient = loss.value_and_gradient(y_true, y_pred.copy_to_host())
        return value, from_host(host_gradient)
    k, threads = _kernels(y_pred.dtype)
    gradient = device_array(y_pred.shape, y_pred.dtype)
    real = y_pred.dtype.type
    options = loss.kernel_options()
    if loss.gpu_kernel == "elementwise":
        values = device_array(y_pred.size, y_pred.dtype)
        _launch(k.elementwise_loss, y_pred.size, threads)(
            y_true.device, y_pred.reshape(-1), op_kernels.ELEMENTWISE_LOSSES[loss.name], real(options["delta"]),
            options["from_logits"], real(y_pred.size), values, gradient.reshape(-1))
        return _sum(values, y_pred.size), gradient
    width = tuple(y_pred.shape)[-1]
    rows = y_pred.size // width
    if options["sparse"]:
        labels, targets = y_true.device, y_pred.reshape(-1, width)  # targets: unused by the kernel
    else:
        labels, targets = _device_ints((0,)), y_true.device  # labels: unused by the kernel
    values = device_array(rows, y_pred.dtype)
    _launch(k.crossentropy_rows, rows, threads)(
        targets, labels, options["sparse"], y_pred.reshape(-1, width), options["from_logits"], real(rows), values,
        gradient.reshape(-1, width))
    return _sum(values, rows), gradient


# -- optimizers -------------------------------------------------------------------------
def sgd_update(params, grads, velocity, learning_rate, momentum, nesterov):
    k, threads = _kernels(params.dtype)
    _launch(k.sgd_update, params.size, threads)(params, grads, velocity, learning_rate, momentum, nesterov)


def adam_update(params, grads, m, v, learning_rate, alpha, beta_1, beta_2, epsilon, weight_decay):
    k, threads = _kernels(params.dtype)
    _launch(k.adam_update, params.size, threads)(params, grads, m, v, learning_rate, alpha, beta_1, beta_2,
                                                 epsilon, weight_decay)


def rmsprop_update(params, grads, velocity, average_grad, momentum_buffer, learning_rate, rho, momentum, epsilon,
                   centered):
    k, threads = _kernels(params.dtype)
    _launch(k.rmsprop_update, params.size, threads)(params, grads, velocity, average_grad, momentum_buffer,
                                                    learning_rate, rho, momentum, epsilon, centered)


def adagrad_update(params, grads, accumulator, learning_rate, epsilon):
    k, threads = _kernels(params.dtype)
    _launch(k.adagrad_update, params.size, threads)(params, grads, accumulator, learning_rate, epsilon)


def clip_values(a, limit):
    k, threads = _kernels(a.dtype)
    _launch(k.clip_values, a.size, threads)(a, a.dtype.type(limit))


def clip_segment_norms(grads, boundaries, clipnorm):
    k, threads = _kernels(grads.dtype)
    boundaries = _device_ints(tuple(int(b) for b in boundaries))
    squares = device_array(boundaries.size - 1, grads.dtype)
    launch_kernel(k.segment_sums, boundaries.size - 1, threads, (grads, boundaries, True, squares))
    _launch(k.scale_segments, grads.size, threads)(grads, boundaries, squares, grads.dtype.type(clipnorm))


def scale_in_place(a, factor):
    k, threads = _kernels(a.dtype)
    _launch(k.scale_in_place, a.size, threads)(a, a.dtype.type(factor))


# -- graph layers (merging, reshaping, pooling, normalization, conv1d) ------------------
def _layer_kernels(dtype):
    """kernels/cuda/layers.py's kernels for ``dtype``; masks (bool) use float32's, which touch no float."""
    options = _options()
    dtype = np.float32 if np.dtype(dtype) == np.bool_ else dtype
    return (layer_kernels.build_kernels(dtype_name(dtype), options.threads, options.fastmath, options.cache),
            options.threads)


def _copy_kernels(dtype):
    """ops.py's kernels whose ``copy_columns`` copies ``dtype``'s elements (float32's for bool masks)."""
    return _kernels(np.float32 if np.dtype(dtype) == np.bool_ else dtype)


def _around(shape, axis):
    """(elements before ``axis``, elements after it) of ``shape``."""
    return int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis + 1:], dtype=np.int64))


def concat_axis(arrays, axis):
    arrays = [local(a) for a in arrays]
    shapes = [tuple(a.shape) for a in arrays]
    outer, inner = _around(shapes[0], axis)
    total = sum(shape[axis] for shape in shapes)
    out = device_array(shapes[0][:axis] + (total,) + shapes[0][axis + 1:], arrays[0].dtype)
    rows = out.reshape(outer, total * inner)
    k, threads = _copy_kernels(out.dtype)
    first = 0
    for array, shape in zip(arrays, shapes):
        width = shape[axis] * inner
        _launch(k.copy_columns, outer * width, threads)(array.reshape(outer, width), 0, rows, first, width)
        first += width
    return out


def split_axis(a, sizes, axis):
    a = local(a)
    shape = tuple(a.shape)
    outer, inner = _around(shape, axis)
    rows = a.reshape(outer, shape[axis] * inner)
    k, threads = _copy_kernels(a.dtype)
    parts, first = [], 0
    for size in sizes:
        part = device_array(shape[:axis] + (size,) + shape[axis + 1:], a.dtype)
        _launch(k.copy_columns, outer * size * inner, threads)(rows, first, part.reshape(outer, size * inner), 0,
                                                               size * inner)
        parts.append(part)
        first += size * inner
    return parts


def mask_ones(shape):
    out = device_array(shape, np.bool_)
    if out.size:
        driver.device_memset(out, 1, out.nbytes)  # True is the byte 1
    return out


def logical_or(a, b):
    a, b = local(a), local(b)
    out = device_array(a.shape, np.bool_)
    k, threads = _layer_kernels(np.bool_)
    _launch(k.logical_or, a.size, threads)(a.reshape(-1), b.reshape(-1), out.reshape(-1))
    return out


def where_mask(x, mask, value):
    x, mask = local(x), local(mask)
    out = device_array(x.shape, x.dtype)
    k, threads = _layer_kernels(x.dtype)
    _launch(k.where_mask, x.size, threads)(x.reshape(-1), mask.reshape(-1), x.size // max(mask.size, 1),
                                           x.dtype.type(value), out.reshape(-1))
    return out


def _mask_or_dummy(mask):
    return (read_only_zeros((1, 1), np.bool_), False) if mask is None else (local(mask), True)


def sum_steps(x, mask=None, mean=False):
    B, T, F = x.shape
    mask, use_mask = _mask_or_dummy(mask)
    out = device_array((B, F), x.dtype)
    k, threads = _layer_kernels(x.dtype)
    _launch(k.sum_steps, B * F, threads)(x, mask, use_mask, mean, out)
    return out


def spread_steps(a, timesteps, mask=None, mean=False):
    a = local(a)
    B, F = a.shape
    mask, use_mask = _mask_or_dummy(mask)
    k, threads = _layer_kernels(a.dtype)
    use_counts = mean and use_mask
    counts = device_array(B, a.dtype) if use_counts else read_only_zeros((1,), a.dtype)
    if use_counts:
        _launch(k.step_counts, B, threads)(mask, counts)
    out = device_array((B, timesteps, F), a.dtype)
    _launch(k.spread_steps, out.size, threads)(a, mask, use_mask, counts, use_counts,
                                               a.dtype.type(timesteps if mean else 1), out)
    return out


def layer_norm(x, gamma, beta, epsilon):
    rows, width = x.shape
    dummy = read_only_zeros((1,), x.dtype)
    y = device_array((rows, width), x.dtype)
    normalized = device_array((rows, width), x.dtype)
    inv_std = device_array(rows, x.dtype)
    k, threads = _layer_kernels(x.dtype)
    _launch(k.layer_norm_rows, rows, threads)(
        x, dummy if gamma is None else local(gamma), gamma is not None, dummy if beta is None else local(beta),
        beta is not None, x.dtype.type(epsilon), y, normalized, inv_std)
    return y, normalized, inv_std


def layer_norm_gradient(dy, normalized, inv_std, gamma):
    dy = local(dy)
    dx = device_array(normalized.shape, normalized.dtype)
    k, threads = _layer_kernels(dx.dtype)
    _launch(k.layer_norm_gradient_rows, dx.shape[0], threads)(
        dy, normalized, inv_std, read_only_zeros((1,), dx.dtype) if gamma is None else local(gamma),
        gamma is not None, dx)
    return dx


def sequence_windows(x, kernel_size, stride, dilation, pad_left, pad_right):
    B, T, C = x.shape
    steps_out = (T + pad_left + pad_right - (kernel_size - 1) * dilation - 1) // stride + 1
    windows = device_array((B * steps_out, kernel_size * C), x.dtype)
    k, threads = _layer_kernels(x.dtype)
    _launch(k.sequence_windows, windows.size, threads)(x, kernel_size, stride, dilation, pad_left, windows)
    return windows


def sequence_windows_gradient(d_windows, input_shape, kernel_size, stride, dilation, pad_left, pad_right):
    d_windows = local(d_windows)
    dx = device_array(tuple(input_shape), d_windows.dtype)
    k, threads = _layer_kernels(dx.dtype)
    _launch(k.sequence_windows_gradient, dx.size, threads)(d_windows, kernel_size, stride, dilation, pad_left, dx)
    return dx
