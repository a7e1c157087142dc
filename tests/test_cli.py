"""The numlstm command: every sub-command end to end, and clear failures for what users get wrong."""

import subprocess
import sys

import numba
import numpy as np
import pytest

import numlstm
from numlstm.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def series_csv(tmp_path):
    rng = np.random.default_rng(0)
    steps = np.arange(160)
    values = 10 + np.sin(2 * np.pi * steps / 12) + 0.05 * rng.standard_normal(len(steps))
    lines = ["month,sales,region"] + [f"2000-{i:04d},{v:.4f},north" for i, v in zip(steps, values)]
    lines[5] = "2000-0004,,north"  # one empty cell
    path = tmp_path / "sales.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_demo_beats_both_baselines_and_saves_what_forecast_needs(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--out-dir", str(tmp_path), "--verbose", "0")
    assert code == 0, out
    scores = {line.rsplit(None, 1)[0].strip(): float(line.split()[-1]) for line in out.splitlines()
              if line.startswith("  ")}
    lstm = scores.pop("LSTM")
    assert set(scores) == {"naive (last value)", "seasonal naive (52 steps back)"}
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
    assert "filled 1 empty cells of 'sales' by linear interpolation" in out
    assert "naive (last value)" in out and "seasonal" not in out
    forecast_path = tmp_path / "forecast.csv"
    code, out, err = run(capsys, "forecast", str(model_path), "--out", str(forecast_path))
    assert code == 0, err
    rows = forecast_path.read_text().splitlines()
    assert rows[0] == "step,time,forecast" and len(rows) == 4
    assert all(np.isfinite(float(row.split(",")[2])) for row in rows[1:])


@pytest.mark.parametrize("argv,message", [
    (["train", "--data", "missing.csv"], "no such file: missing.csv"),
    (["train", "--data", "rainfall"], "give one of co2, sunspots, elnino, nile or a path to a .csv file"),
    (["train", "--data", "{csv}", "--column", "profit"], "has no column 'profit'; its columns are month, sales, region"),
    (["train", "--data", "{csv}", "--column", "region"], "line 2, column 'region': 'north' is not a number"),
    (["train", "--data", "{csv}", "--lookback", "150"], "holds no window of lookback 150"),
    (["train", "--data", "nile", "--column", "flow"], "--column applies to CSV files"),
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
    assert code == 1 and "choose the column to forecast with --column; its columns are year, a, b" in err


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


@pytest.mark.parametrize("command", ["demo", "train", "forecast", "textgen", "info"])
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0 and f"usage: numlstm {command}" in capsys.readouterr().out


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
