"""TimeDistributed: one layer applied to every timestep of a sequence (Keras 3's wrapper)."""

import numpy as np

from .. import backend
from .base import Backward, Layer, numeric_array


class TimeDistributed(Layer):
    """Applies ``layer`` to every timestep: (batch, T, ...) -> (batch * T, ...) -> layer -> (batch, T, ...).

    Its weights are the wrapped layer's, in that layer's order (as Keras).
    The mask passes through; a mask of more than (batch, T) dimensions
    reaches the wrapped layer, its first two axes folded as the input's.

    Parameters
    ----------
    layer : Layer
        Any numlstm layer of one input and one output array.
    name : str, optional
        ``time_distributed`` (numbered after the first) by default, as Keras.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> layers.TimeDistributed(layers.Dense(4))(np.ones((2, 5, 3))).shape
    (2, 5, 4)
    """

    def __init__(self, layer, name=None):
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed wraps a numlstm Layer, got {type(layer).__name__}")
        super().__init__(name=name, dtype=layer.dtype)
        self.layer = layer

    def get_config(self):
        return {"layer": {"class_name": type(self.layer).__name__, "config": self.layer.get_config()},
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        from ..registry import layer_from_config

        return cls(layer_from_config(config["layer"]), name=config.get("name"))

    # -- weights: the wrapped layer's --------------------------------------------------
    @property
    def weights(self):
        return self.layer.weights

    @property
    def trainable_weights(self):
        return self.layer.trainable_weights if self.trainable else []

    @property
    def non_trainable_weights(self):
        return self.layer.non_trainable_weights if self.trainable else self.weights

    def get_weights(self):
        return self.layer.get_weights()

    def set_weights(self, weights):
        self.layer.set_weights(weights)

    def count_params(self):
        return self.layer.count_params()

    def _use_weight_storage(self, views, copy=True):
        self.layer._use_weight_storage(views, copy)

    # -- shapes ------------------------------------------------------------------------
    def _child_shape(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"{self.name}: input must have at least 3 dimensions (batch, timesteps, ...), got "
                             f"{tuple(input_shape)}")
        return (input_shape[0],) + tuple(input_shape[2:])

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(self._child_shape(input_shape))
        self.built = True

    def compute_output_shape(self, input_shape):
        child = self.layer.compute_output_shape(self._child_shape(input_shape))
        return (child[0], input_shape[1]) + tuple(child[1:])

    def compute_mask(self, inputs, mask=None):
        return mask

    # -- passes ------------------------------------------------------------------------
    def forward(self, x, mask=None, training=False, initial_state=None):
        if not backend.is_device_array(x):  # in the wrapped layer's dtype: an Embedding takes ints
            x = np.ascontiguousarray(numeric_array(x, f"{self.name}: x"))
        shape = tuple(x.shape)
        self._child_shape(shape)
        if not self.built:
            self.build((None,) + shape[1:])
        inner_mask = None
        if mask is not None and len(tuple(mask.shape)) > 2:
            mask_shape = tuple(mask.shape)
            inner_mask = mask.reshape((mask_shape[0] * mask_shape[1],) + mask_shape[2:])
        output, cache = self.layer.forward(x.reshape((shape[0] * shape[1],) + shape[2:]), mask=inner_mask,
                                           training=training)
        if isinstance(output, (list, tuple)):
            raise TypeError(f"{self.name}: the wrapped layer must return one array, got {len(output)}")
        output_shape = tuple(output.shape)
        return output.reshape(shape[:2] + output_shape[1:]), (cache, shape)

    def backward(self, cache, d_output, input_gradient=True):
        inner_cache, shape = cache
        d_shape = tuple(d_output.shape)
        d_output = d_output.reshape((d_shape[0] * d_shape[1],) + d_shape[2:])
        result = self.layer.backward(inner_cache, d_output, input_gradient)
        d_input = None if result.d_input is None else result.d_input.reshape(shape)
        return Backward(d_input, result.grads)
