"""Kernels that call each other through native addresses (numlstm.kernels.cpu.native_calls)."""

import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from numba import njit, types

import numlstm
from numlstm.kernels.cpu import lstm
from numlstm.threads import numba_threads
from numlstm.kernels.cpu.native_calls import (NativeEntries, NativeEntryMissing, call_with_entries, load_arguments,
                                              run_blocks, signature_check)


@njit
def _scale_rows(chunk, chunks, arguments):
    values, factor, calls = load_arguments(arguments)
    n = values.shape[0]
    for i in range(chunk * n // chunks, (chunk + 1) * n // chunks):
        values[i] *= factor
    calls[chunk] += 1


@njit
def _scale_all(table, values, factor, calls):
    run_blocks(table, (values, factor, calls), calls.shape[0])


def _float64_types():
    return (types.float64[::1], types.float64, types.int64[::1])


def test_a_caller_calls_the_version_compiled_for_its_argument_types():
    entries = NativeEntries(_scale_rows)
    values, calls = np.arange(4.0), np.zeros(1, np.int64)
    with pytest.raises(NativeEntryMissing):
        _scale_all(entries.table, values, 2.0, calls)
    np.testing.assert_array_equal(values, np.arange(4.0))  # it raised before touching anything

    call_with_entries(_scale_all, entries, _float64_types, values, 2.0, calls)
    np.testing.assert_array_equal(values, 2 * np.arange(4.0))
    assert entries.table.shape == (1, 2)
    assert entries.table[0, 0] == signature_check(_float64_types())

    call_with_entries(_scale_all, entries, _float64_types, values, 0.5, calls)  # found: nothing added
    np.testing.assert_array_equal(values, np.arange(4.0))
    assert entries.table.shape == (1, 2)


@pytest.mark.parametrize("chunks", [1, 3])
def test_every_share_runs_once(chunks):
    entries = NativeEntries(_scale_rows)
    values, calls = np.arange(10.0), np.zeros(chunks, np.int64)
    call_with_entries(_scale_all, entries, _float64_types, values, 3.0, calls)
    np.testing.assert_array_equal(values, 3 * np.arange(10.0))
    np.testing.assert_array_equal(calls, np.ones(chunks))


@njit
def _record_thread(chunk, chunks, arguments):
    (thread_ids,) = load_arguments(arguments)
    thread_ids[chunk] = numba.get_thread_id()


@njit
def _record_threads(table, thread_ids):
    run_blocks(table, (thread_ids,), thread_ids.shape[0])


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two of Numba's threads")
def test_several_shares_run_on_numbas_threads_and_one_on_the_callers():
    entries = NativeEntries(_record_thread)
    thread_ids = np.full(2, -1, np.int64)
    with numba_threads(2):
        call_with_entries(_record_threads, entries, lambda: (types.int64[::1],), thread_ids)
        assert sorted(thread_ids) == [0, 1]
        one = np.full(1, -1, np.int64)
        _record_threads(entries.table, one)
        assert one[0] == numba.get_thread_id()


def test_a_version_for_other_types_is_never_called():
    entries = NativeEntries(_scale_rows)
    entries.add(_float64_types())
    float32_values = np.arange(4, dtype=np.float32)
    calls = np.zeros(1, np.int64)
    with pytest.raises(NativeEntryMissing):  # float32 arrays: the float64 version does not match
        _scale_all(entries.table, float32_values, np.float32(2), calls)
    # Types computed wrongly on the Python side add a version that still does not match: the call fails again.
    with pytest.raises(NativeEntryMissing):
        call_with_entries(_scale_all, entries, _float64_types, float32_values, np.float32(2), calls)
    np.testing.assert_array_equal(float32_values, np.arange(4))


def test_checksums_differ_between_types_and_are_never_zero():
    float64_check = signature_check(_float64_types())
    float32_check = signature_check((types.float32[::1], types.float32, types.int64[::1]))
    readonly_check = signature_check((types.Array(types.float64, 1, "C", readonly=True), types.float64,
                                      types.int64[::1]))
    assert len({float64_check, float32_check, readonly_check}) == 3
    assert 0 not in (float64_check, float32_check, readonly_check)


def _read_only(array):
    array = array.copy()
    array.flags.writeable = False
    return array


def _unaligned(array):
    raw = np.zeros(array.nbytes + 1, np.uint8)
    view = raw[1:].view(array.dtype).reshape(array.shape)
    view[...] = array
    return view


@pytest.mark.parametrize("make", [_read_only, _unaligned], ids=["read-only", "unaligned"])
@pytest.mark.parametrize("cifg", [False, True], ids=["standard", "cifg"])
def test_lstm_passes_over_unusual_arrays_match_the_usual_ones(make, cifg):
    """Read-only and unaligned arrays are other Numba types: the block loops get versions compiled for them."""
    rng = np.random.default_rng(0)
    B, T, F, H = 3, 5, 2, 4
    G = 3 if cifg else 4
    x = rng.standard_normal((B, T, F))
    kernel, recurrent_kernel = rng.standard_normal((F, G * H)), rng.standard_normal((H, G * H))
    bias, peephole = rng.standard_normal(G * H), rng.standard_normal((G - 1) * H)
    mask = rng.random((B, T)) > 0.3
    d_outputs = rng.standard_normal((B, T, H))

    def run(wrap):
        out, h, c, workspace = numlstm.lstm_forward(x, kernel, recurrent_kernel, wrap(bias), mask=wrap(mask),
                                                    peephole=wrap(peephole), cifg=cifg)
        grads = numlstm.lstm_backward(workspace, wrap(d_outputs))
        return [out, h, c, *[g for g in grads if g is not None]]

    for usual, unusual in zip(run(np.array), run(make)):
        np.testing.assert_array_equal(usual, unusual)


@pytest.mark.parametrize("fused", [True, False], ids=["fused-projection", "gemm-projection"])
def test_the_block_types_are_those_the_entry_points_pass(monkeypatch, fused):
    """The ``*_types`` functions describe what the entry points pass to their blocks: a pass over fresh
    tables adds exactly one version of each block, and later passes none, with or without initial states
    and final-state gradients, over writable or read-only inputs (one block version serves both:
    ``native_calls.read_only``; each version is seconds of a first run). A fused input projection
    compiles no input-projection block."""
    monkeypatch.setattr(numlstm.functional, "fuses_input_projection", lambda *shape: fused)
    names = "INPUT_PROJECTION_ROWS", "FORWARD_ROWS", "BACKWARD_ROWS", "WEIGHT_GRADIENT_ROWS"
    saved = {name: getattr(lstm, name) for name in names}

    def fresh(entries):
        return tuple(map(fresh, entries)) if isinstance(entries, tuple) else NativeEntries(entries.function)

    try:
        for name in names:
            setattr(lstm, name, fresh(saved[name]))
        rng = np.random.default_rng(1)
        x = rng.standard_normal((2, 3, 2)).astype(np.float32)
        kernel = rng.standard_normal((2, 16)).astype(np.float32)
        recurrent_kernel = rng.standard_normal((4, 16)).astype(np.float32)
        read_only_x, states = x.copy(), np.ones((2, 4), np.float32)
        read_only_x.flags.writeable = states.flags.writeable = False
        for inputs, h0, d_h_n in [(x, None, None), (x, None, None), (read_only_x, states, states)]:
            out, _, _, workspace = numlstm.lstm_forward(inputs, kernel, recurrent_kernel, h0=h0, c0=h0)
            numlstm.lstm_backward(workspace, np.ones_like(out), d_h_n, d_h_n)
            assert lstm.INPUT_PROJECTION_ROWS.table.shape == (0 if fused else 1, 2)
            assert lstm.FORWARD_ROWS[False].table.shape == (1, 2)
            assert lstm.BACKWARD_ROWS[False].table.shape == (1, 2)
            assert lstm.WEIGHT_GRADIENT_ROWS.table.shape == (1, 2)
    finally:
        for name in names:
            setattr(lstm, name, saved[name])


_ONE_SEQUENCE_FORWARD = """
import sys
import numpy as np
import numlstm
dtype = np.dtype(sys.argv[1])
x = np.linspace(-1, 1, 12, dtype=dtype).reshape(1, 6, 2)
kernel, recurrent_kernel = np.full((2, 12), 0.1, dtype), np.full((3, 12), 0.1, dtype)
print(float(numlstm.lstm_forward(x, kernel, recurrent_kernel)[0].sum()))
"""


@pytest.mark.slow
def test_entry_points_from_numbas_cache_run_in_a_process_that_has_started_no_threads(tmp_path):
    """An entry point compiled where the parallel loop came from Numba's cache is cached without the threading
    layer's start; loaded by a later process whose first pass is serial (a batch of one), it crashed that
    process until ``call_with_entries`` started the layer itself. Each run is a new process sharing one cache:
    the float32 run compiles the loop, the first float64 run loads it, the second loads everything."""
    environment = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    sums = []
    for dtype in ("float32", "float64", "float64"):
        completed = subprocess.run([sys.executable, "-c", _ONE_SEQUENCE_FORWARD, dtype], env=environment,
                                   capture_output=True, text=True, timeout=300)
        assert completed.returncode == 0, (dtype, completed.returncode, completed.stderr[-2000:])
        sums.append(float(completed.stdout))
    assert sums[1] == sums[2] and abs(sums[0] - sums[1]) < 1e-5
