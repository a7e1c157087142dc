"""The functional API: numlstm.Input, layers called on symbolic tensors, numlstm.Model(inputs, outputs).

Gradients are checked against float64 central differences of the model's own
loss; Sequential and the equivalent functional model must agree exactly.
"""

import re

import numpy as np
import pytest

import numlstm
from numlstm import layers
from numlstm.saving import FileFormatError


def encoder_decoder(units=3, features=2, dtype="float64", name=None):
    """An encoder LSTM's final states start a decoder LSTM; a Dense reads every decoder step."""
    encoder_in = numlstm.Input((None, features), dtype=dtype, name="encoder_in")
    _, h, c = layers.LSTM(units, return_state=True, dtype=dtype, name="encoder")(encoder_in)
    decoder_in = numlstm.Input((None, features), dtype=dtype, name="decoder_in")
    decoded = layers.LSTM(units, return_sequences=True, dtype=dtype, name="decoder")(decoder_in, initial_state=[h, c])
    outputs = layers.Dense(2, dtype=dtype, name="readout")(decoded)
    return numlstm.Model([encoder_in, decoder_in], outputs, name=name)


def finite_difference_check(model, x, y, rtol=1e-5, atol=1e-8, **kwargs):
    loss, grads = model.compute_gradients(x, y, **kwargs)
    weights = model.get_weights()
    step = 1e-6
    for index, (weight, grad) in enumerate(zip(weights, grads)):
        numeric = np.zeros_like(weight)
        for position in np.ndindex(weight.shape):
            for sign in (1, -1):
                shifted = [w.copy() for w in weights]
                shifted[index][position] += sign * step
                model.set_weights(shifted)
                numeric[position] += sign * model.compute_gradients(x, y, **kwargs)[0] / (2 * step)
        model.set_weights(weights)
        np.testing.assert_allclose(grad, numeric, rtol=rtol, atol=atol, err_msg=f"weight {index}")
    return loss


def test_input_returns_a_symbolic_tensor_with_the_batch_axis():
    tensor = numlstm.Input((7, 3), name="window")
    assert tensor.shape == (None, 7, 3)
    assert tensor.name == "window"
    assert numlstm.layers.Input((4,), batch_size=8).shape == (8, 4)
    with pytest.raises(TypeError, match="symbolic tensor"):
        np.asarray(tensor)
    with pytest.raises(ValueError, match="positive ints"):
        numlstm.Input((0, 3))


def test_layers_on_symbolic_tensors_return_symbolic_outputs_of_keras_shapes():
    inputs = numlstm.Input((None, 3))
    sequence, h, c = layers.LSTM(5, return_sequences=True, return_state=True)(inputs)
    assert (sequence.shape, h.shape, c.shape) == ((None, None, 5), (None, 5), (None, 5))
    both = layers.Bidirectional(layers.LSTM(4, return_state=True))(inputs)
    assert [t.shape for t in both] == [(None, 8), (None, 4), (None, 4), (None, 4), (None, 4)]


def test_encoder_decoder_gradients_match_finite_differences():
    numlstm.utils.set_random_seed(0)
    model = encoder_decoder()
    model.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 5, 2))]
    y = rng.standard_normal((3, 5, 2))
    finite_difference_check(model, x, y)


def test_shared_layer_and_two_outputs_gradients_match_finite_differences():
    numlstm.utils.set_random_seed(1)
    a = numlstm.Input((4, 2), dtype="float64", name="a")
    b = numlstm.Input((4, 2), dtype="float64", name="b")
    shared = layers.LSTM(3, dtype="float64", name="shared")
    first, second = shared(a), shared(b)  # one set of weights, two calls
    out_a = layers.Dense(1, dtype="float64", name="out_a")(first)
    out_b = layers.Dense(2, activation="tanh", dtype="float64", name="out_b")(second)
    model = numlstm.Model({"a": a, "b": b}, {"out_a": out_a, "out_b": out_b})
    model.compile("sgd", {"out_a": "mse", "out_b": "mae"}, loss_weights={"out_a": 0.3, "out_b": 2.0})
    rng = np.random.default_rng(1)
    x = {"a": rng.standard_normal((5, 4, 2)), "b": rng.standard_normal((5, 4, 2))}
    y = {"out_a": rng.standard_normal((5, 1)), "out_b": rng.standard_normal((5, 2))}
    loss = finite_difference_check(model, x, y)
    outputs = model.predict(x)
    expected = 0.3 * np.mean((outputs["out_a"] - y["out_a"]) ** 2) + 2.0 * np.mean(np.abs(outputs["out_b"] - y["out_b"]))
    assert loss == pytest.approx(expected, rel=1e-10)
    assert len(model.get_weights()) == 3 + 2 + 2  # the shared LSTM's weights once


def test_sequential_and_functional_models_agree_exactly():
    numlstm.utils.set_random_seed(2)
    stack = numlstm.Sequential([numlstm.Input((6, 3)), layers.LSTM(4, return_sequences=True), layers.LSTM(3),
                                layers.Dense(1)])
    inputs = numlstm.Input((6, 3))
    outputs = layers.Dense(1)(layers.LSTM(3)(layers.LSTM(4, return_sequences=True)(inputs)))
    graph = numlstm.Model(inputs, outputs)
    graph.set_weights(stack.get_weights())
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 6, 3)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    for model in (stack, graph):
        model.compile(numlstm.optimizers.Adam(0.01), "mse", metrics=["mae"])
    np.testing.assert_array_equal(stack.predict(x), graph.predict(x))
    history_stack = stack.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    history_graph = graph.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    assert history_stack == history_graph
    for a, b in zip(stack.get_weights(), graph.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_multi_output_history_uses_keras_names():
    numlstm.utils.set_random_seed(3)
    inputs = numlstm.Input((5, 2), name="seq")
    h = layers.LSTM(4)(inputs)
    value = layers.Dense(1, name="value")(h)
    label = layers.Dense(3, activation="softmax", name="label")(h)
    model = numlstm.Model(inputs, [value, label])
    model.compile("adam", ["mse", "sparse_categorical_crossentropy"], metrics=[["mae"], ["accuracy"]],
                  loss_weights=[1.0, 0.5])
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 5, 2)).astype(np.float32)
    y = [rng.standard_normal((16, 1)).astype(np.float32), rng.integers(0, 3, 16)]
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y)).history
    assert sorted(history) == sorted(["loss", "value_loss", "label_loss", "value_mae", "label_accuracy",
                                      "val_loss", "val_value_loss", "val_label_loss", "val_value_mae",
                                      "val_label_accuracy"])
    logs = model.evaluate(x, y, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["value_loss"] + 0.5 * logs["label_loss"], rel=1e-6)
    with pytest.raises(ValueError, match="list of lists"):
        model.compile("adam", ["mse", "sparse_categorical_crossentropy"], metrics=["mae"])


def test_frozen_layer_is_left_alone_by_the_optimizer():
    numlstm.utils.set_random_seed(4)
    inputs = numlstm.Input((5, 2))
    recurrent = layers.LSTM(4, name="frozen")
    outputs = layers.Dense(1, name="head")(recurrent(inputs))
    model = numlstm.Model(inputs, outputs)
    recurrent.trainable = False
    model.compile(numlstm.optimizers.AdamW(0.05, weight_decay=0.1), "mse")
    assert [w.shape for w in model.trainable_weights] == [(4, 1), (1,)]
    assert len(model.non_trainable_weights) == 3
    before = model.get_weights()
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((16, 5, 2)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32)
    model.fit(x, y, epochs=2, verbose=0)
    after = model.get_weights()
    for b, a in zip(before[:3], after[:3]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(before[3], after[3])
    _, grads = model.compute_gradients(x, y)
    assert [g.shape for g in grads] == [w.shape for w in after]
    assert np.abs(grads[0]).sum() > 0  # the frozen layer's gradient is still computed
    lines = []
    model.summary(print_fn=lines.append)
    assert "Trainable params: 5" in lines and "Non-trainable params: 112" in lines


def test_input_shape_mismatch_names_both_shapes():
    inputs = numlstm.Input((10, 3))
    model = numlstm.Model(inputs, layers.Dense(1)(layers.LSTM(2)(inputs)))
    with pytest.raises(ValueError, match=r"\(4, 12, 3\).*\(None, 10, 3\)"):
        model.predict(np.zeros((4, 12, 3), np.float32))


def test_graph_errors_are_clear():
    a, b = numlstm.Input((3,), name="left"), numlstm.Input((3,), name="right")
    with pytest.raises(ValueError, match="disconnected"):
        numlstm.Model(a, layers.Dense(1)(b))
    with pytest.raises(TypeError, match="numlstm.Input"):
        numlstm.Model(np.zeros(3), layers.Dense(1)(a))
    with pytest.raises(TypeError, match="Model\\(inputs, outputs\\)"):
        numlstm.Model()


def test_get_layer_layers_and_keras_layer_order():
    model = encoder_decoder()
    # Keras' order (by depth from the outputs, ties in the order a walk back from the outputs meets them)
    assert [layer.name for layer in model.layers] == ["encoder_in", "decoder_in", "encoder", "decoder", "readout"]
    assert model.get_layer("decoder").units == 3
    assert model.get_layer(index=-1).name == "readout"
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        model.get_layer("nope")


def test_functional_model_saves_and_loads_with_its_graph(tmp_path):
    numlstm.utils.set_random_seed(5)
    model = encoder_decoder(dtype="float32", name="seq2seq")
    model.get_layer("encoder").trainable = False
    model.compile("adam", "mse", metrics=["mae"])
    rng = np.random.default_rng(5)
    x = [rng.standard_normal((4, 3, 2)).astype(np.float32), rng.standard_normal((4, 5, 2)).astype(np.float32)]
    y = rng.standard_normal((4, 5, 2)).astype(np.float32)
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "model.numlstm"
    model.save(path)
    loaded = numlstm.load_model(path)
    assert type(loaded) is numlstm.Model and loaded.name == "seq2seq"
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert not loaded.get_layer("encoder").trainable
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    # training resumes exactly: same optimizer state, same step
    model.fit(x, y, epochs=1, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def _damaged_graph(mutate):
    config = encoder_decoder(dtype="float32").get_config()
    mutate(config)
    return config


def _entry(config, name):
    return next(entry for entry in config["layers"] if entry["name"] == name)


@pytest.mark.parametrize("damage, message", [
    # a dangling reference
    (lambda c: _entry(c, "decoder")["inbound_nodes"][0]["args"].__setitem__(0, ["nowhere", 0, 0]), "does not connect"),
    # a cycle: the encoder reads the decoder's output, which needs the encoder's states
    (lambda c: _entry(c, "encoder")["inbound_nodes"][0]["args"].__setitem__(0, ["decoder", 0, 0]), "does not connect"),
    (lambda c: _entry(c, "readout").__setitem__("class_name", "os.system"), "unknown layer"),
    (lambda c: c["output_layers"]["tensors"].__setitem__(0, ["readout", 7, 0]), "does not make"),
    (lambda c: _entry(c, "readout")["inbound_nodes"][0].__setitem__("args", "x"), "damaged"),
    (lambda c: _entry(c, "readout")["inbound_nodes"][0]["args"].__setitem__(0, ["decoder", "0", 0]), "reference"),
])
def test_hostile_graph_configs_are_file_format_errors(damage, message):
    with pytest.raises(FileFormatError, match=message):
        numlstm.Model.from_config(_damaged_graph(damage))


def test_clone_model_and_sequential_pop():
    numlstm.utils.set_random_seed(6)
    model = encoder_decoder(dtype="float32")
    clone = numlstm.models.clone_model(model)
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    assert all(a is not b for a, b in zip(clone.layers, model.layers))
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])  # freshly initialised
    clone.set_weights(model.get_weights())
    x = [np.ones((2, 3, 2), np.float32), np.ones((2, 4, 2), np.float32)]
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    stack = numlstm.Sequential([numlstm.Input((4, 2)), layers.LSTM(3), layers.Dense(2), layers.Dense(1)])
    last = stack.pop()
    assert last.units == 1 and stack.predict(np.ones((2, 4, 2), np.float32)).shape == (2, 2)


def test_fit_takes_an_iterable_and_a_generator_of_batches():
    numlstm.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((24, 4, 2)).astype(np.float32), rng.standard_normal((24, 1)).astype(np.float32)
    batches = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 24, 8)]

    class Batches:  # re-iterable, as a Keras PyDataset: read anew each epoch
        def __iter__(self):
            return iter(batches)

        def __len__(self):
            return len(batches)
    reference = numlstm.Sequential([numlstm.Input((4, 2)), layers.LSTM(3), layers.Dense(1)])
    twin = numlstm.models.clone_model(reference)
    twin.set_weights(reference.get_weights())
    for model in (reference, twin):
        model.compile("sgd", "mse")
    expected = reference.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    got = twin.fit(Batches(), epochs=2, verbose=0).history["loss"]
    np.testing.assert_allclose(got, expected, rtol=1e-6)

    def endless():
        while True:
            yield from batches

    history = twin.fit(endless(), steps_per_epoch=3, epochs=2, verbose=0).history
    assert len(history["loss"]) == 2
    with pytest.raises(ValueError, match="no batches"):
        twin.fit(iter(batches[:0]), epochs=1, verbose=0)


def test_an_explicit_mask_input_reaches_the_lstm():
    values = numlstm.Input((5, 2), dtype="float64", name="values")
    present = numlstm.Input((5,), dtype="bool", name="present")
    recurrent = layers.LSTM(3, dtype="float64")
    model = numlstm.Model([values, present], recurrent(values, mask=present))
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 5, 2))
    mask = rng.random((4, 5)) < 0.6
    np.testing.assert_array_equal(model.predict([x, mask]), recurrent(x, mask=mask))
    assert not np.allclose(model.predict([x, mask]), recurrent(x))


def test_masks_flow_from_an_embedding_through_the_graph():
    tokens = numlstm.Input((None,), dtype="int32")
    embedded = layers.Embedding(9, 3, mask_zero=True, dtype="float64")(tokens)
    recurrent = layers.LSTM(2, dtype="float64")
    model = numlstm.Model(tokens, recurrent(embedded))
    ids = np.array([[4, 2, 0, 0], [1, 3, 5, 0]])
    embedding = model.layers[1]
    np.testing.assert_array_equal(model.predict(ids), recurrent(embedding(ids), mask=ids != 0))


def test_models_nest_in_models_and_share_their_weights(tmp_path):
    numlstm.utils.set_random_seed(9)
    features = numlstm.Input((5, 2), dtype="float64", name="features")
    encoder = numlstm.Model(features, layers.LSTM(3, dtype="float64", name="encode")(features), name="encoder")
    head = numlstm.Sequential([layers.Dense(2, activation="tanh", dtype="float64"), layers.Dense(1, dtype="float64")],
                              name="head")
    a = numlstm.Input((5, 2), dtype="float64", name="a")
    b = numlstm.Input((5, 2), dtype="float64", name="b")
    joined = layers.Concatenate(dtype="float64", name="join")([encoder(a), encoder(b)])  # one encoder, two calls
    model = numlstm.Model([a, b], head(joined), name="siamese")
    assert [layer.name for layer in model.layers] == ["a", "b", "encoder", "join", "head"]
    assert len(model.get_weights()) == 3 + 4
    model.compile("sgd", "mse")
    rng = np.random.default_rng(9)
    x = [rng.standard_normal((4, 5, 2)), rng.standard_normal((4, 5, 2))]
    y = rng.standard_normal((4, 1))
    finite_difference_check(model, x, y)
    # one set of weights: what the outer model learns, the inner models use
    model.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(encoder.predict(x[0]), layers.LSTM.__call__(encoder.layers[1], x[0]))
    expected = head.predict(np.concatenate([encoder.predict(x[0]), encoder.predict(x[1])], axis=1))
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-12)
    path = tmp_path / "nested.numlstm"
    model.save(path)
    loaded = numlstm.load_model(path)
    assert isinstance(loaded.get_layer("encoder"), numlstm.Model)
    assert isinstance(loaded.get_layer("head"), numlstm.Sequential)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_a_model_sharing_layers_with_a_trained_model_uses_the_trained_weights():
    """Keras' seq2seq pattern: inference models built from the training model's layers before training."""
    numlstm.utils.set_random_seed(10)
    inputs = numlstm.Input((4, 2))
    recurrent = layers.LSTM(3)
    hidden = recurrent(inputs)
    trained = numlstm.Model(inputs, layers.Dense(1)(hidden))
    features = numlstm.Model(inputs, hidden)  # built before training: binds the LSTM to its own buffer
    trained.compile(numlstm.optimizers.Adam(0.05), "mse")
    rng = np.random.default_rng(10)
    x, y = rng.standard_normal((16, 4, 2)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32)
    before = features.predict(x)
    losses = trained.fit(x, y, epochs=5, verbose=0).history["loss"]
    assert losses[-1] < losses[0]  # the optimizer's updates reach the layers the model runs
    after = features.predict(x)
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(after, recurrent(x))
    trained.fit(x, y, epochs=1, verbose=0)  # and back: the trained model takes its layers back
    np.testing.assert_array_equal(features.predict(x), recurrent(x))


def test_validation_from_a_generator_every_other_epoch_and_the_epoch_line(capsys):
    numlstm.utils.set_random_seed(11)
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((20, 4, 2)).astype(np.float32), rng.standard_normal((20, 1)).astype(np.float32)
    model = numlstm.Sequential([numlstm.Input((4, 2)), layers.LSTM(3), layers.Dense(1)])
    model.compile("sgd", "mse")

    def validation():
        while True:
            yield x[:8], y[:8]

    history = model.fit(x, y, epochs=4, batch_size=10, validation_data=validation(), validation_steps=2,
                        validation_freq=2, verbose=2,
                        callbacks=[numlstm.callbacks.ReduceLROnPlateau(monitor="loss", patience=100)])
    assert len(history.history["loss"]) == 4 and len(history.history["val_loss"]) == 2
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch")]
    assert len(lines) == 4
    assert re.fullmatch(r"Epoch 2/4 - 2/2 - \d+s - \d+(ms|us|s)/step - loss: \S+ - val_loss: \S+ - learning_rate: \S+",
                        lines[1]), lines[1]
    with pytest.raises(ValueError, match="validation_steps"):
        model.fit(x, y, epochs=2, validation_data=iter([(x, y)]), verbose=0)


def test_keras_names_for_models_and_layers():
    inputs = numlstm.Input((4, 2), name="seq")
    hidden = layers.LSTM(3, name="hidden")(inputs)
    model = numlstm.Model(inputs, layers.subtract([hidden, hidden]))
    assert model.input is inputs and model.output is model.layers[-1].output
    assert model.get_layer("hidden").output is hidden and model.get_layer("hidden").input is inputs
    assert numlstm.models.load_model is numlstm.load_model
    tower = numlstm.Sequential([numlstm.Input((4, 2)), model, layers.Dense(1)])  # a model as a Sequential layer
    assert tower.predict(np.zeros((2, 4, 2), np.float32)).shape == (2, 1)


def test_keras_style_subclasses_get_a_clear_error():
    class Subclassed(numlstm.Model):
        def __init__(self):
            super().__init__()

        def call(self, inputs):
            return inputs

    with pytest.raises(TypeError, match="does not train subclassed models"):
        Subclassed()

    class Custom(layers.Layer):
        def call(self, inputs):
            return inputs

        def compute_output_shape(self, input_shape):
            return input_shape

    with pytest.raises(NotImplementedError, match="Keras-style call"):
        Custom()(np.zeros((2, 3)))


def test_one_item_loss_list_for_one_output():
    """Keras takes ``loss=["mse"]`` for a single-output model; a list of two is an error naming ``loss``."""
    x = np.random.default_rng(0).normal(size=(16, 5, 2))
    y = np.random.default_rng(1).normal(size=(16, 1))
    results = []
    for loss in ("mse", ["mse"], ("mse",)):
        numlstm.utils.set_random_seed(3)
        inputs = numlstm.Input((5, 2))
        model = numlstm.Model(inputs, numlstm.layers.Dense(1)(numlstm.layers.LSTM(4)(inputs)))
        model.compile("sgd", loss)
        results.append(model.evaluate(x, y, verbose=0))
    assert results[0] == results[1] == results[2] and np.isfinite(results[0])
    with pytest.raises(ValueError, match="loss holds 2 items"):
        model.compile("sgd", ["mse", "mae"])
        model.evaluate(x, y, verbose=0)
