"""The float32 gate loops compile to packed SIMD code, not scalar libm calls.

A scalar gate loop was what made a naive Numba LSTM 2-10x slower than torch;
this pins the vectorisation so that a change that breaks it fails here.
"""

import re

import numpy as np
import pytest
import numba
from numba import njit, types

from numlstm.kernels.cpu import lstm
from numlstm.kernels.activations import sigmoid_array, tanh_array
from numlstm.kernels.options import JIT_KWARGS
from numlstm.kernels.cpu.native_calls import ArgumentsAddress
from numlstm.kernels.cpu.packed_gemm import VECTOR_BYTES, panels_shape

B, T, F, H = 2, 3, 2, 8


def _float32(*shape):
    return np.zeros(shape, np.float32)


def _forward_rows_arguments(cifg):
    G = 3 if cifg else 4
    panels = _float32(*panels_shape(F + H, G * H, np.float32))
    return (_float32(B, T, F), _float32(T, B, F + H), _float32(T, B, G * H), _float32(T + 1, B, H),
            _float32(T + 1, B, H), panels, True, _float32(G * H), _float32((G - 1) * H), _float32(B, H),
            _float32(B, H), np.ones((0, 0), np.bool_), False, _float32(0, 0), False, False, False, 0, T,
            _float32(B, T, H), _float32(B, panels.shape[0] * panels.shape[2]))


def _backward_rows_arguments(cifg):
    G = 3 if cifg else 4
    panels = _float32(*panels_shape(G * H, H, np.float32))
    return (_float32(T, B, G * H), _float32(T + 1, B, H), panels, _float32((G - 1) * H), np.ones((0, 0), np.bool_),
            False, _float32(0, 0), False, False, False, _float32(B, T, H), True, True, _float32(B, H), _float32(B, H),
            _float32(B, H), _float32(B, H), _float32(1, (G - 1) * H), _float32(B, H),
            _float32(B, panels.shape[0] * panels.shape[2]))


def _packed_divisions(function, signature):
    # Cached code cannot be inspected: compile a private, uncached copy.
    fresh = njit(**{**JIT_KWARGS, "cache": False})(function.py_func)
    fresh.compile(signature)
    asm = fresh.inspect_asm(signature)
    # Each activation has one division; packed ones use ymm/zmm registers, or with SSE only
    # (NUMBA_CPU_NAME=generic) the packed divps/divpd on xmm ones.
    packed = r"\bv?divp[sd]\b" if VECTOR_BYTES == 16 else r"\bvdivp[sd]\b[^\n]*%[yz]mm"
    return len(re.findall(packed, asm))


def _block_signature(arguments):
    """A block's signature for an arguments tuple (native_calls: blocks read their arguments through an address)."""
    return types.int64, types.int64, ArgumentsAddress(numba.typeof(arguments))


@pytest.mark.parametrize("function", [tanh_array, sigmoid_array], ids=["tanh", "sigmoid"])
def test_activation_loops_are_vectorised(function):
    assert _packed_divisions(function, (numba.typeof(_float32(4)),) * 2) > 0


@pytest.mark.parametrize("cifg", [False, True], ids=["standard", "cifg"])
def test_forward_gate_loop_is_vectorised(cifg):
    assert _packed_divisions(lstm.FORWARD_ROWS[cifg].function, _block_signature(_forward_rows_arguments(cifg))) > 0


@pytest.mark.parametrize("cifg", [False, True], ids=["standard", "cifg"])
def test_backward_gate_loop_is_vectorised(cifg):
    assert _packed_divisions(lstm.BACKWARD_ROWS[cifg].function, _block_signature(_backward_rows_arguments(cifg))) > 0
