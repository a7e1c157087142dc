"""Data in a model's structure: one array, a list of arrays or a dict keyed by name, as Keras takes them.

A model keeps its inputs and outputs as lists; these functions turn what a
user passes (``x``, ``y``, ``sample_weight``, ``loss``, ``metrics``,
``loss_weights``) into lists aligned with them, or raise a ValueError that
names the argument and the structure expected.
"""

import numpy as np

from ..layers.base import check_finite_data, numeric_array


class Structure:
    """How a model's inputs or outputs were given: ``kind`` "single", "list" or "dict", and their ``names``."""

    def __init__(self, given, names):
        if isinstance(given, dict):
            self.kind, self.names = "dict", list(given)
        elif isinstance(given, (list, tuple)):
            self.kind, self.names = "list", list(names)
        else:
            self.kind, self.names = "single", list(names)

    def __len__(self):
        return len(self.names)

    def describe(self):
        if self.kind == "dict":
            return f"a dict with keys {self.names}"
        if self.kind == "list" or len(self.names) > 1:
            return f"a list of {len(self.names)} ({', '.join(self.names)})"
        return "one array"

    def aligned(self, value, argument, allow_missing=False):
        """``value`` as a list aligned with the names: from one item (for one name), a list or a dict."""
        if isinstance(value, dict):
            unknown = [key for key in value if key not in self.names]
            if unknown:
                raise ValueError(f"{argument} has keys {unknown} that name no model {self._role}; expected keys "
                                 f"among {self.names}")
            missing = [name for name in self.names if name not in value]
            if missing and not allow_missing:
                raise ValueError(f"{argument} lacks the keys {missing}; expected {self.describe()}")
            return [value.get(name) for name in self.names]
        if isinstance(value, (list, tuple)) and len(self.names) > 1:
            if len(value) != len(self.names):
                raise ValueError(f"{argument} holds {len(value)} items; the model has {len(self.names)} "
                                 f"{self._role}s ({', '.join(self.names)})")
            return list(value)
        if len(self.names) > 1:
            raise ValueError(f"{argument} must be {self.describe()}, one per model {self._role}; got one "
                             f"{type(value).__name__}")
        if isinstance(value, (list, tuple)) and len(value) == 1 and self.kind != "single":
            return [value[0]]
        return [value]

    def restore(self, items):
        """``items`` (a list) back in this structure: one item, a list, or a dict."""
        if self.kind == "dict":
            return dict(zip(self.names, items))
        if self.kind == "list":
            return list(items)
        return items[0]

    _role = "input"


class OutputStructure(Structure):
    _role = "output"


def array_kind(owner, array):
    """What a call remembers of an ``array`` that passed every check for ``owner`` (the model's inputs, or its
    losses), so that an array of the same kind needs only its values scanned: see :func:`same_kind`."""
    return owner, array.shape, array.dtype


def same_kind(kind, owner, array):
    """Whether ``array`` is a numpy array of the ``kind`` (from :func:`array_kind`, or None) recorded for
    ``owner``, the same object (a recompiled or rebuilt model has new losses and inputs)."""
    return (type(array) is np.ndarray and kind is not None and kind[0] is owner and kind[1] == array.shape
            and kind[2] == array.dtype)


def as_arrays(values, argument, names):
    """Each value as a checked numpy array (a batch axis, finite numbers), all with one number of samples."""
    arrays = []
    for value, name in zip(values, names):
        where = argument if len(names) == 1 else f"{argument}[{name!r}]"
        array = numeric_array(value, where)
        if array.ndim == 0:
            raise ValueError(f"{where} must have a batch axis, got a scalar")
        if len(array) == 0:
            raise ValueError(f"{where} holds no samples (its first axis has length 0)")
        check_finite_data(array, where)
        arrays.append(array)
    counts = {len(a) for a in arrays}
    if len(counts) > 1:
        raise ValueError(f"every array of {argument} must hold the same number of samples, got "
                         f"{[len(a) for a in arrays]}")
    return arrays


def sample_weights(value, samples, argument="sample_weight"):
    """``value`` as a float64 array of ``samples`` rows (or more axes, as Keras allows), checked."""
    array = numeric_array(value, argument).astype(np.float64, copy=False)
    if array.ndim == 0 or len(array) != samples:
        raise ValueError(f"{argument} must hold one weight per sample ({samples}), got shape {array.shape}")
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"{argument} must hold finite, non-negative weights")
    return array


def class_weights(class_weight, y, samples):
    """Keras' ``class_weight``: each sample weighted by its class's weight, 1 for a class the dict omits.

    Labels as Keras reads them: one-hot rows by their argmax, ``(N, 1)`` squeezed, values rounded.
    """
    if not isinstance(class_weight, dict) or not class_weight:
        raise TypeError(f"class_weight must be a dict mapping class indices to weights, got {class_weight!r}")
    labels = np.asarray(y)
    if labels.ndim > 1:
        labels = labels.argmax(axis=-1) if labels.shape[-1] != 1 else labels[..., 0]
    if labels.ndim != 1:
        raise ValueError("class_weight needs one label per sample (targets of shape (N,), (N, 1) or one-hot "
                         f"(N, classes)); got targets of shape {np.shape(y)}")
    labels = np.round(labels).astype(np.int64)
    table = {int(key): float(value) for key, value in class_weight.items()}
    return np.array([table.get(label, 1.0) for label in labels.tolist()], np.float64).reshape(samples)
