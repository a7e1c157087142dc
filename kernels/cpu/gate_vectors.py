"""The gate kernels of one batch row, written in SIMD vectors.

``lstm_cell.cell_forward`` and ``cell_backward`` apply the gate equations of
``lstm_cell.gate_rules`` to a row's units. LLVM vectorises a loop over units
only where it writes a single array (more need run-time overlap checks, and
it gives up), so as loops the equations would be seven loops a step, each
with its checks and remainder, and a vector body wider than a row of few
units. Here each equation runs on whole registers of consecutive units, from
the loads of a chunk's inputs to the stores of its results, as oneDNN's LSTM
cell does: every load of a chunk comes before its first store, so nothing
can overlap, and a chunk of two registers keeps two dependency chains side
by side for the out-of-order core. The units past a row's last full register
take one register of masked loads and stores (AVX2's ``vmaskmov``, AVX-512's
mask registers; LLVM splits them into single elements where the CPU has
neither): no scalar form of the gates is compiled beside the vector one.
Masked only where a register is part full: on a Zen 3 a masked register
costs a forward step about 25 ns more than a full one
(docs/history/cpu-benchmarks.md, fifteenth step).

float32 evaluates ``activations.py``'s clamped rational tanh in the same
operations. float64 evaluates Cephes' tanh on whole registers, within 3 ulps
of libm's: both of its branches, each as a numerator and a denominator, and
one division of the two the lane needs. libm's, called for each lane, had
taken a fifth (the largest size) to two fifths (the small one) of a float64
training step (asv_bench/README.md, sixteenth step). The steps of each
equation follow the order of operations of ``lstm_cell.gate_rules``, which
the GPU kernels compile.
"""

import math

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ..activations import (EXP64_DENOMINATOR, EXP64_NUMERATOR, LN2_HIGH, LN2_LOW, TANH64_DENOMINATOR,
                           TANH64_EXP_LIMIT, TANH64_NUMERATOR, TANH64_RATIONAL_BELOW, TANH_CLAMP, TANH_DENOMINATOR,
                           TANH_NUMERATOR)
from .packed_gemm import VECTOR_BYTES


def lanes(itemsize):
    """Units in one SIMD register of elements of ``itemsize`` bytes (a chunk of the kernels holds one or two)."""
    return VECTOR_BYTES // itemsize


class _VectorCode:
    """Emits the vector operations of one chunk: loads and stores of ``lanes`` elements from ``start`` (plus a
    multiple of ``units``, the gate blocks' stride), splats, fma, tanh and sigmoid.

    When ``masked``, loads and stores touch only the lanes of units below ``units`` (a row's last chunk, which
    may hold fewer units than its registers): the lanes past the row's end load zeros and store nothing.
    """

    def __init__(self, context, builder, dtype, start, units, masked):
        self.builder = builder
        self.element = context.get_value_type(dtype)
        self.element_bytes = context.get_abi_sizeof(self.element)
        self.single = self.element_bytes == 4
        self.width = lanes(self.element_bytes)
        self.vector = ir.VectorType(self.element, self.width)
        self.start, self.units, self.masked = start, units, masked
        suffix = f"v{self.width}{'f32' if self.single else 'f64'}"
        module, pointer = builder.module, self.vector.as_pointer()
        self._fma = cgutils.get_or_insert_function(module, ir.FunctionType(self.vector, [self.vector] * 3),
                                                   f"llvm.fma.{suffix}")
        if not self.single:
            unary, binary = ir.FunctionType(self.vector, [self.vector]), ir.FunctionType(self.vector, [self.vector] * 2)
            self._fabs = cgutils.get_or_insert_function(module, unary, f"llvm.fabs.{suffix}")
            self._floor = cgutils.get_or_insert_function(module, unary, f"llvm.floor.{suffix}")
            self._copysign = cgutils.get_or_insert_function(module, binary, f"llvm.copysign.{suffix}")
        if masked:
            flags, alignment = ir.VectorType(ir.IntType(1), self.width), ir.IntType(32)
            self._masked_load = cgutils.get_or_insert_function(
                module, ir.FunctionType(self.vector, [pointer, alignment, flags, self.vector]),
                f"llvm.masked.load.{suffix}.p0")
            self._masked_store = cgutils.get_or_insert_function(
                module, ir.FunctionType(ir.VoidType(), [self.vector, pointer, alignment, flags]),
                f"llvm.masked.store.{suffix}.p0")
            index = ir.VectorType(ir.IntType(64), self.width)
            left = builder.sub(units, start)  # units from the chunk's first to the row's end
            left = builder.insert_element(ir.Constant(index, ir.Undefined), left, ir.Constant(ir.IntType(32), 0))
            self._left = builder.shuffle_vector(left, left, ir.Constant(ir.VectorType(ir.IntType(32), self.width),
                                                                        [0] * self.width))

    def _lanes_in_row(self, chunk):
        lane_units = ir.Constant(ir.VectorType(ir.IntType(64), self.width),
                                 [chunk * self.width + lane for lane in range(self.width)])
        return self.builder.icmp_signed("<", lane_units, self._left)

    def splat(self, value):
        return ir.Constant(self.vector, [ir.Constant(self.element, value)] * self.width)

    def _address(self, pointer, block, chunk):
        builder = self.builder
        offset = builder.add(self.start, builder.mul(ir.Constant(ir.IntType(64), block), self.units))
        offset = builder.add(offset, ir.Constant(ir.IntType(64), chunk * self.width))
        return builder.bitcast(builder.gep(pointer, [offset]), self.vector.as_pointer())

    def load(self, pointer, block=0, chunk=0):
        """Lanes ``chunk * width`` on from the start of gate block ``block``."""
        address = self._address(pointer, block, chunk)
        if self.masked:
            return self.builder.call(self._masked_load, [address, ir.Constant(ir.IntType(32), self.element_bytes),
                                                         self._lanes_in_row(chunk), self.splat(0.0)])
        return self.builder.load(address, align=self.element_bytes)

    def store(self, value, pointer, block=0, chunk=0):
        address = self._address(pointer, block, chunk)
        if self.masked:
            self.builder.call(self._masked_store, [value, address, ir.Constant(ir.IntType(32), self.element_bytes),
                                                   self._lanes_in_row(chunk)])
        else:
            self.builder.store(value, address, align=self.element_bytes)

    def fma(self, a, b, c):
        return self.builder.call(self._fma, [a, b, c])

    def polynomial(self, coefficients, z, monic=False):
        """Horner's rule: the coefficients from the highest power down (after a leading 1 when ``monic``)."""
        p = self.splat(1.0 if monic else coefficients[0])
        for c in coefficients if monic else coefficients[1:]:
            p = self.fma(p, z, self.splat(c))
        return p

    def tanh(self, x):
        if not self.single:
            return self._tanh_float64(x)
        builder = self.builder
        # activations.rational_tanh; the ordered comparisons let a NaN through the clamp
        x = builder.select(builder.fcmp_ordered("<", x, self.splat(-TANH_CLAMP)), self.splat(-TANH_CLAMP), x)
        x = builder.select(builder.fcmp_ordered(">", x, self.splat(TANH_CLAMP)), self.splat(TANH_CLAMP), x)
        x2 = builder.fmul(x, x)
        p, q = self.polynomial(TANH_NUMERATOR[::-1], x2), self.polynomial(TANH_DENOMINATOR[::-1], x2)
        return builder.fdiv(builder.fmul(x, p), q)

    def _tanh_float64(self, x):
        """Cephes' tanh: x + x z P(z) / Q(z) (z = x**2) below |x| = 0.625, else sign(x) (s - 1) / (s + 1) with
        s = e^2|x| = 2^n (Q_e + P_e) / (Q_e - P_e) from Cephes' exp; each branch as a numerator over a denominator,
        so that one division serves the lane's branch. NaN comes back as itself, +-inf as +-1."""
        builder = self.builder
        fmul, fadd, fsub = builder.fmul, builder.fadd, builder.fsub
        magnitude = builder.call(self._fabs, [x])
        z = fmul(x, x)
        denominator = self.polynomial(TANH64_DENOMINATOR, z, monic=True)
        numerator = fmul(x, self.fma(z, self.polynomial(TANH64_NUMERATOR, z), denominator))  # x (Q + z P)
        # e^y, y = 2|x| clamped (a NaN becomes the clamp: the exponent below must be finite), as 2^n e^r
        y = fadd(magnitude, magnitude)
        limit = self.splat(TANH64_EXP_LIMIT)
        y = builder.select(builder.fcmp_ordered("<=", y, limit), y, limit)
        n = builder.call(self._floor, [self.fma(y, self.splat(1 / math.log(2)), self.splat(0.5))])
        r = self.fma(n, self.splat(-LN2_HIGH), y)
        r = self.fma(n, self.splat(-LN2_LOW), r)
        rr = fmul(r, r)
        p_e, q_e = fmul(r, self.polynomial(EXP64_NUMERATOR, rr)), self.polynomial(EXP64_DENOMINATOR, rr)
        integers = ir.VectorType(ir.IntType(64), self.width)
        exponent = builder.add(builder.fptosi(n, integers), ir.Constant(integers, [1023] * self.width))
        power = builder.bitcast(builder.shl(exponent, ir.Constant(integers, [52] * self.width)), self.vector)
        above, below = fmul(fadd(q_e, p_e), power), fsub(q_e, p_e)  # s = above / below
        rational = builder.fcmp_ordered("<", magnitude, self.splat(TANH64_RATIONAL_BELOW))
        result = builder.fdiv(
            builder.select(rational, numerator, builder.call(self._copysign, [fsub(above, below), x])),
            builder.select(rational, denominator, fadd(above, below)))
        return builder.select(builder.fcmp_unordered("uno", x, x), x, result)

    def sigmoid(self, x):  # 0.5 * tanh(0.5 * x) + 0.5
        return self.fma(self.tanh(self.builder.fmul(x, self.splat(0.5))), self.splat(0.5), self.splat(0.5))


def _row_arrays(arrays, rest):
    """Whether ``arrays`` are one-dimensional C-contiguous arrays of one float dtype and ``rest`` the chunk's first
    unit (an integer) and flags (booleans)."""
    if not all(isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C" for a in arrays):
        return False
    if arrays[0].dtype not in (types.float32, types.float64) or any(a.dtype != arrays[0].dtype for a in arrays):
        return False
    return isinstance(rest[0], types.Integer) and all(isinstance(flag, types.Boolean) for flag in rest[1:])


def _chunk_code(context, builder, signature, args, count, c_prev, masked):
    """(_VectorCode for the chunk, the data pointers of the first ``count`` arguments, the remaining arguments as
    int64 and booleans); argument ``c_prev``, the previous cell state, has the row's unit count."""
    data = [context.make_array(t)(context, builder, a).data for t, a in zip(signature.args[:count], args[:count])]
    units = builder.extract_value(context.make_array(signature.args[c_prev])(context, builder, args[c_prev]).shape, 0)
    start = context.cast(builder, args[count], signature.args[count], types.int64)
    flags = [context.cast(builder, a, t, types.boolean) for a, t in zip(args[count + 1:], signature.args[count + 1:])]
    return _VectorCode(context, builder, signature.args[0].dtype, start, units, masked), data, flags


def _make_forward_chunk(cifg, registers, masked):
    @intrinsic
    def forward_chunk(typingctx, gates, rec, bias, peephole, c_prev, h_out, c_out, first, add_input_projection):
        if not _row_arrays((gates, rec, bias, peephole, c_prev, h_out, c_out), (first, add_input_projection)):
            return None
        sig = types.void(gates, rec, bias, peephole, c_prev, h_out, c_out, first, add_input_projection)

        def codegen(context, builder, signature, args):
            v, data, (add,) = _chunk_code(context, builder, signature, args, 7, 4, masked)
            gates_data, rec_data, bias_data, peephole_data, c_prev_data, h_data, c_data = data
            # Each step for every register before the next step: their dependency chains side by side.
            each = range(registers)

            def pre_activation(block, k):
                z = builder.fadd(v.load(rec_data, block, k), v.load(bias_data, block, k))
                return builder.select(add, builder.fadd(v.load(gates_data, block, k), z), z)

            def peephole_gate(block, weights, state):
                return [v.sigmoid(v.fma(v.load(peephole_data, weights, k), state[k], pre_activation(block, k)))
                        for k in each]

            c_prev = [v.load(c_prev_data, 0, k) for k in each]
            if cifg:  # gates f, c, o; peepholes p_f, p_o
                f = peephole_gate(0, 0, c_prev)
                i = [builder.fsub(v.splat(1.0), f[k]) for k in each]
                g_block, o_block, o_peephole = 1, 2, 1
            else:  # gates i, f, c, o; peepholes p_i, p_f, p_o
                i = peephole_gate(0, 0, c_prev)
                f = peephole_gate(1, 1, c_prev)
                g_block, o_block, o_peephole = 2, 3, 2
            g = [v.tanh(pre_activation(g_block, k)) for k in each]
            c = [v.fma(f[k], c_prev[k], builder.fmul(i[k], g[k])) for k in each]
            o = peephole_gate(o_block, o_peephole, c)
            h = [builder.fmul(o[k], v.tanh(c[k])) for k in each]
            # Every load above comes before the first store: c_out may be c_prev (the streaming step).
            for k in each:
                if not cifg:
                    v.store(i[k], gates_data, 0, k)
                v.store(f[k], gates_data, g_block - 1, k)
                v.store(g[k], gates_data, g_block, k)
                v.store(o[k], gates_data, o_block, k)
                v.store(c[k], c_data, 0, k)
                v.store(h[k], h_data, 0, k)
            return context.get_dummy_value()

        return sig, codegen

    return forward_chunk


def _make_backward_chunk(cifg, registers, masked):
    @intrinsic
    def backward_chunk(typingctx, gates, peephole, c_prev, c, dh, dc, first):
        if not _row_arrays((gates, peephole, c_prev, c, dh, dc), (first,)):
            return None
        sig = types.void(gates, peephole, c_prev, c, dh, dc, first)

        def codegen(context, builder, signature, args):
            v, data, _ = _chunk_code(context, builder, signature, args, 6, 2, masked)
            gates_data, peephole_data, c_prev_data, c_data, dh_data, dc_data = data
            one = v.splat(1.0)
            fmul, fadd, fsub = builder.fmul, builder.fadd, builder.fsub
            each = range(registers)
            blocks = 3 if cifg else 4  # gates f, c, o with peepholes p_f, p_o; or i, f, c, o with p_i, p_f, p_o
            loaded = [([v.load(gates_data, block, k) for block in range(blocks)],
                       [v.load(peephole_data, block, k) for block in range(blocks - 1)],
                       v.load(c_prev_data, 0, k), v.load(dh_data, 0, k), v.load(dc_data, 0, k))
                      for k in each]
            tanh_c = [v.tanh(v.load(c_data, 0, k)) for k in each]
            results = []
            for k in each:
                activations, peepholes, c_prev, dh, dc = loaded[k]
                o, p_o = activations[-1], peepholes[-1]
                # lstm_cell.gate_rules' unit_backward, in its order of operations
                dz_o = fmul(fmul(fmul(dh, tanh_c[k]), o), fsub(one, o))
                dc_t = fadd(fadd(dc, fmul(fmul(dh, o), fsub(one, fmul(tanh_c[k], tanh_c[k])))), fmul(dz_o, p_o))
                if cifg:
                    f, g, _ = activations
                    dz_f = fmul(fmul(fmul(dc_t, fsub(c_prev, g)), f), fsub(one, f))
                    dz_g = fmul(fmul(dc_t, fsub(one, f)), fsub(one, fmul(g, g)))
                    dc_prev = fadd(fmul(dc_t, f), fmul(dz_f, peepholes[0]))
                    results.append(((dz_f, dz_g, dz_o), dc_prev))
                else:
                    i, f, g, _ = activations
                    dz_i = fmul(fmul(fmul(dc_t, g), i), fsub(one, i))
                    dz_f = fmul(fmul(fmul(dc_t, c_prev), f), fsub(one, f))
                    dz_g = fmul(fmul(dc_t, i), fsub(one, fmul(g, g)))
                    dc_prev = fadd(fadd(fmul(dc_t, f), fmul(dz_i, peepholes[0])), fmul(dz_f, peepholes[1]))
                    results.append(((dz_i, dz_f, dz_g, dz_o), dc_prev))
            for k, (gradients, dc_prev) in enumerate(results):
                for block, value in enumerate(gradients):
                    v.store(value, gates_data, block, k)
                v.store(dc_prev, dc_data, 0, k)
            return context.get_dummy_value()

        return sig, codegen

    return backward_chunk


# The chunks the kernels take: a pair of full registers, one full register, one masked register.
_CHUNKS = ((2, False), (1, False), (1, True))
#: ``FORWARD_CHUNK[cifg, registers, masked](gates, rec, bias, peephole, c_prev, h_out, c_out, first,
#: add_input_projection)`` (njit only): ``lstm_cell.cell_forward`` for units ``first:first + registers *
#: lanes(itemsize)`` of the row, which must all exist unless ``masked`` (then those past the row's end are left
#: alone); every array one-dimensional and C-contiguous, of one float dtype.
FORWARD_CHUNK = {(cifg, *chunk): _make_forward_chunk(cifg, *chunk) for cifg in (False, True) for chunk in _CHUNKS}
#: ``BACKWARD_CHUNK[cifg, registers, masked](gates, peephole, c_prev, c, dh, dc, first)`` (njit only):
#: ``lstm_cell.cell_backward`` for units ``first:first + registers * lanes(itemsize)``, on the same terms.
BACKWARD_CHUNK = {(cifg, *chunk): _make_backward_chunk(cifg, *chunk) for cifg in (False, True) for chunk in _CHUNKS}
