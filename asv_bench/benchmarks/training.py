"""Training through the Keras-like API beside the same loop in torch.

One epoch of 10 mini-batches of 32 at the engine's medium size (T=100,
F=32, H=128), LSTM + Dense(1), Adam, MSE. ``time_fit_epoch`` goes through
``fit``; ``time_train_steps`` runs the same 10 ``train_on_batch`` calls
directly, so that their difference is fit's own overhead
(``track_fit_overhead_percent``).
"""

import time

import numpy as np

from .common import SIZES

B, T, F, H = SIZES["medium"]
STEPS = 10


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((STEPS * B, T, F)).astype(np.float32)
    return x, x.mean(axis=(1, 2))[:, None].astype(np.float32)


class NumlstmFit:
    def setup(self):
        import numlstm

        numlstm.utils.set_random_seed(0)
        self.x, self.y = _data()
        self.model = numlstm.Sequential([numlstm.layers.Input((T, F)), numlstm.layers.LSTM(H),
                                         numlstm.layers.Dense(1)])
        self.model.compile("adam", "mse")
        self.time_fit_epoch()

    def time_fit_epoch(self):
        self.model.fit(self.x, self.y, batch_size=B, epochs=1, verbose=0, shuffle=False)

    def time_train_steps(self):
        for step in range(STEPS):
            self.model.train_on_batch(self.x[step * B:(step + 1) * B], self.y[step * B:(step + 1) * B])

    def track_fit_overhead_percent(self):
        fit, steps = [], []
        for _ in range(5):
            start = time.perf_counter()
            self.time_fit_epoch()
            fit.append(time.perf_counter() - start)
            start = time.perf_counter()
            self.time_train_steps()
            steps.append(time.perf_counter() - start)
        return 100 * (np.median(fit) / np.median(steps) - 1)

    track_fit_overhead_percent.unit = "%"


def _numlstm_model(kind):
    """LSTM(H) + Dense(1), compiled with Adam and MSE: as Sequential, or as a functional Model."""
    import numlstm
    from numlstm import layers

    numlstm.utils.set_random_seed(0)
    if kind == "sequential":
        model = numlstm.Sequential([layers.Input((T, F)), layers.LSTM(H), layers.Dense(1)])
    else:
        inputs = numlstm.Input((T, F))
        model = numlstm.Model(inputs, layers.Dense(1)(layers.LSTM(H)(inputs)))
    model.compile("adam", "mse")
    return model


class FitByModelKind:
    """The same network trained through ``Sequential`` and through the functional ``Model``: one graph core
    runs both, and the functional model's epoch should stay within 5% of the Sequential one
    (``track_functional_over_sequential_percent``, both timed alternately in one process)."""

    params = [["sequential", "functional"]]
    param_names = ["model"]

    def setup(self, kind):
        self.x, self.y = _data()
        self.model = _numlstm_model(kind)
        self.time_fit_epoch(kind)

    def time_fit_epoch(self, kind):
        self.model.fit(self.x, self.y, batch_size=B, epochs=1, verbose=0, shuffle=False)


class FunctionalOverhead:
    def setup(self):
        self.x, self.y = _data()
        self.models = {kind: _numlstm_model(kind) for kind in ("sequential", "functional")}
        for model in self.models.values():
            model.fit(self.x, self.y, batch_size=B, epochs=1, verbose=0, shuffle=False)

    def track_functional_over_sequential_percent(self):
        times = {kind: [] for kind in self.models}
        for _ in range(5):
            for kind, model in self.models.items():
                start = time.perf_counter()
                model.fit(self.x, self.y, batch_size=B, epochs=1, verbose=0, shuffle=False)
                times[kind].append(time.perf_counter() - start)
        return 100 * (np.median(times["functional"]) / np.median(times["sequential"]) - 1)

    track_functional_over_sequential_percent.unit = "%"


class TorchFit:
    def setup(self):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed")
        torch.manual_seed(0)
        self.torch = torch
        x, y = _data()
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.lstm = torch.nn.LSTM(F, H, batch_first=True)
        self.head = torch.nn.Linear(H, 1)
        self.optimizer = torch.optim.Adam(list(self.lstm.parameters()) + list(self.head.parameters()), lr=1e-3)
        self.time_train_steps()

    def time_train_steps(self):
        for step in range(STEPS):
            xb, yb = self.x[step * B:(step + 1) * B], self.y[step * B:(step + 1) * B]
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.torch.nn.functional.mse_loss(self.head(self.lstm(xb)[0][:, -1]), yb)
            loss.backward()
            self.optimizer.step()


class StreamingStep:
    """Latency of streaming timesteps at B = 1, H = 64, F = 8: numlstm's Stream against torch.nn.LSTMCell.

    ``time_1000_steps`` feeds 1000 timesteps (divide by 1000 for one): asv
    re-runs ``setup`` before every timed call of a class with a setup, so a
    single microsecond step would be timed cold, after the set-up, with the
    timer's own overhead.
    """

    params = [["numlstm", "torch"]]
    param_names = ["framework"]

    def setup(self, framework):
        x = np.random.default_rng(0).standard_normal((1, 8)).astype(np.float32)
        if framework == "numlstm":
            import numlstm

            model = numlstm.Sequential([numlstm.layers.Input((None, 8)), numlstm.layers.LSTM(64)])
            stream = numlstm.streaming.Stream(model)
            self.step = lambda: stream.step(x)
        else:
            try:
                import torch
            except ImportError:
                raise NotImplementedError("torch is not installed")
            cell = torch.nn.LSTMCell(8, 64)
            xt = torch.from_numpy(x)
            state = [torch.zeros(1, 64), torch.zeros(1, 64)]

            def step():
                with torch.no_grad():
                    state[:] = cell(xt, tuple(state))

            self.step = step
        self.step()

    def time_1000_steps(self, framework):
        step = self.step
        for _ in range(1000):
            step()
