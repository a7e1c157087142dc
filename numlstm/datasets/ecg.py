"""Record 100 of the MIT-BIH Arrhythmia Database: 30 minutes of two-lead ECG with its beat annotations."""

from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["ECGRecord", "load_ecg"]

# The MIT-BIH beat annotation codes (wfdb's), against the non-beat ones such as "+" (rhythm change).
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")

SOURCE = ("MIT-BIH Arrhythmia Database, record 100: G. B. Moody and R. G. Mark (2001), 'The impact of the MIT-BIH "
          "Arrhythmia Database', IEEE Eng Med Biol 20(3):45-50; A. L. Goldberger et al. (2000), PhysioNet, "
          "Circulation 101(23):e215-e220. Licence: Open Data Commons Attribution License 1.0. Patient: male, 69. "
          "Converted without loss from the copy of record 100 (format 212, and its .atr reference annotations) "
          "in the wfdb-python repository's sample data.")


@dataclass(frozen=True, eq=False)
class ECGRecord:
    """A multi-lead ECG recording in millivolts with its cardiologists' annotations.

    Attributes
    ----------
    signals : numpy.ndarray of float64, shape (samples, leads)
        The leads in mV, C-contiguous.
    leads : tuple of str
        The lead of each column of ``signals``.
    sample_rate : int
        Samples per second.
    beat_samples : numpy.ndarray of int64, shape (beats,)
        Sample index (row of ``signals``) of each annotated beat, at its R peak, increasing.
    beat_symbols : numpy.ndarray of str, shape (beats,)
        The beat's MIT-BIH code: "N" normal, "A" atrial premature, "V" premature ventricular contraction, ...
    annotation_samples : numpy.ndarray of int64, shape (annotations,)
        Every annotation's sample index: the beats and the non-beat annotations, in the file's order.
    annotation_symbols : numpy.ndarray of str, shape (annotations,)
        Every annotation's code, "+" (rhythm change) included.
    source : str
        Provenance, licence and patient.
    """

    signals: np.ndarray
    leads: tuple
    sample_rate: int
    beat_samples: np.ndarray
    beat_symbols: np.ndarray
    annotation_samples: np.ndarray
    annotation_symbols: np.ndarray
    source: str

    def __len__(self):
        return len(self.signals)

    def __repr__(self):
        symbols, counts = np.unique(self.beat_symbols, return_counts=True)
        beats = ", ".join(f"{count} {symbol}" for symbol, count in zip(symbols, counts))
        return (f"ECGRecord({len(self.leads)} leads ({', '.join(self.leads)}) at {self.sample_rate} Hz, "
                f"{self.duration:.1f} s; {len(self.beat_samples)} beats: {beats})")

    @property
    def duration(self):
        """The recording's length in seconds (samples / sample_rate)."""
        return len(self.signals) / self.sample_rate


def load_ecg():
    """MIT-BIH Arrhythmia Database record 100: 30 minutes of two-lead ECG at 360 Hz, with 2,273 annotated beats.

    Leads MLII (a modified limb lead II; R peaks around +1 mV) and V5, 650,000 samples (1,805.6 s) each,
    of a 69-year-old man. The cardiologists' reference annotations mark 2,273 beats at their R peaks:
    2,239 "N" (normal), 33 "A" (atrial premature beat), 1 "V" (premature ventricular contraction);
    plus one non-beat annotation, "+" (rhythm change) at sample 18, which ``annotation_samples`` and
    ``annotation_symbols`` keep but ``beat_samples`` and ``beat_symbols`` leave out. The rhythm label the
    "+" carries in the .atr file (its aux note) is not in the packaged copy.

    Source: G. B. Moody and R. G. Mark (2001), IEEE Eng Med Biol 20(3):45-50; A. L. Goldberger et al.
    (2000), PhysioNet, Circulation 101(23). Licence: Open Data Commons Attribution License 1.0. Converted
    from record 100 (format 212) in the wfdb-python repository's sample data.

    The packaged ``data/mitdb100.npz`` (``numpy.savez_compressed``, 1.0 MB; the source's csv.gz is
    1.3 MB) holds the raw 11-bit ADC values without loss, ``adc`` (int16, shape (2, 650000), one row
    per lead), with ``leads``, ``sample_rate`` (360), ``gain`` (200 units per mV), ``baseline`` (1024),
    and the annotations as ``annotation_sample`` (int64) and ``annotation_symbol`` (str). Here
    ``signals = (adc - baseline) / gain``, transposed to one column per lead.

    Returns
    -------
    ECGRecord
        Read-only arrays; each call reads the file afresh (about 0.02 s).

    Examples
    --------
    >>> from numlstm import datasets
    >>> ecg = datasets.load_ecg()
    >>> ecg.signals.shape, ecg.leads, ecg.sample_rate
    ((650000, 2), ('MLII', 'V5'), 360)
    >>> from collections import Counter
    >>> Counter(ecg.beat_symbols.tolist())
    Counter({'N': 2239, 'A': 33, 'V': 1})
    >>> round(ecg.duration / 60, 1)
    30.1
    """
    path = resources.files(__package__).joinpath("data", "mitdb100.npz")
    with path.open("rb") as file, np.load(file) as data:
        adc = data["adc"]
        baseline, gain = int(data["baseline"]), int(data["gain"])
        leads = tuple(str(lead) for lead in data["leads"])
        sample_rate = int(data["sample_rate"])
        samples = data["annotation_sample"].astype(np.int64)
        symbols = data["annotation_symbol"]
    signals = np.empty(adc.shape[::-1])
    signals[...] = adc.T
    signals -= baseline
    signals /= gain
    beat = np.isin(symbols, list(BEAT_SYMBOLS))
    beat_samples, beat_symbols = samples[beat], symbols[beat]
    for array in (signals, beat_samples, beat_symbols, samples, symbols):
        array.setflags(write=False)
    return ECGRecord(signals, leads, sample_rate, beat_samples, beat_symbols, samples, symbols, SOURCE)
