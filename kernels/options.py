"""Compilation and launch options of the CPU and GPU kernels, in one place."""

# No 'nnan'/'ninf': a NaN must propagate, never be optimised into a finite value.
# 'reassoc' lets reductions vectorise; 'contract' allows FMA.
FASTMATH = {"contract", "reassoc", "nsz", "arcp"}

# error_model="numpy" drops the division-by-zero checks that block vectorisation.
JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": FASTMATH}

# GPU launches. gemm_*: a GEMM block computes a gemm_block x gemm_block
# tile of the output through gemm_depth-deep shared-memory slabs, each of its
# (gemm_block / gemm_micro)**2 threads a gemm_micro x gemm_micro micro-tile
# in registers (64 x 64 by 256 threads: the classic register-blocked SGEMM
# shape; on an H200 128 x 128 tiles ran the larger input projections up to
# 1.35x faster and the weight gradients up to 2x slower, and both ran at
# 1-12 TFLOP/s against cuBLAS's 18-49); threads: threads per block of the
# per-step kernels; rows: batch rows per thread of the per-step recurrent
# products (each thread reads its weight column once for that many rows; 4
# and 8 timed alike on an H200, 2 and 16 up to 1.8x and 1.5x slower at
# 1024x64x25; a batch of one runs kernels built for one row,
# gpu_lstm.rows_for_batch: at B = 1 the persistent forward's recurrent sum
# then takes 28 instructions a step of k against 86, nvdisasm on sm_90). fastmath
# (tanh.approx and friends) stays off: on an H200 it made a training step
# no faster (7.08 ms against 7.02) and its float32 error 13x larger.
# split_*: a forward or recurrent backward step that would launch fewer
# than split_below threads (one per hidden unit and row block: small
# batches) runs split instead, blocks of split_units units x split_slices
# slices of the recurrent sum, so that H / split_units blocks, not H
# threads, read the recurrent weights. The threshold comes from occupancy
# (about 2 x 132 SMs x 128 threads on an H100); on an H200 the split steps
# beat one thread per unit at every DeepBench size (1.7-6x in training),
# which all lie below it.
# persistent_*: a forward or backward pass below persistent_below (unit,
# row block) pairs per step runs as one cooperative kernel for the sequence,
# blocks of persistent_units x persistent_slices threads, each block holding
# its units' recurrent weights in shared memory when they fit in
# shared_bytes (48 KiB, what a block gets unasked; above it the kernels opt
# in to more, up to the device's limit); where they do not fit, it runs
# per step instead unless persistent_uncached. Measured on an H200
# (asv_bench/README.md), against the split steps launched prepared
# (gpu_launch.py): with the weights cached they win up to 2048 pairs
# (inference at N <= 4: 1.27-1.43 ms against 1.67-1.80; training at
# 512x16x25: 3.3 ms against 4.3) and lose at 4096 (256x64x150 training:
# 13.9 ms against 9.9); uncached they lose everywhere (1024x64x25 training:
# 20.5 ms against 11.1). Those figures are of the first tiling, where a
# block's tiles were of different unit blocks, so that each row block of a
# unit block cached its weights again (512x64x25 needed 4 MiB of weights 16
# times over, and found no cache); now each block owns whole unit blocks for
# all its rows (gpu_lstm.owned_tiles), which caches the weights once per
# row group: that fits both passes at every DeepBench size (the backward's
# cache at H = 1024 in 32 KiB of the 48 KiB budget: gpu_lstm._cache_width)
# but for the forward pass at H = 1024: on an H100 and an H200 (2026-11-26)
# its kernel kept only 3 blocks per SM resident (396, fewer than its 512
# unit blocks), so its pass runs split. With the new tiling the persistent
# kernels won inference at H = 512, N <= 4 (0.56-0.81 ms against 0.76-1.43
# split) and came within 11% of the best loop in training at 512x16x25;
# persistent_below stays. Opted in to all of a block's shared memory
# (shared_bytes = 2**20), 264 blocks cache the H = 1024 forward's weights
# two unit blocks each: 1024x1x25 inference 0.83 ms against 0.95 split,
# 1024x4x25 1.23 against 1.07 (H200); shared_bytes stays. The forward
# kernel's 170 registers a thread (nvJitLink's count for sm_90) are what
# keep it to 3 blocks per SM; persistent_blocks_per_sm = 4 compiles both
# persistent kernels to fit 4 (a launch bound: 128 registers), which lets
# 528 blocks cache the H = 1024 forward's weights one unit block each, as at
# H = 512 (0: no bound). Unbounded, the kernels as they are now take 135
# (forward) and 176 (backward) registers, 3 and 2 blocks per SM; bounded
# they spill a few bytes, outside the per-step tiles' inner loops
# (nvdisasm of nvJitLink's sm_90 cubin: tests/gpu/kernel_resources.py
# --sass). Timed on an H200 (gpu_session, 2026-11-26, run 4): training steps
# with the persistent loop 1.53 ms against 2.50 unbounded at 512x16x25, 4.60
# against 11.20 at 1024x16x25; inference at 1024x1x25 0.61 against 1.01.
# The persistent forward once projected small inputs itself (one launch a
# pass, no reorder and no cuBLAS call); the same run timed it slower than
# the projection by cuBLAS everywhere (1024x1x25: 0.61 ms against 0.43; at
# T = 1 the kernel took 178 us against 36: one thread's dot product of
# length F waits on a load at each step), and it is gone. Numba's simulator
# runs a cooperative grid as one block; the tests check the grid barriers on
# several blocks through a stand-in that runs one thread at a time
# (tests/helpers/serialised_launch.py), and on hundreds when run on a GPU.
# gemm_steps_from: a step of at least this many recurrent multiply-adds
# (batch x 4 units x units) runs as cuDNN's do, the recurrent product as a
# cuBLAS GEMM then an elementwise update (2 launches forward, 2 backward):
# the weights are read once per GEMM tile instead of once per `rows`.
# Measured on an H100 (asv_bench/README.md), training steps against the
# split steps: 5.1 ms against 10.5 at 1024x64x25 (2^28 multiply-adds a
# step), 4.2 against 4.7 at 1024x16x25 (2^26), 4.3 against 4.4 at
# 512x64x25 (2^26), but 15.1 against 10.3 at 256x64x150 (2^24, where the
# split step's few blocks keep up and the GEMM's launch does not pay); the
# forward pass alone wins from 2^28 (1024x64: 2.1 ms against 3.2) and
# loses a little at 2^26, which the backward more than makes up.
# gemm_split_*: a Numba GEMM of fewer than gemm_split_blocks output tiles
# splits its depth over blocks (split-K), no slice shorter than
# gemm_split_depth, the slices' sums added in order by a second kernel: a
# weight gradient of a small layer over a long sequence (H = 64, T * B =
# 32000: 4 output tiles) otherwise runs on 4 blocks. 132 is one block per
# SM of an H100/H200, so the DeepBench sizes' GEMMs of 256 tiles and more
# stay whole; on an H100 the 256 x 1024 x 9600 weight gradient (64 tiles)
# took 1.20 ms split against 2.96 whole (cuBLAS: 0.14). Neither value is
# tuned further: cuBLAS runs every GEMM where it loads.
# gemm_library: "numba" (the GEMM kernel above), "cublas" (libcublas, which
# must then load; kernels/gpu_cublas.py) or "auto" (cuBLAS where libcublas
# loads and the product has at least cublas_from multiply-adds), for every
# GEMM of the LSTM and of Dense. On an H200 cuBLAS ran every GEMM of the
# DeepBench sizes 3.5-25x faster than the kernel above (the inference input
# projection, 25 x 2048 x 512: 7 us against 105), but through CuPy each
# call cost about 0.3 ms of host time, so cuBLAS then paid only from 2^30
# multiply-adds. Called directly (ctypes) it ran every training step and
# inference pass as fast as the Numba GEMMs or faster on an H100 (1024x64x25
# training: 10.5 ms against 14.5; the GEMMs alone at 12-47 TFLOP/s, 0.78-1.01x
# torch.matmul's), a 1 x 1 x 1 GEMM costing 35 us of host time against a
# Numba launch's 14-48 us: cublas_from = 0.
# cache: keep the compiled GPU kernels on disk (kernels/gpu_jit.py), as the
# CPU kernels are, but for the cooperative ones (numba-cuda cannot pickle
# code linked with cudadevrt). On an H200 a fresh process's first training
# step took 2.4 s compiling and 0.45 s loading. On since
# tests/gpu/test_gpu_cache.py (a new process loads what the first compiled)
# passed on an H100 and an H200 (2026-11-26).
# staged_transfer_bytes: arrays up to this size cross between host and GPU
# through page-locked staging buffers (numlstm/backend/cuda_staging.py):
# an upload is queued without waiting for the device, a download (the
# loss, predict's and the metrics' outputs) waits for its own copy only,
# not for the launches queued after it; larger ones (weights, whole data
# sets), and all of them at 0, by an ordinary copy, which waits for all
# of the device's queued work. H100 fit epochs (LSTM + Dense): 64.5 ms
# against 67.9 at 256x64x100, 49.6 against 52.0 at 512x64x25; with Dropout
# a wash (105.7 against 103.0, 68.8 against 68.1).
# tf32: cuBLAS computes the float32 GEMMs (input projections, weight
# gradients, the GEMM steps' recurrent products, Dense) on TF32 tensor cores:
# operands rounded to 10-bit mantissas, products summed in float32, as
# cuDNN's float32 RNNs run under torch's defaults
# (torch.backends.cudnn.allow_tf32). Off: numlstm's float32 accuracy tests
# hold to float32 rounding, and the per-step kernels (split, persistent)
# stay on float32 cores either way. On an H100 it bought nothing measurable
# (1024x64x25 training with GEMM steps: 4.5 ms against 3.9 without).
# memory_pool: numlstm's device arrays come from a pool of blocks per context
# (kernels/gpu_memory.py) instead of a cuMemAlloc each and numba-cuda's
# batched cuMemFree, which waits for all of the device's queued work. On:
# what PyTorch's and CuPy's allocators do, and a step's several waits on
# frees would undo the single wait above. H100: training steps 2.9 ms
# against 3.8 (512x16x25), 10.4 against 11.9 (1024x64x25); fit epochs 39
# against 70 ms (512x64x25), 81 against 113 (256x64x100).
GPU_OPTIONS = {"gemm_block": 64, "gemm_depth": 16, "gemm_micro": 4, "threads": 128, "rows": 4, "fastmath": False,
               "split_units": 8, "split_slices": 16, "split_below": 32768,
               "persistent_units": 2, "persistent_slices": 64, "persistent_below": 4096, "persistent_uncached": False,
               "persistent_blocks_per_sm": 4, "shared_bytes": 48 * 1024, "gemm_steps_from": 2**26,
               "gemm_split_blocks": 132, "gemm_split_depth": 512, "gemm_library": "auto", "cublas_from": 0,
               "cache": True, "staged_transfer_bytes": 1 << 22, "memory_pool": True,
               "tf32": False}
# Numba's CUDA simulator runs one Python thread per CUDA thread: tiny blocks,
# and 2 rows per thread so that the tests' odd batches leave partial blocks.
# The split step and the persistent kernel are tested on their own
# (tests/gpu/test_gpu_lstm.py), as are GEMMs of split depth (none here:
# the simulator's threads are slow, and splitting multiplies them). Its
# device arrays are numpy arrays: no memory pool.
GPU_SIMULATOR_OPTIONS = {"gemm_block": 8, "gemm_depth": 4, "gemm_micro": 2, "threads": 16, "rows": 2, "fastmath": False,
                         "split_units": 2, "split_slices": 4, "split_below": 0,
                         "persistent_units": 2, "persistent_slices": 4, "persistent_below": 0,
                         "persistent_uncached": False, "persistent_blocks_per_sm": 0, "shared_bytes": 48 * 1024,
                         "gemm_steps_from": 2**62,
                         "gemm_split_blocks": 1, "gemm_split_depth": 4, "gemm_library": "numba", "cublas_from": 0,
                         "cache": False, "staged_transfer_bytes": 1 << 22, "memory_pool": False,
                         "tf32": False}
