"""The hot paths inside one LSTM step, each beside the numpy/BLAS way of doing it."""

import numpy as np

from .common import SIZES


class RecurrentProduct:
    """One timestep's recurrent product h (B, H) @ R (H, 4H), float32, one thread.

    ``packed``: numlstm's micro-kernel with R packed once (as the time loop
    uses it); ``blas``: np.dot inside Numba, which repacks R on every call.
    """

    params = [list(SIZES), ["packed", "blas"]]
    param_names = ["size", "method"]

    def setup(self, size, method):
        from numba import njit

        from numlstm.threads import single_threaded_blas
        from numlstm.kernels.cpu.packed_gemm import pack_panels, packed_matmul, panels_shape

        B, _, _, H = SIZES[size]
        rng = np.random.default_rng(0)
        self.h = rng.standard_normal((B, H)).astype(np.float32)
        recurrent_kernel = rng.standard_normal((H, 4 * H)).astype(np.float32)
        self.panels = np.empty(panels_shape(H, 4 * H, np.float32), np.float32)
        pack_panels(recurrent_kernel, False, self.panels, 0)
        self.recurrent_kernel = recurrent_kernel
        self.out = np.empty((B, self.panels.shape[0] * self.panels.shape[2]), np.float32)
        self.blas_out = np.empty((B, 4 * H), np.float32)

        @njit
        def packed(h, panels, out, repeats):
            for _ in range(repeats):
                packed_matmul(h, 0, h.shape[0], 0, panels, out)

        @njit
        def blas(h, recurrent_kernel, out, repeats):
            for _ in range(repeats):
                np.dot(h, recurrent_kernel, out)

        self.packed, self.blas = packed, blas
        self.limit = single_threaded_blas()
        self.limit.__enter__()
        self.time_product(size, method)

    def teardown(self, size, method):
        self.limit.__exit__(None, None, None)

    def time_product(self, size, method):
        if method == "packed":
            self.packed(self.h, self.panels, self.out, 10)
        else:
            self.blas(self.h, self.recurrent_kernel, self.blas_out, 10)


class WeightPacking:
    """Packing the recurrent kernel R (H, 4H) into the product's panels, float32, as every pass does once:
    ``forward`` packs R, ``backward`` packs R's transpose (``pack_panels``)."""

    params = [list(SIZES), ["forward", "backward"]]
    param_names = ["size", "direction"]

    def setup(self, size, direction):
        from numlstm.kernels.cpu.packed_gemm import pack_panels, panels_shape

        H = SIZES[size][3]
        self.recurrent_kernel = np.random.default_rng(0).standard_normal((H, 4 * H)).astype(np.float32)
        self.transpose = direction == "backward"
        rows, columns = (4 * H, H) if self.transpose else (H, 4 * H)
        self.panels = np.empty(panels_shape(rows, columns, np.float32), np.float32)
        self.pack = pack_panels
        self.time_pack(size, direction)

    def time_pack(self, size, direction):
        self.pack(self.recurrent_kernel, self.transpose, self.panels, 0)


class GateActivations:
    """float32 tanh over 2^20 values: numlstm's vectorised rational form and numpy's."""

    params = [["numlstm", "numpy"]]
    param_names = ["implementation"]

    def setup(self, implementation):
        from numlstm.kernels.activations import tanh_array

        self.x = np.random.default_rng(0).standard_normal(1 << 20).astype(np.float32) * 4
        self.out = np.empty_like(self.x)
        self.tanh_array = tanh_array
        self.time_tanh(implementation)

    def time_tanh(self, implementation):
        if implementation == "numlstm":
            self.tanh_array(self.x, self.out)
        else:
            np.tanh(self.x, out=self.out)


class GateKernelUnits:
    """One LSTM layer at batch one, (1, 100, 1, units), float32: its forward pass and a training step (forward
    and backward, weight gradients only), for unit counts that fill the gate kernels' SIMD registers (32) and
    that leave units over for their masked register (13, 20, 100 on AVX2; ``cpu/gate_vectors.py``)."""

    params = [[13, 20, 32, 100]]
    param_names = ["units"]

    def setup(self, units):
        import numlstm

        rng = np.random.default_rng(0)
        self.numlstm = numlstm
        self.weights = {"x": rng.standard_normal((1, 100, 1)).astype(np.float32),
                        "kernel": (0.1 * rng.standard_normal((1, 4 * units))).astype(np.float32),
                        "recurrent_kernel": (0.1 * rng.standard_normal((units, 4 * units))).astype(np.float32),
                        "bias": np.zeros(4 * units, np.float32)}
        self.d_outputs = rng.standard_normal((1, 100, units)).astype(np.float32)
        self.time_train_step(units)  # JIT warm-up

    def time_forward(self, units):
        self.numlstm.lstm_forward(**self.weights, check_finite=False, final_states=False)

    def time_train_step(self, units):
        _, _, _, workspace = self.numlstm.lstm_forward(**self.weights, check_finite=False, final_states=False)
        self.numlstm.lstm_backward(workspace, self.d_outputs, input_gradient=False)
