"""The LSTM layer: Keras 3's ``keras.layers.LSTM`` on numlstm's kernels.

Differences from Keras, all deliberate:

- ``activation`` must be ``"tanh"`` and ``recurrent_activation``
  ``"sigmoid"``: the fused kernels implement those two.
- ``peephole=True`` adds diagonal peepholes (Gers and Schmidhuber 2000),
  one more weight array after the bias, initialised to zeros;
  ``cifg=True`` couples the input gate to the forget gate (i = 1 - f), so
  the weights hold three gates, ``f, c, o``. Keras has neither.
"""

import numpy as np

from .. import backend, dispatch
from ..functional import _forward_on_cpu, lstm_backward, lstm_forward
from .base import Backward, backward_follows
from .recurrent import Recurrent

# The passes without their device-context wrapper (``backend.in_context_of``): a layer runs inside the context
# its model or ``Layer.__call__`` holds, and entering it again cost a tiny LSTM model's training step 8 us.
_forward_pass, _backward_pass = lstm_forward.__wrapped__, lstm_backward.__wrapped__


class LSTM(Recurrent):
    """Long Short-Term Memory layer (Hochreiter and Schmidhuber, 1997), as Keras 3's ``keras.layers.LSTM``.

    For each timestep ``t`` of an input ``x`` of shape (batch, timesteps,
    features), with ``h_0`` and ``c_0`` zeros unless given::

        i_t = sigmoid(x_t @ W_i + h_{t-1} @ U_i + b_i)
        f_t = sigmoid(x_t @ W_f + h_{t-1} @ U_f + b_f)
        g_t = tanh(x_t @ W_c + h_{t-1} @ U_c + b_c)
        o_t = sigmoid(x_t @ W_o + h_{t-1} @ U_o + b_o)
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)

    Weights, in Keras order and layout (gates ``i, f, c, o`` side by side):
    ``kernel`` (features, 4 * units) = [W_i | W_f | W_c | W_o],
    ``recurrent_kernel`` (units, 4 * units) = [U_i | U_f | U_c | U_o], and
    ``bias`` (4 * units,) with ``use_bias``. Keras' weights load unchanged.

    Two variants Keras lacks: ``peephole=True`` adds diagonal peepholes
    (Gers and Schmidhuber, 2000) ``p_i, p_f, p_o``, a last weight
    ``peephole_weights`` (3 * units,) initialised to zeros, so that
    ``i_t = sigmoid(... + p_i * c_{t-1})``, ``f_t = sigmoid(... + p_f * c_{t-1})``
    and ``o_t = sigmoid(... + p_o * c_t)``; ``cifg=True`` couples the input
    gate to the forget gate, ``i_t = 1 - f_t``, so every weight holds the
    three gates ``f, c, o`` (3 * units columns; 2 * units peepholes).

    Input (batch, timesteps, features). Output (batch, units), the last
    processed step's ``h``; (batch, timesteps, units) with
    ``return_sequences``; with ``return_state``, the list
    ``[output, h_n, c_n]``. A mask (batch, timesteps) skips steps: a masked
    step keeps ``h`` and ``c`` and outputs the carried ``h``. The mask
    passes on only with ``return_sequences``.

    Parameters
    ----------
    units : int
        The size of ``h`` and ``c``.
    activation : str, default "tanh"
        Only ``"tanh"``: the fused kernels implement it.
    recurrent_activation : str, default "sigmoid"
        Only ``"sigmoid"``, likewise.
    use_bias : bool, default True
    kernel_initializer, recurrent_initializer, bias_initializer : str or initializer
        Default ``"glorot_uniform"``, ``"orthogonal"``, ``"zeros"``.
    unit_forget_bias : bool, default True
        Initialise the forget gate's bias to ones (Jozefowicz et al., 2015).
    dropout : float, default 0.0
        In [0, 1): the fraction of the input features dropped while
        training, one mask per sequence.
    recurrent_dropout : float, default 0.0
        In [0, 1): the same for ``h_{t-1}`` in the recurrent product.
    return_sequences : bool, default False
        Return every step's ``h``, not only the last.
    return_state : bool, default False
        Also return the final ``h_n`` and ``c_n``.
    go_backwards : bool, default False
        Process the sequence from its last step; returned sequences are in
        processing order (reversed), as in Keras.
    stateful : bool, default False
        Keep the final states as the next call's initial states (every call
        then needs the same batch size); ``reset_state()`` forgets them.
    zero_output_for_mask : bool, default False
        Masked steps of a returned sequence output zeros instead of the
        carried ``h``.
    peephole : bool, default False
        Add the diagonal peepholes above.
    cifg : bool, default False
        Couple the input gate to the forget gate, as above.
    seed : int, optional
        With a seed every call draws the same dropout masks (Keras' seeded
        layers draw new ones per call); without one, the global generator
        (:func:`numlstm.utils.set_random_seed`) draws new masks per call.
    name : str, optional
        ``lstm``, then ``lstm_1``, ... by default, as Keras.
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> lstm = layers.LSTM(8, return_sequences=True)
    >>> lstm(np.zeros((2, 5, 3))).shape
    (2, 5, 8)
    >>> [w.shape for w in lstm.get_weights()]
    [(3, 32), (8, 32), (32,)]
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 zero_output_for_mask=False, peephole=False, cifg=False, seed=None, name=None,
                 dtype=None):
        super().__init__(activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, unit_forget_bias, dropout, recurrent_dropout, return_sequences,
                         return_state, go_backwards, stateful, zero_output_for_mask, peephole, cifg, seed, name,
                         dtype)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"{self.name}: units must be a positive int, got {units!r}")
        self.units = int(units)

    @property
    def state_channels(self):
        """The size of ``h`` and ``c``: ``units``."""
        return self.units

    @property
    def _state_description(self):
        return f"(batch, {self.units})"

    def get_config(self):
        return {"units": self.units, **self._recurrent_config()}

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or not isinstance(input_shape[-1], (int, np.integer)) or input_shape[-1] < 1:
            raise ValueError(f"{self.name}: expects input of shape (batch, timesteps, features) with at least "
                             f"one feature, got {input_shape}")
        features = int(input_shape[-1])
        u, g = self.units, self.gates
        self.add_weight("kernel", (features, g * u), self.kernel_initializer)
        self.add_weight("recurrent_kernel", (u, g * u), self.recurrent_initializer)
        if self.use_bias:
            self.add_weight("bias", (g * u,), self._bias_initializer)
        if self.peephole:
            self.add_weight("peephole_weights", ((g - 1) * u,), "zeros")
        self.built = True

    def compute_output_shape(self, input_shape):
        batch, timesteps = input_shape[0], input_shape[1]
        output = (batch, timesteps, self.units) if self.return_sequences else (batch, self.units)
        return [output, (batch, self.units), (batch, self.units)] if self.return_state else output

    def forward(self, x, mask=None, training=False, initial_state=None):
        x = self._as_input(x)
        if x.ndim != 3:
            raise ValueError(f"{self.name}: x must have shape (batch, timesteps, features), got shape {x.shape}")
        if not self.built:
            self.build(x.shape)
        if x.shape[2] != self.kernel.shape[0]:
            raise ValueError(f"{self.name}: expected {self.kernel.shape[0]} features, got shape {x.shape}")
        h0, c0 = self._initial_states(initial_state, x.shape[0])
        dropout_mask, recurrent_mask = self._dropout_masks(x, (x.shape[0], self.units), training)
        if dropout_mask is not None:
            x = backend.array_ops(x).multiply(x, dropout_mask)
        keeps_states = self.stateful or self.return_state
        bias = self.bias if self.use_bias else None
        peephole = self.peephole_weights if self.peephole else None
        # Keras: zero_output_for_mask only shapes returned sequences.
        zero_output_for_mask = self.zero_output_for_mask and self.return_sequences
        if (mask is None and h0 is None and c0 is None and type(x) is np.ndarray and x.size
                and type(self.kernel) is np.ndarray and self.kernel.dtype == x.dtype
                and dispatch.current_device() == "cpu"):
            # The common case, on arrays the layer has checked (its own weights, x above, its dropout masks),
            # without lstm_forward's checks of every argument: 5-6 us of a tiny model's call. An empty x goes
            # to lstm_forward, which names what is missing.
            # A layer whose output is the final state h gets no sequence of outputs from the pass.
            outputs, h, c, workspace = _forward_on_cpu(
                x, self.kernel, self.recurrent_kernel, bias, peephole, None, None, None, recurrent_mask,
                self.cifg, self.go_backwards, zero_output_for_mask, False, keeps_states or not self.return_sequences,
                backward_follows(), sequence_outputs=self.return_sequences)
        else:
            outputs, h, c, workspace = _forward_pass(
                x, self.kernel, self.recurrent_kernel, bias, h0, c0, mask, peephole=peephole, cifg=self.cifg,
                reverse=self.go_backwards, zero_output_for_mask=zero_output_for_mask, recurrent_mask=recurrent_mask,
                # Inside a model a diverging run must reach the loss (TerminateOnNaN); user data is
                # checked where it enters (Layer.__call__, the model's fit/predict).
                check_finite=False, final_states=keeps_states, keep_workspace=backward_follows())
        result = self._assemble_outputs(outputs, h, c)
        cache = {"workspace": workspace, "dropout_mask": dropout_mask,
                 "recurrent_mask": recurrent_mask,
                 "initial_state": initial_state is not None}
        return result, cache

    def backward(self, cache, d_output, input_gradient=True):
        d_outputs, d_h, d_c = self._split_output_gradient(d_output)
        g = _backward_pass(cache["workspace"], d_outputs, d_h, d_c, input_gradient=input_gradient)
        dx = g.dx if g.dx is None or cache["dropout_mask"] is None else \
            backend.array_ops(g.dx).multiply(g.dx, cache["dropout_mask"])
        grads = [g.d_kernel, g.d_recurrent_kernel]
        if self.use_bias:
            grads.append(g.d_bias)
        if self.peephole:
            grads.append(g.d_peephole)
        return Backward(dx, grads, [g.dh0, g.dc0] if cache["initial_state"] else None)
