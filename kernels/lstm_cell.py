"""One LSTM timestep for one batch row: the fused elementwise gate kernels.

The recurrent and input projections are added up by the caller; these
functions turn gate pre-activations into the new state (forward) and the
state gradients into pre-activation gradients (backward), SIMD registers of
hidden units at a time (``cpu/gate_vectors.py``), the units left over after
the last full register in one masked register.

Gate layout along the last axis (Keras order): standard ``i, f, c, o``
(4H columns); CIFG ``f, c, o`` (3H columns, i = 1 - f). Diagonal peepholes
(Gers and Schmidhuber 2000) are a flat vector: standard ``p_i, p_f, p_o``,
CIFG ``p_f, p_o``; the input and forget gates see c_{t-1}, the output gate
sees c_t. A cell without peepholes gets a zero vector, which costs three
multiply-adds per unit and keeps one code path.

The gate equations themselves are written once, per unit, in
:func:`gate_rules`, which ``cuda/step_kernels.py``, ``cuda/backward_kernels.py``
and ``cuda/convlstm_kernels.py`` compile with ``cuda.jit(device=True)`` over
CUDA's activations. The CPU's SIMD kernels state the same equations in
vector operations, in the same order of operations;
``tests/test_gate_vectors.py`` holds them to the numpy reference at unit
counts that take every one of the paths.
"""

from types import SimpleNamespace

from .disk_cache import njit
from .options import JIT_KWARGS
from .cpu.gate_vectors import BACKWARD_CHUNK, FORWARD_CHUNK
from .cpu.packed_gemm import VECTOR_BYTES


def gate_rules(compile, sigmoid, tanh):
    """The per-unit gate equations, each compiled by ``compile`` (``cuda.jit(device=True, inline=True)``) over
    the device's ``sigmoid`` and ``tanh``.

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


_forward_pair_standard, _forward_pair_cifg = FORWARD_CHUNK[False, 2, False], FORWARD_CHUNK[True, 2, False]
_forward_vector_standard, _forward_vector_cifg = FORWARD_CHUNK[False, 1, False], FORWARD_CHUNK[True, 1, False]
_forward_masked_standard, _forward_masked_cifg = FORWARD_CHUNK[False, 1, True], FORWARD_CHUNK[True, 1, True]
_backward_pair_standard, _backward_pair_cifg = BACKWARD_CHUNK[False, 2, False], BACKWARD_CHUNK[True, 2, False]
_backward_vector_standard, _backward_vector_cifg = BACKWARD_CHUNK[False, 1, False], BACKWARD_CHUNK[True, 1, False]
_backward_masked_standard, _backward_masked_cifg = BACKWARD_CHUNK[False, 1, True], BACKWARD_CHUNK[True, 1, True]


@njit(inline="always", **JIT_KWARGS)
def cell_forward(gates, rec_proj, bias, peephole, c_prev, h_out, c_out, cifg, add_input_projection):
    """Forward step of one row.

    The gates' pre-activations are ``rec_proj + bias``, plus the input
    projection that ``gates`` holds on entry when ``add_input_projection``
    (``rec_proj`` is then the recurrent product alone); on exit ``gates``
    holds the gate activations that BPTT needs. The units go two SIMD
    registers at a time (``cpu/gate_vectors.py``), then one, then the units
    left over, fewer than a register holds, in one masked register.
    """
    H = c_prev.shape[0]
    width = VECTOR_BYTES // c_prev.itemsize
    vectors_end = H - H % width
    pairs_end = H - H % (2 * width)
    for j in range(0, pairs_end, 2 * width):
        if cifg:
            _forward_pair_cifg(gates, rec_proj, bias, peephole, c_prev, h_out, c_out, j, add_input_projection)
        else:
            _forward_pair_standard(gates, rec_proj, bias, peephole, c_prev, h_out, c_out, j, add_input_projection)
    if pairs_end < vectors_end:
        if cifg:
            _forward_vector_cifg(gates, rec_proj, bias, peephole, c_prev, h_out, c_out, pairs_end,
                                 add_input_projection)
        else:
            _forward_vector_standard(gates, rec_proj, bias, peephole, c_prev, h_out, c_out, pairs_end,
                                     add_input_projection)
    if vectors_end < H:
        if cifg:
            _forward_masked_cifg(gates, rec_proj, bias, peephole, c_prev, h_out, c_out, vectors_end,
                                 add_input_projection)
        else:
            _forward_masked_standard(gates, rec_proj, bias, peephole, c_prev, h_out, c_out, vectors_end,
                                     add_input_projection)


@njit(inline="always", **JIT_KWARGS)
def cell_backward(gates, peephole, c_prev, c, dh, dc, cifg):
    """Backward step of one row, in place.

    On entry ``gates`` holds the activations saved by ``cell_forward``, ``dh``
    the total gradient reaching h_t and ``dc`` the gradient reaching c_t from
    step t+1. On exit ``gates`` holds the pre-activation gradients and ``dc``
    the gradient reaching c_{t-1}. The units go as in :func:`cell_forward`.
    """
    H = c_prev.shape[0]
    width = VECTOR_BYTES // c_prev.itemsize
    vectors_end = H - H % width
    pairs_end = H - H % (2 * width)
    for j in range(0, pairs_end, 2 * width):
        if cifg:
            _backward_pair_cifg(gates, peephole, c_prev, c, dh, dc, j)
        else:
            _backward_pair_standard(gates, peephole, c_prev, c, dh, dc, j)
    if pairs_end < vectors_end:
        if cifg:
            _backward_vector_cifg(gates, peephole, c_prev, c, dh, dc, pairs_end)
        else:
            _backward_vector_standard(gates, peephole, c_prev, c, dh, dc, pairs_end)
    if vectors_end < H:
        if cifg:
            _backward_masked_cifg(gates, peephole, c_prev, c, dh, dc, vectors_end)
        else:
            _backward_masked_standard(gates, peephole, c_prev, c, dh, dc, vectors_end)


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
