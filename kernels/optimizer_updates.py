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
