"""The LSTM time loop and backpropagation through time on the CPU.

Structured as oneDNN and cuDNN do: the input projection of every timestep is
one GEMM before the loop; each step does only the recurrent product and the
fused gate kernel (``lstm_cell``); the weight gradients are a few large GEMMs
after the reverse loop.

Internally everything is time-major and in processing order: step ``s``
reads timestep ``t = T-1-s`` when ``reverse`` is set. Inputs and outputs are
batch-major (B, T, ...) in the caller's time order.

Every product goes to BLAS through ``np.dot``. A row kernel of our own for
the per-step recurrent product (to dodge BLAS's fixed call cost at small
batch and hidden size) was measured 1.1x to 2.2x slower than BLAS at every
size from (B=1, H=32) to (B=32, H=128), so it is gone.
"""

import numpy as np
from numba import njit

from .config import JIT_OPTIONS
from .lstm_cell import accumulate_peephole_grad, cell_backward, cell_forward


@njit(inline="always", **JIT_OPTIONS)
def _timestep(s, T, reverse):
    return T - 1 - s if reverse else s


@njit(**JIT_OPTIONS)
def first_active_steps(mask, T, reverse):
    """Per batch row, the first processing step whose mask is set (T if none)."""
    B = mask.shape[0]
    first = np.full(B, T, dtype=np.int64)
    for b in range(B):
        for s in range(T):
            if mask[b, _timestep(s, T, reverse)]:
                first[b] = s
                break
    return first


@njit(inline="always", **JIT_OPTIONS)
def _forward(x, kernel, recurrent_kernel, bias, peephole, h0, c0, mask, use_mask,
                 reverse, zero_output, cifg):
    """Run one LSTM layer in one direction over a whole sequence.

    Parameters are validated by ``numlstm.functional.lstm_forward``; all
    arrays share one float dtype and are C-contiguous. ``mask`` is (B, T)
    bool, read only when ``use_mask``.

    Returns
    -------
    outputs : (B, T, H), in the caller's time order
    h_n, c_n : (B, H)
    xs : (T, B, F) the input in processing order, kept for the weight gradient
    gates : (T, B, G*H) the gate activations of every step
    hs, cs : (T+1, B, H) the states before and after every step
    """
    B, T, F = x.shape
    H = recurrent_kernel.shape[0]
    GH = recurrent_kernel.shape[1]
    dtype = x.dtype

    xs = np.empty((T, B, F), dtype)
    for s in range(T):
        t = _timestep(s, T, reverse)
        for b in range(B):
            xs[s, b] = x[b, t]
    gates = np.dot(xs.reshape(T * B, F), kernel).reshape(T, B, GH)

    hs = np.empty((T + 1, B, H), dtype)
    cs = np.empty((T + 1, B, H), dtype)
    hs[0] = h0
    cs[0] = c0
    rec = np.empty((B, GH), dtype)
    for s in range(T):
        t = _timestep(s, T, reverse)
        np.dot(hs[s], recurrent_kernel, rec)
        for b in range(B):
            if use_mask and not mask[b, t]:
                hs[s + 1, b] = hs[s, b]
                cs[s + 1, b] = cs[s, b]
                continue
            cell_forward(gates[s, b], rec[b], bias, peephole, cs[s, b], hs[s + 1, b], cs[s + 1, b], cifg)

    outputs = np.empty((B, T, H), dtype)
    first = first_active_steps(mask, T, reverse) if use_mask else np.zeros(B, np.int64)
    for s in range(T):
        t = _timestep(s, T, reverse)
        for b in range(B):
            if use_mask and not mask[b, t] and (zero_output or s < first[b]):
                outputs[b, t] = 0
            else:
                outputs[b, t] = hs[s + 1, b]
    return outputs, hs[T].copy(), cs[T].copy(), xs, gates, hs, cs


@njit(inline="always", **JIT_OPTIONS)
def _backward(xs, gates, hs, cs, kernel, recurrent_kernel, peephole, mask, use_mask,
                  reverse, zero_output, cifg, d_outputs, use_d_outputs, d_h_n, d_c_n,
                  use_peephole):
    """Backpropagation through time for ``_forward``.

    ``gates`` is overwritten with the pre-activation gradients. ``d_outputs``
    is (B, T, H) and read only when ``use_d_outputs``.

    Returns
    -------
    dx : (B, T, F)
    d_kernel : (F, G*H)
    d_recurrent_kernel : (H, G*H)
    d_bias : (G*H,)
    d_peephole : like ``peephole`` (zeros unless ``use_peephole``)
    dh0, dc0 : (B, H)
    """
    T, B, F = xs.shape
    H = recurrent_kernel.shape[0]
    GH = recurrent_kernel.shape[1]
    dtype = xs.dtype

    first = first_active_steps(mask, T, reverse) if use_mask else np.zeros(B, np.int64)
    recurrent_kernel_t = np.ascontiguousarray(recurrent_kernel.T)
    dh = d_h_n.copy()
    dc = d_c_n.copy()
    dh_total = np.empty((B, H), dtype)
    d_peephole = np.zeros_like(peephole)
    for s in range(T - 1, -1, -1):
        t = _timestep(s, T, reverse)
        for b in range(B):
            active = not use_mask or mask[b, t]
            # A masked step's output is the previous output (zero before the
            # first active step, or always with zero_output), so its gradient
            # flows straight into h_{t-1}.
            output_grad = use_d_outputs and (active or not (zero_output or s < first[b]))
            if output_grad:
                for j in range(H):
                    dh_total[b, j] = dh[b, j] + d_outputs[b, t, j]
            else:
                dh_total[b] = dh[b]
            if not active:
                gates[s, b] = 0
                dh[b] = dh_total[b]
                continue
            cell_backward(gates[s, b], peephole, cs[s, b], cs[s + 1, b], dh_total[b], dc[b], cifg)
            if use_peephole:
                accumulate_peephole_grad(gates[s, b], cs[s, b], cs[s + 1, b], d_peephole, cifg)
        np.dot(gates[s], recurrent_kernel_t, dh_total)
        for b in range(B):
            if not use_mask or mask[b, t]:
                dh[b] = dh_total[b]

    dz = gates.reshape(T * B, GH)
    d_kernel = np.dot(xs.reshape(T * B, F).T, dz)
    d_recurrent_kernel = np.dot(hs[:T].reshape(T * B, H).T, dz)
    d_bias = np.zeros(GH, dtype)
    for r in range(T * B):
        d_bias += dz[r]
    dx_steps = np.dot(dz, kernel.T).reshape(T, B, F)
    dx = np.empty((B, T, F), dtype)
    for s in range(T):
        t = _timestep(s, T, reverse)
        for b in range(B):
            dx[b, t] = dx_steps[s, b]
    return dx, d_kernel, d_recurrent_kernel, d_bias, d_peephole, dh, dc


# The variant is a compile-time constant of each entry point, inlined into it:
# LLVM then knows the gate offsets and vectorises the gate loops, which a
# run-time ``cifg`` flag made 3x slower. (numba.literally would do the same
# but re-dispatches through Python on every call.)
@njit(**JIT_OPTIONS)
def forward_standard(x, kernel, recurrent_kernel, bias, peephole, h0, c0, mask, use_mask,
                     reverse, zero_output):
    return _forward(x, kernel, recurrent_kernel, bias, peephole, h0, c0, mask, use_mask,
                    reverse, zero_output, False)


@njit(**JIT_OPTIONS)
def forward_cifg(x, kernel, recurrent_kernel, bias, peephole, h0, c0, mask, use_mask,
                 reverse, zero_output):
    return _forward(x, kernel, recurrent_kernel, bias, peephole, h0, c0, mask, use_mask,
                    reverse, zero_output, True)


@njit(**JIT_OPTIONS)
def backward_standard(xs, gates, hs, cs, kernel, recurrent_kernel, peephole, mask, use_mask,
                      reverse, zero_output, d_outputs, use_d_outputs, d_h_n, d_c_n,
                      use_peephole):
    return _backward(xs, gates, hs, cs, kernel, recurrent_kernel, peephole, mask, use_mask,
                     reverse, zero_output, False, d_outputs, use_d_outputs, d_h_n, d_c_n,
                     use_peephole)


@njit(**JIT_OPTIONS)
def backward_cifg(xs, gates, hs, cs, kernel, recurrent_kernel, peephole, mask, use_mask,
                  reverse, zero_output, d_outputs, use_d_outputs, d_h_n, d_c_n,
                  use_peephole):
    return _backward(xs, gates, hs, cs, kernel, recurrent_kernel, peephole, mask, use_mask,
                     reverse, zero_output, True, d_outputs, use_d_outputs, d_h_n, d_c_n,
                     use_peephole)


FORWARD = {False: forward_standard, True: forward_cifg}
BACKWARD = {False: backward_standard, True: backward_cifg}
