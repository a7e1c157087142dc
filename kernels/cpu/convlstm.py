"""The ConvLSTM time loop and backpropagation through time on the CPU.

The LSTM's structure (``lstm.py``) with convolutions for products: the input
convolution of every timestep is done before the loop; each step does only
the recurrent convolution and the fused gate kernel (``lstm_cell``); the
weight gradients are accumulated after the reverse loop.

A convolution here is a gather and a GEMM: the patches of a frame (one row
per output position, laid out ``[tap, channel]``) are gathered through a
table from ``conv_geometry`` and multiplied by the kernel reshaped to
``(taps * channels, G * filters)``. Rows are (batch item, position) pairs,
so a frame's state is ``(positions, filters)`` and the gate kernel runs on
every row exactly as on an LSTM's batch row, with the row's own peephole
weights (the peepholes are Hadamard products over the whole state).

Layouts, all C-contiguous, time-major and in processing order inside (step
``s`` reads timestep ``t = T-1-s`` when ``reverse``):

- ``x`` (B, T, P_in, C) and ``outputs`` (B, T, P, F): the caller's order.
- ``gates`` (T, B * P, G * F): the input convolution, then the activations,
  then (after BPTT) the pre-activation gradients.
- ``hs``, ``cs`` (T + 1, B * P, F): the states before and after each step.

Work is split into ``chunks`` blocks, one per Numba thread: blocks of rows
in the time loops (a step needs every row of the step before, so a loop is
one parallel region per step and direction), blocks of frames (a (step,
batch item) pair) for the convolutions over all steps. BLAS runs on one
thread inside each block (``numlstm.threads``).
"""

import numpy as np
from numba import prange

from ..lstm_cell import accumulate_peephole_grad, cell_backward, cell_forward
from ..disk_cache import njit
from ..options import JIT_KWARGS


@njit(inline="always", **JIT_KWARGS)
def _timestep(s, T, reverse):
    return T - 1 - s if reverse else s


@njit(inline="always", **JIT_KWARGS)
def _chunk_rows(chunk, chunks, B):
    return chunk * B // chunks, (chunk + 1) * B // chunks


#: Rows of patches a frame block gathers before its GEMMs (at least one frame's): enough rows to keep BLAS
#: efficient, few enough that the per-thread patch buffers stay small. 1024 rows cost 8 MiB more peak memory
#: in the moving-mnist training step than 256, for the same time (asv_bench/README.md).
BLOCK_ROWS = 256


@njit(inline="always", **JIT_KWARGS)
def _gather_row(source, base, table_row, patch_row, scale, use_scale):
    """patch_row[k*C:(k+1)*C] = source[base + table_row[k]] (times ``scale``'s same row), or zeros."""
    C = source.shape[1]
    for k in range(table_row.shape[0]):
        q = table_row[k]
        if q < 0:
            for c in range(C):
                patch_row[k * C + c] = 0
        elif use_scale:
            for c in range(C):
                patch_row[k * C + c] = source[base + q, c] * scale[base + q, c]
        else:
            for c in range(C):
                patch_row[k * C + c] = source[base + q, c]


@njit(inline="always", **JIT_KWARGS)
def _scatter_gather_row(d_patches, base, inverse_row, out_row):
    """out_row = sum over taps k of d_patches[base + inverse_row[k], k*C:(k+1)*C]: a convolution's input
    gradient at one position, summed from the patch gradients of the outputs that read it."""
    C = out_row.shape[0]
    for c in range(C):
        out_row[c] = 0
    for k in range(inverse_row.shape[0]):
        p = inverse_row[k]
        if p >= 0:
            for c in range(C):
                out_row[c] += d_patches[base + p, k * C + c]


@njit(parallel=True, **JIT_KWARGS)
def input_convolution(x, kernel, table, reverse, chunks, patches, gates):
    """gates[s, b*P:(b+1)*P] = patches of x[b, t] @ kernel, for every frame, in blocks of whole frames.

    ``patches`` (chunks, block rows, taps * C) is each block's own buffer.
    """
    B, T = x.shape[0], x.shape[1]
    P = table.shape[0]
    GF = gates.shape[2]
    frame_rows = gates.reshape(T * B * P, GF)
    per_block = max(1, patches.shape[1] // P)
    no_scale = np.empty((0, 0), x.dtype)
    for chunk in prange(chunks):
        first, last = _chunk_rows(chunk, chunks, T * B)
        for f0 in range(first, last, per_block):
            n = min(per_block, last - f0)
            for i in range(n):
                s, b = divmod(f0 + i, B)
                frame = x[b, _timestep(s, T, reverse)]
                for p in range(P):
                    _gather_row(frame, 0, table[p], patches[chunk, i * P + p], no_scale, False)
            np.dot(patches[chunk, :n * P], kernel, frame_rows[f0 * P:(f0 + n) * P])


@njit(inline="always", **JIT_KWARGS)
def _forward_loop(gates, recurrent_kernel, bias, peephole, use_peephole, h0, c0, table, mask, use_mask,
                  recurrent_mask, use_recurrent_mask, reverse, zero_output, cifg, chunks, patches, rec,
                  hs, cs, outputs):
    """The time loop over the input convolution ``gates``, in place (see the module's layouts).

    ``recurrent_kernel`` is (taps * F, G * F); ``peephole`` (P, (G-1) * F),
    row 0 read for every position unless ``use_peephole``; ``table`` the
    recurrent convolution's (P, taps); ``recurrent_mask`` (B * P, F)
    multiplies h before the recurrent convolution. ``patches`` (B * P,
    taps * F) and ``rec`` (B * P, G * F) are scratch.
    """
    T, rows, _ = gates.shape
    B, P = outputs.shape[0], outputs.shape[2]
    hs[0] = h0
    cs[0] = c0
    for s in range(T):
        t = _timestep(s, T, reverse)
        for chunk in prange(chunks):
            lo, hi = _chunk_rows(chunk, chunks, rows)
            for r in range(lo, hi):
                b = r // P
                _gather_row(hs[s], b * P, table[r - b * P], patches[r], recurrent_mask, use_recurrent_mask)
            np.dot(patches[lo:hi], recurrent_kernel, rec[lo:hi])
            for r in range(lo, hi):
                b = r // P
                if use_mask and not mask[b, t]:
                    hs[s + 1, r] = hs[s, r]
                    cs[s + 1, r] = cs[s, r]
                    continue
                p = r - b * P if use_peephole else 0
                cell_forward(gates[s, r], rec[r], bias, peephole[p], cs[s, r], hs[s + 1, r], cs[s + 1, r], cifg, True)
    for s in range(T):
        t = _timestep(s, T, reverse)
        for b in range(B):
            if zero_output and use_mask and not mask[b, t]:
                outputs[b, t] = 0
            else:  # a masked step's output is the carried h, as in Keras 3
                outputs[b, t] = hs[s + 1, b * P:(b + 1) * P]


@njit(parallel=True, **JIT_KWARGS)
def forward_loop_standard(gates, recurrent_kernel, bias, peephole, use_peephole, h0, c0, table, mask, use_mask,
                          recurrent_mask, use_recurrent_mask, reverse, zero_output, chunks, patches, rec,
                          hs, cs, outputs):
    _forward_loop(gates, recurrent_kernel, bias, peephole, use_peephole, h0, c0, table, mask, use_mask,
                  recurrent_mask, use_recurrent_mask, reverse, zero_output, False, chunks, patches, rec,
                  hs, cs, outputs)


@njit(parallel=True, **JIT_KWARGS)
def forward_loop_cifg(gates, recurrent_kernel, bias, peephole, use_peephole, h0, c0, table, mask, use_mask,
                      recurrent_mask, use_recurrent_mask, reverse, zero_output, chunks, patches, rec,
                      hs, cs, outputs):
    _forward_loop(gates, recurrent_kernel, bias, peephole, use_peephole, h0, c0, table, mask, use_mask,
                  recurrent_mask, use_recurrent_mask, reverse, zero_output, True, chunks, patches, rec,
                  hs, cs, outputs)


@njit(inline="always", **JIT_KWARGS)
def _backward_loop(gates, cs, recurrent_kernel, peephole, use_peephole, inverse, mask, use_mask,
                   recurrent_mask, use_recurrent_mask, reverse, zero_output, cifg, d_outputs, use_d_outputs,
                   d_h_n, d_c_n, chunks, d_patches):
    """The reverse time loop: ``gates`` becomes the pre-activation gradients, in place.

    ``inverse`` is the recurrent convolution's inverse table (P, taps);
    ``d_outputs`` (B, T, P, F) is read only when ``use_d_outputs``;
    ``d_patches`` (B * P, taps * F) is scratch.

    Returns
    -------
    dh0, dc0 : (B * P, F)
    d_peephole : like ``peephole`` (zeros unless ``use_peephole``)
    """
    T, rows, _ = gates.shape
    F = cs.shape[2]
    P = inverse.shape[0]
    dh = d_h_n.copy()
    dc = d_c_n.copy()
    dh_total = np.empty((rows, F), gates.dtype)
    d_peephole_chunks = np.zeros((chunks,) + peephole.shape if use_peephole else (chunks, 1, 1), gates.dtype)
    for s in range(T - 1, -1, -1):
        t = _timestep(s, T, reverse)
        for chunk in prange(chunks):
            lo, hi = _chunk_rows(chunk, chunks, rows)
            for r in range(lo, hi):
                b = r // P
                p = r - b * P
                active = not use_mask or mask[b, t]
                # A masked step's output is the carried h_{t-1} (unless zero_output), so its gradient
                # flows straight into h_{t-1}.
                if use_d_outputs and (active or not zero_output):
                    for j in range(F):
                        dh_total[r, j] = dh[r, j] + d_outputs[b, t, p, j]
                else:
                    dh_total[r] = dh[r]
                if not active:
                    gates[s, r] = 0
                    dh[r] = dh_total[r]
                    continue
                cell_backward(gates[s, r], peephole[p if use_peephole else 0], cs[s, r], cs[s + 1, r],
                              dh_total[r], dc[r], cifg)
                if use_peephole:
                    accumulate_peephole_grad(gates[s, r], cs[s, r], cs[s + 1, r], d_peephole_chunks[chunk, p], cifg)
            np.dot(gates[s, lo:hi], recurrent_kernel.T, d_patches[lo:hi])
        for chunk in prange(chunks):
            lo, hi = _chunk_rows(chunk, chunks, rows)
            for r in range(lo, hi):
                b = r // P
                if use_mask and not mask[b, t]:
                    continue
                _scatter_gather_row(d_patches, b * P, inverse[r - b * P], dh[r])
                if use_recurrent_mask:
                    for j in range(F):
                        dh[r, j] *= recurrent_mask[r, j]
    d_peephole = np.zeros_like(peephole)
    if use_peephole:
        for chunk in range(chunks):
            d_peephole += d_peephole_chunks[chunk]
    return dh, dc, d_peephole


@njit(parallel=True, **JIT_KWARGS)
def backward_loop_standard(gates, cs, recurrent_kernel, peephole, use_peephole, inverse, mask, use_mask,
                           recurrent_mask, use_recurrent_mask, reverse, zero_output, d_outputs, use_d_outputs,
                           d_h_n, d_c_n, chunks, d_patches):
    return _backward_loop(gates, cs, recurrent_kernel, peephole, use_peephole, inverse, mask, use_mask,
                          recurrent_mask, use_recurrent_mask, reverse, zero_output, False, d_outputs,
                          use_d_outputs, d_h_n, d_c_n, chunks, d_patches)


@njit(parallel=True, **JIT_KWARGS)
def backward_loop_cifg(gates, cs, recurrent_kernel, peephole, use_peephole, inverse, mask, use_mask,
                       recurrent_mask, use_recurrent_mask, reverse, zero_output, d_outputs, use_d_outputs,
                       d_h_n, d_c_n, chunks, d_patches):
    return _backward_loop(gates, cs, recurrent_kernel, peephole, use_peephole, inverse, mask, use_mask,
                          recurrent_mask, use_recurrent_mask, reverse, zero_output, True, d_outputs,
                          use_d_outputs, d_h_n, d_c_n, chunks, d_patches)


@njit(parallel=True, **JIT_KWARGS)
def weight_gradients(x, dz, hs, kernel, table, inverse, recurrent_table, recurrent_mask, use_recurrent_mask,
                     reverse, chunks, input_gradient, input_patches, state_patches, d_input_patches,
                     dx, d_kernel, d_recurrent_kernel, d_bias):
    """The weight gradients (and ``dx``) from the pre-activation gradients ``dz`` (T, B * P, G * F).

    Blocks of whole frames regather the patches the forward pass multiplied
    (of x through ``table``, of the pre-step states through
    ``recurrent_table``) and add ``patches.T @ dz`` to their own partial
    sums; ``dx`` is gathered through ``inverse`` from ``dz @ kernel.T``
    within each frame. The three patch buffers are per chunk, like
    ``input_convolution``'s. Fills d_kernel (taps * C, G * F),
    d_recurrent_kernel (taps * F, G * F), d_bias (G * F,) and, when
    ``input_gradient``, dx (B, T, P_in, C).
    """
    B, T = x.shape[0], x.shape[1]
    P = table.shape[0]
    P_in = inverse.shape[0]
    GF = dz.shape[2]
    dz_rows = dz.reshape(T * B * P, GF)
    per_block = max(1, input_patches.shape[1] // P)
    d_kernel_chunks = np.zeros((chunks,) + d_kernel.shape, dz.dtype)
    d_recurrent_chunks = np.zeros((chunks,) + d_recurrent_kernel.shape, dz.dtype)
    d_bias_chunks = np.zeros((chunks, GF), dz.dtype)
    no_scale = np.empty((0, 0), x.dtype)
    for chunk in prange(chunks):
        product_kernel = np.empty(d_kernel.shape, dz.dtype)
        product_recurrent = np.empty(d_recurrent_kernel.shape, dz.dtype)
        first, last = _chunk_rows(chunk, chunks, T * B)
        for f0 in range(first, last, per_block):
            n = min(per_block, last - f0)
            for i in range(n):
                s, b = divmod(f0 + i, B)
                frame = x[b, _timestep(s, T, reverse)]
                for p in range(P):
                    _gather_row(frame, 0, table[p], input_patches[chunk, i * P + p], no_scale, False)
                    _gather_row(hs[s], b * P, recurrent_table[p], state_patches[chunk, i * P + p],
                                recurrent_mask, use_recurrent_mask)
            block = dz_rows[f0 * P:(f0 + n) * P]
            np.dot(input_patches[chunk, :n * P].T, block, product_kernel)
            d_kernel_chunks[chunk] += product_kernel
            np.dot(state_patches[chunk, :n * P].T, block, product_recurrent)
            d_recurrent_chunks[chunk] += product_recurrent
            for r in range(n * P):
                d_bias_chunks[chunk] += block[r]
            if input_gradient:
                np.dot(block, kernel.T, d_input_patches[chunk, :n * P])
                for i in range(n):
                    s, b = divmod(f0 + i, B)
                    t = _timestep(s, T, reverse)
                    for q in range(P_in):
                        _scatter_gather_row(d_input_patches[chunk], i * P, inverse[q], dx[b, t, q])
    d_kernel[:] = 0
    d_recurrent_kernel[:] = 0
    d_bias[:] = 0
    for chunk in range(chunks):
        d_kernel += d_kernel_chunks[chunk]
        d_recurrent_kernel += d_recurrent_chunks[chunk]
        d_bias += d_bias_chunks[chunk]


# cifg -> entry point. The variant is a compile-time constant of each, as in ``lstm.py``.
FORWARD_LOOP = {False: forward_loop_standard, True: forward_loop_cifg}
BACKWARD_LOOP = {False: backward_loop_standard, True: backward_loop_cifg}
