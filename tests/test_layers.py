"""Layers: Keras semantics pinned by the independent numpy reference, and their gradients."""

import numpy as np
import pytest

from numlstm import config, layers
from helpers.finite_differences import check_layer_gradients
from helpers.reference import reference_forward

rng = np.random.default_rng(5)


def _lstm(units=3, **options):
    return layers.LSTM(units, dtype="float64", **options)


def _built(layer, F=2, B=2, T=4):
    layer(np.zeros((B, T, F)))
    return layer


def _reference(layer, x, **options):
    weights = dict(zip(layer._weight_names, layer.get_weights()))
    return reference_forward(x, weights["kernel"], weights["recurrent_kernel"], weights.get("bias"),
                             peephole=weights.get("peephole_weights"), cifg=layer.cifg, **options)


def test_return_sequences_and_state_match_reference():
    layer = _built(_lstm(return_sequences=True, return_state=True))
    x = rng.standard_normal((2, 4, 2))
    out, h, c = layer(x)
    ref_out, ref_h, ref_c, _ = _reference(layer, x)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12)
    np.testing.assert_allclose(h, ref_h, rtol=1e-12)
    np.testing.assert_allclose(c, ref_c, rtol=1e-12)
    last = _lstm()
    _built(last).set_weights(layer.get_weights())
    np.testing.assert_allclose(last(x), ref_out[:, -1], rtol=1e-12)


def test_go_backwards_returns_the_sequence_in_processing_order():
    layer = _built(_lstm(return_sequences=True, go_backwards=True))
    x = rng.standard_normal((2, 4, 2))
    ref_out, _, _, _ = _reference(layer, x, reverse=True)
    np.testing.assert_allclose(layer(x), ref_out[:, ::-1], rtol=1e-12)
    last = _built(_lstm(go_backwards=True))
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(last(x), ref_out[:, 0], rtol=1e-12)


@pytest.mark.parametrize("zero_output", [False, True])
def test_masks(zero_output):
    layer = _built(_lstm(return_sequences=True, zero_output_for_mask=zero_output))
    x = rng.standard_normal((2, 4, 2))
    mask = np.array([[False, True, False, True], [True, True, True, False]])
    ref_out, _, _, _ = _reference(layer, x, mask=mask, zero_output_for_mask=zero_output)
    np.testing.assert_allclose(layer(x, mask=mask), ref_out, rtol=1e-12)
    assert layer.compute_mask(x, mask) is mask


def test_unit_forget_bias_and_use_bias_false():
    layer = _built(_lstm(units=2))
    np.testing.assert_array_equal(layer.get_weights()[2], [0, 0, 1, 1, 0, 0, 0, 0])
    cifg = _built(_lstm(units=2, cifg=True, peephole=True))
    assert [w.shape for w in cifg.get_weights()] == [(2, 6), (2, 6), (6,), (4,)]
    np.testing.assert_array_equal(cifg.get_weights()[2], [1, 1, 0, 0, 0, 0])
    no_bias = _built(_lstm(use_bias=False))
    assert len(no_bias.get_weights()) == 2
    x = rng.standard_normal((2, 4, 2))
    np.testing.assert_allclose(no_bias(x), _reference(no_bias, x)[0][:, -1], rtol=1e-12)


def test_initial_state():
    layer = _built(_lstm(return_sequences=True))
    x = rng.standard_normal((2, 4, 2))
    h0, c0 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    expected = _reference(layer, x, h0=h0, c0=c0)[0]
    np.testing.assert_allclose(layer(x, initial_state=[h0, c0]), expected, rtol=1e-12)
    with pytest.raises(ValueError, match=r"initial_state must be \[h, c\]"):
        layer(x, initial_state=[h0])


def test_stateful_carries_state_and_resets():
    whole = _built(_lstm(return_sequences=True), T=6)
    stateful = _built(_lstm(return_sequences=True, stateful=True), T=3)
    stateful.reset_state()
    stateful.set_weights(whole.get_weights())
    x = rng.standard_normal((2, 6, 2))
    pieces = np.concatenate([stateful(x[:, :3]), stateful(x[:, 3:])], axis=1)
    np.testing.assert_allclose(pieces, whole(x), rtol=1e-12)
    stateful.reset_state()
    np.testing.assert_allclose(stateful(x[:, :3]), whole(x[:, :3]), rtol=1e-12)
    with pytest.raises(ValueError, match="same batch size on every call"):
        stateful(x[:1, :3])


def test_a_stateful_layer_s_last_output_is_not_its_carried_state():
    """A stateful layer returning its last step hands out an array of its own, not the h it carries."""
    whole = _built(_lstm(), T=6)
    stateful = _built(_lstm(stateful=True), T=3)
    stateful.reset_state()
    stateful.set_weights(whole.get_weights())
    x = rng.standard_normal((2, 6, 2))
    first = stateful(x[:, :3])
    np.testing.assert_allclose(first, whole(x[:, :3]), rtol=1e-12)
    first[...] = 99.0  # the caller's to change
    np.testing.assert_allclose(stateful(x[:, 3:]), whole(x), rtol=1e-12)


def test_set_weights_checks_count_and_shapes():
    layer = _built(_lstm())
    with pytest.raises(ValueError, match=r"expects 3 weight arrays \(kernel, recurrent_kernel, bias\), got 2"):
        layer.set_weights(layer.get_weights()[:2])
    bad = layer.get_weights()
    bad[1] = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"weight 1 \(recurrent_kernel\) must have shape \(3, 12\)"):
        layer.set_weights(bad)
    with pytest.raises(ValueError, match="build the layer"):
        _lstm().set_weights([])


def test_bad_construction_and_input():
    with pytest.raises(ValueError, match="activation='tanh' and recurrent_activation='sigmoid' only"):
        layers.LSTM(3, activation="relu")
    with pytest.raises(ValueError, match=r"recurrent_dropout must be in \[0, 1\)"):
        layers.LSTM(3, recurrent_dropout=1.0)
    with pytest.raises(ValueError, match="units must be a positive int"):
        layers.LSTM(0)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, timesteps, features\)"):
        _lstm()(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="x must be a numeric array"):
        _lstm()(np.array([[["a"]]]))
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        layers.Dense(2, activation="gelu")


def test_default_dtype_follows_floatx():
    assert layers.Dense(2).dtype == np.float32
    config.set_floatx("float64")
    try:
        assert layers.LSTM(2).dtype == np.float64
    finally:
        config.set_floatx("float32")
    with pytest.raises(ValueError, match="floatx must be one of 'float32', 'float64'"):
        config.set_floatx("float16")


def test_dense_on_3d_input_matches_numpy():
    dense = layers.Dense(3, activation="tanh", dtype="float64")
    x = rng.standard_normal((2, 4, 5))
    y = dense(x)
    kernel, bias = dense.get_weights()
    np.testing.assert_allclose(y, np.tanh(x @ kernel + bias), rtol=1e-14)
    assert dense.compute_output_shape((2, 4, 5)) == (2, 4, 3)


@pytest.mark.parametrize("options", [
    {"return_sequences": True},
    {"go_backwards": True, "return_state": True},
    {"return_sequences": True, "go_backwards": True, "peephole": True, "cifg": True},
    {"use_bias": False},
])
def test_lstm_layer_backward_matches_finite_differences(options):
    layer = _built(_lstm(**options), B=2, T=3, F=2)
    for w in layer.weights:
        w[...] = rng.standard_normal(w.shape) * 0.5
    x = rng.standard_normal((2, 3, 2))
    output = layer(x)
    outputs = output if isinstance(output, list) else [output]
    check_layer_gradients(layer, x, [rng.standard_normal(o.shape) for o in outputs])


@pytest.mark.parametrize("go_backwards", [False, True])
def test_an_lstm_returning_its_last_output_gives_the_sequences_last_step_and_keeps_its_own_state(go_backwards):
    # Without return_sequences the pass writes no outputs: the last output is the final state h.
    sequences = _built(_lstm(4, return_sequences=True, go_backwards=go_backwards), F=3, B=2, T=5)
    last = _built(_lstm(4, go_backwards=go_backwards, stateful=True), F=3, B=2, T=5)
    last.set_weights(sequences.get_weights())
    x = rng.standard_normal((2, 5, 3))
    for call in (lambda: last(x), lambda: last.forward(x, training=True)[0]):  # inference, training
        last.reset_state()
        output = call()
        np.testing.assert_array_equal(output, sequences(x)[:, -1])
    state = last.states[0].copy()
    output[...] = 0
    np.testing.assert_array_equal(last.states[0], state)


@pytest.mark.parametrize("activation", [None, "relu", "tanh", "sigmoid", "softmax"])
def test_dense_backward_matches_finite_differences(activation):
    dense = layers.Dense(3, activation=activation, dtype="float64")
    x = rng.standard_normal((2, 4, 5))
    dense(x)
    check_layer_gradients(dense, x, [rng.standard_normal((2, 4, 3))])


def test_recurrent_dropout_masks_h_before_the_recurrent_product_in_training_only():
    layer = _built(_lstm(return_sequences=True, recurrent_dropout=0.4, seed=5))
    x = rng.standard_normal((2, 4, 2))
    np.testing.assert_array_equal(layer(x), layer(x, training=False))
    out, cache = layer.forward(x, training=True)
    mask = cache["recurrent_mask"]
    assert mask.shape == (2, 3) and set(np.unique(mask)) <= {0.0, 1 / 0.6}
    np.testing.assert_allclose(out, _reference(layer, x, recurrent_mask=mask)[0], rtol=1e-12)


def test_input_dropout_uses_one_mask_per_sequence_in_training_only():
    layer = _built(_lstm(return_sequences=True, dropout=0.5, seed=3), F=4)
    x = rng.standard_normal((2, 4, 4))
    np.testing.assert_array_equal(layer(x), layer(x, training=False))
    _, cache = layer.forward(x, training=True)
    mask = cache["dropout_mask"]
    assert mask.shape == (2, 1, 4) and set(np.unique(mask)) <= {0.0, 2.0}
    expected = _reference(layer, x * mask)[0]
    np.testing.assert_allclose(layer.forward(x, training=True)[0], expected, rtol=1e-12)
