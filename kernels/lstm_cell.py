"""One LSTM timestep for one batch row: the fused elementwise gate kernels.

The recurrent and input projections are added up by the caller; these
functions turn gate pre-activations into the new state (forward) and the
state gradients into pre-activation gradients (backward), one hidden unit at
a time in a loop that LLVM vectorises.

Gate layout along the last axis (Keras order): standard ``i, f, c, o``
(4H columns); CIFG ``f, c, o`` (3H columns, i = 1 - f). Diagonal peepholes
(Gers and Schmidhuber 2000) are a flat vector: standard ``p_i, p_f, p_o``,
CIFG ``p_f, p_o``; the input and forget gates see c_{t-1}, the output gate
sees c_t. A cell without peepholes gets a zero vector, which costs three
multiply-adds per unit and keeps one code path.
"""

from numba import njit

from .activations import sigmoid, tanh
from .options import JIT_KWARGS


@njit(inline="always", **JIT_KWARGS)
def _sigmoid_gate(gates, gate, peephole, weights, state):
    """gates[gate:gate+H] = sigmoid(gates[...] + peephole[weights:weights+H] * state), in place."""
    for j in range(state.shape[0]):
        gates[gate + j] = sigmoid(gates[gate + j] + peephole[weights + j] * state[j])


@njit(inline="always", **JIT_KWARGS)
def cell_forward(gates, rec_proj, bias, peephole, c_prev, h_out, c_out, cifg):
    """Forward step of one row.

    On entry ``gates`` holds the input projection; on exit, the gate
    activations that BPTT needs. Each loop writes one array, in place or
    elementwise: with several written arrays LLVM must check at run time
    that they do not overlap, and when those checks fail or grow too many it
    runs the scalar loop.
    """
    H = c_prev.shape[0]
    one = c_prev.dtype.type(1)  # an int literal would promote float32 math to float64
    for n in range(gates.shape[0]):
        gates[n] += rec_proj[n] + bias[n]
    if cifg:
        f, g, o = 0, H, 2 * H
        _sigmoid_gate(gates, f, peephole, 0, c_prev)
        o_peephole = H
    else:
        i, f, g, o = 0, H, 2 * H, 3 * H
        _sigmoid_gate(gates, i, peephole, 0, c_prev)
        _sigmoid_gate(gates, f, peephole, H, c_prev)
        o_peephole = 2 * H
    for j in range(H):
        gates[g + j] = tanh(gates[g + j])
    if cifg:
        for j in range(H):
            c_out[j] = gates[f + j] * c_prev[j] + (one - gates[f + j]) * gates[g + j]
    else:
        for j in range(H):
            c_out[j] = gates[f + j] * c_prev[j] + gates[i + j] * gates[g + j]
    _sigmoid_gate(gates, o, peephole, o_peephole, c_out)
    for j in range(H):
        h_out[j] = gates[o + j] * tanh(c_out[j])


@njit(inline="always", **JIT_KWARGS)
def cell_backward(gates, peephole, c_prev, c, dh, dc, cifg):
    """Backward step of one row, in place.

    On entry ``gates`` holds the activations saved by ``cell_forward``, ``dh``
    the total gradient reaching h_t and ``dc`` the gradient reaching c_t from
    step t+1. On exit ``gates`` holds the pre-activation gradients and ``dc``
    the gradient reaching c_{t-1}.
    """
    H = c_prev.shape[0]
    one = c_prev.dtype.type(1)  # an int literal would promote float32 math to float64
    if cifg:
        for j in range(H):
            f = gates[j]
            g = gates[H + j]
            o = gates[2 * H + j]
            tc = tanh(c[j])
            dz_o = dh[j] * tc * o * (one - o)
            dc_t = dc[j] + dh[j] * o * (one - tc * tc) + dz_o * peephole[H + j]
            dz_f = dc_t * (c_prev[j] - g) * f * (one - f)
            dz_g = dc_t * (one - f) * (one - g * g)
            gates[j] = dz_f
            gates[H + j] = dz_g
            gates[2 * H + j] = dz_o
            dc[j] = dc_t * f + dz_f * peephole[j]
    else:
        for j in range(H):
            i = gates[j]
            f = gates[H + j]
            g = gates[2 * H + j]
            o = gates[3 * H + j]
            tc = tanh(c[j])
            dz_o = dh[j] * tc * o * (one - o)
            dc_t = dc[j] + dh[j] * o * (one - tc * tc) + dz_o * peephole[2 * H + j]
            dz_i = dc_t * g * i * (one - i)
            dz_f = dc_t * c_prev[j] * f * (one - f)
            dz_g = dc_t * i * (one - g * g)
            gates[j] = dz_i
            gates[H + j] = dz_f
            gates[2 * H + j] = dz_g
            gates[3 * H + j] = dz_o
            dc[j] = dc_t * f + dz_i * peephole[j] + dz_f * peephole[H + j]


@njit(inline="always", **JIT_KWARGS)
def accumulate_peephole_grad(dz, c_prev, c, d_peephole, cifg):
    """Add one row's contribution to the peephole gradient."""
    H = c_prev.shape[0]
    if cifg:
        for j in range(H):
            d_peephole[j] += dz[j] * c_prev[j]
            d_peephole[H + j] += dz[2 * H + j] * c[j]
    else:
        for j in range(H):
            d_peephole[j] += dz[j] * c_prev[j]
            d_peephole[H + j] += dz[H + j] * c_prev[j]
            d_peephole[2 * H + j] += dz[3 * H + j] * c[j]
