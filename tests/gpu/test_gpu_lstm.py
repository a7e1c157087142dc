"""The CUDA kernels against the numpy reference and finite differences.

Runs on a real GPU, or on CPU-only machines in Numba's CUDA simulator:
``NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/gpu`` (the variable must be
set before numba is imported). The simulator runs with 4 x 4 GEMM tiles and
16-thread blocks (``options.SIMULATOR_PRESET``); the shapes below leave
remainders in every tiled dimension.
"""

import collections
import dataclasses
import itertools
import re

import numpy as np
import pytest

import numlstm
from helpers.cases import assert_matches_reference, random_lstm_args
from helpers.finite_differences import check_lstm_gradients
from helpers.gpu import active_gpu_options, force_time_loop, set_gpu_options
from helpers.reference import reference_backward, reference_forward

pytestmark = pytest.mark.gpu

OPTIONS = list(itertools.product([False, True], repeat=5))


@pytest.fixture(autouse=True)
def on_gpu():
    with numlstm.device("cuda"):
        yield


@pytest.mark.parametrize("cifg,peephole,mask,reverse,zero_output", OPTIONS)
def test_gpu_kernels_match_numpy_reference(rng, cifg, peephole, mask, reverse, zero_output):
    args = random_lstm_args(rng, B=3, T=5, F=5, H=3, cifg=cifg, peephole=peephole, mask=mask, initial_state=True)
    assert_matches_reference(rng, args, reverse, zero_output, grad_rtol=1e-11)


@pytest.mark.parametrize("cifg,peephole,mask,reverse,zero_output", [
    (False, False, False, False, False), (False, True, True, True, True), (True, True, True, False, False),
    (True, False, False, True, False)])
def test_split_steps_match_numpy_reference(monkeypatch, rng, cifg, peephole, mask, reverse, zero_output):
    """The small-batch forward step and recurrent backward step (blocks of units x slices of the recurrent
    sum), forced on; H = 5 leaves a partial block of units and slices, B = 3 a partial block of rows."""
    force_time_loop(monkeypatch, split_below=10**9)
    args = random_lstm_args(rng, B=3, T=4, F=2, H=5, cifg=cifg, peephole=peephole, mask=mask, initial_state=True,
                            recurrent_mask=True)
    assert_matches_reference(rng, args, reverse, zero_output, grad_rtol=1e-11)


@pytest.mark.parametrize("split", [False, True], ids=["whole depth", "split depth"])
@pytest.mark.parametrize("transpose_a,transpose_b", list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("accumulate", [False, True])
def test_gemm_across_blocks_with_remainders(rng, transpose_a, transpose_b, accumulate, split):
    """The register-blocked GEMM: 19 x 21 outputs cover several block tiles (8 x 8 in the simulator) with
    partial micro-tiles at the edges; depth 9 leaves a partial shared-memory slab. Split, the depth runs
    in slices of whole slabs (4 in the simulator), the last one partial, summed by a second kernel."""
    from numba import cuda

    from numlstm.kernels.cuda import gemm
    from numlstm.kernels.cuda import lstm as cuda_lstm

    m, n, depth = 19, 21, 9
    a = rng.standard_normal((depth, m) if transpose_a else (m, depth))
    b = rng.standard_normal((n, depth) if transpose_b else (depth, n))
    c = rng.standard_normal((m, n))
    expected = (a.T if transpose_a else a) @ (b.T if transpose_b else b) + (c if accumulate else 0)
    options = dataclasses.replace(active_gpu_options(), gemm_library="numba",  # on a GPU "auto" may pick cuBLAS
                                  gemm_split_blocks=10**6 if split else 1, gemm_split_depth=2)
    tiles = -(-m // options.gemm_block) * -(-n // options.gemm_block)
    assert (gemm.depth_splits(tiles, depth, options) > 1) == split
    out = cuda.to_device(c)
    cuda_lstm.launch_gemm(cuda_lstm.kernels_for(np.float64, options), options, cuda.to_device(a), cuda.to_device(b),
                         out, m, n, depth, transpose_a, transpose_b, accumulate)
    np.testing.assert_allclose(out.copy_to_host(), expected, rtol=1e-13, atol=1e-13)


def test_weight_gradients_of_split_depth_match_numpy_reference(monkeypatch, rng):
    """Every GEMM whose depth allows it split into slices of one slab (split-K): the weight gradients
    over T * B = 12 rows in 3 slices, the input projection over F = 9 features in 2."""
    force_time_loop(monkeypatch, gemm_split_blocks=10**6, gemm_split_depth=4, gemm_library="numba")
    args = random_lstm_args(rng, B=3, T=4, F=9, H=5, peephole=True, mask=True, initial_state=True)
    assert_matches_reference(rng, args, True, False, grad_rtol=1e-11)


@pytest.mark.parametrize("cifg,peephole,mask,reverse,zero_output,recurrent_mask", [
    (False, False, False, False, False, False), (False, True, True, True, True, True),
    (True, True, True, False, False, True), (True, False, False, True, False, False)])
def test_gemm_steps_match_numpy_reference(monkeypatch, rng, cifg, peephole, mask, reverse, zero_output,
                                          recurrent_mask):
    """Each step as a recurrent GEMM then an elementwise kernel (cuDNN's scheme), forced on; B = 9 spans
    two GEMM tiles of rows in the simulator."""
    force_time_loop(monkeypatch, gemm_steps_from=0)
    args = random_lstm_args(rng, B=9, T=4, F=2, H=5, cifg=cifg, peephole=peephole, mask=mask, initial_state=True,
                            recurrent_mask=recurrent_mask)
    assert_matches_reference(rng, args, reverse, zero_output, grad_rtol=1e-11)


def _force_persistent(monkeypatch):
    """Forward and backward passes run as one cooperative kernel each, their weights cached in shared memory;
    returns the launch plans chosen, (blocks, cache_slots, bytes)."""
    from numlstm.kernels.cuda import plans as cuda_plans

    set_gpu_options(monkeypatch, persistent_below=10**9)
    plans = []
    plan = cuda_plans.persistent_plan
    monkeypatch.setattr(cuda_plans, "persistent_plan", lambda *a: plans.append(plan(*a)) or plans[-1])
    return plans


@pytest.mark.parametrize("cifg,peephole,mask,reverse,zero_output", [
    (False, False, False, False, False), (False, True, True, True, True), (True, True, True, False, False),
    (True, False, False, True, False)])
def test_persistent_passes_match_numpy_reference(monkeypatch, rng, cifg, peephole, mask, reverse, zero_output):
    """The forward and backward time loops as one cooperative kernel each, forced on. H = 5 leaves a
    partial block of units, B = 3 a partial block of rows; the simulator runs every tile in one block, a
    GPU one tile per block (each unit block owned by a block per row block)."""
    plans = _force_persistent(monkeypatch)
    args = random_lstm_args(rng, B=3, T=4, F=2, H=5, cifg=cifg, peephole=peephole, mask=mask, initial_state=True,
                            recurrent_mask=True)
    assert_matches_reference(rng, args, reverse, zero_output, grad_rtol=1e-11)
    options = active_gpu_options()
    unit_blocks = -(-5 // options.persistent_units)
    tiles = unit_blocks * -(-3 // options.rows)
    assert len(plans) == 2  # forward and backward
    for blocks, cache_slots, _ in plans:
        assert 1 <= blocks <= tiles
        assert min(blocks, unit_blocks) * cache_slots >= unit_blocks


@pytest.mark.parametrize("cifg,B", [(False, 3), (True, 3), (False, 1)])
def test_a_cached_persistent_step_loads_h_of_several_k_at_a_time_and_matches_numpy_reference(
        monkeypatch, rng, cifg, B):
    """The cached forward's recurrent sum takes k in batches (``cached_products``: 4 at 2 rows, set here
    for the simulator and a GPU alike, 8 at a batch of one, which runs kernels of one row), then the rest
    one at a time: with 2 slices,
    H = 19 gives slice 0 ten values of k (0, 2, ..., 18) and slice 1 nine, so two batches of 4 and a
    remainder of 2 or 1, or one batch of 8 and the same remainders; B = 3 leaves the second 2-row block a
    row short, a row whose h is never read; the recurrent mask scales each loaded h."""
    _force_persistent(monkeypatch)
    set_gpu_options(monkeypatch, rows=2, persistent_slices=2)  # rows must not exceed the slices
    args = random_lstm_args(rng, B=B, T=3, F=2, H=19, cifg=cifg, peephole=True, initial_state=True,
                            recurrent_mask=True)
    assert_matches_reference(rng, args, False, False, grad_rtol=1e-11)


@pytest.mark.parametrize("slices,B", [(16, 3), (36, 1)], ids=["2 groups", "8 uneven groups"])
@pytest.mark.parametrize("loop", ["split steps", "persistent"])
def test_split_tiles_add_up_their_slices_in_groups(monkeypatch, rng, loop, slices, B):
    """A split tile's sum over slices goes in two rounds, the first over min(8, slices // (4 * rows))
    groups of slices forward (``split_tile``): 16 slices of 2 rows make 2 groups of 8; 36 of one row, 8
    groups of 4 or 5; the persistent backward's over min(8, slices // rows) (``split_recurrent_gradient``
    with ``grouped``): 8 groups of 2, 8 of 4 or 5 (the split backward step adds its slices in one round).
    The simulator's default shapes make a single group forward."""
    set_gpu_options(monkeypatch, rows=2, **{f"{loop.split()[0]}_slices": slices, f"{loop.split()[0]}_units": 1})
    if loop == "persistent":
        _force_persistent(monkeypatch)
    else:
        force_time_loop(monkeypatch, split_below=10**9)
    args = random_lstm_args(rng, B=B, T=3, F=3, H=3, peephole=True, initial_state=True)
    assert_matches_reference(rng, args, False, False, grad_rtol=1e-11)


@pytest.mark.parametrize("B,rows", [(1, 1), (3, 4)], ids=["a batch of one", "a batch of three"])
@pytest.mark.parametrize("loop", ["persistent", "split steps", "one thread per unit"])
def test_a_batch_of_one_runs_kernels_built_for_one_row_and_matches_numpy_reference(monkeypatch, rng, loop, B,
                                                                                   rows):
    """A batch of one gets kernels whose loops over rows are one row long (``cuda_lstm.rows_for_batch``),
    in both passes; other batches smaller than ``rows`` (4 here), the kernels of ``rows``."""
    from numlstm.kernels.cuda import lstm as cuda_lstm

    if loop == "persistent":
        _force_persistent(monkeypatch)
    else:
        force_time_loop(monkeypatch, **({"split_below": 10**9} if loop == "split steps" else {}))
    set_gpu_options(monkeypatch, rows=4)
    built = []
    kernels_for = cuda_lstm.kernels_for
    monkeypatch.setattr(cuda_lstm, "kernels_for", lambda dtype, options: built.append(options.rows) or
                        kernels_for(dtype, options))
    # no mask: random_lstm_args masks its last row throughout
    args = random_lstm_args(rng, B=B, T=4, F=5, H=5, peephole=True, initial_state=True, recurrent_mask=True)
    assert_matches_reference(rng, args, True, False, grad_rtol=1e-11)
    assert built and set(built) == {rows}


@pytest.mark.parametrize("time_loop", ["persistent", "split steps"])
def test_without_final_states_a_pass_gives_the_same_outputs_and_gradients(monkeypatch, rng, time_loop):
    """``final_states=False``: the persistent kernel gets the workspace's own hs and cs in place of h_n and
    c_n and must leave them alone; the per-step loops skip the copies."""
    if time_loop == "persistent":
        _force_persistent(monkeypatch)
    else:
        force_time_loop(monkeypatch, split_below=10**9)
    # no mask: every row's first step reads h0, so a pass that overwrote it would change the gradients
    args = random_lstm_args(rng, B=3, T=4, F=2, H=5, peephole=True, initial_state=True)
    d_out = rng.standard_normal((3, 4, 5))
    out, h_n, c_n, workspace = numlstm.lstm_forward(**args)
    lean_out, lean_h, lean_c, lean_workspace = numlstm.lstm_forward(**args, final_states=False)
    assert h_n is not None and lean_h is None and lean_c is None
    np.testing.assert_array_equal(lean_out, out)
    full, lean = numlstm.lstm_backward(workspace, d_out), numlstm.lstm_backward(lean_workspace, d_out)
    for name, got, want in zip(full._fields, lean, full):
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_an_inference_pass_gives_the_same_numbers_and_no_workspace(rng):
    args = random_lstm_args(rng, B=3, T=4, F=2, H=5, mask=True, initial_state=True)
    out, h_n, c_n, workspace = numlstm.lstm_forward(**args)
    lean = numlstm.lstm_forward(**args, keep_workspace=False)
    assert workspace is not None and lean[3] is None
    for name, got, want in zip(["outputs", "h_n", "c_n"], lean, (out, h_n, c_n)):
        np.testing.assert_array_equal(got, want, err_msg=name)


def _cooperative_launches(monkeypatch, blocks):
    """In the simulator, the persistent kernels launch on ``blocks`` co-resident blocks that run in turn
    between grid barriers (tests/helpers/serialised_launch.py); returns the two wrapped kernels."""
    from helpers.serialised_launch import SerialisedKernel

    from numlstm.kernels.cuda import lstm as cuda_lstm
    from numlstm.kernels.cuda import plans as cuda_plans

    k = cuda_lstm.kernels_for(np.float64, active_gpu_options())
    wrapped = [SerialisedKernel(k.forward_persistent), SerialisedKernel(k.backward_persistent)]
    monkeypatch.setattr(k, "forward_persistent", wrapped[0])
    monkeypatch.setattr(k, "backward_persistent", wrapped[1])
    monkeypatch.setattr(cuda_plans, "max_cooperative_blocks", lambda *args: blocks)
    return wrapped


@pytest.mark.simulator(reason="a stand-in for the simulator's one-block grids")
@pytest.mark.parametrize("resident,plan", [(3, (3, 2)), (8, (8, 1))],
                         ids=["unit blocks shared out", "row groups"])
@pytest.mark.parametrize("cifg,peephole,mask,reverse,zero_output", [
    (False, True, True, False, True), (True, False, True, True, False)])
def test_persistent_passes_meet_at_grid_barriers_across_blocks(monkeypatch, rng, cifg, peephole, mask, reverse,
                                                              zero_output, resident, plan):
    """Eight tiles: H = 7 makes four unit blocks of 2 units, B = 3 two row blocks of 2 rows. Three
    co-resident blocks own unit blocks 0 and 3, 1, 2, each with both row blocks (two unit blocks' weights
    cached in the first); eight own one tile each, two row groups per unit block. The blocks run one at a
    time between grid barriers, in an order that reverses at each: a missing barrier reads rows not yet
    written."""
    plans = _force_persistent(monkeypatch)
    kernels = _cooperative_launches(monkeypatch, resident)
    args = random_lstm_args(rng, B=3, T=4, F=2, H=7, cifg=cifg, peephole=peephole, mask=mask, initial_state=True,
                            recurrent_mask=True)
    assert_matches_reference(rng, args, reverse, zero_output, grad_rtol=1e-11)
    blocks, slots = plan
    assert [kernel.launches for kernel in kernels] == [[(blocks, 1, 1)], [(blocks, 1, 1)]]
    options = active_gpu_options()
    assert (-(-7 // options.persistent_units), -(-3 // options.rows)) == (4, 2)
    for got in plans:
        assert got[:2] == (blocks, slots)


def test_persistent_plan_caches_the_fewest_unit_blocks_per_block_that_cover_the_grid(monkeypatch):
    """The launch plan against a model GPU (4 SMs of 100 KiB shared memory, at most 8 blocks each): with a
    weight cache, the fewest slots s such that the blocks resident with s slots' shared memory own every
    unit block; without, no s whose cache fits the budget would do. The grid: every unit block owned, times
    as many row groups as the resident blocks allow."""
    from numlstm.kernels.cuda import plans as cuda_plans

    options = dataclasses.replace(active_gpu_options(), persistent_units=2, persistent_slices=4, rows=2,
                                  shared_bytes=48 * 1024)
    itemsize, columns = 8, 4 * 2
    static = 4 * 2 * 4 * 2 * itemsize  # the partial sums

    def resident(shared):
        return 4 * min(8, 100 * 1024 // (static + shared))

    monkeypatch.setattr(cuda_plans, "max_cooperative_blocks", lambda kernel, args, threads, shared: resident(shared))
    monkeypatch.setattr(cuda_plans, "persistent_plans", {})
    kinds = set()
    for B, H in [(1, 64), (2, 64), (8, 64), (3, 200), (1, 8), (16, 16), (9, 40), (1, 100), (4, 100)]:
        unit_blocks, row_blocks = -(-H // 2), -(-B // 2)

        def cache_bytes(slots):
            return (columns * slots + 1) * H * itemsize

        def owns_every_unit_block(slots):
            return cache_bytes(slots) <= options.shared_bytes - static and \
                min(unit_blocks, resident(cache_bytes(slots))) * slots >= unit_blocks

        def grid(shared):
            owners = min(unit_blocks, resident(shared))
            return owners * min(row_blocks, resident(shared) // owners)

        blocks, slots, shared = cuda_plans.persistent_plan("forward", None, (), options, B, H, H, columns, itemsize)
        if slots:
            assert owns_every_unit_block(slots) and not any(owns_every_unit_block(s) for s in range(1, slots))
            assert (blocks, shared) == (grid(cache_bytes(slots)), cache_bytes(slots))
        else:
            assert not any(owns_every_unit_block(s) for s in range(1, unit_blocks + 1))
            assert (blocks, shared) == (grid(0), 0)
        assert blocks <= resident(shared) and (blocks % unit_blocks == 0 or blocks < unit_blocks)
        kinds.add((slots > 1 if slots else None, blocks > unit_blocks))
    # no cache, one slot, several; and grids of several row groups
    assert {kind for kind, _ in kinds} == {None, False, True} and (False, True) in kinds


@pytest.mark.real_gpu(reason="the simulator runs cooperative grids of one block only")
def test_persistent_passes_across_many_blocks(monkeypatch, rng):
    """On a GPU: hundreds of blocks meet at the grid barrier of every step."""
    plans = _force_persistent(monkeypatch)
    args = random_lstm_args(rng, B=5, T=12, F=3, H=300, peephole=True, mask=True, initial_state=True)
    assert_matches_reference(rng, args, False, False, grad_rtol=1e-9)
    for blocks, cache_slots, _ in plans:
        assert blocks > 100 and cache_slots > 0


@pytest.mark.real_gpu(reason="the simulator has no shared-memory limits")
def test_persistent_passes_with_opted_in_shared_memory(monkeypatch, rng):
    """On a GPU: weight caches beyond the 48 KiB a block gets unasked. float64 at H = 768 (18 MiB of
    recurrent weights, which the shared memory of all of an H100's SMs holds): one unit block's forward
    cache is 9 columns of 768 rows (54 KiB), its backward cache 2 columns of 3072 (48 KiB), each beside
    the partial sums' static shared memory."""
    from numlstm.kernels.cuda import plans as cuda_plans

    plans = _force_persistent(monkeypatch)
    set_gpu_options(monkeypatch, shared_bytes=2**20)
    options = active_gpu_options()
    args = random_lstm_args(rng, B=3, T=4, F=3, H=768, peephole=True, mask=True, initial_state=True)
    assert_matches_reference(rng, args, False, False, grad_rtol=1e-9)
    partial_sums = options.persistent_slices * options.persistent_units * 4 * options.rows * 8
    assert len(plans) == 2
    for blocks, cache_slots, cache_bytes in plans:  # more than the unasked 48 KiB leave for the cache
        assert cache_slots > 0 and cache_bytes > cuda_plans.DEFAULT_SHARED_BYTES - partial_sums, plans


@pytest.mark.parametrize("mask", [False, True])
def test_recurrent_mask_matches_reference(rng, mask):
    args = random_lstm_args(rng, B=2, T=4, F=3, H=5, peephole=True, mask=mask, initial_state=True,
                            recurrent_mask=True)
    out, h_n, c_n, ws = numlstm.lstm_forward(**args)
    ref_out, _, _, cache = reference_forward(**args)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-13)
    grads = numlstm.lstm_backward(ws, np.ones_like(out), h_n, c_n)
    expected = reference_backward(cache, args["x"], args["kernel"], args["recurrent_kernel"], args["peephole"],
                                  False, False, np.ones_like(out), h_n, c_n)
    for name, got, want in zip(grads._fields, grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12, err_msg=name)


@pytest.mark.slow  # over 10 s in the simulator on two cores
@pytest.mark.parametrize("cifg,peephole,mask,reverse", [(False, True, True, False), (True, True, False, True)])
def test_gpu_finite_differences(rng, cifg, peephole, mask, reverse):
    args = random_lstm_args(rng, B=2, T=3, F=2, H=2, cifg=cifg, peephole=peephole, mask=mask, initial_state=True)
    weights = {"out": rng.standard_normal((2, 3, 2)), "h_n": rng.standard_normal((2, 2)),
               "c_n": rng.standard_normal((2, 2))}
    check_lstm_gradients(args, {"reverse": reverse}, weights)


def test_every_deepbench_size_caches_its_weights_on_a_model_h200(monkeypatch):
    """With the default options, against a model of an H200's residency (132 SMs of 228 KiB shared memory,
    2048 threads, 1 KiB reserved per block), both persistent passes of every DeepBench size cache their
    recurrent weights, one unit block per block, float32."""
    from numlstm.kernels import options as kernel_options
    from numlstm.kernels.cuda import plans as cuda_plans

    options = kernel_options.DEVICE_PRESET.kernels
    units, slices, rows = options.persistent_units, options.persistent_slices, options.rows
    static = slices * units * 4 * rows * 4  # the partial sums

    def resident(kernel, args, threads, shared):
        return 132 * min(2048 // threads, 228 * 1024 // (static + shared + 1024))

    monkeypatch.setattr(cuda_plans, "max_cooperative_blocks", resident)
    monkeypatch.setattr(cuda_plans, "persistent_plans", {})
    for H, B in [(512, 16), (512, 64), (1024, 16), (1024, 64), (256, 64), (512, 1), (512, 4), (1024, 1), (1024, 4)]:
        for kind, cache_rows, columns in (("forward", H, 4 * units), ("backward", 4 * H, units)):
            blocks, slots, _ = cuda_plans.persistent_plan(kind, kind, (), options, B, H, cache_rows, columns, 4)
            assert slots == 1 and blocks % -(-H // units) == 0, (H, B, kind, blocks, slots)


def test_a_cifg_layer_and_a_plain_one_of_one_size_get_weight_caches_of_their_own(monkeypatch):
    """One backward kernel serves both, but its weight cache holds G * H rows: 3 H with CIFG, 4 H without.
    A plan kept for one and reused for the other gave it too little shared memory (seen on an H200)."""
    from numlstm.kernels.cuda import plans as cuda_plans

    monkeypatch.setattr(cuda_plans, "persistent_plans", {})
    monkeypatch.setattr(cuda_plans, "max_cooperative_blocks", lambda *args: 8)
    options = dataclasses.replace(active_gpu_options(), persistent_units=2, persistent_slices=4, rows=2,
                                  shared_bytes=48 * 1024)
    B, H, units, itemsize = 3, 5, 2, 8
    for gates in (3, 4, 3):
        blocks, slots, cache_bytes = cuda_plans.persistent_plan("backward", "kernel", (), options, B, H, gates * H,
                                                                units, itemsize)
        assert slots >= 1 and cache_bytes == (units * slots + (slots > 1)) * gates * H * itemsize


OTHER_TIME_LOOPS = {"split_steps": {"split_below": 10**9}, "gemm_steps": {"gemm_steps_from": 0},
                    "persistent": {"persistent_below": 10**9}}


@pytest.mark.slow  # over 10 s in the simulator on two cores
@pytest.mark.parametrize("loop", OTHER_TIME_LOOPS)
def test_every_time_loop_passes_finite_differences(monkeypatch, rng, loop):
    force_time_loop(monkeypatch, **OTHER_TIME_LOOPS[loop])
    args = random_lstm_args(rng, B=2, T=3, F=2, H=2, peephole=True, mask=True, initial_state=True)
    weights = {"out": rng.standard_normal((2, 3, 2)), "h_n": rng.standard_normal((2, 2)),
               "c_n": rng.standard_normal((2, 2))}
    check_lstm_gradients(args, {"reverse": True}, weights)


@pytest.mark.slow  # over 10 s in the simulator on two cores
def test_split_depth_gemms_pass_finite_differences(monkeypatch, rng):
    """The weight gradients over T * B = 6 rows and dx over G * H = 8 gates, split into slices of a slab."""
    force_time_loop(monkeypatch, gemm_split_blocks=10**6, gemm_split_depth=2, gemm_library="numba")
    args = random_lstm_args(rng, B=2, T=3, F=2, H=2, peephole=True, mask=True, initial_state=True)
    weights = {"out": rng.standard_normal((2, 3, 2)), "h_n": rng.standard_normal((2, 2)),
               "c_n": rng.standard_normal((2, 2))}
    check_lstm_gradients(args, {"reverse": True}, weights)


def test_float32_on_gpu_is_close_to_float64(rng):
    args = random_lstm_args(rng, B=4, T=6, F=3, H=5, peephole=True, initial_state=True)
    out64, *_, ws64 = numlstm.lstm_forward(**args)
    args32 = {k: (v.astype(np.float32) if isinstance(v, np.ndarray) else v) for k, v in args.items()}
    out32, *_, ws32 = numlstm.lstm_forward(**args32)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, atol=2e-6)
    g64 = numlstm.lstm_backward(ws64, np.ones_like(out64))
    g32 = numlstm.lstm_backward(ws32, np.ones_like(out32))
    for name, a, b in zip(g64._fields, g64, g32):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5, err_msg=name)


def test_input_gradient_can_be_skipped(rng):
    args = random_lstm_args(rng, B=2, T=3, F=2, H=3)
    out, _, _, ws = numlstm.lstm_forward(**args)
    assert numlstm.lstm_backward(ws, np.ones_like(out), input_gradient=False).dx is None


def _launches(rng, T):
    """Kernel launches of one forward and one backward pass over T steps: ``counts[phase]`` in all,
    ``counts[phase, kernel name]`` of each kernel."""
    from types import SimpleNamespace

    from numlstm.kernels.cuda import lstm as cuda_lstm

    counts = collections.Counter()
    phase = ["forward"]

    def counted(name, kernel):
        class Launcher:
            def __getattr__(self, name):  # compile, typeof_pyval: what the persistent launch plan asks
                return getattr(kernel, name)

            def __getitem__(self, configuration):
                launch = kernel[configuration]

                def run(*args):
                    counts[phase[0]] += 1
                    counts[phase[0], name] += 1
                    return launch(*args)

                return run

        return Launcher()

    build = cuda_lstm.build_kernels.__wrapped__  # the uncached builder under lru_cache
    with pytest.MonkeyPatch.context() as patch:
        # Whole GEMMs: a split one is two kernels, and how many slices it takes grows with T.
        set_gpu_options(patch, gemm_split_blocks=1)
        patch.setattr(cuda_lstm, "build_kernels",
                      lambda *a: SimpleNamespace(**{n: counted(n, k) for n, k in vars(build(*a)).items()}))
        args = random_lstm_args(rng, B=2, T=T, F=2, H=3, peephole=True, mask=True, initial_state=True)
        out, _, _, ws = numlstm.lstm_forward(**args)
        phase[0] = "backward"
        numlstm.lstm_backward(ws, np.ones_like(out))
    return counts


@pytest.mark.parametrize("loop", [{}, {"split_below": 10**9}], ids=["one thread per unit", "split steps"])
def test_launches_per_timestep_are_one_forward_and_two_backward(monkeypatch, rng, loop):
    """The issue's budget is at most 2 per step forward and 3 backward; the GEMMs run once per pass."""
    force_time_loop(monkeypatch, **loop)
    short, long = _launches(rng, 2), _launches(rng, 5)
    assert (long["forward"] - short["forward"]) / 3 == 1
    assert (long["backward"] - short["backward"]) / 3 == 2


def test_gemm_steps_launch_two_kernels_per_step_each_way(monkeypatch, rng):
    force_time_loop(monkeypatch, gemm_steps_from=0)
    set_gpu_options(monkeypatch, gemm_library="numba")  # cuBLAS's GEMMs launch no numba kernel
    short, long = _launches(rng, 2), _launches(rng, 5)
    assert (long["forward"] - short["forward"]) / 3 == 2
    assert (long["backward"] - short["backward"]) / 3 == 2


def test_persistent_passes_launch_the_same_kernels_whatever_the_length(monkeypatch, rng):
    set_gpu_options(monkeypatch, persistent_below=10**9)
    short, long = _launches(rng, 2), _launches(rng, 5)
    assert long == short


def test_the_persistent_backward_transposes_no_copy_of_the_recurrent_kernel(monkeypatch, rng):
    """The persistent loop copies the recurrent kernel into shared memory itself, transposed."""
    _force_persistent(monkeypatch)
    counts = _launches(rng, 3)
    assert counts["backward", "backward_persistent"] == 1
    assert counts["backward", "transpose"] == 0


def test_absent_inputs_cost_no_launch_after_the_first_pass(monkeypatch, rng):
    """No initial states, peepholes or masks: their zeros are made once per shape and shared (nothing
    writes them), so later passes launch no fill for them."""
    from numlstm.backend import cuda as gpu_backend

    args = random_lstm_args(rng, B=2, T=3, F=2, H=3)
    first = numlstm.lstm_forward(**args)[0]
    made = []
    zeros = gpu_backend.zeros
    monkeypatch.setattr(gpu_backend, "zeros", lambda *a: made.append(a) or zeros(*a))
    np.testing.assert_array_equal(numlstm.lstm_forward(**args)[0], first)
    assert made == []


def test_the_final_states_handed_out_are_copies(rng):
    """NaN written into the h_n and c_n that a resident forward returns leaves its workspace, whose last
    c the backward reads, as it was."""
    from numba import cuda

    args = random_lstm_args(rng, B=2, T=3, F=2, H=3, peephole=True)
    out, h_n, c_n, ws = numlstm.lstm_forward(**args)
    d_out, d_h_n, d_c_n = rng.standard_normal(out.shape), rng.standard_normal(h_n.shape), rng.standard_normal(h_n.shape)
    want = numlstm.lstm_backward(ws, d_out, d_h_n, d_c_n)
    _, h_n_on_device, c_n_on_device, ws_on_device = numlstm.lstm_forward(**dict(args, x=cuda.to_device(args["x"])))
    np.testing.assert_allclose(h_n_on_device.copy_to_host(), h_n, rtol=1e-14)
    np.testing.assert_allclose(c_n_on_device.copy_to_host(), c_n, rtol=1e-14)
    for state in (h_n_on_device, c_n_on_device):
        state.copy_to_device(np.full(state.shape, np.nan))
    got = numlstm.lstm_backward(ws_on_device, *(cuda.to_device(a) for a in (d_out, d_h_n, d_c_n)))
    for name, g, w in zip(got._fields, got, want):
        np.testing.assert_allclose(g.copy_to_host(), w, rtol=1e-13, atol=1e-15, err_msg=name)


def test_device_arrays_in_give_device_arrays_out(rng):
    """Given device arrays (some arguments may stay on the host), the pass runs on the GPU and returns
    device arrays equal to the host path's; the caller's final-state gradients are not consumed."""
    from numba import cuda

    from numlstm import backend

    args = random_lstm_args(rng, B=3, T=4, F=2, H=3, peephole=True, mask=True, initial_state=True)
    out, h_n, c_n, ws = numlstm.lstm_forward(**args)
    d_out, d_h_n = rng.standard_normal(out.shape), rng.standard_normal(h_n.shape)
    host = numlstm.lstm_backward(ws, d_out, d_h_n)

    on_device = dict(args, x=cuda.to_device(args["x"]), recurrent_kernel=cuda.to_device(args["recurrent_kernel"]),
                     mask=cuda.to_device(args["mask"]))
    with numlstm.device("cpu"):  # device arrays decide, whatever the current device
        results = numlstm.lstm_forward(**on_device)
        assert all(backend.is_device_array(a) for a in results[:3])
        for got, want in zip(results[:3], (out, h_n, c_n)):
            np.testing.assert_allclose(got.copy_to_host(), want, rtol=1e-14)
        d_h_n_on_device = cuda.to_device(d_h_n)
        grads = numlstm.lstm_backward(results[3], cuda.to_device(d_out), d_h_n_on_device)
    np.testing.assert_array_equal(d_h_n_on_device.copy_to_host(), d_h_n)
    for name, got, want in zip(grads._fields, grads, host):
        assert backend.is_device_array(got), name
        np.testing.assert_allclose(got.copy_to_host(), want, rtol=1e-13, atol=1e-15, err_msg=name)


def test_device_arrays_get_the_same_argument_checks(rng):
    from numba import cuda

    args = random_lstm_args(rng, B=2, T=3, F=2, H=3)
    x = cuda.to_device(args["x"])
    with pytest.raises(TypeError, match="kernel has dtype float32 but x has dtype float64"):
        numlstm.lstm_forward(x, cuda.to_device(args["kernel"].astype(np.float32)), args["recurrent_kernel"])
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, timesteps\)"):
        numlstm.lstm_forward(x, args["kernel"], args["recurrent_kernel"], mask=cuda.to_device(np.ones((2, 2), bool)))
    bad = args["x"].copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"x contains NaN or infinity \(first at index \(1, 2, 0\)\)"):
        numlstm.lstm_forward(cuda.to_device(bad), args["kernel"], args["recurrent_kernel"])


@pytest.mark.parametrize("name", ["x", "kernel", "recurrent_kernel", "h0", "mask"])
def test_a_device_array_that_is_not_c_contiguous_is_refused_by_name(rng, name):
    """The GPU kernels take C-contiguous arrays (some read flat): a transposed or strided device array gets
    a ValueError naming it, not a kernel that reads it in the wrong order."""
    from numba import cuda

    args = random_lstm_args(rng, B=2, T=3, F=2, H=3, initial_state=True)
    args["mask"] = np.ones((2, 3), bool)
    given = {key: args[key] for key in ("x", "kernel", "recurrent_kernel", "h0", "mask")}
    given = {key: cuda.to_device(value) for key, value in given.items()}
    given[name] = cuda.to_device(np.asfortranarray(args[name]))
    with pytest.raises(ValueError, match=rf"^{name} must be a C-contiguous device array, got shape "):
        numlstm.lstm_forward(given.pop("x"), given.pop("kernel"), given.pop("recurrent_kernel"), **given)


def test_more_rows_per_thread_than_slices_is_refused():
    """A split step finishes each (unit, row) with one of its slice threads: rows cannot outnumber them."""
    from numlstm.kernels.cuda import lstm as cuda_lstm

    options = active_gpu_options()
    with pytest.raises(ValueError, match=r"rows \(\d+\) must not exceed split_slices and persistent_slices"):
        cuda_lstm.kernels_for(np.float64, dataclasses.replace(options, rows=options.split_slices + 1))


@pytest.mark.parametrize("bound", [-1, 2.5, True, "4"])
def test_a_launch_bound_that_is_no_count_of_blocks_is_refused(bound):
    from numlstm.kernels.cuda import lstm as cuda_lstm

    with pytest.raises(ValueError, match=rf"persistent_blocks_per_sm must be a whole number of blocks, 0 for no "
                                         rf"bound, got {re.escape(repr(bound))}"):
        cuda_lstm.kernels_for(np.float64, dataclasses.replace(active_gpu_options(), persistent_blocks_per_sm=bound))
