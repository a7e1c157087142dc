"""The persistent kernels: a whole forward or backward time loop in one cooperative launch, a grid barrier per
step, each block holding its units' recurrent weights in shared memory for the whole sequence (Diamos et al.
2016). Their tiles are the split steps' (``step_kernels.split_tile``, ``backward_kernels``); the launch plan
(blocks, cache slots, shared memory) is ``plans.persistent_plan``'s."""

import functools
from types import SimpleNamespace

import numba
from numba import cuda

from .backward_kernels import backward_step_functions
from .step_kernels import forward_step_functions
from .variant import constants


@functools.lru_cache(maxsize=None)
def weight_cache_functions(dtype, shape_options):
    """The persistent kernels' tile ownership and weight-cache fillers, for one variant (:func:`variant.constants`)."""
    c = constants(dtype, shape_options)
    zero = c.zero
    index = c.index
    element = c.element
    cache_loads = c.cache_loads
    persistent_units = c.persistent_units

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

    return SimpleNamespace(owned_tiles=owned_tiles, fill_forward_cache=fill_forward_cache,
                           fill_backward_cache=fill_backward_cache)


@functools.lru_cache(maxsize=None)
def build_persistent_kernels(dtype, shape_options):
    """The persistent kernels of one variant (:func:`variant.constants`): ``forward_persistent`` and
    ``backward_persistent``."""
    c = constants(dtype, shape_options)
    element = c.element
    rows = c.rows
    persistent_units = c.persistent_units
    persistent_slices = c.persistent_slices
    persistent_partials = c.persistent_partials
    cooperative_jit = c.cooperative_jit
    cache_functions = weight_cache_functions(dtype, shape_options)
    owned_tiles = cache_functions.owned_tiles
    fill_forward_cache, fill_backward_cache = cache_functions.fill_forward_cache, cache_functions.fill_backward_cache
    split_tile = forward_step_functions(dtype, shape_options).split_tile
    backward = backward_step_functions(dtype, shape_options)
    cell_gradient, split_recurrent_gradient = backward.cell_gradient, backward.split_recurrent_gradient

    @cooperative_jit
    def forward_persistent(T, reverse, B, H, gates, hs, cs, h0, c0, recurrent_kernel, bias, peephole, mask,
                           use_mask, recurrent_mask, use_recurrent_mask, zero_output, cifg, outputs, h_n, c_n,
                           final_states, cache_slots):
        """The whole time loop in one cooperative launch: the split step's tiles, a grid barrier per step;
        with ``final_states``, h and c after the last step copied into ``h_n`` and ``c_n`` too.

        Each block runs the same tiles at every step (:func:`owned_tiles`),
        so it copies the recurrent weights of its unit blocks (at most
        ``cache_slots``, at least 1) into dynamic shared memory
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
                for row_block in range(row_group, row_blocks, row_groups):
                    split_tile(persistent_units, persistent_slices, partial, unit_block, row_block, s, t, B, H,
                               gates, hs, cs, recurrent_kernel, cache, width, slot * columns, persistent_units, bias,
                               peephole, mask, use_mask, recurrent_mask, use_recurrent_mask, zero_output, cifg,
                               outputs)
                    cuda.syncthreads()  # before the next tile overwrites ``partial``
                slot += 1
            grid.sync()  # step s+1 reads every unit's h of step s
        if final_states:
            for i in range(cuda.grid(1), B * H, cuda.gridDim.x * threads):
                b = i // H
                j = i - b * H
                h_n[b, j] = hs[T * B + b, j]
                c_n[b, j] = cs[T * B + b, j]

    @cooperative_jit
    def backward_persistent(T, reverse, B, H, GH, gates, cs, dh, dc, d_outputs, use_d_outputs, mask, use_mask,
                            peephole, zero_output, cifg, recurrent_kernel, recurrent_mask, use_recurrent_mask,
                            cache_slots):
        """BPTT's time loop in one cooperative launch, the twin of ``forward_persistent``: per step, the
        cell gradients of each block's tiles, a grid barrier, then their recurrent gradients.

        A tile (unit block, row block) belongs to one block in both phases
        and at every step (:func:`owned_tiles`), so the dh and dc a block writes are read again
        only by itself: one grid barrier per step suffices (phase two reads
        every unit's gate gradients). Each block copies its units' rows of
        the recurrent kernel (H, GH), transposed, into dynamic shared memory
        (GH, ``plans.cache_width`` of persistent_units * cache_slots), first
        read after the first grid barrier, which orders their copy too.
        """
        grid = cuda.cg.this_grid()
        partial = cuda.shared.array(persistent_partials, element)
        unit_blocks = -(-H // persistent_units)
        row_blocks = -(-B // rows)
        first_unit_block, owners, row_group, row_groups = owned_tiles(unit_blocks)
        width = persistent_units * cache_slots + (0 if cache_slots == 1 else 1)  # plans.cache_width
        cache = cuda.shared.array(0, element)  # (GH, width), flat
        slot = 0
        for unit_block in range(first_unit_block, unit_blocks, owners):
            fill_backward_cache(cache, recurrent_kernel, persistent_units, GH, unit_block, H, False, width, slot)
            slot += 1
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
                    split_recurrent_gradient(persistent_units, persistent_slices, partial, unit_block, row_block,
                                             s, t, B, H, GH, gates, cache, width, slot * persistent_units, dh, mask,
                                             use_mask, recurrent_mask, use_recurrent_mask, True)
                    cuda.syncthreads()  # before ``partial`` is reused, and before this block's cells read dh
                slot += 1

    return SimpleNamespace(forward_persistent=forward_persistent, backward_persistent=backward_persistent)
