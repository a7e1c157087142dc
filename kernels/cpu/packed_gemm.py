"""The per-step recurrent product with weights packed once per pass.

Each timestep multiplies a few batch rows by the same recurrent weights.
A BLAS call repacks those weights into its panel layout on every call: at
(B=16, H=128) that repacking took 40% of the GEMM time, and the BLAS thread
pool's wake-ups most of the rest. Here the weights are packed once per pass
into column panels, two SIMD vectors wide, and a register-blocked
micro-kernel written in LLVM IR computes each block of the product with its
accumulators held in registers through the whole reduction.

The block's shape follows the instruction set Numba compiles for
(:data:`VECTOR_BYTES`, :data:`MAX_ROWS`): the accumulators of a block must
fit the register file, or they spill to the stack on every multiply-add.
Blocks of few rows (the batch's last rows, or a batch of one) span several
panels at once, so that enough independent multiply-add chains hide the
instruction's latency. Measured single-threaded, float32, from (8 x 64 x 256)
to (32 x 512 x 2048): 108-112 GFLOP/s on an AMD EPYC Zen 4 (AVX-512, 4-row
blocks), 91-97 on a Zen 3 (AVX2, 6-row blocks), about one core's peak each;
on the Zen 3 the Zen 4's shape spilled and ran at 39. No AVX-512 machine has
timed a larger block than four rows yet.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils, codegen, config
from numba.extending import intrinsic

from ..disk_cache import njit
from ..options import CALLEE_JIT_KWARGS, JIT_KWARGS


def _target_features():
    """The CPU features Numba compiles for: NUMBA_CPU_FEATURES, or the host's ('' for NUMBA_CPU_NAME=generic)."""
    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else codegen.get_host_cpu_features()
    return set(features.split(","))


def _vector_bytes(features):
    if "+avx512f" in features:
        return 64
    if "+avx2" in features or "+avx" in features:
        return 32
    return 16


#: Bytes of one SIMD register of the target: 64 with AVX-512, 32 with AVX/AVX2, 16 otherwise (SSE2, and
#: NUMBA_CPU_NAME=generic). A panel is two vectors wide.
VECTOR_BYTES = _vector_bytes(_target_features())
#: Rows of the largest block: 2 * MAX_ROWS accumulators plus two panel vectors and a broadcast must fit the
#: 32 vector registers of AVX-512 or the 16 of AVX2 and SSE (6 rows: 15 registers).
MAX_ROWS = 4 if VECTOR_BYTES == 64 else 6
#: Independent accumulator vectors a block of few rows should reach by spanning several panels: two FMA
#: units of four cycles' latency keep eight multiply-add chains in flight.
MIN_ACCUMULATORS = 8


def panels_shape(rows, columns, dtype):
    """Shape (P, K, NR) of the packed panels of a (K, N) matrix: NR is two vectors' columns."""
    width = 2 * VECTOR_BYTES // np.dtype(dtype).itemsize
    return (-(-columns // width), rows, width)


def _panel_group(rows):
    """Panels a block of ``rows`` rows spans at once."""
    return max(1, min(4, MIN_ACCUMULATORS // (2 * rows)))


def _make_block_kernel(rows, group):
    """An intrinsic computing ``rows`` rows of ``group`` consecutive output panels.

    For q < group: out[out_start + r * ldo + q * NR + j] = sum_k a[a_start + r * lda + k]
    * panels[panel_start + q * panel_stride + k * NR + j], for r < rows, j < NR, k < depth (depth >= 1).
    """

    @intrinsic
    def block_kernel(typingctx, a, a_start, lda, panels, panel_start, panel_stride, out, out_start, ldo, depth):
        if not (isinstance(a, types.Array) and a.dtype in (types.float32, types.float64)
                and panels.dtype == a.dtype and out.dtype == a.dtype):
            return None
        sig = types.void(a, a_start, lda, panels, panel_start, panel_stride, out, out_start, ldo, depth)

        def codegen(context, builder, signature, args):
            a_arr, a_start, lda, panel_arr, panel_start, panel_stride, out_arr, out_start, ldo, depth = args
            element = context.get_value_type(signature.args[0].dtype)
            element_bytes = context.get_abi_sizeof(element)
            lanes = VECTOR_BYTES // element_bytes
            vector = ir.VectorType(element, lanes)
            vector_ptr = vector.as_pointer()
            i32, i64 = ir.IntType(32), ir.IntType(64)
            a_data = context.make_array(signature.args[0])(context, builder, a_arr).data
            panel_data = context.make_array(signature.args[3])(context, builder, panel_arr).data
            out_data = context.make_array(signature.args[6])(context, builder, out_arr).data
            fma = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vector, [vector] * 3),
                f"llvm.fma.v{lanes}{'f32' if element_bytes == 4 else 'f64'}")
            splat = ir.Constant(ir.VectorType(i32, lanes), [0] * lanes)
            undef = ir.Constant(vector, ir.Undefined)

            def const(value):
                return ir.Constant(i64, value)

            width = 2 * lanes
            entry = builder.block
            loop = builder.append_basic_block("block.loop")
            done = builder.append_basic_block("block.done")
            builder.branch(loop)

            builder.position_at_end(loop)
            k = builder.phi(i64)
            k.add_incoming(const(0), entry)
            accumulators = {}
            for r in range(rows):
                for column in range(2 * group):
                    phi = builder.phi(vector)
                    phi.add_incoming(ir.Constant(vector, None), entry)
                    accumulators[r, column] = phi
            b = []
            for q in range(group):
                panel_row = builder.add(builder.add(panel_start, builder.mul(const(q), panel_stride)),
                                        builder.mul(k, const(width)))
                b += [builder.load(builder.bitcast(builder.gep(panel_data, [builder.add(panel_row, const(h * lanes))]),
                                                   vector_ptr), align=element_bytes)
                      for h in range(2)]
            updated = {}
            for r in range(rows):
                a_index = builder.add(builder.add(a_start, builder.mul(const(r), lda)), k)
                a_value = builder.load(builder.gep(a_data, [a_index]))
                a_vector = builder.shuffle_vector(builder.insert_element(undef, a_value, ir.Constant(i32, 0)),
                                                  undef, splat)
                for column in range(2 * group):
                    updated[r, column] = builder.call(fma, [a_vector, b[column], accumulators[r, column]])
            k_next = builder.add(k, const(1))
            for key, phi in accumulators.items():
                phi.add_incoming(updated[key], loop)
            k.add_incoming(k_next, loop)
            builder.cbranch(builder.icmp_signed("<", k_next, depth), loop, done)

            builder.position_at_end(done)
            for (r, column), value in updated.items():
                index = builder.add(builder.add(out_start, builder.mul(const(r), ldo)), const(column * lanes))
                builder.store(value, builder.bitcast(builder.gep(out_data, [index]), vector_ptr), align=element_bytes)
            return context.get_dummy_value()

        return sig, codegen

    return block_kernel


@njit(**JIT_KWARGS)
def pack_panels(b, transpose, panels, first_row):
    """Pack B = b (K, N), or b.T when ``transpose``, into rows ``first_row:first_row + K`` of ``panels``, of
    ``panels_shape`` for N columns and at least ``first_row + K`` rows.

    Column panel p holds B[:, p*NR:(p+1)*NR] row by row, zero-padded past N. Two matrices packed one under
    the other, at first rows 0 and K, make the panels of their stacked product ``[a1, a2] @ [b1; b2]``.
    """
    P, _, width = panels.shape
    K, N = (b.shape[1], b.shape[0]) if transpose else b.shape
    for p in range(P):
        first = p * width
        filled = N - first if N - first < width else width  # not min(): it compiles two functions of its own
        if transpose:
            for j in range(filled):
                for k in range(K):
                    panels[p, first_row + k, j] = b[first + j, k]
            for k in range(K):
                for j in range(filled, width):
                    panels[p, first_row + k, j] = 0
            continue
        for k in range(K):
            target, source = panels[p, first_row + k], b[k]
            # A whole panel's row is a loop of its own: LLVM vectorises it (2.7x faster at H = 128 to 256
            # than one loop for every panel followed by the zero padding's).
            if filled == width:
                for j in range(width):
                    target[j] = source[first + j]
            else:
                for j in range(filled):
                    target[j] = source[first + j]
                for j in range(filled, width):
                    target[j] = 0


def _make_rows_product(rows):
    """``rows_product(a, r, first_column, panels, out)``: out[r:r+rows] = a[r:r+rows, first_column:first_column + K]
    @ B, ``_panel_group(rows)`` panels at a time; the panels left over two at a time, then one (the backward
    product of a batch of one has only H / NR panels, as few as two)."""
    group = _panel_group(rows)
    grouped = _make_block_kernel(rows, group)
    pair = _make_block_kernel(rows, 2) if group > 2 else grouped
    single = _make_block_kernel(rows, 1) if group > 1 else grouped

    @njit(inline="always", **JIT_KWARGS)
    def rows_product(a, r, first_column, panels, out):
        lda = a.shape[1]
        P, K, width = panels.shape
        stride = K * width
        ldo = out.shape[1]
        a_start = r * lda + first_column
        p = 0
        while p + group <= P:
            grouped(a, a_start, lda, panels, p * stride, stride, out, r * ldo + p * width, ldo, K)
            p += group
        if group > 2 and p + 2 <= P:
            pair(a, a_start, lda, panels, p * stride, stride, out, r * ldo + p * width, ldo, K)
            p += 2
        while p < P:
            single(a, a_start, lda, panels, p * stride, stride, out, r * ldo + p * width, ldo, K)
            p += 1

    return rows_product


# Every kernel shape costs a first run compile time, so the rows left over after the full blocks go two at a
# time and then one: five small kernels, not one per leftover count.
_full_block = _make_block_kernel(MAX_ROWS, 1)
_two_rows = _make_rows_product(2)
_one_row = _make_rows_product(1)


# A function the time loops call, not one inlined into them: compiled once per dtype, not once more into each
# loop (2-2.5 s of a first training step), for a call per timestep that costs 2.5-4% of the tiny size's time
# (docs/history/cpu-benchmarks.md, fifth step).
@njit(**CALLEE_JIT_KWARGS)
def packed_matmul(a, first_row, end_row, first_column, panels, out):
    """out[first_row:end_row, :P*NR] = a[first_row:end_row, first_column:first_column + K] @ B, with B (K, N)
    packed by ``pack_panels``.

    ``a`` (M, >= first_column + K) and ``out`` (M, >= P*NR) are C-contiguous; K >= 1. Blocks of ``MAX_ROWS``
    rows sweep each panel in turn (it stays in cache across them); the rows left over go through all panels at
    the end.
    """
    lda = a.shape[1]
    P, K, width = panels.shape
    stride = K * width
    ldo = out.shape[1]
    full_end = end_row - (end_row - first_row) % MAX_ROWS
    for p in range(P):
        for r in range(first_row, full_end, MAX_ROWS):
            _full_block(a, r * lda + first_column, lda, panels, p * stride, stride, out, r * ldo + p * width, ldo, K)
    r = full_end
    while r + 2 <= end_row:
        _two_rows(a, r, first_column, panels, out)
        r += 2
    if r < end_row:
        _one_row(a, r, first_column, panels, out)
