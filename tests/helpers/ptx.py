"""PTX and cubins of the CUDA kernels without a GPU: ``numba.cuda.compile_ptx`` (NVVM from numba-cuda[cu13]) and
nvJitLink, as tests/gpu/test_ptx.py and the tool asv_bench/tools/kernel_resources.py use them. Needs numba-cuda:
import it only after checking that it is there."""

import pathlib
import re
from types import SimpleNamespace
from unittest import mock

import numba.cuda.dispatcher
from numba import types
from numba.cuda import compile_ptx


def kernel_signatures(real):
    """The argument types of every kernel of ``cuda_lstm.kernels_for``, by name, for ``real`` (types.float32 or
    types.float64)."""
    i, flag = types.int64, types.boolean
    a1, a2, a3 = (types.Array(real, ndim, "C") for ndim in (1, 2, 3))
    mask = types.Array(types.boolean, 2, "C")
    return {
        "gemm": (a2, a2, a2, i, i, i, flag, flag, flag),
        "gemm_split": (a2, a2, a3, i, i, i, i, flag, flag),
        "sum_partials": (a3, a2, i, i, flag),
        "reorder": (a3, a2, flag, flag),
        "forward_step": (i, i, i, i, a2, a2, a2, a2, a1, a1, mask, flag, a2, flag, flag, flag, a3),
        "forward_step_split": (i, i, i, i, a2, a2, a2, a2, a1, a1, mask, flag, a2, flag, flag, flag, a3),
        "forward_persistent": (i, flag, i, i, a2, a2, a2, a2, a2, a2, a1, a1, mask, flag, a2, flag, flag, flag, a3,
                               a2, a2, flag, i),
        "backward_cell": (i, i, i, i, a2, a2, a2, a2, a3, flag, mask, flag, a1, flag, flag),
        "gate_update": (i, i, i, i, a2, a2, a2, a1, a1, mask, flag, a2, flag, flag, flag, a3, a2),
        "cell_after_gemm": (i, i, i, i, i, a2, a2, a2, a2, a2, a3, flag, mask, flag, a2, flag, a1, flag, flag, flag),
        "backward_recurrent": (i, i, i, i, i, a2, a2, a2, mask, flag, a2, flag),
        "backward_recurrent_split": (i, i, i, i, i, a2, a1, a2, mask, flag, a2, flag),
        "backward_persistent": (i, flag, i, i, i, a2, a2, a2, a2, a3, flag, mask, flag, a1, flag, flag, a2, a2, flag,
                                i),
        "transpose": (a2, a2),
        "peephole_gradients": (a2, a2, i, i, i, flag, a1),
        "column_sums": (a2, i, a1),
        "masked_rows": (a2, a2, i, a2),
        "copy_rows": (a2, i, i, a2, i),
    }


def compile_for(function, signature, cc, fastmath, launch_bounds=None):
    """compile_ptx without a GPU. numba-cuda compiles library overloads such as the grid group of
    cooperative kernels as device functions for the *current* device, which needs a driver; name the
    target instead."""
    target = SimpleNamespace(compute_capability=cc)
    with mock.patch.object(numba.cuda.dispatcher, "get_current_device", lambda: target):
        ptx, _ = compile_ptx(function, signature, cc=cc, fastmath=fastmath, launch_bounds=launch_bounds)
    assert f".target sm_{cc[0]}{cc[1]}" in ptx
    return ptx


def _reshape_helpers_ptx(cc):
    """numba-cuda's array-reshape helpers (reshape_funcs.cu), compiled by NVRTC, which the driver links
    into every kernel that reshapes an array."""
    from cuda.bindings import nvrtc
    from numba.cuda import dispatcher

    source = (pathlib.Path(dispatcher.__file__).parent / "reshape_funcs.cu").read_bytes()
    _, program = nvrtc.nvrtcCreateProgram(source, b"reshape_funcs.cu", 0, [], [])
    (result,) = nvrtc.nvrtcCompileProgram(program, 2, [f"--gpu-architecture=compute_{cc}".encode(), b"-rdc=true"])
    if result != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        raise RuntimeError(f"NVRTC could not compile numba-cuda's reshape helpers: {result}")
    _, size = nvrtc.nvrtcGetPTXSize(program)
    ptx = b" " * size
    nvrtc.nvrtcGetPTX(program, ptx)
    return ptx.rstrip(b"\x00 ")


def link(ptx, cc):
    """(cubin bytes, nvJitLink's info log) of one kernel's PTX linked for sm_{cc}."""
    from cuda.core import Linker, LinkerOptions, ObjectCode
    from numba.cuda.cudadrv import libs

    objects = [ObjectCode.from_ptx(ptx.encode())]
    if "nocopy_reshape" in ptx:
        objects.append(ObjectCode.from_ptx(_reshape_helpers_ptx(cc)))
    if "cudaCG" in ptx:  # a grid barrier
        objects.append(ObjectCode.from_library(libs.get_cudalib("cudadevrt", static=True)))
    linker = Linker(*objects, options=LinkerOptions(arch=f"sm_{cc}", verbose=True))
    cubin = linker.link("cubin")
    return bytes(cubin.code), linker.get_info_log()


def resources(log, kernel_name):
    """(registers, spill store bytes, spill load bytes, stack frame bytes) of a kernel, from the link log."""
    entry = log[log.index(f"Function properties for {kernel_name}"):]
    stack, stores, loads = map(int, re.search(
        r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", entry).groups())
    registers = int(re.search(r"Used (\d+) registers", entry).group(1))
    return registers, stores, loads, stack
