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

Beyond Keras (for numlstm's kernels, ``numlstm.convlstm_forward``), each off by default:

- ``peephole``: Hadamard peepholes over the whole state (Shi et al., 2015),
  shape ``spatial_out + ((G - 1) * filters,)`` holding ``p_i, p_f, p_o`` side
  by side; :math:`z^{(i)} \mathrel{+}= p_i \odot c_{t-1}`,
  :math:`z^{(f)} \mathrel{+}= p_f \odot c_{t-1}` and, once :math:`c_t` is
  known, :math:`z^{(o)} \mathrel{+}= p_o \odot c_t`;
- ``cifg``: a coupled input-forget gate, G = 3 gates ``f, c, o`` (``W``,
  ``U`` and ``b`` have ``3 * filters`` columns) and :math:`i_t = 1 - f_t`;
  the peepholes are then ``p_f, p_o``;
- ``mask``: bool (B, T), indexed by the input step; a masked step leaves
  ``h`` and ``c`` as they were and outputs the carried ``h`` (zeros with
  ``zero_output_for_mask``), as Keras 3 does;
- ``recurrent_mask``: shape (B, *spatial_out, filters), multiplies
  :math:`h_{t-1}` before the recurrent convolution at every step (recurrent
  dropout); the carried state itself is not multiplied.
"""

import itertools

import numpy as np


def sigmoid(z):
    """The logistic function, elementwise (exp(-z) overflowing to infinity for z << 0 gives the right 0)."""
    with np.errstate(over="ignore"):
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
                     dilation_rate=1, go_backwards=False, *, peephole=None, cifg=False, mask=None,
                     zero_output_for_mask=False, recurrent_mask=None):
    """Runs a ConvLSTM over a sequence, Keras 3's ``ConvLSTM1D/2D`` forward pass (channels_last).

    The rank of the convolution (1 or 2; any rank works) is ``kernel.ndim - 2``.

    Parameters
    ----------
    x : ndarray, shape (B, T, *spatial, C_in)
        Input sequence.
    kernel : ndarray, shape (*kernel_size, C_in, G * filters)
        Input kernel, gates i, f, c, o (G = 4) or, with ``cifg``, f, c, o (G = 3).
    recurrent_kernel : ndarray, shape (*recurrent_kernel_size, filters, G * filters)
        Recurrent kernel, same gates.
    bias : ndarray, shape (G * filters,), optional
        Gate bias; none (``use_bias=False``) when omitted.
    h0, c0 : ndarray, shape (B, *spatial_out, filters), optional
        Initial hidden and cell states; zeros when omitted.
    strides, dilation_rate : int or tuple of int
        Of the input convolution only.
    padding : {"valid", "same"}
        Of the input convolution only; the recurrent one is always "same".
    go_backwards : bool
        Process the steps from last to first and return the sequence in that order.
    peephole : ndarray, shape (*spatial_out, (G - 1) * filters), optional
        Hadamard peephole weights p_i, p_f, p_o (p_f, p_o with ``cifg``); none when omitted.
    cifg : bool
        Coupled input-forget gate: three gates f, c, o and i = 1 - f.
    mask : bool ndarray, shape (B, T), optional
        ``mask[b, t]`` False: the step reading ``x[b, t]`` keeps h and c.
    zero_output_for_mask : bool
        A masked step outputs zeros instead of the carried h.
    recurrent_mask : ndarray, shape (B, *spatial_out, filters), optional
        Multiplies h_{t-1} before the recurrent convolution.

    Returns
    -------
    outputs : ndarray, shape (B, T, *spatial_out, filters)
        The hidden state after each step (or zeros, see ``zero_output_for_mask``), in processing order.
    h, c : ndarray, shape (B, *spatial_out, filters)
        The last hidden and cell states.
    """
    rank = kernel.ndim - 2
    if x.ndim != rank + 3:
        raise ValueError(f"a rank-{rank} kernel needs a ({rank + 3})-D input, got shape {x.shape}")
    if max(_tuple(strides, rank, "strides")) > 1 and max(_tuple(dilation_rate, rank, "dilation_rate")) > 1:
        raise ValueError("strides > 1 together with dilation_rate > 1 is not supported (as in Keras)")
    gates = 3 if cifg else 4
    filters = recurrent_kernel.shape[-2]
    if kernel.shape[-1] != gates * filters or recurrent_kernel.shape[-1] != gates * filters:
        raise ValueError(f"{gates} gates of {filters} filters need {gates * filters} kernel columns, got "
                         f"{kernel.shape} and {recurrent_kernel.shape}")
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
    if peephole is not None:
        peephole = np.asarray(peephole)
        if peephole.shape != state_shape[1:-1] + ((gates - 1) * filters,):
            raise ValueError(f"peephole must have shape {state_shape[1:-1] + ((gates - 1) * filters,)}, "
                             f"got {peephole.shape}")
        # p_i, p_f, p_o side by side (p_f, p_o with cifg)
        p = dict(zip("fo" if cifg else "ifo", np.split(peephole, gates - 1, axis=-1)))
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.shape != (B, T):
            raise ValueError(f"mask must be a bool array of shape {(B, T)}, got {mask.dtype} {mask.shape}")
    if recurrent_mask is not None and np.shape(recurrent_mask) != state_shape:
        raise ValueError(f"recurrent_mask must have shape {state_shape}, got {np.shape(recurrent_mask)}")
    outputs = np.zeros((B, T) + state_shape[1:], dtype)
    order = range(T - 1, -1, -1) if go_backwards else range(T)
    for step, t in enumerate(order):
        h_in = h if recurrent_mask is None else h * recurrent_mask
        z = x_conv[:, t] + conv(h_in, recurrent_kernel, 1, "same", 1)
        if cifg:
            z_f, z_c, z_o = np.split(z, 3, axis=-1)
        else:
            z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
        if peephole is not None:
            z_f = z_f + p["f"] * c
            if not cifg:
                z_i = z_i + p["i"] * c
        f = sigmoid(z_f)
        i = 1.0 - f if cifg else sigmoid(z_i)
        c_new = f * c + i * np.tanh(z_c)
        if peephole is not None:
            z_o = z_o + p["o"] * c_new
        h_new = sigmoid(z_o) * np.tanh(c_new)
        if mask is None:
            h, c = h_new, c_new
            outputs[:, step] = h
        else:
            keep = mask[:, t].reshape((B,) + (1,) * (h.ndim - 1))
            h = np.where(keep, h_new, h)
            c = np.where(keep, c_new, c)
            outputs[:, step] = np.where(keep, h, 0.0) if zero_output_for_mask else h
    return outputs, h, c
