"""Kernels that call each other through native addresses (numlstm.kernels.cpu.native_calls)."""

import numpy as np
import pytest
from numba import njit, types

import numlstm
from numlstm.kernels.cpu import lstm
from numlstm.kernels.cpu.native_calls import (NativeEntries, NativeEntryMissing, argument_check, call_native,
                                              call_with_entries, find_entry, signature_check)


@njit
def _scale_rows(lo, hi, values, factor):
    for i in range(lo, hi):
        values[i] *= factor


@njit
def _scale_all(table, values, factor):
    arguments = (np.int64(0), np.int64(values.shape[0]), values, factor)
    address = find_entry(table, argument_check(arguments))
    if address == 0:
        raise NativeEntryMissing("no version for these types")
    call_native(address, arguments)


def _float64_types():
    return (types.int64, types.int64, types.float64[::1], types.float64)


def test_a_caller_calls_the_version_compiled_for_its_argument_types():
    entries = NativeEntries(_scale_rows)
    values = np.arange(4.0)
    with pytest.raises(NativeEntryMissing):
        _scale_all(entries.table, values, 2.0)
    np.testing.assert_array_equal(values, np.arange(4.0))  # it raised before touching anything

    call_with_entries(_scale_all, entries, _float64_types, values, 2.0)
    np.testing.assert_array_equal(values, 2 * np.arange(4.0))
    assert entries.table.shape == (1, 2)
    assert entries.table[0, 0] == signature_check(_float64_types())

    call_with_entries(_scale_all, entries, _float64_types, values, 0.5)  # found: nothing added
    np.testing.assert_array_equal(values, np.arange(4.0))
    assert entries.table.shape == (1, 2)


def test_a_version_for_other_types_is_never_called():
    entries = NativeEntries(_scale_rows)
    entries.add(_float64_types())
    float32_values = np.arange(4, dtype=np.float32)
    with pytest.raises(NativeEntryMissing):  # float32 arrays: the float64 version does not match
        _scale_all(entries.table, float32_values, np.float32(2))
    # Types computed wrongly on the Python side add a version that still does not match: the call fails again.
    with pytest.raises(NativeEntryMissing):
        call_with_entries(_scale_all, entries, _float64_types, float32_values, np.float32(2))
    np.testing.assert_array_equal(float32_values, np.arange(4))


def test_checksums_differ_between_types_and_are_never_zero():
    float64_check = signature_check(_float64_types())
    float32_check = signature_check((types.int64, types.int64, types.float32[::1], types.float32))
    readonly_check = signature_check((types.int64, types.int64, types.Array(types.float64, 1, "C", readonly=True),
                                      types.float64))
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


def test_the_block_types_are_those_the_entry_points_pass():
    """The ``*_types`` functions describe what the entry points pass to their blocks: a pass over fresh
    tables adds exactly one version of each block, and later passes none, with or without initial states
    and final-state gradients, over writable or read-only inputs (one block version serves both:
    ``native_calls.read_only``; each version is seconds of a first run)."""
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
            assert lstm.INPUT_PROJECTION_ROWS.table.shape == (1, 2)
            assert lstm.FORWARD_ROWS[False].table.shape == (1, 2)
            assert lstm.BACKWARD_ROWS[False].table.shape == (1, 2)
            assert lstm.WEIGHT_GRADIENT_ROWS.table.shape == (1, 2)
    finally:
        for name in names:
            setattr(lstm, name, saved[name])
