"""Masking: mark timesteps whose features all equal ``mask_value`` as masked, and zero them."""

import numpy as np

from .base import Backward, Layer


class Masking(Layer):
    def __init__(self, mask_value=0.0, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.mask_value = mask_value

    def get_config(self):
        return {"mask_value": self.mask_value, "name": self.name, "dtype": self.dtype.name}

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, inputs, mask=None):
        return np.any(np.asarray(inputs) != self.mask_value, axis=-1)

    def forward(self, x, mask=None, training=False, initial_state=None):
        x = self._as_input(x)
        if x.ndim != 3:
            raise ValueError(f"{self.name}: x must have shape (batch, timesteps, features), got shape {x.shape}")
        self.built = True
        keep = self.compute_mask(x)[..., None].astype(self.dtype)
        return x * keep, keep

    def backward(self, cache, d_output, input_gradient=True):
        return Backward(np.asarray(d_output, self.dtype) * cache if input_gradient else None, [])
