"""numlstm.forecasting: the Forecaster with covariates and quantiles, its saved form, and rolling-origin backtests."""

import numpy as np
import pytest

from numlstm import datasets
from numlstm.forecasting import Forecaster, SeriesData, backtest, read_csv, series_data


@pytest.fixture
def driven_csv(tmp_path):
    """Daily data whose target is yesterday's covariate (white noise): only a model reading it can forecast."""
    rng = np.random.default_rng(3)
    steps = 500
    drive = rng.standard_normal(steps)
    noise = rng.standard_normal(steps)  # a column the target does not depend on
    target = np.concatenate([[0.0], 2.0 * drive[:-1]]) + 0.05 * rng.standard_normal(steps)
    days = np.datetime64("2020-01-01") + np.arange(steps)
    lines = ["date,load,drive,noise"] + [f"{d},{t:.5f},{x:.5f},{n:.5f}" for d, t, x, n in
                                         zip(days, target, drive, noise)]
    path = tmp_path / "driven.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_covariate_is_read_and_used(driven_csv):
    table = read_csv(driven_csv)
    scores = {}
    for covariates in ([], ["drive"]):
        forecaster = Forecaster(lookback=4, horizon=1, units=(16,), relative=False)
        forecaster.fit(table, target="load", covariates=covariates, epochs=25, seed=0, learning_rate=1e-2)
        scores[len(covariates)] = backtest(forecaster).scores["LSTM"]["RMSE"]
    # Without the covariate the target is unpredictable noise of deviation 2; with it, nearly exact.
    assert scores[0] > 1.5 and scores[1] < 0.4, scores


def test_forecasts_carry_dates_and_quantile_columns_that_never_cross(driven_csv):
    table = read_csv(driven_csv)
    forecaster = Forecaster(lookback=8, horizon=3, units=(8,), quantiles="0.1,0.5,0.9")
    forecaster.fit(table, target="load", covariates=["drive"], epochs=1, seed=0)
    forecast = forecaster.predict()
    assert [str(t) for t in forecast.time] == ["2021-05-15", "2021-05-16", "2021-05-17"]  # after 2021-05-14
    assert forecast.quantile_values.shape == (3, 3)
    assert (np.diff(forecast.quantile_values, axis=1) >= 0).all()
    np.testing.assert_array_equal(forecast.values, forecast.quantile_values[:, 1])
    lines = forecast.csv_lines()
    assert lines[0] == "step,time,forecast,q0.1,q0.5,q0.9" and lines[1].startswith("1,2021-05-15,")


def test_saved_forecaster_predicts_the_same_and_checks_its_columns(tmp_path, driven_csv):
    table = read_csv(driven_csv)
    forecaster = Forecaster(lookback=8, horizon=2, units=(8,), quantiles=(0.25, 0.5, 0.75))
    forecaster.fit(table, target="load", covariates=["drive"], epochs=1, seed=0)
    forecaster.save(tmp_path / "m.numlstm")
    loaded = Forecaster.load(tmp_path / "m.numlstm")
    assert (loaded.target, loaded.covariates, loaded.quantiles, loaded.frequency) == (
        "load", ["drive"], (0.25, 0.5, 0.75), "D")
    np.testing.assert_allclose(loaded.predict(table).quantile_values, forecaster.predict().quantile_values)
    with pytest.raises(ValueError, match="give the series to continue"):
        loaded.predict()
    with pytest.raises(ValueError, match="no numeric column 'drive'"):
        loaded.predict(read_csv(driven_csv, columns=["load", "noise"]))


def test_backtest_batches_what_predict_gives_origin_by_origin():
    series = datasets.load_elnino()
    forecaster = Forecaster(lookback=24, horizon=6, units=(8,)).fit(series, epochs=1, seed=0)
    result = backtest(forecaster, start=600, stride=20)
    assert result.origins.tolist() == [600, 620, 640, 660, 680, 700, 720]
    for row, origin in enumerate(result.origins):
        alone = forecaster.predict(series.values[:origin])
        np.testing.assert_allclose(result.forecasts["LSTM"][row], alone.values, rtol=1e-5)
    values = series.values
    np.testing.assert_array_equal(result.actual[1], values[620:626])
    np.testing.assert_array_equal(result.forecasts["naive"][1], np.full(6, values[619]))
    np.testing.assert_array_equal(result.forecasts["seasonal naive"][1], values[608:614])
    naive = result.forecasts["naive"]
    scale = np.abs(values[12:600] - values[:588]).mean()  # the seasonal naive in-sample MAE before the start
    assert result.scores["naive"]["MASE"] == pytest.approx(np.abs(naive - result.actual).mean() / scale)
    assert str(result.time[0]) == "2000-01"


def test_backtest_refits_every_k_origins_on_the_data_before_them():
    series = np.sin(np.arange(300) * 2 * np.pi / 12)
    forecaster = Forecaster(lookback=12, horizon=3, units=(4,))
    result = backtest(forecaster, series, start=270, stride=3, refit=4, epochs=1, seed=0)
    assert len(result.origins) == 10 and result.refits == 3
    with pytest.raises(ValueError, match="sliding window needs train_steps"):
        backtest(forecaster, series, start=270, refit=4, window="sliding")
    sliding = backtest(forecaster, series, start=270, stride=3, refit=10, window="sliding", train_steps=100,
                       epochs=1, seed=0)
    assert sliding.refits == 1


def test_backtest_errors_are_plain():
    forecaster = Forecaster(lookback=12, horizon=3)
    with pytest.raises(ValueError, match="not trained"):
        backtest(forecaster, np.arange(100.0))
    trained = Forecaster(lookback=12, horizon=3, units=(4,)).fit(np.sin(np.arange(100.0)), epochs=1)
    with pytest.raises(ValueError, match="leaves a full horizon"):
        backtest(trained, start=99)
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        backtest(trained, stride=0)


def test_series_data_names_the_target_choice():
    with pytest.raises(ValueError, match="packaged 'co2' series has no covariates"):
        series_data(datasets.load_co2(), covariates=["x"])
    data = series_data(np.arange(10.0), covariates=np.ones((10, 2)))
    assert data.names == ("y", "covariate_1", "covariate_2") and data.values.shape == (10, 3)


def seasonal_series(scale, level, phase, steps=240, seed=0):
    noise = np.random.default_rng(seed).normal(0, 0.05, steps)
    return level + scale * (np.sin(2 * np.pi * (np.arange(steps) / 12 + phase)) + noise)


def test_a_global_forecaster_scales_each_series_itself_and_forecasts_each(tmp_path):
    series = {"small": seasonal_series(1.0, 10.0, 0.0), "large": seasonal_series(100.0, 1000.0, 0.3, seed=1)}
    forecaster = Forecaster(lookback=24, horizon=6, units=(16,), quantiles=(0.1, 0.5, 0.9), season=12)
    forecaster.fit(series, epochs=40, seed=0, learning_rate=1e-2)
    assert forecaster.is_global and set(forecaster.scalers) == {"small", "large"}
    ratio = forecaster.scalers["large"].scale[0] / forecaster.scalers["small"].scale[0]
    assert 60 < ratio < 160, "each series is scaled by its own statistics"
    forecasts = forecaster.predict()
    assert set(forecasts) == {"small", "large"}
    for key, values in series.items():
        steps = 240 + np.arange(6)
        scale, level, phase = (1.0, 10.0, 0.0) if key == "small" else (100.0, 1000.0, 0.3)
        truth = level + scale * np.sin(2 * np.pi * (steps / 12 + phase))
        assert np.abs(forecasts[key].values - truth).max() < 0.5 * scale, (key, forecasts[key].values, truth)
    result = backtest(forecaster)
    assert set(result.series) == {"small", "large"}
    for method in ("LSTM", "naive", "seasonal naive"):
        for score in ("RMSE", "MASE"):
            assert result.scores[method][score] == pytest.approx(
                np.mean([result.series[key].scores[method][score] for key in series]))
    assert result.scores["LSTM"]["MASE"] < result.scores["naive"]["MASE"]

    forecaster.save(tmp_path / "global.numlstm")
    loaded = Forecaster.load(tmp_path / "global.numlstm")
    assert loaded.is_global and loaded.adjustments.keys() == forecaster.adjustments.keys()
    again = loaded.predict(series)
    np.testing.assert_allclose(again["large"].quantile_values, forecasts["large"].quantile_values)
    with pytest.raises(ValueError, match="has no series 'medium': it was trained on small, large"):
        loaded.predict({"medium": series["small"]})
    with pytest.raises(ValueError, match="trained on several series"):
        loaded.predict(series["small"])


def test_a_collection_needs_one_target_and_one_frequency():
    with pytest.raises(ValueError, match="every series needs the same target and covariates"):
        Forecaster(lookback=4).fit([np.arange(50.0), datasets.load_nile()], epochs=1)
    daily, monthly = (SeriesData(np.arange(50), np.ones((50, 1)), ("y",), freq, "array", "") for freq in "DM")
    with pytest.raises(ValueError, match="one model forecasts series of one frequency"):
        Forecaster(lookback=4).fit({"a": daily, "b": monthly}, epochs=1)


@pytest.mark.parametrize("method", ["normal", "mc_dropout"])
def test_a_gaussian_head_and_mc_dropout_give_quantiles_and_samples(tmp_path, method):
    rng = np.random.default_rng(0)
    series = np.sin(2 * np.pi * np.arange(400) / 12) + rng.normal(0, 0.3, 400)  # noise of deviation 0.3
    forecaster = Forecaster(lookback=24, horizon=2, units=(16,), method=method, calibrate=False)
    forecaster.fit(series, epochs=30, seed=0, learning_rate=1e-2)
    forecast = forecaster.predict()
    assert forecaster.quantiles == (0.1, 0.5, 0.9) and forecast.quantile_values.shape == (2, 3)
    width = forecast.quantile_values[:, 2] - forecast.quantile_values[:, 0]
    assert (width > 0).all()
    draws = forecaster.sample(count=400)
    assert draws.shape == (400, 2) and np.isfinite(draws).all()
    assert np.abs(np.quantile(draws, 0.5, axis=0) - forecast.values).max() < 0.25 * width.max() + 0.05
    if method == "normal":  # the noise's 80% interval is 2 * 1.2816 * 0.3 = 0.77 wide
        assert 0.5 < width.mean() < 1.1, width
        coverage = backtest(forecaster).scores["LSTM"]["coverage"]
        assert 0.65 <= coverage <= 0.95
    forecaster.save(tmp_path / "m.numlstm")
    loaded = Forecaster.load(tmp_path / "m.numlstm")
    assert (loaded.method, loaded.dropout) == (method, 0.2 if method == "mc_dropout" else None)
    if method == "normal":
        np.testing.assert_allclose(loaded.predict(series).quantile_values, forecast.quantile_values)


def test_method_arguments_are_checked():
    with pytest.raises(ValueError, match="method must be one of point, quantile, normal, mc_dropout"):
        Forecaster(lookback=4, method="student")
    with pytest.raises(ValueError, match="quantiles need a probabilistic method"):
        Forecaster(lookback=4, method="point", quantiles=(0.1, 0.9))
    with pytest.raises(ValueError, match="dropout applies to method='mc_dropout'"):
        Forecaster(lookback=4, dropout=0.1)
    with pytest.raises(ValueError, match="sampling needs method='normal' or 'mc_dropout'"):
        Forecaster(lookback=4, units=(4,)).fit(np.arange(60.0), epochs=1).sample()


def test_calendar_features_are_known_future_covariates(tmp_path):
    rng = np.random.default_rng(0)
    days = np.datetime64("2021-01-04") + np.arange(700)  # from a Monday
    weekend = ((days.astype(np.int64) + 3) % 7) >= 5
    source = SeriesData(days, (5.0 * weekend + rng.normal(0, 0.1, 700))[:, None], ("visits",), "D", "array", "")
    scores = {}
    for calendar in (None, ("dayofweek",)):
        forecaster = Forecaster(lookback=1, horizon=1, units=(16,), calendar=calendar, relative=False)
        forecaster.fit(source, epochs=60, seed=0, learning_rate=1e-2)
        scores[calendar] = backtest(forecaster).scores["LSTM"]["RMSE"]
    # One step of history cannot tell Friday from Monday (both 0) nor Sunday from Saturday (both 5);
    # the calendar of the step forecast can.
    assert scores[None] > 1.0 and scores[("dayofweek",)] < 0.3, scores
    forecast = forecaster.predict()
    assert str(forecast.time[0]) == "2022-12-05" and forecast.values[0] < 1.0, "a Monday: a weekday"
    forecaster.save(tmp_path / "m.numlstm")
    loaded = Forecaster.load(tmp_path / "m.numlstm")
    assert loaded.calendar == ("dayofweek",)
    np.testing.assert_allclose(loaded.predict(source).values, forecast.values)
    with pytest.raises(ValueError, match="calendar features must be among hour, dayofweek"):
        Forecaster(lookback=1, calendar=("weekday",))
    with pytest.raises(ValueError, match="calendar features need dates"):
        Forecaster(lookback=2, units=(4,), calendar="month").fit(np.arange(50.0), epochs=1)


def test_calendar_features_encode_the_cycles():
    from numlstm.forecasting.calendar import calendar_features

    stamps = np.array(["2024-12-31T18:00", "2025-01-01T00:00"], "datetime64[s]")  # a Tuesday, a Wednesday
    features = calendar_features(stamps, ["hour", "dayofweek", "month"])
    angles = 2 * np.pi * np.array([[18 / 24, 1 / 7, 11 / 12], [0, 2 / 7, 0]])
    expected = np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(2, 6)
    np.testing.assert_allclose(features, expected, atol=1e-12)


def test_a_constant_calendar_feature_is_refused():
    days = SeriesData(np.datetime64("2021-01-01") + np.arange(60), np.ones((60, 1)), ("y",), "D", "array", "")
    with pytest.raises(ValueError, match="the calendar feature 'hour' is the same at every step of these data"):
        Forecaster(lookback=4, units=(4,), calendar=("dayofweek", "hour")).fit(days, epochs=1)


def test_mase_is_scaled_by_what_was_known_at_the_first_origin():
    series = np.sin(np.arange(200.0) / 3)
    forecaster = Forecaster(lookback=12, horizon=3, units=(4,), season=12).fit(series, epochs=1, seed=0)
    early = backtest(forecaster, start=0, stride=3)
    assert early.origins[0] == 13, "a window's lookback and one more step for the scale"
    scale = np.abs(series[12:13] - series[0:1]).mean()
    naive = early.forecasts["naive"]
    assert early.scores["naive"]["MASE"] == pytest.approx(np.abs(naive - early.actual).mean() / scale)
    assert backtest(forecaster, start=5, stride=3).scores == early.scores, "the same origins, the same scores"


def test_a_backtest_may_score_fewer_steps_than_the_forecaster_forecasts():
    series = datasets.load_elnino()
    forecaster = Forecaster(lookback=24, horizon=6, units=(8,)).fit(series, epochs=1, seed=0)
    full = backtest(forecaster, start=600, stride=20)
    short = backtest(forecaster, start=600, stride=20, horizon=2)
    assert short.actual.shape == (7, 2)
    np.testing.assert_allclose(short.forecasts["LSTM"], full.forecasts["LSTM"][:, :2])
    assert short.scores["LSTM"]["MAE"] == pytest.approx(np.abs(short.forecasts["LSTM"] - short.actual).mean())
    with pytest.raises(ValueError, match="horizon 7 is beyond the 6 steps the forecaster forecasts"):
        backtest(forecaster, horizon=7)
