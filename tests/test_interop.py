"""from_torch / to_torch: equal outputs both ways (needs torch)."""

import numpy as np
import pytest

import numlstm
from numlstm import layers
from numlstm.interop import from_torch, to_torch

torch = pytest.importorskip("torch", reason="needs the torch extra: pip install -e '.[torch]'")


@pytest.mark.parametrize("num_layers,bidirectional,with_linear", [(1, False, False), (2, True, True), (3, False, True)])
def test_from_torch_computes_what_torch_computes(num_layers, bidirectional, with_linear):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, num_layers=num_layers, bidirectional=bidirectional, batch_first=True,
                         dtype=torch.float64)
    linear = torch.nn.Linear(8 if bidirectional else 4, 2, dtype=torch.float64) if with_linear else None
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    with torch.no_grad():
        expected = lstm(x)[0]
        if linear is not None:
            expected = linear(expected)
    model = from_torch(lstm, linear)
    np.testing.assert_allclose(model.predict(x.numpy()), expected.numpy(), rtol=1e-10, atol=1e-12)


def test_to_torch_round_trip():
    model = numlstm.Sequential([layers.Input((5, 3)),
                                layers.Bidirectional(layers.LSTM(4, return_sequences=True, dtype="float64")),
                                layers.Bidirectional(layers.LSTM(4, return_sequences=True, dtype="float64")),
                                layers.Dense(2, dtype="float64")])
    for w in model.layers[0].weights + model.layers[1].weights + model.layers[2].weights:
        w[...] = np.random.default_rng(1).standard_normal(w.shape) * 0.4
    lstm, linear = to_torch(model)
    x = np.random.default_rng(2).standard_normal((2, 5, 3))
    with torch.no_grad():
        torch_output = linear(lstm(torch.from_numpy(x))[0]).numpy()
    np.testing.assert_allclose(torch_output, model.predict(x), rtol=1e-10, atol=1e-12)
    assert all(np.shares_memory(w, model.parameter_buffer) for w in model.layers[2].weights), "to_torch leaves the model alone"
    back = from_torch(lstm, linear)
    np.testing.assert_allclose(back.predict(x), model.predict(x), rtol=1e-12, atol=1e-14)


def test_to_torch_refuses_what_torch_cannot_express():
    with pytest.raises(ValueError, match="return_sequences=True"):
        to_torch(numlstm.Sequential([layers.Input((5, 3)), layers.LSTM(4)]))
    with pytest.raises(ValueError, match="no peepholes"):
        to_torch(numlstm.Sequential([layers.Input((5, 3)), layers.LSTM(4, return_sequences=True, peephole=True)]))
    with pytest.raises(ValueError, match="must be linear"):
        to_torch(numlstm.Sequential([layers.Input((5, 3)), layers.LSTM(4, return_sequences=True),
                                     layers.Dense(2, activation="relu")]))
    with pytest.raises(TypeError, match="takes a torch.nn.LSTM"):
        from_torch(torch.nn.GRU(3, 4))
