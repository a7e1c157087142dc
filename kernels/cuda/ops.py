"""CUDA kernels for everything around the LSTM: Dense, merges, losses, optimizers.

With these, a model's weights, optimizer state and activations stay on the
GPU for a whole ``fit``; ``numlstm/backend/cuda.py`` launches them. Their CPU
twins are numpy expressions (``numlstm/backend/cpu.py``) and, for the
optimizers, the same per-element functions as ``optimizer_updates.py``.

Arrays are C-contiguous; elementwise kernels take flat (1-D) views. One
thread per element unless a docstring says otherwise. Built per dtype and
block size (closure constants, as in ``step_kernels.py``), a factory per
family: arrays, activations, losses, optimizers.
"""

import functools
import math
from types import SimpleNamespace

import numba
import numpy as np
from numba import cuda

from .. import optimizer_updates
from .jit import kernel_decorator

# Codes passed to the kernels (launch arguments, never globals the simulator would read live).
ACTIVATIONS = {"linear": 0, "relu": 1, "tanh": 2, "sigmoid": 3}
ELEMENTWISE_LOSSES = {"mean_squared_error": 0, "mean_absolute_error": 1, "huber": 2, "binary_crossentropy": 3}
ADD, MULTIPLY = 0, 1
EPSILON = 1e-7  # as numlstm.losses.EPSILON (Keras' backend epsilon)



@functools.lru_cache(maxsize=None)
def build_kernels(dtype, threads, fastmath, cache):
    """The kernels for one float dtype and one block size (a power of two: the reductions halve it),
    fastmath and the on-disk cache as ``GpuKernelOptions`` says: every family's, in one namespace."""
    merged = {}
    for family in (build_array_kernels, build_activation_kernels, build_loss_kernels, build_optimizer_kernels):
        merged.update(vars(family(dtype, threads, fastmath, cache)))
    return SimpleNamespace(**merged)


@functools.lru_cache(maxsize=None)
def _constants(dtype, threads, fastmath, cache):
    """The closure constants, scalar device functions and jit decorator of one variant."""
    real = np.dtype(dtype).type
    one, zero, half = real(1), real(0), real(0.5)

    @cuda.jit(device=True, inline=True)
    def sign(x):
        if x > zero:
            return one
        if x < zero:
            return -one
        return x  # 0 and NaN, as np.sign

    @cuda.jit(device=True, inline=True)
    def sigmoid(x):
        return half * math.tanh(half * x) + half

    return SimpleNamespace(real=real, one=one, zero=zero, half=half, two=real(2), epsilon=real(EPSILON),
                           one_minus_epsilon=real(1 - EPSILON), element=numba.from_dtype(np.dtype(dtype)),
                           threads=threads, sign=sign, sigmoid=sigmoid,
                           jit=kernel_decorator(("cuda.ops", dtype, threads, fastmath), fastmath, cache))


@functools.lru_cache(maxsize=None)
def build_array_kernels(dtype, threads, fastmath, cache):
    """Fills, copies, elementwise combinations and row gathers of one variant."""
    c = _constants(dtype, threads, fastmath, cache)
    real = c.real
    zero = c.zero
    jit = c.jit

    @jit
    def fill(a, value):
        i = cuda.grid(1)
        if i < a.shape[0]:
            a[i] = value

    @jit
    def copy_into(source, target, offset):
        """target[offset + i] = source[i], converting the dtype if they differ."""
        i = cuda.grid(1)
        if i < source.shape[0]:
            target[offset + i] = source[i]

    @jit
    def copy_columns(source, first, target, target_first, width):
        """target[r, target_first + k] = source[r, first + k] for k < width, every row."""
        i = cuda.grid(1)
        if i < target.shape[0] * width:
            r = i // width
            k = i - r * width
            target[r, target_first + k] = source[r, first + k]

    @jit
    def reverse_time(source, target):
        """target[b, T - 1 - t] = source[b, t] for (B, T, H) arrays."""
        i = cuda.grid(1)
        B, T, H = source.shape
        if i < B * T * H:
            b = i // (T * H)
            rest = i - b * T * H
            t = rest // H
            k = rest - t * H
            target[b, T - 1 - t, k] = source[b, t, k]

    @jit
    def add_bias(rows, bias):
        i = cuda.grid(1)
        n = bias.shape[0]
        if i < rows.shape[0] * n:
            r = i // n
            rows[r, i - r * n] += bias[i - r * n]

    @jit
    def combine(a, b, operation, factor, out):
        """out = (a + b) * factor or (a * b) * factor, flat."""
        i = cuda.grid(1)
        if i < out.shape[0]:
            value = a[i] + b[i] if operation == ADD else a[i] * b[i]
            out[i] = value * real(factor)

    @jit
    def multiply_over_time(x, mask, out):
        """out[b, t, f] = x[b, t, f] * mask[b, 0, f]: a mask of shape (B, 1, F) for every timestep."""
        i = cuda.grid(1)
        B, T, F = x.shape
        if i < B * T * F:
            b = i // (T * F)
            t = (i // F) % T
            f = i % F
            out[b, t, f] = x[b, t, f] * mask[b, 0, f]

    @jit
    def scale_in_place(a, factor):
        i = cuda.grid(1)
        if i < a.shape[0]:
            a[i] *= real(factor)

    @jit
    def clip_values(a, limit):
        """np.clip(a, -limit, limit, out=a); NaN stays NaN."""
        i = cuda.grid(1)
        if i < a.shape[0]:
            bound = real(limit)
            if a[i] > bound:
                a[i] = bound
            elif a[i] < -bound:
                a[i] = -bound

    @jit
    def gather_rows(table, ids, out):
        """out[r] = table[ids[r]]."""
        i = cuda.grid(1)
        width = table.shape[1]
        if i < ids.shape[0] * width:
            r = i // width
            out[r, i - r * width] = table[ids[r], i - r * width]

    @jit
    def sum_row_groups(groups, count, unique_count, rows, table):
        """table[unique[u]] = the sum of rows[order[p]] over p in [starts[u], starts[u + 1]), in p order.

        ``groups`` holds ``order`` (count), ``starts`` (unique_count + 1)
        and ``unique`` (unique_count) end to end; one thread per (distinct
        id, column). Each sum has one fixed order, no atomics: the same
        result every run.
        """
        i = cuda.grid(1)
        width = table.shape[1]
        if i < unique_count * width:
            u = i // width
            column = i - u * width
            total = zero
            for p in range(groups[count + u], groups[count + u + 1]):
                total += rows[groups[p], column]
            table[groups[count + unique_count + 1 + u], column] = total

    @jit
    def steps_differing(x, value, mask):
        """mask[b, t] = any(x[b, t, :] != value); one thread per timestep."""
        i = cuda.grid(1)
        B, T, F = x.shape
        if i < B * T:
            b = i // T
            t = i - b * T
            differs = False
            for f in range(F):
                if x[b, t, f] != value:
                    differs = True
            mask[b, t] = differs

    @jit
    def zero_masked_steps(x, mask, out):
        """out[b, t] = x[b, t] where mask[b, t], else 0."""
        i = cuda.grid(1)
        B, T, F = x.shape
        if i < B * T * F:
            b = i // (T * F)
            t = (i // F) % T
            f = i % F
            out[b, t, f] = x[b, t, f] if mask[b, t] else zero

    @jit
    def not_equal(a, value, out):
        i = cuda.grid(1)
        if i < a.shape[0]:
            out[i] = a[i] != value

    return SimpleNamespace(fill=fill, copy_into=copy_into, copy_columns=copy_columns, reverse_time=reverse_time,
                           add_bias=add_bias, combine=combine, multiply_over_time=multiply_over_time,
                           scale_in_place=scale_in_place, clip_values=clip_values, gather_rows=gather_rows,
                           sum_row_groups=sum_row_groups, steps_differing=steps_differing,
                           zero_masked_steps=zero_masked_steps, not_equal=not_equal)


@functools.lru_cache(maxsize=None)
def build_activation_kernels(dtype, threads, fastmath, cache):
    """Dense's activations and their gradients, softmax included, of one variant."""
    c = _constants(dtype, threads, fastmath, cache)
    one = c.one
    zero = c.zero
    sigmoid = c.sigmoid
    jit = c.jit

    @jit
    def activate(z, kind):
        """z = f(z) in place, flat; "linear" launches nothing."""
        i = cuda.grid(1)
        if i < z.shape[0]:
            if kind == 1:
                z[i] = max(z[i], zero) if z[i] == z[i] else z[i]
            elif kind == 2:
                z[i] = math.tanh(z[i])
            elif kind == 3:
                z[i] = sigmoid(z[i])

    @jit
    def activation_gradient(y, dy, kind, out):
        """out = dy * f'(z), from y = f(z), flat; not for "linear", whose gradient is dy itself."""
        i = cuda.grid(1)
        if i < out.shape[0]:
            if kind == 1:
                out[i] = dy[i] * (one if y[i] > zero else zero)
            elif kind == 2:
                out[i] = dy[i] * (one - y[i] * y[i])
            else:
                out[i] = dy[i] * y[i] * (one - y[i])

    @jit
    def softmax_rows(z):
        """Row-wise softmax in place; one thread per row."""
        r = cuda.grid(1)
        if r < z.shape[0]:
            largest = z[r, 0]
            for k in range(1, z.shape[1]):
                largest = max(largest, z[r, k])
            total = zero
            for k in range(z.shape[1]):
                z[r, k] = math.exp(z[r, k] - largest)
                total += z[r, k]
            for k in range(z.shape[1]):
                z[r, k] /= total

    @jit
    def softmax_gradient_rows(y, dy, out):
        r = cuda.grid(1)
        if r < y.shape[0]:
            dot = zero
            for k in range(y.shape[1]):
                dot += dy[r, k] * y[r, k]
            for k in range(y.shape[1]):
                out[r, k] = y[r, k] * (dy[r, k] - dot)

    return SimpleNamespace(activate=activate, activation_gradient=activation_gradient, softmax_rows=softmax_rows,
                           softmax_gradient_rows=softmax_gradient_rows)


@functools.lru_cache(maxsize=None)
def build_loss_kernels(dtype, threads, fastmath, cache):
    """The losses' values and gradients of one variant."""
    c = _constants(dtype, threads, fastmath, cache)
    real = c.real
    one = c.one
    zero = c.zero
    half = c.half
    two = c.two
    epsilon = c.epsilon
    one_minus_epsilon = c.one_minus_epsilon
    sign = c.sign
    sigmoid = c.sigmoid
    jit = c.jit

    @jit
    def elementwise_loss(y_true, y_pred, kind, delta, from_logits, count, values, gradients):
        """Each position's loss and the gradient of their mean (``count`` positions), flat; as losses.py."""
        i = cuda.grid(1)
        if i < y_pred.shape[0]:
            p, t = y_pred[i], y_true[i]
            delta_, count_ = real(delta), real(count)
            error = p - t
            if kind == 0:
                value, derivative = error * error, two * error
            elif kind == 1:
                value, derivative = abs(error), sign(error)
            elif kind == 2:
                if abs(error) <= delta_:
                    value, derivative = half * error * error, error
                else:
                    value, derivative = delta_ * (abs(error) - half * delta_), delta_ * sign(error)
            elif from_logits:
                value = max(p, zero) - p * t + math.log1p(math.exp(-abs(p)))
                derivative = sigmoid(p) - t
            else:
                q = min(max(p, epsilon), one_minus_epsilon)
                value = -(t * math.log(q) + (one - t) * math.log(one - q))
                derivative = (q - t) / (q * (one - q)) if epsilon < p < one_minus_epsilon else zero
            values[i] = value
            gradients[i] = derivative / count_

    @jit
    def crossentropy_rows(y_true, labels, sparse, y_pred, from_logits, count, values, gradients):
        """Categorical cross-entropy of each row and the gradient of the mean (``count`` rows); as losses.py.

        With ``sparse`` the targets are the class indices ``labels`` (y_true unused). One thread per row.
        """
        r = cuda.grid(1)
        if r < y_pred.shape[0]:
            classes = y_pred.shape[1]
            count_ = real(count)
            mass = zero  # sum of the targets of the row
            for k in range(classes):
                mass += (one if k == labels[r] else zero) if sparse else y_true[r, k]
            value = zero
            if from_logits:
                largest = y_pred[r, 0]
                for k in range(1, classes):
                    largest = max(largest, y_pred[r, k])
                total = zero
                for k in range(classes):
                    total += math.exp(y_pred[r, k] - largest)
                log_total = math.log(total)
                for k in range(classes):
                    target = (one if k == labels[r] else zero) if sparse else y_true[r, k]
                    log_q = y_pred[r, k] - largest - log_total
                    value -= target * log_q
                    gradients[r, k] = (math.exp(log_q) * mass - target) / count_
            else:
                total = zero
                for k in range(classes):
                    total += y_pred[r, k]
                weighted = zero  # sum of d_q * q
                for k in range(classes):
                    target = (one if k == labels[r] else zero) if sparse else y_true[r, k]
                    q = y_pred[r, k] / total
                    clipped = min(max(q, epsilon), one_minus_epsilon)
                    value -= target * math.log(clipped)
                    d_q = -target / clipped if epsilon < q < one_minus_epsilon else zero
                    gradients[r, k] = d_q
                    weighted += d_q * q
                for k in range(classes):
                    gradients[r, k] = (gradients[r, k] - weighted) / total / count_
            values[r] = value

    return SimpleNamespace(elementwise_loss=elementwise_loss, crossentropy_rows=crossentropy_rows)


@functools.lru_cache(maxsize=None)
def build_optimizer_kernels(dtype, threads, fastmath, cache):
    """Gradient clipping by segment norms and the optimizer updates (``optimizer_updates.py``'s rules) of one
    variant."""
    c = _constants(dtype, threads, fastmath, cache)
    real = c.real
    zero = c.zero
    element = c.element
    threads = c.threads
    jit = c.jit

    @jit
    def segment_sums(values, boundaries, squares, out):
        """out[s] = sum of values[boundaries[s]:boundaries[s + 1]] (of their squares with ``squares``).

        One block per segment, a tree reduction in shared memory: the same
        order every run, so results are reproducible (no atomics).
        """
        partial = cuda.shared.array(threads, element)
        s = cuda.blockIdx.x
        t = cuda.threadIdx.x
        total = zero
        for i in range(boundaries[s] + t, boundaries[s + 1], threads):
            total += values[i] * values[i] if squares else values[i]
        partial[t] = total
        cuda.syncthreads()
        width = threads // 2
        while width > 0:
            if t < width:
                partial[t] += partial[t + width]
            cuda.syncthreads()
            width //= 2
        if t == 0:
            out[s] = partial[0]

    @jit
    def scale_segments(values, boundaries, squares, limit):
        """Scale each segment whose L2 norm (sqrt of ``squares[s]``) exceeds ``limit`` down to ``limit``."""
        i = cuda.grid(1)
        if i < values.shape[0]:
            low, high = 0, boundaries.shape[0] - 1
            while high - low > 1:  # the segment s with boundaries[s] <= i < boundaries[s + 1]
                middle = (low + high) // 2
                if boundaries[middle] <= i:
                    low = middle
                else:
                    high = middle
            norm = math.sqrt(squares[low])
            if norm > real(limit):
                values[i] *= real(limit) / norm

    sgd_at = cuda.jit(device=True, inline=True)(optimizer_updates.sgd_at)
    adam_at = cuda.jit(device=True, inline=True)(optimizer_updates.adam_at)
    rmsprop_at = cuda.jit(device=True, inline=True)(optimizer_updates.rmsprop_at)
    adagrad_at = cuda.jit(device=True, inline=True)(optimizer_updates.adagrad_at)

    @jit
    def sgd_update(params, grads, velocity, learning_rate, momentum, nesterov):
        i = cuda.grid(1)
        if i < params.shape[0]:
            sgd_at(i, params, grads, velocity, learning_rate, momentum, nesterov)

    @jit
    def adam_update(params, grads, m, v, learning_rate, alpha, beta_1, beta_2, epsilon, weight_decay):
        i = cuda.grid(1)
        if i < params.shape[0]:
            adam_at(i, params, grads, m, v, learning_rate, alpha, beta_1, beta_2, epsilon, weight_decay)

    @jit
    def rmsprop_update(params, grads, velocity, average_grad, momentum_buffer, learning_rate, rho, momentum,
                       epsilon, centered):
        i = cuda.grid(1)
        if i < params.shape[0]:
            rmsprop_at(i, params, grads, velocity, average_grad, momentum_buffer, learning_rate, rho, momentum,
                       epsilon, centered)

    @jit
    def adagrad_update(params, grads, accumulator, learning_rate, epsilon):
        i = cuda.grid(1)
        if i < params.shape[0]:
            adagrad_at(i, params, grads, accumulator, learning_rate, epsilon)

    return SimpleNamespace(segment_sums=segment_sums, scale_segments=scale_segments, sgd_update=sgd_update,
                           adam_update=adam_update, rmsprop_update=rmsprop_update, adagrad_update=adagrad_update)
