"""The tiled GEMM kernels and the host calls that run a GEMM through them or through cuBLAS.

The input projections, the weight gradients, the GEMM steps' recurrent
products and Dense all go through :func:`launch_gemm`.
"""

import functools
from types import SimpleNamespace

from numba import cuda

from . import cublas, plans
from .launch import launch
from .memory import device_array
from .variant import constants


@functools.lru_cache(maxsize=None)
def build_gemm_kernels(dtype, shape_options):
    """The GEMM kernels of one variant (:func:`variant.constants`): ``gemm``, ``gemm_split`` and ``sum_partials``."""
    c = constants(dtype, shape_options)
    zero = c.zero
    element = c.element
    gemm_block = c.gemm_block
    gemm_depth = c.gemm_depth
    gemm_micro = c.gemm_micro
    gemm_side = c.gemm_side
    gemm_threads = c.gemm_threads
    gemm_tile_shape = c.gemm_tile_shape
    gemm_outputs = c.gemm_outputs
    jit = c.jit

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

    return SimpleNamespace(gemm=gemm, gemm_split=gemm_split, sum_partials=sum_partials)


def launch_gemm(k, options, a, b, c, m, n, depth, transpose_a=False, transpose_b=False, accumulate=False):
    """``c[:m, :n] = op(a) @ op(b)`` (``+= `` with ``accumulate``), op(a) m x depth and op(b) depth x n, the
    transposes read in place: by the kernel ``k.gemm`` (``k.gemm_split`` for a long depth over few output
    tiles), or by cuBLAS when ``options.gemm_library`` says "cublas", or says "auto", libcublas loads (never
    in the simulator) and the product has at least ``options.cublas_from`` multiply-adds; cuBLAS's float32
    GEMMs on TF32 tensor cores with ``options.tf32``. ``k`` holds :func:`build_gemm_kernels`'s kernels."""
    if gemm_library(options, m * n * depth) == "cublas":
        cublas.gemm(a, b, c, m, n, depth, transpose_a, transpose_b, accumulate, options.tf32)
    else:
        _numba_gemm(k, options, a, b, c, m, n, depth, transpose_a, transpose_b, accumulate)


def step_gemm(k, options, a, b, c, m, n, depth, transpose_b=False, accumulate=False):
    """A callable ``run(a_row, c_row)``: :func:`launch_gemm` of ``a[a_row:a_row + m]`` and ``b`` into
    ``c[c_row:c_row + m]``, for the GEMM steps, which run one per time step on the step's rows. Through
    cuBLAS a run is one foreign call on offset addresses (no views: numba-cuda's slicing costs more host
    time than the call)."""
    if gemm_library(options, m * n * depth) == "cublas":
        return cublas.prepared_gemm(a, b, c, m, n, depth, False, transpose_b, accumulate, options.tf32)

    def run(a_row, c_row):
        _numba_gemm(k, options, a[a_row:a_row + m], b, c[c_row:c_row + m], m, n, depth, False, transpose_b,
                    accumulate)

    return run


def gemm_library(options, multiply_adds):
    """Which library runs a GEMM of ``multiply_adds``: "cublas" or "numba" (``options.gemm_library``)."""
    library = options.gemm_library
    if library == "auto":
        return "cublas" if multiply_adds >= options.cublas_from and cublas.usable() else "numba"
    if library not in ("cublas", "numba"):
        raise ValueError(f'GpuKernelOptions.gemm_library must be "auto", "numba" or "cublas", got {library!r}')
    return library


def _numba_gemm(k, options, a, b, c, m, n, depth, transpose_a, transpose_b, accumulate):
    block = options.gemm_block
    grid = (max(1, -(-n // block)), max(1, -(-m // block)))
    threads = (block // options.gemm_micro) ** 2
    splits = depth_splits(grid[0] * grid[1], depth, options)
    if splits == 1:
        launch(k.gemm, grid, threads, (a, b, c, m, n, depth, transpose_a, transpose_b, accumulate))
        return
    slab = options.gemm_depth
    chunk = -(-depth // splits)
    chunk = -(-chunk // slab) * slab  # whole slabs per split
    splits = -(-depth // chunk)
    partials = device_array((splits, m, n), c.dtype)
    launch(k.gemm_split, (*grid, splits), threads, (a, b, partials, m, n, depth, chunk, transpose_a, transpose_b))
    launch(k.sum_partials, *plans.grid_for(m * n, options.threads), (partials, c, m, n, accumulate))


def depth_splits(tiles, depth, options):
    """How many slices of its depth a Numba GEMM of ``tiles`` output tiles runs in (split-K): enough for
    about ``gemm_split_blocks`` blocks, none shorter than ``gemm_split_depth``; 1 for a GEMM with tiles
    enough."""
    wanted = -(-options.gemm_split_blocks // tiles)
    return max(1, min(wanted, depth // options.gemm_split_depth))
