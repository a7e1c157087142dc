"""One LSTM timestep for one batch row: the fused elementwise gate kernels.

The recurrent and input projections are added up by the caller; these
functions turn gate pre-activations into the new state (forward) and the
state gradients into pre-activation gradients (backward), a SIMD register of
hidden units at a time (``cpu/gate_vectors.py``), and the units left over,
fewer than a register holds, one at a time through the rules below.

Gate layout along the last axis (Keras order): standard ``i, f, c, o``
(4H columns); CIFG ``f, c, o`` (3H columns, i = 1 - f). Diagonal peepholes
(Gers and Schmidhuber 2000) are a flat vector: standard ``p_i, p_f, p_o``,
CIFG ``p_f, p_o``; the input and forget gates see c_{t-1}, the output gate
sees c_t. A cell without peepholes gets a zero vector, which costs three
multiply-adds per unit and keeps one code path.

The gate equations themselves are written once, per unit, in
:func:`gate_rules`, and compiled for both devices as ``optimizer_updates.py``'s
rules are: here with ``njit`` over ``activations.py``'s vectorising sigmoid and
tanh, and by ``cuda/step_kernels.py`` and ``cuda/backward_kernels.py`` with
``cuda.jit(device=True)`` over CUDA's. The rules take the activations as
arguments of the factory, since each device has its own. The CPU's SIMD
kernels state the same equations in vector operations, in the same order of
operations; ``tests/test_gate_vectors.py`` holds both to the numpy reference
at unit counts that mix the two paths.
"""

from types import SimpleNamespace

from .activations import sigmoid, tanh
from .disk_cache import njit
from .options import CALLEE_JIT_KWARGS, JIT_KWARGS
from .cpu.gate_vectors import BACKWARD_CHUNK, FORWARD_CHUNK
from .cpu.packed_gemm import VECTOR_BYTES


def gate_rules(compile, sigmoid, tanh):
    """The per-unit gate equations, each compiled by ``compile`` (``njit`` or ``cuda.jit(device=True,
    inline=True)``) over the device's ``sigmoid`` and ``tanh``.

    Parameters
    ----------
    compile : callable
        The decorator that compiles a rule for one device.
    sigmoid, tanh : callable
        The activations the rules call, compiled for that device.

    Returns
    -------
    types.SimpleNamespace
        ``peephole_gate(z, peephole, state)``: sigmoid(z + peephole * state), a gate that sees a cell
        state; ``cell_state(f, c_prev, i, g)``: f * c_prev + i * g; ``hidden_state(o, c)``: o * tanh(c);
        ``unit_forward`` and ``unit_backward``: one unit's whole step, composed of them (see their
        docstrings). ``one`` and ``zero`` arguments are constants of the dtype, so that float32 math
        never promotes to float64.
    """

    @compile
    def peephole_gate(z, peephole, state):
        return sigmoid(z + peephole * state)

    @compile
    def cell_state(f, c_prev, i, g):
        return f * c_prev + i * g

    @compile
    def hidden_state(o, c):
        return o * tanh(c)

    @compile
    def unit_forward(one, z_i, z_f, z_g, z_o, c_prev, p_i, p_f, p_o, cifg):
        """(i, f, g, o, c) of one unit from its gate pre-activations (bias and both projections added) and
        peephole weights; with ``cifg`` i = 1 - f, and ``z_i``, ``p_i`` go unread. h is
        ``hidden_state(o, c)``, for the caller to compute once it has stored the gates: computed here,
        its tanh ran while all four gates were live, which cost a float64 step kernel 26 registers and a
        stack frame (nvJitLink, sm_90)."""
        if cifg:
            f = peephole_gate(z_f, p_f, c_prev)
            i = one - f
        else:
            i = peephole_gate(z_i, p_i, c_prev)
            f = peephole_gate(z_f, p_f, c_prev)
        g = tanh(z_g)
        c = cell_state(f, c_prev, i, g)
        return i, f, g, peephole_gate(z_o, p_o, c), c

    @compile
    def unit_backward(one, i, f, g, o, c_prev, tanh_c, dh, dc, p_i, p_f, p_o, cifg):
        """(dz_i, dz_f, dz_g, dz_o, dc_prev) of one unit: the pre-activation gradients from its saved gate
        activations, c_{t-1}, tanh(c_t) (computed by the caller before it loads the activations, as the
        kernels did before this rule was shared), the total gradient ``dh`` reaching h_t and ``dc``
        reaching c_t from step t+1; with ``cifg`` ``i`` and ``p_i`` go unread and dz_i is zero."""
        dz_o = dh * tanh_c * o * (one - o)
        dc_t = dc + dh * o * (one - tanh_c * tanh_c) + dz_o * p_o
        if cifg:
            dz_f = dc_t * (c_prev - g) * f * (one - f)
            dz_g = dc_t * (one - f) * (one - g * g)
            return one - one, dz_f, dz_g, dz_o, dc_t * f + dz_f * p_f
        dz_i = dc_t * g * i * (one - i)
        dz_f = dc_t * c_prev * f * (one - f)
        dz_g = dc_t * i * (one - g * g)
        return dz_i, dz_f, dz_g, dz_o, dc_t * f + dz_i * p_i + dz_f * p_f

    return SimpleNamespace(peephole_gate=peephole_gate, cell_state=cell_state, hidden_state=hidden_state,
                           unit_forward=unit_forward, unit_backward=unit_backward, sigmoid=sigmoid, tanh=tanh)


# Compiled functions, which LLVM inlines into the CPU loops: inlined in Numba's IR instead, each rule's every
# call site was typed again, and a first training step took about 0.5 s longer.
_RULES = gate_rules(njit(**CALLEE_JIT_KWARGS), sigmoid, tanh)
_peephole_gate, _cell_state, _hidden_state = _RULES.peephole_gate, _RULES.cell_state, _RULES.hidden_state
_unit_forward, _unit_backward = _RULES.unit_forward, _RULES.unit_backward
_forward_chunks_standard, _forward_chunks_cifg = FORWARD_CHUNK[False, 2], FORWARD_CHUNK[True, 2]
_forward_chunk_standard, _forward_chunk_cifg = FORWARD_CHUNK[False, 1], FORWARD_CHUNK[True, 1]
_backward_chunks_standard, _backward_chunks_cifg = BACKWARD_CHUNK[False, 2], BACKWARD_CHUNK[True, 2]
_backward_chunk_standard, _backward_chunk_cifg = BACKWARD_CHUNK[False, 1], BACKWARD_CHUNK[True, 1]


@njit(inline="always", **JIT_KWARGS)
def cell_forward(gates, rec_proj, bias, peephole, c_prev, h_out, c_out, cifg, add_input_projection):
    """Forward step of one row.

    The gates' pre-activations are ``rec_proj + bias``, plus the input
    projection that ``gates`` holds on entry when ``add_input_projection``
    (``rec_proj`` is then the recurrent product alone); on exit ``gates``
    holds the gate activations that BPTT needs. The units go a SIMD register
    at a time (``cpu/gate_vectors.py``); those left over, fewer than a
    register's lanes, one at a time through ``unit_forward``.
    """
    H = c_prev.shape[0]
    width = VECTOR_BYTES // c_prev.itemsize
    vectors_end = H - H % width
    pairs_end = H - H % (2 * width)
    for j in range(0, pairs_end, 2 * width):
        if cifg:
            _forward_chunks_cifg(gates, rec_proj, bias, peephole, c_prev, h_out, c_out, j, add_input_projection)
        else:
            _forward_chunks_standard(gates, rec_proj, bias, peephole, c_prev, h_out, c_out, j, add_input_projection)
    if pairs_end < vectors_end:
        if cifg:
            _forward_chunk_cifg(gates, rec_proj, bias, peephole, c_prev, h_out, c_out, pairs_end,
                                add_input_projection)
        else:
            _forward_chunk_standard(gates, rec_proj, bias, peephole, c_prev, h_out, c_out, pairs_end,
                                    add_input_projection)
    one = c_prev.dtype.type(1)  # an int literal would promote float32 math to float64
    for j in range(vectors_end, H):
        z_0, z_1, z_2 = rec_proj[j] + bias[j], rec_proj[H + j] + bias[H + j], rec_proj[2 * H + j] + bias[2 * H + j]
        if add_input_projection:
            z_0, z_1, z_2 = gates[j] + z_0, gates[H + j] + z_1, gates[2 * H + j] + z_2
        if cifg:  # gates f, c, o; peepholes p_f, p_o
            _, f, g, o, c = _unit_forward(one, z_0, z_0, z_1, z_2, c_prev[j], peephole[j], peephole[j],
                                          peephole[H + j], True)
            gates[j], gates[H + j], gates[2 * H + j] = f, g, o
        else:
            z_3 = rec_proj[3 * H + j] + bias[3 * H + j]
            if add_input_projection:
                z_3 = gates[3 * H + j] + z_3
            i, f, g, o, c = _unit_forward(one, z_0, z_1, z_2, z_3, c_prev[j], peephole[j], peephole[H + j],
                                          peephole[2 * H + j], False)
            gates[j], gates[H + j], gates[2 * H + j], gates[3 * H + j] = i, f, g, o
        c_out[j] = c
        h_out[j] = _hidden_state(o, c)


@njit(inline="always", **JIT_KWARGS)
def cell_backward(gates, peephole, c_prev, c, dh, dc, cifg):
    """Backward step of one row, in place.

    On entry ``gates`` holds the activations saved by ``cell_forward``, ``dh``
    the total gradient reaching h_t and ``dc`` the gradient reaching c_t from
    step t+1. On exit ``gates`` holds the pre-activation gradients and ``dc``
    the gradient reaching c_{t-1}. The units go a SIMD register at a time
    (``cpu/gate_vectors.py``), those left over one at a time.
    """
    H = c_prev.shape[0]
    width = VECTOR_BYTES // c_prev.itemsize
    vectors_end = H - H % width
    pairs_end = H - H % (2 * width)
    for j in range(0, pairs_end, 2 * width):
        if cifg:
            _backward_chunks_cifg(gates, peephole, c_prev, c, dh, dc, j)
        else:
            _backward_chunks_standard(gates, peephole, c_prev, c, dh, dc, j)
    if pairs_end < vectors_end:
        if cifg:
            _backward_chunk_cifg(gates, peephole, c_prev, c, dh, dc, pairs_end)
        else:
            _backward_chunk_standard(gates, peephole, c_prev, c, dh, dc, pairs_end)
    one = c_prev.dtype.type(1)  # an int literal would promote float32 math to float64
    zero = c_prev.dtype.type(0)
    if cifg:
        for j in range(vectors_end, H):
            _, dz_f, dz_g, dz_o, dc[j] = _unit_backward(one, zero, gates[j], gates[H + j], gates[2 * H + j],
                                                        c_prev[j], tanh(c[j]), dh[j], dc[j], zero, peephole[j],
                                                        peephole[H + j], True)
            gates[j] = dz_f
            gates[H + j] = dz_g
            gates[2 * H + j] = dz_o
    else:
        for j in range(vectors_end, H):
            dz_i, dz_f, dz_g, dz_o, dc[j] = _unit_backward(one, gates[j], gates[H + j], gates[2 * H + j],
                                                           gates[3 * H + j], c_prev[j], tanh(c[j]), dh[j], dc[j],
                                                           peephole[j], peephole[H + j], peephole[2 * H + j], False)
            gates[j] = dz_i
            gates[H + j] = dz_f
            gates[2 * H + j] = dz_g
            gates[3 * H + j] = dz_o


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
