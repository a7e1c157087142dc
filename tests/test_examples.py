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


def test_spoken_digits_fast_mode_reports_both_evaluations(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    results = _load("spoken_digits").main(["--fast"])
    out = capsys.readouterr().out
    assert "official split" in out and "unheard speaker: yweweler" in out
    for scores in results.values():
        # the baseline needs no training: on 420 recordings it is far above chance (10%) even in fast mode
        assert 0.0 <= scores["BiLSTM"] <= 1.0 and scores["nearest centroid"] > 0.4


def test_digit_sequences_fast_mode_decodes_both_ways(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    results = _load("digit_sequences").main(["--fast"])
    out = capsys.readouterr().out
    assert "label error rate" in out and "greedy" in out and "beam search" in out
    baseline = results["baseline: 4 x the most common digit"]["label error rate"]
    assert 0.6 < baseline < 1.0 and all(0.0 <= r["label error rate"] for r in results.values())


def test_ecg_arrhythmia_fast_mode_reports_both_methods(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    figure = tmp_path / "ecg.png"
    result = _load("ecg_arrhythmia").main(["--fast", "--plot", str(figure)])
    out = capsys.readouterr().out
    table = {line.split("  ")[1].strip(): line.split()[-4:] for line in out.splitlines()
             if line.startswith(("  LSTM ", "  RR baseline "))}
    assert set(table) == {"LSTM", "RR baseline"} == set(result)
    for name, (auc, precision, recall, flagged) in table.items():
        assert 0 <= float(auc) <= 1 and 0 <= float(precision) <= 1 and 0 <= float(recall) <= 1 and int(flagged) >= 0
        assert abs(float(auc) - result[name]["auc"]) < 1e-3
    # The RR baseline does not depend on training: record 100's abnormal beats are all premature.
    assert result["RR baseline"]["auc"] > 0.9
    if numlstm.plotting.matplotlib_available():
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"figure written to {figure}" in out
    else:
        assert not figure.exists() and "no figure written" in out
