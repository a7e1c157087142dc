"""QuantileLoss: the pinball loss against a plain loop, its gradient, shapes, weights, training and saving."""

import numpy as np
import pytest

import numlstm
from numlstm import losses
from numlstm.losses import QuantileLoss
from helpers.loss_checks import assert_weights_repeat_samples, finite_difference_gradient

rng = np.random.default_rng(41)
LEVELS = (0.1, 0.5, 0.9)


def loop_pinball(y_true, y_pred, quantiles):
    """The mean over positions of the mean over levels of max(q u, (q - 1) u), written as plain loops."""
    y_pred = np.asarray(y_pred, dtype=float)
    positions = y_pred.reshape(-1, y_pred.shape[-1])
    targets = np.asarray(y_true, dtype=float).reshape(-1)
    total = 0.0
    for row, target in zip(positions, targets):
        position = 0.0
        for q, prediction in zip(quantiles, row):
            u = target - prediction
            position += q * u if u >= 0 else (q - 1) * u
        total += position / len(quantiles)
    return total / len(targets)


def untied(shape_true, shape_pred):
    """Targets and predictions at least 1e-3 apart, so that no finite-difference step crosses a kink."""
    y_true = rng.standard_normal(shape_true)
    y_pred = rng.standard_normal(shape_pred)
    broadcast = y_true.reshape(shape_pred[:-1] + (1,))
    close = np.abs(broadcast - y_pred) < 1e-3
    y_pred[close] += 0.01
    return y_true, y_pred


@pytest.mark.parametrize("quantiles", [LEVELS, (0.05, 0.25, 0.5, 0.75, 0.95), (0.3,)])
def test_value_matches_a_plain_loop(quantiles):
    y_true, y_pred = untied((7,), (7, len(quantiles)))
    assert QuantileLoss(quantiles)(y_true, y_pred) == pytest.approx(loop_pinball(y_true, y_pred, quantiles),
                                                                    rel=1e-12)


@pytest.mark.parametrize("shape_true, shape_pred", [((6,), (6, 3)), ((6, 1), (6, 3)), ((4, 5), (4, 5, 3)),
                                                    ((4, 5, 1), (4, 5, 3))])
def test_target_shapes_and_gradient_against_finite_differences(shape_true, shape_pred):
    loss = QuantileLoss(LEVELS)
    y_true, y_pred = untied(shape_true, shape_pred)
    value, gradient = loss.value_and_gradient(y_true, y_pred)
    assert value == pytest.approx(loop_pinball(y_true, y_pred, LEVELS), rel=1e-12)
    assert gradient.shape == y_pred.shape and gradient.dtype == np.float64
    np.testing.assert_allclose(gradient, finite_difference_gradient(loss, y_true, y_pred), rtol=1e-6, atol=1e-9)


def test_gradient_with_sample_weights_against_finite_differences():
    loss = QuantileLoss(LEVELS)
    y_true, y_pred = untied((4, 5), (4, 5, 3))
    weights = rng.uniform(0, 2, 4)
    gradient = loss.value_and_gradient(y_true, y_pred, sample_weight=weights)[1]
    np.testing.assert_allclose(gradient, finite_difference_gradient(loss, y_true, y_pred, sample_weight=weights),
                               rtol=1e-6, atol=1e-9)


def test_gradient_values_at_and_away_from_ties():
    # One position, three levels: above, tied with and below the target.
    gradient = QuantileLoss(LEVELS).value_and_gradient([1.0], [[0.0, 1.0, 2.0]])[1]
    np.testing.assert_allclose(gradient, [[-0.1 / 3, 0.5 / 3, 0.1 / 3]])


def test_float32_keeps_its_dtype():
    y_true, y_pred = untied((5,), (5, 3))
    value, gradient = QuantileLoss(LEVELS).value_and_gradient(y_true.astype(np.float32), y_pred.astype(np.float32))
    assert gradient.dtype == np.float32
    assert value == pytest.approx(loop_pinball(y_true, y_pred, LEVELS), rel=1e-5)


def test_sample_weights_equal_repeated_samples():
    loss = QuantileLoss(LEVELS)
    y_true, y_pred = untied((4, 3), (4, 3, 3))
    assert_weights_repeat_samples(loss, y_true, y_pred)


def test_the_median_level_is_half_the_mean_absolute_error():
    y_true, y_pred = untied((8,), (8, 1))
    assert QuantileLoss((0.5,))(y_true, y_pred) == pytest.approx(0.5 * losses.MeanAbsoluteError()(y_true, y_pred),
                                                                 rel=1e-12)


def test_hand_computed_value():
    # u = 2 - 1 = 1 at 0.1 -> 0.1; u = 2 - 2 = 0 -> 0; u = 2 - 4 = -2 at 0.9 -> 0.2; mean 0.1
    assert QuantileLoss(LEVELS)([2.0], [[1.0, 2.0, 4.0]]) == pytest.approx(0.1)


@pytest.mark.parametrize("quantiles, match", [
    ((), "at least one level"), ([0.5, 0.5], "strictly increasing"), ([0.9, 0.1], "strictly increasing"),
    ([0.0, 0.5], "strictly between 0 and 1"), ([0.5, 1.0], "strictly between 0 and 1"),
    ([float("nan")], "strictly between 0 and 1"), (["0.5"], "must hold numbers"), ([True], "must hold numbers"),
    ("0.1,0.9", "sequence"), (0.5, "sequence")])
def test_quantiles_are_validated(quantiles, match):
    with pytest.raises(ValueError, match=f"quantiles.*{match}"):
        QuantileLoss(quantiles)


def test_quantiles_are_stored_as_a_tuple_of_floats():
    loss = QuantileLoss(np.array([0.25, 0.75], dtype=np.float32))
    assert loss.quantiles == (0.25, 0.75) and all(type(q) is float for q in loss.quantiles)
    assert loss.get_config() == {"quantiles": [0.25, 0.75]}
    assert QuantileLoss(**loss.get_config()).quantiles == loss.quantiles


@pytest.mark.parametrize("shape_true, shape_pred", [((6,), (6, 2)), ((6, 3, 1), (6, 3)), ((5,), (6, 3)),
                                                    ((6, 2), (6, 3)), ((6,), (6,)), ((), ())])
def test_shape_mismatches_name_both_shapes_and_q(shape_true, shape_pred):
    with pytest.raises(ValueError, match=rf"y_true has shape {re_shape(shape_true)} and y_pred "
                                         rf"{re_shape(shape_pred)}; with Q = 3"):
        QuantileLoss(LEVELS)(np.zeros(shape_true), np.zeros(shape_pred))


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_targets_must_be_numbers():
    with pytest.raises(TypeError, match="y_true must hold numbers"):
        QuantileLoss(LEVELS)(np.array(["a", "b"]), np.zeros((2, 3)))


def test_names_resolve():
    for name in ("quantile_loss", "pinball_loss", "QuantileLoss"):
        loss = losses.get(name)
        assert isinstance(loss, QuantileLoss) and loss.quantiles == LEVELS
    assert QuantileLoss().name == "quantile_loss"
    assert "QuantileLoss" in losses.__all__


def _quantile_model(quantiles=LEVELS):
    model = numlstm.Sequential([numlstm.layers.Input((4,)), numlstm.layers.Dense(len(quantiles))])
    model.compile(numlstm.optimizers.Adam(0.05), QuantileLoss(quantiles))
    return model


def test_a_dense_layer_learns_the_quantiles_of_gaussian_noise():
    data = np.random.default_rng(7)
    x = data.standard_normal((4000, 4))
    y = x.sum(axis=1) + data.standard_normal(4000)
    model = _quantile_model()
    model.fit(x, y, epochs=40, batch_size=256, verbose=0)
    predicted = model.predict(x)
    coverage = (y[:, None] <= predicted).mean(axis=0)
    np.testing.assert_allclose(coverage, LEVELS, atol=0.05)


def test_saving_keeps_the_quantiles(tmp_path):
    quantiles = (0.05, 0.5, 0.95)
    model = _quantile_model(quantiles)
    x = rng.standard_normal((16, 4))
    model.fit(x, x.sum(axis=1), epochs=1, verbose=0)
    numlstm.saving.save_model(model, tmp_path / "quantiles.numlstm")
    loaded = numlstm.load_model(tmp_path / "quantiles.numlstm")
    assert isinstance(loaded.loss, QuantileLoss) and loaded.loss.quantiles == quantiles
    assert loaded.get_compile_config()["loss"] == [{"class_name": "QuantileLoss",
                                                    "config": {"quantiles": [0.05, 0.5, 0.95]}}]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
