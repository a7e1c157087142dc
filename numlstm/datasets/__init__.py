"""Real data sets packaged with numlstm, for examples, tests and the ``numlstm`` command.

Everything is read from files inside the package: no network. Each loader
states its source, licence, units and how missing values are filled; a
filled value is marked in ``TimeSeries.filled`` and no NaN is returned.

======================  ============================================  =======  ===============
loader                  what                                          steps    missing values
======================  ============================================  =======  ===============
``load_co2``            weekly CO2 at Mauna Loa, 1958-2001 (ppmv)     2284     59, interpolated
``load_sunspots``       yearly mean sunspot number, 1700-2008         309      none
``load_elnino``         monthly Nino 1+2 sea temperature, 1950-2010   732      none
``load_nile``           yearly Nile flow at Aswan, 1871-1970          100      none
``load_text``           "shakespeare": 262,063 characters             --       --
``load_spoken_digits``  3,000 spoken digits 0-9, 8 kHz, 8-bit mu-law  1,148-   none
                        (``SpokenDigits``; CC BY-SA 4.0)              18,262
``load_ecg``            MIT-BIH record 100: 2-lead ECG, 360 Hz (mV),  650,000  none
                        2,273 annotated beats (``ECGRecord``)
======================  ============================================  =======  ===============
"""

import csv
import io
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .ecg import ECGRecord, load_ecg
from .moving_shapes import moving_shapes
from .speech import SpokenDigits, load_spoken_digits

__all__ = ["TimeSeries", "load_co2", "load_sunspots", "load_elnino", "load_nile", "load_text", "load_series",
           "SERIES", "moving_shapes", "SpokenDigits", "load_spoken_digits", "ECGRecord", "load_ecg"]


@dataclass(frozen=True, eq=False)
class TimeSeries:
    """A univariate series with its time axis and provenance.

    Attributes
    ----------
    name : str
    time : numpy.ndarray of datetime64
        One stamp per value (day, month or year resolution).
    values : numpy.ndarray of float64, shape (steps,)
        Finite everywhere: missing observations are filled (see ``filled``).
    filled : numpy.ndarray of bool, shape (steps,)
        True where the source had no observation and the value was filled.
    units : str
    season : int or None
        Steps per seasonal cycle (52 weekly, 12 monthly), for seasonal
        baselines; None for yearly data.
    source : str
        Where the data come from and their licence.
    """

    name: str
    time: np.ndarray
    values: np.ndarray
    filled: np.ndarray
    units: str
    season: int | None
    source: str

    def __len__(self):
        return len(self.values)


def _rows(filename):
    text = resources.files(__package__).joinpath("data", filename).read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    next(reader)
    return [row for row in reader if row]


def _series(name, time, values, units, season, source, filled=None):
    values = np.asarray(values, np.float64)
    filled = np.zeros(len(values), bool) if filled is None else filled
    for array in (time, values, filled):
        array.setflags(write=False)
    return TimeSeries(name, time, values, filled, units, season, source)


def load_co2():
    """Weekly mean atmospheric CO2 at Mauna Loa, 1958-03-29 to 2001-12-29, in ppmv (2284 weeks).

    Source: C. D. Keeling and T. P. Whorf (2004), Carbon Dioxide Information
    Analysis Center, Oak Ridge National Laboratory, U.S. Department of
    Energy; public domain; as redistributed by statsmodels
    (``statsmodels.datasets.co2``).

    Missing values: 59 weeks have no observation (the longest gap is 18
    weeks); they are filled by linear interpolation in time and marked in
    ``filled``.
    """
    rows = _rows("co2.csv")
    time = np.array([f"{r[0][:4]}-{r[0][4:6]}-{r[0][6:]}" for r in rows], "datetime64[D]")
    values = np.array([float(r[1]) if r[1] else np.nan for r in rows])
    filled = np.isnan(values)
    days = time.astype(np.int64)
    values[filled] = np.interp(days[filled], days[~filled], values[~filled])
    return _series("co2", time, values, "ppmv", 52,
                   "Keeling and Whorf (2004), CDIAC, Oak Ridge National Laboratory; public domain; via statsmodels",
                   filled)


def load_sunspots():
    """Yearly mean sunspot number, 1700 to 2008 (309 years); no missing values.

    Source: National Geophysical Data Center (NOAA); public domain; as
    redistributed by statsmodels (``statsmodels.datasets.sunspots``).
    The solar cycle is about 11 years long, irregular, so ``season`` is None.
    """
    rows = _rows("sunspots.csv")
    time = np.array([str(int(float(r[0]))) for r in rows], "datetime64[Y]")
    return _series("sunspots", time, [float(r[1]) for r in rows], "sunspot number", None,
                   "National Geophysical Data Center (NOAA); public domain; via statsmodels")


def load_elnino():
    """Monthly sea-surface temperature of the Nino 1+2 region, 1950-01 to 2010-12, in deg C (732 months).

    Source: NOAA National Weather Service, ERSST.V3B; public domain; as
    redistributed by statsmodels (``statsmodels.datasets.elnino``), one row
    per year, flattened here to one value per month. No missing values.
    """
    rows = _rows("elnino.csv")
    years = [int(float(r[0])) for r in rows]
    time = np.array([f"{year}-{month:02d}" for year in years for month in range(1, 13)], "datetime64[M]")
    values = [float(v) for r in rows for v in r[1:13]]
    return _series("elnino", time, values, "deg C", 12,
                   "NOAA National Weather Service, ERSST.V3B; public domain; via statsmodels")


def load_nile():
    """Annual flow of the Nile at Aswan, 1871 to 1970, in 10^8 m^3 (100 years); no missing values.

    Source: Cobb (1978), Biometrika 65(2); public domain; as redistributed by
    statsmodels (``statsmodels.datasets.nile``). The series has a known
    change point near 1898 (the first Aswan dam).
    """
    rows = _rows("nile.csv")
    time = np.array([r[0] for r in rows], "datetime64[Y]")
    return _series("nile", time, [float(r[1]) for r in rows], "10^8 m^3", None,
                   "Cobb (1978), Biometrika 65(2); public domain; via statsmodels")


SERIES = {"co2": load_co2, "sunspots": load_sunspots, "elnino": load_elnino, "nile": load_nile}


def load_series(name):
    """One of the packaged series by name.

    Parameters
    ----------
    name : {"co2", "sunspots", "elnino", "nile"}
        The series of ``load_co2``, ``load_sunspots``, ``load_elnino`` or
        ``load_nile``.

    Returns
    -------
    TimeSeries

    Examples
    --------
    >>> from numlstm import datasets
    >>> nile = datasets.load_series("nile")
    >>> len(nile), nile.units
    (100, '10^8 m^3')
    """
    if name not in SERIES:
        raise ValueError(f"unknown data set {name!r}; the packaged series are {', '.join(SERIES)}")
    return SERIES[name]()


def load_text(name="shakespeare"):
    """A packaged text corpus as one string.

    ``"shakespeare"``: the first 262,063 characters (about 8,000 lines) of
    the Tiny Shakespeare corpus of the char-rnn project
    (data/tinyshakespeare/input.txt, 1,115,394 characters in all), cut at a
    speaker boundary. Shakespeare's works are in the public domain.

    Parameters
    ----------
    name : str, default "shakespeare"
        The only corpus packaged.

    Returns
    -------
    str

    Examples
    --------
    >>> from numlstm import datasets
    >>> len(datasets.load_text())
    262063
    """
    if name != "shakespeare":
        raise ValueError(f"unknown text {name!r}; the packaged text is 'shakespeare'")
    return resources.files(__package__).joinpath("data", "shakespeare.txt").read_text(encoding="utf-8")
