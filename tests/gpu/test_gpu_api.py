"""The Keras-like API under ``numlstm.device("cuda")`` gives what it gives on the CPU.

Runs on a GPU or in the CUDA simulator (see test_gpu_lstm.py). Layers and
models have no device code: only the LSTM passes move, so every result must
match the CPU's to float64 rounding.
"""

import numpy as np
import pytest

import numlstm
from numlstm import dispatch, layers

pytestmark = pytest.mark.skipif(not (dispatch.simulator_enabled() or dispatch.gpu_available()),
                                reason="needs a CUDA GPU or NUMBA_ENABLE_CUDASIM=1")


def _model():
    numlstm.utils.set_random_seed(3)
    model = numlstm.Sequential([
        layers.Embedding(6, 3, mask_zero=True, dtype="float64"),
        layers.Bidirectional(layers.LSTM(3, return_sequences=True, peephole=True, dtype="float64"), merge_mode="sum"),
        layers.LSTM(2, cifg=True, go_backwards=True, dtype="float64"),
        layers.Dense(1, dtype="float64"),
    ])
    model.compile(numlstm.optimizers.Adam(0.05), "mse")
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 6, (6, 4))
    x[0, 2:] = 0  # padding: masked steps
    return x, rng.standard_normal((6, 1))


def _run(device_name):
    x, y = _data()
    with numlstm.device(device_name):
        model = _model()
        loss, grads = model.compute_gradients(x, y)
        history = model.fit(x, y, batch_size=3, epochs=2, verbose=0)
        return loss, grads, history.history["loss"], model.get_weights(), model.predict(x)


def test_fit_predict_and_gradients_match_the_cpu():
    cpu, gpu = _run("cpu"), _run("cuda")
    assert gpu[0] == pytest.approx(cpu[0], rel=1e-12)
    for got, want in zip(gpu[1], cpu[1]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gpu[2], cpu[2], rtol=1e-10)
    for got, want in zip(gpu[3], cpu[3]):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(gpu[4], cpu[4], rtol=1e-9, atol=1e-11)


def test_200_epochs_on_the_gpu_path_do_not_grow_resident_memory():
    import pathlib

    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 1))
    resident = {}

    def record(epoch, logs):
        resident[epoch] = int(pathlib.Path("/proc/self/statm").read_text().split()[1]) * 4096

    with numlstm.device("cuda"):
        numlstm.utils.set_random_seed(0)
        model = numlstm.Sequential([layers.Input((3, 2)), layers.LSTM(2, dtype="float64"), layers.Dense(1, dtype="float64")])
        model.compile("adam", "mse")
        model.fit(x, y, batch_size=4, epochs=200, verbose=0,
                  callbacks=[numlstm.callbacks.LambdaCallback(on_epoch_end=record)])
    growth = (resident[199] - resident[19]) / resident[19]
    assert growth < 0.05, f"resident memory grew {100 * growth:.1f}% from epoch 20 to 200"
