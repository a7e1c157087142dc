"""Preparing data for an LSTM: forecasting windows, leak-free splits, scalers, text encoding and speech features.

Time series (see :mod:`numlstm.datasets` for real ones)::

    data = ForecastData(series.values, lookback=104, horizon=52, relative=True)
    model.fit(data.train.x, data.train.y, validation_data=(data.validation.x, data.validation.y))
    forecast = data.to_units(data.test, model.predict(data.test.x))
    rmse(forecast, data.test.y_units), rmse(data.naive_forecast(data.test), data.test.y_units)

Text::

    vocabulary = CharVocabulary(text)
    x, y = char_windows(vocabulary.encode(text), lookback=64)

Speech (recordings: 1-D arrays at 8 kHz; :func:`mfcc` documents the features)::

    features = []
    for recording in recordings:
        c = mfcc(recording, sample_rate=8000)                      # (frames, 13)
        features.append(normalize_utterance(np.hstack([c, delta(c), delta(delta(c))])))
    x, mask, lengths = pad_batch(features, value=-1e4)              # (N, T, 39), (N, T), (N,)
    # then layers.Masking(-1e4) first in the model: the padded frames are masked
"""

from .audio import delta, frame_signal, log_mel_spectrogram, mel_filterbank, mfcc, normalize_utterance, pad_batch
from .scalers import MinMaxScaler, StandardScaler, scaler_from_config
from .text import CharVocabulary, char_windows, sample_text
from .windows import ForecastData, Split, rmse, sliding_windows, stateful_chunks, time_split, window_starts

__all__ = ["ForecastData", "Split", "sliding_windows", "stateful_chunks", "time_split", "window_starts", "rmse",
           "StandardScaler", "MinMaxScaler", "scaler_from_config", "CharVocabulary", "char_windows",
           "sample_text", "frame_signal", "mel_filterbank", "log_mel_spectrogram", "mfcc", "delta",
           "normalize_utterance", "pad_batch"]
