"""The numpy backend: the reference meaning of every backend function (``cuda.py`` is its twin).

Functions may return views of their arguments where numpy does; callers
never write into what they did not allocate.
"""

import numpy as np

from ..kernels import optimizer_updates

name = "cpu"


def holds(array):
    return not getattr(array, "__cuda_ndarray__", False)


def from_host(array):
    return array


def local(array):
    """``array`` as an array of this backend (a host copy of a device array)."""
    return array.copy_to_host() if getattr(array, "__cuda_ndarray__", False) else array


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


def read_only_zeros(shape, dtype):
    """A zero array for inputs that nothing writes (the GPU backend shares one per shape)."""
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
    """a * b; ``b`` has a's shape or, for 3-D ``a`` (B, T, F), (B, 1, F): one row per sequence."""
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


def loss_value_and_gradient(loss, y_true, y_pred):
    """(mean loss as a float, gradient wrt y_pred on this backend); y_true is host data."""
    return loss.value_and_gradient(y_true, y_pred)


# -- optimizers -------------------------------------------------------------------------
sgd_update = optimizer_updates.sgd_update
adam_update = optimizer_updates.adam_update
rmsprop_update = optimizer_updates.rmsprop_update
adagrad_update = optimizer_updates.adagrad_update
clip_segment_norms = optimizer_updates.clip_segment_norms


def clip_values(a, limit):
    np.clip(a, -limit, limit, out=a)


