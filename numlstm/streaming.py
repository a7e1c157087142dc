"""Streaming inference: feed a model one timestep at a time, its LSTM states kept between calls.

For example::

    stream = numlstm.streaming.Stream(model, batch_size=1)
    for sample in sensor:                     # sample: (batch, features)
        y = stream.step(sample)

A chain of LSTM layers (forward direction) with per-timestep layers around
them (Dense, Dropout in inference, an Embedding first), as a Sequential or
a functional model, streams: ``step`` gives what the model would output
at that timestep for the sequence so far (an LSTM with
``return_sequences=False`` included: its output is its latest state).
``reset()`` starts new sequences and takes the layers' current weights (the
stream packs them once; after training, call ``reset()``). A stream runs on
the CPU: it brings a model whose weights are on the GPU back to the host.
"""

import numpy as np

from .kernels.cpu.step import STEP
from .kernels.cpu.packed_gemm import pack_panels, panels_shape
from .layers import LSTM, Bidirectional, Dense, Dropout, Embedding


class Stream:
    """A model fed one timestep at a time, its LSTM states kept between steps.

    Parameters
    ----------
    model : Sequential or Model
        Built; a chain of forward LSTM layers and per-timestep layers (see the module's docstring).
    batch_size : int
        The number of sequences streamed side by side.

    Examples
    --------
    >>> import numpy as np, numlstm
    >>> inputs = numlstm.Input((None, 2))
    >>> model = numlstm.Model(inputs, numlstm.layers.Dense(1)(numlstm.layers.LSTM(4)(inputs)))
    >>> stream = numlstm.streaming.Stream(model)
    >>> stream.step(np.zeros((1, 2), np.float32)).shape
    (1, 1)
    """

    def __init__(self, model, batch_size=1):
        if not model.built:
            raise ValueError(f"{model.name}: build the model before streaming it")
        self.model = model
        self.batch_size = int(batch_size)
        self._plan = []
        chain = _chain(model)
        for layer in chain:
            if isinstance(layer, Bidirectional) or (isinstance(layer, LSTM) and layer.go_backwards):
                raise ValueError(f"{layer.name}: a layer that reads the sequence backwards cannot stream")
            if isinstance(layer, Embedding) and (layer is not chain[0] or layer.mask_zero):
                raise ValueError(f"{layer.name}: streaming takes an Embedding only as the first layer "
                                 "and without mask_zero")
            if not isinstance(layer, (LSTM, Dense, Dropout, Embedding)):
                raise ValueError(f"{layer.name}: streaming supports LSTM, Dense, Dropout and Embedding layers, "
                                 f"not {type(layer).__name__}")
            self._plan.append(layer)
        first = chain[0]
        self._embeddings = first.embeddings if isinstance(first, Embedding) else None
        if self._embeddings is None:
            self._shape = (self.batch_size, first.kernel.shape[0])
            self._dtype = first.dtype
        else:  # one token index per sequence
            self._shape = (self.batch_size,)
            self._dtype = np.dtype(np.int64)
        self.reset()

    def reset(self):
        """Zero every LSTM state (start new sequences) and take the layers' current weights."""
        self.model.weights_to_host()  # the panels below are packed from the layers' host arrays
        if self._embeddings is not None:
            self._embeddings = self._plan[0].embeddings
        # A precomputed call list: per-step Python work decides the latency.
        self._calls = []
        for layer in self._plan:
            if isinstance(layer, LSTM):
                B, H = self.batch_size, layer.units
                F, GH = layer.kernel.shape
                kernel_panels = np.empty(panels_shape(F, GH, layer.dtype), layer.dtype)
                recurrent_panels = np.empty(panels_shape(H, GH, layer.dtype), layer.dtype)
                pack_panels(layer.kernel, False, kernel_panels, 0)
                pack_panels(layer.recurrent_kernel, False, recurrent_panels, 0)
                width = recurrent_panels.shape[0] * recurrent_panels.shape[2]
                state = np.zeros((2, B, H), layer.dtype)
                scratch = np.zeros((2, B, width), layer.dtype)
                bias = layer.bias if layer.use_bias else np.zeros(layer.gates * H, layer.dtype)
                peephole = layer.peephole_weights if layer.peephole else np.zeros((layer.gates - 1) * H, layer.dtype)
                bias_and_peephole = np.concatenate([bias, peephole])
                arguments = (kernel_panels, recurrent_panels, bias_and_peephole, state, scratch)
                self._calls.append((STEP[layer.cifg], arguments, state[0]))
            elif isinstance(layer, Dense):
                self._calls.append((layer, None, None))
        self._single_lstm = self._calls[0] if len(self._calls) == 1 and self._calls[0][1] is not None else None

    def step(self, x):
        """The model's output for one more timestep of every sequence (a new array).

        Parameters
        ----------
        x : array (batch, features), or (batch,) token indices for a model that starts with an Embedding
        """
        if self._embeddings is not None:  # indices are checked every time: numpy would wrap negative ones
            x = self._embeddings[self._checked(x)]
        elif type(x) is not np.ndarray or x.shape != self._shape or x.dtype != self._dtype or not x.flags.c_contiguous:
            x = self._checked(x)
        if self._single_lstm is not None:  # the common case, without the loop (a tenth of the step)
            kernel, (kernel_panels, recurrent_panels, bias_and_peephole, state, scratch), h = self._single_lstm
            kernel(x, kernel_panels, recurrent_panels, bias_and_peephole, state, scratch)
            return h.copy()
        for function, arguments, state in self._calls:
            if arguments is None:
                x = function.forward(x)[0]
            else:
                function(x, *arguments)
                x = state
        return x.copy()

    def _checked(self, x):
        array = np.asarray(x)
        if self._embeddings is not None:
            if array.dtype.kind not in "iu":
                raise TypeError(f"x must hold integer token indices, got dtype {array.dtype}")
            if array.shape != self._shape:
                raise ValueError(f"x must have shape (batch_size,) = {self._shape}, got {array.shape}")
            if array.size and (array.min() < 0 or array.max() >= len(self._embeddings)):
                raise ValueError(f"x must hold indices in [0, {len(self._embeddings)}), "
                                 f"got {array.min()}..{array.max()}")
            return np.ascontiguousarray(array, dtype=np.int64)
        if array.dtype.kind not in "fiu":
            raise TypeError(f"x must be a numeric array, got dtype {array.dtype}")
        if array.shape != self._shape:
            raise ValueError(f"x must have shape (batch_size, features) = {self._shape}, got {array.shape}")
        array = np.ascontiguousarray(array, dtype=self._dtype)
        if not np.isfinite(array).all():
            raise ValueError("x contains NaN or infinity")
        return array


def _chain(model):
    """The layers of ``model`` in order, if its graph is one input through a chain of layers to one output
    (every Sequential; a functional model built as a chain); else ValueError."""
    nodes = getattr(model, "_nodes", None) or []
    if len(model.inputs or []) != 1 or len(model.outputs or []) != 1:
        raise ValueError(f"{model.name}: streaming takes a model with one input and one output")
    previous = model.inputs[0]
    for node in nodes:
        if node.inputs is not previous or node.initial_state or node.mask is not None or len(node.outputs) != 1:
            raise ValueError(f"{model.name}: streaming takes a chain of layers, each reading the one before; "
                             f"{node.layer.name} does not")
        previous = node.outputs[0]
    layers = [node.layer for node in nodes]
    if len(set(map(id, layers))) != len(layers):
        raise ValueError(f"{model.name}: streaming takes each layer once; a shared layer cannot stream")
    return layers
