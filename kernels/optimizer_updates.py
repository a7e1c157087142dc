"""Fused optimizer updates over one flat parameter buffer (one pass, no temporaries)."""

import math

from numba import njit

from .config import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def sgd_update(params, grads, velocity, learning_rate, momentum, nesterov):
    """Keras SGD: v = momentum * v - lr * g; p += v (nesterov: p += momentum * v - lr * g)."""
    for i in range(params.shape[0]):
        if momentum == 0.0:
            params[i] -= learning_rate * grads[i]
        else:
            velocity[i] = momentum * velocity[i] - learning_rate * grads[i]
            if nesterov:
                params[i] += momentum * velocity[i] - learning_rate * grads[i]
            else:
                params[i] += velocity[i]


@njit(**JIT_OPTIONS)
def adam_update(params, grads, m, v, learning_rate, beta_1, beta_2, epsilon, step, weight_decay):
    """Keras Adam (AdamW when weight_decay > 0: decoupled decay p -= lr * wd * p first)."""
    alpha = learning_rate * math.sqrt(1.0 - beta_2 ** step) / (1.0 - beta_1 ** step)
    for i in range(params.shape[0]):
        if weight_decay != 0.0:
            params[i] -= learning_rate * weight_decay * params[i]
        m[i] += (grads[i] - m[i]) * (1.0 - beta_1)
        v[i] += (grads[i] * grads[i] - v[i]) * (1.0 - beta_2)
        params[i] -= alpha * m[i] / (math.sqrt(v[i]) + epsilon)


@njit(**JIT_OPTIONS)
def rmsprop_update(params, grads, velocity, average_grad, momentum_buffer, learning_rate, rho, momentum,
                   epsilon, centered):
    """Keras RMSprop, optionally centered and with momentum."""
    for i in range(params.shape[0]):
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


@njit(**JIT_OPTIONS)
def adagrad_update(params, grads, accumulator, learning_rate, epsilon):
    """Keras Adagrad: accumulator += g^2; p -= lr * g / sqrt(accumulator + epsilon)."""
    for i in range(params.shape[0]):
        accumulator[i] += grads[i] * grads[i]
        params[i] -= learning_rate * grads[i] / math.sqrt(accumulator[i] + epsilon)


@njit(**JIT_OPTIONS)
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
