"""The ConvLSTM1D/2D/3D layers: gradients of every option by finite differences, dropout, state, masks,
models, saving and bad arguments. Keras parity is in test_convlstm_keras.py."""

import numpy as np
import pytest
from helpers.finite_differences import check_layer_gradients

import numlstm
from numlstm import layers


def _randomise(layer, rng, scale=0.3):
    layer.set_weights([rng.normal(scale=scale, size=w.shape) for w in layer.get_weights()])


LAYER_CASES = {
    "1d-peephole": (layers.ConvLSTM1D, (2, 3, 5, 2), {"kernel_size": 3, "padding": "same", "peephole": True}),
    "1d-cifg-strides": (layers.ConvLSTM1D, (2, 3, 7, 2), {"kernel_size": 3, "strides": 2, "cifg": True}),
    "2d-channels-first": (layers.ConvLSTM2D, (2, 3, 2, 4, 3), {"kernel_size": 3, "padding": "same",
                                                                "data_format": "channels_first"}),
    "2d-go-backwards-sequences": (layers.ConvLSTM2D, (2, 3, 4, 3, 2), {"kernel_size": 2, "padding": "same",
                                                                        "go_backwards": True,
                                                                        "return_sequences": True}),
    "3d": (layers.ConvLSTM3D, (1, 2, 3, 3, 2, 1), {"kernel_size": 2, "padding": "same"}),
}


@pytest.mark.parametrize("case", LAYER_CASES.values(), ids=LAYER_CASES.keys())
def test_layer_gradients(rng, case):
    layer_class, shape, options = case
    layer = layer_class(2, dtype="float64", return_state=True, **options)
    x = rng.normal(size=shape)
    layer(x)
    _randomise(layer, rng)
    output = layer(x)
    check_layer_gradients(layer, x, [rng.normal(size=o.shape) for o in output])


def test_layer_gradients_with_seeded_dropout_mask_and_initial_state(rng):
    """A seeded layer draws the same masks on every call, so finite differences see one function."""
    layer = layers.ConvLSTM2D(2, 3, padding="same", dropout=0.3, recurrent_dropout=0.4, seed=5, dtype="float64",
                              return_sequences=True, zero_output_for_mask=True)
    x = rng.normal(size=(2, 4, 3, 3, 2))
    mask = np.array([[True, True, False, True], [True, False, True, True]])
    initial = [rng.normal(size=(2, 3, 3, 2)) for _ in range(2)]
    layer(x)
    _randomise(layer, rng)
    kwargs = {"training": True, "mask": mask, "initial_state": initial}
    output, _ = layer.forward(x, **kwargs)
    assert np.all(output[1, 1] == 0) and np.all(output[0, 2] == 0)  # zero_output_for_mask on masked steps
    check_layer_gradients(layer, x, [rng.normal(size=output.shape)], forward_kwargs=kwargs)


def test_dropout_masks_are_per_sequence_and_scaled(rng):
    layer = layers.ConvLSTM1D(3, 1, dropout=0.5, seed=0, dtype="float64", return_sequences=True)
    x = np.ones((4, 6, 5, 2))
    layer(x)
    output, cache = layer.forward(x, training=True)
    mask = cache["dropout_mask"]
    assert mask.shape == (4, 1, 5, 2)
    assert set(np.unique(mask)) <= {0.0, 2.0} and 0 < mask.mean() < 2
    np.testing.assert_array_equal(layer(x), layer.forward(x, training=False)[0])  # inference: no dropout


def test_stateful_layer_continues_where_it_stopped(rng):
    x = rng.normal(size=(2, 6, 4, 4, 1))
    whole = layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True, dtype="float64")
    halves = layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True, stateful=True, dtype="float64")
    whole(x)
    halves(x[:, :3])
    halves.reset_state()
    halves.set_weights(whole.get_weights())
    joined = np.concatenate([halves(x[:, :3]), halves(x[:, 3:])], axis=1)
    np.testing.assert_allclose(joined, whole(x), rtol=1e-12, atol=1e-13)
    halves.reset_state()
    np.testing.assert_allclose(halves(x[:, :3]), whole(x[:, :3]), rtol=1e-12, atol=1e-13)
    with pytest.raises(ValueError, match="same batch size"):
        halves(x[:1, :3])


def test_channels_first_equals_channels_last(rng):
    x = rng.normal(size=(2, 3, 5, 4, 2))
    last = layers.ConvLSTM2D(3, 3, padding="same", return_state=True, dtype="float64")
    first = layers.ConvLSTM2D(3, 3, padding="same", return_state=True, data_format="channels_first",
                              dtype="float64")
    expected = last(x)
    first(np.moveaxis(x, -1, 2))
    first.set_weights(last.get_weights())
    for got, want in zip(first(np.moveaxis(x, -1, 2)), expected):
        np.testing.assert_allclose(got, np.moveaxis(want, -1, 1), rtol=1e-12, atol=1e-13)


def test_mask_passes_on_with_sequences_and_matches_shorter_sequences(rng):
    x = rng.normal(size=(2, 5, 6, 2))
    layer = layers.ConvLSTM1D(3, 3, padding="same", dtype="float64")
    layer(x)
    mask = np.array([[True] * 5, [True, True, True, False, False]])
    np.testing.assert_allclose(layer(x, mask=mask)[1], layer(x[1:, :3])[0], rtol=1e-12, atol=1e-13)
    assert layer.compute_mask(x, mask) is None
    sequences = layers.ConvLSTM1D(3, 3, return_sequences=True)
    assert sequences.compute_mask(x, mask) is mask


def test_in_models_bidirectional_and_saving(rng, tmp_path):
    frames = numlstm.datasets.moving_shapes(16, timesteps=5, size=8, objects=1)
    inputs = numlstm.Input((4, 8, 8, 1))
    hidden = layers.Bidirectional(layers.ConvLSTM2D(4, 3, padding="same", return_sequences=True), merge_mode="sum")(
        inputs)
    outputs = layers.ConvLSTM2D(1, 3, padding="same", peephole=True, cifg=True)(hidden)
    model = numlstm.Model(inputs, outputs)
    model.compile(numlstm.optimizers.Adam(0.01), "mse")
    history = model.fit(frames[:, :4], frames[:, 4], batch_size=8, epochs=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert [w.shape for w in model.layers[-1].get_weights()][-1] == (8, 8, 2)  # peepholes: p_f, p_o per position
    path = tmp_path / "convlstm.numlstm"
    model.save(path)
    loaded = numlstm.load_model(path)
    np.testing.assert_array_equal(loaded.predict(frames[:, :4], verbose=0), model.predict(frames[:, :4], verbose=0))
    loss, gradients = model.compute_gradients(frames[:, :4], frames[:, 4])
    assert np.isfinite(loss) and [g.shape for g in gradients] == [w.shape for w in model.get_weights()]
    assert all(np.all(np.isfinite(g)) and np.any(g != 0) for g in gradients)


@pytest.mark.parametrize("arguments, message", [
    ({"filters": 0, "kernel_size": 3}, "filters must be a positive int"),
    ({"filters": 2, "kernel_size": (3, 3, 3)}, "kernel_size must be a positive int or a tuple of 2"),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, "strides > 1 is not supported"),
    ({"filters": 2, "kernel_size": 3, "padding": "causal"}, "padding must be one of"),
    ({"filters": 2, "kernel_size": 3, "data_format": "nhwc"}, "data_format must be one of"),
    ({"filters": 2, "kernel_size": 3, "activation": "relu"}, "activation='tanh'"),
    ({"filters": 2, "kernel_size": 3, "dropout": 1.0}, "dropout must be in"),
])
def test_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        layers.ConvLSTM2D(**arguments)


def test_bad_inputs():
    layer = layers.ConvLSTM2D(2, 3)
    with pytest.raises(ValueError, match="spatial axes"):
        layer(np.zeros((2, 3, 5, 5)))
    with pytest.raises(ValueError, match="leaves no output position"):
        layer(np.zeros((2, 3, 2, 5, 1)))
    layer(np.zeros((2, 3, 5, 5, 1)))
    with pytest.raises(ValueError, match="expected 1 channels"):
        layer(np.zeros((2, 3, 5, 5, 2)))
    peephole = layers.ConvLSTM2D(2, 3, peephole=True)
    with pytest.raises(ValueError, match="spatial shape must be known"):
        peephole.build((None, 3, None, None, 1))
    peephole(np.zeros((1, 2, 5, 5, 1)))
    with pytest.raises(ValueError, match="peephole weights were built"):
        peephole(np.zeros((1, 2, 6, 5, 1)))
    with pytest.raises(ValueError, match="NaN"):
        layer(np.full((2, 3, 5, 5, 1), np.nan))
    with pytest.raises(ValueError, match="initial_state must be"):
        layer(np.zeros((2, 3, 5, 5, 1)), initial_state=[np.zeros((2, 3, 3, 2))])
