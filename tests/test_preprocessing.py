"""Forecasting windows, leak-free splits, scalers, baselines and the character vocabulary."""

import numpy as np
import pytest

from numlstm.preprocessing import (CharVocabulary, ForecastData, MinMaxScaler, StandardScaler, char_windows, rmse,
                                   scaler_from_config, sliding_windows, time_split)


def test_sliding_windows_by_hand():
    x, y = sliding_windows(np.arange(10.0), lookback=3, horizon=2, stride=2)
    np.testing.assert_array_equal(x[:, :, 0], [[0, 1, 2], [2, 3, 4], [4, 5, 6]])
    np.testing.assert_array_equal(y, [[3, 4], [5, 6], [7, 8]])


def test_sliding_windows_of_a_multivariate_series_forecast_the_target_column():
    series = np.stack([np.arange(6.0), 10 * np.arange(6.0)], axis=1)
    x, y = sliding_windows(series, lookback=2, target=1)
    assert x.shape == (4, 2, 2)
    np.testing.assert_array_equal(y[:, 0], [20, 30, 40, 50])


@pytest.mark.parametrize("kwargs,message", [
    ({"lookback": 0}, "lookback must be a positive integer"),
    ({"lookback": 2.5}, "lookback must be a positive integer"),
    ({"lookback": 3, "horizon": -1}, "horizon must be a positive integer"),
    ({"lookback": 9, "horizon": 2}, "needs at least 11 steps"),
])
def test_impossible_windows_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sliding_windows(np.arange(10.0), **kwargs)


def test_missing_values_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        sliding_windows([1.0, np.nan, 3.0, 4.0], lookback=1)


def test_time_split_boundaries():
    assert time_split(100, 0.2, 0.1) == (70, 90)
    with pytest.raises(ValueError, match="leave some training data"):
        time_split(100, 0.5, 0.5)


@pytest.mark.parametrize("relative", [False, True])
def test_forecast_data_has_no_leakage_and_inverts_exactly(relative):
    series = np.sin(np.arange(200) / 5) + np.arange(200) / 50
    data = ForecastData(series, lookback=12, horizon=3, validation_fraction=0.2, test_fraction=0.2,
                        relative=relative)
    assert (data.train_end, data.validation_end) == (120, 160)
    last_target = data.train.target_starts + 2
    assert last_target.max() == 119, "training forecasts stop at the split"
    assert data.validation.target_starts.min() == 120 and (data.validation.target_starts + 2).max() == 159
    assert data.test.target_starts.min() == 160 and (data.test.target_starts + 2).max() == 199
    for split in (data.train, data.validation, data.test):
        np.testing.assert_allclose(data.to_units(split, split.y), split.y_units, atol=1e-12)
        np.testing.assert_array_equal(split.y_units[:, 0], series[split.target_starts])
    if not relative:  # scaled with statistics of the training steps only
        train = series[:120]
        np.testing.assert_allclose(data.scaler.offset, [train.mean()])
        np.testing.assert_allclose(data.scaler.scale, [train.std()])
    else:
        np.testing.assert_allclose(data.train.x[:, -1, 0], -data.scaler.offset[0] / data.scaler.scale[0])


def test_baselines_by_hand():
    series = np.arange(30.0) ** 2
    data = ForecastData(series, lookback=4, horizon=2, validation_fraction=0.2, test_fraction=0.2)
    start = data.test.target_starts[0]
    np.testing.assert_array_equal(data.naive_forecast(data.test)[0], [series[start - 1]] * 2)
    np.testing.assert_array_equal(data.seasonal_naive_forecast(data.test, 5)[0],
                                  [series[start - 5], series[start + 1 - 5]])
    np.testing.assert_array_equal(data.seasonal_naive_forecast(data.test, 1)[0],
                                  [series[start - 1], series[start + 1 - 2]])
    assert rmse([1.0, 3.0], [1.0, 1.0]) == pytest.approx(np.sqrt(2))


def test_forecast_data_refuses_windows_that_do_not_fit():
    with pytest.raises(ValueError, match="training part"):
        ForecastData(np.arange(20.0), lookback=15)
    with pytest.raises(ValueError, match="shorter than the horizon"):
        ForecastData(np.arange(100.0), lookback=5, horizon=20, test_fraction=0.1)
    with pytest.raises(ValueError, match="scaler must be one of standard, minmax"):
        ForecastData(np.arange(100.0), lookback=5, scaler="robust")


@pytest.mark.parametrize("scaler_class", [StandardScaler, MinMaxScaler])
def test_scalers_round_trip_and_survive_their_config(scaler_class):
    rng = np.random.default_rng(0)
    train = rng.normal(5, 3, (50, 2))
    train[:, 1] = 7.0  # a constant feature must not divide by zero
    scaler = scaler_class().fit(train)
    scaled = scaler.transform(train)
    assert np.isfinite(scaled).all()
    if scaler_class is StandardScaler:
        np.testing.assert_allclose(scaled[:, 0].mean(), 0, atol=1e-12)
        np.testing.assert_allclose(scaled[:, 0].std(), 1)
    else:
        assert scaled[:, 0].min() == 0 and scaled[:, 0].max() == pytest.approx(1)
    np.testing.assert_allclose(scaler.inverse_transform(scaled), train)
    again = scaler_from_config(scaler.get_config())
    np.testing.assert_array_equal(again.transform(train), scaled)
    with pytest.raises(ValueError, match="not fitted"):
        scaler_class().transform(train)


def test_char_vocabulary_and_windows():
    vocabulary = CharVocabulary("to be or not to be")
    assert len(vocabulary) == 7 and vocabulary.characters == " benort"
    encoded = vocabulary.encode("to be")
    assert vocabulary.decode(encoded) == "to be"
    x, y = char_windows(vocabulary.encode("to be"), lookback=3)
    np.testing.assert_array_equal(x, [vocabulary.encode("to "), vocabulary.encode("o b")])
    np.testing.assert_array_equal(y, vocabulary.encode("be"))
    with pytest.raises(ValueError, match="'z' is not in the vocabulary"):
        vocabulary.encode("zoo")
    with pytest.raises(ValueError, match="too short"):
        char_windows(encoded, lookback=5)
    assert CharVocabulary.from_config(vocabulary.get_config()).characters == vocabulary.characters


def test_sample_text_draws_from_the_vocabulary_reproducibly():
    import numlstm
    from numlstm import layers
    from numlstm.preprocessing import sample_text

    vocabulary = CharVocabulary("abc d")
    model = numlstm.Sequential([layers.Embedding(len(vocabulary), 3), layers.LSTM(4), layers.Dense(len(vocabulary))])
    model.build((1, 2))
    first = sample_text(model, vocabulary, "ab", 30, 0.8, np.random.default_rng(1))
    assert len(first) == 30 and set(first) <= set(vocabulary.characters)
    assert sample_text(model, vocabulary, "ab", 30, 0.8, np.random.default_rng(1)) == first
    with pytest.raises(ValueError, match="temperature must be positive"):
        sample_text(model, vocabulary, "ab", 5, 0.0)
    with pytest.raises(ValueError, match="at least one character"):
        sample_text(model, vocabulary, "", 5)
