"""Bidirectional: a recurrent layer over the sequence and a copy over it reversed, merged."""

from .. import backend, registry
from .base import Backward, Layer
from .recurrent import Recurrent

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _backward_copy(layer):
    """A fresh layer with the same options running the other way (Keras builds it from the config)."""
    options = layer.get_config()
    options.update(go_backwards=not layer.go_backwards, name=f"backward_{layer.name}")
    return type(layer)(**options)


class Bidirectional(Layer):
    """Bidirectional wrapper for an LSTM or ConvLSTM: one copy reads the sequence forwards, another backwards.

    The backward layer is a fresh layer of the same class with ``layer``'s options and the
    opposite ``go_backwards`` unless given; its returned sequences are put
    back in the input's time order before the two outputs are merged. The
    weights are the forward layer's, then the backward layer's (Keras'
    order). With ``return_state`` the output is ``[merged, h_f, c_f, h_b,
    c_b]`` (``merge_mode=None``: ``[y_f, y_b, h_f, c_f, h_b, c_b]``), and
    ``initial_state`` takes the four states in that order.

    Parameters
    ----------
    layer : LSTM, ConvLSTM1D, ConvLSTM2D or ConvLSTM3D
        The forward layer.
    merge_mode : {"concat", "sum", "mul", "ave", None}, default "concat"
        How the two outputs combine: joined on the last axis (2 * units
        features; 2 * filters channels, channels last), added, multiplied, averaged, or (None) returned as a
        list of two.
    backward_layer : layer of ``layer``'s class, optional
        The backward layer, which must read the other way from ``layer``
        and agree on ``return_sequences`` and ``return_state``.
    name : str, optional
        ``bidirectional_`` and the layer's name by default.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> layers.Bidirectional(layers.LSTM(8, return_sequences=True))(np.zeros((2, 5, 3))).shape
    (2, 5, 16)
    """

    def __init__(self, layer, merge_mode="concat", backward_layer=None, name=None):
        if not isinstance(layer, Recurrent):
            raise TypeError(f"Bidirectional wraps an LSTM or ConvLSTM layer, got {type(layer).__name__}")
        if backward_layer is not None and type(backward_layer) is not type(layer):
            raise TypeError(f"backward_layer must be a {type(layer).__name__} like layer, got "
                            f"{type(backward_layer).__name__}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"merge_mode must be one of {_MERGE_MODES}, got {merge_mode!r}")
        super().__init__(name=name or f"bidirectional_{layer.name}", dtype=layer.dtype)
        self.forward_layer = layer
        self.backward_layer = backward_layer if backward_layer is not None else _backward_copy(layer)
        if self.backward_layer.go_backwards == layer.go_backwards:
            raise ValueError("backward_layer must have the opposite go_backwards of layer")
        for option in ("return_sequences", "return_state"):
            if getattr(self.backward_layer, option) != getattr(layer, option):
                raise ValueError(f"layer and backward_layer must agree on {option}")
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state

    def get_config(self):
        return {"layer": self.forward_layer.get_config(), "merge_mode": self.merge_mode,
                "backward_layer": self.backward_layer.get_config(), "name": self.name,
                "layer_class": type(self.forward_layer).__name__}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layer_class = registry.lookup(config.pop("layer_class", "LSTM"))  # files before ConvLSTM hold LSTMs
        if not issubclass(layer_class, Recurrent):
            raise registry.FileFormatError(f"Bidirectional wraps an LSTM or ConvLSTM layer, the file names "
                                           f"{layer_class.__name__}")
        return cls(layer_class(**config["layer"]), merge_mode=config["merge_mode"],
                   backward_layer=layer_class(**config["backward_layer"]), name=config["name"])

    def build(self, input_shape):
        for layer in (self.forward_layer, self.backward_layer):
            if not layer.built:
                layer.build(input_shape)
        self.built = True

    @property
    def weights(self):
        return self.forward_layer.weights + self.backward_layer.weights

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return self.forward_layer.trainable_weights + self.backward_layer.trainable_weights

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return self.forward_layer.non_trainable_weights + self.backward_layer.non_trainable_weights

    def get_weights(self):
        return self.forward_layer.get_weights() + self.backward_layer.get_weights()

    def set_weights(self, weights):
        weights = list(weights)
        count = len(self.forward_layer.weights)
        if len(weights) != count + len(self.backward_layer.weights):
            raise ValueError(f"{self.name} expects {count + len(self.backward_layer.weights)} weight arrays "
                             f"(the forward layer's, then the backward layer's), got {len(weights)}")
        self.forward_layer.set_weights(weights[:count])
        self.backward_layer.set_weights(weights[count:])

    def count_params(self):
        return self.forward_layer.count_params() + self.backward_layer.count_params()

    def _use_weight_storage(self, views, copy=True):
        count = len(self.forward_layer.weights)
        self.forward_layer._use_weight_storage(views[:count], copy)
        self.backward_layer._use_weight_storage(views[count:], copy)

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        output, states = (shape[0], shape[1:]) if self.return_state else (shape, [])
        if self.merge_mode == "concat":
            output = tuple(output[:-1]) + (2 * output[-1],)
        outputs = [output, output] if self.merge_mode is None else [output]
        if self.return_state:
            return outputs + states * 2
        return outputs if self.merge_mode is None else output

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def forward(self, x, mask=None, training=False, initial_state=None):
        x = self._as_input(x)
        if not self.built:
            self.build(x.shape)
        forward_state = backward_state = None
        if initial_state is not None:
            if len(initial_state) != 4:
                raise ValueError(f"{self.name}: initial_state must be [h_forward, c_forward, h_backward, c_backward]")
            forward_state, backward_state = list(initial_state[:2]), list(initial_state[2:])
        y_f, cache_f = self.forward_layer.forward(x, mask=mask, training=training, initial_state=forward_state)
        y_b, cache_b = self.backward_layer.forward(x, mask=mask, training=training, initial_state=backward_state)
        states = []
        if self.return_state:
            y_f, states = y_f[0], y_f[1:] + y_b[1:]
            y_b = y_b[0]
        ops = backend.array_ops(y_f)
        if self.return_sequences:
            y_b = ops.reverse_time(y_b)  # back to the input's time order
        if self.merge_mode == "concat":
            output = ops.concat_last(y_f, y_b)
        elif self.merge_mode == "sum":
            output = ops.add(y_f, y_b)
        elif self.merge_mode == "mul":
            output = ops.multiply(y_f, y_b)
        elif self.merge_mode == "ave":
            output = ops.scale(ops.add(y_f, y_b), 0.5)
        else:
            output = [y_f, y_b]
        result = ([output] if self.merge_mode else output) + states if self.return_state else output
        return result, (cache_f, cache_b, y_f, y_b)

    def backward(self, cache, d_output, input_gradient=True):
        cache_f, cache_b, y_f, y_b = cache
        d_states = [None] * 4
        if self.return_state:
            if self.merge_mode is None:
                d_f, d_b, *d_states = d_output
            else:
                d_merged, *d_states = d_output
        elif self.merge_mode is None:
            d_f, d_b = d_output
        else:
            d_merged = d_output
        ops = backend.array_ops(y_f)
        if self.merge_mode is not None:
            d_merged = ops.asarray(d_merged, self.dtype)
            d_f, d_b = {
                "concat": lambda: ops.split_last(d_merged, tuple(y_f.shape)[-1]),
                "sum": lambda: (d_merged, d_merged),
                "mul": lambda: (ops.multiply(d_merged, y_b), ops.multiply(d_merged, y_f)),
                "ave": lambda: (ops.scale(d_merged, 0.5),) * 2,
            }[self.merge_mode]()
        if self.return_sequences:
            d_b = ops.reverse_time(d_b)
        if self.return_state:
            d_f, d_b = [d_f] + d_states[:2], [d_b] + d_states[2:]
        result_f = self.forward_layer.backward(cache_f, d_f, input_gradient)
        result_b = self.backward_layer.backward(cache_b, d_b, input_gradient)
        d_initial = None
        if result_f.d_initial_state is not None:
            d_initial = result_f.d_initial_state + result_b.d_initial_state
        d_input = ops.add(result_f.d_input, result_b.d_input) if input_gradient else None
        return Backward(d_input, result_f.grads + result_b.grads, d_initial)
