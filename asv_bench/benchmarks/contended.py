"""One LSTM layer on a busy machine: numlstm and torch.nn.LSTM with CPU-bound competitor processes beside them.

Users' machines are never quiet. Each benchmark starts ``competitors``
processes that spin on the CPU (a ``while True`` loop each) in ``setup`` and
stops them in ``teardown``; the time of a training step and of a forward
pass is then what a user sees while another job runs. The
``track_*_slowdown`` benchmarks time the same call quiet and then with the
competitors started, in one process, and report the ratio (the targets of
issue 22: at most 2.5x with one competitor, 3x with two). The side-by-side
table, each framework in its own process: ``asv_bench/compare.py
--competitors 0 1 2``.
"""

import subprocess
import sys
import time

import numpy as np

from .common import SIZES, timings
from .lstm_cpu import NumlstmLSTM, TorchLSTM

COMPETITORS = [0, 1, 2]


class Competitors:
    """``count`` processes that each keep one core busy, until ``stop``."""

    def __init__(self, count):
        self.processes = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
        time.sleep(0.2 if count else 0)  # let them start spinning

    def stop(self):
        for process in self.processes:
            process.kill()
            process.wait()
        self.processes = []


def median_seconds(function, seconds=1.0):
    return float(np.median(timings(function, seconds)))


class _Contended:
    params = [list(SIZES), COMPETITORS]
    param_names = ["size", "competitors"]
    timeout = 300
    peer = None

    def setup(self, size, competitors):
        self.bench = self.peer()
        self.bench.setup(size)
        self.competitors = Competitors(competitors)

    def teardown(self, size, competitors):
        self.competitors.stop()

    def time_train_step(self, size, competitors):
        self.bench.time_train_step(size)

    def time_forward(self, size, competitors):
        self.bench.time_forward(size)

    def _slowdown(self, call, size, competitors):
        self.competitors.stop()
        quiet = median_seconds(lambda: call(size))
        self.competitors = Competitors(competitors)
        return median_seconds(lambda: call(size)) / quiet

    def track_train_step_slowdown(self, size, competitors):
        return self._slowdown(self.bench.time_train_step, size, competitors)

    def track_forward_slowdown(self, size, competitors):
        return self._slowdown(self.bench.time_forward, size, competitors)

    track_train_step_slowdown.unit = "x quiet"
    track_forward_slowdown.unit = "x quiet"


class NumlstmContended(_Contended):
    peer = NumlstmLSTM


class TorchContended(_Contended):
    peer = TorchLSTM
