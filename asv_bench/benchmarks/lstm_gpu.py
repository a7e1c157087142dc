"""One LSTM layer on a CUDA GPU, float32: numlstm's kernels beside torch.nn.LSTM on cuDNN.

DeepBench's recurrent sizes (input size = hidden size): training at
H in {512, 1024} x N in {16, 64}, T = 25, and (H 256, N 64, T 150);
inference at H in {512, 1024} x N in {1, 4}, T = 25. Data and weights live
on the device for both frameworks (numlstm through its device-array entry
``numlstm.kernels.gpu_lstm``), so the timings are kernels only; every
``time_*`` ends with a device synchronisation. Skipped (NotImplementedError
in setup) without a real GPU, or for torch without CUDA.
"""

import numpy as np

TRAINING = ["512x16x25", "512x64x25", "1024x16x25", "1024x64x25", "256x64x150"]
INFERENCE = ["512x1x25", "512x4x25", "1024x1x25", "1024x4x25"]


def _size(name):
    H, N, T = (int(part) for part in name.split("x"))
    return N, T, H, H  # B, T, F, H


def _host_inputs(name):
    B, T, F, H = _size(name)
    rng = np.random.default_rng(0)
    scale = 1.0 / np.sqrt(H)
    return {
        "x": rng.standard_normal((B, T, F)).astype(np.float32),
        "kernel": rng.uniform(-scale, scale, (F, 4 * H)).astype(np.float32),
        "recurrent_kernel": rng.uniform(-scale, scale, (H, 4 * H)).astype(np.float32),
        "bias": rng.uniform(-scale, scale, 4 * H).astype(np.float32),
        "d_outputs": (rng.standard_normal((B, T, H)) / (B * T)).astype(np.float32),
    }


class _NumlstmGpu:
    def setup(self, size):
        from numlstm import dispatch

        if not dispatch.gpu_available():
            raise NotImplementedError("no CUDA GPU")
        from numba import cuda

        from numlstm.kernels import config, gpu_lstm

        self.cuda, self.gpu, self.options = cuda, gpu_lstm, config.GPU_OPTIONS
        B, T, F, H = _size(size)
        host = _host_inputs(size)
        self.shape = (B, T, F)
        device = {name: cuda.to_device(array) for name, array in host.items()}
        device.update(peephole=cuda.to_device(np.zeros(3 * H, np.float32)),
                      h0=cuda.to_device(np.zeros((B, H), np.float32)),
                      c0=cuda.to_device(np.zeros((B, H), np.float32)),
                      mask=cuda.to_device(np.ones((0, 0), bool)),
                      recurrent_mask=cuda.to_device(np.ones((0, 0), np.float32)))
        self.d = device
        self.zeros = np.zeros((B, H), np.float32)
        self.train_once()  # JIT warm-up of every kernel

    def forward_once(self):
        d = self.d
        result = self.gpu.forward(d["x"], d["kernel"], d["recurrent_kernel"], d["bias"], d["peephole"], d["h0"],
                                  d["c0"], d["mask"], False, d["recurrent_mask"], False, False, False, False,
                                  self.options)
        self.cuda.synchronize()
        return result

    def train_once(self):
        d = self.d
        _, saved = self.forward_once()
        self.gpu.backward(saved, self.shape, d["kernel"], d["recurrent_kernel"], d["peephole"], d["mask"], False,
                          d["recurrent_mask"], False, False, False, False, d["d_outputs"], True,
                          self.cuda.to_device(self.zeros), self.cuda.to_device(self.zeros), False, False,
                          self.options)
        self.cuda.synchronize()


class _TorchCudnn:
    def setup(self, size):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed")
        if not torch.cuda.is_available():
            raise NotImplementedError("torch has no CUDA device")
        self.torch = torch
        B, T, F, H = _size(size)
        host = _host_inputs(size)
        self.module = torch.nn.LSTM(F, H, batch_first=True).cuda()
        with torch.no_grad():
            self.module.weight_ih_l0.copy_(torch.from_numpy(host["kernel"].T))
            self.module.weight_hh_l0.copy_(torch.from_numpy(host["recurrent_kernel"].T))
            self.module.bias_ih_l0.copy_(torch.from_numpy(host["bias"]))
            self.module.bias_hh_l0.zero_()
        self.x = torch.from_numpy(host["x"]).cuda()
        self.d_outputs = torch.from_numpy(host["d_outputs"]).cuda()
        self.train_once()

    def forward_once(self):
        with self.torch.no_grad():
            self.module(self.x)
        self.torch.cuda.synchronize()

    def train_once(self):
        self.module.zero_grad(set_to_none=True)
        output, _ = self.module(self.x)
        output.backward(self.d_outputs)
        self.torch.cuda.synchronize()


class NumlstmGpuTraining(_NumlstmGpu):
    params = [TRAINING]
    param_names = ["HxNxT"]

    def time_train_step(self, size):
        self.train_once()


class TorchCudnnTraining(_TorchCudnn):
    params = [TRAINING]
    param_names = ["HxNxT"]

    def time_train_step(self, size):
        self.train_once()


class NumlstmGpuInference(_NumlstmGpu):
    params = [INFERENCE]
    param_names = ["HxNxT"]

    def time_forward(self, size):
        self.forward_once()


class TorchCudnnInference(_TorchCudnn):
    params = [INFERENCE]
    param_names = ["HxNxT"]

    def time_forward(self, size):
        self.forward_once()
