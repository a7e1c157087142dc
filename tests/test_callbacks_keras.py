"""Callbacks against Keras 3 itself: the same decisions, files and messages for the same logs.

Each differential test drives a Keras callback and numlstm's with the same
sequence of epoch logs, through the same hooks, on a stand-in model whose
one weight records the epoch that set it (so "which epoch's weights were
restored" is a number), and compares what they did. The tests at the end
need no Keras: they pin the same semantics with hand-worked values, so CI
without Keras checks them too.
"""

import math
import os

import numpy as np
import pytest

import numlstm
from numlstm import callbacks, layers

os.environ.setdefault("KERAS_BACKEND", "jax")
# Keras' own reading of its float32 variables warns under numpy 2; nothing of ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("Keras runs on another backend")
    return keras


class StandIn:
    """What callbacks touch on a model; its weight is the epoch that set it (-1 before training)."""

    def __init__(self, optimizer=None, metrics=()):
        self.weights = [np.array([-1.0])]
        self.stop_training = False
        self.optimizer = optimizer
        self.metrics = list(metrics)

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save(self, path, overwrite=True):
        with open(path, "w") as file:
            file.write(f"model {self.weights[0][0]:g}")

    def save_weights(self, path, overwrite=True):
        with open(path, "w") as file:
            file.write(f"weights {self.weights[0][0]:g}")


def drive(callback, model, logs_per_epoch, first_epoch=0):
    """fit's order of hooks over the given epoch logs; returns what happened."""
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin({})
    seen = []
    for epoch, logs in enumerate(logs_per_epoch, start=first_epoch):
        callback.on_epoch_begin(epoch, {})
        model.weights = [np.array([float(epoch)])]  # this epoch's training
        logs = dict(logs)
        callback.on_epoch_end(epoch, logs)
        seen.append(logs)
        if model.stop_training:
            break
    callback.on_train_end({})
    return {"epochs": len(seen), "weight": float(model.weights[0][0]), "logs": seen,
            "learning_rates": [logs.get("learning_rate") for logs in seen]}


def _rate(optimizer):
    """A numlstm optimizer's rate as Keras holds it, in float32."""
    return float(np.float32(optimizer.learning_rate))


def values(monitor, sequence):
    return [{monitor: value, "loss": 1.0} for value in sequence]


def both(keras_callback, our_callback, logs_per_epoch, capsys, keras_model=None, our_model=None, first_epoch=0):
    """Run Keras' callback and ours on the same logs; their results and printed text must agree."""
    capsys.readouterr()
    theirs = drive(keras_callback, keras_model or StandIn(), logs_per_epoch, first_epoch)
    their_text = capsys.readouterr().out
    ours = drive(our_callback, our_model or StandIn(), logs_per_epoch, first_epoch)
    our_text = capsys.readouterr().out
    assert ours == theirs
    assert our_text == their_text
    return ours, our_text


# Hand-made monitored sequences: improving, plateaus, noise around min_delta.
IMPROVING = [1.0, 0.8, 0.6, 0.5, 0.4, 0.35]
PLATEAU = [1.0, 0.7, 0.7, 0.7, 0.69, 0.7, 0.7, 0.7, 0.7, 0.7]
NOISY = [1.0, 0.95, 0.96, 0.91, 0.89, 0.905, 0.8, 0.85, 0.79, 0.795, 0.81, 0.9]
WORSENING = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
BUMPY = [2.0, 1.0, 1.5, 0.9, 1.2, 1.3, 0.95, 0.5, 0.7, 0.8, 0.9, 1.0, 1.1]
SEQUENCES = {"improving": IMPROVING, "plateau": PLATEAU, "noisy": NOISY, "worsening": WORSENING, "bumpy": BUMPY}

EARLY_STOPPING_OPTIONS = [
    {},
    {"patience": 1},
    {"patience": 2},
    {"patience": 3, "restore_best_weights": True},
    {"patience": 0, "restore_best_weights": True},
    {"patience": 2, "min_delta": 0.05},
    {"patience": 1, "min_delta": 0.01, "restore_best_weights": True},
    {"patience": 2, "baseline": 0.3, "restore_best_weights": True},
    {"patience": 2, "baseline": 0.92},
    {"patience": 0, "baseline": 0.1},
    {"patience": 1, "start_from_epoch": 3, "restore_best_weights": True},
    {"patience": 0, "start_from_epoch": 2},
    {"patience": 100, "restore_best_weights": True},
    {"patience": 2, "mode": "min"},
]


@pytest.mark.parametrize("verbose", [0, 1])
@pytest.mark.parametrize("options", EARLY_STOPPING_OPTIONS, ids=str)
@pytest.mark.parametrize("sequence", SEQUENCES, ids=str)
def test_early_stopping_matches_keras(keras, capsys, sequence, options, verbose):
    logs = values("val_loss", SEQUENCES[sequence])
    theirs = keras.callbacks.EarlyStopping(verbose=verbose, **options)
    ours = callbacks.EarlyStopping(verbose=verbose, **options)
    both(theirs, ours, logs, capsys)
    assert (ours.stopped_epoch, ours.best, ours.best_epoch, ours.wait) == \
        (theirs.stopped_epoch, theirs.best, theirs.best_epoch, theirs.wait)


@pytest.mark.parametrize("options", [{"patience": 1}, {"patience": 0, "restore_best_weights": True},
                                     {"patience": 2, "start_from_epoch": 4, "restore_best_weights": True}], ids=str)
def test_early_stopping_matches_keras_from_a_later_initial_epoch(keras, capsys, options):
    for sequence in SEQUENCES.values():
        logs = values("loss", sequence)
        both(keras.callbacks.EarlyStopping("loss", verbose=1, **options),
             callbacks.EarlyStopping("loss", verbose=1, **options), logs, capsys, first_epoch=3)


@pytest.mark.parametrize("options", [{"patience": 1}, {"patience": 2, "min_delta": 0.02, "restore_best_weights": True},
                                     {"patience": 1, "baseline": 0.9, "restore_best_weights": True}], ids=str)
def test_early_stopping_mode_max_matches_keras(keras, capsys, options):
    accuracies = [0.5, 0.6, 0.61, 0.6, 0.7, 0.69, 0.7, 0.72, 0.71, 0.7, 0.65]
    for mode in ("max", "min"):
        both(keras.callbacks.EarlyStopping("val_accuracy", mode=mode, verbose=1, **options),
             callbacks.EarlyStopping("val_accuracy", mode=mode, verbose=1, **options),
             values("val_accuracy", accuracies), capsys)


def test_early_stopping_instance_reused_over_fits_matches_keras(keras, capsys):
    theirs = keras.callbacks.EarlyStopping("loss", patience=1, min_delta=0.01, verbose=1, restore_best_weights=True)
    ours = callbacks.EarlyStopping("loss", patience=1, min_delta=0.01, verbose=1, restore_best_weights=True)
    for sequence in (BUMPY, NOISY, PLATEAU):
        both(theirs, ours, values("loss", sequence), capsys)
    assert ours.min_delta == theirs.min_delta  # signed once, as Keras does, not once per fit


def test_values_closer_than_float32_resolves_are_equal_as_in_keras(keras, capsys):
    sequence = [1.0, 1.0 - 1e-9, 1.0 - 2e-9, 1.0 - 1e-7, 0.9]
    for options in ({"patience": 0}, {"patience": 1}, {"patience": 0, "min_delta": 1e-9}):
        both(keras.callbacks.EarlyStopping("loss", **options), callbacks.EarlyStopping("loss", **options),
             values("loss", sequence), capsys)
    result, _ = both(keras.callbacks.EarlyStopping("loss"), callbacks.EarlyStopping("loss"),
                     values("loss", sequence), capsys)
    assert result["epochs"] == 2


def _keras_model_with_metrics(keras):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy",
                  metrics=["accuracy", "mae", "mse", keras.metrics.AUC(name="auc"),
                           keras.metrics.Precision(name="precision")])
    x = np.random.default_rng(0).standard_normal((4, 3)).astype("float32")
    model.evaluate(x, np.eye(2)[[0, 1, 0, 1]], verbose=0)  # builds the compiled metrics
    return model


class Constant(numlstm.metrics.Metric):
    """A custom metric that reports 0; only its name and direction matter here."""

    def reset(self):
        pass

    def update(self, y_true, y_pred, sample_weight=None):
        pass

    def result(self):
        return 0.0

    def get_state(self):
        return (0.0,)

    def set_state(self, *values):
        pass


class Upward(Constant):
    _direction = "up"  # declared as Keras' metrics declare it


def _numlstm_model_with_metrics():
    model = numlstm.Sequential([layers.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy",
                  metrics=["accuracy", "mae", "mse", Upward("auc"), Constant("precision")])
    return model


def _direction(callback, model, monitor):
    """'min', 'max', or the error that auto mode raises, once the callback has seen two epochs."""
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin({})
    try:
        for epoch, logs in enumerate(values(monitor, [1.0, 2.0])):
            callback.on_epoch_end(epoch, logs)
    except ValueError as error:
        return "error: " + str(error).split(" callback received", 1)[0]
    return {"less": "min", "greater": "max"}[callback.monitor_op.__name__]


@pytest.mark.parametrize("monitor", ["loss", "val_loss", "accuracy", "val_accuracy", "mae", "val_mae", "mse",
                                     "val_auc", "auc", "precision", "val_precision", "val_val_loss", "loss_2",
                                     "recall"])
def test_auto_mode_decides_as_keras_does(keras, monitor):
    """Keras decides "auto" by the name: loss is minimised, metrics say which way; others are an error."""
    keras_model, our_model = _keras_model_with_metrics(keras), _numlstm_model_with_metrics()
    theirs = _direction(keras.callbacks.EarlyStopping(monitor), keras_model, monitor)
    ours = _direction(callbacks.EarlyStopping(monitor), our_model, monitor)
    if monitor.removeprefix("val_") == "precision":
        # Keras' Precision says "up"; numlstm has no precision metric, and a
        # custom one that declares no direction is an error, as it is in Keras.
        assert theirs == "max" and ours == "error: EarlyStopping"
    else:
        assert ours == theirs
    # With a stand-in model (no metrics), only loss names resolve, in both.
    assert _direction(callbacks.EarlyStopping(monitor), StandIn(), monitor) == \
        _direction(keras.callbacks.EarlyStopping(monitor), StandIn(), monitor)


REDUCE_OPTIONS = [
    {},
    {"patience": 1},
    {"patience": 2, "factor": 0.5},
    {"patience": 1, "factor": 0.5, "cooldown": 2},
    {"patience": 2, "factor": 0.2, "cooldown": 1, "min_lr": 0.003},
    {"patience": 1, "factor": 0.5, "min_lr": 0.01},
    {"patience": 0, "factor": 0.5, "cooldown": 1},
    {"patience": 1, "min_delta": 0.05, "factor": 0.3},
    {"patience": 1, "min_delta": 0.0, "factor": 0.7, "cooldown": 3, "min_lr": 1e-4},
]


@pytest.mark.parametrize("verbose", [0, 1])
@pytest.mark.parametrize("options", REDUCE_OPTIONS, ids=str)
@pytest.mark.parametrize("sequence", SEQUENCES, ids=str)
def test_reduce_lr_on_plateau_matches_keras(keras, capsys, sequence, options, verbose):
    logs = values("val_loss", SEQUENCES[sequence])
    theirs, ours = keras.callbacks.ReduceLROnPlateau(verbose=verbose, **options), \
        callbacks.ReduceLROnPlateau(verbose=verbose, **options)
    their_optimizer, our_optimizer = keras.optimizers.SGD(0.01), numlstm.optimizers.SGD(0.01)
    result, _ = both(theirs, ours, logs, capsys, StandIn(their_optimizer), StandIn(our_optimizer))
    assert _rate(our_optimizer) == float(keras.ops.convert_to_numpy(their_optimizer.learning_rate))
    assert (ours.wait, ours.cooldown_counter, ours.best) == (theirs.wait, theirs.cooldown_counter, theirs.best)


def test_reduce_lr_on_plateau_mode_max_and_reuse_match_keras(keras, capsys):
    accuracies = [0.5, 0.6, 0.6, 0.6, 0.61, 0.6, 0.6, 0.6, 0.6, 0.6]
    theirs = keras.callbacks.ReduceLROnPlateau("val_accuracy", factor=0.5, patience=2, mode="max", verbose=1)
    ours = callbacks.ReduceLROnPlateau("val_accuracy", factor=0.5, patience=2, mode="max", verbose=1)
    their_optimizer, our_optimizer = keras.optimizers.Adam(0.001), numlstm.optimizers.Adam(0.001)
    for _ in range(2):  # the second fit starts from the reduced rate and a fresh best
        both(theirs, ours, values("val_accuracy", accuracies), capsys, StandIn(their_optimizer),
             StandIn(our_optimizer))


def _files(folder):
    return {os.path.relpath(os.path.join(root, name), folder): open(os.path.join(root, name)).read()
            for root, _, names in os.walk(folder) for name in names}


CHECKPOINT_OPTIONS = [
    {},
    {"save_best_only": True},
    {"save_best_only": True, "initial_value_threshold": 0.7},
    {"save_best_only": True, "initial_value_threshold": 0.1},
    {"save_best_only": True, "mode": "max"},
    {"save_best_only": True, "save_weights_only": True},
    {"save_weights_only": True},
]


@pytest.mark.parametrize("filepath", ["model.keras", "checkpoints/{epoch:02d}-{val_loss:.2f}.keras",
                                      "e{epoch}-loss{loss:.3f}.keras"])
@pytest.mark.parametrize("options", CHECKPOINT_OPTIONS, ids=str)
@pytest.mark.parametrize("sequence", ["noisy", "bumpy", "plateau"])
def test_model_checkpoint_matches_keras(keras, capsys, tmp_path, monkeypatch, sequence, options, filepath):
    if options.get("save_weights_only"):
        filepath = filepath.replace(".keras", ".weights.h5")  # the suffix Keras requires for weights
    logs = values("val_loss", SEQUENCES[sequence])
    files = {}
    for name, module in (("keras", keras.callbacks), ("numlstm", callbacks)):
        folder = tmp_path / name
        folder.mkdir()
        monkeypatch.chdir(folder)  # the same relative paths in both runs, so the same messages
        capsys.readouterr()
        callback = module.ModelCheckpoint(filepath, verbose=1, **options)
        results = [drive(callback, StandIn(), logs), drive(callback, StandIn(), logs[:4])]  # best carries over
        files[name] = (results, _files(folder), capsys.readouterr().out)
    assert files["numlstm"] == files["keras"]


def test_model_checkpoint_mode_max_matches_keras(keras, capsys, tmp_path, monkeypatch):
    accuracies = [0.5, 0.6, 0.61, 0.6, 0.7, 0.69, 0.7, 0.72]
    files = {}
    for name, module in (("keras", keras.callbacks), ("numlstm", callbacks)):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        capsys.readouterr()
        drive(module.ModelCheckpoint("{epoch}-{val_accuracy:.2f}.keras", monitor="val_accuracy", verbose=1,
                                     save_best_only=True, mode="max"), StandIn(), values("val_accuracy", accuracies))
        files[name] = (_files(tmp_path / name), capsys.readouterr().out)
    assert files["numlstm"] == files["keras"]


def test_model_checkpoint_errors_match_keras(keras, tmp_path):
    messages = []
    for module in (keras.callbacks, callbacks):
        with pytest.raises(KeyError, match="Failed to format this callback filepath") as error:
            drive(module.ModelCheckpoint(str(tmp_path / "{val_mae}.keras")), StandIn(), values("val_loss", [1.0]))
        messages.append(str(error.value))
        with pytest.raises(ValueError, match="Unrecognized save_freq: batch"):
            module.ModelCheckpoint(str(tmp_path / "m.keras"), save_freq="batch")
    assert messages[0] == messages[1]
    with pytest.raises(ValueError, match="save_freq must be 'epoch' in numlstm, got 10"):
        callbacks.ModelCheckpoint(tmp_path / "m.numlstm", save_freq=10)


SCHEDULES = {
    "two arguments": lambda epoch, lr: lr if epoch < 2 else lr * 0.5,
    "one argument": lambda epoch: 0.1 / (epoch + 1),
    "numpy float32": lambda epoch, lr: np.float32(0.05 * 0.9 ** epoch),
    "numpy float64": lambda epoch, lr: np.float64(lr * math.exp(-0.1)),
}


@pytest.mark.parametrize("verbose", [0, 1])
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_learning_rate_scheduler_matches_keras(keras, capsys, schedule, verbose):
    their_optimizer, our_optimizer = keras.optimizers.SGD(0.01), numlstm.optimizers.SGD(0.01)
    result, text = both(keras.callbacks.LearningRateScheduler(SCHEDULES[schedule], verbose=verbose),
                        callbacks.LearningRateScheduler(SCHEDULES[schedule], verbose=verbose),
                        values("loss", IMPROVING), capsys, StandIn(their_optimizer), StandIn(our_optimizer))
    assert _rate(our_optimizer) == float(keras.ops.convert_to_numpy(their_optimizer.learning_rate))
    assert ("LearningRateScheduler setting learning rate to" in text) == bool(verbose)


def test_learning_rate_scheduler_rejects_what_keras_rejects(keras):
    for module, optimizer in ((keras.callbacks, keras.optimizers.SGD(0.01)),
                              (callbacks, numlstm.optimizers.SGD(0.01))):
        with pytest.raises(ValueError, match="The output of the `schedule` function should be a float. Got: 1$"):
            drive(module.LearningRateScheduler(lambda epoch, lr: 1), StandIn(optimizer), values("loss", [1.0]))
        with pytest.raises(ValueError, match="should be a float. Got: None"):
            drive(module.LearningRateScheduler(lambda epoch, lr: None), StandIn(optimizer), values("loss", [1.0]))


@pytest.mark.parametrize("logs_per_epoch", [
    [{"loss": 0.5, "mae": 0.25}, {"loss": 0.4, "mae": 0.2}],
    [{"loss": 0.5, "val_loss": 0.6}, {"loss": 0.4, "val_loss": 0.5, "extra": 1.0}],
    [{"val_loss": 0.6, "loss": 0.5, "mae": np.float32(0.125)}, {"loss": 0.4}],
    [{"loss": 0.5, "values": [1.0, 2.0], "name": "a,b"}],
    [{}, {"loss": 1.0}],
])
@pytest.mark.parametrize("separator", [",", ";"])
def test_csv_logger_writes_the_file_keras_writes(keras, tmp_path, logs_per_epoch, separator):
    contents = {}
    for name, module in (("keras", keras.callbacks), ("numlstm", callbacks)):
        path = tmp_path / f"{name}.csv"
        drive(module.CSVLogger(path, separator=separator), StandIn(), logs_per_epoch)
        appending = module.CSVLogger(path, separator=separator, append=True)
        drive(appending, StandIn(), logs_per_epoch)
        drive(appending, StandIn(), logs_per_epoch)
        empty = tmp_path / f"{name}-empty.csv"
        empty.write_text("")
        drive(module.CSVLogger(empty, separator=separator, append=True), StandIn(), logs_per_epoch)
        contents[name] = (path.read_bytes(), empty.read_bytes())
    assert contents["numlstm"] == contents["keras"]


def test_terminate_on_nan_matches_keras(keras, capsys):
    for loss in (float("nan"), float("inf"), -float("inf"), 1.0):
        printed, stopped = [], []
        for module in (keras.callbacks, callbacks):
            model = StandIn()
            callback = module.TerminateOnNaN()
            callback.set_model(model)
            callback.on_train_batch_end(3, {"loss": 0.5})
            callback.on_train_batch_end(4, {"loss": loss})
            stopped.append(model.stop_training)
            printed.append(capsys.readouterr().out)
        assert printed[0] == printed[1] and stopped[0] == stopped[1] == (not math.isfinite(loss))
        for module in (keras.callbacks, callbacks):
            callback = module.TerminateOnNaN(raise_error=True)
            callback.set_model(StandIn())
            if math.isfinite(loss):
                callback.on_train_batch_end(4, {"loss": loss})
            else:
                with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 4"):
                    callback.on_train_batch_end(4, {"loss": loss})


def test_history_and_lambda_callback_match_keras(keras):
    logs = values("val_loss", [1.0, 0.5, 0.25])
    results = []
    for module in (keras.callbacks, callbacks):
        history, model = module.History(), StandIn()
        drive(history, model, logs)
        drive(history, model, logs[:2])  # the same instance in a second fit
        seen = []
        lambdas = module.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch),
                                        on_train_end=lambda logs: seen.append("end"),
                                        on_batch_end=lambda batch, logs: seen.append(("batch", batch)))
        drive(lambdas, StandIn(), logs)
        lambdas.on_train_batch_end(7, {})  # reaches on_batch_end, as in Keras
        results.append((history.history, history.epoch, model.history is history, seen))
    assert results[0] == results[1]


# -- the same semantics without Keras, hand-worked -------------------------------------------------------


def _run(callback, sequence, monitor="val_loss", optimizer=None, first_epoch=0):
    return drive(callback, StandIn(optimizer), values(monitor, sequence), first_epoch)


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    stopper = callbacks.EarlyStopping(patience=1)
    assert _run(stopper, [1.0, 0.9, 0.95, 0.8])["epochs"] == 3 and stopper.stopped_epoch == 2
    stopper = callbacks.EarlyStopping(patience=0)
    assert _run(stopper, [1.0, 1.0, 0.5])["epochs"] == 2 and stopper.stopped_epoch == 1
    assert _run(callbacks.EarlyStopping(patience=2), [1.0, 1.1, 0.9, 1.0, 1.0, 0.1])["epochs"] == 5
    # min_delta: 0.95 and 0.91 are within 0.1 of 1.0, so no improvement; 0.89 is one.
    stopper = callbacks.EarlyStopping(patience=3, min_delta=0.1)
    assert _run(stopper, [1.0, 0.95, 0.91, 0.89, 0.85])["epochs"] == 5 and (stopper.best, stopper.wait) == (0.89, 1)
    stopper = callbacks.EarlyStopping(patience=2, min_delta=0.1)
    assert _run(stopper, [1.0, 0.95, 0.91, 0.89])["epochs"] == 3 and stopper.best == 1.0


def test_early_stopping_restores_the_best_epoch_at_the_end_in_every_case(capsys):
    # Not stopped early: the best epoch's weights all the same.
    stopper = callbacks.EarlyStopping(patience=10, restore_best_weights=True, verbose=1)
    result = _run(stopper, [3.0, 1.0, 2.0, 2.5])
    assert result["epochs"] == 4 and result["weight"] == 1.0
    assert capsys.readouterr().out == "Restoring model weights from the end of the best epoch: 2.\n"
    # Stopped early.
    result = _run(stopper, [3.0, 1.0, 2.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6])
    assert result["epochs"] == 14 and result["weight"] == 3.0
    assert capsys.readouterr().out == ("Epoch 14: early stopping\n"
                                       "Restoring model weights from the end of the best epoch: 4.\n")
    # Without restore_best_weights the last weights stay, and only the stop is reported.
    result = _run(callbacks.EarlyStopping(patience=1, verbose=1), [1.0, 2.0, 3.0])
    assert result["weight"] == 1.0 and capsys.readouterr().out == "Epoch 2: early stopping\n"
    assert _run(callbacks.EarlyStopping(patience=1, verbose=0), [1.0, 2.0])["weight"] == 1.0
    assert capsys.readouterr().out == ""


def test_early_stopping_baseline_and_start_from_epoch():
    # Never beating the baseline: stops after `patience` epochs that do not improve, restoring the best of them.
    stopper = callbacks.EarlyStopping(patience=2, baseline=0.5, restore_best_weights=True)
    result = _run(stopper, [1.0, 1.1, 1.2, 0.1])
    assert (result["epochs"], result["weight"], stopper.stopped_epoch) == (2, 0.0, 1)
    # Improving on the best (not the baseline) never stops, nor resets the patience count.
    stopper = callbacks.EarlyStopping(patience=2, baseline=0.5)
    assert _run(stopper, [1.0, 0.9, 0.8, 0.7, 0.6])["epochs"] == 5 and stopper.wait == 5
    # Beating the baseline resets it.
    stopper = callbacks.EarlyStopping(patience=2, baseline=0.5)
    assert _run(stopper, [1.0, 0.4, 0.45, 0.45, 0.3])["epochs"] == 4
    # The first start_from_epoch epochs are not watched: their weights are not restored either.
    stopper = callbacks.EarlyStopping(patience=1, start_from_epoch=3, restore_best_weights=True)
    result = _run(stopper, [0.1, 0.2, 0.3, 1.0, 2.0, 0.0])
    assert (result["epochs"], result["weight"], stopper.best_epoch) == (5, 3.0, 3)


def test_auto_mode_follows_the_model_metrics():
    model = _numlstm_model_with_metrics()
    for monitor, direction in (("val_loss", "min"), ("loss", "min"), ("val_accuracy", "max"), ("accuracy", "max"),
                               ("mae", "min"), ("val_mse", "min"), ("val_auc", "max")):
        assert _direction(callbacks.EarlyStopping(monitor), model, monitor) == direction, monitor
        assert _direction(callbacks.ReduceLROnPlateau(monitor), StandIn(numlstm.optimizers.SGD(0.1), model.metrics),
                          monitor) == direction, monitor
    for monitor in ("val_precision", "recall", "val_los_ratio"):
        with pytest.raises(ValueError, match=f"received monitor={monitor}, but numlstm isn't able to "
                                             "automatically determine"):
            drive(callbacks.EarlyStopping(monitor), StandIn(metrics=model.metrics), values(monitor, [1.0]))
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max', got 'minimum'"):
        callbacks.EarlyStopping(mode="minimum")
    with pytest.raises(ValueError, match=r"'val_mae', which is not in the logs \(val_loss, loss\); check the name"):
        drive(callbacks.EarlyStopping("val_mae"), StandIn(), values("val_loss", [1.0]))


def test_reduce_lr_on_plateau_patience_cooldown_and_min_lr(capsys):
    optimizer = numlstm.optimizers.SGD(1.0)
    reduce = callbacks.ReduceLROnPlateau("loss", factor=0.5, patience=2, cooldown=1, min_lr=0.2, min_delta=0,
                                         verbose=1)
    result = _run(reduce, [1.0] * 10, "loss", optimizer)
    # The rate logged is the epoch's (before a reduction at its end), read through float32 as Keras does.
    point_two = float(np.float32(0.2))
    assert result["learning_rates"] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, point_two, point_two, point_two]
    assert optimizer.learning_rate == 0.2
    assert reduce.wait == 3 and reduce.cooldown_counter == 0, "at min_lr: no cooldown, the count keeps growing"
    assert capsys.readouterr().out == ("\nEpoch 3: ReduceLROnPlateau reducing learning rate to 0.5.\n"
                                       "\nEpoch 5: ReduceLROnPlateau reducing learning rate to 0.25.\n"
                                       "\nEpoch 7: ReduceLROnPlateau reducing learning rate to 0.2.\n")
    # Improvements reset the count; min_delta decides what an improvement is.
    optimizer = numlstm.optimizers.SGD(1.0)
    reduce = callbacks.ReduceLROnPlateau("val_accuracy", factor=0.5, patience=2, mode="max", min_delta=0.05)
    result = _run(reduce, [0.5, 0.56, 0.6, 0.6, 0.62, 0.7], "val_accuracy", optimizer)
    assert result["learning_rates"] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5]
    # 0.01 is a float32 0.009999999776482582 in Keras: the reduced rate is computed from that.
    optimizer = numlstm.optimizers.SGD(0.01)
    _run(callbacks.ReduceLROnPlateau(patience=1, verbose=1), [1.0, 1.0], optimizer=optimizer)
    assert capsys.readouterr().out == "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.0009999999776482583.\n"
    with pytest.raises(ValueError, match="does not support a factor >= 1.0. Received factor=1.5"):
        callbacks.ReduceLROnPlateau(factor=1.5)
    schedule = numlstm.optimizers.ExponentialDecay(0.1, 10, 0.5)
    with pytest.raises(ValueError, match="takes from a schedule \\(ExponentialDecay\\)"):
        _run(callbacks.ReduceLROnPlateau(), [1.0], optimizer=numlstm.optimizers.SGD(schedule))
    with pytest.raises(ValueError, match="needs an optimizer with a learning rate; LBFGS has None"):
        _run(callbacks.ReduceLROnPlateau(), [1.0], optimizer=numlstm.optimizers.LBFGS())


def test_model_checkpoint_files_and_messages(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    checkpoint = callbacks.ModelCheckpoint("ckpt/{epoch:02d}-{val_loss:.2f}.numlstm", save_best_only=True,
                                           initial_value_threshold=0.95, verbose=1)
    _run(checkpoint, [1.0, 0.9, 0.95, 0.8])
    assert _files(tmp_path) == {os.path.join("ckpt", "02-0.90.numlstm"): "model 1",
                                os.path.join("ckpt", "04-0.80.numlstm"): "model 3"}
    assert capsys.readouterr().out == (
        "\nEpoch 1: val_loss did not improve from 0.95000\n"
        "\nEpoch 2: val_loss improved from 0.95000 to 0.90000, saving model to ckpt/02-0.90.numlstm\n"
        "\nEpoch 2: finished saving model to ckpt/02-0.90.numlstm\n"
        "\nEpoch 3: val_loss did not improve from 0.90000\n"
        "\nEpoch 4: val_loss improved from 0.90000 to 0.80000, saving model to ckpt/04-0.80.numlstm\n"
        "\nEpoch 4: finished saving model to ckpt/04-0.80.numlstm\n")
    _run(checkpoint, [0.85, 0.7])  # the best carries over from the previous fit
    assert sorted(_files(tmp_path / "ckpt")) == ["02-0.70.numlstm", "02-0.90.numlstm", "04-0.80.numlstm"]
    capsys.readouterr()
    _run(callbacks.ModelCheckpoint("w{epoch}.weights", save_weights_only=True, verbose=1), [1.0, 2.0])
    assert _files(tmp_path)["w2.weights"] == "weights 1"
    assert capsys.readouterr().out == ("\nEpoch 1: saving model to w1.weights\n\nEpoch 1: finished saving model to "
                                       "w1.weights\n\nEpoch 2: saving model to w2.weights\n\nEpoch 2: finished "
                                       "saving model to w2.weights\n")
    # Other ranks of a data-parallel fit decide alike but neither write nor print.
    quiet = callbacks.ModelCheckpoint("rank1-{epoch}.numlstm", save_best_only=True, verbose=1)
    quiet.writes_files = False
    _run(quiet, [1.0, 0.5])
    assert quiet.best == 0.5 and not any(name.startswith("rank1") for name in _files(tmp_path))
    assert capsys.readouterr().out == ""


def test_learning_rate_scheduler_sets_and_logs_the_rate(capsys):
    optimizer = numlstm.optimizers.SGD(0.5)
    result = _run(callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5, verbose=1), [1.0, 1.0, 1.0],
                  optimizer=optimizer)
    assert result["learning_rates"] == [0.25, 0.125, 0.0625] and optimizer.learning_rate == 0.0625
    assert capsys.readouterr().out == "".join(f"\nEpoch {e}: LearningRateScheduler setting learning rate to {r}.\n"
                                              for e, r in ((1, 0.25), (2, 0.125), (3, 0.0625)))
    result = _run(callbacks.LearningRateScheduler(lambda epoch: [0.5, 0.25][epoch]), [1.0, 1.0], optimizer=optimizer)
    assert result["learning_rates"] == [0.5, 0.25]
    with pytest.raises(ValueError, match="should be a float. Got: 1"):
        _run(callbacks.LearningRateScheduler(lambda epoch, lr: 1), [1.0], optimizer=optimizer)


def _sgd_step(weights, x, y, learning_rate):
    """One hand-computed SGD step of a Dense(1) model under mse."""
    kernel, bias = weights
    error = x @ kernel + bias - y
    return [kernel - learning_rate * 2 * x.T @ error / error.size, bias - learning_rate * 2 * error.sum(0) / error.size]


def _assert_weights(got, want):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)


def test_an_assigned_learning_rate_drives_the_next_step():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-1, 1, (8, 2)), rng.uniform(-1, 1, (8, 1))
    numlstm.utils.set_random_seed(0)
    model = numlstm.Sequential([layers.Input((2,)), layers.Dense(1, dtype="float64")])
    model.compile(numlstm.optimizers.SGD(0.1), "mse")
    before = model.get_weights()
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    _assert_weights(model.get_weights(), _sgd_step(before, x, y, 0.1))
    # Between fits.
    model.optimizer.learning_rate = 0.03
    before = model.get_weights()
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    _assert_weights(model.get_weights(), _sgd_step(before, x, y, 0.03))
    # From callbacks during fit: a schedule at each epoch, and a plain assignment before the second step.
    seen = [model.get_weights()]
    schedule = callbacks.LearningRateScheduler(lambda epoch, lr: [0.2, 0.05][epoch])
    midway = callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: setattr(model.optimizer, "learning_rate", 0.4) if batch == 1 else None)
    record = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(model.get_weights()))
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[schedule, midway, record])
    for epoch, rate in enumerate((0.2, 0.05)):
        expected = _sgd_step(_sgd_step(seen[epoch], x[:4], y[:4], rate), x[4:], y[4:], 0.4)
        _assert_weights(seen[epoch + 1], expected)
    assert history.history["learning_rate"] == [float(np.float32(0.4))] * 2  # read as Keras reads its float32


def test_fit_with_early_stopping_restores_the_best_weights_without_stopping():
    rng = np.random.default_rng(4)
    x, y = rng.uniform(-1, 1, (16, 5, 2)), rng.uniform(-1, 1, (16, 1))
    numlstm.utils.set_random_seed(0)
    model = numlstm.Sequential([layers.Input((5, 2)), layers.LSTM(4, dtype="float64"),
                                layers.Dense(1, dtype="float64")])
    model.compile(numlstm.optimizers.SGD(0.5), "mse")
    seen = []
    spy = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((logs["loss"], model.get_weights())))
    history = model.fit(x, y, batch_size=4, epochs=6, verbose=0,
                        callbacks=[callbacks.EarlyStopping("loss", patience=100, restore_best_weights=True), spy])
    assert len(history.epoch) == 6
    _, best = min(seen, key=lambda item: item[0])
    _assert_weights(model.get_weights(), best)
