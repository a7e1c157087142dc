"""Who runs the time loop: Numba's threads over blocks of batch rows, or one thread."""

import numba
import pytest

from numlstm.functional import _time_loop_chunks


@pytest.fixture
def two_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    previous = numba.get_num_threads()
    numba.set_num_threads(2)
    yield
    numba.set_num_threads(previous)


def test_batches_split_over_numba_threads(two_threads):
    assert _time_loop_chunks(16) == 2
    assert _time_loop_chunks(2) == 2


def test_a_single_sequence_runs_on_one_thread(two_threads):
    assert _time_loop_chunks(1) == 1


def test_thread_count_is_honoured(two_threads):
    numba.set_num_threads(1)
    assert _time_loop_chunks(16) == 1
