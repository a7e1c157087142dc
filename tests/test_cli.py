"""The numlstm command: every sub-command end to end, and clear failures for what users get wrong."""

import subprocess
import sys

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


def test_bad_numbers_in_options_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data", "nile", "--out", "m", "--layers", "64,x"])
    assert exit_info.value.code == 2
    assert "expected comma-separated layer sizes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--data", "nile", "--out", "m", "--validation", "1.5"])
    assert "expected a fraction in (0, 1)" in capsys.readouterr().err


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
    completed = subprocess.run([sys.executable, "-m", "numlstm", "--help"], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0 and "demo" in completed.stdout
