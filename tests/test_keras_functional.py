"""Functional models against Keras 3 itself (JAX backend): the same graph built by both, the same weights
copied with set_weights, then the same layer order, predictions, training steps and fitted losses.

Skipped where Keras is not installed (the extra "keras"; CI's full-extras run installs it).
"""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras", reason="needs the extra 'keras' (Keras 3 on JAX)")
if keras.backend.backend() != "jax":
    pytest.skip("Keras runs on another backend", allow_module_level=True)

import numlstm  # noqa: E402


def encoder_decoder(lib, units=8, features=3):
    layers = lib.layers
    encoder_in = lib.Input((None, features), name="encoder_in")
    _, h, c = layers.LSTM(units, return_state=True, name="encoder")(encoder_in)
    decoder_in = lib.Input((None, features), name="decoder_in")
    decoded = layers.LSTM(units, return_sequences=True, name="decoder")(decoder_in, initial_state=[h, c])
    return lib.Model([encoder_in, decoder_in], layers.Dense(features, name="readout")(decoded))


def two_headed(lib):
    layers = lib.layers
    inputs = lib.Input((6, 2), name="window")
    shared = layers.LSTM(5, return_sequences=True, name="shared")(inputs)
    last = layers.LSTM(4, name="last")(shared)
    value = layers.Dense(1, name="value")(last)
    label = layers.Dense(3, activation="softmax", name="label")(last)
    return lib.Model(inputs, [value, label])


def paired(build):
    reference = build(keras)
    ours = build(numlstm)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in reference.layers]
    ours.set_weights([np.asarray(w) for w in reference.get_weights()])
    return reference, ours


def test_encoder_decoder_predictions_and_sgd_steps_match_keras():
    keras.utils.set_random_seed(0)
    reference, ours = paired(encoder_decoder)
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((6, 5, 3)).astype(np.float32), rng.standard_normal((6, 7, 3)).astype(np.float32)]
    y = rng.standard_normal((6, 7, 3)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x), reference.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    reference.compile(keras.optimizers.SGD(0.1), "mse")
    ours.compile(numlstm.optimizers.SGD(0.1), "mse")
    for _ in range(3):
        expected = float(reference.train_on_batch(x, y))
        got = ours.train_on_batch(x, y)
        assert got == pytest.approx(expected, rel=1e-5)
    for a, b in zip(ours.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-6)


def test_multi_output_losses_weights_and_history_match_keras():
    keras.utils.set_random_seed(1)
    reference, ours = paired(two_headed)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 6, 2)).astype(np.float32)
    y = {"value": rng.standard_normal((32, 1)).astype(np.float32), "label": rng.integers(0, 3, 32)}
    settings = dict(loss={"value": "mse", "label": "sparse_categorical_crossentropy"},
                    loss_weights={"value": 0.5, "label": 2.0},
                    metrics={"value": ["mae"], "label": ["accuracy"]})
    reference.compile(keras.optimizers.Adam(0.01), **settings)
    ours.compile(numlstm.optimizers.Adam(0.01), **settings)
    expected = reference.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history
    got = ours.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history
    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=2e-4, err_msg=key)
    np.testing.assert_allclose(ours.evaluate(x, y), reference.evaluate(x, y, verbose=0), rtol=2e-4)


def test_frozen_layer_trains_as_in_keras():
    keras.utils.set_random_seed(2)
    reference, ours = paired(two_headed)
    for model in (reference, ours):
        model.get_layer("shared").trainable = False
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, 6, 2)).astype(np.float32)
    y = [rng.standard_normal((16, 1)).astype(np.float32), rng.integers(0, 3, 16)]
    reference.compile(keras.optimizers.AdamW(0.01), ["mse", "sparse_categorical_crossentropy"])
    ours.compile(numlstm.optimizers.AdamW(0.01), ["mse", "sparse_categorical_crossentropy"])
    reference.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert len(ours.trainable_weights) == len(reference.trainable_weights)
    for a, b in zip(ours.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-6)


def classifier(lib):
    inputs = lib.Input((6, 2), name="window")
    hidden = lib.layers.LSTM(4, name="recurrent")(inputs)
    return lib.Model(inputs, lib.layers.Dense(1, activation="sigmoid", name="probability")(hidden))


@pytest.mark.parametrize("weighting", ["sample_weight", "class_weight"])
def test_weighted_training_matches_keras(weighting):
    keras.utils.set_random_seed(3)
    reference, ours = paired(classifier)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 6, 2)).astype(np.float32)
    y = (rng.random(40) < 0.3).astype(np.float32)  # (N,) labels for a (N, 1) output, as Keras takes them
    weights = {"sample_weight": rng.uniform(0.1, 3.0, 40).astype(np.float32)} if weighting == "sample_weight" \
        else {"class_weight": {0: 0.5, 1: 2.5}}
    validation = (x[:10], y[:10], rng.uniform(0.5, 1.5, 10).astype(np.float32))
    settings = dict(metrics=["accuracy"], weighted_metrics=["accuracy", "mae"])
    reference.compile(keras.optimizers.SGD(0.5), "binary_crossentropy", **settings)
    ours.compile(numlstm.optimizers.SGD(0.5), "binary_crossentropy", **settings)
    expected = reference.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, validation_data=validation,
                             **weights).history
    got = ours.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, validation_data=validation,
                   **weights).history
    assert sorted(got) == sorted(expected)  # weighted_accuracy beside accuracy, mae unprefixed
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, err_msg=key)
    sample_weight = rng.uniform(0, 2, 40).astype(np.float32)
    assert ours.evaluate(x, y, sample_weight=sample_weight, return_dict=True)["loss"] == pytest.approx(
        reference.evaluate(x, y, sample_weight=sample_weight, verbose=0, return_dict=True)["loss"], rel=1e-5)


def keras_gradients(model, x, y, loss):
    """d loss / d weights of a Keras model, by jax.grad through its stateless call."""
    import jax

    trainable = [v.value for v in model.trainable_variables]
    frozen = [v.value for v in model.non_trainable_variables]

    def value(weights):
        output, _ = model.stateless_call(weights, frozen, x)
        return loss(y, output)

    return [np.asarray(g) for g in jax.grad(value)(trainable)]


def masked_two_branch(lib):
    layers = lib.layers
    tokens = lib.Input((None,), dtype="int32", name="tokens")
    embedded = layers.Embedding(20, 4, mask_zero=True, name="embedding")(tokens)
    forward = layers.LSTM(3, return_sequences=True, name="forward")(embedded)
    both = layers.Bidirectional(layers.LSTM(2, return_state=True, name="inner"), name="both")
    merged, h_f, c_f, h_b, c_b = both(forward)
    joined = layers.Concatenate(name="joined")([merged, h_f, c_b])
    return lib.Model(tokens, layers.Dense(2, name="head")(joined))


@pytest.mark.parametrize("build", [encoder_decoder, masked_two_branch], ids=["encoder_decoder", "masked"])
def test_gradients_match_keras(build):
    keras.utils.set_random_seed(4)
    reference, ours = paired(build)
    rng = np.random.default_rng(4)
    if build is encoder_decoder:
        x = [rng.standard_normal((5, 4, 3)).astype(np.float32), rng.standard_normal((5, 6, 3)).astype(np.float32)]
        y = rng.standard_normal((5, 6, 3)).astype(np.float32)
    else:  # padded token ids: the mask flows from the Embedding through both recurrent layers
        x = rng.integers(1, 20, (5, 7)).astype(np.int32)
        x[0, 4:] = 0
        x[2, 1:] = 0
        y = rng.standard_normal((5, 2)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x), reference.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.compile("sgd", "mse")
    loss, grads = ours.compute_gradients(x, y)
    expected = keras_gradients(reference, x, y, keras.losses.MeanSquaredError())
    assert len(grads) == len(expected)
    for got, want, weight in zip(grads, expected, reference.weights):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6, err_msg=weight.path)
