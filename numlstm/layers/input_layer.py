"""Input: the start of a model graph, a symbolic tensor of a declared sample shape."""

import numpy as np

from .. import config
from .base import Layer
from .symbolic import Node, SymbolicTensor


class InputLayer(Layer):
    """The layer behind :func:`Input`: it holds the input's shape and passes data through.

    Parameters
    ----------
    shape : tuple
        The shape of one sample (no batch axis); ``None`` where any size goes.
    batch_size : int, optional
        A fixed batch size (stateful models need one).
    dtype : str or numpy dtype, optional
        The data's dtype; ``floatx()`` by default. Integer dtypes suit token ids.
    name : str, optional
    """

    def __init__(self, shape, batch_size=None, dtype=None, name=None):
        if isinstance(shape, (int, np.integer)):
            shape = (shape,)
        try:
            shape = tuple(shape)
        except TypeError:
            raise TypeError(f"Input shape must be a tuple of positive ints or None, got {shape!r}") from None
        if not all(dim is None or (isinstance(dim, (int, np.integer)) and not isinstance(dim, bool) and dim > 0)
                   for dim in shape):
            raise ValueError(f"Input shape must hold positive ints or None, got {shape}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                       or batch_size < 1):
            raise ValueError(f"Input batch_size must be a positive int or None, got {batch_size!r}")
        data_dtype = np.dtype(dtype or config.floatx())
        if data_dtype.kind not in "fiub":
            raise TypeError(f"Input dtype must be numeric, got {data_dtype}")
        # The layer's own dtype (for Layer's checks) is float; the tensor carries the data's dtype.
        super().__init__(name=name, dtype=data_dtype if data_dtype.kind == "f" else None)
        self.input_shape = tuple(None if dim is None else int(dim) for dim in shape)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.data_dtype = data_dtype
        self.built = True
        tensor = SymbolicTensor((self.batch_size,) + self.input_shape, data_dtype, self, 0, 0, self.name)
        self.inbound_nodes.append(Node(self, [], None, None, None, [tensor]))

    def get_config(self):
        return {"shape": list(self.input_shape), "batch_size": self.batch_size, "dtype": self.data_dtype.name,
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, "shape": tuple(config["shape"])})

    def compute_output_shape(self, input_shape):
        return (self.batch_size,) + self.input_shape

    def forward(self, x, mask=None, training=False, initial_state=None):
        return x, None


def Input(shape, batch_size=None, dtype=None, name=None):
    """A symbolic tensor that starts a model graph (Keras' ``keras.Input``).

    Parameters
    ----------
    shape : tuple
        The shape of one sample, without the batch axis, e.g. ``(timesteps, features)``;
        ``None`` where any size goes (``(None, 3)``: sequences of any length).
    batch_size : int, optional
        A fixed batch size; stateful recurrent models need one.
    dtype : str or numpy dtype, optional
        ``floatx()`` (float32) by default; ``"int32"`` for token ids.
    name : str, optional
        The input's name; dict inputs to ``fit``/``predict`` are keyed by it.

    Returns
    -------
    SymbolicTensor
        Of shape ``(batch_size,) + shape``.

    Examples
    --------
    >>> import numlstm
    >>> inputs = numlstm.Input((24, 3))
    >>> outputs = numlstm.layers.Dense(1)(numlstm.layers.LSTM(16)(inputs))
    >>> model = numlstm.Model(inputs, outputs)
    """
    return InputLayer(shape, batch_size=batch_size, dtype=dtype, name=name).output
