"""Streaming: one timestep at a time gives what the whole-sequence model gives."""

import numpy as np
import pytest

import numlstm
from numlstm import layers
from numlstm.streaming import Stream

rng = np.random.default_rng(12)


def test_steps_match_the_sequence_run():
    model = numlstm.Sequential([layers.Input((None, 3)),
                                layers.LSTM(5, return_sequences=True, peephole=True, dtype="float64"),
                                layers.LSTM(4, cifg=True, use_bias=False, dtype="float64"),
                                layers.Dense(2, activation="tanh", dtype="float64")])
    for layer in model.layers:
        for w in layer.weights:
            w[...] = 0.5 * rng.standard_normal(w.shape)
    x = rng.standard_normal((2, 7, 3))
    stream = Stream(model, batch_size=2)
    for t in range(7):
        output = stream.step(x[:, t])
        np.testing.assert_allclose(output, model.predict(x[:, :t + 1]), rtol=1e-12, atol=1e-14)
    stream.reset()
    np.testing.assert_allclose(stream.step(x[:, 0]), model.predict(x[:, :1]), rtol=1e-12, atol=1e-14)


def test_returned_outputs_are_not_overwritten_by_later_steps():
    model = numlstm.Sequential([layers.Input((3, 2)), layers.LSTM(3, dtype="float64")])
    stream = Stream(model)
    first = stream.step(np.ones((1, 2)))
    kept = first.copy()
    stream.step(np.ones((1, 2)))
    np.testing.assert_array_equal(first, kept)


def test_what_cannot_stream_and_bad_steps():
    with pytest.raises(ValueError, match="reads the sequence backwards"):
        Stream(numlstm.Sequential([layers.Input((3, 2)), layers.LSTM(3, go_backwards=True)]))
    with pytest.raises(ValueError, match="reads the sequence backwards"):
        Stream(numlstm.Sequential([layers.Input((3, 2)), layers.Bidirectional(layers.LSTM(3))]))
    stream = Stream(numlstm.Sequential([layers.Input((3, 2)), layers.LSTM(3)]))
    with pytest.raises(ValueError, match=r"x must have shape \(batch_size, features\) = \(1, 2\), got \(1, 3\)"):
        stream.step(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        stream.step(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="build the model"):
        Stream(numlstm.Sequential([layers.LSTM(3)]))


def test_a_text_model_streams_token_by_token():
    model = numlstm.Sequential([layers.Embedding(6, 3, dtype="float64"), layers.LSTM(4, dtype="float64"),
                                layers.Dense(6, dtype="float64")])
    tokens = rng.integers(0, 6, (2, 5))
    model.build(tokens.shape)
    stream = Stream(model, batch_size=2)
    for t in range(5):
        np.testing.assert_allclose(stream.step(tokens[:, t]), model.predict(tokens[:, :t + 1]), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match=r"indices in \[0, 6\)"):
        stream.step(np.array([0, 6]))
    with pytest.raises(TypeError, match="integer token indices"):
        stream.step(np.zeros(2))
    masked = numlstm.Sequential([layers.Embedding(6, 3, mask_zero=True), layers.LSTM(4)])
    masked.build((1, 5))
    with pytest.raises(ValueError, match="without mask_zero"):
        Stream(masked)


def test_a_functional_chain_streams_and_a_graph_does_not():
    inputs = layers.Input((None, 3), dtype="float64")
    outputs = layers.Dense(2, dtype="float64")(layers.LSTM(4, dtype="float64")(
        layers.LSTM(5, return_sequences=True, dtype="float64")(inputs)))
    model = numlstm.Model(inputs, outputs)
    x = rng.standard_normal((2, 6, 3))
    stream = Stream(model, batch_size=2)
    for t in range(6):
        np.testing.assert_allclose(stream.step(x[:, t]), model.predict(x[:, :t + 1]), rtol=1e-12, atol=1e-14)
    _, h, c = layers.LSTM(4, return_state=True)(inputs)
    branched = numlstm.Model(inputs, layers.Dense(1)(layers.LSTM(4)(inputs, initial_state=[h, c])))
    with pytest.raises(ValueError, match="chain of layers"):
        Stream(branched)
