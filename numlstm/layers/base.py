"""The Layer base class: weights in Keras order, inference, and a forward/backward pair for training."""

import itertools
import re
import threading
from typing import NamedTuple

import numpy as np

from .. import backend, config, dispatch, initializers
from ..kernels.checks import count_non_finite
from .symbolic import any_symbolic, call_symbolically, flatten

_counters = {}
_COUNTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # native byte order: what the compiled check reads
# How many times any layer's weights have been created or moved to other storage: a model that bound its layers'
# weights when the count stood where it stands now knows that no other model has taken them since, without
# comparing every weight (``WeightBuffer._place``, on every call).
_weight_rebindings = 0


def weight_rebindings():
    """The count of weight creations and rebindings in this process (see ``_weight_rebindings``)."""
    return _weight_rebindings


class _InferenceState(threading.local):
    active = False  # inside inference_only, on this thread


_inference = _InferenceState()


class inference_only:
    """A context manager: no backward pass follows the forward passes that run inside it, so that a layer may
    keep nothing for one (:func:`backward_follows`), as under ``torch.no_grad()``.

    A model's ``model(x)``, ``predict``, ``evaluate`` and ``test_on_batch`` run their layers inside it, and so
    does a layer called on arrays. The LSTM layer's forward pass then keeps only the states of the step it is
    at, not every step's gates and states.

    Examples
    --------
    >>> from numlstm.layers.base import backward_follows, inference_only
    >>> with inference_only():
    ...     backward_follows()
    False
    >>> backward_follows()
    True
    """

    __slots__ = ("_before",)

    def __enter__(self):
        self._before = _inference.active
        _inference.active = True
        return self

    def __exit__(self, *exc_info):
        _inference.active = self._before
        return False


def backward_follows():
    """Whether a backward pass may follow the forward passes that run now (this thread): False inside
    :class:`inference_only`."""
    return not _inference.active


def _default_name(layer):
    # Keras' snake case: Conv1D -> conv1d, GlobalAveragePooling1D -> global_average_pooling1d, LSTM -> lstm
    base = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", type(layer).__name__)
    return unique_name(re.sub("([a-z])([A-Z])", r"\1_\2", base).lower())


def unique_name(base):
    """``base``, then ``base_1``, ``base_2``, ... on later calls, as Keras names layers and models."""
    count = _counters.setdefault(base, itertools.count())
    index = next(count)
    return base if index == 0 else f"{base}_{index}"


def numeric_array(value, name):
    """``value`` as a numpy array, or TypeError naming ``name`` if it is not numeric."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    return array


def check_finite_data(array, name):
    """Raise ValueError naming ``name`` and the first index of a NaN or infinity in user data.

    float32 and float64 arrays are counted by a compiled loop (``kernels/checks.py``): every batch of a
    training step checks x and y, and numpy's ``isfinite(...).all()`` cost a tiny model's step 6-8 us an
    array more."""
    if array.dtype.kind != "f":
        return
    if array.dtype in _COUNTED_DTYPES:
        if not count_non_finite(np.ascontiguousarray(array).reshape(-1)):
            return
    elif np.isfinite(array).all():
        return
    index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
    raise ValueError(f"{name} contains NaN or infinity at index {index}")


def _device_of_call(layer, x, *args):
    return "cuda" if any(backend.is_device_array(item) for item in flatten(x)) else dispatch.current_device()


@backend.in_context_of(_device_of_call)
def _forward_in_context(layer, x, mask, training, initial_state):
    """``layer.forward``'s output, inside the context of the device it runs on (``backend.in_context_of``), as a
    model's calls run: the recurrent layers' passes run in it without entering it again. No backward pass
    follows (``inference_only``)."""
    with inference_only():
        return layer.forward(x, mask=mask, training=bool(training), initial_state=initial_state)[0]


class Backward(NamedTuple):
    """What ``Layer.backward`` returns.

    Attributes
    ----------
    d_input : array or list of arrays or None
        The gradient of the loss with respect to the layer's input (a list
        for a layer of several inputs); None when not asked for.
    grads : list of arrays
        The gradients of the weights, aligned one to one with ``get_weights()``.
    d_initial_state : list of arrays, optional
        The gradients of the ``initial_state`` the forward pass was given.
    """

    d_input: np.ndarray
    grads: list  # aligned one to one with ``get_weights()``
    d_initial_state: list | None = None


class Layer:
    """A layer callable on numpy arrays, with Keras' weight layout and order.

    ``layer(x)`` on arrays runs inference; on symbolic tensors (from
    :func:`numlstm.Input`) it records a node of a model graph and returns
    symbolic outputs. Training code calls ``forward`` (returns the output
    and a cache) and then ``backward`` with the gradient of the loss with
    respect to that output.

    ``trainable = False`` (set before ``compile``) freezes the layer's
    weights: the optimizer leaves them alone, as in Keras.

    Parameters
    ----------
    name : str, optional
        Unique within a model. By default the class name in snake case,
        numbered after the first (``lstm``, ``lstm_1``, ...), as Keras.
    dtype : str or numpy dtype, optional
        The dtype of the weights and outputs: ``floatx()`` (float32) by
        default, or float64.
    """

    # Whether ``backward`` takes None for an output nothing used; otherwise the model passes zeros there.
    missing_gradients_allowed = False

    def __init__(self, name=None, dtype=None):
        self.name = name or _default_name(self)
        self.dtype = np.dtype(dtype or config.floatx())
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"{self.name}: dtype must be float32 or float64, got {self.dtype}")
        self.built = False
        self.trainable = True
        self.inbound_nodes = []  # one Node per call on symbolic tensors
        self._weight_names = []
        self._weights = []

    def get_config(self):
        """The constructor arguments that rebuild this layer (initializers as objects)."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        """A new layer from ``get_config()``'s dict (unbuilt: its weights are drawn anew)."""
        return cls(**config)

    # -- weights -------------------------------------------------------------
    def add_weight(self, name, shape, initializer):
        """Create a weight, kept in Keras order and as the attribute ``name``."""
        global _weight_rebindings
        value = np.ascontiguousarray(initializers.get(initializer)(tuple(shape), self.dtype), self.dtype)
        _weight_rebindings += 1
        self._weight_names.append(name)
        self._weights.append(value)
        setattr(self, name, value)
        return value

    def _use_weight_storage(self, views, copy=True):
        """Make the weights live in ``views`` (same shapes; e.g. slices of a model's flat buffer, on any
        device), copying their values there unless ``copy`` is False (the views already hold them)."""
        global _weight_rebindings
        _weight_rebindings += 1
        for i, (name, view) in enumerate(zip(self._weight_names, views)):
            if copy:
                backend.assign(view, self._weights[i])
            self._weights[i] = view
            setattr(self, name, view)

    @property
    def weights(self):
        """The layer's weight arrays themselves (not copies), in Keras order."""
        return list(self._weights)

    @property
    def output(self):
        """The symbolic output of the layer's one call on symbolic tensors (Keras' ``layer.output``)."""
        outputs = self._only_node("output").outputs
        return outputs[0] if len(outputs) == 1 else list(outputs)

    @property
    def input(self):
        """The symbolic input of the layer's one call on symbolic tensors (Keras' ``layer.input``)."""
        return self._only_node("input").inputs

    def _only_node(self, what):
        if len(self.inbound_nodes) != 1:
            raise AttributeError(f"{self.name} has been called {len(self.inbound_nodes)} times on symbolic tensors; "
                                 f"its {what} is defined for exactly one call (read it from the call's result)")
        return self.inbound_nodes[0]

    @property
    def trainable_weights(self):
        """The weights the optimizer updates: all of them, or none when ``trainable`` is False."""
        return self.weights if self.trainable else []

    @property
    def non_trainable_weights(self):
        """The weights the optimizer leaves alone: none, or all of them when ``trainable`` is False."""
        return [] if self.trainable else self.weights

    def get_weights(self):
        """Copies of the weights as numpy arrays, wherever they live."""
        return [backend.host_copy(w) for w in self._weights]

    def set_weights(self, weights):
        """Copy ``weights`` (arrays of the shapes and order of ``get_weights()``) into the layer's weights."""
        weights = list(weights)
        if not self.built:
            raise ValueError(f"{self.name}: build the layer (call it or .build(input_shape)) before set_weights")
        if len(weights) != len(self._weights):
            raise ValueError(f"{self.name} expects {len(self._weights)} weight arrays "
                             f"({', '.join(self._weight_names)}), got {len(weights)}")
        for i, (name, current, new) in enumerate(zip(self._weight_names, self._weights, weights)):
            new = np.asarray(new)
            if new.shape != current.shape:
                raise ValueError(f"{self.name}: weight {i} ({name}) must have shape {current.shape}, got {new.shape}")
            if new.dtype.kind not in "fiu":
                raise TypeError(f"{self.name}: weight {i} ({name}) must be numeric, got dtype {new.dtype}")
        for current, new in zip(self._weights, weights):
            backend.assign(current, np.asarray(new, current.dtype))

    def count_params(self):
        """The number of scalars in the layer's weights."""
        return sum(w.size for w in self._weights)

    # -- calling ---------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (the first call does it)."""
        self.built = True

    def _as_input(self, x, name="x"):
        """``x`` as a C-contiguous array of the layer's dtype, on the device it is on."""
        if type(x) is np.ndarray and x.dtype == self.dtype and x.flags.c_contiguous:
            return x  # what the layer before it returned, the common case
        if backend.is_device_array(x):
            return backend.array_ops(x).asarray(x, self.dtype)
        return np.ascontiguousarray(numeric_array(x, f"{self.name}: {name}"), dtype=self.dtype)

    def __call__(self, x, mask=None, training=None, initial_state=None):
        if any_symbolic(x, initial_state, mask):
            return call_symbolically(self, x, mask=mask, training=training, initial_state=initial_state)
        for i, item in enumerate(flatten(x)):
            check_finite_data(np.asarray(backend.to_host(item)), f"{self.name}: x" + (f"[{i}]" if isinstance(x, (list, tuple)) else ""))
        return _forward_in_context(self, x, mask, training, initial_state)

    def forward(self, x, mask=None, training=False, initial_state=None):
        """Returns ``(output, cache)``; ``cache`` is what ``backward`` needs."""
        raise NotImplementedError(f"{type(self).__name__} defines no forward(x) -> (output, cache) and backward(cache, "
                                  "d_output): numlstm layers compute both by hand (a Keras-style call() cannot be "
                                  "differentiated here); see numlstm/layers/dense.py for a small example")

    def backward(self, cache, d_output, input_gradient=True):
        """Gradients of the loss, given its gradient with respect to ``forward``'s output.

        With ``input_gradient=False`` (nothing below needs it) ``d_input`` may be None.
        """
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        """The output's shape (a list of shapes for several outputs) for an input of ``input_shape``."""
        raise NotImplementedError

    def compute_mask(self, inputs, mask=None):
        """The (batch, timesteps) mask passed on to the next layer (Keras' signature)."""
        return mask
