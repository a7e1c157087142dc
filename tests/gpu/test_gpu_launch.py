"""Prepared launches (kernels/cuda/launch.py): the time loops' per-step kernels with their parameters
marshalled once. On a GPU they skip numba-cuda's own marshalling; in the simulator, and for anything but a
plain kernel, they go through numba-cuda's launch, with the same results."""

import numpy as np
import pytest
from numba import cuda

import numlstm
from helpers.cases import random_lstm_args
from helpers.gpu import force_time_loop
from numlstm import dispatch
from numlstm.kernels.cuda import launch as cuda_launch

pytestmark = pytest.mark.gpu
on_gpu_only = pytest.mark.real_gpu(reason="the simulator launches through numba-cuda's own path")


@cuda.jit
def _record(s, t, scale, out):
    if cuda.grid(1) == 0:
        out[0] = s
        out[1] = t
        out[2] = scale * out.shape[0]


def test_each_launch_takes_its_leading_arguments_and_keeps_the_rest():
    out = cuda.to_device(np.zeros(3))
    launch = cuda_launch.prepared_launch(_record, 1, 32, (0, 0, 2.5, out))
    assert cuda_launch.is_prepared(launch) == dispatch.gpu_available()
    launch(3, 4)
    np.testing.assert_array_equal(out.copy_to_host(), [3, 4, 7.5])
    launch(-1, 9)
    np.testing.assert_array_equal(out.copy_to_host(), [-1, 9, 7.5])
    with pytest.raises(TypeError, match="a prepared launch takes 2 arguments, got 1"):
        launch(5)


def test_only_integers_can_vary():
    out = cuda.to_device(np.zeros(3))
    with pytest.raises(TypeError, match="the first 3 arguments of a prepared launch must be integers"):
        cuda_launch.prepared_launch(_record, 1, 32, (0, 0, 1.0, out), varying=3)


def test_a_wrapped_kernel_launches_through_the_wrapper():
    """The tests' launch counters wrap kernels: a prepared launch must go through them."""
    launches = []

    class Counted:
        def __getitem__(self, configuration):
            def run(*args):
                launches.append(args[:2])
                _record[configuration](*args)

            return run

    out = cuda.to_device(np.zeros(3))
    launch = cuda_launch.prepared_launch(Counted(), 1, 32, (0, 0, 1.0, out))
    assert not cuda_launch.is_prepared(launch)
    launch(1, 2)
    launch(3, 4)
    assert launches == [(1, 2), (3, 4)]
    np.testing.assert_array_equal(out.copy_to_host(), [3, 4, 3])


@on_gpu_only
def test_time_loops_launch_prepared_and_match_numba_cudas_own_launches(monkeypatch, rng):
    """Every per-step kernel of both passes (split steps, one thread per unit and GEMM steps) is launched
    prepared, and computes the same bits as through numba-cuda's launch."""
    made = []
    prepare = cuda_launch.prepared_launch

    def recorded(*args, **kwargs):
        made.append(prepare(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(cuda_launch, "prepared_launch", recorded)
    args = random_lstm_args(rng, B=3, T=4, F=2, H=5, peephole=True, mask=True, initial_state=True,
                            recurrent_mask=True)

    def passes():
        results = []
        for loop in ({"split_below": 10**9}, {"split_below": 0}, {"gemm_steps_from": 0}):
            force_time_loop(monkeypatch, **loop)
            with numlstm.device("cuda"):
                out, h_n, c_n, workspace = numlstm.lstm_forward(**args)
                grads = numlstm.lstm_backward(workspace, np.ones_like(out))
            results += [out, h_n, c_n, *grads]
        return results

    prepared = passes()
    assert len(made) == 8 and all(cuda_launch.is_prepared(launch) for launch in made)
    monkeypatch.setattr(cuda_launch._FastLaunch, "for_kernel", classmethod(lambda cls, *args: None))
    made.clear()
    through_numba = passes()
    assert len(made) == 8 and not any(cuda_launch.is_prepared(launch) for launch in made)
    for got, want in zip(prepared, through_numba):
        if want is not None:
            np.testing.assert_array_equal(got, want)


def test_a_one_off_launch_computes_what_numba_cudas_launch_does():
    """Arrays of two layouts, scalars of three types, the same layout again with new arrays and values:
    each launch writes what its own arguments say."""
    for scale, length in [(2.5, 3), (0.5, 3), (1.5, 5)]:
        out = cuda.to_device(np.zeros(length))
        cuda_launch.launch(_record, 1, 32, (length, -length, scale, out))
        np.testing.assert_array_equal(out.copy_to_host()[:3], [length, -length, scale * length])


def test_a_one_off_launch_of_a_wrapped_kernel_goes_through_the_wrapper():
    launches = []

    class Counted:
        def __getitem__(self, configuration):
            launches.append(configuration)
            return _record[configuration]

    out = cuda.to_device(np.zeros(3))
    for _ in range(2):
        cuda_launch.launch(Counted(), 1, 32, (1, 2, 1.0, out))
    assert launches == [(1, 32), (1, 32)]
    np.testing.assert_array_equal(out.copy_to_host(), [1, 2, 3])


@on_gpu_only
def test_after_a_first_training_step_numba_cuda_marshals_nothing(monkeypatch, rng):
    """A model's training step (the LSTM's time loops, GEMMs, Dense, the loss, Adam) launches every kernel
    from a template or a prepared launch once each kernel has been launched in that layout, and computes
    the same bits as through numba-cuda's own launches."""
    import weakref

    from numba.cuda.dispatcher import CUDADispatcher

    from numlstm import layers

    model = numlstm.Sequential([layers.Input((4, 3)), layers.LSTM(5), layers.Dense(2)])
    x, y = rng.standard_normal((6, 4, 3)).astype(np.float32), rng.standard_normal((6, 2)).astype(np.float32)
    weights = model.get_weights()

    def trained():
        model.set_weights(weights)
        model.compile(optimizer="adam", loss="mse")  # Adam afresh: its moments and step count start over
        with numlstm.device("cuda"):
            model.train_on_batch(x, y)
            calls.clear()
            model.train_on_batch(x, y)
            return model.get_weights()

    calls = []
    call = CUDADispatcher.call
    monkeypatch.setattr(CUDADispatcher, "call", lambda self, *args: calls.append(self) or call(self, *args))
    monkeypatch.setattr(cuda_launch, "_templates", weakref.WeakKeyDictionary())
    through_templates = trained()
    assert calls == []
    monkeypatch.setattr(cuda_launch._FastLaunch, "for_kernel", classmethod(lambda cls, *args, **kwargs: None))
    monkeypatch.setattr(cuda_launch, "_templates", weakref.WeakKeyDictionary())
    through_numba = trained()
    assert calls  # the second step's launches went through numba-cuda
    for got, want in zip(through_templates, through_numba):
        np.testing.assert_array_equal(got, want)
