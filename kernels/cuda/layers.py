"""CUDA kernels for the layers of functional graphs: masks, pooling over time, LayerNormalization, Conv1D.

``numlstm/backend/cuda.py`` launches them; their CPU twins are the numpy
functions of the same names in ``numlstm/backend/cpu.py``. Arrays are
C-contiguous; one thread per output element unless a docstring says
otherwise. Built per dtype and block size, as ``ops.py``'s kernels; every
sum runs in one fixed order (no atomics), so results repeat bit for bit.
"""

import functools
import math
from types import SimpleNamespace

import numpy as np
from numba import cuda

from .jit import kernel_decorator


@functools.lru_cache(maxsize=None)
def build_kernels(dtype, threads, fastmath, cache):
    """The kernels for one float dtype and one block size, fastmath and on-disk cache as
    ``GpuKernelOptions`` says."""
    real = np.dtype(dtype).type
    zero, one = real(0), real(1)
    jit = kernel_decorator(("cuda.layers", dtype, threads, fastmath), fastmath, cache)

    @jit
    def logical_or(a, b, out):
        i = cuda.grid(1)
        if i < out.shape[0]:
            out[i] = a[i] or b[i]

    @jit
    def where_mask(x, mask, inner, value, out):
        """out[i] = x[i] where mask[i // inner], else value: flat views of x and of a mask over x's leading
        axes (``inner`` elements of x per mask entry)."""
        i = cuda.grid(1)
        if i < out.shape[0]:
            out[i] = x[i] if mask[i // inner] else real(value)

    @jit
    def sum_steps(x, mask, use_mask, mean, out):
        """out[b, f] = the sum over t of x[b, t, f] where mask[b, t] (every t without ``use_mask``), divided
        by the number of those steps with ``mean``; one thread per (b, f)."""
        i = cuda.grid(1)
        B, T, F = x.shape
        if i < B * F:
            b = i // F
            f = i - b * F
            total, count = zero, zero
            for t in range(T):
                if not use_mask or mask[b, t]:
                    total += x[b, t, f]
                    count += one
            out[b, f] = total / count if mean else total

    @jit
    def step_counts(mask, counts):
        """counts[b] = the number of steps that mask[b] keeps; one thread per row."""
        b = cuda.grid(1)
        if b < mask.shape[0]:
            count = zero
            for t in range(mask.shape[1]):
                if mask[b, t]:
                    count += one
            counts[b] = count

    @jit
    def spread_steps(a, mask, use_mask, counts, use_counts, divisor, out):
        """out[b, t, f] = a[b, f] where mask[b, t] (every t without ``use_mask``), else 0; divided by
        counts[b] with ``use_counts``, else by ``divisor``."""
        i = cuda.grid(1)
        B, T, F = out.shape
        if i < B * T * F:
            b = i // (T * F)
            t = (i // F) % T
            f = i % F
            if use_mask and not mask[b, t]:
                out[b, t, f] = zero
            else:
                out[b, t, f] = a[b, f] / (counts[b] if use_counts else real(divisor))

    @jit
    def layer_norm_rows(x, gamma, use_gamma, beta, use_beta, epsilon, y, normalized, inv_std):
        """Each row r of x: normalized = (x - mean) / sqrt(variance + epsilon) (variance with the mean taken
        out first, as numpy's), y = normalized * gamma + beta; one thread per row."""
        r = cuda.grid(1)
        if r < x.shape[0]:
            width = x.shape[1]
            mean = zero
            for k in range(width):
                mean += x[r, k]
            mean /= real(width)
            variance = zero
            for k in range(width):
                centered = x[r, k] - mean
                variance += centered * centered
            scale = one / math.sqrt(variance / real(width) + real(epsilon))
            inv_std[r] = scale
            for k in range(width):
                value = (x[r, k] - mean) * scale
                normalized[r, k] = value
                if use_gamma:
                    value *= gamma[k]
                if use_beta:
                    value += beta[k]
                y[r, k] = value

    @jit
    def layer_norm_gradient_rows(dy, normalized, inv_std, gamma, use_gamma, dx):
        """dx = inv_std * (g - mean(g) - normalized * mean(g * normalized)), g = dy * gamma; one thread per
        row."""
        r = cuda.grid(1)
        if r < dy.shape[0]:
            width = dy.shape[1]
            g_sum, gn_sum = zero, zero
            for k in range(width):
                g = dy[r, k] * gamma[k] if use_gamma else dy[r, k]
                g_sum += g
                gn_sum += g * normalized[r, k]
            g_mean, gn_mean = g_sum / real(width), gn_sum / real(width)
            for k in range(width):
                g = dy[r, k] * gamma[k] if use_gamma else dy[r, k]
                dx[r, k] = inv_std[r] * (g - g_mean - normalized[r, k] * gn_mean)

    @jit
    def sequence_windows(x, kernel_size, stride, dilation, pad_left, windows):
        """windows[b * T_out + o, j * C + c] = x[b, o * stride + j * dilation - pad_left, c], zero outside x
        (the padding)."""
        i = cuda.grid(1)
        B, T, C = x.shape
        if i < windows.shape[0] * windows.shape[1]:
            width = kernel_size * C
            row = i // width
            rest = i - row * width
            j = rest // C
            c = rest - j * C
            steps_out = windows.shape[0] // B
            b = row // steps_out
            p = (row - b * steps_out) * stride + j * dilation - pad_left
            windows[row, rest] = x[b, p, c] if 0 <= p < T else zero

    @jit
    def sequence_windows_gradient(d_windows, kernel_size, stride, dilation, pad_left, dx):
        """dx[b, t, c] = the sum of d_windows over the (o, j) that read x[b, t, c] (``sequence_windows``),
        taps in order: each input element gathers its own sum."""
        i = cuda.grid(1)
        B, T, C = dx.shape
        if i < B * T * C:
            b = i // (T * C)
            t = (i // C) % T
            c = i % C
            steps_out = d_windows.shape[0] // B
            total = zero
            for j in range(kernel_size):
                q = t + pad_left - j * dilation
                if q >= 0 and q % stride == 0 and q // stride < steps_out:
                    total += d_windows[b * steps_out + q // stride, j * C + c]
            dx[b, t, c] = total

    return SimpleNamespace(
        logical_or=logical_or, where_mask=where_mask, sum_steps=sum_steps,
        step_counts=step_counts, spread_steps=spread_steps, layer_norm_rows=layer_norm_rows,
        layer_norm_gradient_rows=layer_norm_gradient_rows, sequence_windows=sequence_windows,
        sequence_windows_gradient=sequence_windows_gradient)
