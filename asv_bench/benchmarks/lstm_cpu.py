"""One LSTM layer on the CPU, float32: numlstm beside torch.nn.LSTM and Keras 3 on JAX.

Every class times the same sizes and the same work, so that one
``asv run --python=same`` shows the three side by side. A peer that is not
installed is skipped (NotImplementedError in setup). ``time_train_step`` is
a forward pass plus the backward pass for an upstream gradient of the whole
output sequence to the weights (no optimizer update; no input gradient, as
for a model's first layer: torch skips it for an input without
requires_grad, so all three are asked for the same work).
"""

import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

from .common import SIZES, keras_jax, keras_jitted_passes, lstm_inputs, train_step_flops

PARAMS = list(SIZES)


class NumlstmLSTM:
    params = PARAMS
    param_names = ["size"]
    dtype = np.float32

    def setup(self, size):
        import numlstm

        self.lstm = numlstm
        self.inputs = lstm_inputs(size, self.dtype)
        self.weights = {k: self.inputs[k] for k in ("x", "kernel", "recurrent_kernel", "bias")}
        self.time_train_step(size)  # JIT warm-up

    def time_forward(self, size):
        # An inference pass, as torch's forward under no_grad: no workspace for a backward pass.
        self.lstm.lstm_forward(**self.weights, keep_workspace=False)

    def time_train_step(self, size):
        _, _, _, workspace = self.lstm.lstm_forward(**self.weights)
        self.lstm.lstm_backward(workspace, self.inputs["d_outputs"], input_gradient=False)

    def peakmem_train_step(self, size):
        self.time_train_step(size)

    def track_train_step_gflops(self, size):
        start = time.perf_counter()
        repeats = 5
        for _ in range(repeats):
            self.time_train_step(size)
        return train_step_flops(size) * repeats / (time.perf_counter() - start) / 1e9

    track_train_step_gflops.unit = "GFLOP/s"


class NumlstmSequentialLSTM:
    """numlstm through the calls users make: ``model(x)`` and ``model.compute_gradients(x, y)`` of a
    ``Sequential`` holding the LSTM. The loss is the mean squared error against targets chosen so that its
    gradient with respect to the outputs is ``d_outputs``: the same backward pass as the other classes, plus
    what the model adds (checks, the loss, the flat gradient list)."""

    params = PARAMS
    param_names = ["size"]

    def setup(self, size):
        import numlstm

        B, T, F, H = SIZES[size]
        inputs = lstm_inputs(size)
        self.model = numlstm.Sequential([numlstm.layers.Input((T, F)),
                                         numlstm.layers.LSTM(H, return_sequences=True)])
        self.model.set_weights([inputs["kernel"], inputs["recurrent_kernel"], inputs["bias"]])
        self.model.compile(optimizer="sgd", loss="mse")
        self.x = inputs["x"]
        # d(mean((out - y)^2))/d out = 2 (out - y) / out.size = d_outputs
        self.y = self.model(self.x) - inputs["d_outputs"] * (B * T * H / 2)
        self.time_train_step(size)

    def time_forward(self, size):
        self.model(self.x)

    def time_train_step(self, size):
        self.model.compute_gradients(self.x, self.y)

    def peakmem_train_step(self, size):
        self.time_train_step(size)


class ModelCallOverhead:
    """What a ``Sequential`` call adds to the functional passes at the tiny size, where it weighs most (round
    two's target: under 10 us above the kernels). ``call``: ``model(x)`` against ``lstm_forward``,
    ``compute_gradients`` and ``train_on_batch`` (SGD, the update included) against ``lstm_forward`` +
    ``lstm_backward``; the two timed alternately in one process, the smallest of several repeats each."""

    params = ["model(x)", "compute_gradients", "train_on_batch"]
    param_names = ["call"]

    def setup(self, call):
        self.functional, self.sequential = NumlstmLSTM(), NumlstmSequentialLSTM()
        self.functional.setup("tiny")
        self.sequential.setup("tiny")
        model, x, y = self.sequential.model, self.sequential.x, self.sequential.y
        if call == "model(x)":
            self.pair = (lambda: self.sequential.time_forward("tiny"), lambda: self.functional.time_forward("tiny"))
        else:
            step = model.compute_gradients if call == "compute_gradients" else model.train_on_batch
            self.pair = (lambda: step(x, y), lambda: self.functional.time_train_step("tiny"))
        for function in self.pair:
            function()

    def track_us_above_functional_passes(self, call):
        best = [float("inf"), float("inf")]
        for _ in range(7):
            for i, function in enumerate(self.pair):
                start = time.perf_counter()
                for _ in range(200):
                    function()
                best[i] = min(best[i], (time.perf_counter() - start) / 200)
        return (best[0] - best[1]) * 1e6

    track_us_above_functional_passes.unit = "us"


class WholeDatasetInference:
    """``model(x)`` on a whole data set at once, as in a notebook: 4000 sequences (T=100, F=8) through two
    LSTM(64) and a Dense(1), numlstm's ``Sequential`` beside the same torch modules under ``no_grad``. Arrays
    this large are not pooled (``numlstm.host_buffers``): every call faults in the pages of what it writes,
    which the inference pass (no workspace for a backward pass) cuts."""

    params = ["numlstm", "torch"]
    param_names = ["framework"]
    shape = (4000, 100, 8)
    units = 64

    def setup(self, framework):
        x = np.random.default_rng(0).standard_normal(self.shape).astype(np.float32)
        if framework == "numlstm":
            import numlstm

            layers = numlstm.layers
            model = numlstm.Sequential([layers.Input(self.shape[1:]), layers.LSTM(self.units, return_sequences=True),
                                        layers.LSTM(self.units), layers.Dense(1)])
            self.call = lambda: model(x)
        else:
            try:
                import torch
            except ImportError:
                raise NotImplementedError("torch is not installed")
            first = torch.nn.LSTM(self.shape[2], self.units, batch_first=True)
            second = torch.nn.LSTM(self.units, self.units, batch_first=True)
            dense, tensor = torch.nn.Linear(self.units, 1), torch.from_numpy(x)

            def call():
                with torch.no_grad():
                    return dense(second(first(tensor)[0])[0][:, -1])

            self.call = call
        self.call()

    def time_model_call(self, framework):
        self.call()

    def peakmem_model_call(self, framework):
        self.call()


class TorchLSTM:
    params = PARAMS
    param_names = ["size"]
    dtype = np.float32

    def setup(self, size):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed")
        self.torch = torch
        B, T, F, H = SIZES[size]
        inputs = lstm_inputs(size, self.dtype)
        self.module = torch.nn.LSTM(F, H, batch_first=True, dtype=getattr(torch, np.dtype(self.dtype).name))
        with torch.no_grad():
            self.module.weight_ih_l0.copy_(torch.from_numpy(inputs["kernel"].T))
            self.module.weight_hh_l0.copy_(torch.from_numpy(inputs["recurrent_kernel"].T))
            self.module.bias_ih_l0.copy_(torch.from_numpy(inputs["bias"]))
            self.module.bias_hh_l0.zero_()
        self.x = torch.from_numpy(inputs["x"])
        self.d_outputs = torch.from_numpy(inputs["d_outputs"])
        self.time_train_step(size)

    def time_forward(self, size):
        with self.torch.no_grad():
            self.module(self.x)

    def time_train_step(self, size):
        self.module.zero_grad(set_to_none=True)
        output, _ = self.module(self.x)
        output.backward(self.d_outputs)

    def peakmem_train_step(self, size):
        self.time_train_step(size)


class NumlstmLSTMFloat64(NumlstmLSTM):
    """``NumlstmLSTM`` in float64, the precision scientists use for sensitivities and gradient checks (round
    two's target: a training step at least as fast as torch's in float64 at every size)."""

    dtype = np.float64


class TorchLSTMFloat64(TorchLSTM):
    """``TorchLSTM`` in float64 (``nn.LSTM(..., dtype=torch.float64)``)."""

    dtype = np.float64


class KerasJaxLSTM:
    params = PARAMS
    param_names = ["size"]

    def setup(self, size):
        keras = keras_jax()
        B, T, F, H = SIZES[size]
        inputs = lstm_inputs(size)
        model = keras.Sequential([keras.Input((T, F), batch_size=B),
                                  keras.layers.LSTM(H, return_sequences=True)])
        model.set_weights([inputs["kernel"], inputs["recurrent_kernel"], inputs["bias"]])
        self.forward, self.train_step = keras_jitted_passes(model, inputs)

    def time_forward(self, size):
        self.forward()

    def time_train_step(self, size):
        self.train_step()

    def peakmem_train_step(self, size):
        self.train_step()


class NumlstmCompileTime:
    """Seconds from a fresh interpreter to the end of the first forward + backward pass.

    ``cold``: an empty Numba cache, so everything compiles; ``warm``: the
    cache filled by an earlier process. Includes importing numlstm.
    """

    params = ["cold", "warm"]
    param_names = ["cache"]
    timeout = 600
    number = 1
    repeat = 1
    SCRIPT = textwrap.dedent("""
        import time
        start = time.perf_counter()
        import numpy as np
        import numlstm
        x = np.zeros((2, 3, 4), np.float32)
        out, _, _, ws = numlstm.lstm_forward(x, np.zeros((4, 8), np.float32), np.zeros((2, 8), np.float32))
        numlstm.lstm_backward(ws, out)
        print(time.perf_counter() - start)
    """)

    def setup(self, cache):
        self.cache_dir = tempfile.mkdtemp(prefix="numlstm-cache-")
        if cache == "warm":
            self._first_call()

    def _first_call(self):
        env = {**os.environ, "NUMBA_CACHE_DIR": self.cache_dir}
        result = subprocess.run([sys.executable, "-c", self.SCRIPT], env=env, check=True,
                                capture_output=True, text=True)
        return float(result.stdout.strip())

    def track_first_call_seconds(self, cache):
        return self._first_call()

    track_first_call_seconds.unit = "seconds"


class GemmRate:
    """The machine's float32 GEMM rate (numpy, 1024^3), the yardstick for train-step GFLOP/s."""

    def setup(self):
        rng = np.random.default_rng(0)
        self.a = rng.standard_normal((1024, 1024)).astype(np.float32)
        self.b = rng.standard_normal((1024, 1024)).astype(np.float32)
        self.a @ self.b

    def track_sgemm_gflops(self):
        timings = []
        for _ in range(20):
            start = time.perf_counter()
            self.a @ self.b
            timings.append(time.perf_counter() - start)
        return 2 * 1024**3 / np.median(timings) / 1e9

    track_sgemm_gflops.unit = "GFLOP/s"
