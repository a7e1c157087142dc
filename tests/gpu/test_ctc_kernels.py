"""The CUDA CTC kernels (kernels/cuda/ctc.py) against their CPU twin (kernels/cpu/ctc.py): the same negative log
likelihoods and gradients, on batches with repeated labels, an empty target, a sample with fewer frames than
the batch and a sample whose labels cannot fit in its frames.

In the simulator (16-thread blocks) the longest targets have more extended label positions than a block has
threads, so each thread takes several; new device arrays hold NaN there (conftest.py), so an element that no
kernel writes shows.
"""

import numpy as np
import pytest

from helpers.gpu import set_gpu_options

pytestmark = pytest.mark.gpu


def _case(rng, dtype, samples, frames, classes, blank, longest):
    """Logits, padded labels and lengths: sample 0 with repeats, 1 an empty target, 2 fewer frames than the
    batch, 3 infeasible (its repeats need more frames than it has), the rest random with ``longest`` labels."""
    others = [k for k in range(classes) if k != blank]
    rows = [[others[0], others[1], others[1], others[2]], [], [others[2], others[0]],
            [others[1]] * 3]
    lengths = [frames, frames, frames // 2, 4]
    for _ in range(samples - len(rows)):
        rows.append(list(rng.choice(others, longest)))
        lengths.append(frames)
    labels = np.full((samples, max(len(row) for row in rows)), -1, np.int64)
    for b, row in enumerate(rows):
        labels[b, :len(row)] = row
    logits = (rng.standard_normal((samples, frames, classes)) * 2).astype(dtype)
    return (logits, labels, np.array([len(row) for row in rows], np.int64), np.array(lengths, np.int64), blank)


def _on_cpu(logits, labels, label_lengths, input_lengths, blank):
    from numlstm.kernels.cpu import ctc

    nll, gradient = np.empty(len(logits)), np.empty_like(logits)
    ctc.ctc_loss_and_gradient(logits, labels, label_lengths, input_lengths, blank, nll, gradient)
    return nll, gradient


def _on_gpu(logits, labels, label_lengths, input_lengths, blank):
    from numba import cuda

    from numlstm.kernels.cuda import ctc

    nll, gradient, weighted = ctc.ctc_loss_and_gradient(cuda.to_device(logits), cuda.to_device(labels),
                                                        cuda.to_device(label_lengths), cuda.to_device(input_lengths),
                                                        blank)
    nll, weighted = nll.copy_to_host(), weighted.copy_to_host()
    np.testing.assert_array_equal(weighted, nll)  # scales of 1 by default: the weighted losses are the losses
    return nll, gradient.copy_to_host()


def _assert_matches_cpu(case):
    logits, _, _, input_lengths, _ = case
    want_nll, want_gradient = _on_cpu(*case)
    got_nll, got_gradient = _on_gpu(*case)
    assert np.isinf(want_nll[3]) and np.isfinite(np.delete(want_nll, 3)).all()  # the case is what it says
    assert got_nll.dtype == np.float64 and got_gradient.dtype == logits.dtype
    assert got_gradient.shape == logits.shape
    tolerance = 1e-10 if logits.dtype == np.float64 else 1e-5
    np.testing.assert_array_equal(np.isinf(got_nll), np.isinf(want_nll))
    finite = np.isfinite(want_nll)
    np.testing.assert_allclose(got_nll[finite], want_nll[finite], rtol=tolerance, atol=0)
    np.testing.assert_allclose(got_gradient, want_gradient, rtol=tolerance, atol=tolerance)
    assert not got_gradient[3].any()  # the infeasible sample
    for b, frames in enumerate(input_lengths):
        assert not got_gradient[b, frames:].any()


@pytest.mark.parametrize("dtype,samples,frames,classes,blank,longest", [
    ("float64", 5, 9, 5, 0, 3),
    ("float64", 6, 15, 6, 2, 10),  # 21 extended positions: more than a block's 16 threads in the simulator
    ("float32", 4, 6, 4, 3, 2),
    ("float32", 5, 13, 7, 0, 7),
])
def test_matches_the_cpu_kernel(rng, dtype, samples, frames, classes, blank, longest):
    _assert_matches_cpu(_case(rng, dtype, samples, frames, classes, blank, longest))


def test_a_nan_logit_makes_its_sample_nan_on_both_devices(rng):
    logits, labels, label_lengths, input_lengths, blank = _case(rng, "float64", 5, 9, 5, 0, 3)
    logits[4, 5, 1] = np.nan
    for nll, gradient in (_on_cpu(logits, labels, label_lengths, input_lengths, blank),
                          _on_gpu(logits, labels, label_lengths, input_lengths, blank)):
        assert np.isnan(nll[4]) and np.isnan(gradient[4]).all() and not np.isnan(nll[:4]).any()


def test_blocks_smaller_than_a_frame_and_a_target(monkeypatch, rng):
    """8-thread blocks: each thread takes several frames in the log-softmax and several label positions."""
    set_gpu_options(monkeypatch, threads=8)
    _assert_matches_cpu(_case(rng, "float64", 5, 11, 5, 1, 6))


@pytest.mark.simulator
@pytest.mark.parametrize("first", ["natural", "reversed"])
def test_barriers(monkeypatch, rng, first):
    """One thread at a time between barriers, in both orders (helpers/serialised_launch.py): a missing
    ``syncthreads()`` between the log-softmax, the first rows and the time steps reads a stale or NaN value."""
    from helpers.serialised_launch import SerialisedKernel

    from numlstm.kernels.cuda import ctc
    from numlstm.kernels.options import SIMULATOR_PRESET

    kernels = ctc.build_kernels("float64", SIMULATOR_PRESET.kernels.cache)
    serialised = SerialisedKernel(kernels.forward_backward, first)
    monkeypatch.setattr(kernels, "forward_backward", serialised)
    set_gpu_options(monkeypatch, threads=4)
    _assert_matches_cpu(_case(rng, "float64", 4, 6, 4, 0, 2))
    assert serialised.launches == [(4, 1, 1)]


def test_an_empty_batch():
    case = (np.zeros((0, 3, 4)), np.zeros((0, 2), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), 0)
    nll, gradient = _on_gpu(*case)
    assert nll.shape == (0,) and gradient.shape == (0, 3, 4)


def test_scales_weight_the_gradient_and_the_losses_and_a_scale_of_zero_hides_a_sample(rng):
    """What the reduction and the sample weights become on the device: the infeasible sample 3, scaled by 0,
    has weighted loss 0 (not inf * 0), and a gradient of 0."""
    from numba import cuda

    from numlstm.kernels.cuda import ctc

    logits, labels, label_lengths, input_lengths, blank = _case(rng, "float64", 5, 9, 5, 0, 3)
    scales = np.array([0.5, 2.0, 1.0, 0.0, 0.25])
    nll, gradient, weighted = (a.copy_to_host() for a in ctc.ctc_loss_and_gradient(
        *(cuda.to_device(a) for a in (logits, labels, label_lengths, input_lengths)), blank, cuda.to_device(scales)))
    want_nll, want_gradient = _on_cpu(logits, labels, label_lengths, input_lengths, blank)
    assert np.isinf(want_nll[3])
    np.testing.assert_allclose(weighted, scales * np.where(scales == 0, 0.0, want_nll), rtol=1e-10)
    np.testing.assert_allclose(gradient, want_gradient * scales[:, None, None], rtol=1e-10, atol=1e-12)
