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

from .. import backend, initializers, utils
from ..functional import lstm_backward, lstm_forward
from .base import Backward, Layer


class LSTM(Layer):
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
        then needs the same batch size); :meth:`reset_state` forgets them.
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

    # backward takes None for an output nothing used (the states of return_state): no zeros are made for it
    missing_gradients_allowed = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 zero_output_for_mask=False, peephole=False, cifg=False, seed=None, name=None,
                 dtype=None):
        super().__init__(name=name, dtype=dtype)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"{self.name}: units must be a positive int, got {units!r}")
        if activation != "tanh" or recurrent_activation != "sigmoid":
            raise ValueError(f"{self.name}: numlstm's kernels implement activation='tanh' and "
                             f"recurrent_activation='sigmoid' only, got {activation!r} and {recurrent_activation!r}")
        for argument, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{self.name}: {argument} must be in [0, 1), got {rate!r}")
        self.units = int(units)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = unit_forget_bias
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = stateful
        self.zero_output_for_mask = zero_output_for_mask
        self.peephole = peephole
        self.cifg = cifg
        self.seed = seed
        self.states = None
        self._stateful_batch = None

    def get_config(self):
        return {"units": self.units, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, "recurrent_initializer": self.recurrent_initializer,
                "bias_initializer": self.bias_initializer, "unit_forget_bias": self.unit_forget_bias,
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": self.stateful,
                "zero_output_for_mask": self.zero_output_for_mask, "peephole": self.peephole, "cifg": self.cifg,
                "seed": self.seed, "name": self.name, "dtype": self.dtype.name}

    @property
    def gates(self):
        """The number of gates the weights hold: 4 (``i, f, c, o``), or 3 with ``cifg``."""
        return 3 if self.cifg else 4

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

    def _bias_initializer(self, shape, dtype):
        if not self.unit_forget_bias:
            return self.bias_initializer(shape, dtype)
        u = self.units
        input_gate = [] if self.cifg else [self.bias_initializer((u,), dtype)]
        return np.concatenate(input_gate + [np.ones(u, dtype), self.bias_initializer((2 * u,), dtype)])  # f, then c, o

    def compute_output_shape(self, input_shape):
        batch, timesteps = input_shape[0], input_shape[1]
        output = (batch, timesteps, self.units) if self.return_sequences else (batch, self.units)
        return [output, (batch, self.units), (batch, self.units)] if self.return_state else output

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def reset_state(self):
        """Forget the state a stateful layer carries between calls."""
        self.states = None

    def _initial_states(self, initial_state, batch):
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)) or len(initial_state) != 2:
                raise ValueError(f"{self.name}: initial_state must be [h, c], two arrays of shape (batch, {self.units})")
            return [self._as_input(s, name) for s, name in zip(initial_state, ("initial_state[0]", "initial_state[1]"))]
        if self.stateful:
            if self._stateful_batch is None:
                self._stateful_batch = batch
            elif batch != self._stateful_batch:
                raise ValueError(f"{self.name}: a stateful layer needs the same batch size on every call; "
                                 f"it was built for {self._stateful_batch}, got {batch}")
            if self.states is not None:
                return list(self.states)
        return [None, None]

    def forward(self, x, mask=None, training=False, initial_state=None):
        x = self._as_input(x)
        if x.ndim != 3:
            raise ValueError(f"{self.name}: x must have shape (batch, timesteps, features), got shape {x.shape}")
        if not self.built:
            self.build(x.shape)
        if x.shape[2] != self.kernel.shape[0]:
            raise ValueError(f"{self.name}: expected {self.kernel.shape[0]} features, got shape {x.shape}")
        h0, c0 = self._initial_states(initial_state, x.shape[0])
        ops = backend.array_ops(x)
        dropout_mask = recurrent_mask = None
        if training and (self.dropout > 0 or self.recurrent_dropout > 0):
            # Drawn on the host whatever the device, so that a seed gives the same masks everywhere.
            generator = utils.global_generator() if self.seed is None else np.random.default_rng(self.seed)
            if self.dropout > 0:  # one mask per sequence, as in Keras
                keep = generator.random((x.shape[0], 1, x.shape[2])) >= self.dropout
                dropout_mask = ops.local((keep / (1.0 - self.dropout)).astype(self.dtype))
                x = ops.multiply(x, dropout_mask)
            if self.recurrent_dropout > 0:
                keep = generator.random((x.shape[0], self.units)) >= self.recurrent_dropout
                recurrent_mask = ops.local((keep / (1.0 - self.recurrent_dropout)).astype(self.dtype))
        keeps_states = self.stateful or self.return_state
        outputs, h, c, workspace = lstm_forward(
            x, self.kernel, self.recurrent_kernel, self.bias if self.use_bias else None, h0, c0, mask,
            peephole=self.peephole_weights if self.peephole else None, cifg=self.cifg,
            reverse=self.go_backwards,
            # Keras: zero_output_for_mask only shapes returned sequences.
            zero_output_for_mask=self.zero_output_for_mask and self.return_sequences,
            recurrent_mask=recurrent_mask,
            # Inside a model a diverging run must reach the loss (TerminateOnNaN); user data is
            # checked where it enters (Layer.__call__, the model's fit/predict).
            check_finite=False, final_states=keeps_states)
        if self.return_sequences:  # Keras: processing order
            output = ops.reverse_time(outputs) if self.go_backwards else outputs
        else:  # one copy of the last processed step, not the two of h_n and c_n
            output = ops.time_step(outputs, 0 if self.go_backwards else outputs.shape[1] - 1)
        if self.stateful:
            self.states = (h, c)
        result = [output, ops.copy(h), ops.copy(c)] if self.return_state else output
        cache = {"workspace": workspace, "dropout_mask": dropout_mask,
                 "recurrent_mask": recurrent_mask,
                 "initial_state": initial_state is not None}
        return result, cache

    def backward(self, cache, d_output, input_gradient=True):
        d_h = d_c = None
        if self.return_state:
            d_output, d_h, d_c = d_output
        d_outputs = None
        if d_output is not None:
            ops = backend.array_ops(d_output)
            d_output = ops.asarray(d_output, self.dtype)
            if self.return_sequences:
                d_outputs = ops.reverse_time(d_output) if self.go_backwards else d_output
            else:
                # The last output is the final state h: zero_output_for_mask only shapes sequences.
                d_h = d_output if d_h is None else ops.add(d_h, d_output)
        g = lstm_backward(cache["workspace"], d_outputs, d_h, d_c, input_gradient=input_gradient)
        dx = g.dx if g.dx is None or cache["dropout_mask"] is None else \
            backend.array_ops(g.dx).multiply(g.dx, cache["dropout_mask"])
        grads = [g.d_kernel, g.d_recurrent_kernel]
        if self.use_bias:
            grads.append(g.d_bias)
        if self.peephole:
            grads.append(g.d_peephole)
        return Backward(dx, grads, [g.dh0, g.dc0] if cache["initial_state"] else None)
