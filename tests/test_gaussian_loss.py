"""GaussianNLL: the value against scipy, its gradient, shapes, large scales, weights, training and saving."""

import math

import numpy as np
import pytest
from scipy import stats

import numlstm
from numlstm import losses
from numlstm.losses import GaussianNLL, gaussian_parameters
from helpers.loss_checks import assert_weights_repeat_samples, finite_difference_gradient

rng = np.random.default_rng(43)


def scipy_nll(y_true, y_pred, min_scale=1e-3):
    """The mean over positions of -log N(y; mu, sigma), scipy's density, sigma = softplus(r) + min_scale."""
    y_pred = np.asarray(y_pred, dtype=float)
    mu = y_pred[..., 0]
    sigma = np.log1p(np.exp(y_pred[..., 1])) + min_scale
    y = np.asarray(y_true, dtype=float).reshape(mu.shape)
    return -stats.norm.logpdf(y, mu, sigma).mean()


def random_case(shape_true, positions):
    """Targets of shape_true and predictions (positions..., 2): mu standard normal, r uniform in [-3, 3]."""
    y_pred = np.stack([rng.standard_normal(positions), rng.uniform(-3, 3, positions)], axis=-1)
    return rng.standard_normal(shape_true), y_pred


@pytest.mark.parametrize("min_scale", [1e-3, 0.1, 2.0])
@pytest.mark.parametrize("shape_true, positions", [((50,), (50,)), ((50, 1), (50,)), ((6, 7), (6, 7))])
def test_value_matches_scipy(min_scale, shape_true, positions):
    y_true, y_pred = random_case(shape_true, positions)
    assert GaussianNLL(min_scale)(y_true, y_pred) == pytest.approx(scipy_nll(y_true, y_pred, min_scale), rel=1e-12)


@pytest.mark.parametrize("shape_true, positions", [((6,), (6,)), ((6, 1), (6,)), ((4, 5), (4, 5)),
                                                    ((4, 5, 1), (4, 5))])
def test_target_shapes_and_gradient_against_finite_differences(shape_true, positions):
    loss = GaussianNLL()
    y_true, y_pred = random_case(shape_true, positions)
    value, gradient = loss.value_and_gradient(y_true, y_pred)
    assert value == pytest.approx(scipy_nll(y_true, y_pred), rel=1e-12)
    assert gradient.shape == y_pred.shape and gradient.dtype == np.float64
    # r down to -3 makes sigma as small as 0.05 and the value as large as ~1e2: rounding limits the differences
    np.testing.assert_allclose(gradient, finite_difference_gradient(loss, y_true, y_pred), rtol=1e-5, atol=1e-8)


def test_gradient_with_sample_weights_against_finite_differences():
    loss = GaussianNLL(0.05)
    y_true, y_pred = random_case((4, 5), (4, 5))
    weights = rng.uniform(0, 2, 4)
    gradient = loss.value_and_gradient(y_true, y_pred, sample_weight=weights)[1]
    np.testing.assert_allclose(gradient, finite_difference_gradient(loss, y_true, y_pred, sample_weight=weights),
                               rtol=1e-5, atol=1e-8)


def test_gradient_formula():
    # One position: mu = 1, r = 0.5, y = 2.5.
    mu, r, y, min_scale = 1.0, 0.5, 2.5, 1e-3
    sigma = math.log1p(math.exp(r)) + min_scale
    sigmoid = 1 / (1 + math.exp(-r))
    gradient = GaussianNLL(min_scale).value_and_gradient([y], [[mu, r]])[1]
    np.testing.assert_allclose(gradient, [[(mu - y) / sigma ** 2,
                                           (1 / sigma - (y - mu) ** 2 / sigma ** 3) * sigmoid]], rtol=1e-14)


@pytest.mark.parametrize("r", [50.0, -50.0, 800.0, -800.0])
def test_large_scales_give_finite_values_and_gradients(r):
    loss = GaussianNLL()
    y_pred = np.array([[0.0, r], [1.0, r]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # exp(-800) may underflow to 0
        value, gradient = loss.value_and_gradient(np.array([0.5, -0.5]), y_pred)
    assert np.isfinite(value) and np.all(np.isfinite(gradient))
    sigma = max(r, 0.0) + 1e-3  # softplus(r) is r for large r and 0 for very negative r
    expected = np.mean(0.5 * math.log(2 * math.pi) + math.log(sigma) + 0.5 * (np.array([0.5, -1.5]) / sigma) ** 2)
    assert value == pytest.approx(expected, rel=1e-12)


def test_a_single_position_without_a_batch_axis():
    for y_true in (1.0, [1.0]):
        value, gradient = GaussianNLL().value_and_gradient(y_true, np.array([0.0, 0.5]))
        assert value == pytest.approx(scipy_nll([1.0], [[0.0, 0.5]]), rel=1e-12) and gradient.shape == (2,)


def test_float32_keeps_its_dtype():
    y_true, y_pred = random_case((5,), (5,))
    value, gradient = GaussianNLL().value_and_gradient(y_true.astype(np.float32), y_pred.astype(np.float32))
    assert gradient.dtype == np.float32
    assert value == pytest.approx(scipy_nll(y_true, y_pred.astype(np.float32)), rel=1e-5)


def test_sample_weights_equal_repeated_samples():
    loss = GaussianNLL()
    y_true, y_pred = random_case((4, 3), (4, 3))
    assert_weights_repeat_samples(loss, y_true, y_pred)


def test_hand_computed_value():
    # mu = y and r = log(e - 1): sigma = 1 + min_scale, so the loss is 0.5 log(2 pi) + log(1 + min_scale)
    loss = GaussianNLL(1e-3)
    assert loss([3.0], [[3.0, math.log(math.e - 1)]]) == pytest.approx(0.5 * math.log(2 * math.pi)
                                                                        + math.log(1.001), rel=1e-12)


def test_gaussian_parameters():
    y_pred = np.array([[[1.0, 0.0], [-2.0, 60.0]], [[0.5, -60.0], [0.0, 1.0]]])
    mu, sigma = gaussian_parameters(y_pred, min_scale=0.01)
    np.testing.assert_array_equal(mu, y_pred[..., 0])
    np.testing.assert_allclose(sigma, [[math.log(2) + 0.01, 60.01], [0.01, math.log1p(math.e) + 0.01]], rtol=1e-14)
    mu32, sigma32 = gaussian_parameters(y_pred.astype(np.float32))
    assert mu32.dtype == sigma32.dtype == np.float32 and mu32.shape == sigma32.shape == (2, 2)
    mu, _ = gaussian_parameters(y_pred)
    mu[0, 0] = 9.0
    assert y_pred[0, 0, 0] == 1.0  # the means are a copy
    with pytest.raises(ValueError, match=r"gaussian_parameters: y_pred must have shape \(..., 2\).*\(2, 3\)"):
        gaussian_parameters(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="min_scale"):
        gaussian_parameters(y_pred, min_scale=0.0)


@pytest.mark.parametrize("min_scale", [0.0, -1e-3, float("nan"), float("inf"), "0.1", True, None])
def test_min_scale_is_validated(min_scale):
    with pytest.raises(ValueError, match="min_scale must be a positive finite number"):
        GaussianNLL(min_scale)


def test_min_scale_is_stored_as_a_float():
    loss = GaussianNLL(np.float32(0.25))
    assert loss.min_scale == 0.25 and type(loss.min_scale) is float
    assert loss.get_config() == {"min_scale": 0.25}
    assert GaussianNLL(**loss.get_config()).min_scale == 0.25
    assert GaussianNLL().get_config() == {"min_scale": 1e-3}


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("shape_true, shape_pred", [((6,), (6, 3)), ((6, 2), (6, 2)), ((5,), (6, 2)),
                                                    ((6, 3, 1), (6, 2)), ((6,), (6,)), ((), ()), ((2,), (2,))])
def test_shape_mismatches_name_both_shapes(shape_true, shape_pred):
    with pytest.raises(ValueError, match=rf"gaussian_nll: y_true has shape {re_shape(shape_true)} and y_pred "
                                         rf"{re_shape(shape_pred)}; y_pred must be \(..., 2\)"):
        GaussianNLL()(np.zeros(shape_true), np.zeros(shape_pred))


def test_targets_must_be_numbers():
    with pytest.raises(TypeError, match="y_true must hold numbers"):
        GaussianNLL()(np.array(["a", "b"]), np.zeros((2, 2)))


def test_names_resolve():
    for name in ("gaussian_nll", "GaussianNLL"):
        loss = losses.get(name)
        assert isinstance(loss, GaussianNLL) and loss.min_scale == 1e-3
    assert GaussianNLL().name == "gaussian_nll"
    assert {"GaussianNLL", "gaussian_parameters"} <= set(losses.__all__)


def _gaussian_model(min_scale=1e-3):
    model = numlstm.Sequential([numlstm.layers.Input((1,)), numlstm.layers.Dense(2)])
    model.compile(numlstm.optimizers.Adam(0.05), GaussianNLL(min_scale))
    return model


def test_a_dense_layer_learns_the_mean_and_the_scale():
    data = np.random.default_rng(7)
    x = data.uniform(-1, 1, (4000, 1))
    y = 3 * x[:, 0] + data.normal(0, 0.5, 4000)
    model = _gaussian_model()
    model.fit(x, y, epochs=30, batch_size=256, verbose=0)
    grid = np.linspace(-1, 1, 21)[:, None]
    mu, sigma = gaussian_parameters(model.predict(grid), min_scale=model.loss.min_scale)
    slope = np.polyfit(grid[:, 0], mu, 1)[0]
    assert slope == pytest.approx(3.0, rel=0.1)
    np.testing.assert_allclose(sigma, 0.5, rtol=0.1)


def test_saving_keeps_min_scale(tmp_path):
    model = _gaussian_model(min_scale=0.02)
    x = rng.uniform(-1, 1, (16, 1))
    model.fit(x, 3 * x[:, 0], epochs=1, verbose=0)
    numlstm.saving.save_model(model, tmp_path / "gaussian.numlstm")
    loaded = numlstm.load_model(tmp_path / "gaussian.numlstm")
    assert isinstance(loaded.loss, GaussianNLL) and loaded.loss.min_scale == 0.02
    assert loaded.get_compile_config()["loss"] == [{"class_name": "GaussianNLL", "config": {"min_scale": 0.02}}]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
