"""The numlstm command: every sub-command end to end, and clear failures for what users get wrong."""

import re
import subprocess
import sys

import numba
import numpy as np
import pytest

import numlstm
from numlstm.cli import main


def table_column(out, score):
    """{method: value} of one column of the score table printed by train, demo and backtest."""
    rows = [re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if line.startswith("  ")]
    column = rows[0].index(score)
    return {row[0]: float(row[column]) for row in rows[1:] if len(row) > column}  # blank: not measured


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def series_csv(tmp_path):
    rng = np.random.default_rng(0)
    steps = np.arange(160)
    values = 10 + np.sin(2 * np.pi * steps / 12) + 0.05 * rng.standard_normal(len(steps))
    months = np.datetime64("2000-01", "M") + steps
    lines = ["month,sales,region"] + [f"{m},{v:.4f},north" for m, v in zip(months, values)]
    lines[5] = "2000-05,,north"  # one empty cell
    path = tmp_path / "sales.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_demo_beats_both_baselines_and_saves_what_forecast_needs(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--out-dir", str(tmp_path), "--verbose", "0")
    assert code == 0, out
    scores = table_column(out, "RMSE")
    lstm = scores.pop("LSTM")
    assert set(scores) == {"naive", "seasonal naive"}
    assert lstm < min(scores.values()), out
    assert "beats every baseline" in out
    model = numlstm.load_model(tmp_path / "co2.numlstm")
    assert model.metadata["forecaster"]["lookback"] == 104 and model.metadata["forecaster"]["horizon"] == 52

    code, out, _ = run(capsys, "forecast", str(tmp_path / "co2.numlstm"))
    rows = [line.split(",") for line in out.splitlines()]
    assert code == 0 and rows[0] == ["step", "time", "forecast"] and len(rows) == 53
    assert rows[1][1] == "2002-01-05", "a week after the last observation (2001-12-29)"
    assert all(350 < float(row[2]) < 390 for row in rows[1:]), "forecasts in ppmv, near the last values"


def test_demo_fast_mode(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--epochs", "1", "--out-dir", str(tmp_path), "--verbose", "2")
    assert code == 0 and "Epoch 1/30" not in out and "Epoch 1/1 - " in out
    assert (tmp_path / "co2.numlstm").is_file()


def test_train_on_a_csv_column_then_forecast_to_a_file(capsys, tmp_path, series_csv):
    model_path = tmp_path / "sales.numlstm"
    code, out, err = run(capsys, "train", "--data", str(series_csv), "--lookback", "12", "--horizon", "3",
                         "--layers", "8", "--cell", "cifg", "--epochs", "2", "--verbose", "0", "--out", str(model_path))
    assert code == 0, err
    assert ("data: 160 monthly steps from 2000-01 to 2013-04; 1 missing cell filled by linear interpolation "
            "(sales 1)") in out
    assert "region" in err and "skipped" in err
    assert set(table_column(out, "MASE")) == {"LSTM", "naive", "seasonal naive"}
    forecast_path = tmp_path / "forecast.csv"
    code, out, err = run(capsys, "forecast", str(model_path), "--out", str(forecast_path))
    assert code == 0, err
    rows = forecast_path.read_text().splitlines()
    assert rows[0] == "step,time,forecast" and len(rows) == 4
    assert [row.split(",")[1] for row in rows[1:]] == ["2013-05", "2013-06", "2013-07"]
    assert all(np.isfinite(float(row.split(",")[2])) for row in rows[1:])


@pytest.mark.parametrize("argv,message", [
    (["train", "--data", "missing.csv"], "no such file: missing.csv"),
    (["train", "--data", "rainfall"], "give one of co2, sunspots, elnino, nile or a path to a .csv file"),
    (["train", "--data", "{csv}", "--column", "profit"], "has no column 'profit'; its columns are month, sales, region"),
    (["train", "--data", "{csv}", "--column", "region"], "line 2, column 'region': 'north' is not a number"),
    (["train", "--data", "{csv}", "--lookback", "150"], "holds no window of lookback 150"),
    (["train", "--data", "nile", "--column", "flow"], "--freq and --id apply to CSV files; the packaged 'nile' series"),
    (["train", "--data", "nile", "--device", "cuda"], "no usable CUDA GPU was found"),
    (["forecast", "nothing.numlstm"], "no such model file"),
    (["forecast", "{csv}"], "not a numlstm model file"),
    (["textgen", "--temperature", "0"], "--temperature must be positive"),
    (["train", "--data", "co2", "--validation", "0.5", "--test", "0.6"],
     "--validation 0.5 and --test 0.6 leave no training data"),
])
def test_user_errors_print_one_line_and_exit_1(capsys, tmp_path, series_csv, argv, message):
    argv = [part.replace("{csv}", str(series_csv)) for part in argv]
    if argv[0] == "train":
        argv += ["--out", str(tmp_path / "m.numlstm"), "--epochs", "1", "--verbose", "0"]
    code, out, err = run(capsys, *argv)
    assert code == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "m.numlstm").exists()


def test_unreadable_and_ambiguous_csv_files(capsys, tmp_path):
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage\x00\xff")
    code, _, err = run(capsys, "train", "--data", str(binary), "--out", str(tmp_path / "m.numlstm"))
    assert code == 1 and f"cannot read {binary} as a CSV file" in err
    two = tmp_path / "two.csv"
    two.write_text("year,a,b\n2000,1,2\n2001,3,4\n")
    code, _, err = run(capsys, "train", "--data", str(two), "--out", str(tmp_path / "m.numlstm"))
    assert code == 1 and "choose the column to forecast with --target" in err and "numeric columns are a, b" in err


@pytest.mark.parametrize("argv,message", [
    (["train", "--data", "nile", "--out", "m", "--layers", "64,x"],
     "numlstm train: error: argument --layers: expected comma-separated layer sizes such as 64,32, got '64,x'"),
    (["train", "--data", "nile", "--out", "m", "--validation", "1.5"],
     "numlstm train: error: argument --validation: expected a fraction in (0, 1), got '1.5'"),
    (["train", "--data", "nile", "--out", "m", "--lookback", "0"],
     "numlstm train: error: argument --lookback: expected a positive integer, got '0'"),
    (["train", "--data", "nile", "--out", "m", "--epochs", "x"],
     "numlstm train: error: argument --epochs: expected a positive integer, got 'x'"),
    (["train", "--data", "nile", "--out", "m", "--cell", "gru"], "numlstm train: error: argument --cell: invalid choice"),
    (["train", "--data", "nile", "--out", "m", "--verbose", "3"], "numlstm train: error: argument --verbose: invalid choice: 3"),
    (["train", "--data", "nile"], "numlstm train: error: the following arguments are required: --out"),
    (["train", "--data", "nile", "--out", "m", "--bogus"], "numlstm: error: unrecognized arguments: --bogus"),
    (["train", "--data", "nile", "--out"], "numlstm train: error: argument --out: expected one argument"),
    (["textgen", "--model", "a", "--out", "b"], "numlstm textgen: error: argument --out: not allowed with argument --model"),
    (["forecast"], "numlstm forecast: error: the following arguments are required: MODEL"),
    (["fly"], "numlstm: error: argument COMMAND: invalid choice: 'fly'"),
    ([], "numlstm: error: the following arguments are required: COMMAND"),
])
def test_usage_errors_print_one_line_and_exit_1(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith(message), err
    assert "usage:" not in err and "--help" in err, "one line, which points to the help"


def test_usage_errors_from_a_shell(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "numlstm", "train", "--lookback", "0"], capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 1 and completed.stdout == ""
    assert completed.stderr.splitlines() == [
        "numlstm train: error: argument --lookback: expected a positive integer, got '0' (see `numlstm train --help`)"]


def test_the_device_follows_numlstm_device_unless_device_is_given(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(numlstm.dispatch, "_default", None)  # as in a new process: NUMLSTM_DEVICE not read yet
    monkeypatch.setenv("NUMLSTM_DEVICE", "gpu")
    argv = ["train", "--data", "nile", "--out", str(tmp_path / "m.numlstm"), "--epochs", "1", "--layers", "2",
            "--verbose", "0"]
    code, _, err = run(capsys, *argv)
    assert code == 1 and err == "numlstm train: error: NUMLSTM_DEVICE must be one of auto, cpu, cuda, got 'gpu'\n"
    assert not (tmp_path / "m.numlstm").exists()
    code, _, err = run(capsys, *argv, "--device", "cpu")
    assert code == 0 and (tmp_path / "m.numlstm").is_file(), err


@pytest.mark.parametrize("argv", [
    ["train", "--data", "nile", "--epochs", "1", "--layers", "2", "--verbose", "0", "--out", "{missing}/m.numlstm"],
    ["forecast", "{tmp}/none.numlstm", "--out", "{missing}/f.csv"],
    ["textgen", "--chars", "2000", "--epochs", "1", "--units", "4", "--length", "5", "--verbose", "0",
     "--out", "{missing}/m.numlstm"],
    ["demo", "--epochs", "1", "--layers", "2", "--verbose", "0", "--out-dir", "{missing}/demo"],
])
def test_output_in_a_missing_directory_is_an_error(capsys, tmp_path, argv):
    missing = tmp_path / "no" / "such"
    argv = [part.format(missing=missing, tmp=tmp_path) for part in argv]
    code, out, err = run(capsys, *argv)
    assert code == 1 and err.count("\n") == 1, err
    assert f": no such directory: {missing}" in err and "(create it first)" in err
    assert not (tmp_path / "no").exists(), "no folder is created"
    assert "Epoch" not in out, "checked before any training"


def test_output_that_is_a_directory_or_a_file_in_the_way(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--data", "nile", "--out", str(tmp_path))
    assert code == 1 and err == f"numlstm train: error: --out {tmp_path} is a directory; give a file name\n"
    (tmp_path / "taken").write_text("")
    code, _, err = run(capsys, "demo", "--out-dir", str(tmp_path / "taken"))
    assert code == 1 and err == f"numlstm demo: error: --out-dir {tmp_path / 'taken'} is a file, not a directory\n"


def test_training_into_a_log_file_writes_one_line_per_epoch(tmp_path):
    log = tmp_path / "log.txt"
    with open(log, "w") as file:  # what `numlstm train ... > log.txt` gets: a file, not a terminal
        completed = subprocess.run([sys.executable, "-m", "numlstm", "train", "--data", "nile", "--lookback", "8",
                                    "--layers", "4", "--epochs", "3", "--patience", "10", "--out",
                                    str(tmp_path / "m.numlstm")],
                                   stdout=file, stderr=subprocess.PIPE, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    text = log.read_text()
    assert "\r" not in text, "no progress bar redrawn into the file"
    epochs = [line for line in text.splitlines() if line.startswith("Epoch")]
    assert [line.split(" - ")[0] for line in epochs] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert 'Model: "forecaster"' in text, "the summary still shows, as with --verbose 1"


@pytest.mark.parametrize("command", ["demo", "train", "forecast", "backtest", "textgen", "info"])
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0 and f"usage: numlstm {command}" in capsys.readouterr().out


def _help(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())  # argparse's line breaks undone


def test_the_demo_help_says_its_layers_are_bidirectional_and_nothing_of_calibration(capsys):
    demo, train = _help(capsys, "demo"), _help(capsys, "train")
    assert "each layer is bidirectional, its output twice as wide" in demo
    assert "calibrate" not in demo, "the demo trains no probabilistic forecast"
    assert "to calibrate the intervals of a probabilistic forecast" in train
    assert "bidirectional, its output" not in train, "train's layers are bidirectional only with --bidirectional"


def test_textgen_trains_saves_and_samples_reproducibly(capsys, tmp_path):
    model_path = tmp_path / "chars.numlstm"
    code, out, err = run(capsys, "textgen", "--chars", "3000", "--epochs", "1", "--units", "8", "--embedding", "4",
                         "--lookback", "16", "--length", "40", "--verbose", "0", "--out", str(model_path))
    assert code == 0, err
    sample = out.split("---\n", 1)[1]
    assert sample.startswith("ROMEO:\n") and len(sample.rstrip("\n")) >= len("ROMEO:\n") + 30
    code, again, _ = run(capsys, "textgen", "--model", str(model_path), "--length", "40")
    assert code == 0 and again.split("---\n", 1)[1] == sample, "same seed, same model: same text"
    code, _, err = run(capsys, "textgen", "--model", str(model_path), "--prime", "\u03a9")
    assert code == 1 and "not in them" in err
    code, _, err = run(capsys, "forecast", str(model_path))
    assert code == 1 and "was not written by `numlstm train` or `numlstm demo`" in err


def test_info_and_the_module_entry_point(capsys):
    code, out, _ = run(capsys, "info")
    assert code == 0
    for expected in ("numlstm ", "numba", "Numba threads", "CUDA:", "JIT cache"):
        assert expected in out
    cache_line = next(line for line in out.splitlines() if line.startswith("JIT cache: "))
    assert any(said in cache_line for said in ("kernels stored", "empty: the first run", "the user cache folder")), \
        "it says whether compiled kernels are stored yet"
    layer = out.split("threading layer: ", 1)[1].split()[0]
    assert layer in ("omp", "tbb", "workqueue") and layer == numba.threading_layer(), "the layer Numba runs on"
    completed = subprocess.run([sys.executable, "-m", "numlstm", "--help"], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0 and "demo" in completed.stdout


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"numlstm {numlstm.__version__}"


@pytest.fixture
def weather_csv(tmp_path):
    """Daily temp, humidity, wind and load with missing cells of every spelling and two missing dates."""
    rng = np.random.default_rng(0)
    days = np.datetime64("2022-01-01") + np.arange(300)
    t = np.arange(300)
    temp = 15 + 8 * np.sin(2 * np.pi * t / 365) + rng.normal(0, 1.5, 300)
    humidity = 60 + rng.normal(0, 4, 300)
    load = 100 + 2.5 * temp + 8 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 2, 300)
    rows = ["date,temp,humidity,wind,load"]
    missing = {(10, 0): "NA", (200, 0): "nan", (150, 1): "NaN", (250, 3): "", (251, 3): "n/a", (252, 3): "NULL"}
    for i in range(300):
        if i in (100, 101):  # two days absent from the file
            continue
        cells = [f"{temp[i]:.2f}", f"{humidity[i]:.1f}", "3.0", f"{load[i]:.2f}"]
        for (row, column), token in missing.items():
            if row == i:
                cells[column] = token
        rows.append(f"{days[i]}," + ",".join(cells))
    path = tmp_path / "weather.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_plots_without_matplotlib_are_announced_before_training(capsys, tmp_path, monkeypatch):
    from numlstm.cli import forecasting

    monkeypatch.setattr(numlstm.plotting, "matplotlib_available", lambda: False)
    train_and_report, said_before = forecasting.train_and_report, []

    def recording(*args):
        said_before.append(capsys.readouterr().err)
        return train_and_report(*args)

    monkeypatch.setattr(forecasting, "train_and_report", recording)
    model = tmp_path / "m.numlstm"
    code, out, err = run(capsys, "train", "--data", "elnino", "--lookback", "12", "--horizon", "3", "--layers", "4",
                         "--epochs", "1", "--verbose", "0", "--out", str(model), "--plots")
    assert code == 0, err
    assert said_before == ['numlstm train: --plots needs matplotlib (pip install "numlstm[plot]"): training '
                           'without plots\n']
    assert model.exists() and not list(tmp_path.glob("*.png")) and "plots skipped" not in out + err


def test_a_dated_csv_with_covariates_and_quantiles_end_to_end(capsys, tmp_path, weather_csv):
    model = tmp_path / "load.numlstm"
    plots = ["--plots"] if numlstm.plotting.matplotlib_available() else []
    code, out, err = run(capsys, "train", "--data", str(weather_csv), "--target", "load", "--covariates",
                         "temp,humidity", "--quantiles", "0.1,0.5,0.9", "--lookback", "14", "--horizon", "7",
                         "--layers", "8", "--epochs", "2", "--verbose", "0", "--out", str(model), *plots)
    assert code == 0, err
    assert ("data: 300 daily steps from 2022-01-01 to 2022-10-27; 6 missing cells filled by linear interpolation "
            "(load 3, temp 2, humidity 1); 1 gap of 2 steps filled") in out
    assert "forecast: load from its past and temp, humidity" in out
    assert "not read: wind (add them with --covariates)" in err
    coverage = table_column(out, "coverage")
    assert list(coverage) == ["LSTM"] and 0 <= coverage["LSTM"] <= 1, "the baselines have no interval"
    assert set(table_column(out, "MASE")) == {"LSTM", "naive", "seasonal naive"}
    if plots:
        assert (tmp_path / "load_forecast.png").stat().st_size > 10_000

    code, out, err = run(capsys, "forecast", str(model))
    assert code == 0, err
    rows = [line.split(",") for line in out.splitlines()]
    assert rows[0] == ["step", "time", "forecast", "q0.1", "q0.5", "q0.9"] and len(rows) == 8
    assert [row[1] for row in rows[1:3]] == ["2022-10-28", "2022-10-29"]
    quantiles = np.array([[float(cell) for cell in row[3:]] for row in rows[1:]])
    assert (np.diff(quantiles, axis=1) >= 0).all() and np.isfinite(quantiles).all()

    no_humidity = tmp_path / "no_humidity.csv"
    no_humidity.write_text("\n".join(",".join(line.split(",")[:2] + line.split(",")[4:])
                                     for line in weather_csv.read_text().splitlines()) + "\n")
    code, out, err = run(capsys, "forecast", str(model), "--data", str(no_humidity))
    assert code == 1 and err.count("\n") == 1 and out == ""
    assert "the model reads load, temp, humidity:" in err and "'humidity'" in err

    scores = tmp_path / "scores.csv"
    code, out, err = run(capsys, "backtest", str(model), "--stride", "7", "--out", str(scores))
    assert code == 0, err
    assert "backtest of load: 6 origins from 2022-09-13 to 2022-10-18, 7 apart" in out
    lines = scores.read_text().splitlines()
    assert lines[0] == "method,RMSE,MAE,MASE,sMAPE,coverage,pinball,CRPS" and len(lines) == 4
    assert lines[2].startswith("naive,") and lines[2].endswith(",,,")


def test_refused_missing_values_and_a_model_for_another_column(capsys, tmp_path, weather_csv):
    code, _, err = run(capsys, "train", "--data", str(weather_csv), "--target", "load", "--fill", "refuse",
                       "--out", str(tmp_path / "m.numlstm"))
    assert code == 1 and err.count("\n") == 1 and "column 'load' has 5 missing values (first at 2022-04-11, a step absent" in err
    code, _, err = run(capsys, "train", "--data", str(weather_csv), "--out", str(tmp_path / "m.numlstm"))
    assert code == 1 and "choose the column to forecast with --target" in err
    assert "temp, humidity, wind, load" in err


def test_a_long_file_of_several_series_trains_one_global_model(capsys, tmp_path):
    rng = np.random.default_rng(1)
    rows = ["store,date,sales,price"]
    for store, (level, amplitude) in {"north": (100, 10), "south": (2000, 300)}.items():
        for i in range(200):
            if store == "south" and i == 50:  # one day absent for one store only
                continue
            sales = level + amplitude * np.sin(2 * np.pi * i / 7) + rng.normal(0, amplitude * 0.1)
            rows.append(f"{store},{np.datetime64('2021-01-01') + i},{sales:.2f},{'NA' if i == 30 else 1.5}")
    data = tmp_path / "stores.csv"
    data.write_text("\n".join(rows) + "\n")
    model = tmp_path / "stores.numlstm"
    code, out, err = run(capsys, "train", "--data", str(data), "--id", "store", "--target", "sales", "--method",
                         "normal", "--lookback", "14", "--horizon", "7", "--layers", "8", "--epochs", "2",
                         "--verbose", "0", "--out", str(model))
    assert code == 0, err
    assert "data: 2 series (north, south), one model for all, each scaled on its own" in out
    assert "the mean over the 2 series' scores" in out and "coverage" in out

    code, out, err = run(capsys, "forecast", str(model))
    assert code == 0, err
    rows = out.splitlines()
    assert rows[0] == "store,step,time,forecast,q0.1,q0.5,q0.9" and len(rows) == 15
    assert rows[1].startswith("north,1,2021-07-20,") and rows[8].startswith("south,1,2021-07-20,")
    south = np.array([float(row.split(",")[3]) for row in rows[8:]])
    assert 1000 < south.mean() < 3000, "forecast in the south store's own units"

    scores = tmp_path / "scores.csv"
    code, out, err = run(capsys, "backtest", str(model), "--start", "2021-06-01", "--stride", "7", "--out",
                         str(scores))
    assert code == 0, err
    assert "origins in 2 series (the mean of their scores)" in out
    lines = scores.read_text().splitlines()
    assert lines[0] == "series,method,RMSE,MAE,MASE,sMAPE,coverage,pinball,CRPS"
    assert [line.split(",", 2)[:2] for line in lines[1:4]] == [["mean", "LSTM"], ["mean", "naive"],
                                                             ["mean", "seasonal naive"]]
    assert {line.split(",")[0] for line in lines[4:]} == {"north", "south"}


def test_what_a_newcomer_got_wrong_is_refused_in_one_line(capsys, tmp_path, weather_csv, monkeypatch):
    model = tmp_path / "load.numlstm"
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "train", "--data", "weather.csv", "--target", "load", "--lookback", "14",
                       "--horizon", "7", "--layers", "4", "--epochs", "1", "--verbose", "0", "--out", str(model))
    assert code == 0, err
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the model found its data by an absolute path
    code, out, err = run(capsys, "forecast", str(model))
    assert code == 0 and out.startswith("step,time,forecast"), err

    day_first = tmp_path / "day_first.csv"
    day_first.write_text("date,load\n" + "".join(f"{d:02d}/01/2022,{d}\n" for d in range(1, 30)))
    no_dates = tmp_path / "no_dates.csv"
    no_dates.write_text("load\n" + "".join(f"{d}\n" for d in range(60)))
    cases = [
        (["train", "--data", str(day_first), "--out", "x.numlstm"],
         "column 'date' looks like the time column, but '01/01/2022' is not a date numlstm reads; write ISO dates"),
        (["train", "--data", str(weather_csv), "--target", "load", "--freq", "h", "--out", "x.numlstm"],
         "steps without data; choose the data's own frequency (its most common step: daily steps)"),
        (["train", "--data", str(weather_csv), "--target", "load", "--covariates", "temp,load", "--out", "x.numlstm"],
         "--covariates lists 'load', the target"),
        (["train", "--data", str(weather_csv), "--target", "load", "--calendar", "hour", "--out", "x.numlstm"],
         "the calendar feature 'hour' is the same at every step of these data"),
        (["backtest", str(model), "--train-steps", "100"], "give --refit K with them"),
        (["forecast", str(model), "--data", str(no_dates)], "trained on data of frequency D; "),
    ]
    for argv, message in cases:
        code, _, err = run(capsys, *argv)
        assert code == 1 and err.count("error:") == 1 and message in err.splitlines()[-1], (argv, err)
        assert "Traceback" not in err

    code, out, err = run(capsys, "backtest", str(model), "--start", "2022-06-01", "--stride", "7")
    assert code == 0 and "origins from 2022-06-01" in out
    assert "their scores are optimistic" in err


def test_backtest_a_design_from_a_json_config_with_refits(capsys, tmp_path, weather_csv):
    config = tmp_path / "design.json"
    config.write_text('{"lookback": 14, "horizon": 7, "units": [4], "target": "load", "covariates": ["temp"]}')
    scores = tmp_path / "scores.csv"
    code, out, err = run(capsys, "backtest", str(config), "--data", str(weather_csv), "--refit", "3", "--stride", "7",
                         "--epochs", "1", "--out", str(scores))
    assert code == 0, err
    assert "backtest of load: 6 origins from 2022-09-13 to 2022-10-18, 7 apart, 7 steps each, 2 refits" in out
    assert scores.read_text().splitlines()[0] == "method,RMSE,MAE,MASE,sMAPE"
    code, _, err = run(capsys, "backtest", str(config), "--data", str(weather_csv))
    assert code == 1 and "is a config, not a trained model: give --data and --refit K" in err
    config.write_text('{"lookback": 14, "horizons": 7}')
    code, _, err = run(capsys, "backtest", str(config), "--data", str(weather_csv), "--refit", "3")
    assert code == 1 and "unknown keys ['horizons']" in err
