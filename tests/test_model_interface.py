"""What other modules read from a model: its parameter buffer, its compile settings, where a fit resumes."""

import inspect

import numpy as np
import pytest

import numlstm
from numlstm import callbacks, layers


def _model(compiled=True):
    numlstm.utils.set_random_seed(0)
    model = numlstm.Sequential([layers.Input((4, 2)), layers.LSTM(3, dtype="float64"),
                                layers.Dense(2, dtype="float64")])
    if compiled:
        model.compile(numlstm.optimizers.Adam(0.01), "mse", metrics=["mae"], weighted_metrics=["mse"])
    return model


def test_the_parameter_buffer_holds_every_weight():
    model = _model()
    buffer = model.parameter_buffer
    assert buffer.size == model.count_params()
    assert all(np.shares_memory(w, buffer) for w in model.weights)
    buffer[:] = 0.5  # in place: every weight follows
    assert all(np.all(w == 0.5) for w in model.get_weights())


def test_an_unbuilt_model_has_no_buffer():
    assert numlstm.Sequential([layers.LSTM(3)]).parameter_buffer is None


def test_weights_to_host_leaves_host_weights_where_they_are():
    model = _model()
    before = model.parameter_buffer
    model.weights_to_host()
    assert model.parameter_buffer is before and isinstance(before, np.ndarray)


def test_the_compile_config_is_what_saving_records(tmp_path):
    model = _model()
    config = model.get_compile_config()
    assert config["optimizer"]["class_name"] == "Adam"
    assert config["loss"] == [{"class_name": "MeanSquaredError", "config": {}}]
    assert config["loss_weights"] == [1.0]
    assert config["metrics"] == [["mae"]] and config["weighted_metrics"] == [["mse"]]
    model.save(tmp_path / "m.numlstm")
    assert numlstm.load_model(tmp_path / "m.numlstm").get_compile_config() == config


def test_no_compile_config_before_compile():
    assert _model(compiled=False).get_compile_config() is None


def test_a_callback_can_move_the_start_of_fit():
    epochs = []

    class StartAtTwo(callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.model.resume_at_epoch(2)

        def on_epoch_begin(self, epoch, logs=None):
            epochs.append(epoch)

    model = _model()
    x, y = np.zeros((8, 4, 2)), np.zeros((8, 2))
    history = model.fit(x, y, epochs=4, verbose=0, callbacks=[StartAtTwo()])
    assert epochs == [2, 3] and history.epoch == [2, 3]
    epochs.clear()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: epochs.append(epoch))])
    assert epochs == [0, 1], "the next fit starts where it is told again"


def test_a_callback_list_calls_each_callback_in_order():
    calls = []
    first = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(seen_by_first=True))
    second = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: calls.append(dict(logs)))
    both = callbacks.CallbackList([first, second])
    both.on_epoch_end(0, {"loss": 1.0})
    assert calls == [{"loss": 1.0, "seen_by_first": True}]
    both.writes_files = False
    assert not first.writes_files and not second.writes_files and not both.writes_files
    assert list(both) == [first, second] and len(both) == 2


def test_a_callback_list_takes_callbacks_only():
    with pytest.raises(TypeError, match="Callback instances"):
        callbacks.CallbackList([print])


def test_fit_takes_a_callback_list():
    seen = []
    model = _model()
    model.fit(np.zeros((8, 4, 2)), np.zeros((8, 2)), epochs=2, verbose=0, callbacks=callbacks.CallbackList(
        [callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))]))
    assert seen == [0, 1]


def test_inference_calls_keep_no_lstm_workspace_and_training_calls_do(monkeypatch):
    from numlstm.layers import lstm as lstm_module

    kept = []
    real = lstm_module._forward_on_cpu

    def spy(*args, **kwargs):
        kept.append(inspect.signature(real).bind(*args, **kwargs).arguments["keep_workspace"])
        return real(*args, **kwargs)

    monkeypatch.setattr(lstm_module, "_forward_on_cpu", spy)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 6, 3)).astype(np.float32), rng.standard_normal((4, 1)).astype(np.float32)
    model = numlstm.Sequential([layers.Input((6, 3)), layers.LSTM(4, return_sequences=True),
                                layers.Bidirectional(layers.LSTM(5)), layers.Dense(1)])
    model.compile("sgd", "mse")
    inference = {"model(x)": lambda: model(x), "predict": lambda: model.predict(x, verbose=0),
                 "evaluate": lambda: model.evaluate(x, y, verbose=0), "test_on_batch": lambda: model.test_on_batch(x, y),
                 "a layer on arrays": lambda: model.layers[0](x)}
    training = {"train_on_batch": lambda: model.train_on_batch(x, y),
                "compute_gradients": lambda: model.compute_gradients(x, y),
                "fit": lambda: model.fit(x, y, epochs=1, verbose=0)}
    for calls, expected in ((inference, False), (training, True)):
        for name, call in calls.items():
            kept.clear()
            call()
            assert kept and all(k is expected for k in kept), (name, kept)


def test_inference_only_nests_and_ends_with_an_exception():
    from numlstm.layers.base import backward_follows, inference_only

    with pytest.raises(RuntimeError):
        with inference_only():
            with inference_only():
                assert not backward_follows()
            assert not backward_follows()
            raise RuntimeError("inside")
    assert backward_follows()
