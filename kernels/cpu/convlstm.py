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

The caller (``numlstm.convlstm``) allocates every array the kernels fill or
use as scratch, and passes the time-major arrays the GEMMs read as rows
(``(T * B * P, ...)`` views). The kernels hold no array expression, slice
assignment, allocation or reshape, and call BLAS through ``blas.gemm``, not
``np.dot``: in a ``parallel=True`` function each of those compiles code of
its own (a parallel loop for every array expression, the shape checks and
their error messages for every ``np.dot``), which made a ConvLSTM's first
training step compile for about 40 s.
"""

from numba import prange

from ..lstm_cell import accumulate_peephole_grad, cell_backward, cell_forward
from ..disk_cache import njit, njit_variant
from ..options import CALLEE_JIT_KWARGS, JIT_KWARGS
from .blas import gemm

#: Rows of patches a frame block gathers before its GEMMs (at least one frame's): enough rows to keep BLAS
#: efficient, few enough that the per-thread patch buffers stay small. 1024 rows cost 8 MiB more peak memory
#: in the moving-mnist training step than 256, for the same time (asv_bench/README.md).
BLOCK_ROWS = 256


@njit(**CALLEE_JIT_KWARGS)
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


@njit(**CALLEE_JIT_KWARGS)
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
def input_convolution(x, kernel, table, reverse, chunks, patches, gate_rows):
    """gate_rows[(s*B + b)*P:(s*B + b + 1)*P] = patches of x[b, t] @ kernel, for every frame, in blocks of whole
    frames.

    ``gate_rows`` is ``gates`` (T, B * P, G * F) as rows; ``patches`` (chunks, block rows >= P, taps * C) is
    each block's own buffer.
    """
    B, T = x.shape[0], x.shape[1]
    P = table.shape[0]
    frames = T * B
    per_block = patches.shape[1] // P
    for chunk in prange(chunks):
        first, last = chunk * frames // chunks, (chunk + 1) * frames // chunks
        for f0 in range(first, last, per_block):
            n = last - f0 if last - f0 < per_block else per_block
            for i in range(n):
                s, b = (f0 + i) // B, (f0 + i) % B
                frame = x[b, T - 1 - s if reverse else s]
                for p in range(P):
                    # the frame as the unused scale: an argument of the frame's own type
                    _gather_row(frame, 0, table[p], patches[chunk, i * P + p], frame, False)
            gemm(patches[chunk, :n * P], kernel, gate_rows[f0 * P:(f0 + n) * P])


def _make_forward_loop(cifg):
    def forward_loop(gates, recurrent_kernel, bias, peephole, use_peephole, h0, c0, table, mask, use_mask,
                     recurrent_mask, use_recurrent_mask, reverse, zero_output, chunks, patches, rec, hs, cs,
                     outputs):
        """The time loop over the input convolution ``gates``, in place (see the module's layouts).

        ``recurrent_kernel`` is (taps * F, G * F); ``peephole`` (P, (G-1) * F),
        row 0 read for every position unless ``use_peephole``; ``table`` the
        recurrent convolution's (P, taps); ``recurrent_mask`` (B * P, F)
        multiplies h before the recurrent convolution. ``patches`` (B * P,
        taps * F) and ``rec`` (B * P, G * F) are scratch.
        """
        T, rows, _ = gates.shape
        F = hs.shape[2]
        B, P = outputs.shape[0], outputs.shape[2]
        for r in range(rows):
            for j in range(F):
                hs[0, r, j] = h0[r, j]
                cs[0, r, j] = c0[r, j]
        for s in range(T):
            t = T - 1 - s if reverse else s
            for chunk in prange(chunks):
                lo, hi = chunk * rows // chunks, (chunk + 1) * rows // chunks
                for r in range(lo, hi):
                    b = r // P
                    _gather_row(hs[s], b * P, table[r - b * P], patches[r], recurrent_mask, use_recurrent_mask)
                gemm(patches[lo:hi], recurrent_kernel, rec[lo:hi])
                for r in range(lo, hi):
                    b = r // P
                    if use_mask and not mask[b, t]:
                        for j in range(F):
                            hs[s + 1, r, j] = hs[s, r, j]
                            cs[s + 1, r, j] = cs[s, r, j]
                        continue
                    p = r - b * P if use_peephole else 0
                    cell_forward(gates[s, r], rec[r], bias, peephole[p], cs[s, r], hs[s + 1, r], cs[s + 1, r], cifg,
                                 True)
        for s in range(T):
            t = T - 1 - s if reverse else s
            for b in range(B):
                # a masked step's output is the carried h, as in Keras 3, or zeros with zero_output
                zeros = zero_output and use_mask and not mask[b, t]
                for p in range(P):
                    for j in range(F):
                        outputs[b, t, p, j] = 0 if zeros else hs[s + 1, b * P + p, j]

    return njit_variant(forward_loop, "cifg" if cifg else "standard", parallel=True, **JIT_KWARGS)


def _make_backward_loop(cifg):
    def backward_loop(gates, cs, recurrent_kernel, peephole, use_peephole, inverse, mask, use_mask,
                      recurrent_mask, use_recurrent_mask, reverse, zero_output, d_outputs, use_d_outputs, chunks,
                      d_patches, dh_total, d_peephole_blocks, dh, dc, d_peephole):
        """The reverse time loop: ``gates`` becomes the pre-activation gradients, in place.

        ``inverse`` is the recurrent convolution's inverse table (P, taps);
        ``d_outputs`` (B, T, P, F) is read only when ``use_d_outputs``. ``dh``
        and ``dc`` (B * P, F) hold d_h_n and d_c_n on entry, dh0 and dc0 on
        exit; ``d_peephole`` (like ``peephole``) and ``d_peephole_blocks``
        (chunks, like ``peephole``) must be zeros on entry, and ``d_peephole``
        is the peephole gradient on exit when ``use_peephole``. ``d_patches``
        (B * P, taps * F) and ``dh_total`` (B * P, F) are scratch.
        """
        T, rows, GF = gates.shape
        F = cs.shape[2]
        P = inverse.shape[0]
        for s in range(T - 1, -1, -1):
            t = T - 1 - s if reverse else s
            for chunk in prange(chunks):
                lo, hi = chunk * rows // chunks, (chunk + 1) * rows // chunks
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
                        for j in range(F):
                            dh_total[r, j] = dh[r, j]
                    if not active:
                        for j in range(GF):
                            gates[s, r, j] = 0
                        for j in range(F):
                            dh[r, j] = dh_total[r, j]
                        continue
                    cell_backward(gates[s, r], peephole[p if use_peephole else 0], cs[s, r], cs[s + 1, r],
                                  dh_total[r], dc[r], cifg)
                    if use_peephole:
                        accumulate_peephole_grad(gates[s, r], cs[s, r], cs[s + 1, r], d_peephole_blocks[chunk, p],
                                                 cifg)
                gemm(gates[s, lo:hi], recurrent_kernel.T, d_patches[lo:hi])
            for chunk in prange(chunks):
                lo, hi = chunk * rows // chunks, (chunk + 1) * rows // chunks
                for r in range(lo, hi):
                    b = r // P
                    if use_mask and not mask[b, t]:
                        continue
                    _scatter_gather_row(d_patches, b * P, inverse[r - b * P], dh[r])
                    if use_recurrent_mask:
                        for j in range(F):
                            dh[r, j] *= recurrent_mask[r, j]
        if use_peephole:
            for chunk in range(chunks):
                for p in range(d_peephole.shape[0]):
                    for j in range(d_peephole.shape[1]):
                        d_peephole[p, j] += d_peephole_blocks[chunk, p, j]

    return njit_variant(backward_loop, "cifg" if cifg else "standard", parallel=True, **JIT_KWARGS)


@njit(parallel=True, **JIT_KWARGS)
def weight_gradients(x, dz_rows, hs, kernel, table, inverse, recurrent_table, recurrent_mask, use_recurrent_mask,
                     reverse, chunks, input_gradient, input_patches, state_patches, d_input_patches, kernel_products,
                     recurrent_products, d_kernel_blocks, d_recurrent_blocks, d_bias_blocks, dx, d_kernel,
                     d_recurrent_kernel, d_bias):
    """The weight gradients (and ``dx``) from the pre-activation gradients ``dz_rows``, the (T, B * P, G * F)
    gates of the backward loop as rows.

    Blocks of whole frames regather the patches the forward pass multiplied
    (of x through ``table``, of the pre-step states through
    ``recurrent_table``) and add ``patches.T @ dz`` to their own partial
    sums (``d_kernel_blocks``, ``d_recurrent_blocks``, ``d_bias_blocks``,
    through the products ``kernel_products`` and ``recurrent_products``);
    ``dx`` is gathered through ``inverse`` from ``dz @ kernel.T`` within each
    frame. These buffers and the three patch buffers are per chunk, like
    ``input_convolution``'s. Fills d_kernel (taps * C, G * F),
    d_recurrent_kernel (taps * F, G * F), d_bias (G * F,) and, when
    ``input_gradient``, dx (B, T, P_in, C).
    """
    B, T = x.shape[0], x.shape[1]
    P = table.shape[0]
    P_in = inverse.shape[0]
    GF = dz_rows.shape[1]
    KC, KF = d_kernel.shape[0], d_recurrent_kernel.shape[0]
    frames = T * B
    per_block = input_patches.shape[1] // P
    for chunk in prange(chunks):
        d_kernel_block, d_recurrent_block, d_bias_block = (d_kernel_blocks[chunk], d_recurrent_blocks[chunk],
                                                           d_bias_blocks[chunk])
        kernel_product, recurrent_product = kernel_products[chunk], recurrent_products[chunk]
        for j in range(GF):
            d_bias_block[j] = 0
        for k in range(KC):
            for j in range(GF):
                d_kernel_block[k, j] = 0
        for k in range(KF):
            for j in range(GF):
                d_recurrent_block[k, j] = 0
        first, last = chunk * frames // chunks, (chunk + 1) * frames // chunks
        for f0 in range(first, last, per_block):
            n = last - f0 if last - f0 < per_block else per_block
            for i in range(n):
                s, b = (f0 + i) // B, (f0 + i) % B
                frame = x[b, T - 1 - s if reverse else s]
                for p in range(P):
                    _gather_row(frame, 0, table[p], input_patches[chunk, i * P + p], frame, False)
                    _gather_row(hs[s], b * P, recurrent_table[p], state_patches[chunk, i * P + p],
                                recurrent_mask, use_recurrent_mask)
            block = dz_rows[f0 * P:(f0 + n) * P]
            gemm(input_patches[chunk, :n * P].T, block, kernel_product)
            gemm(state_patches[chunk, :n * P].T, block, recurrent_product)
            for k in range(KC):
                for j in range(GF):
                    d_kernel_block[k, j] += kernel_product[k, j]
            for k in range(KF):
                for j in range(GF):
                    d_recurrent_block[k, j] += recurrent_product[k, j]
            for r in range(n * P):
                for j in range(GF):
                    d_bias_block[j] += block[r, j]
            if input_gradient:
                gemm(block, kernel.T, d_input_patches[chunk, :n * P])
                for i in range(n):
                    s, b = (f0 + i) // B, (f0 + i) % B
                    t = T - 1 - s if reverse else s
                    for q in range(P_in):
                        _scatter_gather_row(d_input_patches[chunk], i * P, inverse[q], dx[b, t, q])
    for j in range(GF):
        d_bias[j] = d_bias_blocks[0, j]
    for k in range(KC):
        for j in range(GF):
            d_kernel[k, j] = d_kernel_blocks[0, k, j]
    for k in range(KF):
        for j in range(GF):
            d_recurrent_kernel[k, j] = d_recurrent_blocks[0, k, j]
    for chunk in range(1, chunks):
        for j in range(GF):
            d_bias[j] += d_bias_blocks[chunk, j]
        for k in range(KC):
            for j in range(GF):
                d_kernel[k, j] += d_kernel_blocks[chunk, k, j]
        for k in range(KF):
            for j in range(GF):
                d_recurrent_kernel[k, j] += d_recurrent_blocks[chunk, k, j]


# cifg -> entry point. The variant is a compile-time constant of each (a closure variable), as in ``lstm.py``.
FORWARD_LOOP = {cifg: _make_forward_loop(cifg) for cifg in (False, True)}
BACKWARD_LOOP = {cifg: _make_backward_loop(cifg) for cifg in (False, True)}
