"""A model's graph program: a chain of layers (each reading the value the one before wrote) runs through a
short path without the value and mask lookups of the general one. Both must give the same outputs, losses
and gradients to the bit, masks, shared layers and nested models included; a float64 central difference
checks the chain's gradients on their own.
"""

import numpy as np
import pytest

import numlstm
from numlstm import layers


def masked_sequences(rng, batch=4, timesteps=6, features=3):
    """float64 sequences whose last steps are all zeros in some rows (padding that Masking hides)."""
    x = rng.standard_normal((batch, timesteps, features))
    x[0, 4:] = 0.0
    x[-1, 2:] = 0.0
    return x


def masked_stack():
    return numlstm.Sequential([numlstm.Input((None, 3), dtype="float64"), layers.Masking(0.0, dtype="float64"),
                               layers.LSTM(5, return_sequences=True, dtype="float64"),
                               layers.LSTM(4, dtype="float64"), layers.Dense(2, dtype="float64")])


def shared_layer_chain():
    """One Dense applied twice in a row: the chain adds its two gradients."""
    inputs = numlstm.Input((6, 3), dtype="float64")
    dense = layers.Dense(3, activation="tanh", dtype="float64")
    hidden = layers.LSTM(3, return_sequences=True, dtype="float64")(dense(dense(inputs)))
    return numlstm.Model(inputs, layers.Dense(2, dtype="float64")(layers.LSTM(4, dtype="float64")(hidden)))


def nested_chain():
    """A Sequential used as a layer between two others: its input gradient reaches the layer before it."""
    inner = numlstm.Sequential([numlstm.Input((6, 4), dtype="float64"),
                                layers.LSTM(4, return_sequences=True, dtype="float64")])
    inputs = numlstm.Input((6, 3), dtype="float64")
    outputs = layers.Dense(2, dtype="float64")(layers.LSTM(3, dtype="float64")(
        inner(layers.Dense(4, dtype="float64")(inputs))))
    return numlstm.Model(inputs, outputs)


def branching():
    inputs = numlstm.Input((6, 3), dtype="float64")
    a = layers.LSTM(4, dtype="float64")(inputs)
    b = layers.LSTM(4, go_backwards=True, dtype="float64")(inputs)
    return numlstm.Model(inputs, layers.Dense(2, dtype="float64")(layers.Concatenate()([a, b])))


@pytest.mark.parametrize("build", [masked_stack, shared_layer_chain, nested_chain])
def test_a_chain_runs_the_short_path_and_agrees_with_the_general_one_to_the_bit(build, rng):
    model = build()
    model.compile(optimizer="sgd", loss="mse")
    assert model._program.chain
    x, y = masked_sequences(rng), rng.standard_normal((4, 2))
    outputs, (loss, grads) = model(x), model.compute_gradients(x, y)
    model._program.chain = False
    general_outputs, (general_loss, general_grads) = model(x), model.compute_gradients(x, y)
    np.testing.assert_array_equal(outputs, general_outputs)
    assert loss == general_loss
    assert len(grads) == len(general_grads) == len(model.get_weights())
    for grad, general in zip(grads, general_grads):
        np.testing.assert_array_equal(grad, general)
    assert all(np.any(grad != 0) for grad in grads)


def test_masks_carried_along_a_chain_hide_the_padding(rng):
    """Masked steps change nothing: the padded rows give what their unpadded prefixes give."""
    model = masked_stack()
    x = masked_sequences(rng)
    outputs = model(x)
    np.testing.assert_allclose(outputs[3], model(x[3:4, :2])[0], rtol=1e-12)
    np.testing.assert_allclose(outputs[0], model(x[0:1, :4])[0], rtol=1e-12)


def test_chain_gradients_match_finite_differences(rng):
    model = shared_layer_chain()
    model.compile(optimizer="sgd", loss="mse")
    x, y = masked_sequences(rng, batch=2), rng.standard_normal((2, 2))
    _, grads = model.compute_gradients(x, y)
    weights = model.get_weights()
    step = 1e-6
    for index in (0, 1, len(weights) - 2):  # the shared Dense's kernel and bias, the readout's kernel
        numeric = np.zeros_like(weights[index])
        for position in np.ndindex(weights[index].shape):
            for sign in (1, -1):
                shifted = [w.copy() for w in weights]
                shifted[index][position] += sign * step
                model.set_weights(shifted)
                numeric[position] += sign * model.compute_gradients(x, y)[0] / (2 * step)
        model.set_weights(weights)
        np.testing.assert_allclose(grads[index], numeric, rtol=1e-5, atol=1e-9, err_msg=f"weight {index}")


def test_a_branching_graph_is_not_a_chain():
    assert not branching()._program.chain
