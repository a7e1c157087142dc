"""Kernels that move rows around the time loop: the inputs into processing order and back, transposes, copies,
masked copies, column sums, and the peephole gradients summed over every step."""

import functools
from types import SimpleNamespace

from numba import cuda

from .variant import constants


@functools.lru_cache(maxsize=None)
def build_layout_kernels(dtype, shape_options):
    """The row-moving kernels of one variant (:func:`variant.constants`)."""
    c = constants(dtype, shape_options)
    zero = c.zero
    jit = c.jit

    @jit
    def reorder(x, xs, reverse, into_rows):
        """Between x (B, T, F) in the caller's order and rows xs[s * B + b] = x[b, t(s)] in processing order.

        ``into_rows``: fill ``xs`` from ``x``; otherwise fill ``x`` from ``xs``.
        """
        i = cuda.grid(1)
        B, T, F = x.shape
        if i < B * T * F:
            f = i % F
            b = (i // F) % B
            s = i // (F * B)
            t = T - 1 - s if reverse else s
            if into_rows:
                xs[s * B + b, f] = x[b, t, f]
            else:
                x[b, t, f] = xs[s * B + b, f]

    @jit
    def transpose(a, out):
        """out = a.T, one thread per element."""
        i = cuda.grid(1)
        rows_a, columns = a.shape
        if i < rows_a * columns:
            r = i // columns
            c = i - r * columns
            out[c, r] = a[r, c]

    @jit
    def peephole_gradients(gates, cs, T, B, H, cifg, d_peephole):
        """One thread per hidden unit sums its peephole gradients over every step and row."""
        j = cuda.grid(1)
        if j >= H:
            return
        p0 = zero
        p1 = zero
        p2 = zero
        for s in range(T):
            for b in range(B):
                row = s * B + b
                c_prev = cs[row, j]
                c = cs[row + B, j]
                if cifg:
                    p0 += gates[row, j] * c_prev
                    p1 += gates[row, 2 * H + j] * c
                else:
                    p0 += gates[row, j] * c_prev
                    p1 += gates[row, H + j] * c_prev
                    p2 += gates[row, 3 * H + j] * c
        d_peephole[j] = p0
        d_peephole[H + j] = p1
        if not cifg:
            d_peephole[2 * H + j] = p2

    @jit
    def column_sums(rows, count, sums):
        """sums[n] = rows[:count, n].sum(), one thread per column."""
        n = cuda.grid(1)
        if n < sums.shape[0]:
            total = zero
            for r in range(count):
                total += rows[r, n]
            sums[n] = total

    @jit
    def masked_rows(hs, recurrent_mask, B, out):
        """out[s * B + b, k] = hs[s * B + b, k] * recurrent_mask[b, k] for the rows of ``out``."""
        i = cuda.grid(1)
        H = out.shape[1]
        if i < out.shape[0] * H:
            r = i // H
            k = i - r * H
            out[r, k] = hs[r, k] * recurrent_mask[r % B, k]

    @jit
    def copy_rows(source, first, count, target, target_first):
        """target[target_first + r] = source[first + r] for r < count."""
        i = cuda.grid(1)
        width = source.shape[1]
        if i < count * width:
            r = i // width
            k = i - r * width
            target[target_first + r, k] = source[first + r, k]

    return SimpleNamespace(reorder=reorder, transpose=transpose, peephole_gradients=peephole_gradients,
                           column_sums=column_sums, masked_rows=masked_rows, copy_rows=copy_rows)
