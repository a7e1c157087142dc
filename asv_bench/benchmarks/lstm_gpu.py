"""One LSTM layer on a CUDA GPU, float32: numlstm's kernels beside torch.nn.LSTM on cuDNN.

DeepBench's recurrent sizes (input size = hidden size): training at
H in {512, 1024} x N in {16, 64}, T = 25, and (H 256, N 64, T 150);
inference at H in {512, 1024} x N in {1, 4}, T = 25. Data and weights live
on the device for both frameworks (numlstm's ``lstm_forward`` /
``lstm_backward`` given device arrays return device arrays), so the timings
are the kernels and each library's Python around them; every
``time_*`` ends with a device synchronisation. Skipped (NotImplementedError
in setup) without a real GPU, or for torch without CUDA.
The defaults send every GEMM to cuBLAS where libcublas loads;
``NumlstmGpuTrainingNumbaGemms`` runs them all through numlstm's own GEMM
kernel (``GpuKernelOptions.gemm_library = "numba"``), as on a machine
without libcublas.
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


def _torch_on_cuda():
    """torch, or NotImplementedError (asv: skip) without it or without a CUDA device."""
    try:
        import torch
    except ImportError:
        raise NotImplementedError("torch is not installed")
    if not torch.cuda.is_available():
        raise NotImplementedError("torch has no CUDA device")
    return torch


class _NumlstmGpu:
    def setup(self, size):
        from numlstm import dispatch

        if not dispatch.gpu_available():
            raise NotImplementedError("no CUDA GPU")
        from numba import cuda

        import numlstm

        self.cuda, self.numlstm = cuda, numlstm
        self.d = {name: cuda.to_device(array) for name, array in _host_inputs(size).items()}
        self.train_once()  # JIT warm-up of every kernel

    def _forward(self):
        d = self.d
        return self.numlstm.lstm_forward(d["x"], d["kernel"], d["recurrent_kernel"], d["bias"], check_finite=False)

    def forward_once(self):
        result = self._forward()
        self.cuda.synchronize()
        return result

    def train_once(self):
        """The forward and backward passes, then one wait for the device, as torch's training step."""
        workspace = self._forward()[3]
        self.numlstm.lstm_backward(workspace, self.d["d_outputs"], input_gradient=False)
        self.cuda.synchronize()


class _TorchCudnn:
    def setup(self, size):
        self.torch = torch = _torch_on_cuda()
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


class _TrainingSizes:
    """The training benchmarks' sizes and timed call, for a class that has ``train_once``."""

    params = [TRAINING]
    param_names = ["HxNxT"]

    def time_train_step(self, size):
        self.train_once()


class _InferenceSizes:
    """The inference benchmarks' sizes and timed call, for a class that has ``forward_once``."""

    params = [INFERENCE]
    param_names = ["HxNxT"]

    def time_forward(self, size):
        self.forward_once()


class _TorchCudnnFloat32(_TorchCudnn):
    """cuDNN held to float32 arithmetic, numlstm's own: torch lets cuDNN's float32 RNNs use TF32 tensor
    cores (``torch.backends.cudnn.allow_tf32``, on by default; 10-bit mantissas in the products), which
    numlstm's kernels and cuBLAS calls never do. The flag is torch-wide, so it is off during these
    calls only."""

    def _float32(self, method):
        cudnn = self.torch.backends.cudnn
        allowed = cudnn.allow_tf32
        cudnn.allow_tf32 = False
        try:
            return method()
        finally:
            cudnn.allow_tf32 = allowed

    def forward_once(self):  # setup's warm-up runs train_once, below
        self._float32(super().forward_once)

    def train_once(self):
        self._float32(super().train_once)

class NumlstmGpuTraining(_TrainingSizes, _NumlstmGpu):
    pass


class NumlstmGpuTrainingNumbaGemms(NumlstmGpuTraining):
    """The same training steps with every GEMM through numlstm's GEMM kernel (``gemm_library = "numba"``)."""

    def setup(self, size):
        from numlstm.kernels import options

        self.preset = options.DEVICE_PRESET
        options.DEVICE_PRESET = options.DEVICE_PRESET.replace(gemm_library="numba")
        try:
            super().setup(size)
        except BaseException:
            self.teardown(size)
            raise

    def teardown(self, size):
        from numlstm.kernels import options

        options.DEVICE_PRESET = self.preset


class TorchCudnnTraining(_TrainingSizes, _TorchCudnn):
    pass


class NumlstmGpuInference(_InferenceSizes, _NumlstmGpu):
    pass


class TorchCudnnInference(_InferenceSizes, _TorchCudnn):
    pass


class TorchCudnnFloat32Training(_TrainingSizes, _TorchCudnnFloat32):
    pass


class TorchCudnnFloat32Inference(_InferenceSizes, _TorchCudnnFloat32):
    pass


# A whole training epoch of a model, as users run it: LSTM(H) + Dense(1), Adam, MSE, the data on the host and
# each batch copied to the GPU (numlstm keeps weights and optimizer state there between steps). The *Dropout
# classes put Dropout(0.2) between the two: numlstm draws its mask on the host and uploads it in the middle
# of the forward pass (torch draws it on the GPU).
FIT = ["256x64x100", "512x64x25"]
_FIT_STEPS = 10


def _fit_data(size):
    B, T, F, H = _size(size)
    rng = np.random.default_rng(1)
    features = 32
    return (rng.standard_normal((B * _FIT_STEPS, T, features)).astype(np.float32),
            rng.standard_normal((B * _FIT_STEPS, 1)).astype(np.float32), B, H)


class NumlstmGpuFit:
    params = [FIT]
    param_names = ["HxNxT"]
    dropout = 0.0

    def setup(self, size):
        from numlstm import dispatch

        if not dispatch.gpu_available():
            raise NotImplementedError("no CUDA GPU")
        import numlstm

        self.numlstm = numlstm
        self.x, self.y, self.batch, units = _fit_data(size)
        with numlstm.device("cuda"):
            layers = numlstm.layers
            self.model = numlstm.Sequential([layers.Input(self.x.shape[1:]), layers.LSTM(units)]
                                            + ([layers.Dropout(self.dropout)] if self.dropout else [])
                                            + [layers.Dense(1)])
            self.model.compile(numlstm.optimizers.Adam(1e-3), "mse")
        self.fit_epoch()  # JIT warm-up, and the model moves to the GPU

    def fit_epoch(self):
        with self.numlstm.device("cuda"):
            self.model.fit(self.x, self.y, batch_size=self.batch, epochs=1, shuffle=False, verbose=0)

    def time_fit_epoch(self, size):
        self.fit_epoch()


class TorchGpuFit:
    params = [FIT]
    param_names = ["HxNxT"]
    dropout = 0.0

    def setup(self, size):
        self.torch = torch = _torch_on_cuda()
        self.x, self.y, self.batch, units = _fit_data(size)
        self.lstm = torch.nn.LSTM(self.x.shape[2], units, batch_first=True).cuda()
        self.head = torch.nn.Linear(units, 1).cuda()
        self.optimizer = torch.optim.Adam([*self.lstm.parameters(), *self.head.parameters()], lr=1e-3, eps=1e-7)
        self.fit_epoch()

    def fit_epoch(self):
        torch = self.torch
        for start in range(0, len(self.x), self.batch):
            x = torch.from_numpy(self.x[start:start + self.batch]).cuda()
            y = torch.from_numpy(self.y[start:start + self.batch]).cuda()
            self.optimizer.zero_grad(set_to_none=True)
            output, _ = self.lstm(x)
            last = output[:, -1]
            if self.dropout:
                last = torch.nn.functional.dropout(last, self.dropout)
            loss = torch.nn.functional.mse_loss(self.head(last), y)
            loss.backward()
            self.optimizer.step()
            loss.item()  # numlstm's fit reads every step's loss too
        torch.cuda.synchronize()

    def time_fit_epoch(self, size):
        self.fit_epoch()


class NumlstmGpuFitDropout(NumlstmGpuFit):
    dropout = 0.2


class TorchGpuFitDropout(TorchGpuFit):
    dropout = 0.2
