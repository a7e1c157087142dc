"""One ConvLSTM2D layer on the CPU, float32: numlstm beside Keras 3 on JAX and a ConvLSTM cell in torch.

PyTorch has no ConvLSTM; the peer is the cell PyTorch users write (one
``torch.nn.functional.conv2d`` over ``cat([x_t, h])`` per step, channels
first, oneDNN underneath). Keras' ``ConvLSTM2D`` runs XLA-jitted. Every
class times the same sizes and the same work: "same" padding, the whole
output sequence; ``time_train_step`` is a forward pass plus the backward
pass for an upstream gradient of the sequence to the weights (no optimizer
update, no input gradient, as for a model's first layer). A peer that is
not installed is skipped (NotImplementedError in setup).
"""


import numpy as np

from .common import CONVLSTM_SIZES, convlstm_inputs, convlstm_train_step_flops, keras_jax, keras_jitted_passes

PARAMS = list(CONVLSTM_SIZES)


class NumlstmConvLSTM:
    params = PARAMS
    param_names = ["size"]

    def setup(self, size):
        import numlstm

        self.numlstm = numlstm
        self.inputs = convlstm_inputs(size)
        self.weights = {k: self.inputs[k] for k in ("x", "kernel", "recurrent_kernel", "bias")}
        self.time_train_step(size)  # JIT warm-up

    def time_forward(self, size):
        self.numlstm.convlstm_forward(**self.weights, padding="same", final_states=False)

    def time_train_step(self, size):
        _, _, _, workspace = self.numlstm.convlstm_forward(**self.weights, padding="same", final_states=False)
        self.numlstm.convlstm_backward(workspace, self.inputs["d_outputs"], input_gradient=False)

    def peakmem_train_step(self, size):
        self.time_train_step(size)

    def track_train_step_gflops(self, size):
        import time

        start = time.perf_counter()
        for _ in range(3):
            self.time_train_step(size)
        return convlstm_train_step_flops(size) * 3 / (time.perf_counter() - start) / 1e9

    track_train_step_gflops.unit = "GFLOP/s"


class TorchConvLSTM:
    params = PARAMS
    param_names = ["size"]

    def setup(self, size):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed")
        self.torch = torch
        inputs = convlstm_inputs(size)
        B, T, rows, cols, C, F, k = CONVLSTM_SIZES[size]
        # The same weights: Keras' (k, k, in, 4F) kernels as one (4F, C + F, k, k) kernel over cat([x, h]).
        kernel = np.concatenate([inputs["kernel"], inputs["recurrent_kernel"]], axis=2).transpose(3, 2, 0, 1)
        self.weight = torch.tensor(np.ascontiguousarray(kernel), requires_grad=True)
        self.bias = torch.tensor(inputs["bias"], requires_grad=True)
        self.x = torch.tensor(np.ascontiguousarray(inputs["x"].transpose(0, 1, 4, 2, 3)))
        self.d_outputs = torch.tensor(np.ascontiguousarray(inputs["d_outputs"].transpose(0, 1, 4, 2, 3)))
        self.shape = (B, F, rows, cols)
        self.padding = k // 2
        self.time_train_step(size)

    def _sequence(self):
        torch = self.torch
        h = torch.zeros(self.shape)
        c = torch.zeros(self.shape)
        outputs = []
        for t in range(self.x.shape[1]):
            z = torch.nn.functional.conv2d(torch.cat([self.x[:, t], h], dim=1), self.weight, self.bias,
                                           padding=self.padding)
            i, f, g, o = torch.split(z, self.shape[1], dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1)

    def time_forward(self, size):
        with self.torch.no_grad():
            self._sequence()

    def time_train_step(self, size):
        self.weight.grad = self.bias.grad = None
        (self._sequence() * self.d_outputs).sum().backward()

    def peakmem_train_step(self, size):
        self.time_train_step(size)


class KerasJaxConvLSTM:
    params = PARAMS
    param_names = ["size"]

    def setup(self, size):
        keras = keras_jax()
        B, T, rows, cols, C, F, k = CONVLSTM_SIZES[size]
        inputs = convlstm_inputs(size)
        model = keras.Sequential([keras.Input((T, rows, cols, C), batch_size=B),
                                  keras.layers.ConvLSTM2D(F, k, padding="same", return_sequences=True)])
        model.set_weights([inputs["kernel"], inputs["recurrent_kernel"], inputs["bias"]])
        self.forward, self.train_step = keras_jitted_passes(model, inputs)

    def time_forward(self, size):
        self.forward()

    def time_train_step(self, size):
        self.train_step()

    def peakmem_train_step(self, size):
        self.train_step()
