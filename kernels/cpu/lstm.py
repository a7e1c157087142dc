"""The LSTM time loop and backpropagation through time on the CPU.

Structured as oneDNN and cuDNN do: the input projection of every timestep is
one GEMM before the loop; each step does only the recurrent product and the
fused gate kernel (``lstm_cell``); the weight gradients are a few large GEMMs
after the reverse loop.

Internally everything is time-major and in processing order: step ``s``
reads timestep ``t = T-1-s`` when ``reverse`` is set. Inputs and outputs are
batch-major (B, T, ...) in the caller's time order.

A forward pass is two calls, ``input_projection`` then ``forward_loop`` (the
time loop, and the outputs); BPTT is ``backward_loop`` then
``weight_gradients``. The caller allocates the large arrays they fill
(``numlstm.functional`` cuts them from one allocation).

Batch rows never interact, so a time loop runs on ``chunks`` blocks of rows,
each block through all timesteps on its own: in the ``*_parallel`` entry
points the blocks run on Numba's threads with no synchronisation between
steps.

The large GEMMs (input projection, weight gradients) go to BLAS through
``np.dot``; the per-step recurrent products go to ``packed_gemm``, with the
recurrent weights packed once per pass.
"""

import numpy as np
from numba import njit, prange

from ..options import JIT_KWARGS
from ..lstm_cell import accumulate_peephole_grad, cell_backward, cell_forward
from .packed_gemm import packed_matmul


@njit(inline="always", **JIT_KWARGS)
def _timestep(s, T, reverse):
    return T - 1 - s if reverse else s


@njit(inline="always", **JIT_KWARGS)
def _chunk_rows(chunk, chunks, B):
    return chunk * B // chunks, (chunk + 1) * B // chunks


# Element loops instead of slice assignments (``a[i] = b[j]``): those compile Numba's shape-mismatch error
# path, which formats its message in compiled code, about 5 s of a first run for a path that never runs.
@njit(inline="always", **JIT_KWARGS)
def _copy(target, source):
    for j in range(target.shape[0]):
        target[j] = source[j]


@njit(inline="always", **JIT_KWARGS)
def _fill(target, value):
    for j in range(target.shape[0]):
        target[j] = value


@njit(inline="always", **JIT_KWARGS)
def _add(target, source):
    for j in range(target.shape[0]):
        target[j] += source[j]


@njit(inline="always", **JIT_KWARGS)
def _forward_rows(lo, hi, gates, hs, cs, recurrent_panels, bias, peephole, rec, masked_h, mask, use_mask,
                  recurrent_mask, use_recurrent_mask, reverse, cifg):
    """The time loop for batch rows lo:hi; with a recurrent mask, rec = (h * mask) @ R."""
    T = gates.shape[0]
    for s in range(T):
        t = _timestep(s, T, reverse)
        # One call site: each inlined copy of the product compiles its kernels again.
        if use_recurrent_mask:
            for b in range(lo, hi):
                for j in range(hs.shape[2]):
                    masked_h[b, j] = hs[s, b, j] * recurrent_mask[b, j]
            h_in = masked_h
        else:
            h_in = hs[s]
        packed_matmul(h_in, lo, hi, recurrent_panels, rec)
        for b in range(lo, hi):
            if use_mask and not mask[b, t]:
                _copy(hs[s + 1, b], hs[s, b])
                _copy(cs[s + 1, b], cs[s, b])
                continue
            cell_forward(gates[s, b], rec[b], bias, peephole, cs[s, b], hs[s + 1, b], cs[s + 1, b], cifg)


@njit(inline="always", **JIT_KWARGS)
def _input_projection(x, kernel, reverse, chunks, xs, xs_rows, gates_rows):
    """Fill xs (T, B, F) with x (B, T, F) in processing order, and gates_rows (T*B, G*H) with xs @ kernel.

    ``xs_rows`` is ``xs`` viewed as (T*B, F), made by the caller: a reshape here would compile Numba's
    shape-error path (seconds of a first run) into every entry point.
    """
    B, T, F = x.shape
    for s in range(T):
        t = _timestep(s, T, reverse)
        for b in range(B):
            _copy(xs[s, b], x[b, t])
    for chunk in prange(chunks):
        lo, hi = _chunk_rows(chunk, chunks, T * B)
        np.dot(xs_rows[lo:hi], kernel, gates_rows[lo:hi])


@njit(**JIT_KWARGS)
def input_projection(x, kernel, reverse, chunks, xs, xs_rows, gates_rows):
    _input_projection(x, kernel, reverse, chunks, xs, xs_rows, gates_rows)


@njit(parallel=True, **JIT_KWARGS)
def input_projection_parallel(x, kernel, reverse, chunks, xs, xs_rows, gates_rows):
    _input_projection(x, kernel, reverse, chunks, xs, xs_rows, gates_rows)


@njit(inline="always", **JIT_KWARGS)
def _forward_loop(gates, recurrent_panels, bias, peephole, h0, c0, mask, use_mask,
                  recurrent_mask, use_recurrent_mask, reverse,
                  zero_output, cifg, chunks, hs, cs, outputs):
    """The time loop over the input projection ``gates`` (T, B, G*H), in place.

    Arrays are validated by ``numlstm.functional.lstm_forward``: one float
    dtype, C-contiguous. ``recurrent_panels`` is ``pack_panels`` of the
    recurrent kernel. ``mask`` is (B, T) bool, read only when ``use_mask``;
    ``recurrent_mask`` (B, H) multiplies h before the recurrent product
    (recurrent dropout), read only when ``use_recurrent_mask``.

    Fills ``outputs`` (B, T, H) in the caller's time order and ``hs``,
    ``cs`` (T+1, B, H), the states before and after every step; ``gates``
    then holds the gate activations of every step.
    """
    T, B, _ = gates.shape
    for b in range(B):
        _copy(hs[0, b], h0[b])
        _copy(cs[0, b], c0[b])
    rec = np.empty((B, recurrent_panels.shape[0] * recurrent_panels.shape[2]), gates.dtype)
    masked_h = np.empty((B, hs.shape[2]), gates.dtype)
    for chunk in prange(chunks):
        lo, hi = _chunk_rows(chunk, chunks, B)
        _forward_rows(lo, hi, gates, hs, cs, recurrent_panels, bias, peephole, rec, masked_h, mask, use_mask,
                      recurrent_mask, use_recurrent_mask, reverse, cifg)

    for s in range(T):
        t = _timestep(s, T, reverse)
        for b in range(B):
            if zero_output and use_mask and not mask[b, t]:
                _fill(outputs[b, t], 0)
            else:
                _copy(outputs[b, t], hs[s + 1, b])  # a masked step's output is the carried h, as in Keras 3


@njit(inline="always", **JIT_KWARGS)
def _backward_rows(lo, hi, gates, cs, transposed_panels, peephole, mask, use_mask,
                   recurrent_mask, use_recurrent_mask, reverse,
                   zero_output, cifg, d_outputs, use_d_outputs, use_peephole, dh, dc,
                   dh_total, dh_rec, d_peephole):
    """The reverse time loop for batch rows lo:hi; ``d_peephole`` is this block's own sum."""
    T = gates.shape[0]
    H = dh.shape[1]
    for s in range(T - 1, -1, -1):
        t = _timestep(s, T, reverse)
        for b in range(lo, hi):
            active = not use_mask or mask[b, t]
            # A masked step's output is the carried h_{t-1} (unless
            # zero_output), so its gradient flows straight into h_{t-1}.
            output_grad = use_d_outputs and (active or not zero_output)
            if output_grad:
                for j in range(H):
                    dh_total[b, j] = dh[b, j] + d_outputs[b, t, j]
            else:
                _copy(dh_total[b], dh[b])
            if not active:
                _fill(gates[s, b], 0)
                _copy(dh[b], dh_total[b])
                continue
            cell_backward(gates[s, b], peephole, cs[s, b], cs[s + 1, b], dh_total[b], dc[b], cifg)
            if use_peephole:
                accumulate_peephole_grad(gates[s, b], cs[s, b], cs[s + 1, b], d_peephole, cifg)
        packed_matmul(gates[s], lo, hi, transposed_panels, dh_rec)
        for b in range(lo, hi):
            if not use_mask or mask[b, t]:
                if use_recurrent_mask:
                    for j in range(H):
                        dh[b, j] = dh_rec[b, j] * recurrent_mask[b, j]
                else:
                    _copy(dh[b], dh_rec[b])


@njit(inline="always", **JIT_KWARGS)
def _backward_loop(gates, cs, transposed_panels, peephole, mask, use_mask,
                   recurrent_mask, use_recurrent_mask, reverse, zero_output,
                   cifg, d_outputs, use_d_outputs, d_h_n, d_c_n, use_peephole, chunks):
    """The reverse time loop: ``gates`` becomes the pre-activation gradients, in place.

    ``transposed_panels`` is ``pack_panels`` of the transposed recurrent
    kernel. ``d_outputs`` is (B, T, H) and read only when ``use_d_outputs``.

    Returns
    -------
    dh0, dc0 : (B, H)
    d_peephole : like ``peephole`` (zeros unless ``use_peephole``)
    """
    T, B, _ = gates.shape
    H = cs.shape[2]
    dh = d_h_n.copy()
    dc = d_c_n.copy()
    dh_total = np.empty((B, H), gates.dtype)
    dh_rec = np.empty((B, transposed_panels.shape[0] * transposed_panels.shape[2]), gates.dtype)
    d_peephole_chunks = np.zeros((chunks, peephole.shape[0]), gates.dtype)
    for chunk in prange(chunks):
        lo, hi = _chunk_rows(chunk, chunks, B)
        _backward_rows(lo, hi, gates, cs, transposed_panels, peephole, mask, use_mask,
                       recurrent_mask, use_recurrent_mask, reverse,
                       zero_output, cifg, d_outputs, use_d_outputs, use_peephole, dh, dc,
                       dh_total, dh_rec, d_peephole_chunks[chunk])
    d_peephole = np.zeros_like(peephole)
    for chunk in range(chunks):
        _add(d_peephole, d_peephole_chunks[chunk])
    return dh, dc, d_peephole


@njit(inline="always", **JIT_KWARGS)
def _weight_gradients(xs_rows, dz_rows, hs_rows, kernel, reverse, chunks, input_gradient, dx_rows, partial_kernel,
                      partial_recurrent, dx, d_kernel, d_recurrent_kernel, d_bias):
    """The GEMMs after BPTT, over the pre-activation gradients ``dz_rows`` (T*B, G*H).

    The caller passes the time-major arrays as (T*B, ...) row views: ``xs_rows``, ``dz_rows`` and
    ``hs_rows`` (the states h_0..h_{T-1} each step multiplied). The T*B rows are split into ``chunks``
    blocks: block 0 writes into ``d_kernel`` and ``d_recurrent_kernel``, block c > 0 into
    ``partial_*[c - 1]``, and the partial sums are added at the end, so that the parallel entry point keeps
    every core busy with single-threaded BLAS. Fills d_kernel (F, G*H), d_recurrent_kernel (H, G*H),
    d_bias (G*H,), and dx (B, T, F) when ``input_gradient`` (the first layer of a model needs no dx:
    skipping it saves a sixth of the GEMM work).
    """
    rows, GH = dz_rows.shape
    B, T, F = dx.shape
    d_bias_chunks = np.zeros((chunks, GH), dz_rows.dtype)
    for chunk in prange(chunks):
        lo, hi = _chunk_rows(chunk, chunks, rows)
        if chunk == 0:
            np.dot(xs_rows[lo:hi].T, dz_rows[lo:hi], d_kernel)
            np.dot(hs_rows[lo:hi].T, dz_rows[lo:hi], d_recurrent_kernel)
        else:
            np.dot(xs_rows[lo:hi].T, dz_rows[lo:hi], partial_kernel[chunk - 1])
            np.dot(hs_rows[lo:hi].T, dz_rows[lo:hi], partial_recurrent[chunk - 1])
        if input_gradient:
            np.dot(dz_rows[lo:hi], kernel.T, dx_rows[lo:hi])
        for r in range(lo, hi):
            for n in range(GH):
                d_bias_chunks[chunk, n] += dz_rows[r, n]
    for chunk in range(1, chunks):
        for row in range(d_kernel.shape[0]):
            _add(d_kernel[row], partial_kernel[chunk - 1, row])
        for row in range(d_recurrent_kernel.shape[0]):
            _add(d_recurrent_kernel[row], partial_recurrent[chunk - 1, row])
    _copy(d_bias, d_bias_chunks[0])
    for chunk in range(1, chunks):
        _add(d_bias, d_bias_chunks[chunk])
    if not input_gradient:
        return
    for s in range(T):
        t = _timestep(s, T, reverse)
        for b in range(B):
            _copy(dx[b, t], dx_rows[s * B + b])


@njit(**JIT_KWARGS)
def weight_gradients(xs_rows, dz_rows, hs_rows, kernel, reverse, chunks, input_gradient, dx_rows, partial_kernel,
                     partial_recurrent, dx, d_kernel, d_recurrent_kernel, d_bias):
    _weight_gradients(xs_rows, dz_rows, hs_rows, kernel, reverse, chunks, input_gradient, dx_rows, partial_kernel,
                      partial_recurrent, dx, d_kernel, d_recurrent_kernel, d_bias)


@njit(parallel=True, **JIT_KWARGS)
def weight_gradients_parallel(xs_rows, dz_rows, hs_rows, kernel, reverse, chunks, input_gradient, dx_rows,
                              partial_kernel, partial_recurrent, dx, d_kernel, d_recurrent_kernel, d_bias):
    _weight_gradients(xs_rows, dz_rows, hs_rows, kernel, reverse, chunks, input_gradient, dx_rows, partial_kernel,
                      partial_recurrent, dx, d_kernel, d_recurrent_kernel, d_bias)


# Time-loop entry points. The variant is a compile-time constant of each,
# inlined into it: LLVM then knows the gate offsets and vectorises the gate
# loops, which a run-time ``cifg`` flag made 3x slower (numba.literally would
# do the same but re-dispatches through Python on every call). Each is its
# own named function so that Numba's on-disk cache keeps them apart.

@njit(**JIT_KWARGS)
def forward_loop_standard(gates, recurrent_panels, bias, peephole, h0, c0, mask, use_mask,
                          recurrent_mask, use_recurrent_mask, reverse,
                          zero_output, chunks, hs, cs, outputs):
    _forward_loop(gates, recurrent_panels, bias, peephole, h0, c0, mask, use_mask,
                  recurrent_mask, use_recurrent_mask, reverse,
                  zero_output, False, chunks, hs, cs, outputs)


@njit(**JIT_KWARGS)
def forward_loop_cifg(gates, recurrent_panels, bias, peephole, h0, c0, mask, use_mask,
                      recurrent_mask, use_recurrent_mask, reverse,
                      zero_output, chunks, hs, cs, outputs):
    _forward_loop(gates, recurrent_panels, bias, peephole, h0, c0, mask, use_mask,
                  recurrent_mask, use_recurrent_mask, reverse,
                  zero_output, True, chunks, hs, cs, outputs)


@njit(parallel=True, **JIT_KWARGS)
def forward_loop_standard_parallel(gates, recurrent_panels, bias, peephole, h0, c0, mask, use_mask,
                                   recurrent_mask, use_recurrent_mask,
                                   reverse, zero_output, chunks, hs, cs, outputs):
    _forward_loop(gates, recurrent_panels, bias, peephole, h0, c0, mask, use_mask,
                  recurrent_mask, use_recurrent_mask, reverse,
                  zero_output, False, chunks, hs, cs, outputs)


@njit(parallel=True, **JIT_KWARGS)
def forward_loop_cifg_parallel(gates, recurrent_panels, bias, peephole, h0, c0, mask, use_mask,
                               recurrent_mask, use_recurrent_mask,
                               reverse, zero_output, chunks, hs, cs, outputs):
    _forward_loop(gates, recurrent_panels, bias, peephole, h0, c0, mask, use_mask,
                  recurrent_mask, use_recurrent_mask, reverse,
                  zero_output, True, chunks, hs, cs, outputs)


@njit(**JIT_KWARGS)
def backward_loop_standard(gates, cs, transposed_panels, peephole, mask, use_mask,
                           recurrent_mask, use_recurrent_mask, reverse,
                           zero_output, d_outputs, use_d_outputs, d_h_n, d_c_n, use_peephole, chunks):
    return _backward_loop(gates, cs, transposed_panels, peephole, mask, use_mask,
                          recurrent_mask, use_recurrent_mask, reverse, zero_output,
                          False, d_outputs, use_d_outputs, d_h_n, d_c_n, use_peephole, chunks)


@njit(**JIT_KWARGS)
def backward_loop_cifg(gates, cs, transposed_panels, peephole, mask, use_mask,
                       recurrent_mask, use_recurrent_mask, reverse,
                       zero_output, d_outputs, use_d_outputs, d_h_n, d_c_n, use_peephole, chunks):
    return _backward_loop(gates, cs, transposed_panels, peephole, mask, use_mask,
                          recurrent_mask, use_recurrent_mask, reverse, zero_output,
                          True, d_outputs, use_d_outputs, d_h_n, d_c_n, use_peephole, chunks)


@njit(parallel=True, **JIT_KWARGS)
def backward_loop_standard_parallel(gates, cs, transposed_panels, peephole, mask, use_mask,
                                    recurrent_mask, use_recurrent_mask, reverse,
                                    zero_output, d_outputs, use_d_outputs, d_h_n, d_c_n,
                                    use_peephole, chunks):
    return _backward_loop(gates, cs, transposed_panels, peephole, mask, use_mask,
                          recurrent_mask, use_recurrent_mask, reverse, zero_output,
                          False, d_outputs, use_d_outputs, d_h_n, d_c_n, use_peephole, chunks)


@njit(parallel=True, **JIT_KWARGS)
def backward_loop_cifg_parallel(gates, cs, transposed_panels, peephole, mask, use_mask,
                                recurrent_mask, use_recurrent_mask, reverse,
                                zero_output, d_outputs, use_d_outputs, d_h_n, d_c_n,
                                use_peephole, chunks):
    return _backward_loop(gates, cs, transposed_panels, peephole, mask, use_mask,
                          recurrent_mask, use_recurrent_mask, reverse, zero_output,
                          True, d_outputs, use_d_outputs, d_h_n, d_c_n, use_peephole, chunks)


# (cifg, parallel) -> entry point
FORWARD_LOOP = {
    (False, False): forward_loop_standard, (True, False): forward_loop_cifg,
    (False, True): forward_loop_standard_parallel, (True, True): forward_loop_cifg_parallel,
}
BACKWARD_LOOP = {
    (False, False): backward_loop_standard, (True, False): backward_loop_cifg,
    (False, True): backward_loop_standard_parallel, (True, True): backward_loop_cifg_parallel,
}
WEIGHT_GRADIENTS = {False: weight_gradients, True: weight_gradients_parallel}
INPUT_PROJECTION = {False: input_projection, True: input_projection_parallel}
