"""The CUDA kernels, one module per family, built per dtype and options by cached factories, and the host code
that plans and launches them (``lstm.py``: the LSTM's forward and backward passes; ``convlstm.py``: the
ConvLSTM's)."""
