"""numlstm.preprocessing.audio: speech features checked against references written out here.

The references are independent of the module's code: explicit loops over frames and samples, a DFT as a
matrix of exp(-2 pi i k n / N), the HTK mel triangles built filter by filter, the DCT-II as a cosine
sum, the HTK delta formula with clamped indices. python_speech_features, where installed, is an oracle
for what it computes the same way (see test_python_speech_features_*).
"""

import math

import numpy as np
import pytest

from numlstm.preprocessing import (delta, frame_signal, log_mel_spectrogram, mel_filterbank, mfcc,
                                   normalize_utterance, pad_batch)
from numlstm.preprocessing import audio

RNG = np.random.default_rng(20240607)


# ----------------------------------------------------------------------------------------- references

def ref_mel(hz):
    return 2595.0 * math.log(1.0 + hz / 700.0) / math.log(10.0)


def ref_hz(mel):
    return 700.0 * (math.exp(mel * math.log(10.0) / 2595.0) - 1.0)


def ref_edges(n_mels, fmin, fmax):
    """The n_mels + 2 filter edges in Hz, one at a time."""
    low, high = ref_mel(fmin), ref_mel(fmax)
    step = (high - low) / (n_mels + 1)
    return [ref_hz(low + i * step) for i in range(n_mels + 2)]


def ref_filterbank(n_mels, n_fft, sample_rate, fmin=0.0, fmax=None):
    """HTK triangles, filter by filter and bin by bin."""
    fmax = sample_rate / 2 if fmax is None else fmax
    edges = ref_edges(n_mels, fmin, fmax)
    filters = np.zeros((n_mels, n_fft // 2 + 1))
    for m in range(n_mels):
        lower, centre, upper = edges[m], edges[m + 1], edges[m + 2]
        for k in range(n_fft // 2 + 1):
            f = k * sample_rate / n_fft
            if lower < f <= centre:
                filters[m, k] = (f - lower) / (centre - lower)
            elif centre < f < upper:
                filters[m, k] = (upper - f) / (upper - centre)
    return filters


def ref_hann(length):
    return np.array([math.sin(math.pi * j / length) ** 2 for j in range(length)])  # = 0.5 - 0.5 cos(2 pi j / L)


def test_the_reference_hann_is_the_periodic_hann():
    # Periodic (scipy's fftbins=True): the symmetric window one sample longer, its last sample dropped.
    np.testing.assert_allclose(ref_hann(200), np.hanning(201)[:-1], atol=1e-15)


def ref_log_mel(x, sample_rate, n_mels=40, frame_length=200, hop_length=80, n_fft=256, fmin=0.0, fmax=None,
                pre_emphasis=0.97, floor=1e-10, window=None):
    """The whole pipeline with loops: pre-emphasis, frames, window, a direct DFT, triangles, log."""
    x = [float(v) for v in x]
    n = len(x)
    y = [x[0]] + [x[t] - pre_emphasis * x[t - 1] for t in range(1, n)]
    window = ref_hann(frame_length) if window is None else np.asarray(window, float)
    count = 1 if n <= frame_length else 1 + math.ceil((n - frame_length) / hop_length)
    k = np.arange(n_fft // 2 + 1)[:, None]
    dft = np.exp(-2j * np.pi * k * np.arange(frame_length)[None, :] / n_fft)  # zero-padding to n_fft adds nothing
    filters = ref_filterbank(n_mels, n_fft, sample_rate, fmin, fmax)
    out = np.empty((count, n_mels))
    for i in range(count):
        frame = np.array([y[i * hop_length + j] if i * hop_length + j < n else 0.0 for j in range(frame_length)])
        power = np.abs(dft @ (frame * window)) ** 2
        out[i] = [math.log(max(e, floor)) for e in filters @ power]
    return out


def ref_dct_ortho(row):
    m = len(row)
    return np.array([math.sqrt((1.0 if k == 0 else 2.0) / m)
                     * sum(row[j] * math.cos(math.pi * k * (2 * j + 1) / (2 * m)) for j in range(m))
                     for k in range(m)])


def ref_mfcc(log_mel, n_mfcc=13, lifter=22):
    out = np.array([ref_dct_ortho(row)[:n_mfcc] for row in log_mel])
    if lifter:
        out *= [1 + lifter / 2 * math.sin(math.pi * i / lifter) for i in range(n_mfcc)]
    return out


def ref_delta(c, width):
    frames = len(c)

    def at(t):
        return c[min(max(t, 0), frames - 1)]  # the edges repeated

    denominator = 2 * sum(n * n for n in range(1, width + 1))
    return np.array([sum(n * (at(t + n) - at(t - n)) for n in range(1, width + 1)) / denominator
                     for t in range(frames)])


# -------------------------------------------------------------------------------------------- framing

@pytest.mark.parametrize("n, frame_length, hop_length", [(1, 5, 2), (5, 5, 2), (6, 5, 2), (7, 5, 2), (23, 6, 3),
                                                         (24, 6, 6), (100, 7, 1), (200, 200, 80), (8000, 200, 80)])
def test_frame_signal_ramp_reproduces_samples_and_pads_with_zeros(n, frame_length, hop_length):
    ramp = np.arange(1.0, n + 1)  # sample t holds t + 1, so that the zero padding is told apart
    frames = frame_signal(ramp, frame_length, hop_length)
    expected_count = 1 if n <= frame_length else 1 + math.ceil((n - frame_length) / hop_length)
    assert frames.shape == (expected_count, frame_length)
    for i in range(expected_count):
        for j in range(frame_length):
            t = i * hop_length + j
            assert frames[i, j] == (t + 1 if t < n else 0.0)
    # Every sample is in a frame, and the last frame starts inside the signal.
    assert (expected_count - 1) * hop_length + frame_length >= n
    assert (expected_count - 1) * hop_length < n
    assert set(range(1, n + 1)) <= set(frames.ravel().tolist())


@pytest.mark.parametrize("n, frame_length, hop_length", [(5, 5, 2), (6, 5, 2), (7, 5, 2), (23, 6, 3), (8001, 200, 80)])
def test_frame_signal_without_padding_keeps_whole_frames(n, frame_length, hop_length):
    ramp = np.arange(1, n + 1)
    frames = frame_signal(ramp, frame_length, hop_length, pad_end=False)
    count = (n - frame_length) // hop_length + 1
    assert frames.shape == (count, frame_length)
    assert frames.dtype == ramp.dtype
    assert frames[-1, -1] == (count - 1) * hop_length + frame_length  # a real sample, no padding
    np.testing.assert_array_equal(frames[:, 0], 1 + hop_length * np.arange(count))


def test_frame_signal_returns_a_copy():
    x = np.arange(10.0)
    frames = frame_signal(x, 4, 2)
    frames[0, 0] = 99.0
    assert x[0] == 0.0 and frames.flags.writeable


# ----------------------------------------------------------------------------------------- filterbank

@pytest.mark.parametrize("n_mels, n_fft, sample_rate, fmin, fmax", [
    (40, 256, 8000, 0.0, None), (26, 512, 16000, 0.0, None), (20, 512, 8000, 300.0, 3400.0),
    (10, 64, 8000, 100.0, 4000.0), (80, 1024, 22050, 20.0, 11025.0)])
def test_mel_filterbank_matches_the_triangles_built_one_by_one(n_mels, n_fft, sample_rate, fmin, fmax):
    filters = mel_filterbank(n_mels, n_fft, sample_rate, fmin, fmax)
    assert filters.shape == (n_mels, n_fft // 2 + 1) and filters.dtype == np.float64
    np.testing.assert_allclose(filters, ref_filterbank(n_mels, n_fft, sample_rate, fmin, fmax), rtol=1e-10,
                               atol=1e-12)


def test_mel_filterbank_shape_of_the_triangles():
    sample_rate, n_fft, n_mels = 8000, 256, 20
    filters = mel_filterbank(n_mels, n_fft, sample_rate, fmin=200.0, fmax=3500.0)
    edges = ref_edges(n_mels, 200.0, 3500.0)
    bins = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    assert filters.min() >= 0.0 and filters.max() <= 1.0
    # Height 1 at the centre, no area normalisation: adjacent triangles add up to 1 between the
    # first and last centres, and nothing lies outside fmin..fmax.
    inside = (bins >= edges[1]) & (bins <= edges[-2])
    np.testing.assert_allclose(filters[:, inside].sum(axis=0), 1.0, rtol=1e-12)
    assert not filters[:, (bins <= 200.0) | (bins >= 3500.0)].any()
    # Each filter peaks on a bin next to its centre.
    for m in range(n_mels):
        assert abs(bins[filters[m].argmax()] - edges[m + 1]) <= sample_rate / n_fft


def test_mel_filterbank_centre_on_a_bin_is_exactly_one():
    # fmax chosen so that the centre of the only filter, halfway in mel, falls on bin 16 (500 Hz).
    centre_mel = ref_mel(500.0)
    fmax = ref_hz(2 * centre_mel)
    filters = mel_filterbank(1, 256, 8000, 0.0, fmax)
    assert filters[0, 16] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("filter_index, towards, frame_ms", [
    (25, 0.3, 25.0), (25, -0.3, 25.0), (33, 0.3, 25.0), (38, -0.3, 25.0), (18, 0.3, 25.0), (14, -0.3, 25.0),
    (8, 0.3, 64.0), (5, -0.3, 64.0)])
def test_a_pure_tone_peaks_in_the_filter_centred_nearest_it(filter_index, towards, frame_ms):
    # The tone lies 30% of the way from a filter's centre to a neighbour's. At 25 ms the window's main
    # lobe (160 Hz wide) spans several of the low filters (about 55 Hz apart): the low tones get 64 ms.
    sample_rate, n_mels = 8000, 40
    centres = np.array(ref_edges(n_mels, 0.0, sample_rate / 2)[1:-1])
    neighbour = filter_index + (1 if towards > 0 else -1)
    f0 = centres[filter_index] + abs(towards) * (centres[neighbour] - centres[filter_index])
    nearest = int(np.abs(centres - f0).argmin())
    assert nearest == filter_index
    t = np.arange(sample_rate) / sample_rate
    features = log_mel_spectrogram(np.sin(2 * np.pi * f0 * t), sample_rate, n_mels=n_mels, frame_ms=frame_ms)
    peaks = features[3:-3].argmax(axis=1)  # frames away from the ends' zero padding
    assert (peaks == nearest).all(), (f0, centres[nearest], np.unique(peaks))


# ---------------------------------------------------------------------------------- log mel and MFCC

def test_log_mel_spectrogram_matches_the_direct_dft_pipeline():
    x = RNG.normal(size=1237)  # 0.15 s at 8 kHz, a partial last frame
    np.testing.assert_allclose(log_mel_spectrogram(x, 8000), ref_log_mel(x, 8000), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("options, reference", [
    ({"n_mels": 20, "frame_ms": 32.0, "hop_ms": 16.0, "n_fft": 512, "fmin": 100.0, "fmax": 3800.0,
      "pre_emphasis": 0.0},
     {"n_mels": 20, "frame_length": 256, "hop_length": 128, "n_fft": 512, "fmin": 100.0, "fmax": 3800.0,
      "pre_emphasis": 0.0}),
    ({"window": "rectangular", "pre_emphasis": 0.5},
     {"window": np.ones(200), "pre_emphasis": 0.5}),
    ({"window": "hamming"}, {"window": [0.54 - 0.46 * math.cos(2 * math.pi * j / 200) for j in range(200)]}),
    ({"window": np.hamming(200)}, {"window": np.hamming(200)}),
    ({"frame_ms": 20.0, "hop_ms": 20.0, "floor": 1e-3},  # 160 samples, n_fft the next power of two, 256
     {"frame_length": 160, "hop_length": 160, "floor": 1e-3}),
])
def test_log_mel_spectrogram_options_match_the_reference(options, reference):
    x = RNG.normal(size=900) * 0.01
    np.testing.assert_allclose(log_mel_spectrogram(x, 8000, **options), ref_log_mel(x, 8000, **reference),
                               rtol=1e-10, atol=1e-10)


def test_mfcc_matches_the_cosine_sum_dct_and_htk_lifter():
    x = RNG.normal(size=1500)
    log_mel = ref_log_mel(x, 8000)
    np.testing.assert_allclose(mfcc(x, 8000), ref_mfcc(log_mel), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(mfcc(x, 8000, n_mfcc=40, lifter=0), ref_mfcc(log_mel, 40, lifter=0), rtol=1e-9,
                               atol=1e-9)
    # Coefficient 0 is kept: the log mel energies' sum over sqrt(n_mels).
    np.testing.assert_allclose(mfcc(x, 8000)[:, 0], log_mel.sum(axis=1) / math.sqrt(40), rtol=1e-10)


def test_dtypes_follow_the_signal():
    x = RNG.normal(size=800)
    for function in (log_mel_spectrogram, mfcc):
        expected = function(x, 8000)
        assert expected.dtype == np.float64
        single = function(x.astype(np.float32), 8000)
        assert single.dtype == np.float32
        np.testing.assert_allclose(single, function(x.astype(np.float32).astype(np.float64), 8000), rtol=1e-6,
                                   atol=1e-5)
    pcm = (x * 3000).astype(np.int16)
    np.testing.assert_array_equal(mfcc(pcm, 8000), mfcc(pcm.astype(np.float64), 8000))
    assert mfcc(pcm, 8000).dtype == np.float64


def test_silence_gives_the_floor_not_minus_infinity():
    features = log_mel_spectrogram(np.zeros(1000), 8000, floor=1e-10)
    np.testing.assert_array_equal(features, np.full_like(features, math.log(1e-10)))
    assert np.isfinite(mfcc(np.zeros(1000), 8000)).all()


def test_scaling_the_signal_shifts_the_log_mel_energies():
    x = RNG.normal(size=2000)
    np.testing.assert_allclose(log_mel_spectrogram(5.0 * x, 8000) - log_mel_spectrogram(x, 8000),
                               2 * math.log(5.0), rtol=1e-9)


def test_a_short_recording_gives_one_frame():
    assert log_mel_spectrogram(RNG.normal(size=150), 8000).shape == (1, 40)
    assert mfcc(np.array([0.5]), 8000).shape == (1, 13)


# ---------------------------------------------------------------------------------- delta and CMVN

@pytest.mark.parametrize("width", [1, 2, 3])
def test_delta_of_a_ramp_is_its_slope_inside(width):
    t = np.arange(30.0)[:, None]
    features = np.hstack([2.5 * t + 1.0, -0.5 * t, np.full_like(t, 7.0)])
    d = delta(features, width)
    np.testing.assert_allclose(d[width:-width], np.tile([2.5, -0.5, 0.0], (30 - 2 * width, 1)), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(d, ref_delta(features, width), rtol=1e-12, atol=1e-12)
    assert (np.abs(d[0, :2]) < np.abs([2.5, -0.5])).all()  # the repeated edges flatten the ends


@pytest.mark.parametrize("frames, width", [(1, 2), (3, 2), (50, 2), (50, 4)])
def test_delta_matches_the_formula_on_random_features(frames, width):
    features = RNG.normal(size=(frames, 5))
    np.testing.assert_allclose(delta(features, width), ref_delta(features, width), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(delta(features[:, 0], width), ref_delta(features[:, 0], width), rtol=1e-12,
                               atol=1e-12)
    assert delta(features.astype(np.float32), width).dtype == np.float32


def test_normalize_utterance_gives_zero_mean_and_unit_variance():
    features = RNG.normal(loc=[3.0, -20.0, 0.0], scale=[0.1, 5.0, 1e-3], size=(200, 3))
    out = normalize_utterance(features)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(out[:, 1], (features[:, 1] - features[:, 1].mean()) / features[:, 1].std(),
                               rtol=1e-10)
    centred = normalize_utterance(features, variance=False)
    np.testing.assert_allclose(centred, features - features.mean(axis=0), atol=1e-12)
    assert normalize_utterance(features.astype(np.float32)).dtype == np.float32


def test_normalize_utterance_constant_coefficients_become_zero():
    features = np.array([[1.0, 4.0], [1.0, 6.0], [1.0, 8.0]])
    out = normalize_utterance(features)
    np.testing.assert_array_equal(out[:, 0], 0.0)
    np.testing.assert_allclose(out[:, 1], [-math.sqrt(1.5), 0.0, math.sqrt(1.5)])
    np.testing.assert_array_equal(normalize_utterance(np.ones((1, 4))), np.zeros((1, 4)))


# ------------------------------------------------------------------------------------------ pad_batch

def test_pad_batch_values_mask_and_lengths():
    a, b, c = RNG.normal(size=(4, 3)), RNG.normal(size=(1, 3)), RNG.normal(size=(6, 3))
    batch, mask, lengths = pad_batch([a, b, c], value=-1e4)
    assert batch.shape == (3, 6, 3) and batch.dtype == np.float32
    assert mask.dtype == np.bool_ and lengths.dtype == np.int64
    assert lengths.tolist() == [4, 1, 6]
    assert mask.tolist() == [[True] * 4 + [False] * 2, [True] + [False] * 5, [True] * 6]
    for row, sequence in zip(batch, (a, b, c)):
        np.testing.assert_array_equal(row[:len(sequence)], sequence.astype(np.float32))
        assert (row[len(sequence):] == np.float32(-1e4)).all()


def test_pad_batch_truncates_at_the_end_and_takes_other_dtypes():
    a, b = np.arange(10.0).reshape(5, 2), np.arange(4.0).reshape(2, 2)
    batch, mask, lengths = pad_batch((a, b), max_length=3, dtype="float64")
    assert batch.dtype == np.float64 and batch.shape == (2, 3, 2)
    np.testing.assert_array_equal(batch[0], a[:3])  # the first frames kept
    np.testing.assert_array_equal(batch[1], [[0, 1], [2, 3], [0, 0]])
    assert lengths.tolist() == [3, 2] and mask.sum(axis=1).tolist() == [3, 2]
    longer, mask, lengths = pad_batch([a, b], max_length=7)
    assert longer.shape == (2, 7, 2) and lengths.tolist() == [5, 2] and not mask[:, 5:].any()
    stacked, _, lengths = pad_batch(np.ones((3, 4, 2)))  # a 3-D array is a batch of equal-length sequences
    assert stacked.shape == (3, 4, 2) and lengths.tolist() == [4, 4, 4]


def test_pad_batch_mask_is_the_one_masking_computes():
    from numlstm import layers
    features = [normalize_utterance(RNG.normal(size=(n, 5))) for n in (7, 3, 5)]
    for value in (0.0, -1e4):
        batch, mask, _ = pad_batch(features, value=value)
        np.testing.assert_array_equal(np.asarray(layers.Masking(mask_value=value).compute_mask(batch)), mask)


def test_padded_frames_do_not_change_a_masked_bidirectional_lstm():
    from numlstm import layers, models
    features = [RNG.normal(size=(n, 4)).astype(np.float32) for n in (6, 3)]
    batch, _, lengths = pad_batch(features, value=0.0)
    model = models.Sequential([layers.Input((None, 4)), layers.Masking(0.0),
                               layers.Bidirectional(layers.LSTM(3, return_sequences=True))])
    padded = np.asarray(model.predict(batch, verbose=0))
    for i, sequence in enumerate(features):
        alone = np.asarray(model.predict(sequence[None], verbose=0))[0]
        np.testing.assert_allclose(padded[i, :lengths[i]], alone, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------- bad input

GOOD = RNG.normal(size=400)

BAD_CALLS = [
    (lambda: frame_signal(np.ones((10, 2)), 4, 2), ValueError, r"signal must be 1-D \(samples,\), got shape \(10, 2\)"),
    (lambda: frame_signal([], 4, 2), ValueError, "signal is empty"),
    (lambda: frame_signal([1.0, np.nan, 2.0], 2, 1), ValueError, "signal must be finite: 1 value.*index 1"),
    (lambda: frame_signal([1.0, np.inf], 2, 1), ValueError, "signal must be finite"),
    (lambda: frame_signal(np.ones(4, complex), 2, 1), TypeError, "signal must hold real numbers.*complex"),
    (lambda: frame_signal(np.ones(4, bool), 2, 1), TypeError, "signal must hold real numbers.*bool"),
    (lambda: frame_signal(["a", "b"], 2, 1), TypeError, "signal must hold real numbers"),
    (lambda: frame_signal(GOOD, 0, 1), ValueError, "frame_length must be an integer >= 1, got 0"),
    (lambda: frame_signal(GOOD, 4.0, 1), TypeError, "frame_length must be an integer, got 4.0"),
    (lambda: frame_signal(GOOD, 4, 0), ValueError, "hop_length must be an integer >= 1"),
    (lambda: frame_signal(GOOD, 4, 5), ValueError, "hop_length=5 is longer than frame_length=4"),
    (lambda: frame_signal(GOOD[:3], 4, 2, pad_end=False), ValueError, "signal has 3 sample.*pad_end=False"),
    (lambda: mel_filterbank(40, 256, 8000, fmax=4001.0), ValueError, "fmax=4001 Hz is above the Nyquist.*4000"),
    (lambda: mel_filterbank(40, 256, 8000, fmin=3000.0, fmax=2000.0), ValueError, "fmin=3000 Hz must be below fmax"),
    (lambda: mel_filterbank(40, 256, 8000, fmin=-1.0), ValueError, "fmin must be a finite number in"),
    (lambda: mel_filterbank(128, 256, 8000), ValueError,
     r"n_mels=128 is too many for n_fft=256.*filter\(s\) \[0, .*cover no FFT bin"),
    (lambda: mel_filterbank(0, 256, 8000), ValueError, "n_mels must be an integer >= 1"),
    (lambda: mel_filterbank(10, 1, 8000), ValueError, "n_fft must be an integer >= 2"),
    (lambda: mel_filterbank(10, 256, 0), ValueError, "sample_rate must be a finite number in"),
    (lambda: mel_filterbank(10, 256, "8000"), TypeError, "sample_rate must be a real number"),
    (lambda: log_mel_spectrogram(GOOD, -8000), ValueError, r"sample_rate must be a finite number in \(0"),
    (lambda: log_mel_spectrogram(GOOD, float("nan")), ValueError, "sample_rate must be a finite number"),
    (lambda: log_mel_spectrogram(GOOD, 8000, frame_ms=0.05), ValueError,
     "frame_ms=0.05 ms rounds to 0 samples at sample_rate=8000 Hz.*0.0625 ms"),
    (lambda: log_mel_spectrogram(GOOD, 8000, hop_ms=0.0), ValueError, "hop_ms must be a finite number in"),
    (lambda: log_mel_spectrogram(GOOD, 8000, frame_ms=10.0, hop_ms=20.0), ValueError,
     r"hop_ms=20 \(160 samples\) is longer than frame_ms=10 \(80 samples\)"),
    (lambda: log_mel_spectrogram(GOOD, 8000, n_fft=128), ValueError, "n_fft=128 is shorter than a frame.*200"),
    (lambda: log_mel_spectrogram(GOOD, 8000, fmax=5000.0), ValueError, "fmax=5000 Hz is above the Nyquist"),
    (lambda: log_mel_spectrogram(GOOD, 8000, n_mels=100), ValueError, "n_mels=100 is too many for n_fft=256"),
    (lambda: log_mel_spectrogram(GOOD, 8000, pre_emphasis=1.5), ValueError, r"pre_emphasis must be .* \[0, 1\]"),
    (lambda: log_mel_spectrogram(GOOD, 8000, floor=0.0), ValueError, "floor must be a finite number in"),
    (lambda: log_mel_spectrogram(GOOD, 8000, window="blackman"), ValueError, "window must be one of"),
    (lambda: log_mel_spectrogram(GOOD, 8000, window=np.ones(10)), ValueError,
     r"window must have shape \(200,\).*got shape \(10,\)"),
    (lambda: log_mel_spectrogram(np.ones((400, 2)), 8000), ValueError, "signal must be 1-D.*signal\\[:, 0\\]"),
    (lambda: log_mel_spectrogram(np.array([]), 8000), ValueError, "signal is empty"),
    (lambda: log_mel_spectrogram(np.r_[GOOD, np.nan], 8000), ValueError, "signal must be finite.*index 400"),
    (lambda: mfcc(GOOD, 8000, n_mfcc=41), ValueError, "n_mfcc=41 is more than n_mels=40"),
    (lambda: mfcc(GOOD, 8000, lifter=-1), ValueError, "lifter must be a finite number in"),
    (lambda: mfcc(GOOD, 8000, n_mfcc=0), ValueError, "n_mfcc must be an integer >= 1"),
    (lambda: mfcc(np.full(400, np.inf), 8000), ValueError, "signal must be finite: 400 value"),
    (lambda: delta(np.ones((0, 3))), ValueError, r"features has no frames \(shape \(0, 3\)\)"),
    (lambda: delta(np.ones((2, 3, 4))), ValueError, r"features must be 2-D \(frames, coefficients\)"),
    (lambda: delta(np.ones((5, 3)), width=0), ValueError, "width must be an integer >= 1"),
    (lambda: delta([[1.0], [np.nan]]), ValueError, r"features must be finite.*index \(1, 0\)"),
    (lambda: normalize_utterance(np.ones((5, 3)), epsilon=0), ValueError, "epsilon must be a finite number in"),
    (lambda: normalize_utterance(np.ones((0, 3))), ValueError, "features has no frames"),
    (lambda: pad_batch([]), ValueError, "sequences is empty"),
    (lambda: pad_batch(np.ones((5, 3))), ValueError, "sequences must be a list of 2-D.*one 2-D array"),
    (lambda: pad_batch([np.ones((5, 3)), np.ones(5)]), ValueError,
     r"sequences\[1\] must be 2-D \(frames, features\), got shape \(5,\)"),
    (lambda: pad_batch([np.ones((5, 3)), np.ones((5, 4))]), ValueError,
     r"sequences\[1\] has 4 features, sequences\[0\] has 3"),
    (lambda: pad_batch([np.ones((0, 3))]), ValueError, r"sequences\[0\] has no frames"),
    (lambda: pad_batch([np.full((2, 3), np.nan)]), ValueError, r"sequences\[0\] must be finite"),
    (lambda: pad_batch([np.ones((2, 3))], max_length=0), ValueError, "max_length must be an integer >= 1"),
    (lambda: pad_batch([np.ones((2, 3))], value=np.nan), ValueError, "value must be a finite number"),
    (lambda: pad_batch([np.ones((2, 3))], dtype="int32"), TypeError, "dtype must be a floating dtype.*int32"),
    (lambda: pad_batch(5), TypeError, "sequences must be a list of 2-D"),
]


@pytest.mark.parametrize("call, error, match", BAD_CALLS, ids=[f"bad{i}" for i in range(len(BAD_CALLS))])
def test_bad_input_is_refused_with_a_message_naming_it(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------- python_speech_features oracle

def psf():
    return pytest.importorskip("python_speech_features",
                               reason="python_speech_features (test extra) is the oracle for these checks")


@pytest.mark.parametrize("n", [50, 200, 201, 1237, 8000])
def test_python_speech_features_frames_the_same_way(n):
    sigproc = psf().sigproc
    x = RNG.normal(size=n)
    np.testing.assert_array_equal(frame_signal(x, 200, 80), sigproc.framesig(x, 200, 80))


def test_python_speech_features_filter_peaks_within_a_bin_of_ours():
    # python_speech_features rounds the edges down to whole FFT bins, floor((n_fft + 1) f / sample_rate),
    # where ours are sampled at the exact edges: the filters differ, their peaks by at most one bin.
    speech = psf()
    for n_mels, n_fft, sample_rate in [(26, 512, 8000), (26, 512, 16000), (40, 512, 8000)]:
        theirs = speech.get_filterbanks(n_mels, n_fft, sample_rate)
        ours = mel_filterbank(n_mels, n_fft, sample_rate)
        assert ours.shape == theirs.shape
        assert np.abs(ours.argmax(axis=1) - theirs.argmax(axis=1)).max() <= 1


@pytest.mark.parametrize("window", ["rectangular", "hann"])
def test_python_speech_features_log_fbank_and_mfcc_with_its_filterbank(monkeypatch, window):
    # With python_speech_features' filterbank put in place of ours, the rest of the pipeline (pre-emphasis,
    # framing, window, power spectrum, log, DCT, lifter) must give its numbers, but for its power spectrum
    # being divided by n_fft: its log energies are lower by log(n_fft), which moves only MFCC 0
    # (by log(n_fft) sqrt(n_mels), the orthonormal DCT of a constant).
    speech = psf()
    sample_rate, n_mels, n_fft = 8000, 26, 512
    monkeypatch.setattr(audio, "mel_filterbank",
                        lambda n_mels, n_fft, sample_rate, fmin, fmax: speech.get_filterbanks(n_mels, n_fft,
                                                                                              sample_rate))
    x = RNG.normal(size=3000)
    winfunc = {"rectangular": lambda n: np.ones(n), "hann": ref_hann}[window]
    theirs_fbank, _ = speech.fbank(x, sample_rate, nfilt=n_mels, nfft=n_fft, winfunc=winfunc)
    ours = log_mel_spectrogram(x, sample_rate, n_mels=n_mels, n_fft=n_fft, window=window)
    np.testing.assert_allclose(ours, np.log(theirs_fbank) + math.log(n_fft), rtol=1e-10, atol=1e-10)

    theirs = speech.mfcc(x, sample_rate, numcep=13, nfilt=n_mels, nfft=n_fft, appendEnergy=False,
                         winfunc=winfunc)
    ours = mfcc(x, sample_rate, n_mfcc=13, n_mels=n_mels, n_fft=n_fft, window=window)
    np.testing.assert_allclose(ours[:, 1:], theirs[:, 1:], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours[:, 0], theirs[:, 0] + math.log(n_fft) * math.sqrt(n_mels), rtol=1e-9)


def test_python_speech_features_delta():
    speech = psf()
    features = RNG.normal(size=(40, 13))
    for width in (1, 2, 3):
        np.testing.assert_allclose(delta(features, width), speech.delta(features, width), rtol=1e-12, atol=1e-12)


def test_python_speech_features_log_mel_close_with_its_defaults_and_ours():
    # The filterbanks differ (bin rounding), yet on speech-like broadband input the log energies of the
    # two, rectangular window and n_fft=512 on both, agree to within a small spread once log(n_fft) is
    # accounted for: a check that the two implementations mean the same thing by each parameter.
    speech = psf()
    x = np.convolve(RNG.normal(size=4000), np.ones(3) / 3, mode="same")
    theirs = speech.logfbank(x, 8000, nfilt=26, nfft=512) + math.log(512)
    ours = log_mel_spectrogram(x, 8000, n_mels=26, n_fft=512, window="rectangular")
    assert ours.shape == theirs.shape
    assert np.median(np.abs(ours - theirs)) < 0.15
