"""Parity with torch.nn.LSTM: stacked and bidirectional, float32 and float64.

Each case runs against the golden files made by tests/helpers/torch_cases.py (always)
and against a live torch run (when torch is installed). Weights go from
torch's layout to Keras': kernel = W_ih.T, recurrent_kernel = W_hh.T,
bias = b_ih + b_hh.
"""

import numpy as np
import pytest

import numlstm
from helpers.torch_cases import CONFIGS, golden_path, torch_case

TOLERANCES = {"float64": {"rtol": 1e-9, "atol": 1e-11}, "float32": {"rtol": 2e-4, "atol": 2e-5}}


def run_numlstm(case, layers, bidirectional):
    """Forward and backward through the whole torch-shaped stack with numlstm."""
    directions = 2 if bidirectional else 1
    suffixes = ["", "_reverse"][:directions]
    inputs = case["x"]
    layer_records = []
    h_n, c_n = [], []
    for layer in range(layers):
        outputs, records = [], []
        for d, suffix in enumerate(suffixes):
            key = f"l{layer}{suffix}"
            state = layer * directions + d
            out, h, c, ws = numlstm.lstm_forward(
                inputs, case[f"weight_ih_{key}"].T, case[f"weight_hh_{key}"].T,
                case[f"bias_ih_{key}"] + case[f"bias_hh_{key}"],
                case["h0"][state], case["c0"][state], reverse=bool(d))
            outputs.append(out)
            records.append((key, state, ws))
            h_n.append(h)
            c_n.append(c)
        layer_records.append(records)
        inputs = np.concatenate(outputs, axis=-1)

    grads = {"grad_h0": np.zeros_like(case["h0"]), "grad_c0": np.zeros_like(case["c0"])}
    d_inputs = case["out_weights"]
    for records in reversed(layer_records):
        H = d_inputs.shape[-1] // directions
        d_below = 0
        for d, (key, state, ws) in enumerate(records):
            g = numlstm.lstm_backward(ws, np.ascontiguousarray(d_inputs[..., d * H:(d + 1) * H]))
            grads[f"grad_weight_ih_{key}"] = g.d_kernel.T
            grads[f"grad_weight_hh_{key}"] = g.d_recurrent_kernel.T
            grads[f"grad_bias_ih_{key}"] = grads[f"grad_bias_hh_{key}"] = g.d_bias
            grads["grad_h0"][state] = g.dh0
            grads["grad_c0"][state] = g.dc0
            d_below = d_below + g.dx
        d_inputs = d_below
    grads["grad_x"] = d_inputs
    return inputs, np.stack(h_n), np.stack(c_n), grads


def check_against(case, name):
    layers, bidirectional, dtype = CONFIGS[name][:3]
    tol = TOLERANCES[dtype]
    output, h_n, c_n, grads = run_numlstm(case, layers, bidirectional)
    assert output.dtype == np.dtype(dtype)
    np.testing.assert_allclose(output, case["output"], **tol, err_msg="output")
    np.testing.assert_allclose(h_n, case["h_n"], **tol, err_msg="h_n")
    np.testing.assert_allclose(c_n, case["c_n"], **tol, err_msg="c_n")
    expected_grads = [key for key in case if key.startswith("grad_")]
    assert sorted(expected_grads) == sorted(grads)
    for key in expected_grads:
        np.testing.assert_allclose(grads[key], case[key], **tol, err_msg=key)


@pytest.mark.parametrize("name", CONFIGS)
def test_matches_torch_golden_files(name):
    with np.load(golden_path(name), allow_pickle=False) as golden:
        case = {key: golden[key] for key in golden.files if key != "torch_version"}
    check_against(case, name)


@pytest.mark.parametrize("name", CONFIGS)
def test_matches_live_torch(name):
    pytest.importorskip("torch", reason="needs the torch extra: pip install -e '.[torch]'")
    check_against(torch_case(name, seed=1), name)
