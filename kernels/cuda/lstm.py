"""The LSTM time loop and backpropagation through time on a CUDA GPU: the twin of ``lstm.py``.

Same structure as the CPU module and as cuDNN: one GEMM projects the inputs
of every timestep before the loop; each forward step is one fused kernel
(the recurrent product for all four gates of a hidden unit, then that
unit's gate update, in the same thread); each backward step is two kernels
(the gate gradients, elementwise; then their product with the recurrent
weights); the weight gradients are GEMMs over all timesteps after the loop.
For small batches each time loop can instead be one cooperative kernel
(``forward_persistent``, ``backward_persistent``: a grid barrier per step,
the recurrent weights held in shared memory across steps), chosen by
``config.GPU_OPTIONS``.

Everything is time-major and in processing order, as on the CPU, and kept
as 2-D row blocks so that every GEMM reads plain matrices: row ``s * B + b``
of ``xs`` (T*B, F), ``gates`` (T*B, G*H), ``hs`` and ``cs`` ((T+1)*B, H)
belongs to step ``s`` and batch row ``b``.

Kernels are built per dtype and per launch configuration by
:func:`build_kernels` (closure constants, so that float32 math never
promotes to float64 and the tile sizes are compile-time constants); launch
configurations come in as arguments from ``config.GPU_OPTIONS``, never read
from module globals, which the CUDA simulator would read live.
"""

import collections
import functools
import math
from types import SimpleNamespace

import numba
import numpy as np
from numba import cuda

from . import gpu_cublas, gpu_jit, gpu_launch, gpu_memory


def _launch(count, threads):
    return (max(1, -(-count // threads)), threads)


def _run(kernel, count, threads, *args):
    """``kernel`` over ``count`` threads in blocks of ``threads``, through gpu_launch's templates."""
    gpu_launch.launch(kernel, *_launch(count, threads), args)


_SHAPE_OPTIONS = ("fastmath", "cache", "gemm_block", "gemm_depth", "gemm_micro", "rows", "split_units", "split_slices",
                  "persistent_units", "persistent_slices", "persistent_blocks_per_sm")


def kernels_for(dtype, options):
    """:func:`build_kernels` for a dtype and a launch-options dict of ``config``."""
    return build_kernels(dtype_name(dtype), tuple(zip(_SHAPE_OPTIONS, map(options.__getitem__, _SHAPE_OPTIONS))))


def rows_for_batch(options, B):
    """``options``, with ``rows`` (batch rows per thread of the per-step recurrent sums) 1 for a batch of
    one: the kernels' loops over rows are unrolled at compile time, so a batch of one in blocks of 4 rows
    would carry three idle rows through every step. Other batches keep ``rows``: each row count is a set of
    kernels to compile, which a smaller last batch of an epoch would otherwise pay for."""
    return {**options, "rows": 1} if B == 1 and options["rows"] > 1 else options


@functools.lru_cache(maxsize=None)
def dtype_name(dtype):
    """``np.dtype(dtype).name``, looked up once per dtype: numpy computes it in Python at every call, and
    every pass asks several times."""
    return np.dtype(dtype).name


@functools.lru_cache(maxsize=None)
def build_kernels(dtype, shape_options):
    """The CUDA kernels for one float dtype (``"float32"``/``"float64"``) and the options that shape their
    code (``(name, value)`` pairs of ``config.GPU_OPTIONS``): fastmath, the on-disk cache, the GEMM's block
    tile, depth and per-thread micro-tile, rows per thread, and the block shapes (hidden units x slices of
    the recurrent sum) of the split steps and of the persistent kernels, and the persistent kernels' launch
    bound (blocks per SM they are compiled to fit; 0: none)."""
    options = dict(shape_options)
    if options["rows"] > min(options["split_slices"], options["persistent_slices"]):
        raise ValueError(f"rows ({options['rows']}) must not exceed split_slices and persistent_slices: "
                         "one thread per (unit, row) finishes a split step")
    blocks_per_sm = options["persistent_blocks_per_sm"]
    if not isinstance(blocks_per_sm, (int, np.integer)) or isinstance(blocks_per_sm, bool) or blocks_per_sm < 0:
        raise ValueError(f"persistent_blocks_per_sm must be a whole number of blocks, 0 for no bound, got "
                         f"{blocks_per_sm!r}")
    real = np.dtype(dtype).type
    one, zero = real(1), real(0)
    index = numba.uint64  # for indices that numba need not check for negative values
    element = numba.from_dtype(np.dtype(dtype))
    rows = options["rows"]
    split_units, split_slices = options["split_units"], options["split_slices"]
    persistent_units, persistent_slices = options["persistent_units"], options["persistent_slices"]
    gemm_block, gemm_depth, gemm_micro = options["gemm_block"], options["gemm_depth"], options["gemm_micro"]
    # Array sizes must be closure constants, not expressions, for NVVM.
    gate_slots = 4 * rows
    reduction_groups = 8  # at most, in the first round of a split tile's sum over slices (split_tile)
    cache_loads = 8  # loads in flight per thread while a persistent kernel fills its weight cache
    h_batch = 8 if rows == 1 else 4  # values of k whose h a persistent forward step loads together
    h_slots = h_batch * rows
    split_partials = (split_slices, split_units, gate_slots)
    persistent_partials = (persistent_slices, persistent_units, gate_slots)
    gemm_side = gemm_block // gemm_micro  # threads along each side of a block tile
    gemm_threads = gemm_side * gemm_side
    gemm_tile_shape = (gemm_depth, gemm_block + 1)  # the extra column spreads transposed stores over the banks
    gemm_outputs = gemm_micro * gemm_micro
    jit = gpu_jit.kernel_decorator(("gpu_lstm", dtype, shape_options), options["fastmath"], options["cache"])
    # numba-cuda 0.30 cannot cache code linked with cudadevrt ("Cannot pickle CUDACodeLibrary with linking
    # files", seen on an H200), which every grid barrier needs: the cooperative kernels always compile.
    persistent_bounds = (persistent_units * persistent_slices, int(blocks_per_sm)) if blocks_per_sm else None
    cooperative_jit = gpu_jit.kernel_decorator(("gpu_lstm", dtype, shape_options), options["fastmath"], False,
                                               persistent_bounds)

    @cuda.jit(device=True, inline=True)
    def sigmoid(x):
        return one / (one + math.exp(-x))

    @cuda.jit(device=True, inline=True)
    def stage(tile, operand, k_major, index, start, first, k, limit):
        """Entry ``index`` of a GEMM slab: tile[kk, i] = element (start + kk, first + i) of an operand
        stored (k, limit) when ``k_major``, else (limit, k); zero outside. Consecutive indices walk the
        stored operand's contiguous axis, so a warp's reads coalesce."""
        if k_major:
            kk = index // gemm_block
            i = index - kk * gemm_block
        else:
            i = index // gemm_depth
            kk = index - i * gemm_depth
        if start + kk < k and first + i < limit:
            tile[kk, i] = operand[start + kk, first + i] if k_major else operand[first + i, start + kk]
        else:
            tile[kk, i] = zero

    @cuda.jit(device=True, inline=True)
    def gemm_tile(a, b, m, n, k_start, k_stop, transpose_a, transpose_b, a_tile, b_tile, total):
        """``total`` (gemm_outputs, per thread) = this block's tile of op(a)[:, k_start:k_stop] @
        op(b)[k_start:k_stop, :], the micro-tile of rows ``ty + p * gemm_side`` and columns
        ``tx + q * gemm_side`` at ``total[p * gemm_micro + q]`` (see :func:`gemm`)."""
        a_values = cuda.local.array(gemm_micro, element)
        b_values = cuda.local.array(gemm_micro, element)
        thread = cuda.threadIdx.x
        tx = thread % gemm_side
        ty = thread // gemm_side
        row0 = cuda.blockIdx.y * gemm_block
        col0 = cuda.blockIdx.x * gemm_block
        for q in range(gemm_outputs):
            total[q] = zero
        for start in range(k_start, k_stop, gemm_depth):
            for index in range(thread, gemm_block * gemm_depth, gemm_threads):
                stage(a_tile, a, transpose_a, index, start, row0, k_stop, m)  # transposed a is (k, m)
                stage(b_tile, b, not transpose_b, index, start, col0, k_stop, n)  # plain b is (k, n)
            cuda.syncthreads()
            for kk in range(gemm_depth):
                for q in range(gemm_micro):
                    a_values[q] = a_tile[kk, ty + q * gemm_side]
                    b_values[q] = b_tile[kk, tx + q * gemm_side]
                for p in range(gemm_micro):
                    for q in range(gemm_micro):
                        total[p * gemm_micro + q] += a_values[p] * b_values[q]
            cuda.syncthreads()

    @cuda.jit(device=True, inline=True)
    def store_tile(total, c, m, n, accumulate):
        """This thread's micro-tile from :func:`gemm_tile` into c[:m, :n], or added to it."""
        tx = cuda.threadIdx.x % gemm_side
        ty = cuda.threadIdx.x // gemm_side
        for p in range(gemm_micro):
            row = cuda.blockIdx.y * gemm_block + ty + p * gemm_side
            for q in range(gemm_micro):
                col = cuda.blockIdx.x * gemm_block + tx + q * gemm_side
                if row < m and col < n:
                    if accumulate:
                        c[row, col] += total[p * gemm_micro + q]
                    else:
                        c[row, col] = total[p * gemm_micro + q]

    @jit
    def gemm(a, b, c, m, n, k, transpose_a, transpose_b, accumulate):
        """c[:m, :n] (+)= op(a) @ op(b), op(a) (m, k), op(b) (k, n).

        A block computes a (gemm_block x gemm_block) tile of c: it stages
        (gemm_depth)-deep slabs of both operands in shared memory (loaded
        along whichever axis is contiguous in global memory), and each of
        its threads accumulates a (gemm_micro x gemm_micro) micro-tile in
        registers, rows ``ty + p * gemm_side`` and columns ``tx + q * gemm_side``,
        so that each value read from shared memory feeds gemm_micro
        products, a warp's shared reads are broadcasts or consecutive, and
        its writes to c are coalesced. Blocks are 1-D, gemm_side**2 threads.
        """
        a_tile = cuda.shared.array(gemm_tile_shape, element)  # a_tile[kk, i] = op(a)[row0 + i, start + kk]
        b_tile = cuda.shared.array(gemm_tile_shape, element)  # b_tile[kk, j] = op(b)[start + kk, col0 + j]
        total = cuda.local.array(gemm_outputs, element)
        gemm_tile(a, b, m, n, 0, k, transpose_a, transpose_b, a_tile, b_tile, total)
        store_tile(total, c, m, n, accumulate)

    @jit
    def gemm_split(a, b, partials, m, n, k, chunk, transpose_a, transpose_b):
        """:func:`gemm` with the depth split: the blocks of ``blockIdx.z`` = z compute
        partials[z, :m, :n] = op(a)[:, z * chunk:(z + 1) * chunk] @ op(b)[z * chunk:(z + 1) * chunk, :], so
        that a product of few output tiles and a long depth (a weight gradient over many timesteps) runs
        on as many blocks as the GPU holds; :func:`sum_partials` adds them up."""
        a_tile = cuda.shared.array(gemm_tile_shape, element)
        b_tile = cuda.shared.array(gemm_tile_shape, element)
        total = cuda.local.array(gemm_outputs, element)
        z = cuda.blockIdx.z
        gemm_tile(a, b, m, n, z * chunk, min(k, (z + 1) * chunk), transpose_a, transpose_b, a_tile, b_tile, total)
        store_tile(total, partials[z], m, n, False)

    @jit
    def sum_partials(partials, c, m, n, accumulate):
        """c[:m, :n] (+)= partials[:, :m, :n].sum(axis=0), the splits added in order (the same bits at
        every run), one thread per element of c."""
        i = cuda.grid(1)
        if i < m * n:
            row = i // n
            col = i - row * n
            total = zero
            for z in range(partials.shape[0]):
                total += partials[z, row, col]
            if accumulate:
                c[row, col] += total
            else:
                c[row, col] = total

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

    @cuda.jit(device=True, inline=True)
    def update_unit(s, t, b, j, B, H, z0, z1, z2, z3, gates, hs, cs, bias, peephole, cifg, outputs):
        """The gate update of unit j of row b from its recurrent products z0..z3 (z3 unused with CIFG)."""
        row = s * B + b
        nxt = (s + 1) * B + b
        z0 += gates[row, j] + bias[j]
        z1 += gates[row, H + j] + bias[H + j]
        z2 += gates[row, 2 * H + j] + bias[2 * H + j]
        c_prev = cs[row, j]
        if cifg:
            f = sigmoid(z0 + peephole[j] * c_prev)
            g = math.tanh(z1)
            c = f * c_prev + (one - f) * g
            o = sigmoid(z2 + peephole[H + j] * c)
            gates[row, j] = f
            gates[row, H + j] = g
            gates[row, 2 * H + j] = o
        else:
            z3 += gates[row, 3 * H + j] + bias[3 * H + j]
            ig = sigmoid(z0 + peephole[j] * c_prev)
            f = sigmoid(z1 + peephole[H + j] * c_prev)
            g = math.tanh(z2)
            c = f * c_prev + ig * g
            o = sigmoid(z3 + peephole[2 * H + j] * c)
            gates[row, j] = ig
            gates[row, H + j] = f
            gates[row, 2 * H + j] = g
            gates[row, 3 * H + j] = o
        h = o * math.tanh(c)
        cs[nxt, j] = c
        hs[nxt, j] = h
        outputs[b, t, j] = h

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
    def finish_unit(s, t, b, j, B, H, z0, z1, z2, z3, gates, hs, cs, bias, peephole, mask, use_mask, zero_output,
                    cifg, outputs):
        """Unit j of row b at step s: the gate update, or, on a masked step, the state carried over."""
        if use_mask and not mask[b, t]:
            hs[(s + 1) * B + b, j] = hs[s * B + b, j]
            cs[(s + 1) * B + b, j] = cs[s * B + b, j]
            outputs[b, t, j] = zero if zero_output else hs[s * B + b, j]
        else:
            update_unit(s, t, b, j, B, H, z0, z1, z2, z3, gates, hs, cs, bias, peephole, cifg, outputs)

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

    @cuda.jit(device=True, inline=True)
    def owned_tiles(unit_blocks):
        """Which tiles of a persistent kernel this block runs, at every step and in both passes: unit blocks
        ``first_unit_block, first_unit_block + owners, ...`` (owners = blocks that own unit blocks), each with
        its row blocks ``row_group, row_group + row_groups, ...``. A grid of fewer blocks than unit blocks
        gives each block several unit blocks and all their rows; a larger one, ``row_groups`` blocks per unit
        block, splitting its rows. Either way a unit block's recurrent weights sit in one block's cache only
        per row group, not once per row block."""
        owners = min(unit_blocks, cuda.gridDim.x)
        return cuda.blockIdx.x % owners, owners, cuda.blockIdx.x // owners, cuda.gridDim.x // owners

    @cuda.jit(device=True, inline=True)
    def forward_cache_entry(recurrent_kernel, k, c, unit_block, H, cifg, width, slot):
        """Row k, column c of a forward block's weight cache (:func:`forward_persistent`): the value and its
        place. Row k holds the block's columns of the four gates, ``persistent_units`` each."""
        gate = c // persistent_units
        j = unit_block * persistent_units + c - gate * persistent_units
        value = zero
        if j < H and not (cifg and gate == 3):
            value = recurrent_kernel[index(k), index(gate * H + j)]
        return value, k * width + slot * 4 * persistent_units + c

    @cuda.jit(device=True, inline=True)
    def backward_cache_entry(recurrent_kernel, u, n, unit_block, H, cifg, width, slot):
        """Unit u's weight n in a backward block's weight cache (:func:`backward_persistent`), transposed:
        adjacent entries read adjacent weights of a row of the recurrent kernel."""
        k = unit_block * persistent_units + u
        return (recurrent_kernel[index(k), index(n)] if k < H else zero), n * width + slot * persistent_units + u

    def cache_filler(entry):
        @cuda.jit(device=True, inline=True)
        def fill(cache, recurrent_kernel, majors, minors, unit_block, H, cifg, width, slot):
            """Entries (major, minor) of ``entry``, majors x minors in row-major order, into ``cache`` by the
            block's threads, each with ``cache_loads`` loads in flight before it stores them (one at a
            time, the copy waited on the memory's latency at each entry) and its place in the walk kept
            by running sums, not divided out at each entry."""
            values = cuda.local.array(cache_loads, element)
            places = cuda.local.array(cache_loads, numba.int64)
            step = cuda.blockDim.x
            major_step = step // minors
            minor_step = step - major_step * minors
            major = cuda.threadIdx.x // minors
            minor = cuda.threadIdx.x - major * minors
            while major < majors:
                for q in range(cache_loads):
                    value, place = zero, -1
                    if major < majors:
                        value, place = entry(recurrent_kernel, major, minor, unit_block, H, cifg, width, slot)
                    values[q] = value
                    places[q] = place
                    major += major_step
                    minor += minor_step
                    if minor >= minors:
                        minor -= minors
                        major += 1
                for q in range(cache_loads):
                    if places[q] >= 0:
                        cache[index(places[q])] = values[q]
        return fill

    fill_forward_cache = cache_filler(forward_cache_entry)
    fill_backward_cache = cache_filler(backward_cache_entry)

    @cooperative_jit
    def forward_persistent(T, reverse, B, H, gates, hs, cs, h0, c0, recurrent_kernel, bias, peephole, mask,
                           use_mask, recurrent_mask, use_recurrent_mask, zero_output, cifg, outputs, h_n, c_n,
                           final_states, cache_slots):
        """The whole time loop in one cooperative launch: the split step's tiles, a grid barrier per step;
        with ``final_states``, h and c after the last step copied into ``h_n`` and ``c_n`` too.

        Each block runs the same tiles at every step (:func:`owned_tiles`),
        so with ``cache_slots`` > 0 it copies the recurrent weights of its
        unit blocks (at most ``cache_slots``) into dynamic shared memory
        once and reads them from there at every step: the weights cross the
        memory bus once per sequence, not once per step (Diamos et al.
        2016). The cache is (H, 4 * units * cache_slots + 1): an odd row
        length spreads a warp's reads over the memory banks. Launch with at
        most as many blocks as can be co-resident: as many as there are unit
        blocks, times a whole number of row groups, or fewer.
        """
        grid = cuda.cg.this_grid()
        partial = cuda.shared.array(persistent_partials, element)
        unit_blocks = -(-H // persistent_units)
        row_blocks = -(-B // rows)
        first_unit_block, owners, row_group, row_groups = owned_tiles(unit_blocks)
        columns = 4 * persistent_units
        width = columns * cache_slots + 1
        threads = persistent_units * persistent_slices
        cache = cuda.shared.array(0, element)  # (H, width), flat
        if cache_slots > 0:
            slot = 0
            for unit_block in range(first_unit_block, unit_blocks, owners):
                fill_forward_cache(cache, recurrent_kernel, H, columns, unit_block, H, cifg, width, slot)
                slot += 1
        for i in range(cuda.grid(1), B * H, cuda.gridDim.x * threads):
            b = i // H
            j = i - b * H
            hs[b, j] = h0[b, j]
            cs[b, j] = c0[b, j]
        grid.sync()
        for s in range(T):
            t = T - 1 - s if reverse else s
            slot = 0
            for unit_block in range(first_unit_block, unit_blocks, owners):
                if cache_slots > 0:
                    column_base, gate_stride = slot * columns, persistent_units
                else:
                    column_base, gate_stride = unit_block * persistent_units, H
                for row_block in range(row_group, row_blocks, row_groups):
                    split_tile(persistent_units, persistent_slices, partial, unit_block, row_block, s, t, B, H,
                               gates, hs, cs, recurrent_kernel, cache, width if cache_slots > 0 else 0,
                               column_base, gate_stride, bias, peephole, mask, use_mask, recurrent_mask,
                               use_recurrent_mask, zero_output, cifg, outputs)
                    cuda.syncthreads()  # before the next tile overwrites ``partial``
                slot += 1
            grid.sync()  # step s+1 reads every unit's h of step s
        if final_states:
            for i in range(cuda.grid(1), B * H, cuda.gridDim.x * threads):
                b = i // H
                j = i - b * H
                h_n[b, j] = hs[T * B + b, j]
                c_n[b, j] = cs[T * B + b, j]

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
        c = cs[(s + 1) * B + b, j]
        tc = math.tanh(c)
        if cifg:
            f = gates[row, j]
            g = gates[row, H + j]
            o = gates[row, 2 * H + j]
            dz_o = grad * tc * o * (one - o)
            dc_t = dc[b, j] + grad * o * (one - tc * tc) + dz_o * peephole[H + j]
            dz_f = dc_t * (c_prev - g) * f * (one - f)
            dz_g = dc_t * (one - f) * (one - g * g)
            gates[row, j] = dz_f
            gates[row, H + j] = dz_g
            gates[row, 2 * H + j] = dz_o
            dc[b, j] = dc_t * f + dz_f * peephole[j]
        else:
            ig = gates[row, j]
            f = gates[row, H + j]
            g = gates[row, 2 * H + j]
            o = gates[row, 3 * H + j]
            dz_o = grad * tc * o * (one - o)
            dc_t = dc[b, j] + grad * o * (one - tc * tc) + dz_o * peephole[2 * H + j]
            dz_i = dc_t * g * ig * (one - ig)
            dz_f = dc_t * c_prev * f * (one - f)
            dz_g = dc_t * ig * (one - g * g)
            gates[row, j] = dz_i
            gates[row, H + j] = dz_f
            gates[row, 2 * H + j] = dz_g
            gates[row, 3 * H + j] = dz_o
            dc[b, j] = dc_t * f + dz_i * peephole[j] + dz_f * peephole[H + j]

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

    @cooperative_jit
    def backward_persistent(T, reverse, B, H, GH, gates, cs, dh, dc, d_outputs, use_d_outputs, mask, use_mask,
                            peephole, zero_output, cifg, recurrent_weights, recurrent_mask, use_recurrent_mask,
                            cache_slots):
        """BPTT's time loop in one cooperative launch, the twin of ``forward_persistent``: per step, the
        cell gradients of each block's tiles, a grid barrier, then their recurrent gradients.

        A tile (unit block, row block) belongs to one block in both phases
        and at every step (:func:`owned_tiles`), so the dh and dc a block writes are read again
        only by itself: one grid barrier per step suffices (phase two reads
        every unit's gate gradients). With ``cache_slots`` > 0,
        ``recurrent_weights`` is the recurrent kernel (H, GH), and the block
        copies its units' rows of it, transposed, into dynamic shared memory
        (GH, :func:`_cache_width` of persistent_units * cache_slots), first read after the first
        grid barrier, which orders their copy too; otherwise it is the
        transposed recurrent kernel (GH, H), read at every step.
        """
        grid = cuda.cg.this_grid()
        partial = cuda.shared.array(persistent_partials, element)
        unit_blocks = -(-H // persistent_units)
        row_blocks = -(-B // rows)
        first_unit_block, owners, row_group, row_groups = owned_tiles(unit_blocks)
        width = persistent_units * cache_slots + (0 if cache_slots == 1 else 1)  # _cache_width
        cache = cuda.shared.array(0, element)  # (GH, width), flat
        if cache_slots > 0:
            slot = 0
            for unit_block in range(first_unit_block, unit_blocks, owners):
                fill_backward_cache(cache, recurrent_weights, persistent_units, GH, unit_block, H, False, width,
                                    slot)
                slot += 1
        flat_weights = recurrent_weights.reshape(GH * H)  # read uncached: the transposed kernel
        u = cuda.threadIdx.x % persistent_units
        r = cuda.threadIdx.x // persistent_units
        for s in range(T - 1, -1, -1):
            t = T - 1 - s if reverse else s
            for unit_block in range(first_unit_block, unit_blocks, owners):
                j = unit_block * persistent_units + u
                for row_block in range(row_group, row_blocks, row_groups):
                    b = row_block * rows + r
                    if r < rows and j < H and b < B:
                        cell_gradient(s, t, b, j, B, H, gates, cs, dh, dc, d_outputs, use_d_outputs, mask,
                                      use_mask, peephole, zero_output, cifg)
            grid.sync()  # the recurrent gradients read every unit's gate gradients
            slot = 0
            for unit_block in range(first_unit_block, unit_blocks, owners):
                for row_block in range(row_group, row_blocks, row_groups):
                    # two call sites, so that the compiler knows the cache's reads for shared-memory loads
                    if cache_slots > 0:
                        split_recurrent_gradient(persistent_units, persistent_slices, partial, unit_block,
                                                 row_block, s, t, B, H, GH, gates, cache, width,
                                                 slot * persistent_units, dh, mask, use_mask, recurrent_mask,
                                                 use_recurrent_mask, True)
                    else:
                        split_recurrent_gradient(persistent_units, persistent_slices, partial, unit_block,
                                                 row_block, s, t, B, H, GH, gates, flat_weights, H,
                                                 unit_block * persistent_units, dh, mask, use_mask, recurrent_mask,
                                                 use_recurrent_mask, True)
                    cuda.syncthreads()  # before ``partial`` is reused, and before this block's cells read dh
                slot += 1

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

    return SimpleNamespace(gemm=gemm, gemm_split=gemm_split, sum_partials=sum_partials, reorder=reorder,
                           forward_step=forward_step, forward_step_split=forward_step_split,
                           forward_persistent=forward_persistent, gate_update=gate_update,
                           cell_after_gemm=cell_after_gemm,
                           backward_cell=backward_cell, backward_recurrent=backward_recurrent,
                           backward_recurrent_split=backward_recurrent_split,
                           backward_persistent=backward_persistent, transpose=transpose,
                           peephole_gradients=peephole_gradients,
                           column_sums=column_sums, masked_rows=masked_rows, copy_rows=copy_rows)


def launch_gemm(k, options, a, b, c, m, n, depth, transpose_a=False, transpose_b=False, accumulate=False):
    """``c[:m, :n] = op(a) @ op(b)`` (``+= `` with ``accumulate``), op(a) m x depth and op(b) depth x n, the
    transposes read in place: by the kernel ``k.gemm`` (``k.gemm_split`` for a long depth over few output
    tiles), or by cuBLAS when ``options["gemm_library"]`` says
    "cublas", or says "auto", libcublas loads (never in the simulator) and the product has at least
    ``options["cublas_from"]`` multiply-adds; cuBLAS's float32 GEMMs on TF32 tensor cores with
    ``options["tf32"]``."""
    if _gemm_library(options, m * n * depth) == "cublas":
        gpu_cublas.gemm(a, b, c, m, n, depth, transpose_a, transpose_b, accumulate, options["tf32"])
    else:
        _numba_gemm(k, options, a, b, c, m, n, depth, transpose_a, transpose_b, accumulate)


def step_gemm(k, options, a, b, c, m, n, depth, transpose_b=False, accumulate=False):
    """A callable ``run(a_row, c_row)``: :func:`launch_gemm` of ``a[a_row:a_row + m]`` and ``b`` into
    ``c[c_row:c_row + m]``, for the GEMM steps, which run one per time step on the step's rows. Through
    cuBLAS a run is one foreign call on offset addresses (no views: numba-cuda's slicing costs more host
    time than the call)."""
    if _gemm_library(options, m * n * depth) == "cublas":
        return gpu_cublas.prepared_gemm(a, b, c, m, n, depth, False, transpose_b, accumulate, options["tf32"])

    def run(a_row, c_row):
        _numba_gemm(k, options, a[a_row:a_row + m], b, c[c_row:c_row + m], m, n, depth, False, transpose_b,
                    accumulate)

    return run


def _gemm_library(options, multiply_adds):
    library = options["gemm_library"]
    if library == "auto":
        return "cublas" if multiply_adds >= options["cublas_from"] and gpu_cublas.usable() else "numba"
    if library not in ("cublas", "numba"):
        raise ValueError(f'config.GPU_OPTIONS["gemm_library"] must be "auto", "numba" or "cublas", got {library!r}')
    return library


def _numba_gemm(k, options, a, b, c, m, n, depth, transpose_a, transpose_b, accumulate):
    block = options["gemm_block"]
    grid = (max(1, -(-n // block)), max(1, -(-m // block)))
    threads = (block // options["gemm_micro"]) ** 2
    splits = _depth_splits(grid[0] * grid[1], depth, options)
    if splits == 1:
        gpu_launch.launch(k.gemm, grid, threads, (a, b, c, m, n, depth, transpose_a, transpose_b, accumulate))
        return
    slab = options["gemm_depth"]
    chunk = -(-depth // splits)
    chunk = -(-chunk // slab) * slab  # whole slabs per split
    splits = -(-depth // chunk)
    partials = gpu_memory.device_array((splits, m, n), c.dtype)
    gpu_launch.launch(k.gemm_split, (*grid, splits), threads,
                      (a, b, partials, m, n, depth, chunk, transpose_a, transpose_b))
    _run(k.sum_partials, m * n, options["threads"], partials, c, m, n, accumulate)


def _depth_splits(tiles, depth, options):
    """How many slices of its depth a Numba GEMM of ``tiles`` output tiles runs in (split-K): enough for
    about ``gemm_split_blocks`` blocks, none shorter than ``gemm_split_depth``; 1 for a GEMM with tiles
    enough."""
    wanted = -(-options["gemm_split_blocks"] // tiles)
    return max(1, min(wanted, depth // options["gemm_split_depth"]))


# The cache's shape is part of the key: a CIFG layer (3 gates) and a plain one (4) of the same size share the
# backward kernel but not its cache rows.
PersistentPlanKey = collections.namedtuple(
    "PersistentPlanKey", "kind kernel B H cache_rows columns_per_unit_block itemsize units slices rows shared_bytes")
_persistent_plans = {}


def _max_cooperative_blocks(kernel, args, threads, dynamic_shared_bytes):
    """How many blocks of ``kernel`` a cooperative launch with these arguments can keep resident at once
    (none where a block cannot have that much shared memory)."""
    if numba.config.ENABLE_CUDASIM:
        return 1  # the simulator runs cooperative grids of one block only
    compiled = kernel.compile(tuple(kernel.typeof_pyval(a) for a in args))
    if compiled.shared_mem_per_block + dynamic_shared_bytes > DEFAULT_SHARED_BYTES:
        opt_in = cuda.get_current_device().MAX_SHARED_MEMORY_PER_BLOCK_OPTIN  # 227 KiB on an H100
        if compiled.shared_mem_per_block + dynamic_shared_bytes > opt_in:
            return 0
        _allow_dynamic_shared(compiled, opt_in)
    return compiled.max_cooperative_grid_blocks(threads, dynamic_shared_bytes)


DEFAULT_SHARED_BYTES = 48 * 1024  # what a block may use without opting in to more


def _allow_dynamic_shared(compiled, opt_in):
    """Let ``compiled``'s blocks take the dynamic shared memory a block may opt in to (``opt_in`` bytes in
    all) beside its static shared memory (a kernel may take only 48 KiB in all unless told; numba-cuda never
    tells it)."""
    from numba.cuda.cudadrv import driver

    cufunc = compiled.library.get_cufunc()
    attribute = driver.binding.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    # as numba-cuda's own Function.set_shared_memory_carveout sets its attribute
    driver.driver.cuKernelSetAttribute(attribute, opt_in - compiled.shared_mem_per_block, cufunc.handle,
                                       cufunc.device.id)


def _cache_width(columns, units):
    """Row length of a persistent kernel's weight cache of ``columns`` columns. The threads of a block read
    it as (row ``part + i * slices``, column ``c + u``) for thread (unit u, slice part): a row length of
    exactly ``units`` (the backward's cache of one unit block) puts a warp's reads on consecutive words;
    any other gets one spare column, an odd length, which spreads them over the memory banks. The kernels
    compute the same inline."""
    return columns if columns == units else columns + 1


def _persistent_grid(unit_blocks, row_blocks, resident):
    """Blocks of a persistent launch when ``resident`` can be co-resident (:func:`owned_tiles`): every unit
    block owned, by blocks that own several when there are fewer of them, times as many row groups as fit."""
    owners = min(unit_blocks, resident)
    return owners * min(row_blocks, resident // owners)


def _persistent_plan(kind, kernel, args, options, B, H, cache_rows, columns_per_unit_block, itemsize):
    """(blocks, cache_slots, dynamic shared bytes) for a persistent kernel: the weight cache when it fits.

    A cooperative launch may use only as many blocks as can be resident at
    once; each block owns ceil(unit blocks / blocks) unit blocks for every
    step (:func:`owned_tiles`), and caches their weights,
    ``columns_per_unit_block`` columns of ``cache_rows`` each, when those
    fit in ``shared_bytes`` beside the static partial sums. More cached
    unit blocks per block means more shared memory per block and so fewer
    resident blocks: iterate to a fixed point.
    """
    units, slices, rows = options["persistent_units"], options["persistent_slices"], options["rows"]
    key = PersistentPlanKey(kind, kernel, B, H, cache_rows, columns_per_unit_block, itemsize, units, slices, rows,
                            options["shared_bytes"])
    if key in _persistent_plans:
        return _persistent_plans[key]
    threads = units * slices
    unit_blocks, row_blocks = -(-H // units), -(-B // rows)
    budget = options["shared_bytes"] - slices * units * 4 * rows * itemsize
    resident = max(1, _max_cooperative_blocks(kernel, args, threads, 0))
    plan = (_persistent_grid(unit_blocks, row_blocks, resident), 0, 0)
    slots = 1
    while True:
        shared = _cache_width(columns_per_unit_block * slots, units) * cache_rows * itemsize
        if shared > budget:
            break
        resident = _max_cooperative_blocks(kernel, args, threads, shared)
        if resident < 1:
            break
        needed = -(-unit_blocks // min(unit_blocks, resident))
        if needed <= slots:
            plan = (_persistent_grid(unit_blocks, row_blocks, resident), slots, shared)
            break
        slots = needed
    _persistent_plans[key] = plan
    return plan


def forward(x, kernel, recurrent_kernel, bias, peephole, h0, c0, mask, use_mask, recurrent_mask,
            use_recurrent_mask, reverse, zero_output, cifg, options, final_states=True):
    """The forward pass on device arrays; returns ``outputs`` (B, T, H), ``h_n`` and ``c_n`` (copies of the
    states after the last step, (B, H) each, or None without ``final_states``) and the saved workspace.

    Every argument is a device array of one float dtype (``mask`` bool,
    ``peephole`` a zero vector when unused, ``mask``/``recurrent_mask``
    placeholders when their flags are off). The workspace holds ``xs``,
    ``gates`` (activations), ``hs`` and ``cs``, all still on the device;
    ``h_n`` and ``c_n`` are copies, for the workspace's rows must survive
    what a caller does with them.
    """
    B, T, F = x.shape
    H = recurrent_kernel.shape[0]
    GH = kernel.shape[1]
    options = rows_for_batch(options, B)
    k = kernels_for(x.dtype, options)
    threads = options["threads"]
    xs = gpu_memory.device_array((T * B, F), x.dtype)
    gates = gpu_memory.device_array((T * B, GH), x.dtype)
    hs = gpu_memory.device_array(((T + 1) * B, H), x.dtype)
    cs = gpu_memory.device_array(((T + 1) * B, H), x.dtype)
    outputs = gpu_memory.device_array((B, T, H), x.dtype)
    h_n = c_n = None
    if final_states:
        h_n, c_n = gpu_memory.device_array((B, H), x.dtype), gpu_memory.device_array((B, H), x.dtype)
    saved = {"xs": xs, "gates": gates, "hs": hs, "cs": cs}
    row_blocks = -(-B // options["rows"])
    if row_blocks * H < options["persistent_below"]:
        # without final states, hs and cs stand in for h_n and c_n: arrays of their type, never written
        loop_args = (T, reverse, B, H, gates, hs, cs, h0, c0, recurrent_kernel, bias, peephole, mask, use_mask,
                     recurrent_mask, use_recurrent_mask, zero_output, cifg, outputs,
                     hs if h_n is None else h_n, cs if c_n is None else c_n, final_states)
        blocks, cache_slots, cache_bytes = _persistent_plan(
            "forward", k.forward_persistent, loop_args + (0,), options, B, H, H, 4 * options["persistent_units"],
            np.dtype(x.dtype).itemsize)
        if cache_slots or options["persistent_uncached"]:
            _project_inputs(k, options, x, kernel, xs, gates, reverse)
            persistent_threads = options["persistent_units"] * options["persistent_slices"]
            gpu_launch.launch(k.forward_persistent, blocks, persistent_threads, loop_args + (cache_slots,),
                              cache_bytes)
            return outputs, h_n, c_n, saved
    _project_inputs(k, options, x, kernel, xs, gates, reverse)
    _run(k.copy_rows, B * H, threads, h0, 0, B, hs, 0)
    _run(k.copy_rows, B * H, threads, c0, 0, B, cs, 0)
    if B * GH * H >= options["gemm_steps_from"]:
        # cuDNN's scheme: per step the recurrent product as a GEMM (the weights read once per 64 rows, not
        # once per ``rows``), then the gate update; with the recurrent mask the GEMM reads h * mask.
        masked_h = hs
        if use_recurrent_mask:
            masked_h = gpu_memory.device_array((B, H), x.dtype)
            _run(k.masked_rows, B * H, threads, hs, recurrent_mask, B, masked_h)
        update = gpu_launch.prepared_launch(
            k.gate_update, *_launch(B * H, threads), (0, 0, B, H, gates, hs, cs, bias, peephole, mask, use_mask,
                                                       recurrent_mask, use_recurrent_mask, zero_output, cifg, outputs,
                                                       masked_h))
        recurrent = step_gemm(k, options, masked_h, recurrent_kernel, gates, B, GH, H, accumulate=True)
        for s in range(T):
            recurrent(0 if use_recurrent_mask else s * B, s * B)
            update(s, T - 1 - s if reverse else s)
    else:
        step_args = (0, 0, B, H, gates, hs, cs, recurrent_kernel, bias, peephole, mask, use_mask, recurrent_mask,
                     use_recurrent_mask, zero_output, cifg, outputs)
        if row_blocks * H < options["split_below"]:
            units = options["split_units"]
            step = gpu_launch.prepared_launch(k.forward_step_split, (-(-H // units), row_blocks),
                                              units * options["split_slices"], step_args)
        else:
            step = gpu_launch.prepared_launch(k.forward_step, *_launch(row_blocks * H, threads), step_args)
        for s in range(T):
            step(s, T - 1 - s if reverse else s)
    if final_states:
        _run(k.copy_rows, B * H, threads, hs, T * B, B, h_n, 0)
        _run(k.copy_rows, B * H, threads, cs, T * B, B, c_n, 0)
    return outputs, h_n, c_n, saved


def _project_inputs(k, options, x, kernel, xs, gates, reverse):
    """``xs`` = x in processing order, then the input projection of every step, ``gates = xs @ kernel``."""
    B, T, F = x.shape
    _run(k.reorder, B * T * F, options["threads"], x, xs, reverse, True)
    launch_gemm(k, options, xs, kernel, gates, T * B, kernel.shape[1], F)


def _transposed(k, recurrent_kernel, threads):
    """The recurrent kernel transposed, (G * H, H), so that the per-step recurrent gradients read it along
    adjacent addresses."""
    H, GH = recurrent_kernel.shape
    out = gpu_memory.device_array((GH, H), recurrent_kernel.dtype)
    _run(k.transpose, H * GH, threads, recurrent_kernel, out)
    return out


def backward(saved, x_shape, kernel, recurrent_kernel, peephole, mask, use_mask, recurrent_mask,
             use_recurrent_mask, reverse, zero_output, cifg, d_outputs, use_d_outputs, d_h_n, d_c_n,
             use_peephole, input_gradient, options):
    """BPTT on device arrays for one ``forward``; returns the gradients as device arrays.

    ``d_h_n`` and ``d_c_n`` are consumed (they become dh0 and dc0).
    Returns dx (or None), d_kernel, d_recurrent_kernel, d_bias, d_peephole (or None), dh0, dc0.
    """
    B, T, F = x_shape
    H = recurrent_kernel.shape[0]
    GH = kernel.shape[1]
    gates, cs, hs, xs = saved["gates"], saved["cs"], saved["hs"], saved["xs"]
    dtype = gates.dtype
    options = rows_for_batch(options, B)
    k = kernels_for(dtype, options)
    threads = options["threads"]
    dh, dc = d_h_n, d_c_n
    row_blocks = -(-B // options["rows"])
    persistent = row_blocks * H < options["persistent_below"]
    if persistent:
        def loop_args(recurrent_weights):
            return (T, reverse, B, H, GH, gates, cs, dh, dc, d_outputs, use_d_outputs, mask, use_mask, peephole,
                    zero_output, cifg, recurrent_weights, recurrent_mask, use_recurrent_mask)

        blocks, cache_slots, cache_bytes = _persistent_plan(
            "backward", k.backward_persistent, loop_args(recurrent_kernel) + (0,), options, B, H, GH,
            options["persistent_units"], np.dtype(dtype).itemsize)
        persistent = cache_slots or options["persistent_uncached"]
    if persistent:
        # The cached loop copies the recurrent kernel into shared memory itself, transposed.
        weights = recurrent_kernel if cache_slots else _transposed(k, recurrent_kernel, threads)
        persistent_threads = options["persistent_units"] * options["persistent_slices"]
        gpu_launch.launch(k.backward_persistent, blocks, persistent_threads, loop_args(weights) + (cache_slots,),
                          cache_bytes)
    elif B * GH * H >= options["gemm_steps_from"]:
        dh_product = gpu_memory.device_array((B, H), dtype)
        cell_args = (B, H, gates, cs, dh, dh_product, dc, d_outputs, use_d_outputs, mask, use_mask, recurrent_mask,
                     use_recurrent_mask, peephole, zero_output, cifg)
        cell = gpu_launch.prepared_launch(k.cell_after_gemm, *_launch(B * H, threads), (0, 0, -1) + cell_args + (True,),
                                          varying=3)
        product = step_gemm(k, options, gates, recurrent_kernel, dh_product, B, H, GH, transpose_b=True)
        t_next = -1
        for s in range(T - 1, -1, -1):
            t = T - 1 - s if reverse else s
            cell(s, t, t_next)
            product(s * B, 0)
            t_next = t
        # the last product's dh only (the ``cell`` flag off): dh0
        gpu_launch.launch(k.cell_after_gemm, *_launch(B * H, threads), (0, 0, t_next) + cell_args + (False,))
    else:
        transposed_kernel = _transposed(k, recurrent_kernel, threads)
        cell = gpu_launch.prepared_launch(k.backward_cell, *_launch(B * H, threads),
                                          (0, 0, B, H, gates, cs, dh, dc, d_outputs, use_d_outputs, mask, use_mask,
                                           peephole, zero_output, cifg))
        if row_blocks * H < options["split_below"]:
            units = options["split_units"]
            recurrent = gpu_launch.prepared_launch(
                k.backward_recurrent_split, (-(-H // units), row_blocks), units * options["split_slices"],
                (0, 0, B, H, GH, gates, transposed_kernel.reshape(GH * H), dh, mask, use_mask, recurrent_mask,
                 use_recurrent_mask))
        else:
            recurrent = gpu_launch.prepared_launch(k.backward_recurrent, *_launch(row_blocks * H, threads),
                                                   (0, 0, B, H, GH, gates, transposed_kernel, dh, mask, use_mask,
                                                    recurrent_mask, use_recurrent_mask))
        for s in range(T - 1, -1, -1):
            t = T - 1 - s if reverse else s
            cell(s, t)
            recurrent(s, t)
    d_peephole = None
    if use_peephole:
        d_peephole = gpu_memory.device_array(peephole.shape[0], dtype)
        _run(k.peephole_gradients, H, threads, gates, cs, T, B, H, cifg, d_peephole)
    d_kernel = gpu_memory.device_array((F, GH), dtype)
    d_recurrent_kernel = gpu_memory.device_array((H, GH), dtype)
    d_bias = gpu_memory.device_array(GH, dtype)
    launch_gemm(k, options, xs, gates, d_kernel, F, GH, T * B, transpose_a=True)
    inputs_to_recurrent = hs
    if use_recurrent_mask:  # the recurrent kernel saw h * mask
        inputs_to_recurrent = gpu_memory.device_array((T * B, H), dtype)
        _run(k.masked_rows, T * B * H, threads, hs, recurrent_mask, B, inputs_to_recurrent)
    launch_gemm(k, options, inputs_to_recurrent, gates, d_recurrent_kernel, H, GH, T * B, transpose_a=True)
    _run(k.column_sums, GH, threads, gates, T * B, d_bias)
    dx = None
    if input_gradient:
        dx_rows = gpu_memory.device_array((T * B, F), dtype)
        launch_gemm(k, options, gates, kernel, dx_rows, T * B, F, GH, transpose_b=True)
        dx = gpu_memory.device_array((B, T, F), dtype)
        _run(k.reorder, B * T * F, threads, dx, dx_rows, reverse, False)
    return dx, d_kernel, d_recurrent_kernel, d_bias, d_peephole, dh, dc
