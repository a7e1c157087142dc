"""Device code of numlstm: Numba CPU kernels for the LSTM time loop and BPTT.

Installed as ``numlstm.kernels``. Nothing here validates input: the callers in
``numlstm`` do, so that a user never meets a Numba typing error.
"""
