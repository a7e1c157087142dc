"""Problem sizes and inputs shared by the benchmarks of numlstm and its peers."""

import time

import numpy as np

# name: (batch, timesteps, features, units)
SIZES = {
    "tiny": (1, 100, 1, 32),
    "small": (16, 100, 8, 64),
    "medium": (32, 100, 32, 128),
    "large": (64, 50, 128, 256),
    "xlarge": (64, 25, 512, 512),
}


def lstm_inputs(size, dtype=np.float32, seed=0):
    """Input, Keras-layout weights and an upstream gradient for one size."""
    B, T, F, H = SIZES[size]
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.sqrt(H)
    return {
        "x": rng.standard_normal((B, T, F)).astype(dtype),
        "kernel": rng.uniform(-scale, scale, (F, 4 * H)).astype(dtype),
        "recurrent_kernel": rng.uniform(-scale, scale, (H, 4 * H)).astype(dtype),
        "bias": rng.uniform(-scale, scale, 4 * H).astype(dtype),
        "d_outputs": rng.standard_normal((B, T, H)).astype(dtype) / (B * T),
    }


def train_step_flops(size):
    """Multiply-adds x 2 of one forward + backward pass to the weights.

    Forward: x and h times the weights (F + H); backward: dh through the
    recurrent weights (H) and both weight gradients (F + H); no dx.
    """
    B, T, F, H = SIZES[size]
    return 2 * B * T * 4 * H * (2 * F + 3 * H)


def timings(function, seconds):
    """Seconds of each call of ``function`` for ``seconds`` (at least 5 calls)."""
    samples = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 5:
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return samples


# name: (batch, timesteps, rows, cols, channels, filters, kernel); the frames are square, padding "same"
CONVLSTM_SIZES = {
    "small": (4, 10, 16, 16, 1, 16, 3),
    "moving-mnist": (8, 10, 16, 16, 16, 64, 5),  # Shi et al.'s 64x64 frames as 16x16 patches of 4x4 pixels
    "large": (4, 10, 32, 32, 8, 64, 3),
}


def convlstm_inputs(size, dtype=np.float32, seed=0):
    """Input (channels last), Keras-layout weights and an upstream gradient of the sequence, for one size."""
    B, T, rows, cols, C, F, k = CONVLSTM_SIZES[size]
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.sqrt(k * k * (C + F))
    return {
        "x": rng.standard_normal((B, T, rows, cols, C)).astype(dtype),
        "kernel": rng.uniform(-scale, scale, (k, k, C, 4 * F)).astype(dtype),
        "recurrent_kernel": rng.uniform(-scale, scale, (k, k, F, 4 * F)).astype(dtype),
        "bias": rng.uniform(-scale, scale, 4 * F).astype(dtype),
        "d_outputs": rng.standard_normal((B, T, rows, cols, F)).astype(dtype) / (B * T * rows * cols),
    }


def convlstm_train_step_flops(size):
    """Multiply-adds x 2 of one forward + backward pass to the weights ("same" padding, no dx): the input and
    recurrent convolutions forward, the recurrent one's input gradient, and both kernels' gradients."""
    B, T, rows, cols, C, F, k = CONVLSTM_SIZES[size]
    return 2 * B * T * rows * cols * k * k * 4 * F * (2 * C + 3 * F)


def keras_jax():
    """The ``keras`` module on JAX; NotImplementedError (asv: skip) where Keras or JAX is missing."""
    import os

    os.environ["KERAS_BACKEND"] = "jax"
    try:
        import jax  # noqa: F401
        import keras
    except ImportError:
        raise NotImplementedError("keras or jax is not installed")
    if keras.backend.backend() != "jax":
        raise NotImplementedError("keras was imported with another backend")
    return keras


def keras_jitted_passes(model, inputs):
    """(forward, train_step) of a built Keras model on JAX, each XLA-jitted, warmed up and blocking until done:
    the forward pass of ``inputs["x"]``, and the gradient of sum(output * inputs["d_outputs"]) with respect
    to the trainable weights."""
    import jax
    import jax.numpy as jnp

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    x = jnp.asarray(inputs["x"])
    d_outputs = jnp.asarray(inputs["d_outputs"])

    def forward(trainable, x):
        return model.stateless_call(trainable, non_trainable, x)[0]

    def loss(trainable, x):
        return jnp.sum(forward(trainable, x) * d_outputs)

    forward_jit = jax.jit(forward)
    grad_jit = jax.jit(jax.grad(loss))

    def run_forward():
        forward_jit(trainable, x).block_until_ready()

    def run_train_step():
        jax.block_until_ready(grad_jit(trainable, x))

    run_forward()
    run_train_step()
    return run_forward, run_train_step
