"""Fused optimizer updates over one flat parameter buffer (one pass, no temporaries).

Each rule is written once, for one element (``*_at``), and compiled twice:
here into the CPU loops, and by ``cuda/ops.py`` into one-thread-per-element
CUDA kernels, so that both devices apply the same arithmetic in the same
order (float64 scalars, every store rounded to the buffer's dtype).
"""

import math

from .disk_cache import njit
from .options import JIT_KWARGS


def sgd_at(i, params, grads, velocity, learning_rate, momentum, nesterov):
    """Keras SGD: v = momentum * v - lr * g; p += v (nesterov: p += momentum * v - lr * g)."""
    if momentum == 0.0:
        params[i] -= learning_rate * grads[i]
    else:
        velocity[i] = momentum * velocity[i] - learning_rate * grads[i]
        if nesterov:
            params[i] += momentum * velocity[i] - learning_rate * grads[i]
        else:
            params[i] += velocity[i]


def adam_at(i, params, grads, m, v, learning_rate, alpha, beta_1, beta_2, epsilon, weight_decay):
    """Keras Adam (AdamW when weight_decay > 0: decoupled decay p -= lr * wd * p first)."""
    if weight_decay != 0.0:
        params[i] -= learning_rate * weight_decay * params[i]
    m[i] += (grads[i] - m[i]) * (1.0 - beta_1)
    v[i] += (grads[i] * grads[i] - v[i]) * (1.0 - beta_2)
    params[i] -= alpha * m[i] / (math.sqrt(v[i]) + epsilon)


def adam_step_size(learning_rate, beta_1, beta_2, step):
    """Adam's bias-corrected step size at ``step`` (counted from 1)."""
    return learning_rate * math.sqrt(1.0 - beta_2 ** step) / (1.0 - beta_1 ** step)


def rmsprop_at(i, params, grads, velocity, average_grad, momentum_buffer, learning_rate, rho, momentum, epsilon,
               centered):
    """Keras RMSprop, optionally centered and with momentum."""
    g = grads[i]
    velocity[i] = rho * velocity[i] + (1.0 - rho) * g * g
    denominator = velocity[i] + epsilon
    if centered:
        average_grad[i] = rho * average_grad[i] + (1.0 - rho) * g
        denominator -= average_grad[i] * average_grad[i]
    increment = learning_rate * g / math.sqrt(denominator)
    if momentum > 0.0:
        momentum_buffer[i] = momentum * momentum_buffer[i] + increment
        params[i] -= momentum_buffer[i]
    else:
        params[i] -= increment


def adagrad_at(i, params, grads, accumulator, learning_rate, epsilon):
    """Keras Adagrad: accumulator += g^2; p -= lr * g / sqrt(accumulator + epsilon)."""
    accumulator[i] += grads[i] * grads[i]
    params[i] -= learning_rate * grads[i] / math.sqrt(accumulator[i] + epsilon)


_sgd_at = njit(inline="always", **JIT_KWARGS)(sgd_at)
_adam_at = njit(inline="always", **JIT_KWARGS)(adam_at)
_rmsprop_at = njit(inline="always", **JIT_KWARGS)(rmsprop_at)
_adagrad_at = njit(inline="always", **JIT_KWARGS)(adagrad_at)


@njit(**JIT_KWARGS)
def sgd_update(params, grads, velocity, learning_rate, momentum, nesterov):
    for i in range(params.shape[0]):
        _sgd_at(i, params, grads, velocity, learning_rate, momentum, nesterov)


@njit(**JIT_KWARGS)
def adam_update(params, grads, m, v, learning_rate, alpha, beta_1, beta_2, epsilon, weight_decay):
    for i in range(params.shape[0]):
        _adam_at(i, params, grads, m, v, learning_rate, alpha, beta_1, beta_2, epsilon, weight_decay)


@njit(**JIT_KWARGS)
def rmsprop_update(params, grads, velocity, average_grad, momentum_buffer, learning_rate, rho, momentum,
                   epsilon, centered):
    for i in range(params.shape[0]):
        _rmsprop_at(i, params, grads, velocity, average_grad, momentum_buffer, learning_rate, rho, momentum,
                    epsilon, centered)


@njit(**JIT_KWARGS)
def adagrad_update(params, grads, accumulator, learning_rate, epsilon):
    for i in range(params.shape[0]):
        _adagrad_at(i, params, grads, accumulator, learning_rate, epsilon)


@njit(**JIT_KWARGS)
def clip_segment_norms(grads, boundaries, clipnorm):
    """Scale each segment grads[boundaries[k]:boundaries[k+1]] to an L2 norm of at most ``clipnorm``."""
    for k in range(boundaries.shape[0] - 1):
        squares = 0.0
        for i in range(boundaries[k], boundaries[k + 1]):
            squares += grads[i] * grads[i]
        norm = math.sqrt(squares)
        if norm > clipnorm:
            scale = clipnorm / norm
            for i in range(boundaries[k], boundaries[k + 1]):
                grads[i] *= scale
