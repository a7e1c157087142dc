r"""A plain-numpy ConvLSTM forward pass (1D and 2D), written for clarity rather than speed.

It is the oracle the ConvLSTM kernels will be checked against (issue 25), in
Keras 3's weight layout and semantics (``keras.layers.ConvLSTM1D/2D``,
channels_last). With ``*`` a convolution and :math:`\odot` the elementwise
product, one step is

.. math::

    z_t &= W * x_t + U \star h_{t-1} + b \\
    i_t &= \sigma(z_t^{(i)}), \quad f_t = \sigma(z_t^{(f)}), \quad
    g_t = \tanh(z_t^{(c)}), \quad o_t = \sigma(z_t^{(o)}) \\
    c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
    h_t &= o_t \odot \tanh(c_t)

where

- ``W`` (``kernel``) has shape ``kernel_size + (C_in, 4 * filters)`` and
  :math:`W * x_t` is the input convolution with the layer's ``padding``,
  ``strides`` and ``dilation_rate``;
- ``U`` (``recurrent_kernel``) has shape ``kernel_size + (filters, 4 * filters)``
  and :math:`U \star h` is the recurrent convolution, always with stride 1,
  dilation 1 and "same" padding (whatever the layer's padding, strides and
  dilation), so the state keeps the input convolution's output size;
- ``b`` (``bias``) has shape ``(4 * filters,)``;
- the gates are in the order i, f, c, o along the last axis of ``W``, ``U``
  and ``b``.

Convolutions are cross-correlations, as in Keras. "same" padding follows
Keras/XLA: the output size is ``ceil(n / stride)`` and the total padding
``max((out - 1) * stride + (k - 1) * dilation + 1 - n, 0)`` is split with the
smaller half *before* (so an even kernel pads one more after than before).

With ``go_backwards`` the steps run from the last to the first and, as in
Keras, the returned sequence is in processing order: ``outputs[:, 0]`` is the
state after the last input step.
"""

import itertools

import numpy as np


def sigmoid(z):
    """The logistic function, elementwise."""
    return 1.0 / (1.0 + np.exp(-z))


def _tuple(value, rank, name):
    value = (value,) * rank if np.isscalar(value) else tuple(value)
    if len(value) != rank:
        raise ValueError(f"{name} must have {rank} entries, got {value}")
    return tuple(int(v) for v in value)


def conv_output_size(n, k, stride=1, dilation=1, padding="valid"):
    """The output length and the (before, after) padding of one spatial axis.

    Parameters
    ----------
    n : int
        Input length.
    k : int
        Kernel length.
    stride, dilation : int
        Stride and dilation along the axis.
    padding : {"valid", "same"}
        Keras' padding mode.

    Returns
    -------
    out : int
        Output length.
    pad : tuple of int
        Zeros added before and after the input.
    """
    span = (k - 1) * dilation + 1
    if padding == "valid":
        return max((n - span) // stride + 1, 0), (0, 0)
    if padding == "same":
        out = -(-n // stride)
        total = max((out - 1) * stride + span - n, 0)
        return out, (total // 2, total - total // 2)
    raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")


def conv(x, w, strides=1, padding="valid", dilation_rate=1):
    """A channels_last N-D cross-correlation, one kernel offset at a time.

    Parameters
    ----------
    x : ndarray, shape (B, *spatial, C_in)
        Input.
    w : ndarray, shape (*kernel_size, C_in, F)
        Kernel.
    strides, dilation_rate : int or tuple of int
        Per spatial axis.
    padding : {"valid", "same"}
        Keras' padding mode.

    Returns
    -------
    ndarray, shape (B, *spatial_out, F)
        ``y[b, p, f] = sum over offsets q and channels c of
        x_padded[b, p * stride + q * dilation, c] * w[q, c, f]``.
    """
    rank = w.ndim - 2
    kernel_size = w.shape[:rank]
    strides = _tuple(strides, rank, "strides")
    dilation = _tuple(dilation_rate, rank, "dilation_rate")
    sizes = [conv_output_size(n, k, s, d, padding)
             for n, k, s, d in zip(x.shape[1:-1], kernel_size, strides, dilation)]
    out = tuple(size for size, _ in sizes)
    x = np.pad(x, [(0, 0)] + [pad for _, pad in sizes] + [(0, 0)])
    y = np.zeros((x.shape[0],) + out + (w.shape[-1],), np.result_type(x, w))
    for offset in itertools.product(*(range(k) for k in kernel_size)):
        # the input positions this kernel offset meets, one per output position
        window = tuple(slice(q * d, q * d + (o - 1) * s + 1, s)
                       for q, d, o, s in zip(offset, dilation, out, strides))
        y += np.einsum("...c,cf->...f", x[(slice(None),) + window], w[offset])
    return y


def convlstm_forward(x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, strides=1, padding="valid",
                     dilation_rate=1, go_backwards=False):
    """Runs a ConvLSTM over a sequence, Keras 3's ``ConvLSTM1D/2D`` forward pass (channels_last).

    The rank of the convolution (1 or 2; any rank works) is ``kernel.ndim - 2``.

    Parameters
    ----------
    x : ndarray, shape (B, T, *spatial, C_in)
        Input sequence.
    kernel : ndarray, shape (*kernel_size, C_in, 4 * filters)
        Input kernel, gates i, f, c, o.
    recurrent_kernel : ndarray, shape (*kernel_size, filters, 4 * filters)
        Recurrent kernel, gates i, f, c, o.
    bias : ndarray, shape (4 * filters,), optional
        Gate bias; none (``use_bias=False``) when omitted.
    h0, c0 : ndarray, shape (B, *spatial_out, filters), optional
        Initial hidden and cell states; zeros when omitted.
    strides, dilation_rate : int or tuple of int
        Of the input convolution only.
    padding : {"valid", "same"}
        Of the input convolution only; the recurrent one is always "same".
    go_backwards : bool
        Process the steps from last to first and return the sequence in that order.

    Returns
    -------
    outputs : ndarray, shape (B, T, *spatial_out, filters)
        The hidden state after each step, in processing order.
    h, c : ndarray, shape (B, *spatial_out, filters)
        The last hidden and cell states.
    """
    rank = kernel.ndim - 2
    if x.ndim != rank + 3:
        raise ValueError(f"a rank-{rank} kernel needs a ({rank + 3})-D input, got shape {x.shape}")
    if max(_tuple(strides, rank, "strides")) > 1 and max(_tuple(dilation_rate, rank, "dilation_rate")) > 1:
        raise ValueError("strides > 1 together with dilation_rate > 1 is not supported (as in Keras)")
    filters = recurrent_kernel.shape[-2]
    B, T = x.shape[:2]
    # the input convolution of every step at once (as the LSTM's input projection)
    steps = x.reshape((B * T,) + x.shape[2:])
    x_conv = conv(steps, kernel, strides, padding, dilation_rate)
    if bias is not None:
        x_conv = x_conv + bias
    x_conv = x_conv.reshape((B, T) + x_conv.shape[1:])
    state_shape = (B,) + x_conv.shape[2:-1] + (filters,)
    dtype = x_conv.dtype
    h = np.zeros(state_shape, dtype) if h0 is None else np.array(h0, dtype)
    c = np.zeros(state_shape, dtype) if c0 is None else np.array(c0, dtype)
    outputs = np.zeros((B, T) + state_shape[1:], dtype)
    order = range(T - 1, -1, -1) if go_backwards else range(T)
    for step, t in enumerate(order):
        z = x_conv[:, t] + conv(h, recurrent_kernel, 1, "same", 1)
        z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
        c = sigmoid(z_f) * c + sigmoid(z_i) * np.tanh(z_c)
        h = sigmoid(z_o) * np.tanh(c)
        outputs[:, step] = h
    return outputs, h, c
