"""Central finite differences in float64: the LSTM kernels' gradients and a layer's backward."""

import numpy as np

import numlstm

EPS = 1e-6

GRAD_OF = {"x": "dx", "kernel": "d_kernel", "recurrent_kernel": "d_recurrent_kernel", "bias": "d_bias",
           "peephole": "d_peephole", "h0": "dh0", "c0": "dc0"}


def _loss(args, options, weights, forward=numlstm.lstm_forward):
    """A scalar loss that reaches every output; returns it and the workspace."""
    out, h_n, c_n, ws = forward(**args, **options)
    loss = np.sum(out * weights["out"])
    if "h_n" in weights:
        loss += np.sum(h_n * weights["h_n"]) + np.sum(c_n * weights["c_n"])
    return loss, ws


def _relative_error(analytic, numeric):
    return np.linalg.norm(analytic - numeric) / max(np.linalg.norm(analytic) + np.linalg.norm(numeric), 1e-30)


def check_lstm_gradients(args, options, weights, forward=numlstm.lstm_forward, backward=numlstm.lstm_backward):
    """Every gradient ``backward`` returns (on the current device) against central differences of
    sum(out * weights["out"]) (+ the final states times weights["h_n"], weights["c_n"] where given), for the
    LSTM by default or the ConvLSTM (``numlstm.convlstm_forward``, ``numlstm.convlstm_backward``)."""
    _, ws = _loss(args, options, weights, forward)
    grads = backward(ws, weights["out"], weights.get("h_n"), weights.get("c_n"))
    for name, grad_name in GRAD_OF.items():
        if name not in args:  # only the peephole gradient is None when its argument was not given
            assert (getattr(grads, grad_name) is None) == (name == "peephole")
            continue
        param = args[name]
        numeric = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            original = param[index]
            param[index] = original + EPS
            plus, _ = _loss(args, options, weights, forward)
            param[index] = original - EPS
            minus, _ = _loss(args, options, weights, forward)
            param[index] = original
            numeric[index] = (plus - minus) / (2 * EPS)
        error = _relative_error(getattr(grads, grad_name), numeric)
        assert error < 1e-6, f"{grad_name}: relative error {error:.2e}"


def check_layer_gradients(layer, x, d_output_of, forward_kwargs=None, eps=1e-6):
    """The layer's backward against central differences of sum(output * weights)."""
    forward_kwargs = forward_kwargs or {}

    def loss():
        output, _ = layer.forward(x, **forward_kwargs)
        outputs = output if isinstance(output, list) else [output]
        return sum(np.sum(o * w) for o, w in zip(outputs, d_output_of))

    output, cache = layer.forward(x, **forward_kwargs)
    d_output = list(d_output_of) if isinstance(output, list) else d_output_of[0]
    analytic = layer.backward(cache, d_output)
    for param, grad in zip([x] + layer.weights, [analytic.d_input] + analytic.grads):
        numeric = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            original = param[index]
            param[index] = original + eps
            plus = loss()
            param[index] = original - eps
            minus = loss()
            param[index] = original
            numeric[index] = (plus - minus) / (2 * eps)
        error = np.linalg.norm(grad - numeric) / (np.linalg.norm(grad) + np.linalg.norm(numeric))
        assert error < 1e-6
