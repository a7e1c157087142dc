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


def test_single_threaded_blas_puts_every_blas_on_one_thread_and_restores_it():
    from threadpoolctl import ThreadpoolController

    from numlstm.blas_threads import single_threaded_blas

    controller = ThreadpoolController()

    def blas_threads():
        return [info["num_threads"] for info in controller.select(user_api="blas").info()]

    with controller.limit(limits=2, user_api="blas"):  # whatever the machine's cores or environment say
        before = blas_threads()
        assert before and set(before) == {2}
        with single_threaded_blas():
            assert blas_threads() == [1] * len(before)
            with single_threaded_blas():
                assert blas_threads() == [1] * len(before)
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == before
        with pytest.raises(RuntimeError), single_threaded_blas():
            raise RuntimeError("a failed time loop")
        assert blas_threads() == before
