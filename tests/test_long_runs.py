"""Long sequences, long trainings and concurrent use: finite results, memory linear in T, no growth, no races."""

import concurrent.futures
import pathlib
import tracemalloc

import numpy as np

import numlstm
from helpers.cases import random_lstm_args
from numlstm import callbacks, layers
from numlstm.preprocessing import stateful_chunks


def _resident_bytes():
    return int(pathlib.Path("/proc/self/statm").read_text().split()[1]) * 4096


def test_100000_steps_forward_stay_finite_and_bounded(rng):
    args = random_lstm_args(rng, B=1, T=100_000, F=2, H=8, dtype=np.float32, scale=1.5)
    out, h_n, c_n, _ = numlstm.lstm_forward(**args)
    assert np.isfinite(out).all() and np.isfinite(c_n).all() and np.abs(out).max() <= 1


def test_10000_steps_of_training_with_clipping(rng):
    x = rng.standard_normal((2, 10_000, 2)).astype(np.float32)
    y = x[:, -50:, 0].sum(axis=1, keepdims=True)
    numlstm.utils.set_random_seed(0)
    model = numlstm.Sequential([layers.Input((10_000, 2)), layers.LSTM(8), layers.Dense(1)])
    model.compile(numlstm.optimizers.Adam(0.01, clipnorm=1.0), "mse")
    history = model.fit(x, y, batch_size=2, epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert all(np.isfinite(w).all() for w in model.get_weights())


def _training_peak(rng, steps):
    args = random_lstm_args(rng, B=4, T=steps, F=4, H=16, dtype=np.float32)
    tracemalloc.start()
    out, _, _, workspace = numlstm.lstm_forward(**args)
    numlstm.lstm_backward(workspace, np.ones_like(out))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_training_memory_grows_linearly_with_sequence_length(rng):
    _training_peak(rng, 10)  # compile first: the JIT's own allocations are not the point
    short, long = _training_peak(rng, 2_000), _training_peak(rng, 8_000)
    assert 3.5 < long / short < 4.5, (short, long)


def test_stateful_chunks_carry_state_like_one_whole_sequence(rng):
    x = rng.standard_normal((3, 60, 2))
    y = rng.standard_normal((3, 60, 1))
    chunk_x, chunk_y = stateful_chunks(x, y, 20)
    assert chunk_x.shape == (9, 20, 2)
    np.testing.assert_array_equal(chunk_x[3:6], x[:, 20:40])  # batch k holds chunk k of every sequence
    numlstm.utils.set_random_seed(2)
    whole = numlstm.Sequential([layers.Input((60, 2)), layers.LSTM(4, return_sequences=True, dtype="float64"),
                                layers.Dense(1, dtype="float64")])
    chunked = numlstm.Sequential([layers.Input((20, 2), batch_size=3),
                                  layers.LSTM(4, return_sequences=True, stateful=True, dtype="float64"),
                                  layers.Dense(1, dtype="float64")])
    chunked.set_weights(whole.get_weights())
    outputs = np.concatenate([chunked.predict(chunk_x[3 * k:3 * k + 3], batch_size=3) for k in range(3)], axis=1)
    np.testing.assert_allclose(outputs, whole.predict(x), rtol=1e-12, atol=1e-14)
    chunked.compile(numlstm.optimizers.Adam(0.01), "mse")
    chunked.reset_states()
    history = chunked.fit(chunk_x, chunk_y, batch_size=3, epochs=3, shuffle=False, verbose=0,
                          callbacks=[callbacks.LambdaCallback(on_epoch_begin=lambda e, l: chunked.reset_states())])
    assert np.isfinite(history.history["loss"]).all()


def test_200_epochs_do_not_grow_resident_memory(rng):
    x = rng.standard_normal((64, 20, 3)).astype(np.float32)
    y = x.mean(axis=1)
    numlstm.utils.set_random_seed(0)
    model = numlstm.Sequential([layers.Input((20, 3)), layers.LSTM(16, dropout=0.1), layers.Dense(3)])
    model.compile(numlstm.optimizers.Adam(0.01, clipnorm=1.0), "mse", metrics=["mae"])
    resident = {}

    def record(epoch, logs):
        resident[epoch] = _resident_bytes()

    model.fit(x, y, batch_size=16, epochs=200, verbose=0, validation_split=0.25,
              callbacks=[callbacks.LambdaCallback(on_epoch_end=record), callbacks.History()])
    growth = (resident[199] - resident[19]) / resident[19]
    assert growth < 0.05, f"resident memory grew {100 * growth:.1f}% from epoch 20 to 200"


def test_predict_from_several_threads_at_once(rng):
    numlstm.utils.set_random_seed(0)
    model = numlstm.Sequential([layers.Input((30, 3)), layers.Bidirectional(layers.LSTM(8, return_sequences=True)),
                                layers.LSTM(4), layers.Dense(2)])
    inputs = [rng.standard_normal((int(n), 30, 3)).astype(np.float32) for n in rng.integers(1, 40, 16)]
    expected = [model.predict(x) for x in inputs]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            results = list(pool.map(model.predict, inputs))
            for got, want in zip(results, expected):
                np.testing.assert_array_equal(got, want)
