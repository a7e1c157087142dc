"""The numpy backend: the reference meaning of every backend function (``cuda.py`` is its twin).

Functions may return views of their arguments where numpy does; callers
never write into what they did not allocate.
"""

import functools

import numpy as np

from ..kernels import optimizer_updates

name = "cpu"


def is_device_array(array):
    """True for a CUDA device array (real or simulated), without importing numba.cuda."""
    # ``type(array) is np.ndarray`` first: for an ndarray, the getattr raises and catches an AttributeError,
    # 1 us of every call.
    return type(array) is not np.ndarray and bool(getattr(array, "__cuda_ndarray__", False))


def holds(array):
    return not is_device_array(array)


def from_host(array):
    return array


def local(array):
    """``array`` as an array of this backend (a host copy of a device array)."""
    return array.copy_to_host() if is_device_array(array) else array


def to_host(array):
    return array


class Ready:
    """A host array handed over by ``result()``, as the CUDA backend's downloads are."""

    __slots__ = ("_array",)

    def __init__(self, array):
        self._array = array

    def result(self):
        return self._array


def to_host_async(array):
    """What ``result()`` turns into :func:`to_host` of ``array``; on the host, at once."""
    return Ready(array)


def asarray(array, dtype):
    return np.asarray(local(array), dtype)


def zeros(shape, dtype):
    return np.zeros(shape, dtype)


@functools.lru_cache(maxsize=64)
def read_only_zeros(shape, dtype):
    """A zero array for inputs that nothing writes, shared per shape and dtype as the GPU backend's.

    The CPU kernels read such inputs through ``read_only`` (a write to one does not compile). Allocating the
    five that a pass without states, peepholes or masks passes cost a tiny forward pass (B=1, T=100, H=32)
    2-3 us of its 75.
    """
    return np.zeros(shape, dtype)


def zeros_like(array):
    return np.zeros_like(array)


def full_like(array, value):
    return np.full_like(array, value)


def copy(array):
    return array.copy()


def assign(target, source):
    target[...] = local(source)


# -- arithmetic ---------------------------------------------------------------------
def add(a, b):
    return a + b


def multiply(a, b):
    """a * b; ``b`` has a's shape or, for ``a`` (B, T, ...), (B, 1, ...): one frame per sequence."""
    return a * b


def scale(a, factor):
    return a * factor


def matmul(a, b, transpose_a=False, transpose_b=False):
    """op(a) @ op(b) for 2-D arrays."""
    return (a.T if transpose_a else a) @ (b.T if transpose_b else b)


def add_bias(rows, bias):
    """rows += bias (in place, every row)."""
    rows += bias


def column_sums(rows):
    return rows.sum(axis=0)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# name: (function of z, gradient wrt z given y = f(z) and dy)
_ACTIVATIONS = {
    "linear": (lambda z: z, lambda y, dy: dy),
    "relu": (lambda z: np.maximum(z, 0), lambda y, dy: dy * (y > 0)),
    "tanh": (np.tanh, lambda y, dy: dy * (1 - y * y)),
    "sigmoid": (lambda z: 0.5 * np.tanh(0.5 * z) + 0.5, lambda y, dy: dy * y * (1 - y)),
    "softmax": (_softmax, lambda y, dy: y * (dy - (dy * y).sum(axis=-1, keepdims=True))),
}
ACTIVATIONS = tuple(_ACTIVATIONS)


def activate(name, z):
    """f(z) for an activation of ``ACTIVATIONS``; may overwrite ``z``."""
    return _ACTIVATIONS[name][0](z)


def activation_gradient(name, y, dy):
    """dy * f'(z) from y = f(z)."""
    return _ACTIVATIONS[name][1](y, dy)


# -- sequences ------------------------------------------------------------------------
def reverse_time(a):
    """(B, T, H) -> the same with the time axis reversed."""
    return a[:, ::-1]


def time_step(a, t):
    """a[:, t] of a (B, T, H) array, C-contiguous."""
    return np.ascontiguousarray(a[:, t])


def concat_last(a, b):
    return np.concatenate([a, b], axis=-1)


def split_last(a, width):
    return a[..., :width], a[..., width:]


def flatten(arrays, dtype):
    """All arrays, flattened and concatenated into one new 1-D array of ``dtype``."""
    return np.concatenate([a.reshape(-1) for a in arrays]).astype(dtype, copy=False)


def steps_differing(x, value):
    """(B, T) bool: whether any feature of x[b, t] differs from ``value`` (Masking)."""
    return np.any(x != value, axis=-1)


def not_equal(a, value):
    return a != value


def zero_masked_steps(x, mask):
    """x with x[b, t] zeroed where mask[b, t] is False."""
    return x * mask[..., None].astype(x.dtype)


def gather_rows(table, ids):
    """table[ids] for integer ids of any shape."""
    return table[ids]


def group_rows(ids):
    """What :func:`scatter_add_rows` needs to add rows by id, from host ids: here the flat ids."""
    return np.asarray(ids).reshape(-1)


def scatter_add_rows(shape, dtype, groups, rows):
    """A zero (V, D) array with rows[r] added at id r of ``groups`` (np.add.at)."""
    table = np.zeros(shape, dtype)
    np.add.at(table, groups, rows.reshape(-1, shape[1]))
    return table


# -- losses ---------------------------------------------------------------------------
def loss_targets(loss, y_true, shape, dtype):
    """``y_true`` as :func:`loss_value_and_gradient` takes it: on the host it needs no preparing."""
    return y_true


def loss_value_and_gradient(loss, y_true, y_pred, sample_weight=None, mask=None):
    """(mean loss as a float, gradient wrt y_pred on this backend); y_true is host data.

    ``sample_weight`` (host data, optional) weights the samples or positions as in Keras 3 (see
    :mod:`numlstm.losses`); without it the loss is called as ``value_and_gradient(y_true, y_pred)``, so
    custom losses written before sample weights keep working. ``mask`` (host data) goes to a loss that
    reads the output's mask (``loss.reads_output_mask``).
    """
    if loss.reads_output_mask:
        return loss.value_and_gradient(y_true, y_pred, sample_weight=sample_weight, mask=mask)
    if sample_weight is None:
        return loss.value_and_gradient(y_true, y_pred)
    return loss.value_and_gradient(y_true, y_pred, sample_weight=sample_weight)


# -- optimizers -------------------------------------------------------------------------
sgd_update = optimizer_updates.sgd_update
adam_update = optimizer_updates.adam_update
rmsprop_update = optimizer_updates.rmsprop_update
adagrad_update = optimizer_updates.adagrad_update
clip_segment_norms = optimizer_updates.clip_segment_norms


def clip_values(a, limit):
    np.clip(a, -limit, limit, out=a)


# -- graph layers (merging, reshaping, pooling, normalization, conv1d) ------------------
def concat_axis(arrays, axis):
    """The arrays joined along ``axis`` (non-negative; bool masks too)."""
    return np.concatenate([local(a) for a in arrays], axis=axis)


def split_axis(a, sizes, axis):
    """``a`` cut along ``axis`` (non-negative) into consecutive parts of ``sizes``: a list."""
    return np.split(a, np.cumsum(sizes)[:-1], axis=axis)


def mask_ones(shape):
    """A bool array of ``shape``, all True (the mask of an input that has none)."""
    return np.ones(shape, bool)


def logical_or(a, b):
    return np.logical_or(local(a), local(b))


def where_mask(x, mask, value):
    """``x`` where ``mask`` (of shape x.shape[:mask.ndim], over x's trailing axes), else ``value``."""
    mask = local(mask)
    return np.where(mask.reshape(mask.shape + (1,) * (x.ndim - mask.ndim)), x, x.dtype.type(value))


def sum_steps(x, mask=None, mean=False):
    """(B, T, F) -> (B, F): the sum over the steps that ``mask`` (B, T) keeps (every step without one),
    divided by their count with ``mean`` (0 / 0, NaN, where none is kept, as Keras' GlobalAveragePooling1D)."""
    if mask is None:
        total = x.sum(axis=1)
        return total / x.dtype.type(x.shape[1]) if mean else total
    mask = local(mask)
    total = np.where(mask[..., None], x, x.dtype.type(0)).sum(axis=1)
    if not mean:
        return total
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / mask.sum(axis=1, keepdims=True).astype(x.dtype)


def spread_steps(a, timesteps, mask=None, mean=False):
    """(B, F) -> (B, T, F), the transpose of :func:`sum_steps`: a[b] at every step that ``mask`` keeps
    (every step without one), zero elsewhere; divided by the count of those steps with ``mean``."""
    a = local(a)
    if mean:
        count = (a.dtype.type(timesteps) if mask is None
                 else local(mask).sum(axis=1, keepdims=True).astype(a.dtype))
        with np.errstate(invalid="ignore", divide="ignore"):
            a = a / count
    out = np.repeat(a[:, None, :], timesteps, axis=1)
    return out if mask is None else where_mask(out, mask, 0)


def layer_norm(x, gamma, beta, epsilon):
    """Each row of the 2-D ``x`` normalised: (y, normalized, inv_std) with normalized = (x - mean) *
    inv_std, inv_std = 1 / sqrt(variance + epsilon) (one per row), y = normalized * gamma + beta
    (``gamma``/``beta`` None: left out)."""
    centered = x - x.mean(axis=1, keepdims=True)
    inv_std = 1 / np.sqrt((centered * centered).mean(axis=1) + x.dtype.type(epsilon))
    normalized = centered * inv_std[:, None]
    y = normalized * gamma if gamma is not None else normalized.copy()
    if beta is not None:
        y += beta
    return y, normalized, inv_std


def layer_norm_gradient(dy, normalized, inv_std, gamma):
    """The gradient of :func:`layer_norm`'s y wrt x: inv_std * (g - mean(g) - normalized * mean(g *
    normalized)) per row, g = dy * gamma."""
    g = dy * gamma if gamma is not None else dy
    return inv_std[:, None] * (g - g.mean(axis=1, keepdims=True)
                               - normalized * (g * normalized).mean(axis=1, keepdims=True))


def _window_steps(steps, kernel_size, stride, dilation, pad_left, pad_right):
    steps_out = (steps + pad_left + pad_right - (kernel_size - 1) * dilation - 1) // stride + 1
    return np.arange(steps_out)[:, None] * stride + np.arange(kernel_size)[None, :] * dilation


def sequence_windows(x, kernel_size, stride, dilation, pad_left, pad_right):
    """The windows a 1-D convolution reads, as rows: (B, T, C) -> (B * T_out, kernel_size * C), row
    b * T_out + o holding x[b, o * stride + j * dilation - pad_left] for each tap j (zero in the padding)."""
    B, T, C = x.shape
    padded = np.pad(x, ((0, 0), (pad_left, pad_right), (0, 0)))
    steps = _window_steps(T, kernel_size, stride, dilation, pad_left, pad_right)
    return padded[:, steps].reshape(-1, kernel_size * C)


def sequence_windows_gradient(d_windows, input_shape, kernel_size, stride, dilation, pad_left, pad_right):
    """The transpose of :func:`sequence_windows`: the gradient wrt x (``input_shape``) of its rows."""
    B, T, C = input_shape
    steps = _window_steps(T, kernel_size, stride, dilation, pad_left, pad_right)
    padded = np.zeros((B, T + pad_left + pad_right, C), d_windows.dtype)
    np.add.at(padded, (slice(None), steps), d_windows.reshape(B, steps.shape[0], kernel_size, C))
    return np.ascontiguousarray(padded[:, pad_left:pad_left + T])
