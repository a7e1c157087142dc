"""Device functions that sum a step's recurrent products, h_s @ W, for the per-step, split and persistent kernels:
from the recurrent kernel in global memory, or from a block's weight cache in shared memory, and the first
round of a split tile's sum over its slices."""

import functools
from types import SimpleNamespace

from numba import cuda

from .variant import constants


@functools.lru_cache(maxsize=None)
def recurrent_sum_functions(dtype, shape_options):
    """The recurrent-sum device functions of one variant (:func:`variant.constants`)."""
    c = constants(dtype, shape_options)
    zero = c.zero
    index = c.index
    element = c.element
    rows = c.rows
    h_batch = c.h_batch
    h_slots = c.h_slots
    reduction_groups = c.reduction_groups

    @cuda.jit(device=True, inline=True)
    def recurrent_products(s, first, start, stride, B, H, hs, weights, column, gate_stride, recurrent_mask,
                           use_recurrent_mask, cifg, z):
        """z[gate * rows + r] += sum over k = start, start + stride, ... of h[first + r, k] * w[k, gate],
        w[k, gate] = weights[k, column + gate * gate_stride] (the recurrent kernel, or a block's copy of it)."""
        for k in range(start, H, stride):
            w0 = weights[k, column]
            w1 = weights[k, column + gate_stride]
            w2 = weights[k, column + 2 * gate_stride]
            w3 = zero if cifg else weights[k, column + 3 * gate_stride]
            for r in range(rows):
                b = first + r
                if b < B:
                    h = hs[s * B + b, k]
                    if use_recurrent_mask:
                        h *= recurrent_mask[b, k]
                    z[r] += h * w0
                    z[rows + r] += h * w1
                    z[2 * rows + r] += h * w2
                    z[3 * rows + r] += h * w3

    @cuda.jit(device=True, inline=True)
    def cached_products(s, first, start, stride, B, H, hs, cache, width, column, gate_stride, recurrent_mask,
                        use_recurrent_mask, cifg, z):
        """:func:`recurrent_products` from a block's weight cache, flat in shared memory: w[k, gate] =
        cache[k * width + column + gate * gate_stride].

        ``h_batch`` values of k at a time (8 at one row, 4 at more), then
        the rest one at a time, their h (from global memory: the other
        blocks wrote it at the step before) all loaded before any is used,
        so that those loads are in flight together; one after another, each
        waited on the memory's latency. On an H200 four at a time took the
        kernel 179 us at 1024x1x25 against 248 one at a time, and 276
        against 451 at 1024x4x25; 16 values of h in one loop whose every
        load is guarded, 187 and 314 (more instructions, more spills).
        Indices are unsigned and the cache's advances by a running sum: numba
        adds a check for negative indices to every signed one, and the sum of
        products of 64-bit indices and strides cost this loop more
        instructions than its multiply-adds."""
        step = index(stride)
        at = index(start) * index(width) + index(column)
        advance = step * index(width)
        g1 = index(gate_stride)
        rows_at = index(s * B + first)
        h_values = cuda.local.array(h_slots, element)
        last = index(H)
        k = index(start)
        while k + index(h_batch - 1) * step < last:
            for q in range(h_batch):
                load_h(h_values, q, hs, rows_at, first, B, k + index(q) * step, recurrent_mask, use_recurrent_mask)
            for q in range(h_batch):
                add_gate_products(z, h_values, q, cache, at, g1, cifg)
                at += advance
            k += index(h_batch) * step
        while k < last:
            load_h(h_values, 0, hs, rows_at, first, B, k, recurrent_mask, use_recurrent_mask)
            add_gate_products(z, h_values, 0, cache, at, g1, cifg)
            at += advance
            k += step

    @cuda.jit(device=True, inline=True)
    def load_h(h_values, q, hs, rows_at, first, B, k, recurrent_mask, use_recurrent_mask):
        """h_values[q * rows + r] = h[first + r, k] (times the recurrent mask), zero past the batch."""
        for r in range(rows):
            h = zero
            if first + r < B:
                h = hs[rows_at + index(r), k]
                if use_recurrent_mask:
                    h *= recurrent_mask[index(first + r), k]
            h_values[q * rows + r] = h

    @cuda.jit(device=True, inline=True)
    def add_gate_products(z, h_values, q, cache, at, gate_stride, cifg):
        """z[gate * rows + r] += h_values[q * rows + r] * w[gate], one k's four weights at cache[at + gate *
        gate_stride]."""
        w0 = cache[at]
        w1 = cache[at + gate_stride]
        w2 = cache[at + gate_stride + gate_stride]
        w3 = zero if cifg else cache[at + gate_stride + gate_stride + gate_stride]
        for r in range(rows):
            h = h_values[q * rows + r]
            z[r] += h * w0
            z[rows + r] += h * w1
            z[2 * rows + r] += h * w2
            z[3 * rows + r] += h * w3

    @cuda.jit(device=True, inline=True)
    def sum_slices_in_groups(partial, units, slices, values):
        """Round one of a split tile's sum over its slices: ``partial[p, u, n]`` for n < ``values`` becomes,
        at p < groups, the sum of slices p, p + groups, ...; returns groups (at most ``reduction_groups``),
        whose sums the finishing threads then add. The block's threads share out the (unit, value) pairs
        times the groups."""
        groups = max(1, min(reduction_groups, slices // values))
        pairs = units * values
        for item in range(index(cuda.threadIdx.x), index(groups * pairs), index(units * slices)):
            group = item // index(pairs)
            pair = item - group * index(pairs)
            pair_unit = pair // index(values)
            n = pair - pair_unit * index(values)
            total = zero
            for p in range(group, index(slices), index(groups)):  # slot ``group`` is read by this thread alone
                total += partial[p, pair_unit, n]
            partial[group, pair_unit, n] = total
        return groups

    return SimpleNamespace(recurrent_products=recurrent_products, cached_products=cached_products,
                           sum_slices_in_groups=sum_slices_in_groups)
