"""Every kernel with its threads run one at a time between barriers, in both orders
(helpers/serialised_launch.py).

Numba's simulator runs a block's threads nearly in turn and a cooperative
grid as one block, so a kernel missing a ``syncthreads()`` or a
``grid.sync()`` passes its other tests there. Here each thread runs until
its next barrier before the next one starts, shared memory reads NaN until
written, and the blocks of the persistent kernels run in turn between grid
barriers: a read that a missing barrier leaves unordered gets NaN or a
stale row, in one order or the other. Kernels without barriers run so too,
through every model of test_gpu_api.py (helpers.gpu.MODELS): two threads
racing for an element would give different answers in the two orders.
"""

import numpy as np
import pytest

import numlstm
from helpers.cases import assert_gradients_match_cpu, assert_matches_reference, random_lstm_args
from helpers.gpu import MODELS, assert_fit_matches_cpu, set_gpu_options
from numlstm import layers, losses, optimizers

pytestmark = pytest.mark.simulator


@pytest.fixture(params=["natural", "reversed"])
def serialised(request, monkeypatch):
    """Every float64 kernel of kernels/cuda (the LSTM's and ops.py's) launched through SerialisedKernel; yields
    the wrappers by name."""
    from helpers.serialised_launch import SerialisedKernel

    from numlstm.kernels import options as kernel_options
    from numlstm.kernels.cuda import lstm, ops, plans

    options = kernel_options.SIMULATOR_PRESET.kernels
    wrapped = {}
    for namespace in (lstm.kernels_for(np.float64, options),
                      ops.build_kernels("float64", options.threads, options.fastmath, options.cache)):
        for name, kernel in list(vars(namespace).items()):
            wrapped[name] = SerialisedKernel(kernel, request.param)
            monkeypatch.setattr(namespace, name, wrapped[name])
    monkeypatch.setattr(plans, "max_cooperative_blocks", lambda *args: 3)
    with numlstm.device("cuda"):
        yield wrapped


TIME_LOOPS = {"one thread per unit": {}, "split steps": {"split_below": 10**9}, "GEMM steps": {"gemm_steps_from": 0},
              "persistent, cached": {"persistent_below": 10**9},
              "GEMMs of split depth": {"gemm_split_blocks": 10**6, "gemm_split_depth": 4}}


@pytest.mark.parametrize("time_loop", list(TIME_LOOPS))
def test_lstm_passes(monkeypatch, rng, serialised, time_loop):
    """H = 5 and B = 3 leave partial blocks of units, slices and rows; the GEMMs span several tiles."""
    set_gpu_options(monkeypatch, **TIME_LOOPS[time_loop])
    args = random_lstm_args(rng, B=3, T=3, F=9, H=5, peephole=True, mask=True, initial_state=True,
                            recurrent_mask=True)
    assert_matches_reference(rng, args, False, False, grad_rtol=1e-11)
    launched = {name for name, kernel in serialised.items() if kernel.launches}
    assert ({"gemm_split", "sum_partials"} if time_loop == "GEMMs of split depth" else {"gemm"}) <= launched
    if time_loop.startswith("persistent"):
        assert {"forward_persistent", "backward_persistent"} <= launched
        assert serialised["forward_persistent"].launches == [(3, 1, 1)]


def test_reductions_of_a_training_step(rng, serialised):
    """The losses' and the gradient clipping's tree reductions in shared memory (segment_sums)."""
    model = numlstm.Sequential([layers.Input((3, 2)), layers.LSTM(3, dtype="float64"),
                                layers.Dense(2, dtype="float64")])
    model.compile(optimizers.SGD(0.1, global_clipnorm=0.5), losses.MeanSquaredError())
    x, y = rng.standard_normal((5, 3, 2)), rng.standard_normal((5, 2))
    assert_gradients_match_cpu(model, x, y)
    weights = model.get_weights()
    model.train_on_batch(x, y)
    trained = model.get_weights()
    model.set_weights(weights)
    with numlstm.device("cpu"):
        model.train_on_batch(x, y)
    for got, want in zip(trained, model.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    assert len(serialised["segment_sums"].launches) >= 2  # the loss, and the clipping norm


PER_STEP_KERNELS = {"forward_step", "forward_step_split", "backward_cell", "backward_recurrent",
                    "backward_recurrent_split", "gate_update", "cell_after_gemm", "copy_rows"}


@pytest.mark.slow  # over 10 s in the simulator on two cores
@pytest.mark.parametrize("time_loop", ["per step", "persistent"])
def test_every_layer_loss_and_optimizer(serialised, monkeypatch, time_loop):
    """test_gpu_api's models (helpers.gpu.MODELS: every layer, merge mode, loss family, optimizer) through fit,
    predict, evaluate and compute_gradients, against the CPU: the kernels without barriers too, their threads and
    blocks in both orders, where a race between two of them would give two different answers. With the
    persistent loops, layers of one size and different gate counts follow each other (a CIFG LSTM, then
    plain ones): each must get a weight cache of its own shape, which poisoned shared memory checks."""
    persistent = time_loop == "persistent"
    if persistent:
        set_gpu_options(monkeypatch, persistent_below=10**9)
    for make in MODELS.values():
        assert_fit_matches_cpu(make)
    not_launched = {name for name, kernel in serialised.items() if not kernel.launches}
    # The time loops the models do not pick, and GEMMs of split depth, run in test_lstm_passes; the cached
    # persistent backward copies the recurrent kernel itself, transposed; Adagrad's update and fill (zeros
    # come from a memset) are elementwise alone.
    unpicked = {"gemm_split", "sum_partials"} | (PER_STEP_KERNELS | {"transpose"} if persistent else {
        "forward_step_split", "backward_recurrent_split", "gate_update", "cell_after_gemm", "forward_persistent",
        "backward_persistent"})
    assert not_launched <= unpicked | {"adagrad_update", "fill"}
    assert persistent == {"forward_persistent", "backward_persistent"}.isdisjoint(not_launched)
