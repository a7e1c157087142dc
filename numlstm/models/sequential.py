"""Sequential: a stack of layers, each feeding the next; a Model whose graph is a chain.

Without an ``Input`` the model builds itself from the first data it sees
(or ``build(input_shape)``), as in Keras; the graph, the training loop and
saving are the ones of :class:`numlstm.Model`.
"""

from ..layers import Layer
from ..layers.input_layer import InputLayer
from ..layers.symbolic import SymbolicTensor
from ..registry import layer_entry
from .model import Model


class Sequential(Model):
    """A linear stack of layers (Keras' ``keras.Sequential``).

    Parameters
    ----------
    layers : list, optional
        Layers in order; may start with ``numlstm.Input(shape)`` (or
        ``numlstm.layers.InputLayer``) to fix the input shape and build the
        model at once.
    name : str, optional

    Examples
    --------
    >>> import numlstm
    >>> from numlstm import layers
    >>> model = numlstm.Sequential([numlstm.Input((24, 3)), layers.LSTM(32), layers.Dense(1)])
    >>> model.compile("adam", "mse")
    """

    registered_name = "Sequential"
    builds_its_graph = True  # from its layers, once the input shape is known

    def __init__(self, layers=None, name=None):
        super().__init__(name=name)
        self._stack = []
        self._input_layer = None
        for layer in layers or []:
            self.add(layer)

    # -- structure ---------------------------------------------------------------------
    def add(self, layer):
        """Append ``layer`` (or set the input with ``numlstm.Input`` first); rebuilds a built model."""
        if isinstance(layer, SymbolicTensor) and isinstance(layer.layer, InputLayer):
            layer = layer.layer
        if isinstance(layer, InputLayer):
            if self._stack:
                raise ValueError("Input must come first in a Sequential model")
            self._input_layer = layer
            return
        if not isinstance(layer, (Layer, Model)):
            raise TypeError(f"Sequential.add takes a numlstm layer or model, got {type(layer).__name__}")
        if getattr(layer, "return_state", False) or getattr(layer, "merge_mode", "concat") is None:
            raise ValueError(f"{layer.name}: return_state=True and merge_mode=None return several arrays, "
                             "which a Sequential model cannot pass on; use numlstm.Model (the functional API)")
        self._stack.append(layer)
        self._invalidate()
        if self._input_layer is not None:
            self.build()

    def pop(self):
        """Remove the last layer (Keras' ``Sequential.pop``); returns it."""
        if not self._stack:
            raise ValueError(f"{self.name} has no layers to pop")
        layer = self._stack.pop()
        self._invalidate()
        if self._input_layer is not None and self._stack:
            self.build()
        return layer

    def _invalidate(self):
        self._layers = self._nodes = None
        self._params = None

    @property
    def layers(self):
        """The layers, without the input (as Keras' Sequential lists them)."""
        return list(self._stack)

    @property
    def built(self):
        """Whether the model has layers, an input shape and its weights gathered."""
        return bool(self._stack) and self._layers is not None and self._params is not None

    def build(self, input_shape=None):
        """Build every layer for samples of ``input_shape`` (batch axis first, may be None)."""
        if input_shape is not None:
            self._input_layer = _input_for(tuple(input_shape), f"{self.name}_input")
        if self._input_layer is None:
            raise ValueError(f"{self.name}: the input shape is unknown; start the model with "
                             "numlstm.Input(shape), call build(input_shape), or call it on data")
        if not self._stack:
            raise ValueError(f"{self.name} has no layers")
        tensor = inputs = self._input_layer.output
        for layer in self._stack:
            tensor = layer(tensor)
        self._params = None
        self._set_graph(inputs, tensor)
        if getattr(self, "_compile_settings", None) is not None:
            self._compile_for_outputs()

    def _build_for_tensor(self, tensor):
        self._input_layer = InputLayer(tensor.shape[1:], batch_size=tensor.shape[0], dtype=tensor.dtype,
                                       name=f"{self.name}_input")
        self.build()

    def _ready_inputs(self, x):
        if not self.built:
            from .structures import as_arrays

            self.build(as_arrays([x], "x", ["x"])[0].shape)
        return self._input_arrays(x)

    @property
    def _input_shape(self):
        return None if self._input_layer is None else \
            (self._input_layer.batch_size,) + self._input_layer.input_shape

    @property
    def _output_shape(self):
        return None if not self.built else self._outputs[0].shape

    def get_config(self):
        """The layers as data, in order, and the input shape (None until known)."""
        return {"name": self.name, "input_shape": None if self._input_shape is None else list(self._input_shape),
                "layers": [{**layer_entry(layer), "trainable": layer.trainable} for layer in self.layers]}

    @classmethod
    def from_config(cls, config):
        """A new Sequential, with new layers and fresh weights, from ``get_config()`` data.

        Parameters
        ----------
        config : dict
        """
        from .config import sequential_from_config

        return sequential_from_config(config)



def _input_for(shape, name):
    """The input of a model built for ``shape`` by ``build`` or from data: any batch size and any number of
    timesteps, the features (the last axis of 3-D and larger data) fixed. Only ``numlstm.Input`` fixes more."""
    if len(shape) >= 3:
        return InputLayer((None,) * (len(shape) - 2) + tuple(shape[-1:]), name=name)
    return InputLayer((None,) * (len(shape) - 1), name=name)
