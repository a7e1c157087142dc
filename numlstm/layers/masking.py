"""Masking: mark timesteps whose features all equal ``mask_value`` as masked, and zero them."""

import numpy as np

from .. import backend
from .base import Backward, Layer


class Masking(Layer):
    """Masks the timesteps whose features all equal ``mask_value``, and sets them to zero.

    Input (batch, timesteps, features), the output the same shape; the
    layers after it get the mask (batch, timesteps), True where a step is
    kept, and an LSTM skips the masked steps. No weights. Unlike Keras',
    numlstm's losses and metrics do not see the mask, except the CTC loss
    (:class:`numlstm.losses.CTC`), which reads each sample's frames from it.

    Parameters
    ----------
    mask_value : float, default 0.0
    name : str, optional
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> x = np.array([[[1.0, 2.0], [0.0, 0.0], [3.0, 0.0]]])
    >>> layers.Masking().compute_mask(x).tolist()
    [[True, False, True]]
    """

    def __init__(self, mask_value=0.0, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.mask_value = mask_value

    def get_config(self):
        return {"mask_value": self.mask_value, "name": self.name, "dtype": self.dtype.name}

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, inputs, mask=None):
        if not backend.is_device_array(inputs):
            inputs = np.asarray(inputs)
        return backend.array_ops(inputs).steps_differing(inputs, self.mask_value)

    def forward(self, x, mask=None, training=False, initial_state=None):
        x = self._as_input(x)
        if x.ndim != 3:
            raise ValueError(f"{self.name}: x must have shape (batch, timesteps, features), got shape {x.shape}")
        self.built = True
        keep = self.compute_mask(x)
        return backend.array_ops(x).zero_masked_steps(x, keep), keep

    def backward(self, cache, d_output, input_gradient=True):
        if not input_gradient:
            return Backward(None, [])
        ops = backend.array_ops(d_output)
        return Backward(ops.zero_masked_steps(ops.asarray(d_output, self.dtype), cache), [])
