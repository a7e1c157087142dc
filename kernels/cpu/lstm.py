"""The LSTM time loop and backpropagation through time on the CPU.

Structured as oneDNN and cuDNN do: each step does a product with the packed
weights and the fused gate kernel (``lstm_cell``); the weight gradients are a
few large GEMMs after the reverse loop. The input projection has two forms,
chosen per layer by the caller (``numlstm.functional``): *fused*, where each
step multiplies the rows [x_t, h_t] by the stacked kernels [kernel;
recurrent_kernel], or one GEMM over every timestep before the loop, each step
then multiplying h_t by the recurrent kernel alone. Either way the forward
loop leaves [x_t, h_t] (h_t times the recurrent mask) in the rows of ``xh``,
the left operand of the weight gradients' one GEMM.

Internally everything is time-major and in processing order: step ``s``
reads timestep ``t = T-1-s`` when ``reverse`` is set. Inputs and outputs are
batch-major (B, T, ...) in the caller's time order.

A forward pass is ``forward_loop`` (the time loop, and the outputs), after
``input_projection`` unless fused; BPTT is ``backward_loop`` then
``weight_gradients``. The caller allocates the arrays they fill
(``numlstm.functional`` cuts the large ones from one allocation) and adds up
the blocks' partial sums.

Every call splits its work into ``chunks`` blocks, and each block does all of
its share, reading and writing its own rows only: a time loop's block is a
set of batch rows (batch rows never interact), which it takes through every
timestep on its own, from the initial states to the outputs; a GEMM's block
is a set of the T*B rows. The entry points do nothing but run their blocks,
one after the other or on Numba's threads with no synchronisation between
steps, through the blocks' native addresses (``native_calls``): each block's
code is compiled once, not once more into each entry point, and an entry
point compiles in a fraction of a second.

The large GEMMs (input projection, weight gradients) go to BLAS through
``blas.gemm``; the per-step products go to ``packed_gemm``, with the weights
packed once per pass.
"""

import numba
import numpy as np
from numba import types

from ..disk_cache import njit, njit_variant
from ..options import CALLEE_JIT_KWARGS, JIT_KWARGS
from ..lstm_cell import accumulate_peephole_grad, cell_backward, cell_forward
from .blas import gemm
from .native_calls import NativeEntries, load_arguments, read_only, run_blocks
from .packed_gemm import packed_matmul


# The blocks write every copy as an element loop of their own. A slice assignment (``a[i] = b[j]``) compiles
# Numba's shape-mismatch error path, which formats its message in compiled code: about 5 s of a first run, for
# a path that never runs. A small helper inlined in Numba's IR (``inline="always"``) is typed again at each
# call site: the blocks' copy, fill and row-split helpers cost the demo's first training step about 0.8 s
# (docs/history/cpu-benchmarks.md, fourteenth step).


@njit(**CALLEE_JIT_KWARGS)
def input_projection_rows(chunk, chunks, arguments):
    """Share ``chunk`` of ``chunks`` of the S*B rows (time-major, in processing order) of the input
    projection of S steps from step ``first_step`` on: its rows of xs_rows (S*B, F) from x (B, T, F), then
    gates_rows (S*B, G*H) = xs_rows @ kernel.

    ``xs_rows`` and ``gates_rows`` are (S, B, ...) arrays viewed as rows by the caller: a reshape here
    would compile Numba's shape-error path (seconds of a first run) into the block.
    """
    x, kernel, reverse, first_step, xs_rows, gates_rows = load_arguments(arguments)
    B, T, F = x.shape
    rows = xs_rows.shape[0]
    lo, hi = chunk * rows // chunks, (chunk + 1) * rows // chunks
    for r in range(lo, hi):
        s, b = first_step + r // B, r % B
        t = T - 1 - s if reverse else s
        for j in range(F):
            xs_rows[r, j] = x[b, t, j]
    gemm(xs_rows[lo:hi], kernel, gates_rows[lo:hi])


# The time loops' blocks are made once per variant, ``cifg`` a constant of each one's code (a closure variable),
# so that LLVM knows the gate offsets and vectorises the gate loops (a run-time ``cifg`` made them 3x slower).
def _make_forward_rows(cifg):
    def forward_rows(chunk, chunks, arguments):
        """Share ``chunk`` of ``chunks`` of the batch rows of ``forward_loop``, through every timestep. Its rows
        of ``rec`` are its scratch."""
        (x, xh, gates, hs, cs, panels, fused, bias, peephole, h0, c0, mask, use_mask, recurrent_mask,
         use_recurrent_mask, reverse, zero_output, first_step, steps, outputs, rec) = load_arguments(arguments)
        B, T, F = x.shape
        H = hs.shape[2]
        # Rings of steps (``forward_loop``), indexed without a division: at batch one a step is ~1000 cycles,
        # and four divisions a step made the tiny size's forward pass 5% slower.
        alternates = hs.shape[0] == 2  # an inference pass's two state slots (or a training pass of one step)
        xh_ring, gate_ring = xh.shape[0] == 1, gates.shape[0] == 1
        writes_outputs = outputs.shape[1] != 0
        lo, hi = chunk * B // chunks, (chunk + 1) * B // chunks
        if first_step == 0:
            for b in range(lo, hi):
                for j in range(H):
                    hs[0, b, j] = h0[b, j]
                    cs[0, b, j] = c0[b, j]
        for step in range(steps):
            s = first_step + step
            t = T - 1 - s if reverse else s
            before, after = (s & 1, (s + 1) & 1) if alternates else (s, s + 1)
            row = 0 if xh_ring else s
            gate_row = 0 if gate_ring else step
            for b in range(lo, hi):
                for j in range(F):
                    xh[row, b, j] = x[b, t, j]
                if use_recurrent_mask:  # recurrent dropout: the recurrent product is (h * mask) @ R
                    for j in range(H):
                        xh[row, b, F + j] = hs[before, b, j] * recurrent_mask[b, j]
                else:
                    for j in range(H):
                        xh[row, b, F + j] = hs[before, b, j]
            packed_matmul(xh[row], lo, hi, 0 if fused else F, panels, rec)
            for b in range(lo, hi):
                skipped = use_mask and not mask[b, t]
                if skipped:  # a masked step carries both states over
                    for j in range(H):
                        hs[after, b, j] = hs[before, b, j]
                        cs[after, b, j] = cs[before, b, j]
                else:
                    cell_forward(gates[gate_row, b], rec[b], bias, peephole, cs[before, b], hs[after, b],
                                 cs[after, b], cifg, not fused)
                if not writes_outputs:
                    continue
                # A masked step's output is the carried h, as in Keras 3, or zeros with zero_output.
                if zero_output and skipped:
                    for j in range(H):
                        outputs[b, t, j] = 0
                else:
                    for j in range(H):
                        outputs[b, t, j] = hs[after, b, j]

    return njit_variant(forward_rows, "cifg" if cifg else "standard", **CALLEE_JIT_KWARGS)


def _make_backward_rows(cifg):
    def backward_rows(chunk, chunks, arguments):
        """Share ``chunk`` of ``chunks`` of the batch rows of ``backward_loop``, through every timestep in
        reverse; ``d_peephole_blocks[chunk]`` is its own sum, its rows of ``dh_total`` and ``dh_rec`` its
        scratch."""
        (gates, cs, transposed_panels, peephole, mask, use_mask, recurrent_mask, use_recurrent_mask, reverse,
         zero_output, d_outputs, use_d_outputs, use_peephole, d_h_n, d_c_n, dh, dc, d_peephole_blocks, dh_total,
         dh_rec) = load_arguments(arguments)
        T, B, G = gates.shape
        H = dh.shape[1]
        lo, hi = chunk * B // chunks, (chunk + 1) * B // chunks
        for b in range(lo, hi):
            for j in range(H):
                dh[b, j] = d_h_n[b, j]
                dc[b, j] = d_c_n[b, j]
        d_peephole = d_peephole_blocks[chunk]
        for j in range(d_peephole.shape[0]):
            d_peephole[j] = 0
        for s in range(T - 1, -1, -1):
            t = T - 1 - s if reverse else s
            for b in range(lo, hi):
                active = not use_mask or mask[b, t]
                # A masked step's output is the carried h_{t-1} (unless
                # zero_output), so its gradient flows straight into h_{t-1}.
                if use_d_outputs and (active or not zero_output):
                    for j in range(H):
                        dh_total[b, j] = dh[b, j] + d_outputs[b, t, j]
                else:
                    for j in range(H):
                        dh_total[b, j] = dh[b, j]
                if not active:
                    for j in range(G):
                        gates[s, b, j] = 0
                    for j in range(H):
                        dh[b, j] = dh_total[b, j]
                    continue
                cell_backward(gates[s, b], peephole, cs[s, b], cs[s + 1, b], dh_total[b], dc[b], cifg)
                if use_peephole:
                    accumulate_peephole_grad(gates[s, b], cs[s, b], cs[s + 1, b], d_peephole, cifg)
            # np.intp(0), not 0: a literal argument compiles packed_matmul once more (0.5-0.6 s of a first step)
            packed_matmul(gates[s], lo, hi, np.intp(0), transposed_panels, dh_rec)
            for b in range(lo, hi):
                if not use_mask or mask[b, t]:
                    if use_recurrent_mask:
                        for j in range(H):
                            dh[b, j] = dh_rec[b, j] * recurrent_mask[b, j]
                    else:
                        for j in range(H):
                            dh[b, j] = dh_rec[b, j]

    return njit_variant(backward_rows, "cifg" if cifg else "standard", **CALLEE_JIT_KWARGS)


@njit(**CALLEE_JIT_KWARGS)
def weight_gradient_rows(chunk, chunks, arguments):
    """Share ``chunk`` of ``chunks`` of the GEMMs after BPTT (see ``weight_gradients``): block 0 writes
    ``d_weights``, block c > 0 ``partial_weights[c - 1]``, and block c its bias sum ``d_bias_blocks[c]``;
    with ``input_gradient``, its rows of ``dx_rows`` and, from them, of ``dx`` in the caller's time order."""
    (xh_rows, dz_rows, kernel, reverse, input_gradient, dx_rows, partial_weights, d_weights, d_bias_blocks,
     dx) = load_arguments(arguments)
    rows, G = dz_rows.shape
    lo, hi = chunk * rows // chunks, (chunk + 1) * rows // chunks
    d_block = d_weights if chunk == 0 else partial_weights[chunk - 1]
    gemm(xh_rows[lo:hi].T, dz_rows[lo:hi], d_block)
    d_bias = d_bias_blocks[chunk]
    for j in range(G):
        d_bias[j] = 0
    for r in range(lo, hi):
        for j in range(G):
            d_bias[j] += dz_rows[r, j]
    if input_gradient:
        gemm(dz_rows[lo:hi], kernel.T, dx_rows[lo:hi])
        B, T, F = dx.shape
        for r in range(lo, hi):
            s, b = r // B, r % B
            t = T - 1 - s if reverse else s
            for j in range(F):
                dx[b, t, j] = dx_rows[r, j]


# Each entry point runs its block (``input_projection_rows``, the ``forward_rows`` and ``backward_rows`` of a
# variant, ``weight_gradient_rows``) on its ``chunks`` shares through ``native_calls.run_blocks``: one share on
# the caller's thread, several on Numba's threads. Each entry point's first argument is the table of its
# block's compiled versions (``INPUT_PROJECTION_ROWS.table``, ``FORWARD_ROWS[cifg].table``,
# ``BACKWARD_ROWS[cifg].table``, ``WEIGHT_GRADIENT_ROWS.table``): call them through
# ``native_calls.call_with_entries`` with the matching ``*_types`` function below.

@njit(**JIT_KWARGS)
def input_projection(rows, x, kernel, reverse, first_step, chunks, xs_rows, gates_rows):
    """The input projection of the steps from ``first_step`` on that ``gates_rows`` has rows for
    (``input_projection_rows``)."""
    run_blocks(rows, (read_only(x), read_only(kernel), reverse, first_step, xs_rows, gates_rows), chunks)


@njit(**JIT_KWARGS)
def forward_loop(rows, x, gates, panels, fused, bias, peephole, h0, c0, mask, use_mask, recurrent_mask,
                 use_recurrent_mask, reverse, zero_output, first_step, steps, chunks, xh, hs, cs, outputs, rec):
    """The time loop over ``steps`` steps of x (B, T, F) from step ``first_step`` on (processing order), in
    ``chunks`` blocks of rows.

    Arrays are validated by ``numlstm.functional.lstm_forward``: one float dtype, C-contiguous. When
    ``fused``, ``panels`` is ``pack_panels`` of [kernel; recurrent_kernel] and ``gates`` (T, B, G*H) is
    only written; otherwise ``panels`` packs the recurrent kernel and ``gates`` holds the input projection
    (``input_projection``), in place. ``mask`` is (B, T) bool, read only when ``use_mask``;
    ``recurrent_mask`` (B, H) multiplies h before the recurrent product (recurrent dropout), read only when
    ``use_recurrent_mask``.

    Fills ``outputs`` (B, T, H) in the caller's time order, ``hs``, ``cs`` (T+1, B, H), the states before
    and after every step, and ``xh`` (T, B, F + H) with each step's x_t and h_t (times the recurrent mask);
    ``gates`` then holds the gate activations of every step. ``rec`` (B, P * NR of the panels) is scratch.

    Each of ``hs``/``cs``, ``xh`` and ``gates`` is a ring of steps: step s reads its states from slot
    s % len(hs) and writes them to (s + 1) % len(hs), writes xh's slot s % len(xh), and reads the gates of
    slot (s - first_step) % len(gates). A training pass passes every step's rows, in one call. An inference
    pass, which no backward pass follows, passes two slots of states, one of ``xh``, and one of ``gates``
    when ``fused``, else as many as it projects at a time, calling once for each block of steps; it writes
    no row that only the backward pass would read (the final states are in ``hs[T % 2]``). ``outputs`` of
    no timesteps, (B, 0, H), is not written (a layer that returns the final state alone).
    """
    run_blocks(rows, (read_only(x), xh, gates, hs, cs, panels, fused, read_only(bias), read_only(peephole),
                      read_only(h0), read_only(c0), read_only(mask), use_mask, read_only(recurrent_mask),
                      use_recurrent_mask, reverse, zero_output, first_step, steps, outputs, rec), chunks)


@njit(**JIT_KWARGS)
def backward_loop(rows, gates, cs, transposed_panels, peephole, mask, use_mask, recurrent_mask,
                  use_recurrent_mask, reverse, zero_output, d_outputs, use_d_outputs, d_h_n, d_c_n, use_peephole,
                  chunks, dh, dc, d_peephole_blocks, dh_total, dh_rec):
    """The reverse time loop, in ``chunks`` blocks of rows: ``gates`` becomes the pre-activation gradients, in
    place.

    ``transposed_panels`` is ``pack_panels`` of the transposed recurrent kernel. ``d_outputs`` is
    (B, T, H) and read only when ``use_d_outputs``. Fills ``dh`` and ``dc`` (B, H) with dh0 and dc0,
    and ``d_peephole_blocks`` (chunks, like ``peephole``) with each block's share of d_peephole (zeros
    unless ``use_peephole``). ``dh_total`` (B, H) and ``dh_rec`` (B, P * NR of the panels) are scratch.
    """
    run_blocks(rows, (gates, cs, transposed_panels, read_only(peephole), read_only(mask), use_mask,
                      read_only(recurrent_mask), use_recurrent_mask, reverse, zero_output, read_only(d_outputs),
                      use_d_outputs, use_peephole, read_only(d_h_n), read_only(d_c_n), dh, dc, d_peephole_blocks,
                      dh_total, dh_rec), chunks)


@njit(**JIT_KWARGS)
def weight_gradients(rows, xh_rows, dz_rows, kernel, reverse, chunks, input_gradient, dx_rows, partial_weights,
                     d_weights, d_bias_blocks, dx):
    """The GEMMs after BPTT, over the pre-activation gradients ``dz_rows`` (T*B, G*H).

    The caller passes the time-major arrays as (T*B, ...) row views: ``xh_rows`` (T*B, F + H) the rows
    [x_t, h_t] that ``forward_loop`` multiplied, and ``dz_rows``. The T*B rows are split into ``chunks``
    shares (``weight_gradient_rows``), so that on Numba's threads every core is busy with single-threaded
    BLAS; the caller adds up their partial sums. Fills d_weights (F + H, G*H: the rows of d_kernel, then
    those of d_recurrent_kernel) = xh^T dz with share 0's part and ``partial_weights`` (chunks - 1, F + H,
    G*H) with the others', ``d_bias_blocks`` (chunks, G*H) with each share's part of d_bias, and dx (B, T, F)
    when ``input_gradient`` (the first layer of a model needs no dx: skipping it saves a sixth of the GEMM
    work).
    """
    run_blocks(rows, (read_only(xh_rows), read_only(dz_rows), read_only(kernel), reverse, input_gradient, dx_rows,
                      partial_weights, d_weights, d_bias_blocks, dx), chunks)


INPUT_PROJECTION_ROWS = NativeEntries(input_projection_rows)
FORWARD_ROWS = NativeEntries(_make_forward_rows(False)), NativeEntries(_make_forward_rows(True))  # indexed by cifg
BACKWARD_ROWS = NativeEntries(_make_backward_rows(False)), NativeEntries(_make_backward_rows(True))
WEIGHT_GRADIENT_ROWS = NativeEntries(weight_gradient_rows)


def _numba_types(*arrays):
    return [numba.typeof(array) for array in arrays]


def _read_only_types(*arrays):
    """The Numba types of arrays an entry point passes to its block through ``native_calls.read_only``."""
    return [numba.typeof(array).copy(readonly=True) for array in arrays]


def input_projection_rows_types(x, kernel, xs_rows, gates_rows):
    """The Numba types of the arguments ``input_projection`` passes to its blocks, for a pass over these arrays."""
    x, kernel = _read_only_types(x, kernel)
    xs_rows, gates_rows = _numba_types(xs_rows, gates_rows)
    return x, kernel, types.boolean, types.int64, xs_rows, gates_rows


def forward_rows_types(x, xh, gates, hs, cs, panels, bias, peephole, h0, c0, mask, recurrent_mask, outputs, rec):
    """The Numba types of the arguments ``forward_loop`` passes to its blocks, for a pass over these arrays."""
    xh, gates, hs, cs, panels, outputs, rec = _numba_types(xh, gates, hs, cs, panels, outputs, rec)
    x, bias, peephole, h0, c0, mask, recurrent_mask = _read_only_types(x, bias, peephole, h0, c0, mask,
                                                                      recurrent_mask)
    return (x, xh, gates, hs, cs, panels, types.boolean, bias, peephole, h0, c0, mask, types.boolean,
            recurrent_mask, types.boolean, types.boolean, types.boolean, types.int64, types.int64, outputs, rec)


def backward_rows_types(gates, cs, transposed_panels, peephole, mask, recurrent_mask, d_outputs, d_h_n, d_c_n, dh,
                        dc, d_peephole_blocks, dh_total, dh_rec):
    """The Numba types of the arguments ``backward_loop`` passes to its blocks, for a pass over these arrays."""
    gates, cs, transposed_panels, dh, dc, d_peephole_blocks, dh_total, dh_rec = _numba_types(
        gates, cs, transposed_panels, dh, dc, d_peephole_blocks, dh_total, dh_rec)
    peephole, mask, recurrent_mask, d_outputs, d_h_n, d_c_n = _read_only_types(peephole, mask, recurrent_mask,
                                                                              d_outputs, d_h_n, d_c_n)
    return (gates, cs, transposed_panels, peephole, mask, types.boolean, recurrent_mask, types.boolean,
            types.boolean, types.boolean, d_outputs, types.boolean, types.boolean, d_h_n, d_c_n, dh, dc,
            d_peephole_blocks, dh_total, dh_rec)


def weight_gradient_rows_types(xh_rows, dz_rows, kernel, dx_rows, partial_weights, d_weights, d_bias_blocks, dx):
    """The Numba types of the arguments ``weight_gradients`` passes to its blocks, for a pass over these
    arrays."""
    inputs = _read_only_types(xh_rows, dz_rows, kernel)
    outputs = _numba_types(dx_rows, partial_weights, d_weights, d_bias_blocks, dx)
    return (*inputs, types.boolean, types.boolean, *outputs)
