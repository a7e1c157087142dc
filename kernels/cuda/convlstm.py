"""The ConvLSTM time loop and backpropagation through time on a CUDA GPU: the twin of ``cpu/convlstm.py``.

The same scheme as the CPU's: a convolution is a gather of patches through
a table from ``conv_geometry`` (one row per output position, laid out
``[tap, channel]``) and a GEMM with the kernel reshaped to ``(taps *
channels, G * filters)``, through ``gemm.launch_gemm`` (the Numba GEMM, or
cuBLAS on a real GPU). The input convolution of every timestep runs before
the loop, in blocks of whole frames; a forward step is three launches
(gather the states' patches, the recurrent GEMM added into the step's
gates, the fused gate update); a backward step three more (the gate
gradients, their GEMM with the recurrent kernel into patch gradients, and
the gather-sum of those through the inverse table into dh); the weight
gradients are GEMMs over blocks of frames after the loop.

Rows are (batch item, position) pairs, ``r = b * P + p``, and the gate
kernels run one thread per (row, filter), like the LSTM's ``gate_update``:
a warp reads adjacent columns of one row. Layouts, all C-contiguous and in
processing order (step ``s`` reads timestep ``t = T-1-s`` when ``reverse``):

- ``x`` (B, T, P_in, C) and ``outputs`` (B, T, P, F): the caller's order.
- ``gates`` (T, B * P, G * F): the input convolution, then the recurrent
  one added, then the activations, then (after BPTT) the pre-activation
  gradients.
- ``hs``, ``cs`` (T + 1, B * P, F): the states before and after each step.
- ``peephole`` (P, (G-1) * F), or one row of zeros without peepholes.

The kernels are in ``convlstm_kernels.py``. Work over all frames (a frame
is a (step, batch item) pair) runs in blocks of whole frames whose patches
fit :data:`PATCH_BYTES`.
"""

import collections
import functools
from types import SimpleNamespace

import numpy as np

from . import launch
from .convlstm_kernels import build_convlstm_kernels
from .gemm import build_gemm_kernels, launch_gemm, step_gemm
from .layout import build_layout_kernels
from .memory import device_array
from .plans import grid_for
from .variant import dtype_name, shape_options

__all__ = ["Flags", "Tables", "Weights", "backward", "build_convlstm_kernels", "forward", "kernels_for"]

#: Bytes of patches a block of frames gathers before its GEMMs (per patch buffer): large GEMMs, a bounded
#: workspace. A block holds at least one frame.
PATCH_BYTES = 64 << 20

# kernel (taps * C, G*F), recurrent_kernel (taps * F, G*F), bias (G*F,), peephole (P or 1, (G-1) * F).
Weights = collections.namedtuple("Weights", "kernel recurrent_kernel bias peephole")
# The gather tables (int32 device arrays): of the input convolution (P, taps) and its inverse (P_in, taps), of
# the recurrent convolution (P, taps_r) and its inverse (P, taps_r).
Tables = collections.namedtuple("Tables", "table inverse recurrent_table recurrent_inverse")
Flags = collections.namedtuple("Flags", "use_mask use_recurrent_mask use_peephole reverse zero_output cifg")


def kernels_for(dtype, options):
    """The ConvLSTM's kernels and the GEMM and layout kernels it launches, for a dtype and a ``GpuKernelOptions``."""
    return _merged(dtype_name(dtype), shape_options(options))


@functools.lru_cache(maxsize=None)
def _merged(dtype, shape_options):
    merged = {}
    for family in (build_gemm_kernels, build_layout_kernels, build_convlstm_kernels):
        merged.update(vars(family(dtype, shape_options)))
    return SimpleNamespace(**merged)


def _run(kernel, count, threads, *args):
    launch.launch(kernel, *grid_for(count, threads), args)


def _frames_per_block(P, width, dtype):
    """Whole frames of P patch rows of ``width`` that fit :data:`PATCH_BYTES` (at least one)."""
    return max(1, PATCH_BYTES // max(1, P * width * np.dtype(dtype).itemsize))


def forward(x, weights, h0, c0, mask, recurrent_mask, tables, flags, options, final_states=True):
    """The forward pass on device arrays.

    Parameters
    ----------
    x : device array (B, T, P_in, C)
    weights : Weights
    h0, c0 : device arrays (B * P, F)
    mask : bool device array (B, T); recurrent_mask : device array (B * P, F)
        Placeholders where ``flags`` says they are not in use.
    tables : Tables
    flags : Flags
    options : GpuKernelOptions
    final_states : bool

    Returns
    -------
    outputs (B, T, P, F), h_n and c_n ((B * P, F) copies, or None), and the saved workspace: a dict of the
    CPU path's names and layouts (``gates``, ``hs``, ``cs``, the inputs, the four tables) and the ``flags``.
    """
    kernel, recurrent_kernel, bias, peephole = weights
    B, T = x.shape[:2]
    P = tables.table.shape[0]
    rows, F = h0.shape
    GF = kernel.shape[1]
    dtype = x.dtype
    k = kernels_for(dtype, options)
    threads = options.threads
    gates = device_array((T, rows, GF), dtype)
    hs = device_array((T + 1, rows, F), dtype)
    cs = device_array((T + 1, rows, F), dtype)
    outputs = device_array((B, T, P, F), dtype)
    gate_rows, h_rows, c_rows = gates.reshape(T * rows, GF), hs.reshape((T + 1) * rows, F), cs.reshape(
        (T + 1) * rows, F)
    _input_convolution(k, options, x, kernel, tables.table, flags.reverse, gate_rows)
    _run(k.copy_rows, rows * F, threads, h0, 0, rows, h_rows, 0)
    _run(k.copy_rows, rows * F, threads, c0, 0, rows, c_rows, 0)
    width = recurrent_kernel.shape[0]
    patches = device_array((rows, width), dtype)
    gather = launch.prepared_launch(
        k.gather_patches, *grid_for(rows * width, threads),
        (0, B, h_rows, P, tables.recurrent_table, recurrent_mask, flags.use_recurrent_mask, B, T, flags.reverse,
         False, patches), varying=1)
    recurrent = step_gemm(k, options, patches, recurrent_kernel, gate_rows, rows, GF, width, accumulate=True)
    update = launch.prepared_launch(
        k.gate_forward, *grid_for(rows * F, threads),
        (0, 0, B, P, gate_rows, h_rows, c_rows, bias, peephole, flags.use_peephole, mask, flags.use_mask,
         flags.zero_output, flags.cifg, outputs))
    for s in range(T):
        gather(s * B)
        recurrent(0, s * rows)
        update(s, T - 1 - s if flags.reverse else s)
    h_n = c_n = None
    if final_states:
        h_n, c_n = device_array((rows, F), dtype), device_array((rows, F), dtype)
        _run(k.copy_rows, rows * F, threads, h_rows, T * rows, rows, h_n, 0)
        _run(k.copy_rows, rows * F, threads, c_rows, T * rows, rows, c_n, 0)
    saved = {"x": x, "gates": gates, "hs": hs, "cs": cs, "kernel": kernel, "recurrent_kernel": recurrent_kernel,
             "peephole": peephole, "mask": mask, "recurrent_mask": recurrent_mask, "flags": flags, **tables._asdict()}
    return outputs, h_n, c_n, saved


def _input_convolution(k, options, x, kernel, table, reverse, gate_rows):
    """gate_rows[f * P:(f + 1) * P] = the patches of frame f of x @ kernel, in blocks of whole frames."""
    B, T, P_in, C = x.shape
    P = table.shape[0]
    width, GF = kernel.shape
    source = x.reshape(B * T * P_in, C)
    per_block = min(T * B, _frames_per_block(P, width, x.dtype))
    patches = device_array((per_block * P, width), x.dtype)
    for f0 in range(0, T * B, per_block):
        n = min(per_block, T * B - f0)
        _run(k.gather_patches, n * P * width, options.threads, f0, n, source, P_in, table, source, False, B, T,
             reverse, True, patches)
        launch_gemm(k, options, patches, kernel, gate_rows[f0 * P:(f0 + n) * P], n * P, GF, width)


def backward(saved, d_outputs, use_d_outputs, d_h_n, d_c_n, input_gradient, options):
    """BPTT on device arrays for one :func:`forward`.

    Parameters
    ----------
    saved : dict
        From :func:`forward`; its ``gates`` become the pre-activation gradients.
    d_outputs : device array (B, T, P, F)
        A placeholder without ``use_d_outputs``.
    d_h_n, d_c_n : device arrays (B * P, F)
        Consumed: they become dh0 and dc0.
    input_gradient : bool
    options : GpuKernelOptions

    Returns
    -------
    dx ((B, T, P_in, C) or None), d_kernel, d_recurrent_kernel (like the rows layouts of the weights),
    d_bias (G * F,), d_peephole ((P, (G-1) * F) or None), dh0, dc0 ((B * P, F)).
    """
    x, gates, hs, cs = saved["x"], saved["gates"], saved["hs"], saved["cs"]
    tables, flags = Tables(*(saved[name] for name in Tables._fields)), saved["flags"]
    mask, recurrent_mask, peephole = saved["mask"], saved["recurrent_mask"], saved["peephole"]
    recurrent_kernel = saved["recurrent_kernel"]
    B, T = x.shape[:2]
    _, rows, GF = gates.shape
    F = hs.shape[2]
    P = rows // B
    dtype = gates.dtype
    k = kernels_for(dtype, options)
    threads = options.threads
    gate_rows, c_rows = gates.reshape(T * rows, GF), cs.reshape((T + 1) * rows, F)
    dh, dc = d_h_n, d_c_n
    width = recurrent_kernel.shape[0]
    d_patches = device_array((rows, width), dtype)
    cell = launch.prepared_launch(
        k.gate_backward, *grid_for(rows * F, threads),
        (0, 0, B, P, gate_rows, c_rows, dh, dc, d_outputs, use_d_outputs, peephole, flags.use_peephole, mask,
         flags.use_mask, flags.zero_output, flags.cifg))
    product = step_gemm(k, options, gate_rows, recurrent_kernel, d_patches, rows, width, GF, transpose_b=True)
    spread = launch.prepared_launch(
        k.sum_patch_gradients, *grid_for(rows * F, threads),
        (0, 0, B, d_patches, tables.recurrent_inverse, P, B, T, flags.reverse, False, mask, flags.use_mask,
         recurrent_mask, flags.use_recurrent_mask, dh))
    for s in range(T - 1, -1, -1):
        t = T - 1 - s if flags.reverse else s
        cell(s, t)
        product(s * rows, 0)
        spread(0, t)
    d_peephole = None
    if flags.use_peephole:
        d_peephole = device_array(peephole.shape, dtype)
        _run(k.peephole_gradients, P * F, threads, gate_rows, c_rows, T, B, P, flags.cifg, d_peephole)
    dx, d_kernel, d_recurrent_kernel, d_bias = _weight_gradients(k, options, saved, input_gradient)
    return dx, d_kernel, d_recurrent_kernel, d_bias, d_peephole, dh, dc


def _weight_gradients(k, options, saved, input_gradient):
    """d_kernel, d_recurrent_kernel, d_bias and dx from the pre-activation gradients, in blocks of whole
    frames: each block regathers the patches the forward pass multiplied (of x through the table, of the
    pre-step states through the recurrent table, times the recurrent mask) and adds ``patches.T @ dz`` to
    the sums; d_bias adds ``ones @ dz`` (a GEMM: one thread per column would run down every row alone);
    dx is ``dz @ kernel.T`` gathered through the inverse table, frame by frame."""
    x, gates, hs, kernel = saved["x"], saved["gates"], saved["hs"], saved["kernel"]
    tables = Tables(*(saved[name] for name in Tables._fields))
    flags, recurrent_kernel = saved["flags"], saved["recurrent_kernel"]
    B, T, P_in, C = x.shape
    _, rows, GF = gates.shape
    F = hs.shape[2]
    P = rows // B
    dtype = gates.dtype
    threads = options.threads
    width, recurrent_width = kernel.shape[0], recurrent_kernel.shape[0]
    gate_rows, h_rows = gates.reshape(T * rows, GF), hs.reshape((T + 1) * rows, F)
    source = x.reshape(B * T * P_in, C)
    per_block = min(T * B, _frames_per_block(P, max(width, recurrent_width), dtype))
    block_rows = per_block * P
    input_patches = device_array((block_rows, width), dtype)
    state_patches = device_array((block_rows, recurrent_width), dtype)
    ones = device_array((1, block_rows), dtype)
    _run(k.fill, block_rows, threads, ones.reshape(block_rows), dtype.type(1))
    d_kernel = device_array((width, GF), dtype)
    d_recurrent_kernel = device_array((recurrent_width, GF), dtype)
    d_bias = device_array(GF, dtype)
    dx = d_input_patches = None
    if input_gradient:
        dx = device_array((B, T, P_in, C), dtype)
        d_input_patches = device_array((block_rows, width), dtype)
    for f0 in range(0, T * B, per_block):
        n = min(per_block, T * B - f0)
        m, more = n * P, f0 > 0
        dz = gate_rows[f0 * P:f0 * P + m]
        _run(k.gather_patches, m * width, threads, f0, n, source, P_in, tables.table, source, False, B, T,
             flags.reverse, True, input_patches)
        _run(k.gather_patches, m * recurrent_width, threads, f0, n, h_rows, P, tables.recurrent_table,
             saved["recurrent_mask"], flags.use_recurrent_mask, B, T, flags.reverse, False, state_patches)
        launch_gemm(k, options, input_patches, dz, d_kernel, width, GF, m, transpose_a=True, accumulate=more)
        launch_gemm(k, options, state_patches, dz, d_recurrent_kernel, recurrent_width, GF, m, transpose_a=True,
                    accumulate=more)
        launch_gemm(k, options, ones, dz, d_bias.reshape(1, GF), 1, GF, m, accumulate=more)
        if input_gradient:
            launch_gemm(k, options, dz, kernel, d_input_patches, m, width, GF, transpose_b=True)
            _run(k.sum_patch_gradients, n * P_in * C, threads, f0, 0, n, d_input_patches, tables.inverse, P, B, T,
                 flags.reverse, True, saved["mask"], False, source, False, dx.reshape(B * T * P_in, C))
    return dx, d_kernel, d_recurrent_kernel, d_bias
