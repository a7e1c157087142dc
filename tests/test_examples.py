"""The scripts in examples/: each runs in its fast mode, and the quick ones reach their documented results."""

import importlib.util
import pathlib

import pytest

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
