"""The backward step kernels: the cell gradients of a step (``backward_cell``; ``cell_after_gemm`` for the GEMM
steps) and the recurrent gradients dh = dz @ W.T, one thread per (unit, row block) (``backward_recurrent``) or
split (``backward_recurrent_split``); and the device functions the persistent backward kernel shares with them."""

import functools
from types import SimpleNamespace

from numba import cuda

from .recurrent_sums import recurrent_sum_functions
from .variant import constants, cuda_gate_rules


@functools.lru_cache(maxsize=None)
def backward_step_functions(dtype, shape_options):
    """The backward step's device functions of one variant (:func:`variant.constants`): a unit's cell gradient and a
    split tile's recurrent gradients."""
    c = constants(dtype, shape_options)
    one = c.one
    zero = c.zero
    index = c.index
    element = c.element
    rows = c.rows
    sum_slices_in_groups = recurrent_sum_functions(dtype, shape_options).sum_slices_in_groups
    rules = cuda_gate_rules(dtype)
    unit_backward, tanh = rules.unit_backward, rules.tanh

    @cuda.jit(device=True, inline=True)
    def cell_gradient(s, t, b, j, B, H, gates, cs, dh, dc, d_outputs, use_d_outputs, mask, use_mask, peephole,
                      zero_output, cifg):
        """Unit j of row b at step s of BPTT: its ``gates`` entries become pre-activation gradients.

        ``dh`` holds the gradient reaching h from step s+1 and becomes the
        total gradient at h_s (the recurrent kernel adds the rest); ``dc``
        becomes the gradient reaching c_{s-1}.
        """
        row = s * B + b
        active = not use_mask or mask[b, t]
        grad = dh[b, j]
        if use_d_outputs and (active or not zero_output):
            grad += d_outputs[b, t, j]
        dh[b, j] = grad
        gate_count = 3 if cifg else 4
        if not active:
            for gate in range(gate_count):
                gates[row, gate * H + j] = zero
            return
        c_prev = cs[s * B + b, j]
        tanh_c = tanh(cs[(s + 1) * B + b, j])  # before the activations' loads: fewer live registers
        if cifg:  # gates f, c, o
            _, dz_f, dz_g, dz_o, dc_prev = unit_backward(one, zero, gates[row, j], gates[row, H + j],
                                                         gates[row, 2 * H + j], c_prev, tanh_c, grad, dc[b, j],
                                                         zero, peephole[j], peephole[H + j], True)
            gates[row, j] = dz_f
            gates[row, H + j] = dz_g
            gates[row, 2 * H + j] = dz_o
        else:
            dz_i, dz_f, dz_g, dz_o, dc_prev = unit_backward(one, gates[row, j], gates[row, H + j],
                                                            gates[row, 2 * H + j], gates[row, 3 * H + j], c_prev,
                                                            tanh_c, grad, dc[b, j], peephole[j], peephole[H + j],
                                                            peephole[2 * H + j], False)
            gates[row, j] = dz_i
            gates[row, H + j] = dz_f
            gates[row, 2 * H + j] = dz_g
            gates[row, 3 * H + j] = dz_o
        dc[b, j] = dc_prev

    @cuda.jit(device=True, inline=True)
    def split_recurrent_gradient(units, slices, partial, unit_block, row_block, s, t, B, H, GH, gates, weights,
                                 width, column_base, dh, mask, use_mask, recurrent_mask, use_recurrent_mask,
                                 grouped):
        """dh[b, k] of ``units`` units k from ``unit_block * units`` and ``rows`` rows from
        ``row_block * rows``, by a block of (units x slices) threads, each summing one slice of the GH gate
        gradients, the slices met in ``partial``, with ``grouped`` in two rounds (:func:`split_tile`: the
        persistent kernel's 64 slices; on the split step's 16 an H200 timed the second round slower).
        ``weights`` is flat, rows of ``width``: unit u's weights are its column ``column_base + u`` (the
        transposed recurrent kernel, or a block's copy of it).

        Each thread takes four gate gradients of its slice at a time, their loads in flight together: the
        sum runs over 4 H gate gradients, four times the forward's units, so it waits on the memory's
        latency four times as often as the forward's unless loads overlap. How the compiler happened to
        arrange the loop set this kernel's speed: on an H200 at 512x16 it took 35 us a step in one form
        and 81 in another (the forward step: 14); the four loads at a time are in the source now."""
        u = cuda.threadIdx.x % units
        part = cuda.threadIdx.x // units
        k = unit_block * units + u
        first = row_block * rows
        total = cuda.local.array(rows, element)
        for r in range(rows):
            total[r] = zero
        if k < H:
            column = index(column_base + u)
            step = index(slices)
            step2, step3 = step + step, step + step + step
            stride = index(width)
            n = index(part)
            rows_at = index(s * B + first)
            while n + step3 < index(GH):
                w0 = weights[n * stride + column]
                w1 = weights[(n + step) * stride + column]
                w2 = weights[(n + step2) * stride + column]
                w3 = weights[(n + step3) * stride + column]
                for r in range(rows):
                    if first + r < B:
                        row = rows_at + index(r)
                        total[r] += (gates[row, n] * w0 + gates[row, n + step] * w1) + (
                            gates[row, n + step2] * w2 + gates[row, n + step3] * w3)
                n += step3 + step
            while n < index(GH):
                w = weights[n * stride + column]
                for r in range(rows):
                    if first + r < B:
                        total[r] += gates[rows_at + index(r), n] * w
                n += step
        for r in range(rows):
            partial[part, u, r] = total[r]
        cuda.syncthreads()
        groups = slices
        if grouped:
            groups = sum_slices_in_groups(partial, units, slices, rows)
            cuda.syncthreads()
        r = part  # now one thread per (unit, row)
        b = first + r
        if r < rows and k < H and b < B and not (use_mask and not mask[b, t]):
            value = zero
            for p in range(index(groups)):
                value += partial[p, index(u), index(r)]
            if use_recurrent_mask:
                value *= recurrent_mask[b, k]
            dh[b, k] = value

    return SimpleNamespace(cell_gradient=cell_gradient, split_recurrent_gradient=split_recurrent_gradient)


@functools.lru_cache(maxsize=None)
def build_backward_kernels(dtype, shape_options):
    """The backward step kernels of one variant (:func:`variant.constants`)."""
    c = constants(dtype, shape_options)
    zero = c.zero
    element = c.element
    rows = c.rows
    split_units = c.split_units
    split_slices = c.split_slices
    split_partials = c.split_partials
    jit = c.jit
    functions = backward_step_functions(dtype, shape_options)
    cell_gradient, split_recurrent_gradient = functions.cell_gradient, functions.split_recurrent_gradient

    @jit
    def backward_cell(s, t, B, H, gates, cs, dh, dc, d_outputs, use_d_outputs, mask, use_mask, peephole,
                      zero_output, cifg):
        """Step s of BPTT, elementwise (:func:`cell_gradient`), one thread per (row, unit)."""
        i = cuda.grid(1)
        if i < B * H:
            b = i // H
            cell_gradient(s, t, b, i - b * H, B, H, gates, cs, dh, dc, d_outputs, use_d_outputs, mask, use_mask,
                          peephole, zero_output, cifg)

    @jit
    def cell_after_gemm(s, t, t_next, B, H, gates, cs, dh, dh_product, dc, d_outputs, use_d_outputs, mask,
                        use_mask, recurrent_mask, use_recurrent_mask, peephole, zero_output, cifg, cell):
        """``backward_cell`` of the GEMM steps: first dh takes the recurrent GEMM's product of step s+1
        (timestep ``t_next``; none when it is negative), times the recurrent mask, except on rows masked
        at ``t_next``, whose gradient flows on unchanged; then, if ``cell``, step s's cell gradient.
        After step 0 it runs once more without ``cell``: dh becomes dh0."""
        i = cuda.grid(1)
        if i < B * H:
            b = i // H
            j = i - b * H
            if t_next >= 0 and (not use_mask or mask[b, t_next]):
                value = dh_product[b, j]
                if use_recurrent_mask:
                    value *= recurrent_mask[b, j]
                dh[b, j] = value
            if cell:
                cell_gradient(s, t, b, j, B, H, gates, cs, dh, dc, d_outputs, use_d_outputs, mask, use_mask,
                              peephole, zero_output, cifg)

    @jit
    def backward_recurrent(s, t, B, H, GH, gates, transposed_kernel, dh, mask, use_mask, recurrent_mask,
                           use_recurrent_mask):
        """dh[b, k] = (dz_s[b] @ recurrent_kernel.T)[k] for active rows (times the recurrent mask).

        One thread per (unit k, block of ``rows`` batch rows), reading the
        transposed weights so that adjacent threads read adjacent addresses.
        """
        i = cuda.grid(1)
        if i >= -(-B // rows) * H:
            return
        k = i % H
        first = (i // H) * rows
        total = cuda.local.array(rows, element)
        for r in range(rows):
            total[r] = zero
        for n in range(GH):
            w = transposed_kernel[n, k]
            for r in range(rows):
                b = first + r
                if b < B:
                    total[r] += gates[s * B + b, n] * w
        for r in range(rows):
            b = first + r
            if b >= B:
                break
            if use_mask and not mask[b, t]:
                continue  # the gradient of a masked step flows on unchanged
            value = total[r]
            if use_recurrent_mask:
                value *= recurrent_mask[b, k]
            dh[b, k] = value

    @jit
    def backward_recurrent_split(s, t, B, H, GH, gates, flat_transposed_kernel, dh, mask, use_mask, recurrent_mask,
                                 use_recurrent_mask):
        """``backward_recurrent`` for small batches: a block of (split_units x split_slices) threads per
        ``split_units`` units and ``rows`` batch rows (:func:`split_recurrent_gradient`); the transposed
        recurrent kernel comes flat, (GH * H,)."""
        partial = cuda.shared.array(split_partials, element)
        unit_block = cuda.blockIdx.x
        split_recurrent_gradient(split_units, split_slices, partial, unit_block, cuda.blockIdx.y, s, t, B, H, GH,
                                 gates, flat_transposed_kernel, H, unit_block * split_units, dh, mask, use_mask,
                                 recurrent_mask, use_recurrent_mask, False)

    return SimpleNamespace(backward_cell=backward_cell, cell_after_gemm=cell_after_gemm,
                           backward_recurrent=backward_recurrent, backward_recurrent_split=backward_recurrent_split)
