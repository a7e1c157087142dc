"""One LSTM timestep for streaming inference: the whole step in one call, states in place.

For a sensor feeding one sample at a time the fixed cost per call decides,
so this is a single Numba call with no BLAS call and no allocation: the two
products go through ``packed_gemm`` with both weight matrices packed once
by the caller, then the fused gate kernel of ``lstm_cell`` updates the
states in place.
"""

from ..disk_cache import njit
from ..options import JIT_KWARGS
from ..lstm_cell import cell_forward
from .packed_gemm import packed_matmul


@njit(inline="always", **JIT_KWARGS)
def _step(x, kernel_panels, recurrent_panels, bias_and_peephole, state, scratch, cifg):
    B = x.shape[0]
    h, c = state[0], state[1]
    gates, recurrent = scratch[0], scratch[1]
    packed_matmul(x, 0, B, 0, kernel_panels, gates)
    packed_matmul(h, 0, B, 0, recurrent_panels, recurrent)
    GH = (3 if cifg else 4) * h.shape[1]
    bias, peephole = bias_and_peephole[:GH], bias_and_peephole[GH:]
    for b in range(B):
        cell_forward(gates[b, :GH], recurrent[b], bias, peephole, c[b], h[b], c[b], cifg, True)


# Few arguments on purpose: Numba's dispatch costs about 0.08 us per array
# argument, a noticeable part of a 3 us step.
@njit(**JIT_KWARGS)
def step_standard(x, kernel_panels, recurrent_panels, bias_and_peephole, state, scratch):
    """Advance state = [h, c] (2, B, H) in place by one input row per sequence, x (B, F).

    ``bias_and_peephole`` is the bias (4H) then the peephole weights (3H);
    ``scratch`` is (2, B, panel columns).
    """
    _step(x, kernel_panels, recurrent_panels, bias_and_peephole, state, scratch, False)


@njit(**JIT_KWARGS)
def step_cifg(x, kernel_panels, recurrent_panels, bias_and_peephole, state, scratch):
    """As ``step_standard`` with three gates: bias (3H) then peepholes (2H)."""
    _step(x, kernel_panels, recurrent_panels, bias_and_peephole, state, scratch, True)


STEP = {False: step_standard, True: step_cifg}
