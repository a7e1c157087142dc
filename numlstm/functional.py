"""Functional LSTM: one layer, one direction, a whole sequence per call.

This is the checked entry to the kernels in ``numlstm.kernels``: it turns
whatever the user passed into the arrays the kernels expect, or raises a
``TypeError``/``ValueError`` that names the argument and what was expected,
then runs the CPU kernels (``lstm.py``) or their CUDA twins
(``kernels/cuda/lstm.py``), whose workspace stays on the GPU until the backward pass.

Where it runs: on the GPU when ``x`` is a CUDA device array (the results
are device arrays too, and host arrays among the other arguments are
uploaded), else where ``numlstm.dispatch`` says (numpy in, numpy out).
Device arrays must be C-contiguous (a ``ValueError`` names one that is not).

Weights use the Keras layout: ``kernel`` (F, G*H), ``recurrent_kernel``
(H, G*H), ``bias`` (G*H,), gate order ``i, f, c, o`` (G = 4); with
``cifg=True`` the input gate is coupled to the forget gate (i = 1 - f) and
the gates are ``f, c, o`` (G = 3). ``peephole`` holds the diagonal peephole
weights, ``p_i, p_f, p_o`` (3H,) or, with CIFG, ``p_f, p_o`` (2H,).

NaN and infinity: by default (``check_finite=True``) any non-finite value in
an input, weight, state or gradient raises ``ValueError`` naming the argument
and the first bad index, because the LSTM would otherwise spread it silently
over every later timestep. With ``check_finite=False`` the scan is skipped
and non-finite values propagate through the affected batch rows; the
activations never turn finite input into NaN (they saturate).
"""

import functools
import os
from typing import NamedTuple

import numpy as np

from . import backend as _backend
from . import dispatch as _dispatch
from . import host_buffers as _host_buffers
from . import threads as _threads
from .kernels.cpu import lstm as _cpu
from .kernels.checks import count_non_finite, first_non_finite
from .kernels.cpu.native_calls import call_with_entries
from .kernels.cpu.packed_gemm import pack_panels, panels_shape

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class LSTMGradients(NamedTuple):
    """Gradients returned by :func:`lstm_backward`, each shaped like its forward argument.

    Attributes
    ----------
    dx : array (batch, timesteps, features), or None without ``input_gradient``
    d_kernel : array (features, G * units)
    d_recurrent_kernel : array (units, G * units)
    d_bias : array (G * units,)
    d_peephole : array, or None without peepholes
    dh0, dc0 : arrays (batch, units)
        Gradients with respect to the initial states.
    """

    dx: np.ndarray
    d_kernel: np.ndarray
    d_recurrent_kernel: np.ndarray
    d_bias: np.ndarray
    d_peephole: np.ndarray | None
    dh0: np.ndarray
    dc0: np.ndarray


class _Workspace:
    """What a backward pass needs from its forward pass; base of :class:`LSTMWorkspace` and
    :class:`numlstm.ConvLSTMWorkspace`.

    Like cuDNN's reserve space it is consumed by the backward pass, which
    overwrites the saved gate activations with their gradients; a second
    backward pass over the same workspace raises ``ValueError``.

    Parameters
    ----------
    saved, options : dict
        The arrays and settings the forward pass keeps; only it makes workspaces.

    Attributes
    ----------
    consumed : bool
        True once the backward pass has used it.
    """

    __slots__ = ("_saved", "_options", "consumed")
    _held = ()  # the names of the saved arrays it holds for the backward pass (the weights are the caller's)

    def __init__(self, saved, options):
        self._saved = saved
        self._options = options
        self.consumed = False

    @property
    def nbytes(self):
        """Bytes held for the backward pass (the weights it references are the caller's)."""
        return sum(self._saved[name].nbytes for name in self._held if name in self._saved)


class LSTMWorkspace(_Workspace):
    """What :func:`lstm_backward` needs from one :func:`lstm_forward` call.

    Consumed by the backward pass, which overwrites the saved gate
    activations with their gradients; a second backward pass over the same
    workspace raises ``ValueError``. ``consumed`` says whether it has been;
    ``nbytes`` is what it holds for the backward pass.

    Parameters
    ----------
    saved, options : dict
        The arrays and settings :func:`lstm_forward` keeps; only it makes workspaces.
    """

    __slots__ = ()
    _held = ("xs", "xh", "gates", "hs", "cs")  # the CPU's xh, gates, cs; the GPU's xs, gates, hs, cs

    def __del__(self):
        # A workspace dropped without a backward pass (inference) gives its forward buffer back to the pool
        # (numlstm/host_buffers.py); the backward pass gives it back itself and clears ``_saved``.
        saved = getattr(self, "_saved", None)
        if saved is not None and "carved" in saved and _host_buffers is not None:
            _host_buffers.POOL.give(saved["carved"])


def _float_array(value, name, dtype=None, backward=False):
    """``value`` as a float array; with ``dtype``, of that dtype: x's, or the forward pass's when ``backward``."""
    if _backend.is_device_array(value):
        array = value
    else:
        array = _host_array(value, name)
    if array.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype {array.dtype}")
    if dtype is not None and array.dtype != dtype:
        if backward:
            raise TypeError(f"{name} has dtype {array.dtype} but the forward pass ran in {dtype}; "
                            f"pass {name}.astype(np.{dtype})")
        raise TypeError(
            f"{name} has dtype {array.dtype} but x has dtype {dtype}; every array of a pass shares x's dtype: "
            f"pass {name}.astype(np.{dtype}), or run the pass on x.astype(np.{array.dtype})"
        )
    return array


def _host_array(value, name):
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    return array


def _check_shape(array, name, expected, meaning):
    if array.shape != expected:
        raise ValueError(f"{name} must have shape {meaning} = {expected}, got {array.shape}")


def _check_finite(named_arrays):
    """Raise ValueError naming the first argument with a NaN or infinity, and where."""
    for name, array in named_arrays.items():
        if array is None:
            continue
        # Device arrays are checked on a host copy: direct calls only; layers pass check_finite=False.
        flat = _backend.to_host(array).reshape(-1)
        if count_non_finite(flat):
            index = tuple(int(i) for i in np.unravel_index(first_non_finite(flat), array.shape))
            raise ValueError(
                f"{name} contains NaN or infinity (first at index {index}); "
                "clean the data or pass check_finite=False to let it propagate"
            )


# The shapes that lstm_forward's errors name for kernel, bias and peephole, by gate count.
_WEIGHT_SHAPE_MEANINGS = {gates: (f"(features, {gates} * units)", f"({gates} * units,)", f"({gates - 1} * units,)")
                          for gates in (3, 4)}


def _prepare(value, name, dtype, expected, meaning, backward=False):
    """The caller's array as a C-contiguous array of ``dtype`` and shape ``expected``, or None (``backward``: an
    argument of a backward pass, whose dtype is the forward pass's)."""
    if value is None:
        return None
    if type(value) is np.ndarray and value.dtype == dtype and value.shape == expected and value.flags.c_contiguous:
        return value  # the common case, in a fifth of the time of the checks below (a tiny pass has six)
    array = _float_array(value, name, dtype, backward)
    _check_shape(array, name, expected, meaning)
    return _c_contiguous(array, name)


def _c_contiguous(array, name):
    """``array`` C-contiguous: a host array copied where it is not; a device array as it is, refused unless
    it is (the GPU kernels are compiled for C-contiguous arrays and read some of them flat, and a device
    array cannot be made contiguous without a copy the caller should see)."""
    if not _backend.is_device_array(array):
        return np.ascontiguousarray(array)
    if not array.is_c_contiguous():
        raise ValueError(f"{name} must be a C-contiguous device array, got shape {array.shape} with strides "
                         f"{array.strides}; pass a contiguous one, e.g. numba.cuda.to_device(np.ascontiguousarray("
                         f"host_array))")
    return array


# A single sequence's GEMMs (input projection, weight gradients) are split over Numba's threads from this
# many multiply-adds on: below it a parallel region's start and join cost more than the split saves.
_PARALLEL_GEMM_MIN_MULTIPLY_ADDS = 2**20


class _Split(NamedTuple):
    """How a CPU pass splits its work: ``threads`` of Numba's, ``loop`` blocks of batch rows for the time
    loop (1: one thread), ``gemm`` blocks of the T * B rows of the input projection and weight gradients."""

    threads: int
    loop: int
    gemm: int


def _split(B, T, F, H, GH):
    """Batch rows never interact, so each block of rows runs its whole time loop on one thread, with no
    synchronisation between steps; BLAS stays on one thread (``in_context_of``, numlstm.threads). Measured on 2 cores,
    from (B=16, H=64) to (B=64, H=512): the parallel train step was 1.1x to 1.5x faster than one thread
    with threaded BLAS."""
    if B > 1:
        threads = _threads.compute_threads(at_most=B)
        return _Split(threads, threads, threads)
    if T * (F + H) * GH >= _PARALLEL_GEMM_MIN_MULTIPLY_ADDS:
        threads = _threads.compute_threads(at_most=T)
        return _Split(threads, 1, threads)
    return _Split(1, 1, 1)


#: The largest kernel (F x G*H, bytes) that a fused input projection rereads at every step whatever the
#: features-to-units ratio: one core's L1 data cache on the machines measured (``fuses_input_projection``).
_FUSED_KERNEL_MAX_BYTES = 32 * 1024


def fuses_input_projection(features, units, kernel_bytes):
    """Whether the CPU forward loop projects the input inside the time loop (``kernels/cpu/lstm.py``): each
    step multiplies [x_t, h_t] by the packed [kernel; recurrent_kernel], instead of one BLAS GEMM projecting
    every timestep before the loop.

    The fused product saves the GEMM's call and its pass over the gates; it rereads the kernel's panels at
    every step, and does the kernel's share of the work at the per-step product's rate, lower for few rows.
    Measured on one core of a Zen 3, products only (``asv_bench/README.md``, eighth step): with at most a
    quarter as many features as units, fused was 1.12-1.51x as fast from 2 to 32 rows and 0.86-1.29x for
    one; with more features and a kernel of at most 32 KiB, 0.98-1.35x from 2 to 32 rows and 0.72-1.18x
    for one; with larger kernels (64 KiB to 4 MiB), 0.63-1.10x.

    The choice depends on the layer's shape alone, not on the batch (the two forms add the products in
    different orders): in the fused form a row's numbers do not depend on the batch it comes in, bit for bit.
    """
    return 4 * features <= units or kernel_bytes <= _FUSED_KERNEL_MAX_BYTES


#: The bytes of gates an inference pass projects at a time, where it projects the input before the time loop:
#: a block of steps, not every step at once (the projection of 10000 sequences of 100 steps for 64 units is
#: 1 GB), within the workspace pool's bounds. Blocks of 32-64 MiB were the fastest measured on that case
#: (asv_bench/README.md, seventeenth step); the benchmark sizes, 13 MB at most, project at once.
_INFERENCE_PROJECTION_BYTES = 64 << 20


def projection_block_steps(T, B, GH, itemsize):
    """How many steps an inference pass that projects its input before the time loop projects at a time."""
    return max(1, min(T, _INFERENCE_PROJECTION_BYTES // (B * GH * itemsize)))


@functools.lru_cache(maxsize=64)
def _cpu_forward_layout(B, T, F, H, GH, dtype, fused, keeps_steps, projected_steps):
    """The shapes of xs, xh, gates, hs, cs, the panels and their product's scratch, cut from one buffer, for
    every CPU forward pass of these sizes and form of the input projection. Without ``keeps_steps`` (an
    inference pass) xh, hs and cs hold the one or two steps the time loop is at, and gates one, or
    ``projected_steps`` where the input projection fills them (``kernels/cpu/lstm.py``, ``forward_loop``)."""
    panel_layout = panels_shape(F + H if fused else H, GH, dtype)  # whole panels: rec has P * NR >= GH columns
    steps, states = (T, T + 1) if keeps_steps else (1, 2)
    return ((0 if fused else projected_steps, B, F), (steps, B, F + H), (steps if fused else projected_steps, B, GH),
            (states, B, H), (states, B, H), panel_layout, (B, panel_layout[0] * panel_layout[2]))


@functools.lru_cache(maxsize=64)
def _cpu_backward_layout(B, T, F, H, GH, dtype, input_gradient, split, peephole_size):
    """The shapes of the transposed panels, dx's rows, the GEMM blocks' partial weight sums, the loop blocks'
    d_peephole sums and the two scratch arrays, cut from one buffer, for every CPU backward pass of these
    sizes and this ``_Split``."""
    panel_layout = panels_shape(GH, H, dtype)
    return (panel_layout, ((B * T if input_gradient else 0), F), (split.gemm - 1, F + H, GH),
            (split.loop, peephole_size), (B, H), (B, panel_layout[0] * panel_layout[2]))


def first_pass_compiles(loops=None):
    """True when this process has run none of ``loops`` (Numba dispatchers; the LSTM's CPU block loops, where
    most of the compile time goes, by default) and Numba's on-disk cache holds none: the first pass then
    compiles the kernels, seconds on a new installation (``fit`` says so before it starts)."""
    loops = [rows.function for rows in _cpu.FORWARD_ROWS] if loops is None else list(loops)
    try:
        if any(loop.signatures for loop in loops):
            return False
        return not any(os.path.exists(loop._cache._cache_file._index_path) for loop in loops)
    except AttributeError:  # a Numba whose cache is laid out otherwise: say nothing rather than guess
        return False


def _device_of_input(x=None, *args, **kwargs):
    return "cuda" if _backend.is_device_array(x) else _dispatch.current_device()


def _device_of_workspace(workspace=None, *args, **kwargs):
    return workspace._options["device"] if isinstance(workspace, LSTMWorkspace) else "cpu"


@_backend.in_context_of(_device_of_input)
def lstm_forward(x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, mask=None, *,
                 peephole=None, cifg=False, reverse=False, zero_output_for_mask=False,
                 recurrent_mask=None, check_finite=True, final_states=True, keep_workspace=True):
    """Run one LSTM layer in one direction over a batch of sequences.

    Parameters
    ----------
    x : array (batch, timesteps, features), float32 or float64
        Every other array of the call must have the same dtype.
    kernel : array (features, G * units)
    recurrent_kernel : array (units, G * units)
        G is 4, or 3 with ``cifg=True``.
    bias : array (G * units,), optional
        Zeros when omitted (Keras ``use_bias=False``).
    h0, c0 : array (batch, units), optional
        Initial states; zeros when omitted.
    mask : bool array (batch, timesteps), optional
        Keras 3 semantics: a masked step leaves h and c unchanged, and its
        output is the carried h (``h0`` before the first unmasked step), or
        zeros with ``zero_output_for_mask``.
    peephole : array (3 * units,) or, with ``cifg``, (2 * units,), optional
        Diagonal peephole weights; no peepholes when omitted.
    cifg : bool
        Coupled input-forget gate: i = 1 - f, no input-gate weights.
    reverse : bool
        Process timestep T-1 first. ``outputs[:, t]`` is still the output
        of the step that read ``x[:, t]`` (torch's layout; Keras'
        ``go_backwards`` flips it).
    zero_output_for_mask : bool
    recurrent_mask : array (batch, units), optional
        Multiplies h before the recurrent product at every step (Keras'
        recurrent dropout: one mask per sequence, already scaled by
        1 / (1 - rate)); gradients account for it.
    check_finite : bool
        Raise ``ValueError`` on NaN or infinity in any argument.
    final_states : bool
        False: ``h_n`` and ``c_n`` are None, which spares their copies
        (a layer that returns sequences and keeps no state needs neither).
    keep_workspace : bool, default True
        False: an inference pass, which no :func:`lstm_backward` follows
        (as under ``torch.no_grad()``). It keeps only the states of the
        step it is at, not every step's gates and states, and returns None
        for the workspace. On the CPU, where the pass projects the input
        before the time loop (many features), it does so for a block of
        steps at a time; its results are the same to the bit as a
        training pass's, or within the rounding of BLAS where the blocks
        change the GEMMs' row counts.

    Returns
    -------
    outputs : array (batch, timesteps, units)
    h_n, c_n : arrays (batch, units), or None
        The states after the last processed step.
    workspace : LSTMWorkspace or None
        Input to :func:`lstm_backward`; None without ``keep_workspace``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    >>> kernel = rng.standard_normal((3, 16)).astype(np.float32)
    >>> recurrent_kernel = rng.standard_normal((4, 16)).astype(np.float32)
    >>> outputs, h_n, c_n, workspace = lstm_forward(x, kernel, recurrent_kernel)
    >>> gradients = lstm_backward(workspace, np.ones_like(outputs))
    >>> gradients.d_kernel.shape
    (3, 16)
    >>> predictions = lstm_forward(x, kernel, recurrent_kernel, keep_workspace=False)[0]
    >>> bool(np.array_equal(predictions, outputs))
    True
    """
    x = _float_array(x, "x")
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, timesteps, features), got {x.ndim}-D shape {x.shape}")
    B, T, F = x.shape
    if min(B, T, F) < 1:
        raise ValueError(f"x must have at least one batch row, timestep and feature, got shape {x.shape}")
    dtype = x.dtype
    n_gates = 3 if cifg else 4
    recurrent_kernel = _float_array(recurrent_kernel, "recurrent_kernel", dtype)
    if recurrent_kernel.ndim != 2 or recurrent_kernel.shape[1] != n_gates * recurrent_kernel.shape[0]:
        gate_names = "f, c, o" if cifg else "i, f, c, o"
        kernel_shape = np.shape(kernel)
        implied = ""
        if len(kernel_shape) == 2 and kernel_shape[1] and kernel_shape[1] % n_gates == 0:
            implied = f" (kernel's {kernel_shape[1]} columns make it {(kernel_shape[1] // n_gates, kernel_shape[1])})"
        raise ValueError(
            f"recurrent_kernel must have shape (units, {n_gates} * units) for gates {gate_names}{implied}, "
            f"got {recurrent_kernel.shape}"
        )
    H = recurrent_kernel.shape[0]
    if H < 1:
        raise ValueError("recurrent_kernel must have at least one unit, got shape (0, 0)")
    GH = n_gates * H
    meanings = _WEIGHT_SHAPE_MEANINGS[n_gates]
    given = {
        "x": _c_contiguous(x, "x"),
        "kernel": _prepare(kernel, "kernel", dtype, (F, GH), meanings[0]),
        "recurrent_kernel": _prepare(recurrent_kernel, "recurrent_kernel", dtype, (H, GH), "(units, G * units)"),
        "bias": _prepare(bias, "bias", dtype, (GH,), meanings[1]),
        "peephole": _prepare(peephole, "peephole", dtype, ((n_gates - 1) * H,), meanings[2]),
        "h0": _prepare(h0, "h0", dtype, (B, H), "(batch, units)"),
        "c0": _prepare(c0, "c0", dtype, (B, H), "(batch, units)"),
        "recurrent_mask": _prepare(recurrent_mask, "recurrent_mask", dtype, (B, H), "(batch, units)"),
    }
    use_mask = mask is not None
    if use_mask:
        mask = _c_contiguous(mask, "mask")
        if mask.dtype != np.bool_:
            raise TypeError(f"mask must be a bool array, got dtype {mask.dtype}")
        _check_shape(mask, "mask", (B, T), "(batch, timesteps)")
    if check_finite:
        _check_finite(given)
    resident = _backend.is_device_array(x)
    device = "cuda" if resident else _dispatch.current_device()
    ops = _backend.for_device(device)
    if device == "cuda":
        given = {name: None if array is None else ops.local(array) for name, array in given.items()}
        if use_mask:
            mask = ops.local(mask)
    x, kernel, recurrent_kernel, bias, peephole, h0, c0, recurrent_mask = given.values()
    if device == "cuda":
        options = _pass_options((B, T, F), H, dtype, device, resident, use_mask, recurrent_mask is not None,
                                peephole is not None, cifg, reverse, zero_output_for_mask, check_finite)
        defaults = _read_only_defaults(ops, B, H, n_gates, dtype, bias, peephole, h0, c0, mask, recurrent_mask)
        results = _forward_on_gpu(x, kernel, recurrent_kernel, *defaults, options, final_states)
        return results if keep_workspace else (*results[:3], None)
    return _forward_on_cpu(x, kernel, recurrent_kernel, bias, peephole, h0, c0, mask, recurrent_mask, cifg, reverse,
                           zero_output_for_mask, check_finite, final_states, bool(keep_workspace))


def _pass_options(x_shape, units, dtype, device, resident, use_mask, use_recurrent_mask, use_peephole, cifg,
                  reverse, zero_output_for_mask, check_finite):
    """The settings of a forward pass that its workspace keeps for the backward pass."""
    return {"use_mask": use_mask, "use_recurrent_mask": use_recurrent_mask, "reverse": bool(reverse),
            "zero_output": bool(zero_output_for_mask), "cifg": bool(cifg), "use_peephole": use_peephole,
            "check_finite": check_finite, "x_shape": x_shape, "units": units, "dtype": dtype,
            "device": device, "resident": resident}


def _read_only_defaults(ops, B, H, n_gates, dtype, bias, peephole, h0, c0, mask, recurrent_mask):
    """(bias, peephole, h0, c0, mask, recurrent_mask) with shared zeros for those omitted: the kernels read
    them only where the pass's options say so."""
    zeros = ops.read_only_zeros
    return (zeros(n_gates * H, dtype) if bias is None else bias,
            zeros((n_gates - 1) * H, dtype) if peephole is None else peephole,
            zeros((B, H), dtype) if h0 is None else h0,
            zeros((B, H), dtype) if c0 is None else c0,
            zeros((0, 0), np.bool_) if mask is None else mask,
            zeros((0, 0), dtype) if recurrent_mask is None else recurrent_mask)


def _forward_on_cpu(x, kernel, recurrent_kernel, bias, peephole, h0, c0, mask, recurrent_mask, cifg, reverse,
                    zero_output_for_mask, check_finite, final_states, keep_workspace=True, sequence_outputs=True):
    """``lstm_forward`` on the CPU, for arrays already checked: host arrays of x's dtype, C-contiguous, of the
    shapes it documents (None where omitted). The LSTM layer calls it directly on its own weights; without
    ``sequence_outputs`` (a layer whose output is the final state) the pass writes no outputs and returns
    None for them."""
    B, T, F = x.shape
    H, GH = recurrent_kernel.shape
    dtype = x.dtype
    options = _pass_options((B, T, F), H, dtype, "cpu", False, mask is not None, recurrent_mask is not None,
                            peephole is not None, cifg, reverse, zero_output_for_mask, check_finite)
    bias, peephole, h0, c0, mask, recurrent_mask = _read_only_defaults(
        _backend.cpu, B, H, 3 if cifg else 4, dtype, bias, peephole, h0, c0, mask, recurrent_mask)
    use_mask, use_recurrent_mask, reverse = options["use_mask"], options["use_recurrent_mask"], options["reverse"]
    split = options["split"] = _split(B, T, F, H, GH)
    fused = fuses_input_projection(F, H, kernel.nbytes)
    block = T if keep_workspace or fused else projection_block_steps(T, B, GH, dtype.itemsize)
    carved = _host_buffers.carve(dtype, *_cpu_forward_layout(B, T, F, H, GH, dtype, fused, keep_workspace, block))
    xs, xh, gates, hs, cs, panels, rec = carved.arrays
    outputs = np.empty((B, T if sequence_outputs else 0, H), dtype)
    if fused:
        pack_panels(kernel, False, panels, 0)
    pack_panels(recurrent_kernel, False, panels, F if fused else 0)
    with _threads.numba_threads_for(split.threads):  # BLAS: on one thread (in_context_of)
        for first in range(0, T, block):
            steps = min(block, T - first)
            if not fused:
                xs_rows, gates_rows = xs[:steps].reshape(steps * B, F), gates[:steps].reshape(steps * B, GH)
                call_with_entries(_cpu.input_projection, _cpu.INPUT_PROJECTION_ROWS,
                                  lambda: _cpu.input_projection_rows_types(x, kernel, xs_rows, gates_rows),
                                  x, kernel, reverse, first, split.gemm, xs_rows, gates_rows)
            call_with_entries(_cpu.forward_loop, _cpu.FORWARD_ROWS[options["cifg"]],
                              lambda: _cpu.forward_rows_types(x, xh, gates, hs, cs, panels, bias, peephole, h0, c0,
                                                              mask, recurrent_mask, outputs, rec),
                              x, gates, panels, fused, bias, peephole, h0, c0, mask, use_mask, recurrent_mask,
                              use_recurrent_mask, reverse, options["zero_output"], first, steps, split.loop, xh, hs,
                              cs, outputs, rec)
    outputs = outputs if sequence_outputs else None
    # Copies: the states belong to the workspace, or go back to the pool with its buffer. The final ones are in
    # the ring's slot T (``forward_loop``): of T + 1, or of an inference pass's two.
    h_n, c_n = (hs[T % len(hs)].copy(), cs[T % len(cs)].copy()) if final_states else (None, None)
    if not keep_workspace:
        _host_buffers.POOL.give(carved)
        return outputs, h_n, c_n, None
    saved = {"carved": carved, "xh": xh, "gates": gates, "cs": cs, "kernel": kernel,
             "recurrent_kernel": recurrent_kernel, "peephole": peephole, "mask": mask,
             "recurrent_mask": recurrent_mask}
    return outputs, h_n, c_n, LSTMWorkspace(saved, options)


@_backend.in_context_of(_device_of_workspace)
def lstm_backward(workspace, d_outputs=None, d_h_n=None, d_c_n=None, *, input_gradient=True):
    """Backpropagation through time for one :func:`lstm_forward` call.

    Parameters
    ----------
    workspace : LSTMWorkspace
        From the forward pass; consumed.
    d_outputs : array (batch, timesteps, units), optional
        Gradient of the loss with respect to ``outputs``; zeros if omitted.
    d_h_n, d_c_n : arrays (batch, units), optional
        Gradients flowing in from the final states (stateful use,
        encoder-decoder models); zeros if omitted.
    input_gradient : bool, default True
        Whether to compute ``dx``. A model's first layer does not need it,
        and skipping it saves about a sixth of the backward pass's GEMM work.

    Returns
    -------
    LSTMGradients
        ``dx`` (None when ``input_gradient`` is False), ``d_kernel``,
        ``d_recurrent_kernel``, ``d_bias``, ``d_peephole`` (None without
        peepholes), ``dh0``, ``dc0``, each shaped like its forward argument.
    """
    if not isinstance(workspace, LSTMWorkspace):
        hint = "; lstm_forward(..., keep_workspace=False) keeps none: run the forward pass with the default " \
            "keep_workspace=True before lstm_backward" if workspace is None else ""
        raise TypeError(f"workspace must be the LSTMWorkspace returned by lstm_forward, got "
                        f"{type(workspace).__name__}{hint}")
    if workspace.consumed:
        raise ValueError("workspace was already used by lstm_backward; run lstm_forward again")
    options = workspace._options
    B, T, F = options["x_shape"]
    H, dtype = options["units"], options["dtype"]
    given = {
        "d_outputs": _prepare(d_outputs, "d_outputs", dtype, (B, T, H), "(batch, timesteps, units)", backward=True),
        "d_h_n": _prepare(d_h_n, "d_h_n", dtype, (B, H), "(batch, units)", backward=True),
        "d_c_n": _prepare(d_c_n, "d_c_n", dtype, (B, H), "(batch, units)", backward=True),
    }
    if options["check_finite"]:
        _check_finite(given)
    if options["device"] == "cuda":
        return _backward_on_gpu(workspace, *given.values(), bool(input_gradient))
    return _backward_on_cpu(workspace, *given.values(), bool(input_gradient))


def _backward_on_cpu(workspace, d_outputs, d_h_n, d_c_n, input_gradient):
    """``lstm_backward`` on the CPU, for a workspace of :func:`_forward_on_cpu` not yet consumed and gradients
    already checked: host arrays of the pass's dtype and shapes, C-contiguous (None where omitted)."""
    saved, options = workspace._saved, workspace._options
    workspace.consumed = True
    B, T, F = options["x_shape"]
    H, dtype = options["units"], options["dtype"]
    use_d_outputs = d_outputs is not None
    zeros = _backend.cpu.read_only_zeros  # the kernels only read these
    d_outputs = zeros((0, 0, 0), dtype) if d_outputs is None else d_outputs
    d_h_n = zeros((B, H), dtype) if d_h_n is None else d_h_n
    d_c_n = zeros((B, H), dtype) if d_c_n is None else d_c_n
    split = options["split"]
    GH = saved["gates"].shape[2]
    dx_shape = (B, T, F) if input_gradient else (0, 0, F)
    peephole = saved["peephole"]
    # Each block of the passes fills its own share; the blocks' partial sums are added up below.
    carved = _host_buffers.carve(dtype, *_cpu_backward_layout(B, T, F, H, GH, dtype, input_gradient, split,
                                                             peephole.shape[0]))
    panels, dx_rows, partial_weights, d_peephole_blocks, dh_total, dh_rec = carved.arrays
    dx = np.empty(dx_shape, dtype)
    # d_kernel's rows, then d_recurrent_kernel's: one GEMM fills both
    d_weights = _host_buffers.empty((F + H, GH), dtype)
    d_bias_blocks = np.empty((split.gemm, GH), dtype)
    dh0, dc0 = np.empty((B, H), dtype), np.empty((B, H), dtype)
    pack_panels(saved["recurrent_kernel"], True, panels, 0)
    with _threads.numba_threads_for(split.threads):  # BLAS: on one thread (in_context_of)
        call_with_entries(
            _cpu.backward_loop, _cpu.BACKWARD_ROWS[options["cifg"]],
            lambda: _cpu.backward_rows_types(saved["gates"], saved["cs"], panels, peephole, saved["mask"],
                                             saved["recurrent_mask"], d_outputs, d_h_n, d_c_n, dh0, dc0,
                                             d_peephole_blocks, dh_total, dh_rec),
            saved["gates"], saved["cs"], panels, peephole, saved["mask"], options["use_mask"],
            saved["recurrent_mask"], options["use_recurrent_mask"], options["reverse"], options["zero_output"],
            d_outputs, use_d_outputs, d_h_n, d_c_n, options["use_peephole"], split.loop, dh0, dc0, d_peephole_blocks,
            dh_total, dh_rec)
        xh_rows, dz_rows = saved["xh"].reshape(T * B, F + H), saved["gates"].reshape(T * B, GH)
        call_with_entries(_cpu.weight_gradients, _cpu.WEIGHT_GRADIENT_ROWS,
                          lambda: _cpu.weight_gradient_rows_types(xh_rows, dz_rows, saved["kernel"], dx_rows,
                                                                  partial_weights, d_weights, d_bias_blocks, dx),
                          xh_rows, dz_rows, saved["kernel"], options["reverse"], split.gemm, input_gradient, dx_rows,
                          partial_weights, d_weights, d_bias_blocks, dx)
    d_bias = d_bias_blocks[0]
    for block in range(1, split.gemm):  # a loop of in-place adds: numpy's sum over an axis costs 5 us more
        d_weights += partial_weights[block - 1]
        d_bias += d_bias_blocks[block]
    d_peephole = None
    if options["use_peephole"]:
        d_peephole = d_peephole_blocks[0].copy()
        for block in range(1, split.loop):
            d_peephole += d_peephole_blocks[block]
    workspace._saved = None
    # Nothing returned is cut from either buffer: both serve the next passes of this size.
    _host_buffers.POOL.give(carved)
    _host_buffers.POOL.give(saved["carved"])
    return LSTMGradients(dx if input_gradient else None, d_weights[:F], d_weights[F:], d_bias, d_peephole, dh0, dc0)


def _gpu_options():
    from .kernels import options

    return options.gpu_options().kernels


def _forward_on_gpu(x, kernel, recurrent_kernel, bias, peephole, h0, c0, mask, recurrent_mask, options,
                    final_states):
    """``lstm_forward`` on the CUDA device (every array already there): the workspace stays there until
    ``lstm_backward``; results come back to the host unless ``x`` was a device array."""
    from .backend import cuda as ops
    from .kernels.cuda import lstm as cuda_lstm

    flags = cuda_lstm.PassFlags(options["use_mask"], options["use_recurrent_mask"], options["reverse"],
                                options["zero_output"], options["cifg"])
    outputs, h_n, c_n, saved = cuda_lstm.forward(
        x, cuda_lstm.Weights(kernel, recurrent_kernel, bias, peephole), h0, c0, mask, recurrent_mask, flags,
        _gpu_options(), final_states)
    results = (outputs, h_n, c_n) if options["resident"] else \
        (None if a is None else ops.to_host(a) for a in (outputs, h_n, c_n))
    return (*results, LSTMWorkspace(saved, options))


def _backward_on_gpu(workspace, d_outputs, d_h_n, d_c_n, input_gradient):
    """``lstm_backward`` on the CUDA device, for a workspace of :func:`_forward_on_gpu` and checked gradients."""
    from .backend import cuda as ops
    from .kernels.cuda import lstm as cuda_lstm

    saved, options = workspace._saved, workspace._options
    B, H, dtype = options["x_shape"][0], options["units"], options["dtype"]
    use_d_outputs = d_outputs is not None
    d_outputs = ops.read_only_zeros((0, 0, 0), dtype) if d_outputs is None else ops.local(d_outputs)
    # The GPU pass turns d_h_n and d_c_n into dh0 and dc0 in place: never the caller's arrays.
    d_h_n, d_c_n = (ops.zeros((B, H), dtype) if d is None else ops.copy(d) if _backend.is_device_array(d)
                    else ops.local(d) for d in (d_h_n, d_c_n))
    workspace.consumed = True
    workspace._saved = None
    gradients = cuda_lstm.backward(saved, d_outputs, use_d_outputs, d_h_n, d_c_n, options["use_peephole"],
                                   input_gradient, _gpu_options())
    if not options["resident"]:
        gradients = [None if g is None else ops.to_host(g) for g in gradients]
    dx, d_kernel, d_recurrent_kernel, d_bias, d_peephole, dh0, dc0 = gradients
    return LSTMGradients(dx, d_kernel, d_recurrent_kernel, d_bias, d_peephole, dh0, dc0)
