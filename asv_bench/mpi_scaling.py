"""Weak scaling of data-parallel training over MPI, and the share of time in the gradient Allreduce.

    mpiexec -n 1 python asv_bench/mpi_scaling.py --size medium
    mpiexec -n 2 python asv_bench/mpi_scaling.py --size medium

``MPIStrategy`` gives each rank its share of the node's cores (no thread
variables needed; ``NUMBA_NUM_THREADS``, where set, stands).

Weak scaling: every rank keeps the engine benchmark's batch (B rows per
rank, global batch B x ranks), one LSTM layer + Dense(1), Adam, MSE; the
time per step should stay flat as ranks are added. Rank 0 prints the
median step time over the measured epochs and the share of it spent in
``MPIStrategy.reduce_sums`` (the one Allreduce per step).
"""

import argparse
import sys
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))

import numlstm  # noqa: E402
from benchmarks.common import SIZES  # noqa: E402
from numlstm.distributed import MPIStrategy  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="medium", choices=list(SIZES))
    parser.add_argument("--steps", type=int, default=10, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=4, help="measured epochs (one more warms up)")
    args = parser.parse_args()

    strategy = MPIStrategy()
    B, T, F, H = SIZES[args.size]
    global_batch = B * strategy.size
    rng = np.random.default_rng(0)
    x = rng.standard_normal((global_batch * args.steps, T, F)).astype(np.float32)
    y = x.mean(axis=(1, 2))[:, None]
    numlstm.utils.set_random_seed(0)
    model = numlstm.Sequential([numlstm.layers.Input((T, F)), numlstm.layers.LSTM(H), numlstm.layers.Dense(1)])
    model.compile("adam", "mse")

    reducing = [0.0]
    reduce_sums = strategy.reduce_sums

    def timed_reduce(values):
        start = time.perf_counter()
        result = reduce_sums(values)
        reducing[0] += time.perf_counter() - start
        return result

    strategy.reduce_sums = timed_reduce
    model.fit(x, y, batch_size=global_batch, epochs=1, verbose=0, distribute=strategy)  # JIT warm-up
    step_times, shares = [], []
    for _ in range(args.epochs):
        reducing[0] = 0.0
        strategy.comm.Barrier()
        start = time.perf_counter()
        model.fit(x, y, batch_size=global_batch, epochs=1, verbose=0, distribute=strategy)
        elapsed = time.perf_counter() - start
        step_times.append(elapsed / args.steps)
        shares.append(reducing[0] / elapsed)
    step = float(np.median(step_times))
    share = float(np.median(shares))
    parameters = model.count_params()
    if strategy.is_main:
        print(f"{args.size} (B={B} per rank, T={T}, F={F}, H={H}; {parameters:,} parameters): "
              f"{strategy.size} rank(s), {step * 1e3:.2f} ms per step (median of {args.epochs} epochs), "
              f"{100 * share:.1f}% in the gradient Allreduce")


if __name__ == "__main__":
    main()
