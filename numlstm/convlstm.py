"""Functional ConvLSTM: one layer, one direction, a whole sequence of frames per call.

The checked entry to the ConvLSTM kernels (``numlstm.kernels.cpu.convlstm``
and their CUDA twins in ``kernels/cuda/convlstm.py``), as
:mod:`numlstm.functional` is to the LSTM's: it turns what the user passed
into the arrays the kernels expect, or raises a ``TypeError``/``ValueError``
naming the argument and what was expected. It runs on the GPU when ``x`` is
a CUDA device array (results are device arrays too) or under
``numlstm.dispatch.device("cuda")``, else on the CPU.

Frames are channels-last grids of any rank (1 for ConvLSTM1D, 2 for
ConvLSTM2D): ``x`` is (batch, timesteps, spatial..., channels). Weights use
the Keras layout: ``kernel`` ``kernel_size + (channels, G * filters)``,
``recurrent_kernel`` ``recurrent_kernel_size + (filters, G * filters)``,
``bias`` (G * filters,), gates ``i, f, c, o`` (G = 4) or, with ``cifg``,
``f, c, o`` (G = 3). The input convolution has the given strides, dilation
and padding; the recurrent one is Keras': stride 1, no dilation, ``"same"``
padding, so the state keeps the input convolution's output grid. Peepholes
are Hadamard products over the whole cell state (Shi et al., 2015):
``peephole`` is ``state_spatial + ((G - 1) * filters,)``, ``p_i, p_f, p_o``
side by side (``p_f, p_o`` with CIFG).
"""

import functools
import math
from typing import NamedTuple

import numpy as np

from . import backend as _backend
from . import dispatch as _dispatch
from . import threads as _threads
from .functional import _c_contiguous, _check_finite, _check_shape, _float_array, _prepare, _Workspace
from .host_buffers import empty as _empty
from .kernels import conv_geometry
from .kernels.cpu import convlstm as _cpu


class ConvLSTMGradients(NamedTuple):
    """Gradients returned by :func:`convlstm_backward`, each shaped like its forward argument.

    Attributes
    ----------
    dx : array (batch, timesteps, spatial..., channels), or None without ``input_gradient``
    d_kernel : array, like ``kernel``
    d_recurrent_kernel : array, like ``recurrent_kernel``
    d_bias : array (G * filters,)
    d_peephole : array, or None without peepholes
    dh0, dc0 : arrays (batch, state_spatial..., filters)
        Gradients with respect to the initial states.
    """

    dx: np.ndarray
    d_kernel: np.ndarray
    d_recurrent_kernel: np.ndarray
    d_bias: np.ndarray
    d_peephole: np.ndarray | None
    dh0: np.ndarray
    dc0: np.ndarray


class ConvLSTMWorkspace(_Workspace):
    """What :func:`convlstm_backward` needs from one :func:`convlstm_forward` call.

    Consumed by the backward pass, which overwrites the saved gate
    activations with their gradients; a second backward pass over the same
    workspace raises ``ValueError``. ``consumed`` says whether it has been;
    ``nbytes`` is what it holds for the backward pass.

    Parameters
    ----------
    saved, options : dict
        The arrays and settings :func:`convlstm_forward` keeps; only it makes workspaces.
    """

    __slots__ = ()
    _held = ("gates", "hs", "cs")  # the input is the caller's, as the weights


def _spatial_tuple(value, rank, name, owner=None):
    """An int or a tuple of ``rank`` positive ints, as a tuple (Keras' standardize_tuple); ``owner`` (a layer's
    name) prefixes the error."""
    values = (value,) * rank if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    if not isinstance(values, (tuple, list)) or len(values) != rank or any(
            isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in values):
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}{name} must be a positive int or a tuple of {rank} positive ints, got {value!r}")
    return tuple(int(v) for v in values)


@functools.lru_cache(maxsize=64)
def _tables(spatial, kernel_size, strides, dilation_rate, padding, recurrent_kernel_size):
    """The gather tables of the input and recurrent convolutions, and their inverses."""
    state_spatial, table = conv_geometry.gather_table(spatial, kernel_size, strides, dilation_rate, padding)
    rank = len(spatial)
    _, recurrent_table = conv_geometry.gather_table(state_spatial, recurrent_kernel_size, (1,) * rank,
                                                    (1,) * rank, "same")
    positions = math.prod(state_spatial)
    return (state_spatial, table, conv_geometry.inverse_table(table, math.prod(spatial)), recurrent_table,
            conv_geometry.inverse_table(recurrent_table, positions))


def _row_split(rows):
    return _threads.compute_threads(at_most=rows)


def _device_of_input(x=None, *args, **kwargs):
    return "cuda" if _backend.is_device_array(x) else _dispatch.current_device()


def _device_of_workspace(workspace=None, *args, **kwargs):
    return workspace._options["device"] if isinstance(workspace, ConvLSTMWorkspace) else "cpu"


def _forward_on_gpu(given, mask, tables, options, final_states):
    """``convlstm_forward`` on the CUDA device (``kernels/cuda/convlstm.py``): host arrays are uploaded, the
    workspace stays there until the backward pass; results are device arrays only when ``x`` was one."""
    from .backend import cuda as ops
    from .kernels.cuda import convlstm as cuda_convlstm
    from .kernels.options import gpu_options

    dtype, state_shape = options["dtype"], options["state_shape"]
    B, T, P_in, C = options["x_shape"]
    rows, F, G1F = math.prod(state_shape[:-1]), state_shape[-1], options["peephole_shape"][-1]
    GF = G1F + F
    arrays = {name: None if array is None else ops.local(array) for name, array in given.items()}
    states = [ops.read_only_zeros((rows, F), dtype) if arrays[name] is None else arrays[name].reshape(rows, F)
              for name in ("h0", "c0")]
    weights = cuda_convlstm.Weights(
        arrays["kernel"].reshape(-1, GF), arrays["recurrent_kernel"].reshape(-1, GF),
        ops.read_only_zeros(GF, dtype) if arrays["bias"] is None else arrays["bias"],
        arrays["peephole"].reshape(rows // B, G1F) if options["use_peephole"] else ops.read_only_zeros((1, G1F), dtype))
    flags = cuda_convlstm.Flags(options["use_mask"], options["use_recurrent_mask"], options["use_peephole"],
                                options["reverse"], options["zero_output"], options["cifg"])
    outputs, h_n, c_n, saved = cuda_convlstm.forward(
        arrays["x"].reshape(B, T, P_in, C), weights, *states,
        ops.local(mask) if options["use_mask"] else ops.read_only_zeros((0, 0), np.bool_),
        arrays["recurrent_mask"].reshape(rows, F) if options["use_recurrent_mask"] else ops.read_only_zeros(
            (0, 0), dtype),
        cuda_convlstm.Tables(*(ops.local(table) for table in tables)), flags, gpu_options().kernels, final_states)
    results = [outputs.reshape((B, T) + state_shape[1:])] + [
        None if state is None else state.reshape(state_shape) for state in (h_n, c_n)]
    if not options["resident"]:
        results = [None if array is None else ops.to_host(array) for array in results]
    return (*results, ConvLSTMWorkspace(saved, options))


def _backward_on_gpu(workspace, given, input_gradient):
    """``convlstm_backward`` on the CUDA device, for a workspace of :func:`_forward_on_gpu`."""
    from .backend import cuda as ops
    from .kernels.cuda import convlstm as cuda_convlstm
    from .kernels.options import gpu_options

    saved, options = workspace._saved, workspace._options
    dtype, state_shape = options["dtype"], options["state_shape"]
    rows, F = math.prod(state_shape[:-1]), state_shape[-1]
    # The pass turns d_h_n and d_c_n into dh0 and dc0: never the caller's arrays.
    dh, dc = (ops.zeros((rows, F), dtype) if given[name] is None else
              (ops.copy(given[name]) if _backend.is_device_array(given[name]) else ops.local(given[name])).reshape(
                  rows, F) for name in ("d_h_n", "d_c_n"))
    use_d_outputs = given["d_outputs"] is not None
    B, T = options["x_shape"][:2]
    d_outputs = (ops.local(given["d_outputs"]).reshape(B, T, rows // B, F) if use_d_outputs else
                 ops.read_only_zeros((0, 0, 0, 0), dtype))
    workspace.consumed = True
    workspace._saved = None
    gradients = cuda_convlstm.backward(saved, d_outputs, use_d_outputs, dh, dc, input_gradient, gpu_options().kernels)
    shapes = (options["input_shape"], options["kernel_shape"], options["recurrent_kernel_shape"], None,
              options["peephole_shape"], state_shape, state_shape)
    gradients = [None if g is None else g if shape is None else g.reshape(shape) for g, shape in zip(gradients, shapes)]
    if not options["resident"]:
        gradients = [None if g is None else ops.to_host(g) for g in gradients]
    return ConvLSTMGradients(*gradients)


@_backend.in_context_of(_device_of_input)
def convlstm_forward(x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, mask=None, *, strides=1,
                     padding="valid", dilation_rate=1, peephole=None, cifg=False, reverse=False,
                     zero_output_for_mask=False, recurrent_mask=None, check_finite=True, final_states=True):
    """Run one ConvLSTM layer in one direction over a batch of frame sequences.

    Per step, with ``*`` a convolution and ``∘`` the Hadamard product::

        i_t = sigmoid(W_i * x_t + U_i * h_{t-1} + b_i [+ p_i ∘ c_{t-1}])
        f_t = sigmoid(W_f * x_t + U_f * h_{t-1} + b_f [+ p_f ∘ c_{t-1}])
        g_t = tanh(W_c * x_t + U_c * h_{t-1} + b_c)
        c_t = f_t ∘ c_{t-1} + i_t ∘ g_t
        o_t = sigmoid(W_o * x_t + U_o * h_{t-1} + b_o [+ p_o ∘ c_t])
        h_t = o_t ∘ tanh(c_t)

    Parameters
    ----------
    x : array (batch, timesteps, spatial..., channels), float32 or float64
        Channels last (the layers move channels-first data); every other
        array of the call must have the same dtype.
    kernel : array ``kernel_size + (channels, G * filters)``
    recurrent_kernel : array ``recurrent_kernel_size + (filters, G * filters)``
        G is 4, or 3 with ``cifg=True``.
    bias : array (G * filters,), optional
        Zeros when omitted.
    h0, c0 : arrays (batch, state_spatial..., filters), optional
        Initial states; zeros when omitted. ``state_spatial`` is the input
        convolution's output grid.
    mask : bool array (batch, timesteps), optional
        A masked step leaves h and c unchanged and outputs the carried h
        (zeros with ``zero_output_for_mask``), as Keras 3.
    strides, dilation_rate : int or tuple of ints, default 1
        Of the input convolution; not both above 1 (as Keras).
    padding : {"valid", "same"}, default "valid"
        Of the input convolution.
    peephole : array ``state_spatial + ((G - 1) * filters,)``, optional
        Hadamard peephole weights; no peepholes when omitted.
    cifg : bool
        Coupled input-forget gate: i = 1 - f, no input-gate weights.
    reverse : bool
        Process timestep T-1 first; ``outputs[:, t]`` is still the output
        of the step that read ``x[:, t]``.
    zero_output_for_mask : bool
    recurrent_mask : array (batch, state_spatial..., filters), optional
        Multiplies h before the recurrent convolution at every step
        (recurrent dropout, already scaled); gradients account for it.
    check_finite : bool
        Raise ``ValueError`` on NaN or infinity in any argument.
    final_states : bool
        False: ``h_n`` and ``c_n`` are None.

    Returns
    -------
    outputs : array (batch, timesteps, state_spatial..., filters)
    h_n, c_n : arrays (batch, state_spatial..., filters), or None
    workspace : ConvLSTMWorkspace
        Input to :func:`convlstm_backward`.

    Examples
    --------
    >>> import numpy as np
    >>> import numlstm
    >>> x = np.ones((2, 5, 8, 8, 3), np.float32)
    >>> kernel = np.full((3, 3, 3, 16), 0.01, np.float32)
    >>> recurrent = np.full((3, 3, 4, 16), 0.01, np.float32)
    >>> outputs, h, c, workspace = numlstm.convlstm_forward(x, kernel, recurrent, padding="same")
    >>> outputs.shape, h.shape
    ((2, 5, 8, 8, 4), (2, 8, 8, 4))
    """
    x = _float_array(x, "x")
    if x.ndim < 4:
        raise ValueError(f"x must have shape (batch, timesteps, spatial..., channels) with at least one spatial axis, "
                         f"got {x.ndim}-D shape {x.shape}")
    if min(x.shape) < 1:
        raise ValueError(f"x must have at least one batch item, timestep, position and channel, got shape {x.shape}")
    dtype = x.dtype
    rank = x.ndim - 3
    shape = tuple(x.shape)  # a plain tuple: the CUDA simulator's device-array shapes take no negative index
    B, T, spatial, C = shape[0], shape[1], shape[2:-1], shape[-1]
    G = 3 if cifg else 4
    gate_names = "f, c, o" if cifg else "i, f, c, o"
    kernel = _float_array(kernel, "kernel", dtype)
    recurrent_kernel = _float_array(recurrent_kernel, "recurrent_kernel", dtype)
    if kernel.ndim >= 3 and kernel.ndim == recurrent_kernel.ndim != rank + 2:  # both kernels say x is wrong
        raise ValueError(f"x must have shape (batch, timesteps, spatial..., channels) with {kernel.ndim - 2} "
                         f"spatial axes, as the kernels {tuple(kernel.shape)} and {tuple(recurrent_kernel.shape)} "
                         f"have, got {x.ndim}-D shape {shape}")
    recurrent_shape = tuple(recurrent_kernel.shape)
    if recurrent_kernel.ndim != rank + 2 or recurrent_shape[-1] != G * recurrent_shape[-2] or min(recurrent_shape) < 1:
        raise ValueError(f"recurrent_kernel must have shape kernel_size + (filters, {G} * filters) for gates "
                         f"{gate_names}, with {rank} kernel_size axes, got {recurrent_shape}")
    F = recurrent_shape[-2]
    GF = G * F
    kernel_shape = tuple(kernel.shape)
    if kernel.ndim != rank + 2 or kernel_shape[-2:] != (C, GF) or min(kernel_shape) < 1:
        raise ValueError(f"kernel must have shape kernel_size + (channels, {G} * filters) = kernel_size + "
                         f"({C}, {GF}) with {rank} kernel_size axes, got {kernel_shape}")
    kernel_size, recurrent_kernel_size = kernel_shape[:rank], recurrent_shape[:rank]
    strides = _spatial_tuple(strides, rank, "strides")
    dilation_rate = _spatial_tuple(dilation_rate, rank, "dilation_rate")
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError(f"strides > 1 is not supported with dilation_rate > 1 (as Keras), got strides={strides}, "
                         f"dilation_rate={dilation_rate}")
    padding = padding.lower() if isinstance(padding, str) else padding
    if padding not in conv_geometry.PADDINGS:
        raise ValueError(f"padding must be one of {conv_geometry.PADDINGS}, got {padding!r}")
    state_spatial, table, inverse, recurrent_table, recurrent_inverse = _tables(
        spatial, kernel_size, strides, dilation_rate, padding, recurrent_kernel_size)
    P = math.prod(state_spatial)
    state_shape = (B,) + state_spatial + (F,)
    state_meaning = "(batch, state_spatial..., filters)"
    given = {
        "x": _c_contiguous(x, "x"),
        "kernel": _c_contiguous(kernel, "kernel"),
        "recurrent_kernel": _c_contiguous(recurrent_kernel, "recurrent_kernel"),
        "bias": _prepare(bias, "bias", dtype, (GF,), f"({G} * filters,)"),
        "peephole": _prepare(peephole, "peephole", dtype, state_spatial + ((G - 1) * F,),
                             f"state_spatial + ({G - 1} * filters,)"),
        "h0": _prepare(h0, "h0", dtype, state_shape, state_meaning),
        "c0": _prepare(c0, "c0", dtype, state_shape, state_meaning),
        "recurrent_mask": _prepare(recurrent_mask, "recurrent_mask", dtype, state_shape, state_meaning),
    }
    use_mask = mask is not None
    if use_mask:
        mask = _c_contiguous(np.asarray(mask) if not _backend.is_device_array(mask) else mask, "mask")
        if mask.dtype != np.bool_:
            raise TypeError(f"mask must be a bool array, got dtype {mask.dtype}")
        _check_shape(mask, "mask", (B, T), "(batch, timesteps)")
    else:
        mask = np.zeros((0, 0), np.bool_)
    if check_finite:
        _check_finite(given)
    device = "cuda" if _backend.is_device_array(x) else _dispatch.current_device()
    if device == "cuda":
        return _forward_on_gpu(given, mask, (table, inverse, recurrent_table, recurrent_inverse), {
            "use_mask": use_mask, "use_recurrent_mask": recurrent_mask is not None, "reverse": bool(reverse),
            "zero_output": bool(zero_output_for_mask), "cifg": bool(cifg), "use_peephole": peephole is not None,
            "check_finite": check_finite, "x_shape": (B, T, math.prod(spatial), C), "input_shape": x.shape,
            "state_shape": state_shape, "dtype": dtype, "device": device, "kernel_shape": kernel.shape,
            "recurrent_kernel_shape": recurrent_kernel.shape, "peephole_shape": state_spatial + ((G - 1) * F,),
            "resident": _backend.is_device_array(x)}, final_states)
    given = {name: None if array is None else _backend.to_host(array) for name, array in given.items()}
    rows = B * P
    use_peephole = peephole is not None
    bias = np.zeros(GF, dtype) if given["bias"] is None else given["bias"]
    peephole = (given["peephole"].reshape(P, (G - 1) * F) if use_peephole else np.zeros((1, (G - 1) * F), dtype))
    h0 = np.zeros((rows, F), dtype) if given["h0"] is None else given["h0"].reshape(rows, F)
    c0 = np.zeros((rows, F), dtype) if given["c0"] is None else given["c0"].reshape(rows, F)
    use_recurrent_mask = recurrent_mask is not None
    recurrent_mask = given["recurrent_mask"].reshape(rows, F) if use_recurrent_mask else np.zeros((0, 0), dtype)
    x = given["x"].reshape(B, T, math.prod(spatial), C)
    kernel_rows = given["kernel"].reshape(-1, GF)
    recurrent_rows = given["recurrent_kernel"].reshape(-1, GF)

    options = {"use_mask": use_mask, "use_recurrent_mask": use_recurrent_mask, "reverse": bool(reverse),
               "zero_output": bool(zero_output_for_mask), "cifg": bool(cifg), "use_peephole": use_peephole,
               "check_finite": check_finite, "x_shape": x.shape, "input_shape": given["x"].shape,
               "state_shape": state_shape, "dtype": dtype, "device": device,
               "kernel_shape": kernel.shape, "recurrent_kernel_shape": recurrent_kernel.shape,
               "peephole_shape": state_spatial + ((G - 1) * F,)}
    gates = _empty((T, rows, GF), dtype)
    hs = _empty((T + 1, rows, F), dtype)
    cs = _empty((T + 1, rows, F), dtype)
    outputs = _empty((B, T, P, F), dtype)
    frame_chunks = _row_split(T * B)
    with _threads.numba_threads(frame_chunks):
        _cpu.input_convolution(x, kernel_rows, table, options["reverse"], frame_chunks,
                               _empty((frame_chunks, max(_cpu.BLOCK_ROWS, P), kernel_rows.shape[0]), dtype),
                               gates.reshape(T * rows, GF))
    row_chunks = _row_split(rows)
    with _threads.numba_threads(row_chunks):
        _cpu.FORWARD_LOOP[options["cifg"]](
            gates, recurrent_rows, bias, peephole, use_peephole, h0, c0, recurrent_table, mask, use_mask,
            recurrent_mask, use_recurrent_mask, options["reverse"], options["zero_output"], row_chunks,
            _empty((rows, recurrent_rows.shape[0]), dtype), _empty((rows, GF), dtype), hs, cs, outputs)
    saved = {"x": x, "gates": gates, "hs": hs, "cs": cs, "kernel": kernel_rows, "recurrent_kernel": recurrent_rows,
             "peephole": peephole, "mask": mask, "recurrent_mask": recurrent_mask, "table": table, "inverse": inverse,
             "recurrent_table": recurrent_table, "recurrent_inverse": recurrent_inverse}
    h_n, c_n = (hs[T].reshape(state_shape).copy(), cs[T].reshape(state_shape).copy()) if final_states else (None, None)
    return outputs.reshape((B, T) + state_shape[1:]), h_n, c_n, ConvLSTMWorkspace(saved, options)


@_backend.in_context_of(_device_of_workspace)
def convlstm_backward(workspace, d_outputs=None, d_h_n=None, d_c_n=None, *, input_gradient=True):
    """Backpropagation through time for one :func:`convlstm_forward` call.

    Parameters
    ----------
    workspace : ConvLSTMWorkspace
        From the forward pass; consumed.
    d_outputs : array (batch, timesteps, state_spatial..., filters), optional
        Gradient of the loss with respect to ``outputs``; zeros if omitted.
    d_h_n, d_c_n : arrays (batch, state_spatial..., filters), optional
        Gradients flowing in from the final states; zeros if omitted.
    input_gradient : bool, default True
        Whether to compute ``dx``.

    Returns
    -------
    ConvLSTMGradients
        Each gradient shaped like its forward argument; ``dx`` None without
        ``input_gradient``, ``d_peephole`` None without peepholes.
    """
    if not isinstance(workspace, ConvLSTMWorkspace):
        raise TypeError("workspace must be the ConvLSTMWorkspace returned by convlstm_forward, got "
                        f"{type(workspace).__name__}")
    if workspace.consumed:
        raise ValueError("workspace was already used by convlstm_backward; run convlstm_forward again")
    saved, options = workspace._saved, workspace._options
    dtype, state_shape = options["dtype"], options["state_shape"]
    B, T, P_in, C = options["x_shape"]
    rows, F = math.prod(state_shape[:-1]), state_shape[-1]
    P = rows // B
    meaning = "(batch, state_spatial..., filters)"
    given = {
        "d_outputs": _prepare(d_outputs, "d_outputs", dtype, (B, T) + state_shape[1:],
                              "(batch, timesteps, state_spatial..., filters)", backward=True),
        "d_h_n": _prepare(d_h_n, "d_h_n", dtype, state_shape, meaning, backward=True),
        "d_c_n": _prepare(d_c_n, "d_c_n", dtype, state_shape, meaning, backward=True),
    }
    if options["check_finite"]:
        _check_finite(given)
    if options["device"] == "cuda":
        return _backward_on_gpu(workspace, given, bool(input_gradient))
    given = {name: None if array is None else _backend.to_host(array) for name, array in given.items()}
    use_d_outputs = d_outputs is not None
    d_outputs = given["d_outputs"].reshape(B, T, P, F) if use_d_outputs else np.zeros((0, 0, 0, 0), dtype)
    # The backward loop turns these into dh0 and dc0 in place: never the caller's arrays.
    dh0 = np.zeros((rows, F), dtype) if given["d_h_n"] is None else given["d_h_n"].reshape(rows, F).copy()
    dc0 = np.zeros((rows, F), dtype) if given["d_c_n"] is None else given["d_c_n"].reshape(rows, F).copy()
    workspace.consumed = True
    input_gradient = bool(input_gradient)
    gates, recurrent_rows, kernel_rows = saved["gates"], saved["recurrent_kernel"], saved["kernel"]
    peephole, use_peephole = saved["peephole"], options["use_peephole"]
    GF = gates.shape[2]
    row_chunks = _row_split(rows)
    d_peephole = np.zeros_like(peephole)
    with _threads.numba_threads(row_chunks):
        _cpu.BACKWARD_LOOP[options["cifg"]](
            gates, saved["cs"], recurrent_rows, peephole, use_peephole, saved["recurrent_inverse"], saved["mask"],
            options["use_mask"], saved["recurrent_mask"], options["use_recurrent_mask"], options["reverse"],
            options["zero_output"], d_outputs, use_d_outputs, row_chunks,
            _empty((rows, recurrent_rows.shape[0]), dtype), _empty((rows, F), dtype),
            np.zeros((row_chunks,) + (peephole.shape if use_peephole else (1, 1)), dtype), dh0, dc0, d_peephole)
    frame_chunks = _row_split(T * B)
    block_rows = max(_cpu.BLOCK_ROWS, P)
    dx = _empty((B, T, P_in, C) if input_gradient else (0, 0, 0, C), dtype)
    d_kernel = _empty(kernel_rows.shape, dtype)
    d_recurrent_kernel = _empty(recurrent_rows.shape, dtype)
    d_bias = _empty(GF, dtype)
    with _threads.numba_threads(frame_chunks):
        _cpu.weight_gradients(
            saved["x"], gates.reshape(T * rows, GF), saved["hs"], kernel_rows, saved["table"], saved["inverse"],
            saved["recurrent_table"], saved["recurrent_mask"], options["use_recurrent_mask"], options["reverse"],
            frame_chunks, input_gradient, _empty((frame_chunks, block_rows, kernel_rows.shape[0]), dtype),
            _empty((frame_chunks, block_rows, recurrent_rows.shape[0]), dtype),
            _empty((frame_chunks, block_rows if input_gradient else 0, kernel_rows.shape[0]), dtype),
            _empty((frame_chunks,) + kernel_rows.shape, dtype), _empty((frame_chunks,) + recurrent_rows.shape, dtype),
            _empty((frame_chunks,) + kernel_rows.shape, dtype), _empty((frame_chunks,) + recurrent_rows.shape, dtype),
            _empty((frame_chunks, GF), dtype), dx, d_kernel, d_recurrent_kernel, d_bias)
    workspace._saved = None
    return ConvLSTMGradients(dx.reshape(options["input_shape"]) if input_gradient else None,
                             d_kernel.reshape(options["kernel_shape"]),
                             d_recurrent_kernel.reshape(options["recurrent_kernel_shape"]), d_bias,
                             d_peephole.reshape(options["peephole_shape"]) if options["use_peephole"] else None,
                             dh0.reshape(state_shape), dc0.reshape(state_shape))
