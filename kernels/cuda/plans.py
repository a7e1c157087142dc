"""Host-side plans of the LSTM's CUDA launches: which time loop runs a pass, the grid of a launch, and the
persistent kernels' grid and weight cache."""

import collections
import dataclasses
import enum

import numba
from numba import cuda


class TimeLoop(enum.Enum):
    """How a forward or backward pass runs its time steps."""

    PER_STEP = "per-step"  # a launch a step, one thread per (unit, row block)
    SPLIT = "split"  # a launch a step, blocks of units x slices of the recurrent sum
    PERSISTENT = "persistent"  # one cooperative launch for the sequence, the weights cached in shared memory
    GEMM_STEPS = "gemm-steps"  # a step's recurrent product as a GEMM, then an elementwise launch


# The persistent kernels' launch: blocks, weight-cache slots (unit blocks cached per block) and dynamic
# shared memory bytes; slots 0 when the weights do not fit, and the pass then runs another loop.
PersistentPlan = collections.namedtuple("PersistentPlan", "blocks cache_slots cache_bytes")


def grid_for(count, threads):
    """(blocks, threads) of a launch of ``count`` threads in blocks of ``threads``."""
    return (max(1, -(-count // threads)), threads)


def rows_for_batch(options, B):
    """``options``, with ``rows`` (batch rows per thread of the per-step recurrent sums) 1 for a batch of
    one: the kernels' loops over rows are unrolled at compile time, so a batch of one in blocks of 4 rows
    would carry three idle rows through every step. Other batches keep ``rows``: each row count is a set of
    kernels to compile, which a smaller last batch of an epoch would otherwise pay for."""
    return dataclasses.replace(options, rows=1) if B == 1 and options.rows > 1 else options


def choose_time_loop(options, B, H, GH, persistent_plan):
    """The time loop of a pass over a batch of ``B`` rows, ``H`` units and ``GH`` gate columns, and the
    persistent kernel's plan when that loop is persistent (else None). The same for forward and backward.

    ``persistent_plan()`` returns the :class:`PersistentPlan` of the pass; it compiles the persistent kernel,
    so it is called only for shapes small enough for it: below ``persistent_below`` (unit, row block) pairs
    a step, the persistent loop runs where its blocks can cache their weights. Otherwise a step of at least
    ``gemm_steps_from`` recurrent multiply-adds runs as GEMM steps, one of fewer than ``split_below`` pairs
    split, and any other one thread per pair.
    """
    pairs = -(-B // options.rows) * H
    if pairs < options.persistent_below:
        plan = persistent_plan()
        if plan.cache_slots:
            return TimeLoop.PERSISTENT, plan
    if B * GH * H >= options.gemm_steps_from:
        return TimeLoop.GEMM_STEPS, None
    if pairs < options.split_below:
        return TimeLoop.SPLIT, None
    return TimeLoop.PER_STEP, None


DEFAULT_SHARED_BYTES = 48 * 1024  # what a block may use without opting in to more


def max_cooperative_blocks(kernel, args, threads, dynamic_shared_bytes):
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


def cache_width(columns, units):
    """Row length of a persistent kernel's weight cache of ``columns`` columns. The threads of a block read
    it as (row ``part + i * slices``, column ``c + u``) for thread (unit u, slice part): a row length of
    exactly ``units`` (the backward's cache of one unit block) puts a warp's reads on consecutive words;
    any other gets one spare column, an odd length, which spreads them over the memory banks. The kernels
    compute the same inline."""
    return columns if columns == units else columns + 1


def persistent_grid(unit_blocks, row_blocks, resident):
    """Blocks of a persistent launch when ``resident`` can be co-resident (``owned_tiles``): every unit block
    owned, by blocks that own several when there are fewer of them, times as many row groups as fit."""
    owners = min(unit_blocks, resident)
    return owners * min(row_blocks, resident // owners)


# The cache's shape is part of the key: a CIFG layer (3 gates) and a plain one (4) of the same size share the
# backward kernel but not its cache rows.
PersistentPlanKey = collections.namedtuple(
    "PersistentPlanKey", "kind kernel B H cache_rows columns_per_unit_block itemsize units slices rows shared_bytes")
persistent_plans = {}


def persistent_plan(kind, kernel, args, options, B, H, cache_rows, columns_per_unit_block, itemsize):
    """The :class:`PersistentPlan` of a persistent kernel: its grid and its weight cache when that fits.

    A cooperative launch may use only as many blocks as can be resident at
    once; each block owns ceil(unit blocks / blocks) unit blocks for every
    step (``owned_tiles``), and caches their weights,
    ``columns_per_unit_block`` columns of ``cache_rows`` each, when those
    fit in ``shared_bytes`` beside the static partial sums. More cached
    unit blocks per block means more shared memory per block and so fewer
    resident blocks: iterate to a fixed point. Plans are kept per shape.
    """
    units, slices, rows = options.persistent_units, options.persistent_slices, options.rows
    key = PersistentPlanKey(kind, kernel, B, H, cache_rows, columns_per_unit_block, itemsize, units, slices, rows,
                            options.shared_bytes)
    if key in persistent_plans:
        return persistent_plans[key]
    threads = units * slices
    unit_blocks, row_blocks = -(-H // units), -(-B // rows)
    budget = options.shared_bytes - slices * units * 4 * rows * itemsize
    resident = max(1, max_cooperative_blocks(kernel, args, threads, 0))
    plan = PersistentPlan(persistent_grid(unit_blocks, row_blocks, resident), 0, 0)
    slots = 1
    while True:
        shared = cache_width(columns_per_unit_block * slots, units) * cache_rows * itemsize
        if shared > budget:
            break
        resident = max_cooperative_blocks(kernel, args, threads, shared)
        if resident < 1:
            break
        needed = -(-unit_blocks // min(unit_blocks, resident))
        if needed <= slots:
            plan = PersistentPlan(persistent_grid(unit_blocks, row_blocks, resident), slots, shared)
            break
        slots = needed
    persistent_plans[key] = plan
    return plan
