"""Prepared launches (kernels/gpu_launch.py): the time loops' per-step kernels with their parameters
marshalled once. On a GPU they skip numba-cuda's own marshalling; in the simulator, and for anything but a
plain kernel, they go through numba-cuda's launch, with the same results."""

import numpy as np
import pytest
from numba import cuda

import numlstm
from cases import random_lstm_args
from numlstm import dispatch
from numlstm.kernels import gpu_launch
from test_gpu_lstm import force_time_loop

pytestmark = pytest.mark.skipif(not (dispatch.simulator_enabled() or dispatch.gpu_available()),
                                reason="needs a CUDA GPU or NUMBA_ENABLE_CUDASIM=1")
on_gpu_only = pytest.mark.skipif(not dispatch.gpu_available(),
                                 reason="the simulator launches through numba-cuda's own path")


@cuda.jit
def _record(s, t, scale, out):
    if cuda.grid(1) == 0:
        out[0] = s
        out[1] = t
        out[2] = scale * out.shape[0]


def test_each_launch_takes_its_leading_arguments_and_keeps_the_rest():
    out = cuda.to_device(np.zeros(3))
    launch = gpu_launch.prepared_launch(_record, 1, 32, (0, 0, 2.5, out))
    assert gpu_launch.is_prepared(launch) == dispatch.gpu_available()
    launch(3, 4)
    np.testing.assert_array_equal(out.copy_to_host(), [3, 4, 7.5])
    launch(-1, 9)
    np.testing.assert_array_equal(out.copy_to_host(), [-1, 9, 7.5])
    with pytest.raises(TypeError, match="a prepared launch takes 2 arguments, got 1"):
        launch(5)


def test_only_integers_can_vary():
    out = cuda.to_device(np.zeros(3))
    with pytest.raises(TypeError, match="the first 3 arguments of a prepared launch must be integers"):
        gpu_launch.prepared_launch(_record, 1, 32, (0, 0, 1.0, out), varying=3)


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
    launch = gpu_launch.prepared_launch(Counted(), 1, 32, (0, 0, 1.0, out))
    assert not gpu_launch.is_prepared(launch)
    launch(1, 2)
    launch(3, 4)
    assert launches == [(1, 2), (3, 4)]
    np.testing.assert_array_equal(out.copy_to_host(), [3, 4, 3])


@on_gpu_only
def test_time_loops_launch_prepared_and_match_numba_cudas_own_launches(monkeypatch, rng):
    """Every per-step kernel of both passes (split steps and one thread per unit) is launched prepared, and
    computes the same bits as through numba-cuda's launch."""
    made = []
    prepare = gpu_launch.prepared_launch

    def recorded(*args, **kwargs):
        made.append(prepare(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(gpu_launch, "prepared_launch", recorded)
    args = random_lstm_args(rng, B=3, T=4, F=2, H=5, peephole=True, mask=True, initial_state=True,
                            recurrent_mask=True)

    def passes():
        results = []
        for split_below in (10**9, 0):
            force_time_loop(monkeypatch, split_below=split_below)
            with numlstm.device("cuda"):
                out, h_n, c_n, workspace = numlstm.lstm_forward(**args)
                grads = numlstm.lstm_backward(workspace, np.ones_like(out))
            results += [out, h_n, c_n, *grads]
        return results

    prepared = passes()
    assert len(made) == 6 and all(gpu_launch.is_prepared(launch) for launch in made)
    monkeypatch.setattr(gpu_launch._FastLaunch, "for_kernel", classmethod(lambda cls, *args: None))
    made.clear()
    through_numba = passes()
    assert len(made) == 6 and not any(gpu_launch.is_prepared(launch) for launch in made)
    for got, want in zip(prepared, through_numba):
        if want is not None:
            np.testing.assert_array_equal(got, want)
