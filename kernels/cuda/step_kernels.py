"""The forward step kernels: one thread per (unit, row block) (``forward_step``), split over blocks of units x
slices of the recurrent sum (``forward_step_split``), and the GEMM steps' gate update (``gate_update``); and the
device functions the persistent forward kernel shares with them (``split_tile``, ``finish_unit``)."""

import functools
from types import SimpleNamespace

from numba import cuda

from .recurrent_sums import recurrent_sum_functions
from .variant import constants, cuda_gate_rules


@functools.lru_cache(maxsize=None)
def forward_step_functions(dtype, shape_options):
    """The forward step's device functions of one variant (:func:`variant.constants`): the gate update of a unit and a
    split tile of a step."""
    c = constants(dtype, shape_options)
    one = c.one
    zero = c.zero
    index = c.index
    element = c.element
    rows = c.rows
    gate_slots = c.gate_slots
    sums = recurrent_sum_functions(dtype, shape_options)
    recurrent_products, cached_products = sums.recurrent_products, sums.cached_products
    sum_slices_in_groups = sums.sum_slices_in_groups
    rules = cuda_gate_rules(dtype)
    unit_forward, hidden_state = rules.unit_forward, rules.hidden_state

    @cuda.jit(device=True, inline=True)
    def update_unit(s, t, b, j, B, H, z0, z1, z2, z3, gates, hs, cs, bias, peephole, cifg, outputs):
        """The gate update of unit j of row b from its recurrent products z0..z3 (z3 unused with CIFG)."""
        row = s * B + b
        nxt = (s + 1) * B + b
        z0 += gates[row, j] + bias[j]
        z1 += gates[row, H + j] + bias[H + j]
        z2 += gates[row, 2 * H + j] + bias[2 * H + j]
        c_prev = cs[row, j]
        if cifg:  # gates f, c, o
            _, f, g, o, c = unit_forward(one, zero, z0, z1, z2, c_prev, zero, peephole[j], peephole[H + j], True)
            gates[row, j] = f
            gates[row, H + j] = g
            gates[row, 2 * H + j] = o
        else:
            z3 += gates[row, 3 * H + j] + bias[3 * H + j]
            i, f, g, o, c = unit_forward(one, z0, z1, z2, z3, c_prev, peephole[j], peephole[H + j],
                                         peephole[2 * H + j], False)
            gates[row, j] = i
            gates[row, H + j] = f
            gates[row, 2 * H + j] = g
            gates[row, 3 * H + j] = o
        h = hidden_state(o, c)
        cs[nxt, j] = c
        hs[nxt, j] = h
        outputs[b, t, j] = h

    @cuda.jit(device=True, inline=True)
    def finish_unit(s, t, b, j, B, H, z0, z1, z2, z3, gates, hs, cs, bias, peephole, mask, use_mask, zero_output,
                    cifg, outputs):
        """Unit j of row b at step s: the gate update, or, on a masked step, the state carried over."""
        if use_mask and not mask[b, t]:
            hs[(s + 1) * B + b, j] = hs[s * B + b, j]
            cs[(s + 1) * B + b, j] = cs[s * B + b, j]
            outputs[b, t, j] = zero if zero_output else hs[s * B + b, j]
        else:
            update_unit(s, t, b, j, B, H, z0, z1, z2, z3, gates, hs, cs, bias, peephole, cifg, outputs)

    @cuda.jit(device=True, inline=True)
    def split_tile(units, slices, partial, unit_block, row_block, s, t, B, H, gates, hs, cs, weights, cache, width,
                   column_base, gate_stride, bias, peephole, mask, use_mask, recurrent_mask, use_recurrent_mask,
                   zero_output, cifg, outputs):
        """Step s for ``units`` hidden units from ``unit_block * units`` and ``rows`` batch rows from
        ``row_block * rows``, by a block of (units x slices) threads, each summing one slice of k.

        Unit u's weights are column ``column_base + u`` of ``weights``, its
        gates ``gate_stride`` columns apart; or, with ``width`` > 0, of a
        block's flat ``cache`` of rows of ``width`` (:func:`cached_products`).
        The slices' partial sums meet in ``partial`` (shared, (slices,
        units, 4 * rows)), which the block adds up in two rounds: its
        threads share out the (unit, gate slot) pairs times up to
        ``reduction_groups`` groups of slices, each adding its group's
        slices into the group's first; then one thread per (unit, row) adds
        the groups' sums of its four gates and finishes the update. One
        thread adding all slices of its four gates (4 x 64 dependent loads
        from shared memory a step in the persistent kernel) was the longest
        serial stretch of a step.
        """
        u = cuda.threadIdx.x % units
        part = cuda.threadIdx.x // units
        j = unit_block * units + u
        first = row_block * rows
        z = cuda.local.array(gate_slots, element)
        for n in range(gate_slots):
            z[n] = zero
        if j < H:
            if width > 0:
                cached_products(s, first, part, slices, B, H, hs, cache, width, column_base + u, gate_stride,
                                recurrent_mask, use_recurrent_mask, cifg, z)
            else:
                recurrent_products(s, first, part, slices, B, H, hs, weights, column_base + u, gate_stride,
                                   recurrent_mask, use_recurrent_mask, cifg, z)
        for n in range(gate_slots):
            partial[part, u, n] = z[n]
        cuda.syncthreads()
        groups = sum_slices_in_groups(partial, units, slices, gate_slots)
        cuda.syncthreads()
        r = part  # now one thread per (unit, row)
        b = first + r
        if r < rows and j < H and b < B:
            z0 = z1 = z2 = z3 = zero
            at_unit, at_row = index(u), index(r)
            for p in range(index(groups)):
                z0 += partial[p, at_unit, at_row]
                z1 += partial[p, at_unit, index(rows) + at_row]
                z2 += partial[p, at_unit, index(2 * rows) + at_row]
                z3 += partial[p, at_unit, index(3 * rows) + at_row]
            finish_unit(s, t, b, j, B, H, z0, z1, z2, z3, gates, hs, cs, bias, peephole, mask, use_mask,
                        zero_output, cifg, outputs)

    return SimpleNamespace(finish_unit=finish_unit, split_tile=split_tile)


@functools.lru_cache(maxsize=None)
def build_step_kernels(dtype, shape_options):
    """The forward step kernels of one variant (:func:`variant.constants`)."""
    c = constants(dtype, shape_options)
    zero = c.zero
    element = c.element
    rows = c.rows
    gate_slots = c.gate_slots
    split_units = c.split_units
    split_slices = c.split_slices
    split_partials = c.split_partials
    jit = c.jit
    sums = recurrent_sum_functions(dtype, shape_options)
    recurrent_products = sums.recurrent_products
    step = forward_step_functions(dtype, shape_options)
    finish_unit, split_tile = step.finish_unit, step.split_tile

    @jit
    def forward_step(s, t, B, H, gates, hs, cs, recurrent_kernel, bias, peephole, mask, use_mask,
                     recurrent_mask, use_recurrent_mask, zero_output, cifg, outputs):
        """Step s (timestep t): one thread per (hidden unit, block of ``rows`` batch rows) does all its gates.

        Each thread reads its unit's column of every gate's recurrent weights
        once for ``rows`` batch rows (adjacent threads read adjacent
        columns), so the weights are read ceil(B / rows) times per step, not
        B times. On entry ``gates`` rows of step s hold the input
        projection; on exit the gate activations that BPTT needs. Writes h, c
        of step s+1 and the output at t (a masked step carries the state; its
        output is the carried h, or zero with ``zero_output``).
        """
        i = cuda.grid(1)
        if i >= -(-B // rows) * H:
            return
        j = i % H
        first = (i // H) * rows
        z = cuda.local.array(gate_slots, element)  # z[gate * rows + r]
        for n in range(gate_slots):
            z[n] = zero
        recurrent_products(s, first, 0, 1, B, H, hs, recurrent_kernel, j, H, recurrent_mask, use_recurrent_mask,
                           cifg, z)
        for r in range(rows):
            b = first + r
            if b >= B:
                break
            finish_unit(s, t, b, j, B, H, z[r], z[rows + r], z[2 * rows + r], z[3 * rows + r], gates, hs, cs,
                        bias, peephole, mask, use_mask, zero_output, cifg, outputs)

    @jit
    def forward_step_split(s, t, B, H, gates, hs, cs, recurrent_kernel, bias, peephole, mask, use_mask,
                           recurrent_mask, use_recurrent_mask, zero_output, cifg, outputs):
        """``forward_step`` for small batches: a block of (split_units x split_slices) threads per
        ``split_units`` hidden units and ``rows`` batch rows (:func:`split_tile`).

        With one thread per unit a small batch launches only H threads, too
        few to keep the memory system busy while they read the recurrent
        weights; here H / split_units blocks read them. Adjacent threads
        still read adjacent weight columns.
        """
        partial = cuda.shared.array(split_partials, element)
        no_cache = cuda.shared.array(0, element)  # launched without dynamic shared memory: never read
        unit_block = cuda.blockIdx.x
        split_tile(split_units, split_slices, partial, unit_block, cuda.blockIdx.y, s, t, B, H, gates, hs, cs,
                   recurrent_kernel, no_cache, 0, unit_block * split_units, H, bias, peephole, mask, use_mask,
                   recurrent_mask, use_recurrent_mask, zero_output, cifg, outputs)

    @jit
    def gate_update(s, t, B, H, gates, hs, cs, bias, peephole, mask, use_mask, recurrent_mask, use_recurrent_mask,
                    zero_output, cifg, outputs, masked_h):
        """Step s of the GEMM steps, after the recurrent GEMM added h_s @ W into ``gates`` rows of step s:
        the gate update, one thread per (row, unit). With the recurrent mask it also writes the next GEMM's
        operand, ``masked_h`` = h_{s+1} * mask."""
        i = cuda.grid(1)
        if i < B * H:
            b = i // H
            j = i - b * H
            finish_unit(s, t, b, j, B, H, zero, zero, zero, zero, gates, hs, cs, bias, peephole, mask, use_mask,
                        zero_output, cifg, outputs)
            if use_recurrent_mask:
                masked_h[b, j] = hs[(s + 1) * B + b, j] * recurrent_mask[b, j]

    return SimpleNamespace(forward_step=forward_step, forward_step_split=forward_step_split, gate_update=gate_update)
