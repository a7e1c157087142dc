"""Who runs the time loop: Numba's threads for small steps, one thread for large ones."""

import numba
import pytest

from numlstm.functional import _time_loop_chunks
from numlstm.kernels import config


@pytest.fixture
def two_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    previous = numba.get_num_threads()
    numba.set_num_threads(2)
    yield
    numba.set_num_threads(previous)


def test_small_steps_split_the_batch_over_numba_threads(two_threads):
    assert _time_loop_chunks(16, 64, 256) == 2
    assert _time_loop_chunks(1, 64, 256) == 1, "a single sequence runs serially"


def test_large_steps_run_serially(two_threads):
    units = 512
    assert 64 * units * 4 * units > config.PARALLEL_MAX_STEP_MULTIPLY_ADDS
    assert _time_loop_chunks(64, units, 4 * units) == 1


def test_thread_count_is_honoured(two_threads):
    numba.set_num_threads(1)
    assert _time_loop_chunks(16, 64, 256) == 1
