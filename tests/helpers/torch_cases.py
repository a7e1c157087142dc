"""torch.nn.LSTM runs that the parity tests compare numlstm against.

``python tests/helpers/torch_cases.py`` rewrites the golden files in tests/golden/
(run it with torch installed, then commit them), so that the comparison also
runs where torch is absent. The parity tests also call ``torch_case`` live
when torch is installed.
"""

import pathlib

import numpy as np

GOLDEN_DIR = pathlib.Path(__file__).resolve().parents[1] / "golden"

# name: (num_layers, bidirectional, dtype, batch, timesteps, features, hidden)
CONFIGS = {
    "one_layer_float64": (1, False, "float64", 3, 7, 4, 5),
    "one_layer_float32": (1, False, "float32", 3, 7, 4, 5),
    "bidirectional_two_layers_float64": (2, True, "float64", 2, 6, 3, 4),
    "bidirectional_two_layers_float32": (2, True, "float32", 2, 6, 3, 4),
    "three_layers_float64": (3, False, "float64", 2, 5, 3, 6),
    "three_layers_float32": (3, False, "float32", 2, 5, 3, 6),
}


def torch_case(name, seed=0):
    """Run torch.nn.LSTM for one config; returns plain numpy arrays.

    Keys: ``x``, ``h0``, ``c0`` (torch layout: layers * directions, batch,
    hidden), ``out_weights`` (the loss is sum(output * out_weights)),
    ``output``, ``h_n``, ``c_n``, ``grad_x``, ``grad_h0``, ``grad_c0``, and
    for every torch parameter ``<name>`` (weight_ih_l0, bias_hh_l1_reverse,
    ...) its value and ``grad_<name>``.
    """
    import torch

    layers, bidirectional, dtype, B, T, F, H = CONFIGS[name]
    torch_dtype = getattr(torch, dtype)
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(F, H, num_layers=layers, bidirectional=bidirectional, batch_first=True)
    lstm = lstm.to(torch_dtype)
    directions = 2 if bidirectional else 1
    x = torch.randn(B, T, F, dtype=torch_dtype, requires_grad=True)
    h0 = (0.5 * torch.randn(layers * directions, B, H, dtype=torch_dtype)).requires_grad_()
    c0 = torch.randn(layers * directions, B, H, dtype=torch_dtype, requires_grad=True)
    out_weights = torch.randn(B, T, directions * H, dtype=torch_dtype)
    output, (h_n, c_n) = lstm(x, (h0, c0))
    (output * out_weights).sum().backward()

    case = {"x": x, "h0": h0, "c0": c0, "out_weights": out_weights, "output": output,
            "h_n": h_n, "c_n": c_n, "grad_x": x.grad, "grad_h0": h0.grad, "grad_c0": c0.grad}
    for param_name, param in lstm.named_parameters():
        case[param_name] = param
        case["grad_" + param_name] = param.grad
    return {key: value.detach().numpy().copy() for key, value in case.items()}


def golden_path(name):
    return GOLDEN_DIR / f"torch_lstm_{name}.npz"


def write_golden_files():
    import torch

    GOLDEN_DIR.mkdir(exist_ok=True)
    for name in CONFIGS:
        np.savez_compressed(golden_path(name), torch_version=np.array(torch.__version__), **torch_case(name))


if __name__ == "__main__":
    write_golden_files()
