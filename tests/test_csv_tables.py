"""numlstm.forecasting.csv_tables: dated CSV files read into a regular time grid, missing values filled.

Expected values are worked out by hand from the small files written here.
"""

import doctest
import io

import numpy as np
import pytest

from numlstm.forecasting import csv_tables
from numlstm.forecasting.csv_tables import FILL_STRATEGIES, MISSING_TOKENS, TimeTable, fill_missing, read_csv
from numlstm.forecasting.time_steps import infer_frequency, parse_times


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def csv_of(*lines):
    return io.StringIO("\n".join(lines) + "\n")


def stamps(table):
    return [str(stamp) for stamp in table.time]


# Date forms and frequencies


@pytest.mark.parametrize("cells, unit, frequency, expected", [
    (["2020-01-01", "2020-01-02", "2020-01-03"], "D", "D", ["2020-01-01", "2020-01-02", "2020-01-03"]),
    (["2020-01-01T00:00", "2020-01-01T01:00"], "s", "h", ["2020-01-01T00:00:00", "2020-01-01T01:00:00"]),
    (["2020-01-01 00:00:00Z", "2020-01-01 00:15:00Z", "2020-01-01 00:30:00Z"], "s", "15min",
     ["2020-01-01T00:00:00", "2020-01-01T00:15:00", "2020-01-01T00:30:00"]),
    (["2020-01-01T00:00:00.500", "2020-01-01T00:00:01.500"], "ms", "s",
     ["2020-01-01T00:00:00.500", "2020-01-01T00:00:01.500"]),
    (["2020-01", "2020-02", "2020-03"], "M", "M", ["2020-01", "2020-02", "2020-03"]),
    (["20200101", "20200102"], "D", "D", ["2020-01-01", "2020-01-02"]),
    (["1871", "1872", "1873"], "Y", "Y", ["1871", "1872", "1873"]),
    (["2020/01/30", "2020/01/31", "2020/02/01"], "D", "D", ["2020-01-30", "2020-01-31", "2020-02-01"]),
    (["2020/01", "2020/04", "2020/07"], "M", "Q", ["2020-01", "2020-04", "2020-07"]),
    (["2020-01", "2020-07", "2021-01"], "M", "6M", ["2020-01", "2020-07", "2021-01"]),
    (["2000", "2010", "2020"], "Y", "10Y", ["2000", "2010", "2020"]),
])
def test_date_forms(cells, unit, frequency, expected):
    table = read_csv(csv_of("date,v", *(f"{cell},{i}" for i, cell in enumerate(cells))))
    assert table.time_column == "date"
    assert np.datetime_data(table.time.dtype)[0] == unit
    assert table.frequency == frequency
    assert stamps(table) == expected
    assert table.columns["v"].tolist() == [float(i) for i in range(len(cells))]
    assert table.gaps == ()


@pytest.mark.parametrize("cells, frequency", [
    (["2020-01-06", "2020-01-13", "2020-01-20", "2020-01-27"], "W"),
    (["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01"], "M"),
    (["2020-01-31", "2020-02-29", "2020-03-31", "2020-04-30"], "M"),
    (["2019-01-15", "2019-02-15", "2019-03-15"], "M"),
    (["2020-01-01", "2020-04-01", "2020-07-01", "2020-10-01"], "Q"),
    (["2019-03-31", "2019-06-30", "2019-09-30", "2019-12-31"], "Q"),
    (["2019-01-01", "2020-01-01", "2021-01-01"], "Y"),
    (["2020-01-01", "2020-01-04", "2020-01-07"], "3D"),
    (["2020-01-01T00:00", "2020-01-01T02:00", "2020-01-01T04:00"], "2h"),
    (["2020-01-01T00:00:00", "2020-01-01T00:00:30"], "30s"),
])
def test_inferred_frequencies(cells, frequency):
    assert infer_frequency(parse_times(cells)) == frequency
    table = read_csv(csv_of("time,x", *(f"{cell},1" for cell in cells)))
    assert table.frequency == frequency
    assert len(table) == len(cells) and table.gaps == ()


def test_most_common_step_wins_over_gaps():
    # steps 1, 1, 3, 1 days: daily, with one gap of two days
    assert infer_frequency(parse_times(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-06",
                                        "2020-01-07"])) == "D"


def test_month_end_gap_is_inserted_on_month_ends():
    table = read_csv(csv_of("date,v", "2020-01-31,1", "2020-02-29,2", "2020-04-30,4"))
    assert table.frequency == "M"
    assert stamps(table) == ["2020-01-31", "2020-02-29", "2020-03-31", "2020-04-30"]
    assert table.columns["v"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert [(str(stamp), steps) for stamp, steps in table.gaps] == [("2020-03-31", 1)]


def test_nile_volume_is_not_taken_for_years():
    table = read_csv(csv_of("year,volume", "1871,1120", "1872,1160", "1873,963", "1874,1210"))
    assert table.time_column == "year"
    assert table.frequency == "Y"
    assert stamps(table) == ["1871", "1872", "1873", "1874"]
    assert table.columns["volume"].tolist() == [1120.0, 1160.0, 963.0, 1210.0]
    # With volume first, it does not increase and is not named like time: year is still the time column.
    table = read_csv(csv_of("volume,year", "1120,1871", "1160,1872", "963,1873"))
    assert table.time_column == "year"
    assert list(table.columns) == ["volume"]


def test_four_digit_numbers_without_time_header_stay_numbers():
    table = read_csv(csv_of("flow,stage", "1120,2", "1160,3", "963,4"))
    assert table.time_column is None and table.frequency is None
    assert table.time.tolist() == [0, 1, 2]
    assert table.columns["flow"].tolist() == [1120.0, 1160.0, 963.0]


def test_yyyymmdd_needs_time_header_or_increasing_first_column():
    # A second column of 8-digit numbers under a plain header is data, not time.
    table = read_csv(csv_of("x,code", "1,20200101", "2,20200102"))
    assert table.time_column is None
    assert table.columns["code"].tolist() == [20200101.0, 20200102.0]
    table = read_csv(csv_of("x,period", "1,20200101", "2,20200102"))
    assert table.time_column == "period"
    assert stamps(table) == ["2020-01-01", "2020-01-02"]


def test_day_first_dates_are_text():
    table = read_csv(csv_of("when,v", "03/01/2020,1", "04/01/2020,2"))
    assert table.time_column is None
    assert table.ignored == ("when",)
    with pytest.raises(ValueError, match=r"<file> line 2, column 'when': '03/01/2020' is not a date.*YYYY-MM-DD"):
        read_csv(csv_of("when,v", "03/01/2020,1", "04/01/2020,2"), time_column="when")


def test_explicit_time_column_and_freq():
    table = read_csv(csv_of("a,t,b", "1,2020-01-01,5", "2,2020-01-03,6"), time_column="t", freq="D")
    assert table.time_column == "t"
    assert stamps(table) == ["2020-01-01", "2020-01-02", "2020-01-03"]
    assert table.columns["a"].tolist() == [1.0, 1.5, 2.0]
    assert table.filled["b"].tolist() == [False, True, False]


def test_single_row_needs_freq():
    with pytest.raises(ValueError, match=r"<file> has one row: its frequency cannot be inferred; give freq"):
        read_csv(csv_of("date,v", "2020-01-01,1"))
    table = read_csv(csv_of("date,v", "2020-01-01,1"), freq="D")
    assert len(table) == 1 and table.frequency == "D"


def test_freq_given_finer_than_the_stamps():
    table = read_csv(csv_of("month,v", "2020-01,1", "2020-03,3"), freq="M")
    assert stamps(table) == ["2020-01", "2020-02", "2020-03"]
    table = read_csv(csv_of("date,v", "2020-01-01,0", "2020-01-02,24", "2020-01-03,48"), freq="12h")
    assert stamps(table)[1] == "2020-01-01T12:00:00"
    assert table.columns["v"].tolist() == [0.0, 12.0, 24.0, 36.0, 48.0]
    # A grid mostly made up of filled steps is refused: 3 of 5 steps would have no data.
    with pytest.raises(ValueError, match="the 2 rows leave 3 of 5 steps without data; choose the data's own "
                                         "frequency [(]its most common step: daily steps[)]"):
        read_csv(csv_of("date,v", "2020-01-01,0", "2020-01-02,24"), freq="6h")


# Missing values and filling


def test_missing_tokens_in_mixed_case():
    assert MISSING_TOKENS == frozenset({"", "na", "nan", "n/a", "null", "#n/a"})
    table = read_csv(csv_of("date,v", "2020-01-01,1", "2020-01-02,NA", "2020-01-03,NaN", "2020-01-04,n/a",
                            "2020-01-05,NULL", "2020-01-06,", "2020-01-07, #N/A ", "2020-01-08,8"))
    assert table.columns["v"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert table.filled["v"].tolist() == [False] + [True] * 6 + [False]


SERIES = ("date,v", "2020-01-01,", "2020-01-02,2", "2020-01-03,", "2020-01-04,", "2020-01-05,8", "2020-01-06,")


def test_interpolate_interior_and_ends():
    table = read_csv(csv_of(*SERIES), fill="interpolate")
    assert table.columns["v"].tolist() == [2.0, 2.0, 4.0, 6.0, 8.0, 8.0]
    assert table.filled["v"].tolist() == [True, False, True, True, False, True]
    assert table.fill == "interpolate"


def test_ffill_interior_and_ends():
    table = read_csv(csv_of(*SERIES), fill="ffill")
    assert table.columns["v"].tolist() == [2.0, 2.0, 2.0, 2.0, 8.0, 8.0]
    assert table.filled["v"].tolist() == [True, False, True, True, False, True]


def test_refuse_names_count_and_first_line(tmp_path):
    path = write(tmp_path, "\n".join(SERIES) + "\n")
    with pytest.raises(ValueError) as error:
        read_csv(path, fill="refuse")
    assert str(error.value) == (f"{path}: column 'v' has 4 missing values (first at line 2); "
                                "fill them or choose fill='interpolate' or 'ffill'")
    table = read_csv(csv_of("date,v", "2020-01-01,1", "2020-01-02,2"), fill="refuse")
    assert table.filled["v"].tolist() == [False, False]


def test_fill_missing_directly():
    nan = np.nan
    filled, was_missing = fill_missing([nan, nan, 1.0, nan, nan, nan, 5.0, nan], "interpolate")
    assert filled.tolist() == [1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.0]
    assert was_missing.tolist() == [True, True, False, True, True, True, False, True]
    assert fill_missing([nan, 3.0, nan, 4.0], "ffill")[0].tolist() == [3.0, 3.0, 3.0, 4.0]
    assert fill_missing([1.0, 2.0], "refuse")[0].tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"^temp has 1 missing value \(first at index 1\)"):
        fill_missing([1.0, nan], "refuse", name="temp")
    with pytest.raises(ValueError, match="no value to fill from"):
        fill_missing([nan, nan], "ffill")
    with pytest.raises(ValueError, match="interpolate, ffill, refuse"):
        fill_missing([1.0], "mean")
    assert FILL_STRATEGIES == ("interpolate", "ffill", "refuse")


def test_gap_in_dates_inserted_filled_and_reported():
    lines = ("date,v", "2020-01-01,1", "2020-01-02,2", "2020-01-05,5", "2020-01-06,6")
    table = read_csv(csv_of(*lines))
    assert stamps(table) == ["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04", "2020-01-05", "2020-01-06"]
    assert table.columns["v"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert table.filled["v"].tolist() == [False, False, True, True, False, False]
    assert [(str(stamp), steps) for stamp, steps in table.gaps] == [("2020-01-03", 2)]
    assert read_csv(csv_of(*lines), fill="ffill").columns["v"].tolist() == [1.0, 2.0, 2.0, 2.0, 5.0, 6.0]
    with pytest.raises(ValueError, match=r"column 'v' has 2 missing values \(first at 2020-01-03, a step absent"):
        read_csv(csv_of(*lines), fill="refuse")


def test_short_rows_are_missing_trailing_cells():
    table = read_csv(csv_of("date,a,b", "2020-01-01,1,2", "2020-01-02,3", "2020-01-03,5,6"))
    assert table.columns["b"].tolist() == [2.0, 4.0, 6.0]
    assert table.filled["b"].tolist() == [False, True, False]
    assert table.filled["a"].tolist() == [False, False, False]


# Columns


def test_text_columns_ignored_and_listed():
    table = read_csv(csv_of("site,date,temp,note,load", "a,2020-01-01,1,ok,5", "b,2020-01-02,2,,6"))
    assert table.time_column == "date"
    assert list(table.columns) == ["temp", "load"]
    assert table.ignored == ("site", "note")


def test_columns_selects_and_orders():
    table = read_csv(csv_of("date,a,b,c", "2020-01-01,1,2,3", "2020-01-02,4,5,6"), columns=["c", "a"])
    assert list(table.columns) == ["c", "a"]
    assert table.values(["c", "a"]).tolist() == [[3.0, 1.0], [6.0, 4.0]]
    assert table.values(["a"]).shape == (2, 1)


def test_values_error_lists_columns():
    table = read_csv(csv_of("date,a,b", "2020-01-01,1,2", "2020-01-02,4,5"))
    with pytest.raises(ValueError, match=r"no numeric column 'z'; its numeric columns are a, b"):
        table.values(["a", "z"])
    with pytest.raises(TypeError):
        table.values("a")


def test_no_time_column_numbers_steps():
    table = read_csv(csv_of("a,b", "1,2", "3,", "5,6"))
    assert table.time.tolist() == [0, 1, 2]
    assert table.time.dtype == np.int64
    assert table.frequency is None and table.gaps == () and table.time_column is None
    assert table.columns["b"].tolist() == [2.0, 4.0, 6.0]


# Errors


@pytest.mark.parametrize("lines, message", [
    (("date,v", "2020-01-01,1", "2020-01-05,2", "2020-01-03,3"),
     "<file>: line 4 (2020-01-03) does not come after line 3 (2020-01-05): sort the file by time, one row per time "
     "(for several series in one file, give the column naming them as id_column)"),
    (("date,v", "2020-01-01,1", "2020-01-01,2"),
     "<file>: line 3 (2020-01-01) does not come after line 2 (2020-01-01): sort the file by time, one row per time "
     "(for several series in one file, give the column naming them as id_column)"),
    (("date,v", "2020-01-02,1", "", "2020-01-01,2"),  # the blank line 3 is skipped but counted
     "<file>: line 4 (2020-01-01) does not come after line 2 (2020-01-02): sort the file by time, one row per time "
     "(for several series in one file, give the column naming them as id_column)"),
])
def test_unsorted_and_duplicate_times(lines, message):
    with pytest.raises(ValueError) as error:
        read_csv(csv_of(*lines))
    assert str(error.value) == message


def test_off_grid_stamp_names_line_and_suggests_freq():
    lines = ("date,v", "2020-01-01,1", "2020-01-02,2", "2020-01-03,3", "2020-01-03 12:00,4")
    with pytest.raises(ValueError) as error:
        read_csv(csv_of(*lines))
    assert str(error.value) == ("<file>: line 5 (2020-01-03 12:00) is not on the grid of daily steps from line 2 "
                                "(2020-01-01); give freq='12h' if the steps are that fine, or fix the time")
    assert len(read_csv(csv_of(*lines), freq="12h")) == 6
    with pytest.raises(ValueError, match=r"line 3 \(2020-01-02\) is not on the grid of weekly steps"):
        read_csv(csv_of("date,v", "2020-01-01,1", "2020-01-02,2"), freq="W")
    with pytest.raises(ValueError, match=r"line 4 \(2020-03-15\) is not on the grid of monthly steps"):
        read_csv(csv_of("date,v", "2020-01-31,1", "2020-02-29,2", "2020-03-15,3"), freq="M")


def test_missing_time_cell():
    with pytest.raises(ValueError, match=r"^<file> line 3, column 'date': the time is missing"):
        read_csv(csv_of("date,v", "2020-01-01,1", "NA,2", "2020-01-03,3"))


def test_explicit_non_number_column():
    lines = ("date,v,site", "2020-01-01,1,3", "2020-01-02,2,north")
    with pytest.raises(ValueError) as error:
        read_csv(csv_of(*lines), columns=["v", "site"])
    assert str(error.value) == "<file> line 3, column 'site': 'north' is not a number"


def test_inf_cell():
    with pytest.raises(ValueError, match=r"^<file> line 3, column 'v': '-inf' is infinite"):
        read_csv(csv_of("date,v", "2020-01-01,1", "2020-01-02,-inf"))


def test_unknown_column(tmp_path):
    path = write(tmp_path, "date,a,b\n2020-01-01,1,2\n2020-01-02,3,4\n")
    with pytest.raises(ValueError) as error:
        read_csv(path, columns=["a", "nope"])
    assert str(error.value) == f"{path} has no column 'nope'; its columns are date, a, b"
    with pytest.raises(ValueError, match="has no column 'when'; its columns are date, a, b"):
        read_csv(path, time_column="when")


@pytest.mark.parametrize("freq", ["2x", "0D", "T", "D2", "-1D", ""])
def test_bad_freq(freq):
    with pytest.raises(ValueError, match=r"is not a frequency; write a unit s, min, h, D, W, M, Q or Y"):
        read_csv(csv_of("date,v", "2020-01-01,1", "2020-01-02,2"), freq=freq)


def test_wrong_types():
    with pytest.raises(TypeError, match="freq must be a string"):
        read_csv(csv_of("date,v", "2020-01-01,1"), freq=1)
    with pytest.raises(TypeError, match="source must be a path or a text file object"):
        read_csv(["date,v", "2020-01-01,1"])
    with pytest.raises(TypeError, match="columns must be a list"):
        read_csv(csv_of("a", "1"), columns="a")


def test_unknown_fill_strategy():
    message = r"fill='mean' is not a fill strategy; choose one of interpolate, ffill, refuse"
    with pytest.raises(ValueError, match=message):
        read_csv(csv_of("a", "1"), fill="mean")


def test_undecodable_file(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("date,temp\n2020-01-01,21\u00b0\n".encode("latin-1"))
    with pytest.raises(ValueError, match=rf"^cannot read {path} as a CSV file \(.*can't decode"):
        read_csv(path)


def test_header_only_and_empty(tmp_path):
    with pytest.raises(ValueError, match=r"as a CSV file \(it has a header but no data rows\)"):
        read_csv(write(tmp_path, "date,v\n\n"))
    with pytest.raises(ValueError, match=r"as a CSV file \(it is empty\)"):
        read_csv(write(tmp_path, ""))


def test_no_numeric_column_and_all_missing_column():
    with pytest.raises(ValueError, match="has no numeric column"):
        read_csv(csv_of("date,site", "2020-01-01,a", "2020-01-02,b"))
    with pytest.raises(ValueError, match="column 'v' has no numbers"):
        read_csv(csv_of("date,v", "2020-01-01,NA", "2020-01-02,"))


def test_row_longer_than_header():
    with pytest.raises(ValueError, match=r"^<file> line 3 has 3 cells, but the header has 2 columns"):
        read_csv(csv_of("date,v", "2020-01-01,1", "2020-01-02,2,7"))


def test_parse_times_and_infer_frequency_errors():
    with pytest.raises(ValueError, match=r"^when: cells\[1\] '31/01/2020' is not a date"):
        parse_times(["2020-01-30", "31/01/2020"], name="when")
    with pytest.raises(ValueError, match="not a date"):
        parse_times(["2020-02-30"])
    with pytest.raises(ValueError, match="fewer than two stamps"):
        infer_frequency(parse_times(["2020-01-01"]))
    with pytest.raises(ValueError, match="strictly increase"):
        infer_frequency(parse_times(["2020-01-02", "2020-01-01"]))
    with pytest.raises(TypeError):
        infer_frequency(np.array([1, 2]))


# Sources, read-only results, description


def test_file_object_and_path_inputs(tmp_path):
    text = "\ufeffdate,v\n2020-01-01,1\n2020-01-02,2\n"
    table = read_csv(io.StringIO(text))
    assert table.source == "<file>" and table.time_column == "date"
    path = tmp_path / "bom.csv"
    path.write_text(text, encoding="utf-8")
    for source in (path, str(path)):
        table = read_csv(source)
        assert table.source == str(path) and table.time_column == "date"
    with open(path, encoding="utf-8", newline="") as file:
        assert read_csv(file).columns["v"].tolist() == [1.0, 2.0]


def test_arrays_are_read_only():
    table = read_csv(csv_of("date,v", "2020-01-01,1", "2020-01-03,3"))
    assert isinstance(table, TimeTable)
    for array in (table.time, table.columns["v"], table.filled["v"]):
        assert not array.flags.writeable
        with pytest.raises(ValueError):
            array[0] = array[1]


def test_describe():
    lines = ["date,temp,load"]
    lines += [f"2020-01-{day:02d},{'' if day == 2 else day},{'NA' if day in (5, 6) else day}"
              for day in (1, 2, 5, 6, 7, 8)]
    table = read_csv(csv_of(*lines))
    assert len(table) == 8  # 2020-01-03 and 04 inserted
    assert table.describe() == ("8 daily steps from 2020-01-01 to 2020-01-08; 3 missing cells filled by linear "
                                "interpolation (temp 1, load 2); 1 gap of 2 steps filled")
    table = read_csv(csv_of("t,v,s", "2020-01-01T00:00,1,a", "2020-01-01T00:15,2,b", "2020-01-01T01:00,3,c"),
                     fill="ffill")
    assert table.describe() == ("5 steps of 15 minutes from 2020-01-01T00:00:00 to 2020-01-01T01:00:00; no missing "
                                "cells; 1 gap of 2 steps filled; text column s ignored")
    assert read_csv(csv_of("a", "1", "NA")).describe() == (
        "2 steps (no time column); 1 missing cell filled by linear interpolation (a 1)")


def test_examples_run():
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(csv_tables, extraglobs={"np": np}, optionflags=flags)
    assert result.attempted > 0 and result.failed == 0


def test_numeric_columns_left_out_by_columns_are_listed_as_unread():
    table = read_csv(csv_of("date,a,b,site,c", "2020-01-01,1,2,x,3", "2020-01-02,4,5,y,6"), columns=["b"])
    assert list(table.columns) == ["b"] and table.unread == ("a", "c") and table.ignored == ("site",)
    assert read_csv(csv_of("date,a,b", "2020-01-01,1,2", "2020-01-02,4,5")).unread == ()
