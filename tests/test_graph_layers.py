"""The layers of functional graphs: float64 finite differences of every backward, and parity with Keras 3.

The finite-difference checks need numpy alone. The parity checks run where
Keras (on JAX) is installed: the same weights, the same inputs and masks,
forward outputs and masks, and the gradients of sum(output * cotangent)
with respect to the inputs and weights, from ``jax.vjp`` of Keras' layer.
"""

import os

import numpy as np
import pytest

from numlstm import layers

os.environ.setdefault("KERAS_BACKEND", "jax")

TIMES = np.array([[True, False, True, True, False], [False, False, True, False, True]])


def _rng(seed=0):
    return np.random.default_rng(seed)


def _randomise_weights(layer, rng):
    for w in layer.weights:
        w[...] = rng.standard_normal(w.shape) * 0.5


def _finite_difference_check(layer, x, forward_kwargs=None, eps=1e-6, rng=None):
    """The layer's backward against central differences of sum(output * w), inputs and weights alike."""
    rng = rng or _rng(1)
    forward_kwargs = forward_kwargs or {}
    output, cache = layer.forward(x, **forward_kwargs)
    w = rng.standard_normal(output.shape)
    analytic = layer.backward(cache, w)
    inputs = x if isinstance(x, list) else [x]
    d_inputs = analytic.d_input if isinstance(x, list) else [analytic.d_input]
    assert len(analytic.grads) == len(layer.weights)
    for param, grad in zip(inputs + layer.weights, list(d_inputs) + list(analytic.grads)):
        assert grad.shape == param.shape
        numeric = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            original = param[index]
            param[index] = original + eps
            plus = np.sum(layer.forward(x, **forward_kwargs)[0] * w)
            param[index] = original - eps
            minus = np.sum(layer.forward(x, **forward_kwargs)[0] * w)
            param[index] = original
            numeric[index] = (plus - minus) / (2 * eps)
        scale = np.linalg.norm(grad) + np.linalg.norm(numeric)
        assert scale == 0 or np.linalg.norm(grad - numeric) / scale < 1e-7


def _built(layer, x, rng, **forward_kwargs):
    layer.forward(x, **forward_kwargs)
    _randomise_weights(layer, rng)
    return layer


# -- float64 finite differences ---------------------------------------------------------
@pytest.mark.parametrize("make,count,shape,masked", [
    (lambda: layers.Add(dtype="float64"), 3, (2, 3, 2), False),
    (lambda: layers.Average(dtype="float64"), 3, (2, 3, 2), False),
    (lambda: layers.Multiply(dtype="float64"), 3, (2, 3, 2), False),
    (lambda: layers.Multiply(dtype="float64"), 2, (2, 5, 2), True),
    (lambda: layers.Concatenate(dtype="float64"), 2, (2, 3, 2), False),
    (lambda: layers.Concatenate(axis=1, dtype="float64"), 3, (2, 3, 2), False),
])
def test_merging_gradients(make, count, shape, masked):
    rng = _rng()
    xs = [rng.standard_normal(shape) for _ in range(count)]
    kwargs = {"mask": [TIMES, ~TIMES | np.eye(2, 5, dtype=bool)]} if masked else {}
    _finite_difference_check(make(), xs, kwargs)


def test_multiply_with_one_mask_gradients():
    rng = _rng()
    xs = [rng.standard_normal((2, 5, 2)) for _ in range(2)]
    _finite_difference_check(layers.Multiply(dtype="float64"), xs, {"mask": [None, TIMES]})


@pytest.mark.parametrize("layer,shape", [
    (layers.RepeatVector(3, dtype="float64"), (2, 4)),
    (layers.Flatten(dtype="float64"), (2, 3, 2)),
    (layers.Reshape((-1, 3), dtype="float64"), (2, 3, 2)),
    (layers.Activation("tanh", dtype="float64"), (2, 3, 2)),
    (layers.Activation("softmax", dtype="float64"), (2, 3, 4)),
    (layers.Activation("sigmoid", dtype="float64"), (2, 3)),
    (layers.GlobalAveragePooling1D(dtype="float64"), (2, 5, 3)),
    (layers.GlobalAveragePooling1D(keepdims=True, dtype="float64"), (2, 5, 3)),
])
def test_weightless_layer_gradients(layer, shape):
    _finite_difference_check(layer, _rng().standard_normal(shape))


def test_relu_activation_gradient_away_from_zero():
    x = _rng().standard_normal((3, 4))
    x += np.sign(x) * 0.1
    _finite_difference_check(layers.Activation("relu", dtype="float64"), x)


def test_masked_average_pooling_gradient():
    _finite_difference_check(layers.GlobalAveragePooling1D(dtype="float64"), _rng().standard_normal((2, 5, 3)),
                             {"mask": TIMES})


@pytest.mark.parametrize("options,shape", [
    ({}, (2, 3, 4)),
    ({"center": False}, (3, 5)),
    ({"scale": False, "epsilon": 0.1}, (2, 3, 4)),
    ({"axis": [1, 2]}, (2, 3, 4)),
])
def test_layer_normalization_gradients(options, shape):
    rng = _rng()
    x = rng.standard_normal(shape)
    _finite_difference_check(_built(layers.LayerNormalization(dtype="float64", **options), x, rng), x)


CONV_OPTIONS = [
    {"padding": "valid"},
    {"padding": "same", "activation": "tanh"},
    {"padding": "causal", "dilation_rate": 2},
    {"padding": "same", "strides": 2, "use_bias": False},
    {"padding": "valid", "strides": 3, "activation": "sigmoid"},
    {"padding": "same", "dilation_rate": 2},
]


@pytest.mark.parametrize("options", CONV_OPTIONS)
def test_conv1d_gradients(options):
    rng = _rng()
    x = rng.standard_normal((2, 7, 3))
    _finite_difference_check(_built(layers.Conv1D(4, 3, dtype="float64", **options), x, rng), x)


@pytest.mark.parametrize("make,shape", [
    (lambda: layers.Dense(3, activation="tanh", dtype="float64"), (2, 4, 5)),
    (lambda: layers.Conv1D(2, 2, padding="causal", dtype="float64"), (2, 3, 4, 3)),
    (lambda: layers.LayerNormalization(dtype="float64"), (2, 3, 4)),
])
def test_time_distributed_gradients(make, shape):
    rng = _rng()
    x = rng.standard_normal(shape)
    _finite_difference_check(_built(layers.TimeDistributed(make()), x, rng), x)


# -- shapes, masks, configs, errors --------------------------------------------------------
def test_output_shapes_with_unknown_sizes():
    assert layers.Concatenate(axis=1).compute_output_shape([(None, 3, 2), (None, None, 2)]) == (None, None, 2)
    assert layers.Concatenate().compute_output_shape([(None, None, 2), (None, None, 5)]) == (None, None, 7)
    assert layers.Add().compute_output_shape([(None, None, 4), (None, 6, 4)]) == (None, 6, 4)
    assert layers.RepeatVector(3).compute_output_shape((None, 4)) == (None, 3, 4)
    assert layers.Flatten().compute_output_shape((None, None, 4)) == (None, None)
    assert layers.Flatten().compute_output_shape((None, 3, 4)) == (None, 12)
    assert layers.Reshape((-1, 2)).compute_output_shape((None, 3, 4)) == (None, 6, 2)
    assert layers.Reshape((-1, 2)).compute_output_shape((None, None, 4)) == (None, None, 2)
    assert layers.GlobalAveragePooling1D().compute_output_shape((None, None, 4)) == (None, 4)
    assert layers.Conv1D(5, 3).compute_output_shape((None, None, 4)) == (None, None, 5)
    assert layers.Conv1D(5, 3, strides=2, padding="same").compute_output_shape((None, 7, 4)) == (None, 4, 5)
    td = layers.TimeDistributed(layers.Dense(2))
    assert td.compute_output_shape((None, None, 3)) == (None, None, 2)
    norm = layers.LayerNormalization()
    norm.build((None, None, 4))
    assert [w.shape for w in norm.weights] == [(4,), (4,)]


def test_masks_passed_on():
    x = np.ones((2, 5, 3))
    for layer in (layers.RepeatVector(2), layers.Flatten(), layers.Reshape((15,)), layers.GlobalAveragePooling1D(),
                  layers.Conv1D(2, 2)):
        assert layer.compute_mask(x, TIMES) is None
    for layer in (layers.Activation("relu"), layers.LayerNormalization(), layers.TimeDistributed(layers.Dense(2))):
        assert layer.compute_mask(x, TIMES) is TIMES
    other = np.eye(2, 5, dtype=bool)
    np.testing.assert_array_equal(layers.Add().compute_mask([x, x], [TIMES, other]), TIMES | other)
    assert layers.Add().compute_mask([x, x], [TIMES, None]) is None
    np.testing.assert_array_equal(layers.Concatenate().compute_mask([x, x], [TIMES, None]), np.ones((2, 5), bool))
    np.testing.assert_array_equal(layers.Concatenate(axis=1).compute_mask([x, x], [TIMES, None]),
                                  np.concatenate([TIMES, np.ones((2, 5), bool)], axis=1))
    assert layers.Concatenate().compute_mask([x, x], [None, None]) is None


def test_all_masked_sequence_averages_to_nan_as_keras():
    y = layers.GlobalAveragePooling1D()(np.ones((2, 3, 2)), mask=np.array([[True, False, False], [False] * 3]))
    np.testing.assert_array_equal(y[0], [1.0, 1.0])
    assert np.isnan(y[1]).all()


@pytest.mark.parametrize("layer", [
    layers.Concatenate(axis=1), layers.Add(), layers.Multiply(), layers.Average(), layers.RepeatVector(3),
    layers.Flatten(), layers.Reshape((2, -1)), layers.Activation("softmax"),
    layers.GlobalAveragePooling1D(keepdims=True),
    layers.LayerNormalization(axis=[1, 2], epsilon=0.01, center=False),
    layers.Conv1D(3, 2, strides=2, padding="same", activation="relu", use_bias=False),
    layers.TimeDistributed(layers.Dense(2, activation="tanh")),
])
def test_config_round_trip(layer):
    from numlstm import registry

    entry = registry.layer_entry(layer)
    copy = registry.layer_from_config(entry)
    assert type(copy) is type(layer)
    assert registry.layer_entry(copy) == entry


def test_time_distributed_delegates_weights():
    inner = layers.Dense(2)
    td = layers.TimeDistributed(inner)
    td(np.ones((1, 3, 4), np.float32))
    assert td.weights == inner.weights and td.count_params() == 10
    td.set_weights([np.ones((4, 2)), np.zeros(2)])
    np.testing.assert_array_equal(td(np.ones((1, 3, 4), np.float32)), np.full((1, 3, 2), 4.0))
    td.trainable = False
    assert td.trainable_weights == [] and len(td.non_trainable_weights) == 2


def test_bad_arguments():
    with pytest.raises(TypeError, match="n must be an int"):
        layers.RepeatVector(2.0)
    with pytest.raises(ValueError, match="n must be positive"):
        layers.RepeatVector(0)
    with pytest.raises(ValueError, match="target_shape"):
        layers.Reshape((-1, -1))
    with pytest.raises(ValueError, match="unknown activation"):
        layers.Activation("swish")
    with pytest.raises(ValueError, match="padding"):
        layers.Conv1D(2, 3, padding="full")
    with pytest.raises(ValueError, match="dilation_rate"):
        layers.Conv1D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="kernel_size"):
        layers.Conv1D(2, 0)
    with pytest.raises(ValueError, match="channels_first"):
        layers.Flatten(data_format="channels_first")
    with pytest.raises(TypeError, match="axis"):
        layers.LayerNormalization(axis="last")
    with pytest.raises(ValueError, match="last axes"):
        layers.LayerNormalization(axis=1)(np.ones((2, 3, 4)))
    with pytest.raises(TypeError, match="Layer"):
        layers.TimeDistributed("dense")
    with pytest.raises(ValueError, match="same shape"):
        layers.Add()([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="except on axis"):
        layers.Concatenate()([np.ones((2, 3, 1)), np.ones((2, 4, 1))])
    with pytest.raises(ValueError, match="list"):
        layers.Add()(np.ones((2, 3)))
    with pytest.raises(ValueError, match="too few"):
        layers.Conv1D(2, 5)(np.ones((1, 3, 2)))
    with pytest.raises(ValueError, match="cannot reshape"):
        layers.Reshape((5, -1))(np.ones((2, 12)))


# -- parity with Keras 3 (JAX) ---------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("Keras runs on another backend")
    return keras


def _keras_pass(layer, inputs, cotangent, masks=None, **call_kwargs):
    """Keras' output, output mask, and the gradients of sum(output * cotangent) wrt inputs and weights."""
    import jax
    import jax.numpy as jnp
    from keras.src import backend as keras_backend

    several = isinstance(inputs, list)
    weights = [v.value for v in layer.trainable_variables]

    def run(xs, ws):
        if masks is not None:
            for x, m in zip(xs, masks):
                keras_backend.set_keras_mask(x, None if m is None else jnp.asarray(m))
        output, _ = layer.stateless_call(ws, [v.value for v in layer.non_trainable_variables],
                                         xs if several else xs[0], **call_kwargs)
        return output

    xs = [jnp.asarray(x) for x in (inputs if several else [inputs])]
    output, vjp = jax.vjp(run, xs, weights)
    d_inputs, d_weights = vjp(jnp.asarray(cotangent))
    output_mask = None
    if masks is not None:
        output_mask = layer.compute_mask(xs if several else xs[0], [None if m is None else jnp.asarray(m)
                                                                     for m in masks] if several else masks)
    return np.asarray(output), output_mask, [np.asarray(d) for d in d_inputs], [np.asarray(d) for d in d_weights]


def _compare(ours, theirs, inputs, rng, masks=None, forward_mask=None, **call_kwargs):
    """Builds both on ``inputs``, copies Keras' weights into ours, and compares forward and backward."""
    several = isinstance(inputs, list)
    theirs(inputs, **({"mask": forward_mask} if forward_mask is not None else {}))
    ours.forward(inputs, mask=masks if several else forward_mask)
    weights = [w + rng.standard_normal(w.shape).astype(np.float32) * 0.1 for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    output, cache = ours.forward(inputs, mask=masks if several else forward_mask)
    cotangent = rng.standard_normal(output.shape).astype(np.float32)
    keras_kwargs = dict(call_kwargs, **({"mask": forward_mask} if forward_mask is not None else {}))
    expected, expected_mask, d_inputs, d_weights = _keras_pass(theirs, inputs, cotangent, masks, **keras_kwargs)
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-6)
    result = ours.backward(cache, cotangent)
    got_inputs = result.d_input if several else [result.d_input]
    for got, want in zip(list(got_inputs) + list(result.grads), d_inputs + d_weights):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    if several and masks is not None:
        got_mask = ours.compute_mask(inputs, masks)
        assert (got_mask is None) == (expected_mask is None)
        if got_mask is not None:
            np.testing.assert_array_equal(got_mask, np.asarray(expected_mask))


def _floats(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("name,kwargs", [("Add", {}), ("Average", {}), ("Multiply", {}), ("Concatenate", {}),
                                         ("Concatenate", {"axis": 1}), ("Concatenate", {"axis": 0})])
@pytest.mark.parametrize("masks", [None, "all", "one"])
def test_merging_matches_keras(keras, name, kwargs, masks):
    rng = _rng(2)
    inputs = [_floats(rng, 2, 5, 3) for _ in range(3)]
    mask_list = {None: None, "all": [TIMES, ~TIMES, np.eye(2, 5, dtype=bool)],
                 "one": [None, TIMES, None]}[masks]
    _compare(getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs), inputs, rng, masks=mask_list)


@pytest.mark.parametrize("name,args,kwargs,shape", [
    ("RepeatVector", (3,), {}, (2, 4)),
    ("Flatten", (), {}, (2, 3, 4)),
    ("Flatten", (), {}, (3,)),
    ("Reshape", ((-1, 2),), {}, (2, 3, 4)),
    ("Reshape", ((4, 3),), {}, (2, 12)),
    ("Activation", ("relu",), {}, (2, 3, 4)),
    ("Activation", ("tanh",), {}, (2, 3, 4)),
    ("Activation", ("sigmoid",), {}, (2, 3, 4)),
    ("Activation", ("softmax",), {}, (2, 3, 4)),
    ("Activation", ("linear",), {}, (2, 3, 4)),
    ("GlobalAveragePooling1D", (), {}, (2, 5, 3)),
    ("GlobalAveragePooling1D", (), {"keepdims": True}, (2, 5, 3)),
    ("LayerNormalization", (), {}, (2, 5, 3)),
    ("LayerNormalization", (), {"axis": [1, 2], "epsilon": 1e-5}, (2, 5, 3)),
    ("LayerNormalization", (), {"center": False}, (4, 6)),
    ("LayerNormalization", (), {"scale": False}, (2, 5, 3)),
])
def test_single_input_layers_match_keras(keras, name, args, kwargs, shape):
    rng = _rng(3)
    _compare(getattr(layers, name)(*args, **kwargs), getattr(keras.layers, name)(*args, **kwargs),
             _floats(rng, *shape) * 2, rng)


def test_masked_average_pooling_matches_keras(keras):
    rng = _rng(4)
    _compare(layers.GlobalAveragePooling1D(), keras.layers.GlobalAveragePooling1D(), _floats(rng, 2, 5, 3), rng,
             forward_mask=TIMES)


@pytest.mark.parametrize("options", CONV_OPTIONS + [{"padding": "causal", "kernel_size": 1},
                                                    {"padding": "same", "kernel_size": 4, "activation": "relu"}])
def test_conv1d_matches_keras(keras, options):
    rng = _rng(5)
    options = {"kernel_size": 3, **options}
    _compare(layers.Conv1D(4, **options), keras.layers.Conv1D(4, **options), _floats(rng, 2, 8, 3), rng)


def test_time_distributed_matches_keras(keras):
    rng = _rng(6)
    _compare(layers.TimeDistributed(layers.Dense(4, activation="tanh")),
             keras.layers.TimeDistributed(keras.layers.Dense(4, activation="tanh")), _floats(rng, 2, 5, 3), rng)
    _compare(layers.TimeDistributed(layers.Conv1D(2, 3, padding="same")),
             keras.layers.TimeDistributed(keras.layers.Conv1D(2, 3, padding="same")), _floats(rng, 2, 3, 6, 2), rng)


def test_output_shapes_match_keras(keras):
    cases = [("Concatenate", (), [(None, 3, 2), (None, 4, 2)], {"axis": 1}),
             ("Add", (), [(None, None, 4), (None, None, 4)], {}),
             ("RepeatVector", (3,), (None, 4), {}), ("Flatten", (), (None, 3, 4), {}),
             ("Reshape", ((-1, 2),), (None, 3, 4), {}), ("GlobalAveragePooling1D", (), (None, None, 4), {}),
             ("Conv1D", (5, 3), (None, 9, 4), {"strides": 2, "padding": "same"}),
             ("Conv1D", (5, 3), (None, 9, 4), {"padding": "valid", "dilation_rate": 3}),
             ("Conv1D", (5, 3), (None, None, 4), {"padding": "causal"})]
    for name, args, shape, kwargs in cases:
        ours = getattr(layers, name)(*args, **kwargs).compute_output_shape(shape)
        assert ours == tuple(getattr(keras.layers, name)(*args, **kwargs).compute_output_shape(shape)), name


def test_weight_shapes_and_names_match_keras(keras):
    for ours, theirs, shape in [(layers.Conv1D(4, 3), keras.layers.Conv1D(4, 3), (None, 7, 2)),
                                (layers.LayerNormalization(), keras.layers.LayerNormalization(), (None, 7, 2))]:
        ours.build(shape)
        theirs.build(shape)
        assert [w.shape for w in ours.weights] == [tuple(v.shape) for v in theirs.weights]
        assert ours._weight_names == [v.name for v in theirs.weights]
