"""Bidirectional, Embedding, Masking and Dropout: Keras semantics and gradients."""

import numpy as np
import pytest

import numlstm
from numlstm import layers
from helpers.finite_differences import check_layer_gradients
from helpers.reference import reference_forward

rng = np.random.default_rng(17)


def _randomised(layer, x):
    layer(x)
    for w in layer.weights:
        w[...] = 0.5 * rng.standard_normal(w.shape)
    return layer


def _lstm_reference(weights, x, **options):
    kernel, recurrent_kernel, bias = weights
    return reference_forward(x, kernel, recurrent_kernel, bias, **options)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_merges_forward_and_reversed_runs(merge_mode):
    x = rng.standard_normal((2, 5, 3))
    bi = _randomised(layers.Bidirectional(layers.LSTM(4, return_sequences=True, dtype="float64"),
                                          merge_mode=merge_mode), x)
    weights = bi.get_weights()
    assert [w.shape for w in weights] == [(3, 16), (4, 16), (16,)] * 2
    forward = _lstm_reference(weights[:3], x)[0]
    backward = _lstm_reference(weights[3:], x, reverse=True)[0]  # time order, as Keras merges it
    expected = {"concat": np.concatenate([forward, backward], -1), "sum": forward + backward,
                "mul": forward * backward, "ave": (forward + backward) / 2}[merge_mode]
    np.testing.assert_allclose(bi(x), expected, rtol=1e-12)


def test_bidirectional_last_output_and_initial_state():
    x = rng.standard_normal((2, 5, 3))
    bi = _randomised(layers.Bidirectional(layers.LSTM(4, dtype="float64")), x)
    states = [rng.standard_normal((2, 4)) for _ in range(4)]
    weights = bi.get_weights()
    forward = _lstm_reference(weights[:3], x, h0=states[0], c0=states[1])[0][:, -1]
    backward = _lstm_reference(weights[3:], x, reverse=True, h0=states[2], c0=states[3])[0][:, 0]
    np.testing.assert_allclose(bi(x, initial_state=states), np.concatenate([forward, backward], -1), rtol=1e-12)
    with pytest.raises(ValueError, match="initial_state must be"):
        bi(x, initial_state=states[:2])


@pytest.mark.parametrize("merge_mode,return_sequences", [("concat", True), ("mul", False), ("ave", True)])
def test_bidirectional_backward_matches_finite_differences(merge_mode, return_sequences):
    x = rng.standard_normal((2, 3, 2))
    bi = _randomised(layers.Bidirectional(layers.LSTM(2, return_sequences=return_sequences, dtype="float64"),
                                          merge_mode=merge_mode), x)
    check_layer_gradients(bi, x, [rng.standard_normal(bi(x).shape)])


def test_embedding_mask_zero_flows_into_the_lstm():
    ids = np.array([[3, 1, 0, 0], [2, 2, 4, 0]])
    model = numlstm.Sequential([layers.Embedding(5, 3, mask_zero=True, dtype="float64"),
                                layers.LSTM(2, return_sequences=True, dtype="float64")])
    output = model(ids)
    embedding, lstm = model.layers
    expected = lstm(embedding.embeddings[ids], mask=ids != 0)
    np.testing.assert_array_equal(output, expected)
    np.testing.assert_array_equal(output[0, 2], output[0, 1])  # masked steps repeat the last output
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 5\)"):
        model(np.array([[5, 1]]))
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 5\).*1e\+30"):
        embedding(np.array([[1e30, 1.0]]))  # checked before a cast to int64 could wrap it
    with pytest.raises(ValueError, match="NaN or infinity"):
        embedding(np.array([[np.inf, 1.0]]))
    with pytest.raises(TypeError, match="non-integral or non-finite"):
        embedding(np.array([[2.5, 1.0]]))
    np.testing.assert_array_equal(embedding(np.array([[3.0, 1.0]])), embedding(np.array([[3, 1]])))


def test_embedding_gradient_accumulates_repeated_ids():
    embedding = layers.Embedding(4, 2, dtype="float64")
    ids = np.array([[1, 1, 3]])
    _, cache = embedding.forward(ids)
    d = rng.standard_normal((1, 3, 2))
    (grad,) = embedding.backward(cache, d).grads
    np.testing.assert_allclose(grad[1], d[0, 0] + d[0, 1])
    np.testing.assert_allclose(grad[3], d[0, 2])
    assert not grad[0].any() and not grad[2].any()


def test_masking_marks_and_zeroes_padded_steps():
    x = rng.standard_normal((2, 3, 2))
    x[0, 2] = 0.0
    masking = layers.Masking(0.0, dtype="float64")
    out = masking(x)
    np.testing.assert_array_equal(masking.compute_mask(x), [[True, True, False], [True, True, True]])
    np.testing.assert_array_equal(out, x)
    x[1, 0] = [0.0, 1.0]
    assert masking.compute_mask(x)[1, 0], "a step is masked only when every feature equals mask_value"


def test_dropout_trains_only_and_scales():
    dropout = layers.Dropout(0.25, seed=1, dtype="float64")
    x = np.ones((200, 50))
    np.testing.assert_array_equal(dropout(x), x)
    y, cache = dropout.forward(x, training=True)
    assert set(np.unique(y)) == {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.02
    np.testing.assert_array_equal(dropout.backward(cache, np.ones_like(x)).d_input, y)
