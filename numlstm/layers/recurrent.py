"""What the recurrent layers (``LSTM``, ``ConvLSTM1D/2D/3D``) share: their options, the state a stateful
layer carries, initial states, dropout masks, and how the returned outputs and states are assembled."""

import numpy as np

from .. import backend, initializers, utils
from .base import Layer


class Recurrent(Layer):
    """Base class of the LSTM-family layers; not a layer itself.

    Subclasses set ``state_channels`` (units or filters) before building,
    and describe their state's shape in ``_state_description``. The
    arguments are documented on :class:`numlstm.layers.LSTM`.
    """

    # backward takes None for an output nothing used (the states of return_state): no zeros are made for it
    missing_gradients_allowed = True

    def __init__(self, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, dropout=0.0, recurrent_dropout=0.0, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, zero_output_for_mask=False,
                 peephole=False, cifg=False, seed=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if activation != "tanh" or recurrent_activation != "sigmoid":
            raise ValueError(f"{self.name}: numlstm's kernels implement activation='tanh' and "
                             f"recurrent_activation='sigmoid' only, got {activation!r} and {recurrent_activation!r}")
        for argument, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            rate = utils._real_argument(rate, f"{self.name}: {argument}")
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{self.name}: {argument} must be in [0, 1), got {rate!r}")
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

    def _recurrent_config(self):
        """The shared part of ``get_config()``."""
        return {"use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "recurrent_initializer": self.recurrent_initializer, "bias_initializer": self.bias_initializer,
                "unit_forget_bias": self.unit_forget_bias, "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": self.stateful,
                "zero_output_for_mask": self.zero_output_for_mask, "peephole": self.peephole, "cifg": self.cifg,
                "seed": self.seed, "name": self.name, "dtype": self.dtype.name}

    @property
    def gates(self):
        """The number of gates the weights hold: 4 (``i, f, c, o``), or 3 with ``cifg``."""
        return 3 if self.cifg else 4

    def _bias_initializer(self, shape, dtype):
        if not self.unit_forget_bias:
            return self.bias_initializer(shape, dtype)
        u = self.state_channels
        input_gate = [] if self.cifg else [self.bias_initializer((u,), dtype)]
        return np.concatenate(input_gate + [np.ones(u, dtype), self.bias_initializer((2 * u,), dtype)])  # f, then c, o

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def reset_state(self):
        """Forget the state a stateful layer carries between calls."""
        self.states = None

    def _initial_states(self, initial_state, batch):
        """[h0, c0] from ``initial_state``, the carried state of a stateful layer, or [None, None] (zeros)."""
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)) or len(initial_state) != 2:
                raise ValueError(f"{self.name}: initial_state must be [h, c], two arrays of shape "
                                 f"{self._state_description}")
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

    def _dropout_masks(self, x, state_shape, training):
        """(input mask, recurrent mask), each None unless training with that dropout: the input mask has
        x's shape with the time axis 1 (one mask per sequence, as Keras), the recurrent one ``state_shape``;
        both scaled by 1 / (1 - rate), on x's device."""
        if not training or (self.dropout == 0 and self.recurrent_dropout == 0):
            return None, None
        ops = backend.array_ops(x)
        # Drawn on the host whatever the device, so that a seed gives the same masks everywhere.
        generator = utils.global_generator() if self.seed is None else np.random.default_rng(self.seed)
        masks = []
        for rate, shape in ((self.dropout, (x.shape[0], 1) + tuple(x.shape[2:])),
                            (self.recurrent_dropout, tuple(state_shape))):
            keep = generator.random(shape) >= rate if rate > 0 else None
            masks.append(None if keep is None else ops.local((keep / (1.0 - rate)).astype(self.dtype)))
        return tuple(masks)

    def _assemble_outputs(self, outputs, h, c):
        """The layer's result from the kernel's ``outputs`` (the caller's time order; None from a pass that
        wrote none) and final states."""
        ops = backend.array_ops(h if outputs is None else outputs)
        if self.return_sequences:  # Keras: processing order
            output = ops.reverse_time(outputs) if self.go_backwards else outputs
        elif outputs is None:  # the last output is the final state h (zero_output_for_mask shapes sequences only)
            output = ops.copy(h) if self.stateful else h  # not the array the layer keeps as its state
        else:  # one copy of the last processed step, not the two of h_n and c_n
            output = ops.time_step(outputs, 0 if self.go_backwards else outputs.shape[1] - 1)
        if self.stateful:
            self.states = (h, c)
        return [output, ops.copy(h), ops.copy(c)] if self.return_state else output

    def _split_output_gradient(self, d_output):
        """(d_outputs in the kernel's time order or None, d_h_n or None, d_c_n or None) from backward's
        ``d_output``."""
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
        return d_outputs, d_h, d_c
