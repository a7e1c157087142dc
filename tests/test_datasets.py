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
