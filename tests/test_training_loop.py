"""fit's metrics, callbacks and progress output."""

import csv
import io
import os
import re
import sys

import numpy as np
import pytest

import numlstm
from numlstm import callbacks, layers, metrics

rng = np.random.default_rng(8)


def _regression(n=64, epochs_of_data=1):
    x = rng.uniform(-1, 1, (n, 6, 2))
    return x, x.sum(axis=(1, 2))[:, None] / 3


def _model(loss="mse", metric_names=None, units=1, activation=None, lr=0.02):
    numlstm.utils.set_random_seed(0)
    model = numlstm.Sequential([layers.Input((6, 2)), layers.LSTM(6, dtype="float64"),
                                layers.Dense(units, activation=activation, dtype="float64")])
    model.compile(numlstm.optimizers.Adam(lr), loss, metrics=metric_names)
    return model


def test_metrics_match_their_definitions():
    y_true = np.array([[1.0, 2.0], [3.0, 5.0]])
    y_pred = np.array([[1.5, 2.0], [2.0, 5.0]])
    for name, expected in (("mae", 0.375), ("mse", 0.3125), ("rmse", np.sqrt(0.3125))):
        metric = metrics.get(name)
        metric.update(y_true[:1], y_pred[:1])
        metric.update(y_true[1:], y_pred[1:])
        assert metric.result() == pytest.approx(expected)
    accuracy = metrics.get("accuracy", "sparse_categorical_crossentropy")
    accuracy.update(np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]))
    assert accuracy.result() == pytest.approx(2 / 3)
    categorical = metrics.get("accuracy", "categorical_crossentropy")
    categorical.update(np.eye(2)[[0, 1]], np.array([[0.9, 0.1], [0.6, 0.4]]))
    assert categorical.result() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown metric 'f1'; valid names: accuracy"):
        metrics.get("f1")


def test_fit_and_evaluate_report_metrics():
    x, y = _regression()
    model = _model(metric_names=["mae", "rmse"])
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_data=(x, y))
    assert set(history.history) == {"loss", "mae", "rmse", "val_loss", "val_mae", "val_rmse"}
    loss, mae, rmse = model.evaluate(x, y)
    prediction = model.predict(x)
    assert mae == pytest.approx(np.abs(prediction - y).mean())
    assert rmse == pytest.approx(np.sqrt(loss))


def test_early_stopping_restores_the_best_weights():
    x, y = _regression()
    model = _model(lr=0.05)
    seen = []
    stopper = callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    spy = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((logs["loss"], model.get_weights())))
    stopper_first = [stopper, spy]
    # Make every epoch after the second worse: a learning rate that diverges.
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=stopper_first)
    model.optimizer.learning_rate = 5.0
    history = model.fit(x, y, epochs=30, batch_size=8, verbose=0, callbacks=stopper_first)
    assert len(history.epoch) < 30, "training stopped early"
    best_loss, best_weights = min(seen[2:], key=lambda item: item[0])
    for got, want in zip(model.get_weights(), best_weights):
        np.testing.assert_array_equal(got, want)


def test_reduce_lr_on_plateau_and_terminate_on_nan():
    x, y = _regression()
    model = _model(lr=0.01)
    reduce = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e9)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[reduce])
    # Logged before the epoch's reduction, read through float32 as Keras reads its variable.
    assert history.history["learning_rate"] == [float(np.float32(rate)) for rate in (0.01, 0.01, 0.005)]
    poison = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: model.layers[1].kernel.fill(np.nan))
    history = model.fit(x, y, epochs=5, batch_size=4, verbose=0, callbacks=[poison, callbacks.TerminateOnNaN()])
    assert len(history.epoch) == 1 and np.isnan(history.history["loss"][0])


def test_csv_logger(tmp_path):
    x, y = _regression()
    path = tmp_path / "log.csv"
    _model(metric_names=["mae"]).fit(x, y, epochs=3, verbose=0, callbacks=[callbacks.CSVLogger(path)])
    rows = list(csv.reader(path.open()))
    # Keras adds val_ columns (written NA) when the first epoch has no validation.
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"] and [r[0] for r in rows[1:]] == ["0", "1", "2"]
    assert [r[3:] for r in rows[1:]] == [["NA", "NA"]] * 3


def test_progress_output(capsys):
    x, y = _regression(32)
    model = _model()
    model.fit(x, y, epochs=1, batch_size=8, verbose=1)
    assert "Epoch 1/1" in capsys.readouterr().out.replace("\r", "\n")
    model.fit(x, y, epochs=2, batch_size=8, verbose=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2 - 4/4 - ") and "loss: " in lines[1]
    # Keras' format: whole seconds for the epoch, then the step's time in s, ms or us
    assert re.fullmatch(r"\d+s", lines[1].split(" - ")[2]), lines[1]
    per_step = re.fullmatch(r"(\d+)(s|ms|us)/step", lines[1].split(" - ")[3])
    assert per_step and int(per_step.group(1)) > 0, "the step's time is measured even without a progress bar"
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_auto_verbosity_is_one_line_per_epoch_when_stdout_is_not_a_terminal(capsys):
    x, y = _regression(32)
    _model().fit(x, y, epochs=3, batch_size=8)  # verbose="auto", the default; capsys' stdout is no terminal
    out = capsys.readouterr().out
    assert "\r" not in out, "no progress bar redrawn into a file or a pipe"
    lines = out.splitlines()
    assert len(lines) == 3 and all(line.startswith(f"Epoch {i}/3 - 4/4 - ") for i, line in enumerate(lines, 1))


def test_auto_verbosity_draws_a_progress_bar_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    x, y = _regression(32)
    _model().fit(x, y, epochs=1, batch_size=8, verbose="auto")
    drawn = terminal.getvalue()
    assert "\r" in drawn and "Epoch 1/1: 100%" in drawn and "4/4" in drawn
    assert not any(line.startswith("Epoch 1/1 - ") for line in drawn.splitlines()), "a bar, not verbose=2's line"


_FIT_ON_A_TERMINAL = """
import numpy as np, numlstm
from numlstm import layers
model = numlstm.Sequential([layers.Input((6, 2)), layers.LSTM(6, dtype="float64"), layers.Dense(1, dtype="float64")])
model.compile("adam", "mse")
model.fit(np.zeros((32, 6, 2)), np.zeros((32, 1)), epochs=1, batch_size=8, verbose=1)
"""


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal (os.openpty)")
def test_the_progress_bar_draws_on_a_terminal_that_reports_no_size():
    """`script`, some containers and a pty nobody sized report 0 x 0: tqdm drew nothing there, only a blank line
    per epoch, until the bar got a size of its own."""
    import fcntl
    import struct
    import subprocess
    import termios

    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
    child = subprocess.Popen([sys.executable, "-c", _FIT_ON_A_TERMINAL], stdout=follower, stderr=follower,
                             stdin=subprocess.DEVNULL)
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    assert child.wait(timeout=120) == 0, drawn.decode(errors="replace")
    text = drawn.decode(errors="replace")
    assert "Epoch 1/1: 100%" in text and "4/4" in text, text


@pytest.mark.parametrize("arguments,match", [
    ({"batch_size": 0}, r"batch_size must be a positive integer \(or None for 32\), got 0"),
    ({"batch_size": -4}, "batch_size must be a positive integer .*got -4"),
    ({"batch_size": 2.5}, "batch_size must be a positive integer .*got 2.5"),
    ({"batch_size": "8"}, "batch_size must be a positive integer .*got '8'"),
    ({"batch_size": True}, "batch_size must be a positive integer .*got True"),
    ({"epochs": -1}, "epochs must be an integer >= 0, got -1"),
    ({"epochs": 2.0}, "epochs must be an integer >= 0, got 2.0"),
    ({"epochs": None}, "epochs must be an integer >= 0, got None"),
    ({"initial_epoch": -1}, "initial_epoch must be an integer >= 0, got -1"),
    ({"verbose": 3}, "verbose must be 'auto', 0, 1 or 2, got 3"),
])
def test_fit_rejects_bad_batch_sizes_epochs_and_verbosity(arguments, match):
    x, y = _regression(16)
    model = _model()
    weights = model.get_weights()
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, **{"verbose": 0, **arguments})
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights())), "nothing trained"


@pytest.mark.parametrize("batch_size", [0, -4, 1.5])
def test_evaluate_and_predict_reject_bad_batch_sizes(batch_size):
    x, y = _regression(16)
    model = _model()
    with pytest.raises(ValueError, match=f"batch_size must be a positive integer .*got {batch_size}"):
        model.evaluate(x, y, batch_size=batch_size)
    with pytest.raises(ValueError, match=f"batch_size must be a positive integer .*got {batch_size}"):
        model.predict(x, batch_size=batch_size)


def test_zero_epochs_train_nothing_and_a_batch_size_of_none_is_32(capsys):
    x, y = _regression(64)
    model = _model()
    weights = model.get_weights()
    history = model.fit(x, y, epochs=0)
    assert history.history == {} and all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    model.fit(x, y, batch_size=None, verbose=2)
    assert capsys.readouterr().out.startswith("Epoch 1/1 - 2/2 - "), "64 samples in batches of 32"
    assert model.evaluate(x, y, batch_size=None) == pytest.approx(model.evaluate(x, y, batch_size=32))
    assert np.array_equal(model.predict(x, batch_size=np.int64(5)), model.predict(x, batch_size=None))


def test_callbacks_must_be_callbacks():
    x, y = _regression()
    with pytest.raises(TypeError, match="callbacks must be numlstm.callbacks.Callback instances"):
        _model().fit(x, y, callbacks=[print])
    with pytest.raises(ValueError, match="monitors 'val_loss', which is not in the logs"):
        _model().fit(x, y, verbose=0, callbacks=[callbacks.EarlyStopping()])


def test_fit_says_when_its_first_step_compiles_the_kernels(monkeypatch, capsys, tmp_path):
    import types

    from numlstm import functional

    index = tmp_path / "lstm.forward_rows_standard-1.py311.nbi"

    def fake_rows(signatures):
        cache = types.SimpleNamespace(_cache_file=types.SimpleNamespace(_index_path=str(index)))
        return [types.SimpleNamespace(function=types.SimpleNamespace(signatures=signatures, _cache=cache))]

    real_rows = functional._cpu.FORWARD_ROWS
    monkeypatch.setattr(functional._cpu, "FORWARD_ROWS", fake_rows([]))
    assert functional.first_pass_compiles()  # nothing compiled in this process, nothing in the cache
    index.write_text("")
    assert not functional.first_pass_compiles()
    index.unlink()
    monkeypatch.setattr(functional._cpu, "FORWARD_ROWS", fake_rows(["(int64, int64, float32[:, :, :], ...)"]))
    assert not functional.first_pass_compiles()

    monkeypatch.setattr(functional._cpu, "FORWARD_ROWS", real_rows)
    model = numlstm.Sequential([numlstm.layers.Input((5, 1)), numlstm.layers.LSTM(3), numlstm.layers.Dense(1)])
    model.compile("adam", "mse")
    x, y = np.zeros((8, 5, 1), np.float32), np.zeros((8, 1), np.float32)
    for compiles, verbose, said in ((True, 2, True), (True, 0, False), (False, 2, False)):
        monkeypatch.setattr(functional, "first_pass_compiles", lambda loops=None, compiles=compiles: compiles)
        model.fit(x, y, epochs=1, verbose=verbose)
        assert ("compiling the LSTM kernels" in capsys.readouterr().out) == said

    # A model with a ConvLSTM asks about the ConvLSTM's loops, and names them.
    asked = []
    monkeypatch.setattr(functional, "first_pass_compiles", lambda loops=None: asked.append(loops) or True)
    model = numlstm.Sequential([numlstm.layers.Input((2, 3, 3, 1)),
                                numlstm.layers.Bidirectional(numlstm.layers.ConvLSTM2D(1, 3, padding="same"))])
    model.compile("adam", "mse")
    model.fit(np.zeros((2, 2, 3, 3, 1), np.float32), np.zeros((2, 3, 3, 2), np.float32), epochs=1, verbose=2)
    assert "compiling the ConvLSTM kernels" in capsys.readouterr().out
    assert len(list(asked[-1])) == 2  # the standard and CIFG forward loops


def test_model_calls_outside_fit_announce_slow_compiles_until_one_compiles_nothing(monkeypatch, capsys):
    """model(x), predict, train_on_batch, ... have no verbose: the first ones of a process say on stderr when
    they stop to compile, as fit does on stdout."""
    import time

    from numba.core import event

    from numlstm.kernels.cpu import lstm
    from numlstm.models import compile_notice

    monkeypatch.setattr(compile_notice, "NOTICE_AFTER_SECONDS", 0.05)
    monkeypatch.setattr(compile_notice, "_model_calls_settled", False)

    @compile_notice.announces_compiles
    def call(seconds):
        """A model call that compiles one of numlstm's kernels for ``seconds`` (0: compiles nothing)."""
        if seconds:
            event.start_event("numba:compile", data={"dispatcher": lstm.forward_loop})
            time.sleep(seconds)
            event.end_event("numba:compile", data={"dispatcher": lstm.forward_loop})

    call(0.3)
    said = capsys.readouterr()
    assert said.out == "" and said.err.count("numlstm: compiling the LSTM kernels this call needs") == 1
    call(0.3)  # still compiling: a later call says so again
    assert capsys.readouterr().err.count("numlstm: compiling") == 1
    with compile_notice.CompileNotice(after=0.05):  # fit listens already: it alone says so, on stdout
        call(0.3)
    said = capsys.readouterr()
    assert said.out.count("numlstm: compiling") == 1 and said.err == ""
    call(0)
    assert compile_notice._model_calls_settled  # a call that compiled nothing: the next ones do not listen
    call(0.3)
    assert capsys.readouterr().err == ""

    # The model's calls are the ones that listen: here every kernel is compiled, so the first settles them.
    monkeypatch.setattr(compile_notice, "_model_calls_settled", False)
    model = numlstm.Sequential([numlstm.layers.Input((5, 1)), numlstm.layers.LSTM(3), numlstm.layers.Dense(1)])
    model.compile("adam", "mse")
    x, y = np.zeros((2, 5, 1), np.float32), np.zeros((2, 1), np.float32)
    for run in (lambda: model(x), lambda: model.predict(x), lambda: model.evaluate(x, y),
                lambda: model.train_on_batch(x, y), lambda: model.test_on_batch(x, y),
                lambda: model.compute_gradients(x, y)):
        run()
        run()  # the kernels of this call are compiled now: a second call compiles nothing
        assert compile_notice._model_calls_settled
        monkeypatch.setattr(compile_notice, "_model_calls_settled", False)
    assert capsys.readouterr().err == ""


def test_a_slow_compile_of_numlstm_kernels_is_announced_once_and_a_fast_one_not(capsys):
    import threading
    import types

    from numba import njit

    from numlstm.kernels.cpu import convlstm, ctc, lstm
    from numlstm.models.compile_notice import CompileNotice, kernel_family

    assert kernel_family(lstm.forward_loop) == "LSTM"
    assert kernel_family(convlstm.FORWARD_LOOP[False]) == "ConvLSTM"
    assert kernel_family(ctc.ctc_loss_and_gradient) == "CTC"

    def user_function(x):
        return x + 1

    assert kernel_family(njit(user_function)) is None and kernel_family(None) is None

    def compile_event(function):
        return types.SimpleNamespace(data={"dispatcher": function})

    def compiling(notice, function, seconds):
        """What Numba's events tell the notice about a compile of ``function`` that lasts ``seconds``."""
        notice.on_start(compile_event(function))
        notice.on_start(compile_event(function))  # a nested compile (a helper) inside it
        threading.Event().wait(seconds)
        notice.on_end(compile_event(function))
        notice.on_end(compile_event(function))

    notice = CompileNotice(after=0.05)
    compiling(notice, lstm.forward_loop, 0.5)
    compiling(notice, convlstm.FORWARD_LOOP[False], 0.5)
    said = capsys.readouterr().out
    assert said.count("numlstm: compiling") == 1 and "the LSTM kernels this call needs" in said
    compiling(CompileNotice(after=0.05), njit(user_function), 0.5)  # the user's own Numba code: not ours to announce
    compiling(CompileNotice(after=5.0), lstm.forward_loop, 0.1)  # a load from the cache: over before the notice
    assert capsys.readouterr().out == ""

    with CompileNotice(after=5.0):  # listens to Numba's real events while inside, and leaves nothing running
        njit(user_function)(1)
    assert capsys.readouterr().out == ""
