"""A plain-numpy LSTM, forward and BPTT, written for clarity rather than speed.

It is the independent oracle for the Numba kernels: same arguments and the
same semantics as ``numlstm.lstm_forward`` / ``lstm_backward`` (Keras weight
layout, masks, reverse, peephole, CIFG, initial states, incoming final-state
gradients), computed step by step with whole-array numpy operations.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _split(a, gates):
    return np.split(a, gates, axis=-1)


def reference_forward(x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, mask=None,
                      peephole=None, cifg=False, reverse=False, zero_output_for_mask=False,
                      recurrent_mask=None):
    """Returns outputs, h_n, c_n and the per-step cache for reference_backward."""
    B, T, _ = x.shape
    H = recurrent_kernel.shape[0]
    gates = 3 if cifg else 4
    bias = np.zeros(gates * H, x.dtype) if bias is None else bias
    peep = np.zeros((gates - 1) * H, x.dtype) if peephole is None else peephole
    h = np.zeros((B, H), x.dtype) if h0 is None else h0.copy()
    c = np.zeros((B, H), x.dtype) if c0 is None else c0.copy()
    mask = np.ones((B, T), bool) if mask is None else mask
    recurrent_mask = np.ones((B, H), x.dtype) if recurrent_mask is None else recurrent_mask
    outputs = np.zeros((B, T, H), x.dtype)
    cache = []
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        z = x[:, t] @ kernel + (h * recurrent_mask) @ recurrent_kernel + bias
        if cifg:
            z_f, z_g, z_o = _split(z, 3)
            p_f, p_o = _split(peep, 2)
            f = sigmoid(z_f + p_f * c)
            i = 1.0 - f
        else:
            z_i, z_f, z_g, z_o = _split(z, 4)
            p_i, p_f, p_o = _split(peep, 3)
            i = sigmoid(z_i + p_i * c)
            f = sigmoid(z_f + p_f * c)
        g = np.tanh(z_g)
        c_new = f * c + i * g
        o = sigmoid(z_o + p_o * c_new)
        h_new = o * np.tanh(c_new)

        m = mask[:, t][:, None]
        cache.append(dict(t=t, m=m, h=h, c=c, i=i, f=f, g=g, o=o, c_new=c_new, recurrent_mask=recurrent_mask))
        h = np.where(m, h_new, h)  # a masked step carries the state...
        c = np.where(m, c_new, c)
        outputs[:, t] = np.where(m, h, 0.0) if zero_output_for_mask else h  # ...and outputs it (Keras 3)
    return outputs, h, c, cache


def reference_backward(cache, x, kernel, recurrent_kernel, peephole=None, cifg=False,
                       zero_output_for_mask=False, d_outputs=None, d_h_n=None, d_c_n=None):
    """Gradients of the loss in the order dx, d_kernel, d_recurrent_kernel, d_bias, d_peephole, dh0, dc0."""
    B, T, _ = x.shape
    H = recurrent_kernel.shape[0]
    gates = 3 if cifg else 4
    peep = np.zeros((gates - 1) * H, x.dtype) if peephole is None else peephole
    d_outputs = np.zeros((B, T, H), x.dtype) if d_outputs is None else d_outputs
    dh = np.zeros((B, H), x.dtype) if d_h_n is None else d_h_n.copy()
    dc = np.zeros((B, H), x.dtype) if d_c_n is None else d_c_n.copy()
    dx = np.zeros_like(x)
    d_kernel = np.zeros_like(kernel)
    d_recurrent = np.zeros_like(recurrent_kernel)
    d_bias = np.zeros(gates * H, x.dtype)
    d_peep = np.zeros_like(peep)
    for step in reversed(cache):
        t, m = step["t"], step["m"]
        c_prev, c_new, i, f, g, o = (step[k] for k in ("c", "c_new", "i", "f", "g", "o"))
        # The output of a masked step is the carried h_prev, or a constant zero.
        output_is_state = m | (not zero_output_for_mask)
        dh_total = dh + np.where(output_is_state, d_outputs[:, t], 0.0)

        tc = np.tanh(c_new)
        dz_o = dh_total * tc * o * (1 - o)
        dc_t = dc + dh_total * o * (1 - tc**2)
        if cifg:
            p_f, p_o = _split(peep, 2)
            dc_t = dc_t + dz_o * p_o
            dz_f = dc_t * (c_prev - g) * f * (1 - f)
            dz_g = dc_t * (1 - f) * (1 - g**2)
            dz = np.concatenate([dz_f, dz_g, dz_o], axis=1)
            dc_prev = dc_t * f + dz_f * p_f
        else:
            p_i, p_f, p_o = _split(peep, 3)
            dc_t = dc_t + dz_o * p_o
            dz_i = dc_t * g * i * (1 - i)
            dz_f = dc_t * c_prev * f * (1 - f)
            dz_g = dc_t * i * (1 - g**2)
            dz = np.concatenate([dz_i, dz_f, dz_g, dz_o], axis=1)
            dc_prev = dc_t * f + dz_i * p_i + dz_f * p_f
        dz = np.where(m, dz, 0.0)  # a masked step has no gate gradients
        d_peep += _peephole_grad(dz, c_prev, c_new, cifg)

        dx[:, t] = dz @ kernel.T
        d_kernel += x[:, t].T @ dz
        d_recurrent += (step["h"] * step["recurrent_mask"]).T @ dz
        d_bias += dz.sum(0)
        dh = np.where(m, (dz @ recurrent_kernel.T) * step["recurrent_mask"], dh_total)
        dc = np.where(m, dc_prev, dc)
    return dx, d_kernel, d_recurrent, d_bias, (None if peephole is None else d_peep), dh, dc


def _peephole_grad(dz, c_prev, c_new, cifg):
    if cifg:
        dz_f, _, dz_o = _split(dz, 3)
        return np.concatenate([(dz_f * c_prev).sum(0), (dz_o * c_new).sum(0)])
    dz_i, dz_f, _, dz_o = _split(dz, 4)
    return np.concatenate([(dz_i * c_prev).sum(0), (dz_f * c_prev).sum(0), (dz_o * c_new).sum(0)])
