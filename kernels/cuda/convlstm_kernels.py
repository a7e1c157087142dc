"""The ConvLSTM's CUDA kernels: gathers of patches through a table and their gradients' gather-sums through the
inverse table, the fused gate forward and backward of one (row, filter) per thread, the peephole gradients.

``convlstm.py`` launches them (its docstring gives the layouts); the gate equations are ``lstm_cell.gate_rules``,
compiled for CUDA by ``variant.cuda_gate_rules``, the same as the CPU's and the LSTM's. Rows are (batch item,
position) pairs ``r = b * P + p``; a frame is a (step, batch item) pair ``f = s * B + b``, whose rows a source holds
"in caller order" (x, dx: from row ``(b * T + t) * positions``) or "in processing order" (hs: from row ``f *
positions``). Every sum runs in one fixed order, without atomics, so results repeat bit for bit.
"""

import functools
from types import SimpleNamespace

from numba import cuda

from .variant import constants, cuda_gate_rules


@functools.lru_cache(maxsize=None)
def build_convlstm_kernels(dtype, shape_options):
    """The ConvLSTM's own kernels for one float dtype's name and ``variant.shape_options``."""
    c = constants(dtype, shape_options)
    one, zero, jit = c.one, c.zero, c.jit
    rules = cuda_gate_rules(dtype)
    unit_forward, unit_backward, hidden_state, tanh = (rules.unit_forward, rules.unit_backward,
                                                       rules.hidden_state, rules.tanh)

    @cuda.jit(device=True, inline=True)
    def frame_rows(f, B, T, reverse, caller_order, positions):
        """(first row of frame ``f`` in a source of ``positions`` rows a frame, its batch item)."""
        s = f // B
        b = f - s * B
        if caller_order:
            t = T - 1 - s if reverse else s
            return (b * T + t) * positions, b
        return f * positions, b

    @jit
    def gather_patches(first, frames, source, positions, table, scale, use_scale, B, T, reverse, caller_order,
                       patches):
        """patches[n * P + p, k * W + w] = source[row of frame first + n at table[p, k], w] (times ``scale[b *
        positions + q, w]`` with ``use_scale``), zero where the tap falls in the padding; one thread per
        element of the patches, so that a warp writes one patch row and reads a source row's channels."""
        i = cuda.grid(1)
        P, taps = table.shape
        W = source.shape[1]
        if i >= frames * P * taps * W:
            return
        w = i % W
        k = (i // W) % taps
        row = i // (W * taps)
        n = row // P
        q = table[row - n * P, k]
        value = zero
        if q >= 0:
            base, b = frame_rows(first + n, B, T, reverse, caller_order, positions)
            value = source[base + q, w]
            if use_scale:
                value *= scale[b * positions + q, w]
        patches[row, k * W + w] = value

    @jit
    def sum_patch_gradients(first, t, frames, d_patches, inverse, P, B, T, reverse, caller_order, mask, use_mask,
                            scale, use_scale, target):
        """A convolution's input gradient from its patch gradients, one thread per (frame, input position
        q, channel w): target[row of frame first + n at q, w] = sum over taps k of d_patches[n * P +
        inverse[q, k], k * W + w] (times ``scale[b * Q + q, w]``), the taps in order as on the CPU. Frames
        whose batch item is masked at timestep ``t`` are left as they are (their gradient flows on)."""
        i = cuda.grid(1)
        Q, taps = inverse.shape
        W = target.shape[1]
        if i >= frames * Q * W:
            return
        w = i % W
        row = i // W
        n = row // Q
        q = row - n * Q
        base, b = frame_rows(first + n, B, T, reverse, caller_order, Q)
        if use_mask and not mask[b, t]:
            return
        total = zero
        for k in range(taps):
            p = inverse[q, k]
            if p >= 0:
                total += d_patches[n * P + p, k * W + w]
        if use_scale:
            total *= scale[b * Q + q, w]
        target[base + q, w] = total

    @jit
    def gate_forward(s, t, B, P, gates, hs, cs, bias, peephole, use_peephole, mask, use_mask, zero_output, cifg,
                     outputs):
        """Step s (timestep t) after the recurrent GEMM added its product into ``gates`` rows of step s: the
        gate update of one (row, filter) per thread with the row's position's peepholes; writes the
        activations over the pre-activations, h and c of step s+1 and the output (a masked step carries
        the state and outputs the carried h, or zero with ``zero_output``)."""
        i = cuda.grid(1)
        F = hs.shape[1]
        rows = B * P
        if i >= rows * F:
            return
        r = i // F
        j = i - r * F
        b = r // P
        row = s * rows + r
        if use_mask and not mask[b, t]:
            h = hs[row, j]
            hs[row + rows, j] = h
            cs[row + rows, j] = cs[row, j]
            outputs[b, t, r - b * P, j] = zero if zero_output else h
            return
        p = r - b * P if use_peephole else 0
        c_prev = cs[row, j]
        z0 = gates[row, j] + bias[j]
        z1 = gates[row, F + j] + bias[F + j]
        z2 = gates[row, 2 * F + j] + bias[2 * F + j]
        if cifg:  # gates f, c, o
            _, f, g, o, c_new = unit_forward(one, zero, z0, z1, z2, c_prev, zero, peephole[p, j], peephole[p, F + j],
                                             True)
            gates[row, j] = f
            gates[row, F + j] = g
            gates[row, 2 * F + j] = o
        else:
            z3 = gates[row, 3 * F + j] + bias[3 * F + j]
            i_, f, g, o, c_new = unit_forward(one, z0, z1, z2, z3, c_prev, peephole[p, j], peephole[p, F + j],
                                              peephole[p, 2 * F + j], False)
            gates[row, j] = i_
            gates[row, F + j] = f
            gates[row, 2 * F + j] = g
            gates[row, 3 * F + j] = o
        h = hidden_state(o, c_new)
        cs[row + rows, j] = c_new
        hs[row + rows, j] = h
        outputs[b, t, r - b * P, j] = h

    @jit
    def gate_backward(s, t, B, P, gates, cs, dh, dc, d_outputs, use_d_outputs, peephole, use_peephole, mask,
                      use_mask, zero_output, cifg):
        """Step s of BPTT for one (row, filter) per thread: ``dh`` (B * P, F) takes the output's gradient and
        becomes the total gradient at h_s (a masked row keeps it: it flows on to h_{s-1}); the row's
        ``gates`` become pre-activation gradients (zeros on a masked row) and ``dc`` the gradient at
        c_{s-1}."""
        i = cuda.grid(1)
        F = cs.shape[1]
        rows = B * P
        if i >= rows * F:
            return
        r = i // F
        j = i - r * F
        b = r // P
        row = s * rows + r
        active = not use_mask or mask[b, t]
        grad = dh[r, j]
        if use_d_outputs and (active or not zero_output):
            grad += d_outputs[b, t, r - b * P, j]
        dh[r, j] = grad
        if not active:
            for gate in range(3 if cifg else 4):
                gates[row, gate * F + j] = zero
            return
        p = r - b * P if use_peephole else 0
        c_prev = cs[row, j]
        tanh_c = tanh(cs[row + rows, j])
        if cifg:
            _, dz_f, dz_g, dz_o, dc_prev = unit_backward(one, zero, gates[row, j], gates[row, F + j],
                                                         gates[row, 2 * F + j], c_prev, tanh_c, grad, dc[r, j], zero,
                                                         peephole[p, j], peephole[p, F + j], True)
            gates[row, j] = dz_f
            gates[row, F + j] = dz_g
            gates[row, 2 * F + j] = dz_o
        else:
            dz_i, dz_f, dz_g, dz_o, dc_prev = unit_backward(one, gates[row, j], gates[row, F + j],
                                                            gates[row, 2 * F + j], gates[row, 3 * F + j], c_prev,
                                                            tanh_c, grad, dc[r, j], peephole[p, j], peephole[p, F + j],
                                                            peephole[p, 2 * F + j], False)
            gates[row, j] = dz_i
            gates[row, F + j] = dz_f
            gates[row, 2 * F + j] = dz_g
            gates[row, 3 * F + j] = dz_o
        dc[r, j] = dc_prev

    @jit
    def peephole_gradients(gates, cs, T, B, P, cifg, d_peephole):
        """d_peephole (P, (G-1) * F) from the pre-activation gradients of every step, one thread per (position,
        filter) summing over steps and batch items: a position's peepholes are shared by the batch only,
        so each sum has one owner and needs no atomics."""
        i = cuda.grid(1)
        F = cs.shape[1]
        if i >= P * F:
            return
        p = i // F
        j = i - p * F
        rows = B * P
        p0 = p1 = p2 = zero
        for s in range(T):
            for b in range(B):
                row = s * rows + b * P + p
                c_prev = cs[row, j]
                c_new = cs[row + rows, j]
                if cifg:
                    p0 += gates[row, j] * c_prev
                    p1 += gates[row, 2 * F + j] * c_new
                else:
                    p0 += gates[row, j] * c_prev
                    p1 += gates[row, F + j] * c_prev
                    p2 += gates[row, 3 * F + j] * c_new
        d_peephole[p, j] = p0
        d_peephole[p, F + j] = p1
        if not cifg:
            d_peephole[p, 2 * F + j] = p2

    @jit
    def fill(out, value):
        i = cuda.grid(1)
        if i < out.shape[0]:
            out[i] = value

    return SimpleNamespace(gather_patches=gather_patches, sum_patch_gradients=sum_patch_gradients,
                           gate_forward=gate_forward, gate_backward=gate_backward,
                           peephole_gradients=peephole_gradients, fill=fill)
