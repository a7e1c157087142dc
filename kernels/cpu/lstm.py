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
each block through all timesteps on its own (``forward_rows_*``,
``backward_rows_*``): in the ``*_parallel`` entry points the blocks run on
Numba's threads with no synchronisation between steps. The entry points call
the block loops through their native addresses (``native_calls``), so that
the block loops' code is compiled once, not once more into each entry point.

The large GEMMs (input projection, weight gradients) go to BLAS through
``np.dot``; the per-step recurrent products go to ``packed_gemm``, with the
recurrent weights packed once per pass.
"""

import numba
import numpy as np
from numba import njit, prange, types

from ..options import JIT_KWARGS
from ..lstm_cell import accumulate_peephole_grad, cell_backward, cell_forward
from .native_calls import NativeEntries, NativeEntryMissing, argument_check, array_type, call_native, find_entry
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


# The block loops of each variant are written out whole: a shared inline helper for their allocation made each
# compile 0.7-0.9 s slower (one more level of Numba's IR inlining) and ran no faster.
@njit(**JIT_KWARGS)
def forward_rows_standard(chunk, chunks, gates, hs, cs, recurrent_panels, bias, peephole, mask, use_mask,
                          recurrent_mask, use_recurrent_mask, reverse):
    T, B, _ = gates.shape
    lo, hi = _chunk_rows(chunk, chunks, B)
    rec = np.empty((B, recurrent_panels.shape[0] * recurrent_panels.shape[2]), gates.dtype)
    masked_h = np.empty((B, hs.shape[2]), gates.dtype)
    _forward_rows(lo, hi, gates, hs, cs, recurrent_panels, bias, peephole, rec, masked_h, mask, use_mask,
                  recurrent_mask, use_recurrent_mask, reverse, False)


@njit(**JIT_KWARGS)
def forward_rows_cifg(chunk, chunks, gates, hs, cs, recurrent_panels, bias, peephole, mask, use_mask,
                      recurrent_mask, use_recurrent_mask, reverse):
    T, B, _ = gates.shape
    lo, hi = _chunk_rows(chunk, chunks, B)
    rec = np.empty((B, recurrent_panels.shape[0] * recurrent_panels.shape[2]), gates.dtype)
    masked_h = np.empty((B, hs.shape[2]), gates.dtype)
    _forward_rows(lo, hi, gates, hs, cs, recurrent_panels, bias, peephole, rec, masked_h, mask, use_mask,
                  recurrent_mask, use_recurrent_mask, reverse, True)


@njit(inline="always", **JIT_KWARGS)
def _initial_states(h0, c0, hs, cs):
    for b in range(h0.shape[0]):
        _copy(hs[0, b], h0[b])
        _copy(cs[0, b], c0[b])


@njit(inline="always", **JIT_KWARGS)
def _forward_outputs(hs, mask, use_mask, reverse, zero_output, outputs):
    """outputs (B, T, H) in the caller's time order from the states hs (T+1, B, H)."""
    B, T, _ = outputs.shape
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
                   zero_output, cifg, d_outputs, use_d_outputs, use_peephole, dh, dc, dh_total, dh_rec,
                   d_peephole):
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


@njit(**JIT_KWARGS)
def backward_rows_standard(chunk, chunks, gates, cs, transposed_panels, peephole, mask, use_mask, recurrent_mask,
                           use_recurrent_mask, reverse, zero_output, d_outputs, use_d_outputs, use_peephole, dh, dc,
                           d_peephole):
    T, B, _ = gates.shape
    lo, hi = _chunk_rows(chunk, chunks, B)
    dh_total = np.empty((B, dh.shape[1]), gates.dtype)
    dh_rec = np.empty((B, transposed_panels.shape[0] * transposed_panels.shape[2]), gates.dtype)
    _backward_rows(lo, hi, gates, cs, transposed_panels, peephole, mask, use_mask, recurrent_mask,
                   use_recurrent_mask, reverse, zero_output, False, d_outputs, use_d_outputs, use_peephole, dh, dc,
                   dh_total, dh_rec, d_peephole)


@njit(**JIT_KWARGS)
def backward_rows_cifg(chunk, chunks, gates, cs, transposed_panels, peephole, mask, use_mask, recurrent_mask,
                       use_recurrent_mask, reverse, zero_output, d_outputs, use_d_outputs, use_peephole, dh, dc,
                       d_peephole):
    T, B, _ = gates.shape
    lo, hi = _chunk_rows(chunk, chunks, B)
    dh_total = np.empty((B, dh.shape[1]), gates.dtype)
    dh_rec = np.empty((B, transposed_panels.shape[0] * transposed_panels.shape[2]), gates.dtype)
    _backward_rows(lo, hi, gates, cs, transposed_panels, peephole, mask, use_mask, recurrent_mask,
                   use_recurrent_mask, reverse, zero_output, True, d_outputs, use_d_outputs, use_peephole, dh, dc,
                   dh_total, dh_rec, d_peephole)


@njit(inline="always", **JIT_KWARGS)
def _backward_scratch(peephole, d_h_n, d_c_n, chunks):
    """The running state gradients (from d_h_n, d_c_n) and the blocks' peephole sums.

    Element loops into ``np.empty``, not ``np.zeros`` or ``copy()``: in a ``parallel=True`` entry point
    Numba turns each of those into a parallel loop of its own, compiled apart (0.4 s of a first run).
    """
    dh = np.empty(d_h_n.shape, d_h_n.dtype)
    dc = np.empty(d_c_n.shape, d_c_n.dtype)
    for b in range(d_h_n.shape[0]):
        _copy(dh[b], d_h_n[b])
        _copy(dc[b], d_c_n[b])
    d_peephole_blocks = np.empty((chunks, peephole.shape[0]), dh.dtype)
    for chunk in range(chunks):
        _fill(d_peephole_blocks[chunk], 0)
    return dh, dc, d_peephole_blocks


@njit(inline="always", **JIT_KWARGS)
def _sum_blocks(blocks):
    total = np.empty(blocks.shape[1], blocks.dtype)
    _fill(total, 0)
    for block in range(blocks.shape[0]):
        _add(total, blocks[block])
    return total


@njit(**JIT_KWARGS)
def weight_gradient_rows(chunk, chunks, xs_rows, dz_rows, hs_rows, kernel, input_gradient, dx_rows, xh_rows,
                         partial_weights, d_weights, d_bias):
    """Block ``chunk`` of ``chunks`` of the GEMMs after BPTT (see ``weight_gradients``): block 0 writes
    ``d_weights``, block c > 0 ``partial_weights[c - 1]``; ``d_bias`` gets the block's own sum.

    With two or more features the block copies its rows of xs and hs side by side into ``xh_rows`` and
    multiplies them in one GEMM: OpenBLAS ran ``xs^T dz`` and ``hs^T dz`` apart at 41-70 GFLOP/s a core on
    the benchmark sizes, the one GEMM (copy included) 1.06-1.4x faster. With one feature ``xs^T dz`` is a
    single row, cheaper apart than as one more row of the GEMM (the one GEMM ran 0.88-0.95x as fast).
    """
    rows, GH = dz_rows.shape
    F, H = xs_rows.shape[1], hs_rows.shape[1]
    lo, hi = _chunk_rows(chunk, chunks, rows)
    d_block = d_weights if chunk == 0 else partial_weights[chunk - 1]
    if F == 1:
        np.dot(xs_rows[lo:hi].T, dz_rows[lo:hi], d_block[:F])
        np.dot(hs_rows[lo:hi].T, dz_rows[lo:hi], d_block[F:])
    else:
        for r in range(lo, hi):
            for j in range(F):
                xh_rows[r, j] = xs_rows[r, j]
            for j in range(H):
                xh_rows[r, F + j] = hs_rows[r, j]
        np.dot(xh_rows[lo:hi].T, dz_rows[lo:hi], d_block)
    if input_gradient:
        np.dot(dz_rows[lo:hi], kernel.T, dx_rows[lo:hi])
    _fill(d_bias, 0)
    for r in range(lo, hi):
        _add(d_bias, dz_rows[r])


@njit(inline="always", **JIT_KWARGS)
def _weight_gradient_arguments(chunk, chunks, xs_rows, dz_rows, hs_rows, kernel, input_gradient, dx_rows, xh_rows,
                               partial_weights, d_weights, d_bias):
    return (np.int64(chunk), np.int64(chunks), xs_rows, dz_rows, hs_rows, kernel, input_gradient, dx_rows, xh_rows,
            partial_weights, d_weights, d_bias)


@njit(inline="always", **JIT_KWARGS)
def _weight_gradient_sums(reverse, chunks, input_gradient, dx_rows, partial_weights, dx, d_weights, d_bias,
                          d_bias_blocks):
    """Add the blocks' partial sums into block 0's, and copy dx_rows into dx in the caller's time order."""
    B, T, F = dx.shape
    for chunk in range(1, chunks):
        for row in range(d_weights.shape[0]):
            _add(d_weights[row], partial_weights[chunk - 1, row])
    _copy(d_bias, d_bias_blocks[0])
    for chunk in range(1, chunks):
        _add(d_bias, d_bias_blocks[chunk])
    if not input_gradient:
        return
    for s in range(T):
        t = _timestep(s, T, reverse)
        for b in range(B):
            _copy(dx[b, t], dx_rows[s * B + b])


@njit(**JIT_KWARGS)
def weight_gradients(rows, xs_rows, dz_rows, hs_rows, kernel, reverse, chunks, input_gradient, dx_rows, xh_rows,
                     partial_weights, dx, d_weights, d_bias):
    """The GEMMs after BPTT, over the pre-activation gradients ``dz_rows`` (T*B, G*H), on one thread.

    ``rows`` is ``WEIGHT_GRADIENT_ROWS.table`` (see the time loops). The caller passes the time-major
    arrays as (T*B, ...) row views: ``xs_rows``, ``dz_rows`` and ``hs_rows`` (the states h_0..h_{T-1} each
    step multiplied). The T*B rows are split into ``chunks`` blocks (``weight_gradient_rows``), whose
    partial sums are added at the end, so that the parallel entry point keeps every core busy with
    single-threaded BLAS. Fills d_weights (F + H, G*H: the rows of d_kernel, then those of
    d_recurrent_kernel), d_bias (G*H,), and dx (B, T, F) when ``input_gradient`` (the first layer of a model
    needs no dx: skipping it saves a sixth of the GEMM work). ``xh_rows`` (T*B, F + H) is the blocks'
    scratch for xs and hs side by side, (0, F + H) with one feature.
    """
    d_bias_blocks = np.empty((chunks, dz_rows.shape[1]), dz_rows.dtype)
    arguments = _weight_gradient_arguments(0, chunks, xs_rows, dz_rows, hs_rows, kernel, input_gradient, dx_rows,
                                           xh_rows, partial_weights, d_weights, d_bias_blocks[0])
    address = find_entry(rows, argument_check(arguments))
    if address == 0:
        raise NativeEntryMissing("weight_gradients: the block GEMMs are not compiled for these argument types yet")
    for chunk in range(chunks):
        call_native(address, _weight_gradient_arguments(chunk, chunks, xs_rows, dz_rows, hs_rows, kernel,
                                                        input_gradient, dx_rows, xh_rows, partial_weights, d_weights,
                                                        d_bias_blocks[chunk]))
    _weight_gradient_sums(reverse, chunks, input_gradient, dx_rows, partial_weights, dx, d_weights, d_bias,
                          d_bias_blocks)


@njit(parallel=True, **JIT_KWARGS)
def weight_gradients_parallel(rows, xs_rows, dz_rows, hs_rows, kernel, reverse, chunks, input_gradient, dx_rows,
                              xh_rows, partial_weights, dx, d_weights, d_bias):
    """:func:`weight_gradients` with its ``chunks`` blocks on Numba's threads."""
    d_bias_blocks = np.empty((chunks, dz_rows.shape[1]), dz_rows.dtype)
    arguments = _weight_gradient_arguments(0, chunks, xs_rows, dz_rows, hs_rows, kernel, input_gradient, dx_rows,
                                           xh_rows, partial_weights, d_weights, d_bias_blocks[0])
    address = find_entry(rows, argument_check(arguments))
    if address == 0:
        raise NativeEntryMissing("weight_gradients_parallel: the block GEMMs are not compiled for these argument "
                                 "types yet")
    for chunk in prange(chunks):
        call_native(address, _weight_gradient_arguments(chunk, chunks, xs_rows, dz_rows, hs_rows, kernel,
                                                        input_gradient, dx_rows, xh_rows, partial_weights, d_weights,
                                                        d_bias_blocks[chunk]))
    _weight_gradient_sums(reverse, chunks, input_gradient, dx_rows, partial_weights, dx, d_weights, d_bias,
                          d_bias_blocks)


# The time loops run the per-block loop (``forward_rows_*``, ``backward_rows_*``: the variant is a compile-time
# constant of each, so that LLVM knows the gate offsets and vectorises the gate loops, which a run-time
# ``cifg`` flag made 3x slower) over the blocks of batch rows, called through its native address (native_calls:
# compiled once, not again into every entry point). Their first argument is the table of its compiled versions,
# ``FORWARD_ROWS[cifg].table`` or ``BACKWARD_ROWS[cifg].table``: call them through ``native_calls.call_with_entries``
# with ``forward_rows_types`` or ``backward_rows_types``. Each serial entry point and its parallel twin spell
# out the same body (``range`` or ``prange``): a shared inline body made the first run 0.7 s slower.

@njit(inline="always", **JIT_KWARGS)
def _forward_arguments(chunk, chunks, gates, hs, cs, recurrent_panels, bias, peephole, mask, use_mask,
                       recurrent_mask, use_recurrent_mask, reverse):
    return (np.int64(chunk), np.int64(chunks), gates, hs, cs, recurrent_panels, bias, peephole, mask, use_mask,
            recurrent_mask, use_recurrent_mask, reverse)


@njit(**JIT_KWARGS)
def forward_loop(rows, gates, recurrent_panels, bias, peephole, h0, c0, mask, use_mask,
                 recurrent_mask, use_recurrent_mask, reverse, zero_output, chunks, hs, cs, outputs):
    """The time loop over the input projection ``gates`` (T, B, G*H), in place, on one thread.

    Arrays are validated by ``numlstm.functional.lstm_forward``: one float dtype, C-contiguous.
    ``recurrent_panels`` is ``pack_panels`` of the recurrent kernel. ``mask`` is (B, T) bool, read only
    when ``use_mask``; ``recurrent_mask`` (B, H) multiplies h before the recurrent product (recurrent
    dropout), read only when ``use_recurrent_mask``.

    Fills ``outputs`` (B, T, H) in the caller's time order and ``hs``, ``cs`` (T+1, B, H), the states
    before and after every step; ``gates`` then holds the gate activations of every step.
    """
    _initial_states(h0, c0, hs, cs)
    arguments = _forward_arguments(0, chunks, gates, hs, cs, recurrent_panels, bias, peephole, mask, use_mask,
                                   recurrent_mask, use_recurrent_mask, reverse)
    address = find_entry(rows, argument_check(arguments))
    if address == 0:
        raise NativeEntryMissing("forward_loop: the block loop is not compiled for these argument types yet")
    for chunk in range(chunks):
        call_native(address, _forward_arguments(chunk, chunks, gates, hs, cs, recurrent_panels, bias, peephole,
                                             mask, use_mask, recurrent_mask, use_recurrent_mask, reverse))
    _forward_outputs(hs, mask, use_mask, reverse, zero_output, outputs)


@njit(parallel=True, **JIT_KWARGS)
def forward_loop_parallel(rows, gates, recurrent_panels, bias, peephole, h0, c0, mask, use_mask,
                          recurrent_mask, use_recurrent_mask, reverse, zero_output, chunks, hs, cs, outputs):
    """:func:`forward_loop` with its ``chunks`` blocks of rows on Numba's threads."""
    _initial_states(h0, c0, hs, cs)
    arguments = _forward_arguments(0, chunks, gates, hs, cs, recurrent_panels, bias, peephole, mask, use_mask,
                                   recurrent_mask, use_recurrent_mask, reverse)
    address = find_entry(rows, argument_check(arguments))
    if address == 0:
        raise NativeEntryMissing("forward_loop_parallel: the block loop is not compiled for these argument types yet")
    for chunk in prange(chunks):
        call_native(address, _forward_arguments(chunk, chunks, gates, hs, cs, recurrent_panels, bias, peephole,
                                             mask, use_mask, recurrent_mask, use_recurrent_mask, reverse))
    _forward_outputs(hs, mask, use_mask, reverse, zero_output, outputs)


@njit(inline="always", **JIT_KWARGS)
def _backward_arguments(chunk, chunks, gates, cs, transposed_panels, peephole, mask, use_mask, recurrent_mask,
                        use_recurrent_mask, reverse, zero_output, d_outputs, use_d_outputs, use_peephole, dh, dc,
                        d_peephole):
    return (np.int64(chunk), np.int64(chunks), gates, cs, transposed_panels, peephole, mask, use_mask,
            recurrent_mask, use_recurrent_mask, reverse, zero_output, d_outputs, use_d_outputs, use_peephole, dh, dc,
            d_peephole)


@njit(**JIT_KWARGS)
def backward_loop(rows, gates, cs, transposed_panels, peephole, mask, use_mask, recurrent_mask,
                  use_recurrent_mask, reverse, zero_output, d_outputs, use_d_outputs, d_h_n, d_c_n, use_peephole,
                  chunks):
    """The reverse time loop, on one thread: ``gates`` becomes the pre-activation gradients, in place.

    ``transposed_panels`` is ``pack_panels`` of the transposed recurrent kernel. ``d_outputs`` is
    (B, T, H) and read only when ``use_d_outputs``.

    Returns
    -------
    dh0, dc0 : (B, H)
    d_peephole : like ``peephole`` (zeros unless ``use_peephole``)
    """
    dh, dc, d_peephole_blocks = _backward_scratch(peephole, d_h_n, d_c_n, chunks)
    arguments = _backward_arguments(0, chunks, gates, cs, transposed_panels, peephole, mask, use_mask,
                                    recurrent_mask, use_recurrent_mask, reverse, zero_output, d_outputs,
                                    use_d_outputs, use_peephole, dh, dc, d_peephole_blocks[0])
    address = find_entry(rows, argument_check(arguments))
    if address == 0:
        raise NativeEntryMissing("backward_loop: the block loop is not compiled for these argument types yet")
    for chunk in range(chunks):
        call_native(address, _backward_arguments(chunk, chunks, gates, cs, transposed_panels, peephole, mask,
                                              use_mask, recurrent_mask, use_recurrent_mask, reverse, zero_output,
                                              d_outputs, use_d_outputs, use_peephole, dh, dc,
                                              d_peephole_blocks[chunk]))
    return dh, dc, _sum_blocks(d_peephole_blocks)


@njit(parallel=True, **JIT_KWARGS)
def backward_loop_parallel(rows, gates, cs, transposed_panels, peephole, mask, use_mask,
                           recurrent_mask, use_recurrent_mask, reverse, zero_output, d_outputs, use_d_outputs,
                           d_h_n, d_c_n, use_peephole, chunks):
    """:func:`backward_loop` with its ``chunks`` blocks of rows on Numba's threads."""
    dh, dc, d_peephole_blocks = _backward_scratch(peephole, d_h_n, d_c_n, chunks)
    arguments = _backward_arguments(0, chunks, gates, cs, transposed_panels, peephole, mask, use_mask,
                                    recurrent_mask, use_recurrent_mask, reverse, zero_output, d_outputs,
                                    use_d_outputs, use_peephole, dh, dc, d_peephole_blocks[0])
    address = find_entry(rows, argument_check(arguments))
    if address == 0:
        raise NativeEntryMissing("backward_loop_parallel: the block loop is not compiled for these argument types yet")
    for chunk in prange(chunks):
        call_native(address, _backward_arguments(chunk, chunks, gates, cs, transposed_panels, peephole, mask,
                                              use_mask, recurrent_mask, use_recurrent_mask, reverse, zero_output,
                                              d_outputs, use_d_outputs, use_peephole, dh, dc,
                                              d_peephole_blocks[chunk]))
    return dh, dc, _sum_blocks(d_peephole_blocks)


FORWARD_ROWS = NativeEntries(forward_rows_standard), NativeEntries(forward_rows_cifg)  # indexed by cifg
BACKWARD_ROWS = NativeEntries(backward_rows_standard), NativeEntries(backward_rows_cifg)


WEIGHT_GRADIENT_ROWS = NativeEntries(weight_gradient_rows)


def _numba_types(*arrays):
    return [numba.typeof(array) for array in arrays]


def weight_gradient_rows_types(xs_rows, dz_rows, hs_rows, kernel, dx_rows, xh_rows, partial_weights, d_weights):
    """The Numba types ``weight_gradients`` passes to its blocks, for a pass over these arrays (its own
    per-block bias sums are C-contiguous and writable)."""
    arrays = _numba_types(xs_rows, dz_rows, hs_rows, kernel, dx_rows, xh_rows, partial_weights, d_weights)
    return (types.int64, types.int64, *arrays[:4], types.boolean, *arrays[4:], array_type(dz_rows.dtype, 1))


def forward_rows_types(gates, hs, cs, recurrent_panels, bias, peephole, mask, recurrent_mask):
    """The Numba types ``forward_loop`` passes to the block loop, for a pass over these arrays."""
    gates, hs, cs, recurrent_panels, bias, peephole, mask, recurrent_mask = _numba_types(
        gates, hs, cs, recurrent_panels, bias, peephole, mask, recurrent_mask)
    return (types.int64, types.int64, gates, hs, cs, recurrent_panels, bias, peephole, mask, types.boolean,
            recurrent_mask, types.boolean, types.boolean)


def backward_rows_types(gates, cs, transposed_panels, peephole, mask, recurrent_mask, d_outputs):
    """The Numba types ``backward_loop`` passes to the block loop, for a pass over these arrays (its own state
    gradients and per-block peephole sums are C-contiguous and writable)."""
    state, block = array_type(gates.dtype, 2), array_type(gates.dtype, 1)
    gates, cs, transposed_panels, peephole, mask, recurrent_mask, d_outputs = _numba_types(
        gates, cs, transposed_panels, peephole, mask, recurrent_mask, d_outputs)
    return (types.int64, types.int64, gates, cs, transposed_panels, peephole, mask, types.boolean, recurrent_mask,
            types.boolean, types.boolean, types.boolean, d_outputs, types.boolean, types.boolean, state, state, block)


# parallel -> entry point
FORWARD_LOOP = {False: forward_loop, True: forward_loop_parallel}
BACKWARD_LOOP = {False: backward_loop, True: backward_loop_parallel}
WEIGHT_GRADIENTS = {False: weight_gradients, True: weight_gradients_parallel}
INPUT_PROJECTION = {False: input_projection, True: input_projection_parallel}
