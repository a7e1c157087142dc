"""ConvLSTM1D, ConvLSTM2D and ConvLSTM3D: Keras 3's convolutional LSTM layers on numlstm's kernels.

Differences from Keras, all deliberate:

- ``activation`` must be ``"tanh"`` and ``recurrent_activation``
  ``"sigmoid"``, as for the LSTM.
- Dropout draws one input mask and one recurrent mask per sequence, shared
  by the four gates (as numlstm's and Keras' LSTM do); Keras' ConvLSTM draws
  one per gate.
- ``peephole=True`` adds Hadamard peepholes over the whole cell state (Shi
  et al., 2015), a last weight initialised to zeros; ``cifg=True`` couples
  the input gate to the forget gate. Keras has neither.
"""

import numpy as np

from .. import backend
from ..convlstm import _spatial_tuple, convlstm_backward, convlstm_forward
from ..kernels import conv_geometry
from .base import Backward
from .recurrent import Recurrent

# The passes without their device-context wrapper (``backend.in_context_of``): a layer runs inside the context
# its model or ``Layer.__call__`` holds, and entering it again cost a tiny LSTM model's training step 8 us.
_forward_pass, _backward_pass = convlstm_forward.__wrapped__, convlstm_backward.__wrapped__

_DATA_FORMATS = ("channels_last", "channels_first")


class ConvLSTM(Recurrent):
    """The convolutional LSTM of any rank: :class:`ConvLSTM1D`, :class:`ConvLSTM2D` and :class:`ConvLSTM3D`
    fix ``rank``, the number of spatial axes; :class:`ConvLSTM2D` documents the arguments."""

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, zero_output_for_mask=False,
                 peephole=False, cifg=False, name=None, dtype=None):
        super().__init__(activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, unit_forget_bias, dropout, recurrent_dropout, return_sequences,
                         return_state, go_backwards, stateful, zero_output_for_mask, peephole, cifg, seed, name,
                         dtype)
        self.rank = rank
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"{self.name}: filters must be a positive int, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = _spatial_tuple(kernel_size, rank, "kernel_size", self.name)
        self.strides = _spatial_tuple(strides, rank, "strides", self.name)
        self.dilation_rate = _spatial_tuple(dilation_rate, rank, "dilation_rate", self.name)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{self.name}: strides > 1 is not supported with dilation_rate > 1 (as Keras), got "
                             f"strides={strides}, dilation_rate={dilation_rate}")
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in conv_geometry.PADDINGS:
            raise ValueError(f"{self.name}: padding must be one of {conv_geometry.PADDINGS}, got {padding!r}")
        self.padding = padding
        data_format = "channels_last" if data_format is None else data_format
        if data_format not in _DATA_FORMATS:
            raise ValueError(f"{self.name}: data_format must be one of {_DATA_FORMATS}, got {data_format!r}")
        self.data_format = data_format

    @property
    def state_channels(self):
        """The channels of ``h`` and ``c``: ``filters``."""
        return self.filters

    @property
    def _state_description(self):
        return (f"(batch, state_spatial..., {self.filters})" if self.data_format == "channels_last"
                else f"(batch, {self.filters}, state_spatial...)")

    def get_config(self):
        return {"filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                **self._recurrent_config()}

    # -- shapes ----------------------------------------------------------------
    def _spatial_and_channels(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 3:
            layout = ("spatial..., channels" if self.data_format == "channels_last" else "channels, spatial...")
            raise ValueError(f"{self.name}: expects input of shape (batch, timesteps, {layout}) with {self.rank} "
                             f"spatial axes, got {input_shape}")
        if self.data_format == "channels_last":
            return input_shape[2:-1], input_shape[-1]
        return input_shape[3:], input_shape[2]

    def _state_spatial(self, spatial):
        state = []
        for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate):
            size = None if n is None else conv_geometry.output_size(n, k, s, d, self.padding)
            if size is not None and size < 1:
                raise ValueError(f"{self.name}: a kernel of size {self.kernel_size} at dilation {self.dilation_rate} "
                                 f"with padding {self.padding!r} leaves no output position on a spatial shape "
                                 f"of {tuple(spatial)}")
            state.append(size)
        return tuple(state)

    def _frame(self, spatial, channels):
        return spatial + (channels,) if self.data_format == "channels_last" else (channels,) + spatial

    def compute_output_shape(self, input_shape):
        spatial, _ = self._spatial_and_channels(input_shape)
        state = (input_shape[0],) + self._frame(self._state_spatial(spatial), self.filters)
        output = (state[0], input_shape[1]) + state[1:] if self.return_sequences else state
        return [output, state, state] if self.return_state else output

    def build(self, input_shape):
        spatial, channels = self._spatial_and_channels(input_shape)
        if not isinstance(channels, (int, np.integer)) or channels < 1:
            raise ValueError(f"{self.name}: the input's channels must be known and positive, got shape "
                             f"{tuple(input_shape)}")
        g, f = self.gates, self.filters
        self.add_weight("kernel", self.kernel_size + (int(channels), g * f), self.kernel_initializer)
        self.add_weight("recurrent_kernel", self.kernel_size + (f, g * f), self.recurrent_initializer)
        if self.use_bias:
            self.add_weight("bias", (g * f,), self._bias_initializer)
        if self.peephole:
            if any(n is None for n in spatial):
                raise ValueError(f"{self.name}: peephole weights cover the whole state, so the input's spatial "
                                 f"shape must be known, got {tuple(input_shape)}")
            self.add_weight("peephole_weights", self._state_spatial(spatial) + ((g - 1) * f,), "zeros")
        self.built = True

    # -- channels_first --------------------------------------------------------
    def _to_channels_last(self, array, time_axis):
        """``array`` (channels first, after the batch and time axes) in the kernels' channels-last layout."""
        if self.data_format == "channels_last" or array is None:
            return array
        ops = backend.array_ops(array)
        host = np.moveaxis(backend.to_host(array), 1 + time_axis, -1)
        return ops.local(np.ascontiguousarray(host))

    def _from_channels_last(self, array, time_axis):
        if self.data_format == "channels_last" or array is None:
            return array
        ops = backend.array_ops(array)
        return ops.local(np.ascontiguousarray(np.moveaxis(backend.to_host(array), -1, 1 + time_axis)))

    # -- passes ----------------------------------------------------------------
    def forward(self, x, mask=None, training=False, initial_state=None):
        x = self._as_input(x)
        if not self.built:
            self.build(x.shape)
        spatial, channels = self._spatial_and_channels(x.shape)
        # Plain tuples: the CUDA simulator's device-array shapes take no negative index.
        expected_channels = tuple(self.kernel.shape)[-2]
        if channels != expected_channels:
            raise ValueError(f"{self.name}: expected {expected_channels} channels, got shape {tuple(x.shape)}")
        built_for = tuple(self.peephole_weights.shape)[:-1] if self.peephole else None
        if self.peephole and self._state_spatial(spatial) != built_for:
            raise ValueError(f"{self.name}: the peephole weights were built for a state of spatial shape "
                             f"{built_for}; an input of spatial shape {spatial} makes {self._state_spatial(spatial)}")
        x = self._to_channels_last(x, 1)
        h0, c0 = (self._to_channels_last(s, 0) for s in self._initial_states(initial_state, x.shape[0]))
        state_shape = (x.shape[0],) + self._state_spatial(spatial) + (self.filters,)
        dropout_mask, recurrent_mask = self._dropout_masks(x, state_shape, training)
        if dropout_mask is not None:
            x = backend.array_ops(x).multiply(x, dropout_mask)
        outputs, h, c, workspace = _forward_pass(
            x, self.kernel, self.recurrent_kernel, self.bias if self.use_bias else None, h0, c0, mask,
            strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate,
            peephole=self.peephole_weights if self.peephole else None, cifg=self.cifg, reverse=self.go_backwards,
            zero_output_for_mask=self.zero_output_for_mask and self.return_sequences,
            recurrent_mask=recurrent_mask, check_finite=False, final_states=self.stateful or self.return_state)
        # States as the user sees them (a stateful layer's too: _initial_states hands them back unchanged).
        h, c = (self._from_channels_last(s, 0) for s in (h, c))
        result = self._assemble_outputs(self._from_channels_last(outputs, 1), h, c)
        cache = {"workspace": workspace, "dropout_mask": dropout_mask, "initial_state": initial_state is not None}
        return result, cache

    def backward(self, cache, d_output, input_gradient=True):
        d_outputs, d_h, d_c = self._split_output_gradient(d_output)
        g = _backward_pass(cache["workspace"], self._to_channels_last(d_outputs, 1), self._to_channels_last(d_h, 0),
                              self._to_channels_last(d_c, 0), input_gradient=input_gradient)
        dx = g.dx
        if dx is not None and cache["dropout_mask"] is not None:
            dx = backend.array_ops(dx).multiply(dx, cache["dropout_mask"])
        grads = [g.d_kernel, g.d_recurrent_kernel]
        if self.use_bias:
            grads.append(g.d_bias)
        if self.peephole:
            grads.append(g.d_peephole)
        d_initial = [self._from_channels_last(s, 0) for s in (g.dh0, g.dc0)] if cache["initial_state"] else None
        return Backward(self._from_channels_last(dx, 1), grads, d_initial)


class ConvLSTM1D(ConvLSTM):
    """1-D convolutional LSTM, as Keras 3's ``keras.layers.ConvLSTM1D``: frames are sequences of positions.

    Input (batch, timesteps, steps, channels), or channels first. See
    :class:`ConvLSTM2D` for the equations, weights and arguments.

    Parameters
    ----------
    filters : int
        The channels of ``h`` and ``c``.
    kernel_size : int or tuple of 1 ints
        The window of both convolutions.
    strides, padding, data_format, dilation_rate, activation, recurrent_activation, use_bias
        As :class:`ConvLSTM2D`'s.
    kernel_initializer, recurrent_initializer, bias_initializer, unit_forget_bias, dropout, recurrent_dropout
        As :class:`ConvLSTM2D`'s.
    seed, return_sequences, return_state, go_backwards, stateful, zero_output_for_mask, peephole, cifg, name, dtype
        As :class:`ConvLSTM2D`'s.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> layer = layers.ConvLSTM1D(4, 3, padding="same", return_sequences=True)
    >>> layer(np.zeros((2, 5, 10, 3))).shape
    (2, 5, 10, 4)
    >>> [w.shape for w in layer.get_weights()]
    [(3, 3, 16), (3, 4, 16), (16,)]
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, zero_output_for_mask=False,
                 peephole=False, cifg=False, name=None, dtype=None):
        super().__init__(1, filters, kernel_size, strides, padding, data_format, dilation_rate, activation,
                         recurrent_activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         unit_forget_bias, dropout, recurrent_dropout, seed, return_sequences, return_state,
                         go_backwards, stateful, zero_output_for_mask, peephole, cifg, name, dtype)


class ConvLSTM2D(ConvLSTM):
    """2-D convolutional LSTM (Shi et al., 2015), as Keras 3's ``keras.layers.ConvLSTM2D``: frames are images.

    Per step, with ``*`` a convolution and ``∘`` the elementwise product::

        i_t = sigmoid(W_i * x_t + U_i * h_{t-1} + b_i)
        f_t = sigmoid(W_f * x_t + U_f * h_{t-1} + b_f)
        g_t = tanh(W_c * x_t + U_c * h_{t-1} + b_c)
        o_t = sigmoid(W_o * x_t + U_o * h_{t-1} + b_o)
        c_t = f_t ∘ c_{t-1} + i_t ∘ g_t
        h_t = o_t ∘ tanh(c_t)

    The input convolution ``W * x_t`` has the layer's ``strides``,
    ``padding`` and ``dilation_rate``; the recurrent one ``U * h`` always
    stride 1, no dilation and ``"same"`` padding, so the states keep the
    input convolution's output grid (as Keras). Weights, in Keras order and
    layout (gates ``i, f, c, o`` side by side): ``kernel`` ``kernel_size +
    (channels, 4 * filters)``, ``recurrent_kernel`` ``kernel_size +
    (filters, 4 * filters)``, ``bias`` (4 * filters,) with ``use_bias``.
    ``peephole=True`` adds ``i_t = sigmoid(... + p_i ∘ c_{t-1})``, ``f_t =
    sigmoid(... + p_f ∘ c_{t-1})``, ``o_t = sigmoid(... + p_o ∘ c_t)``: a last
    weight ``peephole_weights`` ``state_spatial + (3 * filters,)``, zeros at
    first, which fixes the input's spatial shape; ``cifg=True`` sets ``i_t =
    1 - f_t`` and every weight holds the three gates ``f, c, o``.

    Input (batch, timesteps, rows, cols, channels) (``channels_last``) or
    (batch, timesteps, channels, rows, cols) (``channels_first``); the
    other ranks, :class:`ConvLSTM1D` and :class:`ConvLSTM3D`, differ only in
    the number of spatial axes. Output the
    last processed step's ``h``, (batch, state_spatial..., filters) or
    channels first; with ``return_sequences`` every step's, (batch,
    timesteps, ...); with ``return_state`` the list ``[output, h_n, c_n]``.
    A mask (batch, timesteps) skips steps, as in :class:`LSTM`.

    Parameters
    ----------
    filters : int
        The channels of ``h`` and ``c``.
    kernel_size : int or tuple of 2 ints
        The window of both convolutions.
    strides : int or tuple of ints, default 1
        Of the input convolution.
    padding : {"valid", "same"}, default "valid"
        Of the input convolution.
    data_format : {"channels_last", "channels_first"}, optional
        ``"channels_last"`` by default.
    dilation_rate : int or tuple of ints, default 1
        Of the input convolution; not with strides above 1.
    activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer
        As :class:`LSTM`'s.
    unit_forget_bias, dropout, recurrent_dropout, seed, return_sequences, return_state, go_backwards
        As :class:`LSTM`'s; the dropout masks have the input frame's and
        the state's shapes.
    stateful, zero_output_for_mask, peephole, cifg, name, dtype
        As :class:`LSTM`'s.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> layer = layers.ConvLSTM2D(8, 3, padding="same")
    >>> layer(np.zeros((2, 5, 16, 16, 1))).shape
    (2, 16, 16, 8)
    >>> [w.shape for w in layer.get_weights()]
    [(3, 3, 1, 32), (3, 3, 8, 32), (32,)]
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, zero_output_for_mask=False,
                 peephole=False, cifg=False, name=None, dtype=None):
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate, activation,
                         recurrent_activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         unit_forget_bias, dropout, recurrent_dropout, seed, return_sequences, return_state,
                         go_backwards, stateful, zero_output_for_mask, peephole, cifg, name, dtype)


class ConvLSTM3D(ConvLSTM):
    """3-D convolutional LSTM, as Keras 3's ``keras.layers.ConvLSTM3D``: frames are volumes.

    Input (batch, timesteps, depth, rows, cols, channels), or channels
    first. See :class:`ConvLSTM2D` for the equations, weights and arguments.

    Parameters
    ----------
    filters : int
        The channels of ``h`` and ``c``.
    kernel_size : int or tuple of 3 ints
        The window of both convolutions.
    strides, padding, data_format, dilation_rate, activation, recurrent_activation, use_bias
        As :class:`ConvLSTM2D`'s.
    kernel_initializer, recurrent_initializer, bias_initializer, unit_forget_bias, dropout, recurrent_dropout
        As :class:`ConvLSTM2D`'s.
    seed, return_sequences, return_state, go_backwards, stateful, zero_output_for_mask, peephole, cifg, name, dtype
        As :class:`ConvLSTM2D`'s.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> layers.ConvLSTM3D(2, 3, padding="same")(np.zeros((1, 3, 4, 4, 4, 1))).shape
    (1, 4, 4, 4, 2)
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, zero_output_for_mask=False,
                 peephole=False, cifg=False, name=None, dtype=None):
        super().__init__(3, filters, kernel_size, strides, padding, data_format, dilation_rate, activation,
                         recurrent_activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         unit_forget_bias, dropout, recurrent_dropout, seed, return_sequences, return_state,
                         go_backwards, stateful, zero_output_for_mask, peephole, cifg, name, dtype)
