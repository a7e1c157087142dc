"""Compilation and launch options of the CPU and GPU kernels, in one place.

Each option is a field of a frozen dataclass: :class:`CpuJitOptions` for the
Numba CPU kernels, :class:`GpuKernelOptions` for how the CUDA kernels are
compiled and launched, :class:`GpuMemoryOptions` for device memory and
transfers. A :class:`GpuPreset` pairs the last two; :func:`gpu_options`
picks the simulator's preset or the device's. The measurements behind each
value are in ``docs/history/gpu-kernel-options.md``.

To run the GPU kernels with other values, use :func:`overridden` for a
block, or assign ``DEVICE_PRESET.replace(...)`` to :data:`DEVICE_PRESET`:
the GPU code reads the preset in force at each call. The CPU options are
read once, by the CPU kernels' decorators at import (and Numba caches the
compiled code on disk), so they change only by editing this module.
"""

import contextlib
import dataclasses

import numba


@dataclasses.dataclass(frozen=True)
class CpuJitOptions:
    """How ``numba.njit`` compiles the CPU kernels.

    Attributes
    ----------
    cache : bool
        Keep the compiled code on disk: a new process loads it instead of compiling.
    nogil : bool
        Release the GIL, so that threads run kernels in parallel.
    error_model : str
        ``"numpy"``: no division-by-zero checks, which would block vectorisation.
    fastmath : frozenset of str
        LLVM fast-math flags: ``reassoc`` lets reductions vectorise, ``contract`` allows FMA, ``nsz``
        ignores the sign of zero and ``arcp`` lets a division become a multiplication by the reciprocal;
        never ``nnan``/``ninf``, for a NaN must propagate, not be optimised into a finite value.
    cfunc_wrapper : bool
        Compile Numba's C-callable wrapper of each kernel. Off: nothing calls it (Python calls a kernel through
        its Python wrapper; kernels call each other directly or through their native address), and each
        wrapper is one more function for LLVM to optimise and compile.
    """

    cache: bool = True
    nogil: bool = True
    error_model: str = "numpy"
    fastmath: frozenset = frozenset({"contract", "reassoc", "nsz", "arcp"})
    cfunc_wrapper: bool = False

    def jit_kwargs(self):
        """The options as keyword arguments of ``numba.njit``."""
        return {"cache": self.cache, "nogil": self.nogil, "error_model": self.error_model,
                "fastmath": set(self.fastmath), "no_cfunc_wrapper": not self.cfunc_wrapper}


@dataclasses.dataclass(frozen=True)
class GpuKernelOptions:
    """How the CUDA kernels are compiled and launched, and which time loop runs a pass.

    Attributes
    ----------
    gemm_block : int
        Side of the output tile of one block of the Numba GEMM.
    gemm_depth : int
        Depth of the shared-memory slabs the GEMM block steps through.
    gemm_micro : int
        Side of each GEMM thread's register micro-tile ((gemm_block / gemm_micro)**2 threads a block).
    threads : int
        Threads per block of the per-step and elementwise kernels.
    rows : int
        Batch rows per thread of the per-step recurrent sums: each thread reads its weight column once
        for that many rows (a batch of one runs kernels built for one row).
    fastmath : bool
        Approximate CUDA math (tanh.approx and friends); off, for it made no step faster and the float32
        error larger.
    split_units : int
        Hidden units per block of the split steps.
    split_slices : int
        Slices of the recurrent sum per block of the split steps.
    split_below : int
        A step of fewer (unit, row block) pairs than this runs split: H / split_units blocks, not H
        threads, read the recurrent weights.
    persistent_units : int
        Hidden units per block of the persistent kernels.
    persistent_slices : int
        Slices of the recurrent sum per block of the persistent kernels.
    persistent_below : int
        A pass of fewer (unit, row block) pairs a step than this runs as one cooperative kernel for the
        whole sequence, when its blocks can cache their recurrent weights.
    persistent_blocks_per_sm : int
        Launch bound of the persistent kernels: blocks per SM they are compiled to fit (0: no bound).
    shared_bytes : int
        Shared memory a persistent block may take for its weight cache (above 48 KiB it opts in).
    gemm_steps_from : int
        A step of at least this many recurrent multiply-adds runs as a GEMM then an elementwise update.
    gemm_split_blocks : int
        A Numba GEMM of fewer output tiles than this splits its depth over blocks (split-K).
    gemm_split_depth : int
        Shortest depth slice of a split GEMM.
    gemm_library : str
        ``"numba"``, ``"cublas"`` (libcublas must load) or ``"auto"`` (cuBLAS where it loads and the
        product has at least ``cublas_from`` multiply-adds).
    cublas_from : int
        Smallest product, in multiply-adds, that ``"auto"`` gives to cuBLAS.
    cache : bool
        Keep the compiled kernels on disk (the cooperative ones always compile: numba-cuda cannot pickle
        code linked with cudadevrt).
    tf32 : bool
        cuBLAS computes float32 GEMMs on TF32 tensor cores; off, so that float32 results keep float32
        rounding.
    """

    gemm_block: int = 64
    gemm_depth: int = 16
    gemm_micro: int = 4
    threads: int = 128
    rows: int = 4
    fastmath: bool = False
    split_units: int = 8
    split_slices: int = 16
    split_below: int = 32768
    persistent_units: int = 2
    persistent_slices: int = 64
    persistent_below: int = 4096
    persistent_blocks_per_sm: int = 4
    shared_bytes: int = 48 * 1024
    gemm_steps_from: int = 2**26
    gemm_split_blocks: int = 132
    gemm_split_depth: int = 512
    gemm_library: str = "auto"
    cublas_from: int = 0
    cache: bool = True
    tf32: bool = False


@dataclasses.dataclass(frozen=True)
class GpuMemoryOptions:
    """Where numlstm's device arrays come from and how they cross to and from the host.

    Attributes
    ----------
    staged_transfer_bytes : int
        Arrays up to this size cross through page-locked staging buffers, waiting for their own copy
        only; larger ones (and all of them at 0) by an ordinary copy, which waits for all queued work.
    memory_pool : bool
        Device arrays come from a pool of blocks per context, not a cuMemAlloc each and numba-cuda's
        batched free, which waits for all of the device's queued work.
    """

    staged_transfer_bytes: int = 1 << 22
    memory_pool: bool = True


@dataclasses.dataclass(frozen=True)
class GpuPreset:
    """The GPU options of one kind of run: a real device, or Numba's CUDA simulator.

    Attributes
    ----------
    kernels : GpuKernelOptions
        How the kernels are compiled and launched.
    memory : GpuMemoryOptions
        Device memory and host transfers.
    """

    kernels: GpuKernelOptions = GpuKernelOptions()
    memory: GpuMemoryOptions = GpuMemoryOptions()

    def replace(self, **changes):
        """This preset with the named fields of its kernel or memory options changed."""
        kernel_names = {field.name for field in dataclasses.fields(GpuKernelOptions)}
        memory_names = {field.name for field in dataclasses.fields(GpuMemoryOptions)}
        unknown = set(changes) - kernel_names - memory_names
        if unknown:
            raise TypeError(f"not GPU options: {sorted(unknown)}")
        return GpuPreset(
            dataclasses.replace(self.kernels, **{k: v for k, v in changes.items() if k in kernel_names}),
            dataclasses.replace(self.memory, **{k: v for k, v in changes.items() if k in memory_names}))


CPU_JIT = CpuJitOptions()
JIT_KWARGS = CPU_JIT.jit_kwargs()  # what the CPU kernels' decorators take, computed once
# The kernels that only other kernels call (the LSTM's blocks, the packed product, the gate rules, the
# activations, the parallel launcher) have no Python wrapper, which would unbox every argument for a call
# that never comes: a first training step compiles about a second less (asv_bench/README.md).
CALLEE_JIT_KWARGS = {**JIT_KWARGS, "no_cpython_wrapper": True}

DEVICE_PRESET = GpuPreset()
# The simulator runs one Python thread per CUDA thread: tiny blocks, 2 rows per thread so that the tests'
# odd batches leave partial blocks, every step split and persistent where the tests do not force another
# loop, no split GEMM depth (slow threads), the Numba GEMM, and numpy arrays as device arrays (no pool).
SIMULATOR_PRESET = GpuPreset(
    GpuKernelOptions(gemm_block=8, gemm_depth=4, gemm_micro=2, threads=16, rows=2, split_units=2, split_slices=4,
                     split_below=0, persistent_units=2, persistent_slices=4, persistent_below=0,
                     persistent_blocks_per_sm=0, gemm_steps_from=2**62, gemm_split_blocks=1, gemm_split_depth=4,
                     gemm_library="numba", cache=False),
    GpuMemoryOptions(memory_pool=False))


def gpu_options():
    """The preset in force: :data:`SIMULATOR_PRESET` under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM``),
    else :data:`DEVICE_PRESET`; read at each call, so that a replaced preset takes effect at once."""
    return SIMULATOR_PRESET if numba.config.ENABLE_CUDASIM else DEVICE_PRESET


@contextlib.contextmanager
def overridden(**changes):
    """Within the ``with`` block, the preset in force (:func:`gpu_options`) has the named fields changed.

    Examples
    --------
    >>> from numlstm.kernels import options
    >>> with options.overridden(gemm_library="numba"):
    ...     options.gpu_options().kernels.gemm_library
    'numba'
    """
    name = "SIMULATOR_PRESET" if numba.config.ENABLE_CUDASIM else "DEVICE_PRESET"
    saved = globals()[name]
    globals()[name] = saved.replace(**changes)
    try:
        yield globals()[name]
    finally:
        globals()[name] = saved
