"""Synchronous data-parallel training over MPI: ``model.fit(..., distribute=MPIStrategy())``.

    # train.py, run as `mpiexec -n 4 python train.py` (or srun), or plainly `python train.py`
    strategy = numlstm.distributed.MPIStrategy()
    model.fit(x, y, batch_size=256, epochs=10, distribute=strategy)

Horovod's scheme with Keras' batch: every rank passes the same ``x`` and
``y``; ``batch_size`` stays the global batch, and each global batch is split
evenly over the ranks, so the same script trains the same model with or
without ``mpiexec``. At the start of ``fit`` rank 0's weights and optimizer
state are broadcast; every epoch rank 0 draws the shuffle order and
broadcasts it. Each step, every rank computes the gradient of its share and
one ``Allreduce`` over a single flat buffer (the gradient, weighted by the
share's size, and the loss) gives every rank the gradient of the whole
batch, so the optimizer step, and the weights, stay identical everywhere.
Validation and ``evaluate`` split their rows over the ranks and reduce the
sums; ``predict`` gathers its rows on every rank. The epoch's logs are
rank 0's, broadcast, so callbacks such as EarlyStopping decide the same on
every rank; only rank 0 prints progress and writes checkpoints, CSV logs and
backups.

Failures: an exception on any rank prints that rank's traceback and aborts
the whole job (``MPI_Abort``), never a hang. mpi4py is imported only here
(the optional extra ``mpi``: mpi4py and the ``mpich`` wheel).
"""

import json
import sys
import time
import traceback
import zlib

import numpy as np

from . import backend, dispatch, threads, utils


_FORWARDING_GRACE_SECONDS = 0.5


class LocalStrategy:
    """One process: what ``fit`` does without ``distribute``."""

    rank, size, is_main = 0, 1, True

    def shard(self, count):
        """This process's rows ``[start, stop)`` of ``count`` rows: all of them.

        Parameters
        ----------
        count : int
        """
        return 0, count

    def start(self, model):
        """Prepare ``model`` for training (nothing to share in one process).

        Parameters
        ----------
        model : Model
        """

    def synchronize(self, model):
        """Make every process's weights equal (one process: they are).

        Parameters
        ----------
        model : Model
        """

    def broadcast_order(self, order):
        """The epoch's sample order, the same on every process.

        Parameters
        ----------
        order : array of int
        """
        return order

    def reduce_sums(self, values):
        """Elementwise sums over the processes (one process: ``values``).

        Parameters
        ----------
        values : sequence of float
        """
        return values

    def broadcast_logs(self, logs):
        """Rank 0's epoch logs on every process (one process: ``logs``).

        Parameters
        ----------
        logs : dict
        """
        return logs

    def gather_rows(self, rows):
        """Every process's rows, concatenated in rank order (one process: ``rows``).

        Parameters
        ----------
        rows : array
        """
        return rows

    def abort(self, exc):
        """End the run with ``exc`` (one process: raise it).

        Parameters
        ----------
        exc : BaseException
        """
        raise exc


class MPIStrategy(LocalStrategy):
    """Data parallelism over the ranks of ``comm`` (default ``MPI.COMM_WORLD``).

    Parameters
    ----------
    comm : mpi4py.MPI.Comm, optional
        The ranks to train over; ``MPI.COMM_WORLD`` by default.

    Attributes
    ----------
    rank, size : int
        This process's rank and the number of ranks.
    is_main : bool
        True on rank 0, the one that prints and writes files.
    local_ranks : int
        The ranks on this process's node (MPI's shared-memory communicator). They share its cores:
        each rank computes on ``available cores // local_ranks`` of Numba's threads, BLAS on one
        (:mod:`numlstm.threads`), unless ``NUMBA_NUM_THREADS`` is set.
    gpu : int or None
        The GPU this rank computes on when the device is "cuda": ranks on
        one node take its GPUs in turn. None without a GPU.
    """

    def __init__(self, comm=None):
        try:
            from mpi4py import MPI
        except ImportError:
            raise ImportError('MPIStrategy needs mpi4py and an MPI library: pip install "numlstm[mpi]"') from None
        self._mpi = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.is_main = self.rank == 0
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)  # the ranks on this node
        self.local_ranks = node.Get_size()
        threads.share_node(self.local_ranks)
        self.gpu = self._select_gpu(node.Get_rank())
        node.Free()
        if self.size > 1:
            self._abort_on_uncaught_exceptions()

    @staticmethod
    def _select_gpu(local_rank):
        """The ranks that share a node take its GPUs in turn (local rank modulo GPU count), as Horovod's
        scripts do by hand; returns the GPU's index, or None without a GPU.

        With one visible GPU per rank (``CUDA_VISIBLE_DEVICES`` set by the
        launcher) every rank keeps its own. Create the strategy before the
        first GPU computation: arrays already on a GPU stay on that one.
        """
        if not dispatch.gpu_available():
            return None
        from numba import cuda

        count = len(cuda.gpus)
        index = local_rank % count
        if count > 1:
            cuda.select_device(index)
        return index

    def _abort_on_uncaught_exceptions(self):
        def hook(kind, value, trace):
            self._abort_now(value)

        sys.excepthook = hook

    def _abort_now(self, exc):
        """Print ``exc`` with its rank in one write, give the launcher a moment to forward it (mpiexec may
        drop what a rank wrote just before the job is torn down), and end every rank."""
        message = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        sys.stdout.flush()
        sys.stderr.write(f"numlstm: rank {self.rank} of {self.size} failed; aborting the job\n{message}")
        sys.stderr.flush()
        time.sleep(_FORWARDING_GRACE_SECONDS)
        self.comm.Abort(1)

    def abort(self, exc):
        """Print ``exc`` with its rank and end every rank of the job."""
        if self.size == 1:
            raise exc
        self._abort_now(exc)

    def shard(self, count):
        """This rank's rows [start, stop) of ``count`` rows, split as evenly as possible."""
        return self.rank * count // self.size, (self.rank + 1) * count // self.size

    def start(self, model):
        """Give every rank rank 0's weights and optimizer state, and each rank its own dropout stream."""
        self.synchronize(model)
        # Ranks other than 0 draw dropout masks from streams of their own (rank 0 keeps the
        # generator a single process would have: with dropout off it only shuffles, which
        # rank 0 does for everyone).
        state = json.dumps(utils.global_generator().bit_generator.state, sort_keys=True, default=int)
        base = self.comm.bcast(zlib.crc32(state.encode()), root=0)
        if self.rank:
            utils.set_global_generator(np.random.default_rng([base, self.rank]))

    def synchronize(self, model):
        """Rank 0's weights and optimizer state on every rank (at the start and after every epoch).

        The per-step Allreduce already gives every rank the same gradient;
        this makes the weights bit-identical even where an MPI library's
        reduction order differed between ranks.
        """
        arrays = [model.parameter_buffer]
        if model.optimizer is not None:
            model.optimizer.iterations = self.comm.bcast(model.optimizer.iterations, root=0)
            arrays += model.optimizer.variables()
        for array in arrays:  # through the host: MPI libraries need not be CUDA-aware
            host = np.ascontiguousarray(backend.to_host(array))
            self.comm.Bcast(host, root=0)
            if host is not array:
                backend.assign(array, host)

    def broadcast_order(self, order):
        """Rank 0's sample order for the epoch, on every rank (every rank then cuts the same batches)."""
        order = np.ascontiguousarray(order, dtype=np.int64)
        self.comm.Bcast(order, root=0)
        return order

    def reduce_sums(self, values):
        """Elementwise sums over the ranks of a float64 vector, the same on every rank."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        self.comm.Allreduce(self._mpi.IN_PLACE, values, op=self._mpi.SUM)
        return values

    def broadcast_logs(self, logs):
        """Rank 0's epoch logs on every rank, so that callbacks decide the same everywhere."""
        return self.comm.bcast(logs, root=0)

    def gather_rows(self, rows):
        """Every rank's rows, concatenated in rank order, on every rank."""
        parts = self.comm.allgather(rows)
        return np.concatenate([part for part in parts if len(part)] or [rows])


LOCAL = LocalStrategy()
