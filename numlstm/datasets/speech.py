"""The Free Spoken Digit Dataset, packaged as 8-bit mu-law: 3,000 recordings of the digits 0-9 at 8 kHz."""

from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["SpokenDigits", "load_spoken_digits"]

MU = 255
# Measured once, at conversion, over all 3,000 recordings: the energy of the int16 original (as x = int16 / 32768)
# over the energy of (decoded - x). Per recording: median 37.6 dB, lowest 29.8 dB (a quiet one), highest 38.7 dB.
SNR_DB = 37.8

SOURCE = ("Free Spoken Digit Dataset (FSDD), Z. Jakobovski et al., github.com/Jakobovski/free-spoken-digit-dataset; "
          "licence: Creative Commons Attribution-ShareAlike 4.0 (CC BY-SA 4.0), which applies to these data and to "
          "anything derived from them. Changed here: the int16 audio stored as 8-bit mu-law (mu = 255, 256 levels) "
          f"and decoded at the level centres; signal-to-quantisation-noise ratio {SNR_DB} dB against the int16 "
          "original (over all recordings; 29.8-38.7 dB per recording).")


@dataclass(frozen=True, eq=False)
class SpokenDigits:
    """The recordings of the Free Spoken Digit Dataset, with their digit, speaker, take and split.

    Attributes
    ----------
    waveforms : tuple of numpy.ndarray of float32
        One read-only 1-D array per recording, in [-1, 1] (full scale of the int16 original; the largest
        decodable magnitude is 0.9785), 1,148 to 18,262 samples long.
    digits : numpy.ndarray of int64, shape (recordings,)
        The digit spoken, 0-9.
    speakers : numpy.ndarray of int64, shape (recordings,)
        Index into ``speaker_names``.
    speaker_names : tuple of str
    takes : numpy.ndarray of int64, shape (recordings,)
        Which of a speaker's 50 takes of a digit, 0-49.
    sample_rate : int
        Samples per second: 8000.
    is_test : numpy.ndarray of bool, shape (recordings,)
        The dataset's own split: takes 0-4 are the test set (300 recordings), 5-49 the training set.
    source : str
        Provenance, licence, and what was done to the audio.
    """

    waveforms: tuple
    digits: np.ndarray
    speakers: np.ndarray
    speaker_names: tuple
    takes: np.ndarray
    sample_rate: int
    is_test: np.ndarray
    source: str

    def __len__(self):
        return len(self.waveforms)

    def __repr__(self):
        lengths = [len(w) for w in self.waveforms]
        return (f"SpokenDigits({len(self)} recordings of {len(np.unique(self.digits))} digits by "
                f"{len(self.speaker_names)} speakers at {self.sample_rate} Hz, {min(lengths)}-{max(lengths)} samples; "
                f"{int((~self.is_test).sum())} train, {int(self.is_test.sum())} test)")


def _mulaw_encode(x, mu=MU):
    """uint8 codes of ``x`` in [-1, 1]: the continuous mu-law curve, quantised to 256 equal steps."""
    x = np.asarray(x, np.float64)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.clip(np.floor((y + 1) * 128), 0, 255).astype(np.uint8)


def _mulaw_decode(codes, mu=MU):
    """The float64 values in [-1, 1] of uint8 mu-law codes, at the centres of their levels."""
    y = (np.asarray(codes, np.float64) + 0.5) / 128 - 1
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu


def load_spoken_digits():
    """The Free Spoken Digit Dataset: 3,000 recordings of the digits 0-9 by 6 speakers, 8 kHz mono.

    Each of the 6 speakers (``george``, ``jackson``, ``lucas``, ``nicolas``, ``theo``, ``yweweler``) says
    each digit 50 times; recordings are trimmed of silence and 1,148 to 18,262 samples (0.14 to 2.3 s)
    long. The dataset's convention for the split, kept in ``is_test``: takes 0-4 are the test set (300
    recordings), takes 5-49 the training set (2,700), so every speaker and digit is in both.

    Source: Z. Jakobovski et al., Free Spoken Digit Dataset (FSDD),
    github.com/Jakobovski/free-spoken-digit-dataset, converted from its wav files. Licence: Creative
    Commons Attribution-ShareAlike 4.0; attribution and share-alike apply to these data and what is made
    from them.

    What was done to the audio, to fit the package (8.3 MB instead of 15.4): the int16 samples ``s`` are
    stored as 8-bit mu-law with mu = 255, the continuous (G.711-style) curve, not G.711's segmented
    table. Encoding: ``x = s / 32768``; ``y = sign(x) ln(1 + mu |x|) / ln(1 + mu)``; code
    ``c = clip(floor((y + 1) * 128), 0, 255)`` as uint8 (256 equal steps of ``y``). Decoding, the exact
    inverse at the centre of each step: ``y = (c + 0.5) / 128 - 1``; ``x = sign(y) ((1 + mu)^|y| - 1) / mu``,
    returned as float32. Silence decodes to +/-8.6e-5, not 0. The signal-to-quantisation-noise ratio of
    the decoded audio against ``s / 32768`` is 37.8 dB over all recordings (29.8 to 38.7 dB per
    recording). The packaged ``data/spoken_digits.npz`` (``numpy.savez_compressed``) holds ``mulaw``
    (all recordings' codes concatenated, uint8), ``offsets`` (int64, 3,001 boundaries: recording ``k``
    is ``mulaw[offsets[k]:offsets[k + 1]]``), ``digit`` (int8), ``speaker`` (int8), ``speaker_names``,
    ``take`` (int16), ``sample_rate`` and ``mu``; nothing else of the wav files was dropped.

    Returns
    -------
    SpokenDigits
        Read-only arrays; each call reads the file afresh (about 0.1 s).

    Examples
    --------
    >>> from numlstm import datasets
    >>> fsdd = datasets.load_spoken_digits()
    >>> len(fsdd), int(fsdd.is_test.sum()), fsdd.sample_rate
    (3000, 300, 8000)
    >>> int(fsdd.digits[0]), fsdd.speaker_names[fsdd.speakers[0]], fsdd.waveforms[0].dtype
    (0, 'george', dtype('float32'))
    """
    path = resources.files(__package__).joinpath("data", "spoken_digits.npz")
    with path.open("rb") as file, np.load(file) as data:
        codes, offsets = data["mulaw"], data["offsets"]
        table = _mulaw_decode(np.arange(256), int(data["mu"])).astype(np.float32)
        audio = table[codes]
        digits, speakers, takes = (data[key].astype(np.int64) for key in ("digit", "speaker", "take"))
        speaker_names = tuple(str(name) for name in data["speaker_names"])
        sample_rate = int(data["sample_rate"])
    is_test = takes < 5
    for array in (audio, digits, speakers, takes, is_test):
        array.setflags(write=False)
    # Views of one read-only array: none can be made writeable again.
    waveforms = tuple(audio[start:stop] for start, stop in zip(offsets[:-1].tolist(), offsets[1:].tolist()))
    return SpokenDigits(waveforms, digits, speakers, speaker_names, takes, sample_rate, is_test, SOURCE)
