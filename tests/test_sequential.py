"""Sequential: gradients through the stack, the optimizer kernels, training, and bad input."""

import numpy as np
import pytest

import numlstm
from numlstm import layers, optimizers

rng = np.random.default_rng(21)


def _model(dtype="float64", **lstm_options):
    model = numlstm.Sequential([
        layers.Input((4, 2)),
        layers.LSTM(3, return_sequences=True, dtype=dtype, **lstm_options),
        layers.LSTM(3, go_backwards=True, dtype=dtype),
        layers.Dense(2, activation="tanh", dtype=dtype),
    ])
    for w in model.layers[0].weights + model.layers[1].weights + model.layers[2].weights:
        w[...] = 0.5 * rng.standard_normal(w.shape)
    return model


@pytest.mark.parametrize("loss", ["mse", "huber", "categorical_crossentropy"])
def test_compute_gradients_match_finite_differences(loss):
    model = _model()
    model.compile("sgd", loss if loss != "categorical_crossentropy" else
                  numlstm.losses.CategoricalCrossentropy(from_logits=True))
    x = rng.standard_normal((3, 4, 2))
    y = rng.standard_normal((3, 2)) if loss != "categorical_crossentropy" else np.eye(2)[[0, 1, 1]]
    value, grads = model.compute_gradients(x, y)
    weights = model.get_weights()
    assert [g.shape for g in grads] == [w.shape for w in weights]
    for k, weight in enumerate(weights):
        numeric = np.zeros_like(weight)
        for index in np.ndindex(weight.shape):
            for sign in (1, -1):
                shifted = [w.copy() for w in weights]
                shifted[k][index] += sign * 1e-6
                model.set_weights(shifted)
                numeric[index] += sign * model.test_on_batch(x, y) / 2e-6
        model.set_weights(weights)
        error = np.linalg.norm(grads[k] - numeric) / (np.linalg.norm(grads[k]) + np.linalg.norm(numeric))
        assert error < 1e-6, f"weight {k}: relative error {error:.2e}"
    assert value == pytest.approx(model.test_on_batch(x, y))


def test_weights_live_in_one_flat_buffer():
    model = _model()
    base = model.parameter_buffer
    for layer in model.layers:
        for w in layer.weights:
            assert np.shares_memory(w, base)
    new = [np.full_like(w, i) for i, w in enumerate(model.get_weights())]
    model.set_weights(new)
    for got, want in zip(model.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    assert model.layers[2].kernel is model.layers[2].weights[0]


def test_fit_learns_a_task_that_needs_60_steps_of_memory():
    """y is the scaled sum of 60 inputs: no predictor that sees one step can do better than ~var(y)."""
    numlstm.utils.set_random_seed(3)
    data = np.random.default_rng(21)
    T = 60
    x = data.uniform(-1, 1, (256, T, 1))
    y = x.sum(axis=1) / np.sqrt(T / 3)
    last = np.stack([x[:, -1, 0], np.ones(len(x))], axis=1)
    memoryless = np.mean((last @ np.linalg.lstsq(last, y[:, 0], rcond=None)[0] - y[:, 0]) ** 2)
    model = numlstm.Sequential([layers.Input((T, 1)), layers.LSTM(8, dtype="float64"),
                                layers.Dense(1, dtype="float64")])
    model.compile(optimizers.Adam(0.02), "mse")
    history = model.fit(x, y, epochs=60, batch_size=32, verbose=0, validation_split=0.25)
    assert set(history.history) == {"loss", "val_loss"} and len(history.history["loss"]) == 60
    assert memoryless > 0.9
    assert history.history["val_loss"][-1] < 0.05 * memoryless
    np.testing.assert_allclose(model.predict(x, batch_size=7), model(x), rtol=1e-12)
    assert model.evaluate(x, y) == pytest.approx(np.mean((model(x) - y) ** 2))


def test_bad_input_is_reported_clearly():
    model = _model()
    x, y = np.zeros((3, 4, 2)), np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"call compile\(optimizer, loss\) before fit"):
        model.fit(x, y)
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match="same number of samples, got 3 and 2"):
        model.fit(x, y[:2])
    bad = x.copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"x contains NaN or infinity at index \(1, 2, 0\)"):
        model.fit(bad, y)
    with pytest.raises(TypeError, match="y must be a numeric array"):
        model.fit(x, np.array([["a", "b"]] * 3))
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad2'; valid names: adagrad, adam, adamw, lbfgs, rmsprop, sgd"):
        model.compile("adagrad2", "mse")
    with pytest.raises(ValueError, match="unknown loss 'l2'; valid names"):
        model.compile("adam", "l2")
    with pytest.raises(ValueError, match="return_state=True and merge_mode=None return several arrays"):
        numlstm.Sequential([layers.LSTM(2, return_state=True)])
    with pytest.raises(ValueError, match="is not built yet"):
        numlstm.Sequential([layers.Dense(2)]).summary()


@pytest.mark.parametrize("loss,y,match", [
    ("mse", np.zeros((3, 3)),
     r"y does not fit the model's output: mean_squared_error: y_true has shape \(3, 3\) but the model outputs "
     r"\(3, 2\)"),
    ("mse", np.zeros((3, 2, 2)), r"y does not fit the model's output: .* \(3, 2, 2\)"),
    ("sparse_categorical_crossentropy", np.zeros((3, 2)), r"y does not fit .* class indices of shape \(3,\)"),
    ("sparse_categorical_crossentropy", np.full(3, 7), r"y does not fit .* class indices in \[0, 2\)"),
    ("categorical_crossentropy", np.zeros(3),
     r"y does not fit .* these look like class indices, which the sparse_categorical_crossentropy loss takes"),
])
def test_targets_that_do_not_fit_the_output_fail_before_any_batch_runs(monkeypatch, loss, y, match):
    """A wrong y is named as the argument the user passed, and before the first forward pass compiles."""
    model = _model()
    model.compile("adam", loss)
    model.fit(np.zeros((3, 4, 2)), np.zeros(3) if loss.startswith("sparse") else np.zeros((3, 2)), verbose=0)

    def no_forward_pass(*args, **kwargs):
        raise AssertionError("a forward pass ran")

    monkeypatch.setattr(model, "_forward", no_forward_pass)
    for run in (model.fit, model.evaluate):
        with pytest.raises(ValueError, match=match):
            run(np.zeros((3, 4, 2)), y)


def test_a_call_without_targets_names_the_output_that_needs_them():
    """y defaults to None, as in Keras: left out, it is named with the output whose loss needs it, not a
    TypeError naming an internal class."""
    model = _model()
    model.compile("adam", "mse")
    x = np.zeros((3, 4, 2))
    for run in (model.evaluate, model.train_on_batch, model.test_on_batch, model.compute_gradients,
                lambda x: model.fit(x, verbose=0)):
        with pytest.raises(ValueError, match="y has no targets for output 'dense.*', which has a loss"):
            run(x)


def test_summary_lists_layers_shapes_and_params():
    lines = []
    _model().summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "lstm" in text and "(None, 4, 3)" in text and "(None, 2)" in text
    assert f"Total params: {_model().count_params():,}" in text
