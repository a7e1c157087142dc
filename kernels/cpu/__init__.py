"""The Numba CPU kernels: the LSTM time loops and BPTT (``lstm.py``), the ConvLSTM's (``convlstm.py``), one
streaming timestep (``step.py``) and the packed recurrent product (``packed_gemm.py``)."""
