"""One LSTM timestep for streaming inference: the whole step in one call, states in place.

For a sensor feeding one sample at a time the fixed cost per call decides,
so this is a single Numba call with no BLAS call and no allocation: the two
products go through ``packed_gemm`` with both weight matrices packed once
by the caller, then the fused gate kernel of ``lstm_cell`` updates the
states in place.
"""

from numba import njit

from .config import JIT_OPTIONS
from .lstm_cell import cell_forward
from .packed_gemm import packed_matmul


@njit(inline="always", **JIT_OPTIONS)
def _step(x, kernel_panels, recurrent_panels, bias, peephole, h, c, gates, recurrent, cifg):
    B = x.shape[0]
    packed_matmul(x, 0, B, kernel_panels, gates)
    packed_matmul(h, 0, B, recurrent_panels, recurrent)
    GH = bias.shape[0]
    for b in range(B):
        cell_forward(gates[b, :GH], recurrent[b], bias, peephole, c[b], h[b], c[b], cifg)


@njit(**JIT_OPTIONS)
def step_standard(x, kernel_panels, recurrent_panels, bias, peephole, h, c, gates, recurrent):
    """Advance h, c (B, H) in place by one input row per sequence, x (B, F).

    ``gates`` and ``recurrent`` are (B, panel columns) scratch rows.
    """
    _step(x, kernel_panels, recurrent_panels, bias, peephole, h, c, gates, recurrent, False)


@njit(**JIT_OPTIONS)
def step_cifg(x, kernel_panels, recurrent_panels, bias, peephole, h, c, gates, recurrent):
    _step(x, kernel_panels, recurrent_panels, bias, peephole, h, c, gates, recurrent, True)


STEP = {False: step_standard, True: step_cifg}
