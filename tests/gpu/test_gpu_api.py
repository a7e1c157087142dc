"""The Keras-like API under ``numlstm.device("cuda")`` gives what it gives on the CPU, and stays on the GPU.

Runs on a GPU or in the CUDA simulator (see test_gpu_lstm.py). Layers and
models have no device code: they compute through the backend that holds
their data (``numlstm.backend``), so every result must match the CPU's to
float64 rounding, and a model's weights and optimizer state must stay on the
device between steps, epochs and calls.
"""

import numpy as np
import pytest

import numlstm
from helpers.gpu import MODELS, assert_fit_matches_cpu, embedding_model, run_on
from numlstm import backend, dispatch, layers, optimizers

pytestmark = pytest.mark.gpu


@pytest.mark.real_gpu(reason="the simulator runs threads one after another: only a GPU's scheduling can "
                             "reorder a sum")
def test_a_seeded_run_gives_the_same_weights_every_time():
    """Every GPU sum has a fixed order (the Embedding gradient's repeated ids included): two runs, equal bits."""
    first, second = run_on(embedding_model, "cuda"), run_on(embedding_model, "cuda")
    for got, want in zip(second[3], first[3]):
        np.testing.assert_array_equal(got, want)


@pytest.mark.slow  # over 10 s in the simulator on two cores
@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
def test_fit_predict_and_gradients_match_the_cpu(make):
    assert_fit_matches_cpu(make)


def _functional_run(device_name):
    """A graph: an encoder's states start a decoder, a second input joins after it, two outputs, weighted."""
    with numlstm.device(device_name):
        numlstm.utils.set_random_seed(4)
        sequence = layers.Input((4, 2), dtype="float64", name="sequence")
        static = layers.Input((3,), dtype="float64", name="static")
        _, h, c = layers.LSTM(3, return_state=True, dtype="float64")(sequence)
        decoded = layers.LSTM(3, dtype="float64")(sequence, initial_state=[h, c])
        merged = layers.Concatenate(dtype="float64")([decoded, static])
        value = layers.Dense(1, dtype="float64", name="value")(merged)
        label = layers.Dense(3, activation="softmax", dtype="float64", name="label")(merged)
        model = numlstm.Model([sequence, static], [value, label])
        model.compile(optimizers.Adam(0.05), ["mse", "sparse_categorical_crossentropy"], loss_weights=[1.0, 0.5])
        rng = np.random.default_rng(4)
        x = [rng.standard_normal((6, 4, 2)), rng.standard_normal((6, 3))]
        y = [rng.standard_normal(6), rng.integers(0, 3, 6)]
        weights = rng.uniform(0.5, 2.0, 6)
        loss, grads = model.compute_gradients(x, y)
        history = model.fit(x, y, sample_weight=weights, batch_size=3, epochs=2, verbose=0).history
        return loss, grads, history, model.get_weights(), model.predict(x), model.evaluate(x, y)


@pytest.mark.slow  # over 10 s in the simulator on two cores
def test_a_functional_model_trains_on_the_gpu_as_on_the_cpu():
    cpu, gpu = _functional_run("cpu"), _functional_run("cuda")
    assert gpu[0] == pytest.approx(cpu[0], rel=1e-12)
    for got, want in zip(gpu[1], cpu[1]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert gpu[2].keys() == cpu[2].keys()
    for key in cpu[2]:
        np.testing.assert_allclose(gpu[2][key], cpu[2][key], rtol=1e-10, err_msg=key)
    for got, want in zip(gpu[3] + gpu[4], cpu[3] + cpu[4]):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(gpu[5], cpu[5], rtol=1e-9)


def test_float32_models_train_alike_on_both_devices():
    """float32 through every backend kernel (the other tests use float64 to compare exactly)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 4, 2)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 6)]
    results = {}
    for device_name in ("cpu", "cuda"):
        with numlstm.device(device_name):
            numlstm.utils.set_random_seed(8)
            model = numlstm.Sequential([layers.Input((4, 2)),
                                        layers.Bidirectional(layers.LSTM(3, return_sequences=True)),
                                        layers.LSTM(2), layers.Dense(3, activation="softmax")])
            model.compile(optimizers.Adam(0.05), "categorical_crossentropy")
            history = model.fit(x, y, batch_size=3, epochs=2, verbose=0)
            results[device_name] = history.history["loss"], model.get_weights()
    assert all(w.dtype == np.float32 for w in results["cuda"][1])
    np.testing.assert_allclose(results["cuda"][0], results["cpu"][0], rtol=1e-5)
    for got, want in zip(results["cuda"][1], results["cpu"][1]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


class _Transfers:
    """Counts host-to-device and device-to-host copies (real or simulated device arrays); ``log`` holds
    them in order ("up", "down"), and where the host waits for the device: a copy to the host without a
    stream, or an event's synchronize ("wait")."""

    def __init__(self, monkeypatch):
        from numba import cuda

        self.up = self.down = 0
        self.log = []
        device_array = type(cuda.to_device(np.zeros(1)))
        to_device, to_host, copy_to_device = cuda.to_device, device_array.copy_to_host, device_array.copy_to_device

        self._inside_to_device = False

        def counted_to_device(*args, **kwargs):
            self.up += 1
            self.log.append("up")
            self._inside_to_device = True  # on a GPU, to_device copies through copy_to_device: one transfer
            try:
                return to_device(*args, **kwargs)
            finally:
                self._inside_to_device = False

        def counted_to_host(array, *args, **kwargs):
            self.down += 1
            self.log.append("down")
            if not kwargs.get("stream", args[1] if len(args) > 1 else 0):  # a copy on no stream waits
                self.log.append("wait")
            return to_host(array, *args, **kwargs)

        event = type(cuda.event())
        synchronize = event.synchronize

        def logged_synchronize(*args, **kwargs):
            self.log.append("wait")
            return synchronize(*args, **kwargs)

        monkeypatch.setattr(event, "synchronize", logged_synchronize)

        def counted_copy_to_device(array, source, *args, **kwargs):
            if not (self._inside_to_device or backend.is_device_array(source)):
                self.up += 1
                self.log.append("up")
            return copy_to_device(array, source, *args, **kwargs)

        monkeypatch.setattr(cuda, "to_device", counted_to_device)
        monkeypatch.setattr(device_array, "copy_to_host", counted_to_host)
        monkeypatch.setattr(device_array, "copy_to_device", counted_copy_to_device)

    def reset(self):
        self.up = self.down = 0
        self.log = []

    def log_launches(self, monkeypatch):
        """Also log each kernel launch and cuBLAS call ("launch"); on a GPU every launch then goes through
        numba-cuda's own path (no parameter templates, not even those the steps before made), where it can be
        seen."""
        if dispatch.simulator_enabled():
            from numba.cuda.simulator.kernel import FakeCUDAKernel as configured_kernel
        else:
            import weakref

            from numba.cuda.dispatcher import _LaunchConfiguration as configured_kernel
            from numlstm.kernels.cuda import cublas as cuda_cublas
            from numlstm.kernels.cuda import launch as cuda_launch

            monkeypatch.setattr(cuda_launch._FastLaunch, "for_kernel", classmethod(lambda cls, *args, **kw: None))
            monkeypatch.setattr(cuda_launch, "_templates", weakref.WeakKeyDictionary())
            gemm = cuda_cublas.gemm

            def logged_gemm(*args, **kwargs):
                self.log.append("launch")
                return gemm(*args, **kwargs)

            monkeypatch.setattr(cuda_cublas, "gemm", logged_gemm)
        call = configured_kernel.__call__

        def logged_call(kernel, *args):
            if not getattr(kernel, "_device", False):  # the simulator calls device functions through it too
                self.log.append("launch")
            return call(kernel, *args)

        monkeypatch.setattr(configured_kernel, "__call__", logged_call)


def test_weights_and_optimizer_state_stay_on_the_device(monkeypatch):
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((8, 3, 2)), rng.standard_normal((8, 1))
    with numlstm.device("cuda"):
        model = numlstm.Sequential([layers.Input((3, 2)), layers.LSTM(3, dtype="float64"),
                                    layers.Dense(1, dtype="float64")])
        model.compile(optimizers.Adam(clipnorm=1.0), "mse")
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)  # moves the model and its optimizer to the GPU
        transfers = _Transfers(monkeypatch)
        model.fit(x, y, batch_size=4, epochs=2, verbose=0)
        steps = 4
        assert (transfers.up, transfers.down) == (2 * steps, steps)  # each batch's x and y up, its loss down
        for array in [model.parameter_buffer, *model.optimizer.variables(), *model.layers[0].weights]:
            assert backend.is_device_array(array)
        transfers.reset()
        predictions = model.predict(x, batch_size=4)
        assert (transfers.up, transfers.down) == (2, 2)  # each batch's x up, its outputs down
    weights = model.get_weights()
    assert all(isinstance(w, np.ndarray) for w in weights)
    with numlstm.device("cpu"):  # the model follows the device: back to the host, same results
        np.testing.assert_allclose(model.predict(x, batch_size=4), predictions, rtol=1e-12)
        assert isinstance(model.parameter_buffer, np.ndarray) and isinstance(model.optimizer.m, np.ndarray)
        for got, want in zip(model.get_weights(), weights):
            np.testing.assert_array_equal(got, want)


def _step_events(monkeypatch, model, x, y):
    """The transfers, launches and waits of a second training step (the first moves the model)."""
    with numlstm.device("cuda"):
        model.train_on_batch(x, y)
        events = _Transfers(monkeypatch)
        events.log_launches(monkeypatch)
        loss = model.train_on_batch(x, y)
    log = list(events.log)
    assert type(loss) is float
    with numlstm.device("cpu"):
        assert model.evaluate(x, y) < loss  # the step went downhill
    return log


def test_a_training_step_waits_for_the_device_once_when_all_of_it_is_queued(monkeypatch):
    """A step uploads its x and y before its first launch, queues its loss's copy to the host right after
    the loss, and waits for that copy once the backward pass and update are queued too, and for nothing
    else: the device works through the forward pass while the host queues the backward, and through the
    backward while the host goes on. A global clipnorm scales the gradients on the device, without
    reading their norm."""
    rng = np.random.default_rng(9)
    model = numlstm.Sequential([layers.Input((3, 2)), layers.LSTM(3, dtype="float64"),
                                layers.Dense(1, dtype="float64")])
    model.compile(optimizers.Adam(global_clipnorm=0.01), "mse")
    log = _step_events(monkeypatch, model, rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 1)))
    before = log.index("down") - 2
    after = log.count("launch") - before
    assert before > 3 and after > 3, log
    assert log == ["up", "up"] + ["launch"] * before + ["down"] + ["launch"] * after + ["wait"]


def test_an_embedding_model_reads_nothing_back_but_its_loss(monkeypatch):
    """The Embedding checks its ids on the host batch itself (a model does not upload the batch for it to
    download, which would wait for the last step's backward pass), groups them for its gradient in the
    forward pass and makes its mask from the ids it uploaded for the lookup; so the step's one wait is
    still for its loss, after everything is queued, and the ids go up once."""
    rng = np.random.default_rng(10)
    model = numlstm.Sequential([layers.Embedding(5, 2, mask_zero=True, dtype="float64"),
                                layers.LSTM(3, dtype="float64"), layers.Dense(1, dtype="float64")])
    model.compile(optimizers.SGD(0.05), "mse")
    x = rng.integers(1, 5, (4, 3))
    x[0, 2] = 0
    log = _step_events(monkeypatch, model, x, rng.standard_normal((4, 1)))
    assert log.count("down") == 1 and log.count("wait") == 1 and log[-1] == "wait", log
    assert log[log.index("down") + 1:-1].count("launch") > 3, log  # the backward pass and update
    # y, the ids once (the mask compares the ids the lookup used) and their grouping for the gradient
    assert log.count("up") == 3, log
    with numlstm.device("cuda"):
        model.predict(x)  # the model and its table back on the GPU
    assert backend.is_device_array(model.layers[0].embeddings)
    looked_up = model.layers[0](x)  # called on its own, on host ids: a host answer, from the GPU's table
    assert isinstance(looked_up, np.ndarray)
    np.testing.assert_array_equal(looked_up, model.get_weights()[0][x])


def _callbacks_and_state(device_name, directory):
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((6, 3, 2)), rng.standard_normal((6, 1))
    with numlstm.device(device_name):
        numlstm.utils.set_random_seed(6)
        model = numlstm.Sequential([layers.Input((3, 2)), layers.LSTM(3, dtype="float64"),
                                    layers.Dense(1, dtype="float64")])
        model.compile(optimizers.Adam(1.0), "mse")  # large steps: the loss rises, EarlyStopping restores
        checkpoint = directory / f"{device_name}.numlstm"
        callbacks = [numlstm.callbacks.EarlyStopping(patience=1, restore_best_weights=True, monitor="loss"),
                     numlstm.callbacks.ModelCheckpoint(str(checkpoint), monitor="loss", save_best_only=True)]
        history = model.fit(x, y, batch_size=3, epochs=6, verbose=0, callbacks=callbacks)
        stateful = numlstm.Sequential([layers.Input((3, 2), batch_size=2),
                                       layers.LSTM(2, stateful=True, dtype="float64")])
        stateful.set_weights([rng.standard_normal((2, 8)), rng.standard_normal((2, 8)), rng.standard_normal(8)])
        chunks = [stateful.predict(x[:2], batch_size=2) for _ in range(2)]  # the state carries over
    return history.history["loss"], model.get_weights(), numlstm.load_model(checkpoint).get_weights(), chunks


def test_callbacks_and_stateful_layers_match_the_cpu(tmp_path):
    """Callbacks read and restore weights (host copies of device arrays); a stateful LSTM carries its state."""
    gpu, cpu = _callbacks_and_state("cuda", tmp_path), _callbacks_and_state("cpu", tmp_path)
    np.testing.assert_allclose(gpu[0], cpu[0], rtol=1e-10)
    for got, want in zip(gpu[1] + gpu[2], cpu[1] + cpu[2]):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gpu[3], cpu[3], rtol=1e-10)
    assert len(gpu[0]) < 6  # stopped early, restoring the best weights: those of the best checkpoint
    for restored, best in zip(gpu[1], gpu[2]):
        np.testing.assert_array_equal(restored, best)
    assert not np.allclose(cpu[3][0], cpu[3][1])  # the second call started from the first one's state


def test_a_stream_takes_a_gpu_trained_model_back_to_the_cpu():
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 1))
    model = numlstm.Sequential([layers.Input((3, 2)), layers.LSTM(3, dtype="float64"),
                                layers.Dense(1, dtype="float64")])
    model.compile("adam", "mse")
    with numlstm.device("cuda"):
        model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert backend.is_device_array(model.parameter_buffer)
    stream = numlstm.streaming.Stream(model, batch_size=4)
    assert isinstance(model.parameter_buffer, np.ndarray)
    for t in range(3):
        last = stream.step(x[:, t])
    with numlstm.device("cpu"):
        np.testing.assert_allclose(last, model.predict(x), rtol=1e-12)


@pytest.mark.slow  # over 10 s in the simulator on two cores
def test_80_epochs_on_the_gpu_path_do_not_grow_resident_memory():
    import pathlib

    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 1))
    resident = {}

    def record(epoch, logs):
        resident[epoch] = int(pathlib.Path("/proc/self/statm").read_text().split()[1]) * 4096

    with numlstm.device("cuda"):
        numlstm.utils.set_random_seed(0)
        model = numlstm.Sequential([layers.Input((3, 2)), layers.LSTM(2, dtype="float64"),
                                    layers.Dense(1, dtype="float64")])
        model.compile("adam", "mse")
        model.fit(x, y, batch_size=4, epochs=80, verbose=0,
                  callbacks=[numlstm.callbacks.LambdaCallback(on_epoch_end=record)])
    growth = (resident[79] - resident[19]) / resident[19]
    assert growth < 0.05, f"resident memory grew {100 * growth:.1f}% from epoch 20 to 80"


def _context_scopes(monkeypatch):
    """The functions run through the CUDA backend's ``in_context``, outermost first."""
    from numlstm.backend import cuda

    entered = []
    in_context = cuda.in_context

    def recorded(function, *args, **kwargs):
        entered.append(function.__name__)
        return in_context(function, *args, **kwargs)

    monkeypatch.setattr(cuda, "in_context", recorded)
    return entered


def test_models_and_functional_passes_hold_the_cuda_context(monkeypatch):
    """Each public entry point that runs on the GPU (a model's methods, lstm_forward and lstm_backward) runs
    within the backend's ``in_context``, so that numba-cuda's context lookups inside it are cheap; on the
    CPU none does."""
    from numlstm import functional

    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 1))
    model = numlstm.Sequential([layers.Input((3, 2)), layers.LSTM(3, dtype="float64"),
                                layers.Dense(1, dtype="float64")])
    model.compile(optimizers.SGD(0.1), "mse")
    entered = _context_scopes(monkeypatch)
    with numlstm.device("cpu"):  # not "auto", which picks a real GPU
        model.train_on_batch(x, y)
        functional.lstm_forward(x, *(w for w in model.layers[0].get_weights()))
        model.fit(x, y, epochs=1, verbose=0)
    assert entered == []
    with numlstm.device("cuda"):
        for run in (lambda: model.train_on_batch(x, y), lambda: model.test_on_batch(x, y),
                    lambda: model.fit(x, y, epochs=1, verbose=0), lambda: model.evaluate(x, y),
                    lambda: model.predict(x), lambda: model(x), lambda: model.compute_gradients(x, y)):
            entered.clear()
            run()
            assert entered and entered[0] in ("train_on_batch", "test_on_batch", "fit", "evaluate", "predict",
                                               "_call_on_arrays", "compute_gradients"), entered
    kernel, recurrent_kernel, bias = model.layers[0].get_weights()
    entered.clear()
    with numlstm.device("cuda"):  # host arrays, computed on the GPU
        outputs, _, _, workspace = functional.lstm_forward(x, kernel, recurrent_kernel, bias)
    functional.lstm_backward(workspace, np.ones_like(outputs))  # the workspace's device, whatever is current
    assert entered == ["lstm_forward", "lstm_backward"]


@pytest.mark.real_gpu(reason="the simulator has no CUDA driver")
def test_a_training_step_and_a_pass_ask_the_driver_for_the_context_once(monkeypatch):
    """numba-cuda asks the driver for the current context (cuCtxGetCurrent) at every lookup outside an
    attached scope: 14 times in one small inference pass on an H100 before the passes held the context.
    Within a step or pass, once."""
    from numba import cuda
    from numba.cuda.cudadrv import driver

    from numlstm import functional

    rng = np.random.default_rng(12)
    x, y = rng.standard_normal((4, 3, 2)).astype(np.float32), rng.standard_normal((4, 1)).astype(np.float32)
    model = numlstm.Sequential([layers.Input((3, 2)), layers.LSTM(3), layers.Dense(1)])
    model.compile(optimizers.Adam(), "mse")
    weights = [cuda.to_device(w) for w in model.layers[0].get_weights()]
    device_x = cuda.to_device(x)
    with numlstm.device("cuda"):
        model.train_on_batch(x, y)
        functional.lstm_forward(device_x, *weights)
    lookups = []
    ask = driver.driver.cuCtxGetCurrent
    monkeypatch.setattr(driver.driver, "cuCtxGetCurrent", lambda: lookups.append(1) or ask())
    with numlstm.device("cuda"):
        for run in (lambda: model.train_on_batch(x, y), lambda: model.predict(x),
                    lambda: functional.lstm_forward(device_x, *weights, final_states=False)):
            lookups.clear()
            run()
            assert len(lookups) <= 1, run


def _ctc_model():
    """A masked batch (padding at the end) transcribed with the CTC loss, in float64, with sample weights."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 7, 3))
    x[np.arange(7) >= np.array([7, 5, 6, 4])[:, None]] = 0.0
    y = np.array([[1, 2, 2], [3, -1, -1], [2, 1, -1], [-1, -1, -1]])
    model = numlstm.Sequential([layers.Input((7, 3), dtype="float64"), layers.Masking(0.0),
                                layers.LSTM(5, return_sequences=True, dtype="float64"),
                                layers.Dense(4, dtype="float64")])
    model.compile(optimizers.Adam(0.01), loss=numlstm.losses.CTC(reduction="mean"))
    return model, x, y


def test_the_ctc_loss_trains_on_the_gpu_as_on_the_cpu():
    """kernels/cuda/ctc.py through the API: the mask's lengths, the reduction, and weighted samples."""
    assert_fit_matches_cpu(_ctc_model)
    with numlstm.device("cuda"):
        model, x, y = _ctc_model()
        weights = np.array([1.0, 0.0, 2.0, 0.5])
        gpu = model.compute_gradients(x, y, sample_weight=weights)
    cpu_model, _, _ = _ctc_model()
    cpu_model.set_weights([backend.to_host(w) for w in model.get_weights()])
    cpu = cpu_model.compute_gradients(x, y, sample_weight=weights)
    assert gpu[0] == pytest.approx(cpu[0], rel=1e-12)
    for got, want in zip(gpu[1], cpu[1]):
        np.testing.assert_allclose(backend.to_host(got), want, rtol=1e-10, atol=1e-12)
