"""The scripts in examples/: each runs in its fast mode, and the quick ones reach their documented results."""

import importlib.util
import pathlib

import pytest

import numlstm

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["forecasting", "char_lm", "anomaly_detection"])
def test_fast_mode_runs(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    result = _load(name).main(["--fast"])
    assert isinstance(result, dict) and capsys.readouterr().out


def test_forecasting_beats_both_baselines(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scores = _load("forecasting").main(["--plot", str(tmp_path / "plot.png")])
    assert scores["LSTM"] < min(scores["naive"], scores["seasonal naive"])


def test_anomaly_detection_finds_the_injected_spikes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _load("anomaly_detection").main([])
    assert result["recall"] >= 0.8 and result["precision"] >= 0.8


def test_next_frame_beats_both_baselines_in_fast_mode(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    strip = tmp_path / "strip.png"
    scores = _load("next_frame").main(["--fast", "--out", str(strip)])
    out = capsys.readouterr().out
    assert "test MSE per predicted frame" in out and "lower than copying the last frame's" in out
    # Even 3 epochs learn more than a blank frame (1.3x lower MSE at seed 0) and beat the copied last frame (1.6x).
    assert scores["ConvLSTM"] < min(0.7 * scores["copy last frame"], scores["blank frame"])
    if numlstm.plotting.matplotlib_available():
        assert strip.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "(the model's median error) written to" in out
    else:
        assert not strip.exists() and "no strip written" in out
