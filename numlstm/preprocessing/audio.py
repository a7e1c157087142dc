"""Speech features for an LSTM: framing, mel filterbank, log-mel energies, MFCCs, deltas, CMVN and padding.

The usual recipe for a (bidirectional) LSTM on spoken words, each recording a 1-D array sampled at
``sample_rate`` Hz::

    def features(x):
        c = mfcc(x, 8000)                                    # (frames, 13), 25 ms frames every 10 ms
        c = np.hstack([c, delta(c), delta(delta(c))])        # (frames, 39)
        return normalize_utterance(c)                        # zero mean, unit variance per utterance
    x, mask, lengths = pad_batch([features(r) for r in recordings], value=-1e4)
    # (N, T, 39), (N, T), (N,): layers.Masking(mask_value=-1e4) in front of the LSTM skips the padded
    # frames (see pad_batch for the choice of value); the CTC loss reads the frames from that mask.

Conventions, those of HTK and ``python_speech_features`` unless said otherwise:

- one frame every ``hop_ms`` ms, each ``frame_ms`` ms long, both rounded to whole samples (half up);
  the end of the signal is zero-padded so that every sample is in a frame (:func:`frame_signal`);
- pre-emphasis y[0] = x[0], y[t] = x[t] - a x[t-1] on the whole signal before framing;
- a periodic Hann window by default, the power spectrum |rfft|^2 (not divided by ``n_fft``);
- triangular filters on the HTK mel scale, mel = 2595 log10(1 + f / 700), each of height 1 at its
  centre, with no area normalisation (:func:`mel_filterbank`);
- the natural log, with a floor; the orthonormal DCT-II; the HTK sinusoidal lifter.

Everything is computed in float64 with numpy and scipy, vectorised over frames; a feature comes back
float32 when its input is float32, float64 otherwise. Integer input (16-bit PCM, say) is used as it is,
not rescaled: scaling a signal by ``s`` adds ``2 log s`` to every log-mel energy, which
:func:`normalize_utterance` removes again.
"""

import math
import numbers

import numpy as np

from ..utils import pad_sequences

__all__ = ["frame_signal", "mel_filterbank", "log_mel_spectrogram", "mfcc", "delta", "normalize_utterance",
           "pad_batch"]

_WINDOWS = ("hann", "hamming", "rectangular")


# ---------------------------------------------------------------------------------------------- checks

def _integer(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _real(name, value, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a float, finite and within [low, high] (an end open where told)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or below or above:
        left = "(-inf" if low is None else f"{'(' if low_open else '['}{low:g}"
        right = "inf)" if high is None else f"{high:g}{')' if high_open else ']'}"
        bounds = f"{left}, {right}"
        raise ValueError(f"{name} must be a finite number in {bounds}, got {value!r}")
    return value


def _numeric(name, value):
    """``value`` as a real numeric ndarray (integers or floats), else a TypeError."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise TypeError(f"{name} must be an array of real numbers: {exc}") from None
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.integer)
                                       or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(f"{name} must hold real numbers (integers or floats), got dtype {array.dtype}")
    return array


def _finite(name, array):
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))
        raise ValueError(f"{name} must be finite: {len(bad)} value(s) are NaN or infinite, the first at index "
                         f"{tuple(int(i) for i in bad[0]) if array.ndim > 1 else int(bad[0][0])}")
    return array


def _signal(signal):
    """A 1-D, non-empty, finite, real signal as an ndarray."""
    array = _numeric("signal", signal)
    if array.ndim != 1:
        hint = " (one channel: pass signal[:, 0] or signal.mean(axis=1))" if array.ndim == 2 else ""
        raise ValueError(f"signal must be 1-D (samples,), got shape {array.shape}{hint}")
    if array.size == 0:
        raise ValueError("signal is empty: it needs at least one sample")
    return _finite("signal", array)


def _features(name, features):
    """(frames, coefficients) features, or 1-D (frames,), non-empty and finite, as an ndarray."""
    array = _numeric(name, features)
    if array.ndim not in (1, 2):
        raise ValueError(f"{name} must be 2-D (frames, coefficients) or 1-D (frames,), got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} has no frames (shape {array.shape})")
    return _finite(name, array)


def _out_dtype(array):
    return np.float32 if array.dtype == np.float32 else np.float64


def _samples(name, milliseconds, sample_rate):
    """``milliseconds`` at ``sample_rate`` Hz as a whole number of samples, rounded half up, at least 1."""
    milliseconds = _real(name, milliseconds, low=0.0, low_open=True)
    samples = math.floor(milliseconds * sample_rate / 1000.0 + 0.5)
    if samples < 1:
        raise ValueError(f"{name}={milliseconds:g} ms rounds to 0 samples at sample_rate={sample_rate:g} Hz: it "
                         f"must be at least half a sample, {500.0 / sample_rate:g} ms")
    return samples


# --------------------------------------------------------------------------------------------- framing

def frame_signal(signal, frame_length, hop_length, pad_end=True):
    """Cut a 1-D signal into overlapping frames, one per row.

    Frame ``i`` holds samples ``i * hop_length`` to ``i * hop_length +
    frame_length - 1``. With ``pad_end`` (the default) the end is padded with
    zeros so that every sample lies in some frame: a signal of ``n >=
    frame_length`` samples gives ``1 + ceil((n - frame_length) /
    hop_length)`` frames, the last one starting inside the signal, and a
    signal shorter than one frame gives one zero-padded frame (as
    ``python_speech_features.sigproc.framesig``). Without it only whole
    frames are kept, ``1 + (n - frame_length) // hop_length`` of them, and the
    samples after the last one are dropped.

    Parameters
    ----------
    signal : array_like, shape (samples,)
        Real (integer or float), finite, non-empty.
    frame_length : int
        Samples per frame, at least 1.
    hop_length : int
        Samples from one frame's start to the next's: at least 1 and at most
        ``frame_length`` (a larger hop would skip samples).
    pad_end : bool, default True
        Zero-pad the last partial frame (True) or drop it (False).

    Returns
    -------
    frames : ndarray, shape (frames, frame_length)
        A new array (not a view) of the signal's dtype.

    Raises
    ------
    ValueError
        If ``signal`` is not 1-D, is empty or is not finite; if a length is
        below 1 or ``hop_length > frame_length``; if ``pad_end`` is False and
        the signal is shorter than one frame.
    TypeError
        If ``signal`` is not real numbers, or a length is not an integer.

    Examples
    --------
    >>> from numlstm.preprocessing import frame_signal
    >>> frame_signal(np.arange(1, 8), frame_length=4, hop_length=2)
    array([[1, 2, 3, 4],
           [3, 4, 5, 6],
           [5, 6, 7, 0]])
    >>> frame_signal(np.arange(1, 8), frame_length=4, hop_length=2, pad_end=False)
    array([[1, 2, 3, 4],
           [3, 4, 5, 6]])
    """
    signal = _signal(signal)
    frame_length = _integer("frame_length", frame_length)
    hop_length = _integer("hop_length", hop_length)
    if hop_length > frame_length:
        raise ValueError(f"hop_length={hop_length} is longer than frame_length={frame_length}: the samples "
                         f"between frames would be skipped")
    n = signal.size
    if pad_end:
        count = 1 if n <= frame_length else 1 + -(-(n - frame_length) // hop_length)
        padded = np.zeros((count - 1) * hop_length + frame_length, signal.dtype)
        padded[:n] = signal
    else:
        if n < frame_length:
            raise ValueError(f"signal has {n} sample(s), fewer than frame_length={frame_length}: with "
                             f"pad_end=False there is no whole frame (pad_end=True gives one zero-padded frame)")
        count = 1 + (n - frame_length) // hop_length
        padded = signal
    starts = np.arange(count)[:, None] * hop_length
    return padded[starts + np.arange(frame_length)]


def _window(window, frame_length):
    """The (frame_length,) float64 analysis window ``window`` names or gives."""
    if isinstance(window, str):
        n = np.arange(frame_length)
        if window == "hann":
            return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / frame_length)
        if window == "hamming":
            return 0.54 - 0.46 * np.cos(2.0 * np.pi * n / frame_length)
        if window == "rectangular":
            return np.ones(frame_length)
        raise ValueError(f"window must be one of {_WINDOWS} or an array of frame_length={frame_length} values, "
                         f"got {window!r}")
    array = _numeric("window", window)
    if array.shape != (frame_length,):
        raise ValueError(f"window must have shape ({frame_length},) (the frame length in samples), "
                         f"got shape {array.shape}")
    return _finite("window", array).astype(np.float64)


# ------------------------------------------------------------------------------------------------- mel

def _hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def _mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_mels, n_fft, sample_rate, fmin=0.0, fmax=None):
    """Triangular filters on the HTK mel scale, one per row, over the bins of an ``n_fft``-point rfft.

    The scale is HTK's, mel(f) = 2595 log10(1 + f / 700). The ``n_mels + 2``
    edge frequencies are equally spaced in mel from ``fmin`` to ``fmax``;
    filter ``m`` rises linearly from edge ``m`` to 1 at edge ``m + 1`` (its
    centre) and falls back to 0 at edge ``m + 2``, all linear in Hz, and is
    sampled at the bin frequencies ``k * sample_rate / n_fft``. Each triangle
    has height 1 at its centre (a bin rarely falls exactly there) and no area
    normalisation, as HTK and ``python_speech_features``; unlike the latter,
    the edges are not rounded to whole FFT bins (librosa's ``htk=True,
    norm=None`` filters are the same).

    Parameters
    ----------
    n_mels : int
        The number of filters, at least 1.
    n_fft : int
        The FFT length, at least 2; the filters have ``n_fft // 2 + 1``
        columns, bins 0 Hz to the Nyquist frequency.
    sample_rate : float
        In Hz, positive.
    fmin : float, default 0.0
        The lower edge of the first filter, in Hz: at least 0, below ``fmax``.
    fmax : float, optional
        The upper edge of the last filter, in Hz, at most the Nyquist
        frequency ``sample_rate / 2`` (the default).

    Returns
    -------
    filters : ndarray, shape (n_mels, n_fft // 2 + 1), float64
        Power-spectrum frames ``P`` (frames, n_fft // 2 + 1) give mel energies
        ``P @ filters.T``.

    Raises
    ------
    ValueError
        If ``fmax`` exceeds the Nyquist frequency or ``fmin >= fmax``; if
        ``n_mels`` is too many for the FFT's resolution, so that some filter
        would cover no bin (use fewer filters or a larger ``n_fft``).
    TypeError
        If a count is not an integer or a frequency not a number.

    Examples
    --------
    >>> from numlstm.preprocessing import mel_filterbank
    >>> filters = mel_filterbank(n_mels=40, n_fft=256, sample_rate=8000)
    >>> filters.shape
    (40, 129)
    >>> bool(filters.max() <= 1.0), int(filters[0].argmax()), int(filters[-1].argmax())
    (True, 1, 121)
    """
    n_mels = _integer("n_mels", n_mels)
    n_fft = _integer("n_fft", n_fft, minimum=2)
    sample_rate = _real("sample_rate", sample_rate, low=0.0, low_open=True)
    nyquist = sample_rate / 2.0
    fmin = _real("fmin", fmin, low=0.0)
    if fmax is None:
        fmax = nyquist
    else:
        fmax = _real("fmax", fmax, low=0.0)
        if fmax > nyquist:
            raise ValueError(f"fmax={fmax:g} Hz is above the Nyquist frequency sample_rate / 2 = {nyquist:g} Hz")
    if fmin >= fmax:
        raise ValueError(f"fmin={fmin:g} Hz must be below fmax={fmax:g} Hz")
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    bins = np.arange(n_fft // 2 + 1) * (sample_rate / n_fft)
    filters = np.maximum(0.0, np.minimum((bins - lower) / (centre - lower), (upper - bins) / (upper - centre)))
    empty = np.flatnonzero(~filters.any(axis=1))
    if empty.size:
        raise ValueError(
            f"n_mels={n_mels} is too many for n_fft={n_fft} at sample_rate={sample_rate:g} Hz between "
            f"{fmin:g} and {fmax:g} Hz: filter(s) {empty.tolist()[:8]}{'...' if empty.size > 8 else ''} cover no FFT "
            f"bin (bins are {sample_rate / n_fft:g} Hz apart); use fewer mel bands or a larger n_fft")
    return filters


def _log_mel(signal, sample_rate, n_mels, frame_ms, hop_ms, n_fft, fmin, fmax, pre_emphasis, floor, window):
    """(log-mel energies float64 (frames, n_mels), the output dtype), every argument checked."""
    signal = _signal(signal)
    dtype = _out_dtype(signal)
    sample_rate = _real("sample_rate", sample_rate, low=0.0, low_open=True)
    frame_length = _samples("frame_ms", frame_ms, sample_rate)
    hop_length = _samples("hop_ms", hop_ms, sample_rate)
    if hop_length > frame_length:
        raise ValueError(f"hop_ms={hop_ms:g} ({hop_length} samples) is longer than frame_ms={frame_ms:g} "
                         f"({frame_length} samples): the samples between frames would be skipped")
    if n_fft is None:
        n_fft = max(2, 1 << (frame_length - 1).bit_length())
    else:
        n_fft = _integer("n_fft", n_fft, minimum=2)
        if n_fft < frame_length:
            raise ValueError(f"n_fft={n_fft} is shorter than a frame, frame_ms={frame_ms:g} ms = {frame_length} "
                             f"samples at {sample_rate:g} Hz: the frames would be truncated")
    pre_emphasis = _real("pre_emphasis", pre_emphasis, low=0.0, high=1.0)
    floor = _real("floor", floor, low=0.0, low_open=True)
    window = _window(window, frame_length)
    filters = mel_filterbank(n_mels, n_fft, sample_rate, fmin, fmax)

    x = signal.astype(np.float64)
    if pre_emphasis:
        x = np.concatenate([x[:1], x[1:] - pre_emphasis * x[:-1]])
    frames = frame_signal(x, frame_length, hop_length) * window
    spectrum = np.fft.rfft(frames, n=n_fft, axis=1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    return np.log(np.maximum(power @ filters.T, floor)), dtype


def _with_shared_parameters(function):
    """``function`` with the parameters log_mel_spectrogram and mfcc share put into its docstring."""
    function.__doc__ = function.__doc__.replace("%(shared_parameters)s", _SHARED_PARAMETERS)
    return function


_SHARED_PARAMETERS = """n_mels : int, default 40
        Mel filters (:func:`mel_filterbank`); too many for ``n_fft`` is a
        ValueError.
    frame_ms : float, default 25.0
        Frame length in milliseconds, rounded half up to whole samples
        (200 at 8 kHz): at least one sample.
    hop_ms : float, default 10.0
        Frame shift in milliseconds, rounded likewise (80 at 8 kHz): at least
        one sample and at most the frame length.
    n_fft : int, optional
        FFT length, at least the frame length in samples; the frames are
        zero-padded to it. Default: the next power of two at or above the
        frame length (256 for 200 samples).
    fmin : float, default 0.0
        Lower edge of the first mel filter, in Hz.
    fmax : float, optional
        Upper edge of the last mel filter, in Hz: at most (and by default)
        ``sample_rate / 2``.
    pre_emphasis : float, default 0.97
        ``a`` in y[0] = x[0], y[t] = x[t] - a x[t-1], applied to the whole
        signal before framing (HTK and Kaldi apply it within each frame); in
        [0, 1], 0 for none.
    floor : float, default 1e-10
        Positive: mel energies below it are raised to it before the log, so
        that digital silence gives ``log(floor)`` rather than -inf. The
        energies are in the signal's units squared.
    window : {"hann", "hamming", "rectangular"} or array_like, default "hann"
        The analysis window each frame is multiplied by: the periodic
        (``fftbins=True``) Hann or Hamming window of the frame length, none,
        or your own array of ``frame_length`` values (e.g. ``np.hamming(n)``
        for HTK's symmetric Hamming). ``python_speech_features`` applies none
        by default."""


@_with_shared_parameters
def log_mel_spectrogram(signal, sample_rate, n_mels=40, frame_ms=25.0, hop_ms=10.0, n_fft=None, fmin=0.0,
                        fmax=None, pre_emphasis=0.97, floor=1e-10, window="hann"):
    """Log mel-filterbank energies of a 1-D signal, one row per frame.

    Steps: pre-emphasis; frames of ``frame_ms`` every ``hop_ms``, the end
    zero-padded so that every sample is in a frame (:func:`frame_signal`:
    ``1 + ceil((n - frame_length) / hop_length)`` frames for ``n >=
    frame_length`` samples, 1 below); the window; the power spectrum
    ``|rfft(frame, n_fft)|**2`` (not divided by ``n_fft``, which
    ``python_speech_features`` does: its log energies are lower by ``log
    n_fft``); the mel filters (:func:`mel_filterbank`); the natural log of the
    energies floored at ``floor``.

    Parameters
    ----------
    signal : array_like, shape (samples,)
        Real, finite, non-empty; integers are used as they are (not scaled).
    sample_rate : float
        In Hz, positive.
    %(shared_parameters)s

    Returns
    -------
    log_mel : ndarray, shape (frames, n_mels)
        float32 when ``signal`` is float32, float64 otherwise (computed in
        float64 either way).

    Raises
    ------
    ValueError
        If ``signal`` is not 1-D, is empty or has a NaN or infinity; if
        ``sample_rate``, a duration or a frequency is out of range, or
        ``hop_ms`` gives more samples than ``frame_ms``; if ``n_mels`` is too
        many for ``n_fft``; if ``n_fft`` is shorter than a frame.
    TypeError
        If ``signal`` is not real numbers, or an argument is not a number.

    Examples
    --------
    >>> from numlstm.preprocessing import log_mel_spectrogram
    >>> t = np.arange(8000) / 8000.0                       # 1 s at 8 kHz
    >>> x = np.sin(2 * np.pi * 1000.0 * t)                 # a 1 kHz tone
    >>> features = log_mel_spectrogram(x, 8000)
    >>> features.shape, features.dtype
    ((99, 40), dtype('float64'))
    >>> int(features[50].argmax())                         # the filter centred nearest 1 kHz
    18
    """
    log_mel, dtype = _log_mel(signal, sample_rate, n_mels, frame_ms, hop_ms, n_fft, fmin, fmax, pre_emphasis,
                              floor, window)
    return log_mel.astype(dtype, copy=False)


@_with_shared_parameters
def mfcc(signal, sample_rate, n_mfcc=13, n_mels=40, frame_ms=25.0, hop_ms=10.0, n_fft=None, fmin=0.0,
         fmax=None, pre_emphasis=0.97, floor=1e-10, window="hann", lifter=22):
    """Mel-frequency cepstral coefficients of a 1-D signal, one row per frame.

    The orthonormal DCT-II (``scipy.fft.dct(..., norm="ortho")``) of each
    frame's log mel energies (:func:`log_mel_spectrogram`, which says how the
    frames are made), its first ``n_mfcc`` coefficients kept and multiplied by
    HTK's sinusoidal lifter ``1 + (lifter / 2) sin(pi n / lifter)``, n = 0,
    1, ... Coefficient 0 is kept as it is: the sum of the log mel energies
    over ``sqrt(n_mels)``, a loudness measure. Replacing it by the frame's log
    energy (``python_speech_features``' ``appendEnergy``, HTK's ``_E``) is
    not offered, as the variants differ (before or after pre-emphasis and
    window, over which samples); to use one, compute it and put it in column
    0, e.g. ``np.log(np.maximum((frame_signal(x, 200, 80) ** 2).sum(axis=1),
    1e-10))``.

    Parameters
    ----------
    signal : array_like, shape (samples,)
        Real, finite, non-empty; integers are used as they are (not scaled).
    sample_rate : float
        In Hz, positive.
    n_mfcc : int, default 13
        Coefficients kept, 1 to ``n_mels``.
    %(shared_parameters)s
    lifter : float, default 22
        The lifter's ``L``; 0 for none. HTK's and ``python_speech_features``'
        default is 22.

    Returns
    -------
    mfcc : ndarray, shape (frames, n_mfcc)
        float32 when ``signal`` is float32, float64 otherwise (computed in
        float64 either way).

    Raises
    ------
    ValueError
        As :func:`log_mel_spectrogram`, and if ``n_mfcc`` exceeds ``n_mels``
        or ``lifter`` is negative.
    TypeError
        As :func:`log_mel_spectrogram`.

    Examples
    --------
    >>> from numlstm.preprocessing import mfcc
    >>> x = np.random.default_rng(0).normal(size=8000)     # 1 s at 8 kHz
    >>> coefficients = mfcc(x.astype(np.float32), 8000)
    >>> coefficients.shape, coefficients.dtype
    ((99, 13), dtype('float32'))
    """
    n_mfcc = _integer("n_mfcc", n_mfcc)
    n_mels_checked = _integer("n_mels", n_mels)
    if n_mfcc > n_mels_checked:
        raise ValueError(f"n_mfcc={n_mfcc} is more than n_mels={n_mels_checked}: the DCT of n_mels energies "
                         f"has n_mels coefficients")
    lifter = _real("lifter", lifter, low=0.0)
    log_mel, dtype = _log_mel(signal, sample_rate, n_mels, frame_ms, hop_ms, n_fft, fmin, fmax, pre_emphasis,
                              floor, window)
    import scipy.fft  # here, not at import: numlstm's import stays free of scipy's

    coefficients = scipy.fft.dct(log_mel, type=2, axis=1, norm="ortho")[:, :n_mfcc]
    if lifter:
        coefficients *= 1.0 + (lifter / 2.0) * np.sin(np.pi * np.arange(n_mfcc) / lifter)
    return coefficients.astype(dtype, copy=False)


# ------------------------------------------------------------------------------- features over frames

def delta(features, width=2):
    """Delta (regression) coefficients of features over frames, HTK's formula.

    d_t = sum_{n=1..N} n (c_{t+n} - c_{t-n}) / (2 sum_{n=1..N} n^2), N =
    ``width``, the first and last frames repeated beyond the edges (as HTK
    and ``python_speech_features.delta``). On a linear trend it gives the
    slope per frame away from the edges. Apply it twice for delta-deltas
    (acceleration): ``delta(delta(c))``.

    Parameters
    ----------
    features : array_like, shape (frames, coefficients) or (frames,)
        Real, finite, at least one frame; time is axis 0.
    width : int, default 2
        ``N``, the frames taken on each side, at least 1.

    Returns
    -------
    deltas : ndarray, the shape of ``features``
        float32 when ``features`` is float32, float64 otherwise.

    Raises
    ------
    ValueError
        If ``features`` is not 1-D or 2-D, has no frames, or is not finite;
        if ``width < 1``.
    TypeError
        If ``features`` is not real numbers or ``width`` not an integer.

    Examples
    --------
    >>> from numlstm.preprocessing import delta
    >>> delta(np.arange(6.0) * 3.0)                        # slope 3, less at the edges
    array([1.5, 2.4, 3. , 3. , 2.4, 1.5])
    """
    features = _features("features", features)
    width = _integer("width", width)
    dtype = _out_dtype(features)
    x = features.astype(np.float64)
    frames = x.shape[0]
    padded = np.concatenate([np.repeat(x[:1], width, axis=0), x, np.repeat(x[-1:], width, axis=0)])
    result = np.zeros_like(x)
    for n in range(1, width + 1):  # over the window's offsets, not the frames
        result += n * (padded[width + n:width + n + frames] - padded[width - n:width - n + frames])
    result /= 2.0 * sum(n * n for n in range(1, width + 1))
    return result.astype(dtype, copy=False)


def normalize_utterance(features, variance=True, epsilon=1e-8):
    """Per-utterance mean and variance normalisation (CMVN) of features over frames.

    Each coefficient (column) has its mean over the utterance's frames
    subtracted and, with ``variance``, is divided by its standard deviation
    (population, ``ddof=0``) or by ``epsilon`` where that is larger. A
    coefficient constant over the utterance (a single frame, say) becomes 0.
    Apply it to each utterance before :func:`pad_batch`, not to a padded
    batch, whose padding would count.

    Parameters
    ----------
    features : array_like, shape (frames, coefficients) or (frames,)
        Real, finite, at least one frame; time is axis 0.
    variance : bool, default True
        Also scale to unit variance (CMVN); False subtracts the mean only
        (CMN).
    epsilon : float, default 1e-8
        Positive: the smallest standard deviation divided by.

    Returns
    -------
    normalized : ndarray, the shape of ``features``
        float32 when ``features`` is float32, float64 otherwise.

    Raises
    ------
    ValueError
        If ``features`` is not 1-D or 2-D, has no frames or is not finite;
        if ``epsilon <= 0``.
    TypeError
        If ``features`` is not real numbers.

    Examples
    --------
    >>> from numlstm.preprocessing import normalize_utterance
    >>> normalize_utterance(np.array([[1.0, 5.0], [3.0, 5.0]]))
    array([[-1.,  0.],
           [ 1.,  0.]])
    """
    features = _features("features", features)
    epsilon = _real("epsilon", epsilon, low=0.0, low_open=True)
    dtype = _out_dtype(features)
    x = features.astype(np.float64)
    x = x - x.mean(axis=0)
    if variance:
        x /= np.maximum(np.sqrt((x * x).mean(axis=0)), epsilon)
    return x.astype(dtype, copy=False)


def pad_batch(sequences, max_length=None, value=0.0, dtype="float32"):
    """Pad variable-length (frames, features) arrays at the end into one (batch, frames, features) array.

    Sequence ``i`` fills ``batch[i, :lengths[i]]``; the rest of its row is
    ``value``. A sequence longer than ``max_length`` is truncated at the end:
    its first ``max_length`` frames are kept.

    With :class:`numlstm.layers.Masking`: Masking marks a step as padding when
    *all* its features equal its ``mask_value``, so use
    ``Masking(mask_value=value)`` with the same ``value``, one that a real
    frame never takes in every feature at once, and that float32 represents
    exactly (0.0, or a sentinel such as -1e4 that is far from any feature).
    0.0 is safe for MFCCs and log-mel energies, whose frames are never exactly
    zero in every coefficient. After :func:`normalize_utterance` a frame is
    all zeros where it equals the utterance's mean in every coefficient, in
    practice only when the whole utterance is constant (digital silence):
    a sentinel is the safe choice there. An LSTM after Masking skips the
    masked steps, keeping its state, so the backward half of a Bidirectional
    reads the padding first and starts, from its initial state, on the last
    real frame; the outputs at padded steps repeat the carried state (zeros
    with ``zero_output_for_mask=True``). The CTC loss
    (:class:`numlstm.losses.CTC`) reads each sample's frames from Masking's
    mask, so ``lengths`` need not be passed to it (``ctc_loss`` and the
    decoders of :mod:`numlstm.decoding` take them as ``input_lengths``); the
    other losses and the metrics do not see the mask: per-frame targets at
    padded steps count in them unless you use ``mask`` yourself.

    Parameters
    ----------
    sequences : sequence of array_like
        Non-empty; each 2-D (frames, features), with at least one frame,
        finite, and the same number of features.
    max_length : int, optional
        The batch's frames, at least 1: longer sequences are truncated at the
        end. Default: the longest sequence's frames.
    value : float, default 0.0
        The padding value, finite.
    dtype : str or numpy dtype, default "float32"
        A floating dtype (float32 for numlstm's layers, float64).

    Returns
    -------
    batch : ndarray, shape (N, T, F)
        Of ``dtype``.
    mask : ndarray of bool, shape (N, T)
        True on the real frames, False on the padding.
    lengths : ndarray of int64, shape (N,)
        The real frames of each row, ``mask.sum(axis=1)``: after truncation.

    Raises
    ------
    ValueError
        If ``sequences`` is empty, an element is not 2-D or has no frames or
        is not finite, the feature counts differ, ``max_length < 1``, or
        ``value`` is not finite.
    TypeError
        If an element is not real numbers, ``dtype`` is not a floating dtype,
        or ``max_length`` is not an integer.

    Examples
    --------
    >>> from numlstm.preprocessing import pad_batch
    >>> batch, mask, lengths = pad_batch([np.ones((3, 2)), np.full((1, 2), 2.0)])
    >>> batch.shape, lengths
    ((2, 3, 2), array([3, 1]))
    >>> mask
    array([[ True,  True,  True],
           [ True, False, False]])
    >>> batch[1]
    array([[2., 2.],
           [0., 0.],
           [0., 0.]], dtype=float32)
    """
    if isinstance(sequences, np.ndarray) and sequences.ndim == 2:
        raise ValueError(f"sequences must be a list of 2-D (frames, features) arrays, got one 2-D array of shape "
                         f"{sequences.shape}: wrap a single sequence in a list")
    try:
        sequences = list(sequences)
    except TypeError:
        raise TypeError(f"sequences must be a list of 2-D (frames, features) arrays, got "
                        f"{type(sequences).__name__}") from None
    if not sequences:
        raise ValueError("sequences is empty: pad_batch needs at least one (frames, features) array")
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a floating numpy dtype such as 'float32', got {dtype!r}") from None
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a floating dtype such as 'float32' or 'float64', got {dtype}")
    value = _real("value", value)
    arrays = []
    for i, sequence in enumerate(sequences):
        array = _numeric(f"sequences[{i}]", sequence)
        if array.ndim != 2:
            raise ValueError(f"sequences[{i}] must be 2-D (frames, features), got shape {array.shape}")
        if array.shape[0] == 0:
            raise ValueError(f"sequences[{i}] has no frames (shape {array.shape})")
        if arrays and array.shape[1] != arrays[0].shape[1]:
            raise ValueError(f"sequences[{i}] has {array.shape[1]} features, sequences[0] has "
                             f"{arrays[0].shape[1]}: every sequence must have the same number of features")
        arrays.append(_finite(f"sequences[{i}]", array))
    lengths = np.array([a.shape[0] for a in arrays], np.int64)
    steps = int(lengths.max()) if max_length is None else _integer("max_length", max_length)
    lengths = np.minimum(lengths, steps)
    batch = pad_sequences(arrays, maxlen=steps, dtype=dtype, padding="post", truncating="post", value=value)
    mask = np.arange(steps) < lengths[:, None]
    return batch, mask, lengths
