"""Device code of numlstm, installed as ``numlstm.kernels``.

- ``activations.py``, ``lstm_cell.py``, ``optimizer_updates.py``, ``checks.py``, ``log_space.py``: per-element
  rules, each written once and compiled for both devices; ``conv_geometry.py``: the convolutions' gather tables.
- ``cpu/``: the Numba CPU time loops and BPTT (LSTM and ConvLSTM), the streaming step, the packed
  recurrent GEMM and the CTC loss's recursions.
- ``cuda/``: the CUDA kernels, one module per family, and their launch, memory and cuBLAS plumbing.
- ``options.py``: the compile and launch options, as frozen dataclasses.

Nothing here validates input: the callers in ``numlstm`` do, so that a user never meets a Numba typing error.
"""
