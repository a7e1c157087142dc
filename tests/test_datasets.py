"""The packaged data sets: shapes, time axes, provenance and filled values, checked against the raw files."""

import csv
import pathlib

import numpy as np
import pytest

from numlstm import datasets

DATA = pathlib.Path(datasets.__file__).parent / "data"


def _raw_rows(name):
    with open(DATA / name, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))[1:]


@pytest.mark.parametrize("loader,steps,first,last,season", [
    (datasets.load_co2, 2284, "1958-03-29", "2001-12-29", 52),
    (datasets.load_sunspots, 309, "1700", "2008", None),
    (datasets.load_elnino, 732, "1950-01", "2010-12", 12),
    (datasets.load_nile, 100, "1871", "1970", None),
])
def test_series_have_their_documented_extent(loader, steps, first, last, season):
    series = loader()
    assert len(series) == len(series.time) == len(series.filled) == steps
    assert str(series.time[0]) == first and str(series.time[-1]) == last
    assert np.all(np.diff(series.time.astype(np.int64)) > 0)
    assert series.values.dtype == np.float64 and np.isfinite(series.values).all()
    assert series.season == season and series.units and "public domain" in series.source
    assert not series.values.flags.writeable, "loaders hand out read-only arrays, so no caller changes another's copy"


def test_co2_fills_exactly_the_empty_weeks_by_linear_interpolation():
    rows = _raw_rows("co2.csv")
    empty = np.array([value == "" for _, value in rows])
    series = datasets.load_co2()
    assert empty.sum() == 59
    np.testing.assert_array_equal(series.filled, empty)
    observed = np.array([float(v) for _, v in rows if v])
    np.testing.assert_array_equal(series.values[~empty], observed)
    i = int(np.flatnonzero(empty)[0])
    j = i + int(np.argmin(empty[i:]))  # the next observed week
    weight = (series.time[i] - series.time[i - 1]) / (series.time[j] - series.time[i - 1])
    assert series.values[i] == pytest.approx(series.values[i - 1] + weight * (series.values[j] - series.values[i - 1]))


def test_elnino_flattens_years_into_months_in_order():
    rows = _raw_rows("elnino.csv")
    series = datasets.load_elnino()
    assert series.values[13] == float(rows[1][2])  # February 1951
    assert str(series.time[13]) == "1951-02"


def test_series_by_name_and_unknown_names():
    assert datasets.load_series("nile").name == "nile"
    with pytest.raises(ValueError, match="co2, sunspots, elnino, nile"):
        datasets.load_series("air")
    with pytest.raises(ValueError, match="shakespeare"):
        datasets.load_text("hamlet")


def test_text_is_a_slice_of_tiny_shakespeare():
    text = datasets.load_text("shakespeare")
    assert len(text) == 262063
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")
    assert text.endswith("\n") and len(set(text)) > 50


# The speech and ECG data sets, packaged as .npz: each loaded once per module (about 0.1 s and 0.02 s).

@pytest.fixture(scope="module")
def fsdd():
    return datasets.load_spoken_digits()


@pytest.fixture(scope="module")
def ecg():
    return datasets.load_ecg()


def test_spoken_digits_are_ten_digits_by_six_speakers_by_fifty_takes(fsdd):
    assert len(fsdd) == len(fsdd.digits) == len(fsdd.speakers) == len(fsdd.takes) == len(fsdd.is_test) == 3000
    assert fsdd.sample_rate == 8000 and isinstance(fsdd.sample_rate, int)
    assert fsdd.speaker_names == ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
    for array in (fsdd.digits, fsdd.speakers, fsdd.takes):
        assert array.dtype == np.int64
    assert set(fsdd.digits.tolist()) == set(range(10))
    assert set(fsdd.speakers.tolist()) == set(range(6)) and set(fsdd.takes.tolist()) == set(range(50))
    keys = (fsdd.digits * 6 + fsdd.speakers) * 50 + fsdd.takes
    assert len(np.unique(keys)) == 3000, "each (digit, speaker, take) is recorded once"
    assert fsdd.is_test.dtype == bool and fsdd.is_test.sum() == 300
    np.testing.assert_array_equal(fsdd.is_test, fsdd.takes < 5)
    assert "CC BY-SA 4.0" in fsdd.source and "mu-law" in fsdd.source and "37.8 dB" in fsdd.source


def test_spoken_digit_waveforms_are_float32_in_the_unit_range(fsdd):
    lengths = np.array([len(w) for w in fsdd.waveforms])
    assert lengths.min() == 1148 and lengths.max() == 18262 and lengths.sum() == 10_498_424
    peaks = np.array([np.abs(w).max() for w in fsdd.waveforms])
    assert peaks.max() <= 1 and peaks.min() > 0.005, "every recording is within [-1, 1] and not silent"
    assert all(w.dtype == np.float32 and w.ndim == 1 for w in fsdd.waveforms)


def test_spoken_digits_arrays_are_read_only(fsdd):
    for array in (fsdd.digits, fsdd.speakers, fsdd.takes, fsdd.is_test, *fsdd.waveforms[:3]):
        assert not array.flags.writeable
    with pytest.raises(ValueError):
        fsdd.waveforms[0].setflags(write=True)  # a view of a read-only array stays read-only
    with pytest.raises(AttributeError):
        fsdd.digits = None


def test_mu_law_decodes_at_the_level_centres():
    from numlstm.datasets import speech

    codes = np.array([0, 1, 64, 127, 128, 200, 255])
    # Written out independently: y at the centre of step c of 256 on [-1, 1], then x = sign(y) (256^|y| - 1) / 255.
    expected = []
    for c in codes.tolist():
        y = (c + 0.5) / 128 - 1
        expected.append((1 if y > 0 else -1) * (256.0 ** abs(y) - 1) / 255)
    np.testing.assert_allclose(speech._mulaw_decode(codes), expected, rtol=1e-12)
    assert speech._mulaw_decode(255) == pytest.approx(0.978488031, abs=1e-9)   # (256^(255.5/256) - 1) / 255
    assert speech._mulaw_decode(128) == pytest.approx(8.58711712e-5, rel=1e-8)  # silence: 256^(1/256) - 1, / 255
    levels = speech._mulaw_decode(np.arange(256))
    np.testing.assert_array_equal(speech._mulaw_encode(levels), np.arange(256), "decoding inverts the encoding")
    np.testing.assert_array_equal(levels[::-1], -levels)
    assert np.all(np.diff(levels) > 0)
    # int16 -> x = s / 32768 -> code: full scale, zero and a small negative sample.
    np.testing.assert_array_equal(speech._mulaw_encode(np.array([32767, -32768, 0, -1]) / 32768), [255, 0, 128, 127])


def test_spoken_digit_samples_are_mu_law_levels(fsdd):
    from numlstm.datasets import speech

    levels = speech._mulaw_decode(np.arange(256)).astype(np.float32)
    assert np.isin(fsdd.waveforms[0], levels).all() and np.isin(fsdd.waveforms[-1], levels).all()


def test_ecg_record_100_has_its_samples_leads_and_rate(ecg):
    assert ecg.signals.shape == (650_000, 2) and len(ecg) == 650_000
    assert ecg.signals.dtype == np.float64 and ecg.signals.flags.c_contiguous
    assert ecg.leads == ("MLII", "V5") and ecg.sample_rate == 360
    assert ecg.duration == pytest.approx(650_000 / 360)
    # The source's first row: ADC units 995 and 1011, baseline 1024, gain 200 per mV.
    np.testing.assert_array_equal(ecg.signals[0], [(995 - 1024) / 200, (1011 - 1024) / 200])
    units = ecg.signals * 200
    assert np.abs(units - np.round(units)).max() < 1e-9, "whole ADC units"
    assert -5 < ecg.signals.min() and ecg.signals.max() < 5, "millivolts, not ADC units"
    assert "Attribution License 1.0" in ecg.source and "male, 69" in ecg.source


def test_ecg_beats_are_the_annotated_r_peaks(ecg):
    symbols, counts = np.unique(ecg.beat_symbols, return_counts=True)
    assert dict(zip(symbols.tolist(), counts.tolist())) == {"N": 2239, "A": 33, "V": 1}
    assert ecg.beat_samples.dtype == np.int64 and np.all(np.diff(ecg.beat_samples) > 0)
    assert 0 <= ecg.beat_samples[0] and ecg.beat_samples[-1] < len(ecg)
    # All annotations: the beats plus one rhythm change ("+") at sample 18.
    assert len(ecg.annotation_samples) == len(ecg.annotation_symbols) == 2274
    assert ecg.annotation_symbols[0] == "+" and ecg.annotation_samples[0] == 18
    beat = ecg.annotation_symbols != "+"
    np.testing.assert_array_equal(ecg.annotation_samples[beat], ecg.beat_samples)
    np.testing.assert_array_equal(ecg.annotation_symbols[beat], ecg.beat_symbols)
    mlii = ecg.signals[:, 0]
    normal = ecg.beat_samples[ecg.beat_symbols == "N"]
    assert 0.5 < mlii[normal].mean() < 1.5, "R peaks of lead MLII near +1 mV"
    assert mlii[normal].mean() > np.median(mlii) + 0.8
    # Each normal beat's annotation is within 3 samples (8 ms) of the MLII maximum in +/- 20 samples around it.
    inner = normal[(normal >= 20) & (normal < len(mlii) - 20)]
    windows = np.lib.stride_tricks.sliding_window_view(mlii, 41)[inner - 20]
    assert np.abs(windows.argmax(axis=1) - 20).max() <= 3


def test_ecg_arrays_are_read_only(ecg):
    for array in (ecg.signals, ecg.beat_samples, ecg.beat_symbols, ecg.annotation_samples, ecg.annotation_symbols):
        assert not array.flags.writeable


def test_the_records_print_a_line_not_their_arrays(fsdd, ecg):
    assert repr(fsdd) == ("SpokenDigits(3000 recordings of 10 digits by 6 speakers at 8000 Hz, 1148-18262 samples; "
                          "2700 train, 300 test)")
    assert repr(ecg) == "ECGRecord(2 leads (MLII, V5) at 360 Hz, 1805.6 s; 2273 beats: 33 A, 2239 N, 1 V)"
