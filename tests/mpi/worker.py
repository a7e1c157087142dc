"""A training script for the MPI tests, run as `mpiexec -n N python worker.py MODE OUT` or plainly.

Modes: train (seeded stacked bidirectional model, shuffle on, dropout off;
writes every rank's weights after every epoch, and rank 0's final weights,
evaluate and predict results), functional (a two-input, two-output model with
sample weights: final weights, logs, evaluate and predict results), small (a one-LSTM model, two short epochs:
for the CUDA simulator), convlstm (a ConvLSTM2D next-frame model: final weights and predictions), fail-in-fit, fail-outside-fit, stateful,
resume (BackupAndRestore; CRASH_AT_EPOCH=k makes rank 1 fail after epoch k), threads (each rank
prints its node's rank count and the threads its passes run on).
"""

import os
import pathlib
import sys

import numpy as np

import numlstm
from numlstm import backend, callbacks, layers
from numlstm.distributed import MPIStrategy

mode, out = sys.argv[1], pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else None
strategy = MPIStrategy()


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6, 2))
    return x, np.stack([x[:, :, 0].sum(axis=1), x[:, :, 1].mean(axis=1)], axis=1)


def model(stateful=False):
    numlstm.utils.set_random_seed(1)
    net = numlstm.Sequential([
        layers.Input((6, 2), batch_size=10 if stateful else None),
        layers.Bidirectional(layers.LSTM(5, return_sequences=True, dtype="float64", stateful=stateful)),
        layers.LSTM(4, dtype="float64"),
        layers.Dense(2, dtype="float64"),
    ])
    net.compile(numlstm.optimizers.Adam(0.02), "mse", metrics=["mae"])
    return net


x, y = data()
if mode == "train":
    net = model()

    def record(epoch, logs):
        np.save(out / f"rank{strategy.rank}_epoch{epoch}.npy", np.concatenate([w.ravel() for w in net.get_weights()]))

    history = net.fit(x, y, batch_size=10, epochs=3, shuffle=True, validation_data=(x[:13], y[:13]), verbose=0,
                      callbacks=[callbacks.LambdaCallback(on_epoch_end=record),
                                 callbacks.EarlyStopping(patience=1, min_delta=0.05),
                                 callbacks.CSVLogger(out / "log.csv"),
                                 callbacks.ModelCheckpoint(out / "best.numlstm", save_best_only=True)],
                      distribute=strategy)
    evaluation = net.evaluate(x, y, batch_size=7, distribute=strategy, return_dict=True)
    prediction = net.predict(x, batch_size=7, distribute=strategy)
    np.savez(out / f"final_rank{strategy.rank}.npz", *net.get_weights(), prediction=prediction,
             evaluation=[evaluation["loss"], evaluation["mae"]], val_loss=history.history["val_loss"],
             loss=history.history["loss"],
             plain_floats=all(type(v) is float for values in [*history.history.values(), evaluation.values()]
                              for v in values))
elif mode == "small":
    numlstm.utils.set_random_seed(1)
    net = numlstm.Sequential([layers.Input((6, 2)), layers.LSTM(3, dtype="float64"), layers.Dense(2, dtype="float64")])
    net.compile(numlstm.optimizers.Adam(0.02), "mse")
    history = net.fit(x[:20], y[:20], batch_size=10, epochs=2, shuffle=True, verbose=0, distribute=strategy)
    np.savez(out / f"final_rank{strategy.rank}.npz", *net.get_weights(), loss=history.history["loss"],
             prediction=net.predict(x[:20], batch_size=10, distribute=strategy),
             on_device=backend.is_device_array(net.parameter_buffer))
elif mode == "convlstm":
    numlstm.utils.set_random_seed(1)
    frames = numlstm.datasets.moving_shapes(20, timesteps=5, size=6, objects=1, dtype="float64")
    net = numlstm.Sequential([layers.Input((4, 6, 6, 1)),
                              layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True, dtype="float64"),
                              layers.ConvLSTM2D(1, 3, padding="same", peephole=True, dtype="float64")])
    net.compile(numlstm.optimizers.Adam(0.02), "mse")
    history = net.fit(frames[:, :4], frames[:, 4], batch_size=5, epochs=2, shuffle=True, verbose=0,
                      distribute=strategy)
    np.savez(out / f"final_rank{strategy.rank}.npz", *net.get_weights(), loss=history.history["loss"],
             prediction=net.predict(frames[:, :4], batch_size=5, distribute=strategy))
elif mode == "functional":  # two inputs, two outputs, per-output metrics and sample weights
    numlstm.utils.set_random_seed(1)
    window = layers.Input((6, 2), dtype="float64", name="window")
    static = layers.Input((3,), dtype="float64", name="static")
    h = layers.LSTM(4, dtype="float64")(window)
    merged = layers.Concatenate()([h, static])
    value = layers.Dense(1, dtype="float64", name="value")(merged)
    label = layers.Dense(3, activation="softmax", dtype="float64", name="label")(merged)
    net = numlstm.Model([window, static], [value, label])
    net.compile(numlstm.optimizers.Adam(0.02), ["mse", "sparse_categorical_crossentropy"],
                metrics=[["mae"], ["accuracy"]], loss_weights=[1.0, 0.5])
    rng = np.random.default_rng(2)
    features, labels, weights = rng.standard_normal((40, 3)), rng.integers(0, 3, 40), rng.uniform(0.5, 2, 40)
    history = net.fit([x, features], [y[:, 0], labels], sample_weight=weights, batch_size=10, epochs=2,
                      validation_data=([x[:13], features[:13]], [y[:13, 0], labels[:13]]), verbose=0,
                      distribute=strategy)
    evaluation = net.evaluate([x, features], [y[:, 0], labels], batch_size=7, distribute=strategy)
    prediction = net.predict([x, features], batch_size=7, distribute=strategy)
    np.savez(out / f"final_rank{strategy.rank}.npz", *net.get_weights(), value=prediction[0], label=prediction[1],
             evaluation=evaluation, **{key: values for key, values in history.history.items()})
elif mode == "fail-in-fit":
    def fail(epoch, logs):
        if strategy.rank == strategy.size - 1:
            raise RuntimeError(f"boom from rank {strategy.rank}")

    model().fit(x, y, batch_size=10, epochs=3, verbose=0, distribute=strategy,
                callbacks=[callbacks.LambdaCallback(on_epoch_end=fail)])
elif mode == "fail-outside-fit":
    if strategy.rank == strategy.size - 1:
        raise RuntimeError(f"outside fit, rank {strategy.rank}")
    model().fit(x, y, batch_size=10, epochs=50, verbose=0, distribute=strategy)
elif mode == "stateful":
    model(stateful=True).fit(x, y, batch_size=10, epochs=1, verbose=0, distribute=strategy)
elif mode == "resume":
    crash_at = int(os.environ.get("CRASH_AT_EPOCH", "-1"))

    def crash(epoch, logs):
        if epoch == crash_at and strategy.rank == strategy.size - 1:
            raise RuntimeError("simulated crash")

    net = model()
    net.fit(x, y, batch_size=10, epochs=4, verbose=0, distribute=strategy,
            callbacks=[callbacks.BackupAndRestore(out / "backup"), callbacks.LambdaCallback(on_epoch_end=crash)])
    if strategy.is_main:
        np.savez(out / "resumed.npz", *net.get_weights())
elif mode == "threads":
    print(f"rank {strategy.rank}: local_ranks {strategy.local_ranks} threads {numlstm.threads.compute_threads()} "
          f"cores {numlstm.threads.available_cores()}", flush=True)
