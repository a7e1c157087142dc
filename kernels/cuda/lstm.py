"""The LSTM time loop and backpropagation through time on a CUDA GPU: the twin of ``cpu/lstm.py``.

Same structure as the CPU module and as cuDNN: one GEMM projects the inputs
of every timestep before the loop; each forward step is one fused kernel
(the recurrent product for all four gates of a hidden unit, then that
unit's gate update, in the same thread); each backward step is two kernels
(the gate gradients, elementwise; then their product with the recurrent
weights); the weight gradients are GEMMs over all timesteps after the loop.
Which time loop runs a pass (per step, split, persistent or GEMM steps) is
:func:`plans.choose_time_loop`'s choice, from ``GpuKernelOptions`` and the shape.

Everything is time-major and in processing order, as on the CPU, and kept
as 2-D row blocks so that every GEMM reads plain matrices: row ``s * B + b``
of ``xs`` (T*B, F), ``gates`` (T*B, G*H), ``hs`` and ``cs`` ((T+1)*B, H)
belongs to step ``s`` and batch row ``b``.

The kernels come per dtype and per variant of the options that shape their
code (:func:`kernels_for`), one factory per family: ``gemm``, ``layout``,
``step_kernels``, ``backward_kernels``, ``persistent``.
"""

import collections
import functools
from types import SimpleNamespace

import numpy as np

from . import launch, plans
from .backward_kernels import build_backward_kernels
from .gemm import build_gemm_kernels, launch_gemm, step_gemm
from .layout import build_layout_kernels
from .memory import device_array
from .persistent import build_persistent_kernels
from .plans import TimeLoop, grid_for, rows_for_batch
from .step_kernels import build_step_kernels
from .variant import dtype_name, shape_options

__all__ = ["PassFlags", "Weights", "backward", "build_kernels", "forward", "kernels_for", "launch_gemm",
           "rows_for_batch", "step_gemm"]

# A layer's weights as device arrays: kernel (F, G*H), recurrent_kernel (H, G*H), bias (G*H,) and peephole (a zero
# vector when unused).
Weights = collections.namedtuple("Weights", "kernel recurrent_kernel bias peephole")
# The switches of a pass: masks in use, the direction, masked steps' outputs, three gates (CIFG) or four.
PassFlags = collections.namedtuple("PassFlags", "use_mask use_recurrent_mask reverse zero_output cifg")


def _run(kernel, count, threads, *args):
    """``kernel`` over ``count`` threads in blocks of ``threads``, through ``launch``'s templates."""
    launch.launch(kernel, *grid_for(count, threads), args)


def kernels_for(dtype, options):
    """:func:`build_kernels` for a dtype and a ``GpuKernelOptions``."""
    return build_kernels(dtype_name(dtype), shape_options(options))


@functools.lru_cache(maxsize=None)
def build_kernels(dtype, shape_options):
    """Every CUDA kernel of the LSTM for one float dtype (``"float32"``/``"float64"``) and the options that shape
    their code (``variant.shape_options``), in one namespace: the families' factories merged."""
    families = (build_gemm_kernels, build_layout_kernels, build_step_kernels, build_backward_kernels,
                build_persistent_kernels)
    merged = {}
    for family in families:
        merged.update(vars(family(dtype, shape_options)))
    return SimpleNamespace(**merged)


def forward(x, weights, h0, c0, mask, recurrent_mask, flags, options, final_states=True):
    """The forward pass on device arrays; returns ``outputs`` (B, T, H), ``h_n`` and ``c_n`` (copies of the
    states after the last step, (B, H) each, or None without ``final_states``) and the saved workspace.

    Parameters
    ----------
    x : device array
        The inputs, (B, T, F).
    weights : Weights
        The layer's weights, device arrays of ``x``'s dtype.
    h0, c0 : device arrays
        The initial states, (B, H) each.
    mask, recurrent_mask : device arrays
        The step mask (B, T), bool, and the recurrent dropout mask (B, H); placeholders when ``flags``
        says they are not in use.
    flags : PassFlags
        The pass's switches.
    options : GpuKernelOptions
        How the kernels are compiled and launched, and which time loop may run.
    final_states : bool
        Whether to copy h and c after the last step out of the workspace.

    Returns
    -------
    tuple
        ``outputs``, ``h_n``, ``c_n`` and the workspace: a dict of ``xs``, ``gates`` (activations),
        ``hs`` and ``cs``, all still on the device, and what :func:`backward` reads besides (the weights,
        masks, flags and input shape). ``h_n`` and ``c_n`` are copies, for the workspace's rows must
        survive what a caller does with them.
    """
    kernel, recurrent_kernel, bias, peephole = weights
    use_mask, use_recurrent_mask, reverse, zero_output, cifg = flags
    B, T, F = x.shape
    H = recurrent_kernel.shape[0]
    GH = kernel.shape[1]
    options = rows_for_batch(options, B)
    k = kernels_for(x.dtype, options)
    threads = options.threads
    xs = device_array((T * B, F), x.dtype)
    gates = device_array((T * B, GH), x.dtype)
    hs = device_array(((T + 1) * B, H), x.dtype)
    cs = device_array(((T + 1) * B, H), x.dtype)
    outputs = device_array((B, T, H), x.dtype)
    h_n = c_n = None
    if final_states:
        h_n, c_n = device_array((B, H), x.dtype), device_array((B, H), x.dtype)
    saved = {"xs": xs, "gates": gates, "hs": hs, "cs": cs, "weights": weights, "mask": mask,
             "recurrent_mask": recurrent_mask, "flags": flags, "x_shape": x.shape}
    # without final states, hs and cs stand in for h_n and c_n: arrays of their type, never written
    persistent_args = (T, reverse, B, H, gates, hs, cs, h0, c0, recurrent_kernel, bias, peephole, mask, use_mask,
                       recurrent_mask, use_recurrent_mask, zero_output, cifg, outputs,
                       hs if h_n is None else h_n, cs if c_n is None else c_n, final_states)
    loop, plan = plans.choose_time_loop(options, B, H, GH, lambda: plans.persistent_plan(
        "forward", k.forward_persistent, persistent_args + (0,), options, B, H, H, 4 * options.persistent_units,
        np.dtype(x.dtype).itemsize))
    _project_inputs(k, options, x, kernel, xs, gates, reverse)
    if loop is TimeLoop.PERSISTENT:
        launch.launch(k.forward_persistent, plan.blocks, options.persistent_units * options.persistent_slices,
               persistent_args + (plan.cache_slots,), plan.cache_bytes)
        return outputs, h_n, c_n, saved
    _run(k.copy_rows, B * H, threads, h0, 0, B, hs, 0)
    _run(k.copy_rows, B * H, threads, c0, 0, B, cs, 0)
    if loop is TimeLoop.GEMM_STEPS:
        # cuDNN's scheme: per step the recurrent product as a GEMM (the weights read once per 64 rows, not
        # once per ``rows``), then the gate update; with the recurrent mask the GEMM reads h * mask.
        masked_h = hs
        if use_recurrent_mask:
            masked_h = device_array((B, H), x.dtype)
            _run(k.masked_rows, B * H, threads, hs, recurrent_mask, B, masked_h)
        update = launch.prepared_launch(k.gate_update, *grid_for(B * H, threads),
                                 (0, 0, B, H, gates, hs, cs, bias, peephole, mask, use_mask, recurrent_mask,
                                  use_recurrent_mask, zero_output, cifg, outputs, masked_h))
        recurrent = step_gemm(k, options, masked_h, recurrent_kernel, gates, B, GH, H, accumulate=True)
        for s in range(T):
            recurrent(0 if use_recurrent_mask else s * B, s * B)
            update(s, T - 1 - s if reverse else s)
    else:
        step_args = (0, 0, B, H, gates, hs, cs, recurrent_kernel, bias, peephole, mask, use_mask, recurrent_mask,
                     use_recurrent_mask, zero_output, cifg, outputs)
        step = _step_launch(k.forward_step_split if loop is TimeLoop.SPLIT else k.forward_step, loop, options, B, H,
                            step_args)
        for s in range(T):
            step(s, T - 1 - s if reverse else s)
    if final_states:
        _run(k.copy_rows, B * H, threads, hs, T * B, B, h_n, 0)
        _run(k.copy_rows, B * H, threads, cs, T * B, B, c_n, 0)
    return outputs, h_n, c_n, saved


def _step_launch(kernel, loop, options, B, H, args):
    """A prepared launch of a per-step or split step kernel over ``H`` units and ``B`` rows."""
    row_blocks = -(-B // options.rows)
    if loop is TimeLoop.SPLIT:
        units = options.split_units
        return launch.prepared_launch(kernel, (-(-H // units), row_blocks), units * options.split_slices, args)
    return launch.prepared_launch(kernel, *grid_for(row_blocks * H, options.threads), args)


def _project_inputs(k, options, x, kernel, xs, gates, reverse):
    """``xs`` = x in processing order, then the input projection of every step, ``gates = xs @ kernel``."""
    B, T, F = x.shape
    _run(k.reorder, B * T * F, options.threads, x, xs, reverse, True)
    launch_gemm(k, options, xs, kernel, gates, T * B, kernel.shape[1], F)


def _transposed(k, recurrent_kernel, threads):
    """The recurrent kernel transposed, (G * H, H), so that the per-step recurrent gradients read it along
    adjacent addresses."""
    H, GH = recurrent_kernel.shape
    out = device_array((GH, H), recurrent_kernel.dtype)
    _run(k.transpose, H * GH, threads, recurrent_kernel, out)
    return out


def backward(saved, d_outputs, use_d_outputs, d_h_n, d_c_n, use_peephole, input_gradient, options):
    """BPTT on device arrays for one :func:`forward`; returns the gradients as device arrays.

    Parameters
    ----------
    saved : dict
        The workspace that :func:`forward` returned.
    d_outputs : device array
        The gradient reaching the outputs, (B, T, H); a placeholder without ``use_d_outputs``.
    use_d_outputs : bool
        Whether ``d_outputs`` is in use.
    d_h_n, d_c_n : device arrays
        The gradients reaching the final states, (B, H) each; consumed (they become dh0 and dc0).
    use_peephole : bool
        Whether to compute the peephole gradient.
    input_gradient : bool
        Whether to compute dx.
    options : GpuKernelOptions
        How the kernels are compiled and launched, and which time loop may run.

    Returns
    -------
    tuple
        dx (or None), d_kernel, d_recurrent_kernel, d_bias, d_peephole (or None), dh0, dc0.
    """
    kernel, recurrent_kernel, _, peephole = saved["weights"]
    use_mask, use_recurrent_mask, reverse, zero_output, cifg = saved["flags"]
    mask, recurrent_mask = saved["mask"], saved["recurrent_mask"]
    B, T, F = saved["x_shape"]
    H = recurrent_kernel.shape[0]
    GH = kernel.shape[1]
    gates, cs = saved["gates"], saved["cs"]
    dtype = gates.dtype
    options = rows_for_batch(options, B)
    k = kernels_for(dtype, options)
    threads = options.threads
    dh, dc = d_h_n, d_c_n
    # The persistent loop copies the recurrent kernel into shared memory itself, transposed.
    persistent_args = (T, reverse, B, H, GH, gates, cs, dh, dc, d_outputs, use_d_outputs, mask, use_mask, peephole,
                       zero_output, cifg, recurrent_kernel, recurrent_mask, use_recurrent_mask)
    loop, plan = plans.choose_time_loop(options, B, H, GH, lambda: plans.persistent_plan(
        "backward", k.backward_persistent, persistent_args + (0,), options, B, H, GH, options.persistent_units,
        np.dtype(dtype).itemsize))
    if loop is TimeLoop.PERSISTENT:
        launch.launch(k.backward_persistent, plan.blocks, options.persistent_units * options.persistent_slices,
               persistent_args + (plan.cache_slots,), plan.cache_bytes)
    elif loop is TimeLoop.GEMM_STEPS:
        dh_product = device_array((B, H), dtype)
        cell_args = (B, H, gates, cs, dh, dh_product, dc, d_outputs, use_d_outputs, mask, use_mask, recurrent_mask,
                     use_recurrent_mask, peephole, zero_output, cifg)
        cell = launch.prepared_launch(k.cell_after_gemm, *grid_for(B * H, threads), (0, 0, -1) + cell_args + (True,),
                               varying=3)
        product = step_gemm(k, options, gates, recurrent_kernel, dh_product, B, H, GH, transpose_b=True)
        t_next = -1
        for s in range(T - 1, -1, -1):
            t = T - 1 - s if reverse else s
            cell(s, t, t_next)
            product(s * B, 0)
            t_next = t
        # the last product's dh only (the ``cell`` flag off): dh0
        launch.launch(k.cell_after_gemm, *grid_for(B * H, threads), (0, 0, t_next) + cell_args + (False,))
    else:
        transposed_kernel = _transposed(k, recurrent_kernel, threads)
        cell = launch.prepared_launch(k.backward_cell, *grid_for(B * H, threads),
                               (0, 0, B, H, gates, cs, dh, dc, d_outputs, use_d_outputs, mask, use_mask, peephole,
                                zero_output, cifg))
        if loop is TimeLoop.SPLIT:  # the split kernel reads the transposed kernel flat
            recurrent = _step_launch(k.backward_recurrent_split, loop, options, B, H,
                                     (0, 0, B, H, GH, gates, transposed_kernel.reshape(GH * H), dh, mask, use_mask,
                                      recurrent_mask, use_recurrent_mask))
        else:
            recurrent = _step_launch(k.backward_recurrent, loop, options, B, H,
                                     (0, 0, B, H, GH, gates, transposed_kernel, dh, mask, use_mask, recurrent_mask,
                                      use_recurrent_mask))
        for s in range(T - 1, -1, -1):
            t = T - 1 - s if reverse else s
            cell(s, t)
            recurrent(s, t)
    d_peephole = None
    if use_peephole:
        d_peephole = device_array(peephole.shape[0], dtype)
        _run(k.peephole_gradients, H, threads, gates, cs, T, B, H, cifg, d_peephole)
    d_kernel, d_recurrent_kernel, d_bias = _weight_gradients(k, options, saved, kernel, recurrent_mask,
                                                             use_recurrent_mask, B, T, F)
    dx = None
    if input_gradient:
        dx_rows = device_array((T * B, F), dtype)
        launch_gemm(k, options, gates, kernel, dx_rows, T * B, F, GH, transpose_b=True)
        dx = device_array((B, T, F), dtype)
        _run(k.reorder, B * T * F, threads, dx, dx_rows, reverse, False)
    return dx, d_kernel, d_recurrent_kernel, d_bias, d_peephole, dh, dc


def _weight_gradients(k, options, saved, kernel, recurrent_mask, use_recurrent_mask, B, T, F):
    """d_kernel, d_recurrent_kernel and d_bias: GEMMs and column sums of the gate gradients over every step."""
    gates, hs, xs = saved["gates"], saved["hs"], saved["xs"]
    H, GH = hs.shape[1], kernel.shape[1]
    dtype = gates.dtype
    d_kernel = device_array((F, GH), dtype)
    d_recurrent_kernel = device_array((H, GH), dtype)
    d_bias = device_array(GH, dtype)
    launch_gemm(k, options, xs, gates, d_kernel, F, GH, T * B, transpose_a=True)
    inputs_to_recurrent = hs
    if use_recurrent_mask:  # the recurrent kernel saw h * mask
        inputs_to_recurrent = device_array((T * B, H), dtype)
        _run(k.masked_rows, T * B * H, options.threads, hs, recurrent_mask, B, inputs_to_recurrent)
    launch_gemm(k, options, inputs_to_recurrent, gates, d_recurrent_kernel, H, GH, T * B, transpose_a=True)
    _run(k.column_sums, GH, options.threads, gates, T * B, d_bias)
    return d_kernel, d_recurrent_kernel, d_bias
