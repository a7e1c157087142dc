"""What the GPU suites share: the active GPU options, one time loop forced on, and models that run on both
devices (every layer, merge mode, loss family and optimizer) with their check against the CPU."""

import numpy as np
import pytest

import numlstm
from numlstm import dispatch, layers, losses, optimizers


def active_gpu_options():
    """The ``GpuKernelOptions`` the kernels read now: the simulator's preset in the simulator, else the
    device's (change them with :func:`set_gpu_options`)."""
    from numlstm.kernels import options

    return options.gpu_options().kernels


def set_gpu_options(monkeypatch, **changes):
    """The named fields of the GPU preset in force (kernel or memory options) changed for one test."""
    from numlstm.kernels import options

    name = "SIMULATOR_PRESET" if dispatch.simulator_enabled() else "DEVICE_PRESET"
    monkeypatch.setattr(options, name, getattr(options, name).replace(**changes))


def force_time_loop(monkeypatch, **options):
    """One time loop forced on (one thread per unit when ``options`` name none), the others off: on a GPU the
    defaults pick the persistent kernels or the split steps by shape."""
    set_gpu_options(monkeypatch, **{"persistent_below": 0, "split_below": 0, "gemm_steps_from": 2**62, **options})


def embedding_model():
    model = numlstm.Sequential([
        layers.Embedding(6, 3, mask_zero=True, dtype="float64"),
        layers.Bidirectional(layers.LSTM(3, return_sequences=True, peephole=True, dtype="float64"), merge_mode="sum"),
        layers.LSTM(2, cifg=True, go_backwards=True, dtype="float64"),
        layers.Dense(1, dtype="float64"),
    ])
    model.compile(optimizers.Adam(0.05), "mse")
    rng = np.random.default_rng(0)
    x = rng.integers(1, 6, (6, 4))
    x[0, 2:] = 0  # padding: masked steps
    return model, x, rng.standard_normal((6, 1))


def masking_dropout_model():
    model = numlstm.Sequential([
        layers.Masking(0.0, dtype="float64"),
        layers.Bidirectional(layers.LSTM(2, return_sequences=True, dropout=0.2, recurrent_dropout=0.3,
                                         dtype="float64")),
        layers.Dropout(0.3, dtype="float64"),
        layers.LSTM(2, go_backwards=True, dtype="float64"),
        layers.Dense(3, activation="softmax", dtype="float64"),
    ])
    model.compile(optimizers.RMSprop(0.05, centered=True, momentum=0.5, clipnorm=0.5),
                  losses.SparseCategoricalCrossentropy())
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 4, 2))
    x[1, 3] = 0.0
    return model, x, rng.integers(0, 3, 6)


def merged_model():
    model = numlstm.Sequential([
        layers.Input((4, 2)),
        layers.Bidirectional(layers.LSTM(2, dtype="float64"), merge_mode="ave"),
        layers.Dense(2, activation="tanh", dtype="float64"),
        layers.Dense(2, dtype="float64"),
    ])
    model.compile(optimizers.SGD(0.1, momentum=0.9, nesterov=True, clipvalue=0.1),
                  losses.BinaryCrossentropy(from_logits=True))
    rng = np.random.default_rng(2)
    return model, rng.standard_normal((6, 4, 2)), (rng.random((6, 2)) > 0.5).astype(float)


# test_gpu_api runs each through fit, predict and evaluate; test_gpu_barriers and test_gpu_memory too.
MODELS = {"embedding": embedding_model, "masking_dropout": masking_dropout_model, "merged": merged_model}


def run_on(make, device_name):
    """A seeded model of ``make`` on ``device_name``: its loss and gradients, the losses of two epochs of fit,
    its weights, predict and evaluate."""
    with numlstm.device(device_name):
        numlstm.utils.set_random_seed(3)
        model, x, y = make()
        loss, grads = model.compute_gradients(x, y)
        history = model.fit(x, y, batch_size=3, epochs=2, verbose=0)
        return loss, grads, history.history["loss"], model.get_weights(), model.predict(x), model.evaluate(x, y)


def assert_fit_matches_cpu(make):
    """``run_on`` the GPU against the CPU, to float64 rounding."""
    cpu, gpu = run_on(make, "cpu"), run_on(make, "cuda")
    assert gpu[0] == pytest.approx(cpu[0], rel=1e-12)
    for got, want in zip(gpu[1], cpu[1]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gpu[2], cpu[2], rtol=1e-10)
    for got, want in zip(gpu[3], cpu[3]):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(gpu[4], cpu[4], rtol=1e-9, atol=1e-11)
    assert gpu[5] == pytest.approx(cpu[5], rel=1e-9)
