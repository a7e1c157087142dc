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
