"""numlstm.forecasting.scores against values computed by hand, and its input checks."""

import math

import numpy as np
import pytest

from numlstm.forecasting import scores


def test_rmse_and_mae():
    forecast = [[1.0, 2.0], [3.0, 7.0]]
    actual = [[2.0, 2.0], [1.0, 3.0]]
    # errors -1, 0, 2, 4: squares 1, 0, 4, 16
    assert scores.rmse(forecast, actual) == pytest.approx(math.sqrt(21 / 4))
    assert scores.mae(forecast, actual) == pytest.approx(7 / 4)
    assert scores.rmse([3], [3]) == 0.0 and scores.mae(np.array([1, 2]), (2, 4)) == 1.5  # ints and tuples
    assert isinstance(scores.mae([1.0], [2.0]), float)


@pytest.mark.parametrize("function", [scores.rmse, scores.mae, scores.smape])
def test_point_scores_check_their_shapes(function):
    with pytest.raises(ValueError, match=r"one shape, got forecast \(2, 3\), actual \(3, 2\)"):
        function(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="must not be empty"):
        function([], [])
    with pytest.raises(TypeError, match="forecast must hold real numbers"):
        function(["a"], [1.0])
    with pytest.raises(TypeError, match="actual must hold real numbers"):
        function([1.0], [None])


def test_mase():
    history = [1.0, 3.0, 2.0, 6.0]
    # naive one-step errors 2, 1, 4: scale 7 / 3; MAE of the forecast (1 + 3) / 2 = 2
    assert scores.mase([5.0, 4.0], [6.0, 7.0], history) == pytest.approx(2 / (7 / 3))
    # season 2: errors |2 - 1| and |6 - 3|, scale 2
    assert scores.mase([5.0, 4.0], [6.0, 7.0], history, season=2) == pytest.approx(1.0)
    assert scores.mase([[1.0]], [[1.0]], [0.0, 1.0]) == 0.0


def test_mase_errors():
    with pytest.raises(ValueError, match=r"at least season \+ 1 = 3 values, got 2"):
        scores.mase([1.0], [1.0], [1.0, 2.0], season=2)
    with pytest.raises(ValueError, match="scale of mase is 0.*season = 2"):
        scores.mase([1.0], [1.0], [1.0, 5.0, 1.0, 5.0], season=2)
    with pytest.raises(ValueError, match=r"history must be a 1-D series, got shape \(2, 2\)"):
        scores.mase([1.0], [1.0], [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="season must be at least 1, got 0"):
        scores.mase([1.0], [1.0], [1.0, 2.0], season=0)
    with pytest.raises(TypeError, match="season must be an int, got float"):
        scores.mase([1.0], [1.0], [1.0, 2.0], season=1.0)
    with pytest.raises(ValueError, match=r"forecast \(2,\), actual \(1,\)"):
        scores.mase([1.0, 2.0], [1.0], [1.0, 2.0])


def test_smape():
    # |1 - 3| / (3 + 1) = 0.5; both zero counts 0; |-2 - 2| / 4 = 1; 200 * 1.5 / 3 = 100
    assert scores.smape([1.0, 0.0, -2.0], [3.0, 0.0, 2.0]) == pytest.approx(100.0)
    assert scores.smape([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert scores.smape([0.0], [5.0]) == pytest.approx(200.0)


def test_interval_coverage():
    lower = [0.0, 0.0, 0.0, 0.0, 2.0]
    upper = [1.0, 1.0, 1.0, 1.0, 1.0]  # the last interval is crossed: it holds nothing
    actual = [0.0, 1.0, 1.5, 0.5, 1.5]
    assert scores.interval_coverage(lower, upper, actual) == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match=r"lower \(2,\), upper \(3,\), actual \(2,\)"):
        scores.interval_coverage([0, 0], [1, 1, 1], [0, 0])


def test_pinball_loss_and_crps():
    levels = [0.1, 0.5, 0.9]
    forecast = [[0.0, 1.0, 2.0], [1.0, 3.0, 5.0]]
    actual = [3.0, 2.0]
    # row 1, u = 3, 2, 1: 0.3 + 1.0 + 0.9; row 2, u = 1, -1, -3: 0.1 + 0.5 + 0.3
    expected = (2.2 + 0.9) / 6
    assert scores.pinball_loss(forecast, actual, levels) == pytest.approx(expected)
    assert scores.crps_from_quantiles(forecast, actual, levels) == pytest.approx(2 * expected)
    assert scores.pinball_loss(forecast, actual, "0.1,0.5,0.9") == pytest.approx(expected)
    # (windows, horizon) actual values with (windows, horizon, Q) forecasts
    assert scores.pinball_loss(np.array(forecast)[None], np.array(actual)[None], levels) == pytest.approx(expected)


def test_the_median_pinball_loss_is_half_the_mae():
    assert scores.pinball_loss([[1.0], [4.0]], [2.0, 2.0], [0.5]) == pytest.approx(0.5 * (1 + 2) / 2)


def test_crps_of_dense_gaussian_quantiles_is_near_the_closed_form():
    norm = pytest.importorskip("scipy.stats").norm
    levels = np.arange(1, 100) / 100
    y = 0.3
    closed_form = y * (2 * norm.cdf(y) - 1) + 2 * norm.pdf(y) - 1 / math.sqrt(math.pi)  # sigma 1, mean 0
    approximate = scores.crps_from_quantiles(norm.ppf(levels)[None], [y], levels)
    assert approximate == pytest.approx(closed_form, rel=0.02)


@pytest.mark.parametrize("function", [scores.pinball_loss, scores.crps_from_quantiles])
def test_quantile_scores_check_their_shapes(function):
    with pytest.raises(ValueError, match=r"quantile_forecast has shape \(4, 2\) and actual \(4,\); with Q = 3"):
        function(np.zeros((4, 2)), np.zeros(4), [0.1, 0.5, 0.9])
    with pytest.raises(ValueError, match=r"quantile_forecast has shape \(4, 3\) and actual \(4, 1\)"):
        function(np.zeros((4, 3)), np.zeros((4, 1)), [0.1, 0.5, 0.9])
    with pytest.raises(ValueError, match="strictly increasing"):
        function(np.zeros((4, 2)), np.zeros(4), [0.9, 0.1])


def test_quantile_levels():
    assert scores.quantile_levels("0.1,0.5,0.9") == (0.1, 0.5, 0.9)
    assert scores.quantile_levels(" 0.25 , 0.75 ") == (0.25, 0.75)
    assert scores.quantile_levels([0.5]) == (0.5,)
    assert scores.quantile_levels(np.array([0.1, 0.9])) == (0.1, 0.9)
    assert all(type(level) is float for level in scores.quantile_levels(np.array([0.1, 0.9])))


@pytest.mark.parametrize("given, match", [
    ("0.1,,0.9", "comma-separated numbers"), ("0.1;0.9", "comma-separated numbers"), ("", "at least one level"),
    ([], "at least one level"), ("0.9,0.1", "strictly increasing"), ("0.1,0.1", "strictly increasing"),
    ("0,0.5", "strictly between 0 and 1"), ([0.5, 1.5], "strictly between 0 and 1"), (0.5, "sequence")])
def test_quantile_levels_errors(given, match):
    with pytest.raises(ValueError, match=f"quantiles.*{match}"):
        scores.quantile_levels(given)


def test_central_interval():
    levels = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]
    assert scores.central_interval(levels) == (0, 6, pytest.approx(0.9))
    assert scores.central_interval(levels, coverage=0.8) == (1, 5, pytest.approx(0.8))
    assert scores.central_interval(levels, coverage=0.5) == (2, 4, 0.5)
    assert scores.central_interval("0.1,0.5,0.9") == (0, 2, pytest.approx(0.8))
    # the widest symmetric pair, not the outermost levels
    assert scores.central_interval([0.02, 0.1, 0.5, 0.9]) == (1, 3, pytest.approx(0.8))
    # levels that went through rounding pair to within 1e-9, and no further
    assert scores.central_interval([0.1, 0.9 + 1e-10])[:2] == (0, 1)
    with pytest.raises(ValueError, match="no symmetric pair"):
        scores.central_interval([0.1, 0.9 + 1e-8])


def test_central_interval_errors():
    with pytest.raises(ValueError, match="no symmetric pair"):
        scores.central_interval([0.1, 0.5, 0.8])
    with pytest.raises(ValueError, match="no symmetric pair"):
        scores.central_interval([0.5])
    with pytest.raises(ValueError, match="no central interval of coverage 0.5; they hold 0.8"):
        scores.central_interval([0.1, 0.5, 0.9], coverage=0.5)
    with pytest.raises(ValueError, match="coverage must be a number strictly between 0 and 1"):
        scores.central_interval([0.1, 0.9], coverage=1.5)
