"""Embedding: integer token ids (batch, timesteps) -> vectors (batch, timesteps, output_dim)."""

import numpy as np

from .. import backend, initializers
from .base import Backward, Layer
from .symbolic import is_symbolic


class Embedding(Layer):
    """Turns integer token ids into dense vectors: ``y[b, t] = embeddings[x[b, t]]``.

    Input (batch, timesteps) of ids in [0, ``input_dim``); output (batch,
    timesteps, output_dim). One weight: ``embeddings`` (input_dim,
    output_dim). Its input holds ids, which have no gradient: it comes
    first in a model (after ``Input``).

    Parameters
    ----------
    input_dim : int
        The vocabulary's size: the largest id plus one.
    output_dim : int
        The size of each vector.
    embeddings_initializer : str or initializer, optional
        Keras' default, ``RandomUniform(-0.05, 0.05)``, when omitted.
    mask_zero : bool, default False
        Id 0 is padding: the layers after it get the mask ``x != 0``
        (so id 0 cannot be a token, and ``input_dim`` counts it).
    name : str, optional
    dtype : str or numpy dtype, optional
        The vectors' dtype: float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> embedding = layers.Embedding(100, 8, mask_zero=True)
    >>> ids = np.array([[5, 9, 0, 0]])
    >>> embedding(ids).shape
    (1, 4, 8)
    >>> embedding.compute_mask(ids).tolist()
    [[True, True, False, False]]
    """

    # It checks its ids on the host: a model hands it its batch as host data instead of uploading the batch
    # for it to download (a download waits for the device's queued work, the last step's backward pass).
    takes_host_input = True

    def __init__(self, input_dim, output_dim, embeddings_initializer=None, mask_zero=False, name=None,
                 dtype=None):
        super().__init__(name=name, dtype=dtype)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{self.name}: {arg} must be a positive int, got {value!r}")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        # Keras' default "uniform" is RandomUniform(-0.05, 0.05).
        self.embeddings_initializer = embeddings_initializer or initializers.RandomUniform(-0.05, 0.05)
        self.mask_zero = mask_zero
        self._looked_up = None  # (the ids forward was given, the int64 ids it looked up): compute_mask's

    def build(self, input_shape):
        self.add_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer)
        self.built = True

    def get_config(self):
        return {"input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": self.embeddings_initializer, "mask_zero": self.mask_zero,
                "name": self.name, "dtype": self.dtype.name}

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def _ops(self, x):
        """Where the lookup runs: with the ids when they are on the GPU, else with the table (which a model
        keeps on its device)."""
        on_device = backend.is_device_array(x) or not self.built
        return backend.array_ops(x if on_device else self.embeddings)

    def __call__(self, x, mask=None, training=None, initial_state=None):
        output = super().__call__(x, mask=mask, training=training, initial_state=initial_state)
        # Called on host ids it answers on the host, as the other layers do, wherever a model left its table.
        if is_symbolic(output) or backend.is_device_array(x):
            return output
        return backend.to_host(output)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        looked_up = self._looked_up
        if looked_up is not None and looked_up[0] is inputs:  # the ids forward has just put where it looked up
            ids = looked_up[1]
            return backend.array_ops(ids).not_equal(ids, 0)
        if not backend.is_device_array(inputs):
            inputs = np.asarray(inputs)
        ops = self._ops(inputs)
        return ops.not_equal(ops.local(inputs), 0)

    def forward(self, x, mask=None, training=False, initial_state=None):
        ops = self._ops(x)
        ids = np.asarray(backend.to_host(x))  # checked on the host: a few integers per batch
        integral_floats = ids.dtype.kind == "f" and np.isfinite(ids).all() and np.all(ids == np.round(ids))
        if ids.dtype.kind not in "iu" and not integral_floats:
            raise TypeError(f"{self.name}: x must hold integer token ids, got dtype {ids.dtype}"
                            + (" with non-integral or non-finite values" if ids.dtype.kind == "f" else ""))
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):  # checked before any cast can wrap
            raise ValueError(f"{self.name}: token ids must be in [0, {self.input_dim}), "
                             f"got values from {ids.min()} to {ids.max()}")
        host_ids = ids
        if not (backend.is_device_array(x) and x.dtype == np.int64):
            ids = ops.from_host(ids.astype(np.int64, copy=False))
        else:
            ids = x
        self._looked_up = (x, ids) if self.mask_zero else None
        if not self.built:
            self.build(ids.shape)
        # The gradient's rows grouped by id, on the host, now: the backward pass then has nothing to upload.
        groups = ops.group_rows(host_ids) if training else None
        return ops.gather_rows(ops.local(self.embeddings), ids), (host_ids, groups)

    def backward(self, cache, d_output, input_gradient=True):
        host_ids, groups = cache
        ops = backend.array_ops(d_output)
        if groups is None:
            groups = ops.group_rows(host_ids)
        d_embeddings = ops.scatter_add_rows(self.embeddings.shape, self.dtype, groups,
                                            ops.asarray(d_output, self.dtype))
        return Backward(None, [d_embeddings])
